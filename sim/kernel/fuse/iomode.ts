// fs/fuse/iomode.c: the inode io modes. fi->iocachectr counts cached opens (> 0) or
// uncached users (< 0: passthrough opens and parallel direct writes); never both.
import type { Ctx } from '../ctx.ts';
import { name } from '../ctx.ts';
import { block, call, goto, kfunc, preempt, ret } from '../exec.ts';
import type { FuseFileObj, FuseInodeObj, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { spin_lock, spin_unlock } from '../lib/spinlock.ts';
import { READ_ONCE, setField, store, xchg } from '../lib/once.ts';
import { FOPEN } from '../../wire/uapi.ts';
import { fuse_backing_put } from './backing.ts';
import { fuse_passthrough_open, fuse_passthrough_release } from './passthrough.ts';
import { connOfInode } from './file.ts';
import { ioModeNext, ioModeOf, type IoModeEvent } from './iomode-machine.ts';

/** fuse_inode_backing: READ_ONCE(fi->fb) */
export function fuse_inode_backing(c: Ctx, fi: FuseInodeObj): Ptr {
  return READ_ONCE(c, fi, 'fb');
}

/** fuse_is_io_cache_wait: uncached users that are parallel direct writes (no fb) drain first. */
function fuse_is_io_cache_wait(c: Ctx, fi: FuseInodeObj): boolean {
  return fi.iocachectr < 0 && fuse_inode_backing(c, fi) === 0;
}

const DELTA: Record<IoModeEvent['type'], number> = { CACHED_OPEN: 1, CACHED_RELEASE: -1, UNCACHED_START: -1, UNCACHED_END: 1 };

/** Move fi->iocachectr, checking the move against the io-mode machine (a ghost check). */
function ctr(c: Ctx, fi: FuseInodeObj, ev: IoModeEvent['type']) {
  const to = fi.iocachectr + DELTA[ev];
  const next = ioModeNext(fi.iocachectr, { type: ev, to });
  if (next === null || next !== ioModeOf(to)) {
    c.violate('iomode', `${name(fi)}: ${ev} moves iocachectr ${fi.iocachectr} -> ${to}, which the io-mode machine forbids from ${ioModeOf(fi.iocachectr)}`, name(fi));
  }
  setField(c, fi, 'iocachectr', to);
}

interface CachedOpenA {
  inode: Ptr;
  ff: Ptr;
}

/**
 * fuse_file_cached_io_open (6.9: fuse_file_cached_io_start): enter caching io mode, after
 * waiting for parallel direct writes to drain; refused (ETXTBSY) once the inode has an fb.
 */
export const fuse_file_cached_io_open = kfunc<CachedOpenA>('fuse_file_cached_io_open', 'fs/fuse/iomode.c', {
  start(c, l) {
    const ff = c.deref(l.ff, 'fuse_file');
    if (!ff.hasArgs) return ret(0);
    const fi = c.deref(l.inode, 'fuse_inode');
    spin_lock(c, fi.lock, 'fi->lock');
    if (fuse_is_io_cache_wait(c, fi)) {
      // Setting the bit makes new direct writes take the exclusive lock, so the wait ends.
      setField(c, fi, 'cacheIoMode', true);
      spin_unlock(c, fi.lock, 'fi->lock');
      return block({ on: 'iocache', inode: l.inode }, 'start');
    }
    if (fuse_inode_backing(c, fi) !== 0 && !c.mutant('cached-open-ignores-fb')) {
      setField(c, fi, 'cacheIoMode', fi.iocachectr > 0);
      spin_unlock(c, fi.lock, 'fi->lock');
      return ret(neg('ETXTBSY'));
    }
    if (ff.iomode === 'IOM_UNCACHED') c.violate('warn-on', `WARN_ON(${name(ff)}->iomode == IOM_UNCACHED)`);
    if (ff.iomode === 'IOM_NONE') {
      setField(c, ff, 'iomode', 'IOM_CACHED');
      if (fi.iocachectr === 0) setField(c, fi, 'cacheIoMode', true);
      ctr(c, fi, 'CACHED_OPEN');
    }
    spin_unlock(c, fi.lock, 'fi->lock');
    return ret(0);
  },
});

/** fuse_file_cached_io_release (6.9: fuse_file_cached_io_end) */
function fuse_file_cached_io_release(c: Ctx, ff: FuseFileObj, fi: FuseInodeObj) {
  spin_lock(c, fi.lock, 'fi->lock');
  if (fi.iocachectr <= 0) c.violate('warn-on', `WARN_ON(${name(fi)}->iocachectr <= 0) on cached release`);
  setField(c, ff, 'iomode', 'IOM_NONE');
  const lastWouldBe = fi.iocachectr - 1 === 0;
  if (!(c.mutant('iocachectr-off-by-one') && lastWouldBe)) ctr(c, fi, 'CACHED_RELEASE');
  if (fi.iocachectr === 0) setField(c, fi, 'cacheIoMode', false);
  spin_unlock(c, fi.lock, 'fi->lock');
}

/**
 * fuse_inode_uncached_io_start: deny caching on the inode. fb is the lookup's reference
 * (NULL for a parallel direct write). The inode keeps exactly one reference: the first
 * passthrough open installs its own with xchg; later ones drop theirs.
 */
export function fuse_inode_uncached_io_start(c: Ctx, fi: FuseInodeObj, fb: Ptr): number {
  let err = 0;
  spin_lock(c, fi.lock, 'fi->lock');
  const oldfb = fuse_inode_backing(c, fi);
  if (fb !== 0 && oldfb !== 0 && oldfb !== fb) {
    err = neg('EBUSY'); // one backing object per inode, even for the same backing file
  } else if (fi.iocachectr > 0) {
    err = neg('ETXTBSY');
  } else {
    ctr(c, fi, 'UNCACHED_START');
    if (fb !== 0 && oldfb === 0) {
      const prev = xchg(c, fi, 'fb', fb);
      if (prev !== 0) c.violate('warn-on', `WARN_ON_ONCE(${name(fi)}->fb was not NULL)`);
      c.disown(fb); // the lookup's reference now belongs to the inode
    } else if (fb !== 0) {
      c.disown(fb);
      fuse_backing_put(c, fb);
      if (c.mutant('extra-put-same-fb')) fuse_backing_put(c, fb);
    }
  }
  spin_unlock(c, fi.lock, 'fi->lock');
  return err;
}

/** fuse_inode_uncached_io_end: the last uncached user hands the inode's fb back with xchg. */
export function fuse_inode_uncached_io_end(c: Ctx, fi: FuseInodeObj) {
  let oldfb: Ptr = 0;
  spin_lock(c, fi.lock, 'fi->lock');
  if (fi.iocachectr >= 0) c.violate('warn-on', `WARN_ON(${name(fi)}->iocachectr >= 0) on uncached end`);
  ctr(c, fi, 'UNCACHED_END');
  if (fi.iocachectr === 0) {
    if (c.mutant('store-instead-of-xchg')) store(c, fi, 'fb', 0);
    else oldfb = xchg(c, fi, 'fb', 0);
  }
  spin_unlock(c, fi.lock, 'fi->lock');
  if (oldfb !== 0) fuse_backing_put(c, oldfb);
}

/** fuse_file_uncached_io_open: take uncached mode for this file. */
export function fuse_file_uncached_io_open(c: Ctx, fi: FuseInodeObj, ff: FuseFileObj, fb: Ptr): number {
  const err = fuse_inode_uncached_io_start(c, fi, fb);
  if (err) return err;
  if (ff.iomode !== 'IOM_NONE') c.violate('warn-on', `WARN_ON(${name(ff)}->iomode != IOM_NONE)`);
  setField(c, ff, 'iomode', 'IOM_UNCACHED');
  return 0;
}

/** Open flags allowed together with FOPEN_PASSTHROUGH (FOPEN_PASSTHROUGH_MASK). */
function passthroughMask(c: Ctx): number {
  return c.profile.FOPEN_PASSTHROUGH | FOPEN.DIRECT_IO | FOPEN.PARALLEL_DIRECT_WRITES | FOPEN.NOFLUSH;
}

interface PtOpenA {
  file: Ptr;
  inode: Ptr;
  ff: Ptr;
  backingId: number;
}

interface PtOpenL extends PtOpenA {
  fb: Ptr;
}

/** fuse_file_passthrough_open: look up the backing id, then deny caching on the inode. */
const fuse_file_passthrough_open = kfunc<PtOpenA, PtOpenL>('fuse_file_passthrough_open', 'fs/fuse/iomode.c', {
  start(c, l) {
    const ff = c.deref(l.ff, 'fuse_file');
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = connOfInode(c, fi);
    if (!fc.passthrough || (ff.openFlags & ~passthroughMask(c)) !== 0) return ret(neg('EINVAL'));
    return call(fuse_passthrough_open, { file: l.file, ff: l.ff, backingId: l.backingId }, 'io_open', 'fb');
  },
  io_open(c, l) {
    if (l.fb < 0) return ret(l.fb);
    return preempt('uncached');
  },
  uncached(c, l) {
    const ff = c.deref(l.ff, 'fuse_file');
    const fi = c.deref(l.inode, 'fuse_inode');
    const err = fuse_file_uncached_io_open(c, fi, ff, l.fb);
    if (!err) return ret(0);
    fuse_passthrough_release(c, ff);
    const skip =
      (err === neg('EBUSY') && c.mutant('missing-put-on-ebusy')) ||
      (err === neg('ETXTBSY') && c.mutant('missing-put-on-etxtbsy'));
    if (!skip) {
      c.disown(l.fb);
      fuse_backing_put(c, l.fb);
    }
    return ret(err);
  },
});

interface IoOpenL extends PtOpenA {
  err: number;
}

/**
 * fuse_file_io_open: the open reply decides the inode's io mode. A reply the inode cannot
 * honour is the server's mistake and fails open(2) with EIO.
 */
export const fuse_file_io_open = kfunc<PtOpenA, IoOpenL>('fuse_file_io_open', 'fs/fuse/iomode.c', {
  start(c, l) {
    const ff = c.deref(l.ff, 'fuse_file');
    const fi = c.deref(l.inode, 'fuse_inode');
    if (!ff.hasArgs) return ret(0); // server does not implement OPEN: no io modes
    const PT = c.profile.FOPEN_PASSTHROUGH;
    // every open of an inode already in passthrough mode must ask for passthrough
    if (fuse_inode_backing(c, fi) !== 0 && !(ff.openFlags & PT)) {
      l.err = neg('EINVAL');
      return goto('fail');
    }
    if (!(ff.openFlags & FOPEN.DIRECT_IO)) setField(c, ff, 'openFlags', ff.openFlags & ~FOPEN.PARALLEL_DIRECT_WRITES);
    if (ff.openFlags & FOPEN.DIRECT_IO && !(ff.openFlags & PT)) return ret(0);
    if (ff.openFlags & PT) {
      return call(fuse_file_passthrough_open, { file: l.file, inode: l.inode, ff: l.ff, backingId: l.backingId }, 'check', 'err');
    }
    return call(fuse_file_cached_io_open, { inode: l.inode, ff: l.ff }, 'check', 'err');
  },
  check(c, l) {
    return l.err ? goto('fail') : ret(0);
  },
  fail(c, l) {
    if (c.record) c.emit('note', `fuse_file_io_open: failed to open file in requested io mode (err ${l.err}): EIO`);
    return ret(c.mutant('no-eio-on-bad-reply') ? l.err : neg('EIO'));
  },
});

/** fuse_file_io_release: the last reference to the open file gives its io mode back. */
export function fuse_file_io_release(c: Ctx, ff: FuseFileObj, fi: FuseInodeObj) {
  switch (ff.iomode) {
    case 'IOM_NONE':
      return;
    case 'IOM_UNCACHED':
      setField(c, ff, 'iomode', 'IOM_NONE');
      fuse_inode_uncached_io_end(c, fi);
      return;
    case 'IOM_CACHED':
      fuse_file_cached_io_release(c, ff, fi);
      return;
  }
}
