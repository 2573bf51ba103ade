// fs/fuse/backing.c (fs/fuse/passthrough.c in 6.9): the refcounted fuse_backing and the
// backing-id map, fc->backing_files_map.
import type { Ctx } from '../ctx.ts';
import { name } from '../ctx.ts';
import { kfunc, preempt, ret } from '../exec.ts';
import type { FuseBackingObj, FuseConnObj, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { refcount_dec_and_test, refcount_inc, refcount_inc_not_zero, refcount_set } from '../lib/refcount.ts';
import { idr_alloc_cyclic, idr_alloc_lowest, idr_ids, idr_remove } from '../lib/idr.ts';
import { spin_lock, spin_unlock } from '../lib/spinlock.ts';
import { fget } from '../vfs/file.ts';
import { fput } from '../vfs/file_table.ts';
import { f_op } from '../vfs/fs.ts';
import { prepare_creds, put_cred } from '../cred.ts';
import { capable } from '../capability.ts';

/**
 * fuse_backing_get: take a reference only if the object is not already dying. A lookup
 * under RCU can find an fb whose last reference a concurrent BACKING_CLOSE just dropped;
 * a plain refcount_inc would resurrect it after its free was queued.
 */
export function fuse_backing_get(c: Ctx, fbp: Ptr): Ptr {
  if (fbp === 0) return 0;
  const fb = c.deref(fbp, 'fuse_backing');
  if (c.mutant('get-without-not-zero')) {
    refcount_inc(c, fb);
    return fbp;
  }
  return refcount_inc_not_zero(c, fb) ? fbp : 0;
}

/** fuse_backing_free: drop the file and creds, then free after an RCU grace period. */
export function fuse_backing_free(c: Ctx, fb: FuseBackingObj) {
  if (fb.file) fput(c, fb.file);
  put_cred(c, fb.cred);
  // Lookups find fb under rcu_read_lock without a reference; the memory must outlive them.
  if (c.mutant('free-without-grace-period')) c.kfree(fb.ptr);
  else c.kfreeRcu(fb.ptr);
}

/** fuse_backing_put */
export function fuse_backing_put(c: Ctx, fbp: Ptr) {
  if (fbp === 0) return;
  const fb = c.deref(fbp, 'fuse_backing');
  if (refcount_dec_and_test(c, fb)) fuse_backing_free(c, fb);
}

/** fuse_backing_id_alloc: cyclic from 1 under fc->lock. */
function fuse_backing_id_alloc(c: Ctx, fc: FuseConnObj, fb: FuseBackingObj): number {
  spin_lock(c, fc.lock, 'fc->lock');
  const id = c.mutant('id-reused-at-once') ? idr_alloc_lowest(fc.idr, fb.ptr, 1) : idr_alloc_cyclic(fc.idr, fb.ptr, 1);
  spin_unlock(c, fc.lock, 'fc->lock');
  if (id > 0) {
    if (c.record) c.emit('idr', `${name(fc)}.backing_files_map: id ${id} -> ${name(fb)} (idr_alloc_cyclic)`);
    // ghost check (invariant 6): a closed id must not name a new backing file soon after
    if (id <= fc.idHighWater) c.violate('idr', `backing id ${id} handed out again (ids up to ${fc.idHighWater} were already used)`, name(fb));
    fc.idHighWater = Math.max(fc.idHighWater, id);
  }
  return id;
}

/** fuse_backing_id_remove: under fc->lock; returns the fb or NULL. */
function fuse_backing_id_remove(c: Ctx, fc: FuseConnObj, id: number): Ptr {
  spin_lock(c, fc.lock, 'fc->lock');
  const fb = idr_remove(fc.idr, id);
  spin_unlock(c, fc.lock, 'fc->lock');
  if (fb) c.emit('idr', `${name(fc)}.backing_files_map: id ${id} removed (was fuse_backing#${fb})`);
  return fb;
}


interface OpenA {
  fc: Ptr;
  fd: number;
  flags: number;
  /** u64: a number, or a string for values past 2^53 */
  padding: number | string;
}

interface OpenL extends OpenA {
  fb: Ptr;
}

/**
 * fuse_backing_open: FUSE_DEV_IOC_BACKING_OPEN. Checks in the kernel's order; the map's
 * reference is the initial count of 1.
 */
export const fuse_backing_open = kfunc<OpenA, OpenL>('fuse_backing_open', 'fs/fuse/backing.c', {
  start(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    // capable() of the calling task: a sibling or a forked child may hold other creds
    if (!fc.passthrough || !capable(c, 'CAP_SYS_ADMIN')) return ret(neg('EPERM'));
    if (l.flags !== 0 && !c.mutant('no-flags-check')) return ret(neg('EINVAL'));
    if (c.profile.backingOpenChecksPadding && BigInt(l.padding) !== 0n) return ret(neg('EINVAL'));
    const file = fget(c, l.fd, c.profile.backingOpenAcceptsOPath);
    if (file === 0) return ret(neg('EBADF'));
    const f = c.deref(file, 'file');
    const bad = backingFileRefused(c, file);
    if (bad) {
      fput(c, file);
      return ret(bad);
    }
    // ELOOP: the backing file's fs must leave room for FUSE on top of it
    const depth = c.w.sbs[f.sb]!.s_stack_depth;
    const tooDeep = c.mutant('stack-depth-gt') ? depth > fc.maxStackDepth : depth >= fc.maxStackDepth;
    if (tooDeep) {
      fput(c, file);
      return ret(neg('ELOOP'));
    }
    const fb = c.alloc<FuseBackingObj>({ type: 'fuse_backing', file, cred: prepare_creds(c), count: 0 });
    refcount_set(c, fb, 1);
    l.fb = fb.ptr;
    c.own(fb.ptr);
    return preempt('alloc_id');
  },
  alloc_id(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const fb = c.deref(l.fb, 'fuse_backing');
    const id = fuse_backing_id_alloc(c, fc, fb);
    c.disown(fb.ptr);
    if (id < 0) fuse_backing_free(c, fb);
    return ret(id);
  },
});

/**
 * What fuse_backing_open refuses as a backing file, by profile. 6.9: a file whose f_op lacks
 * read_iter or write_iter (EOPNOTSUPP). 6.17+: S_ISREG / S_ISDIR of file_inode(file)->i_mode,
 * the inode's type, not the file's f_op, so an O_PATH fd of a regular file (empty_fops) is
 * still a regular file (6.18 accepts it; probe c): EISDIR for a directory, EINVAL otherwise.
 */
function backingFileRefused(c: Ctx, file: Ptr): number {
  const f = c.deref(file, 'file');
  if (c.profile.backingFileCheck === 'iter') {
    const ops = f_op(f);
    return ops.read_iter && ops.write_iter ? 0 : neg('EOPNOTSUPP');
  }
  if (f.mode === 'reg') return 0;
  return f.mode === 'dir' ? neg('EISDIR') : neg('EINVAL');
}

interface CloseA {
  fc: Ptr;
  id: number;
}

interface CloseL extends CloseA {
  fb: Ptr;
}

/**
 * fuse_backing_close: FUSE_DEV_IOC_BACKING_CLOSE. The id leaves the map under fc->lock;
 * the map's reference is dropped afterwards, outside the lock: the window in which a
 * concurrent lookup may still hold the pointer it found.
 */
export const fuse_backing_close = kfunc<CloseA, CloseL>('fuse_backing_close', 'fs/fuse/backing.c', {
  start(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    if (!fc.passthrough || !capable(c, 'CAP_SYS_ADMIN')) return ret(neg('EPERM'));
    if (l.id <= 0) return ret(neg('EINVAL'));
    l.fb = fuse_backing_id_remove(c, fc, l.id);
    if (l.fb === 0) return ret(neg('ENOENT'));
    c.own(l.fb); // the map's reference, now in this task's hands
    return preempt('put');
  },
  put(c, l) {
    c.disown(l.fb);
    fuse_backing_put(c, l.fb);
    return ret(0);
  },
});

/**
 * fuse_backing_files_free: connection teardown. By now every fb left in the map should
 * hold only the map's reference (the kernel WARNs otherwise) and is freed directly.
 */
export function fuse_backing_files_free(c: Ctx, fc: FuseConnObj) {
  if (c.mutant('files-free-skips-map')) return;
  for (const id of idr_ids(fc.idr)) {
    const fb = c.deref(fc.idr.entries[id]!, 'fuse_backing');
    if (fb.count !== 1) {
      c.violate('warn-on', `fuse_backing_files_free: ${name(fb)} (id ${id}) has count ${fb.count}, expected 1`, name(fb));
    }
    delete fc.idr.entries[id];
    if (c.record) c.emit('idr', `${name(fc)}.backing_files_map: id ${id} dropped at teardown`);
    fuse_backing_free(c, fb);
  }
}

