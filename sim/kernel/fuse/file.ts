// fs/fuse/file.c: open and release of FUSE files, read/write dispatch (direct io,
// passthrough, cached) and mmap.
import type { Ctx } from '../ctx.ts';
import { block, call, goto, kfunc, preempt, ret, tail } from '../exec.ts';
import type { FileObj, FuseConnObj, FuseFileObj, FuseInodeObj, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { setField } from '../lib/once.ts';
import { name } from '../ctx.ts';
import { encode, FUSE_COPY_FILE_RANGE_IN, FUSE_FALLOCATE_IN, FUSE_FSYNC_IN, FUSE_LSEEK_IN, FUSE_OPEN_IN, FUSE_READ_IN, FUSE_RELEASE_IN, FUSE_FLUSH_IN, FUSE_LK_IN, FUSE_SETATTR_IN, zeroValue, type Wide } from '../../wire/structs.ts';
import { decodeReplyArg, encodeWriteBody } from '../../wire/messages.ts';
import { F_RDLCK, F_UNLCK, F_WRLCK, FALLOC_FL, FATTR, FOPEN, FUSE_FSYNC_FDATASYNC, FUSE_ROOT_ID, SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE, SEEK_SET, FUSE_LK_FLOCK, FUSE_OPCODE, FUSE_READ_LOCKOWNER, FUSE_RELEASE_FLOCK_UNLOCK, FUSE_WRITE_CACHE, FUSE_WRITE_LOCKOWNER, OFFSET_MAX } from '../../wire/uapi.ts';
import { O_APPEND, O_CREAT, O_DIRECT, O_EXCL, O_NOCTTY, O_TRUNC } from '../vfs/fcntl.ts';
import { filemap_read, invalidatePages, PAGE_SIZE, truncatePagesRange, writeToPages } from '../mm/filemap.ts';
import { generic_file_llseek, vfs_setpos } from '../vfs/read_write.ts';
import { splice_copy_file_range } from '../vfs/splice.ts';
import { MAX_LFS_FILESIZE } from '../vfs/falloc.ts';
import { fuse_getattr } from './dir.ts';
import { fuse_iput } from './inode.ts';
import { file_remove_privs } from '../vfs/attr.ts';
import { fuse_queue_request, fuse_request_wait, fuse_take_answer } from './dev.ts';
import { fuse_file_cached_io_open, fuse_file_io_open, fuse_file_io_release, fuse_inode_backing, fuse_inode_uncached_io_end, fuse_inode_uncached_io_start } from './iomode.ts';
import { fuse_passthrough_io, fuse_passthrough_release } from './passthrough.ts';
import { get_file } from '../vfs/file_table.ts';
import { register_file_operations, type CopyRangeA, type FallocateA, type FsyncA, type LlseekA, type LockA, type MmapA, type ReadA, type WriteA } from '../vfs/fs.ts';
import { tgid_of } from '../pid.ts';
import { F_CANCELLK, F_GETLK, FL_SLEEP, file_owner, LOCK_OFFSET_MAX, lockOf, locks_lock_file_wait, owner_proc, pid_nr_of, posix_lock_inode, posix_test_lock } from '../vfs/locks.ts';

export function connOfInode(c: Ctx, fi: FuseInodeObj): FuseConnObj {
  const sb = c.w.sbs[fi.sb]!;
  if (sb.kind !== 'fuse') throw new Error('fuse inode on a non-fuse sb (model bug)');
  return c.deref(sb.conn, 'fuse_conn');
}

/** A FUSE struct file's fuse_file and inode (every dereference checked). */
export function fuseFileOf(c: Ctx, file: Ptr): { f: FileObj; ff: FuseFileObj; fi: FuseInodeObj } {
  const f = c.deref(file, 'file');
  const ff = c.deref(f.private_data, 'fuse_file');
  const fi = c.deref(ff.inode, 'fuse_inode');
  return { f, ff, fi };
}

export function inodeOfFile(c: Ctx, f: FileObj): Ptr {
  const sb = c.w.sbs[f.sb]!;
  if (sb.kind !== 'fuse') return 0;
  return sb.inodes[f.name] ?? 0;
}

interface OpenL {
  file: Ptr;
  inode: Ptr;
  ff: Ptr;
  unique: number;
  backingId: number;
  err: number;
}

/**
 * fuse_open -> fuse_do_open + fuse_finish_open: ask the server (OPEN), keep its reply in
 * the fuse_file, then let the reply choose the inode's io mode (fuse_file_io_open). When
 * that fails, the server is told with a synchronous RELEASE (fuse_sync_release).
 *
 * Called with a fuse_file (and the backing id its reply carried) it is finish_open's
 * fuse_finish_open for a file CREATE made and opened (fuse_create_open): no OPEN is sent.
 */
export const fuse_open = kfunc<{ file: Ptr; inode?: Ptr; ff?: Ptr; backingId?: number }, OpenL>('fuse_open', 'fs/fuse/file.c', {
  start(c, l) {
    if (l.ff) {
      l.inode = c.deref(l.ff, 'fuse_file').inode;
      return goto('finish');
    }
    // file_inode(file): the inode given (backing_file_open: the real file's), else the one the
    // walk found by name; fixed once the open began (coming back here after waiting for INIT,
    // a name unlinked meanwhile still leads this open to its inode)
    const f = c.deref(l.file, 'file');
    if (!l.inode) l.inode = inodeOfFile(c, f);
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = connOfInode(c, fi);
    if (!fc.initialized) return block({ on: 'initialized', conn: fc.ptr }, 'start');
    const ff = c.alloc<FuseFileObj>({
      type: 'fuse_file',
      fh: 0,
      nodeid: fi.nodeid,
      inode: l.inode,
      // fuse_do_open: without OPEN support the file keeps the page cache (FOPEN_KEEP_CACHE)
      openFlags: fc.noOpen ? FOPEN.KEEP_CACHE : 0,
      iomode: 'IOM_NONE',
      passthrough: 0,
      cred: 0,
      hasArgs: !fc.noOpen,
      count: 1,
    });
    l.ff = ff.ptr;
    if (fc.noOpen) return goto('finish');
    const body = encode(FUSE_OPEN_IN, { flags: fuseOpenInFlags(f, fc), open_flags: 0 });
    l.unique = fuse_queue_request(c, fc, FUSE_OPCODE.OPEN, fi.nodeid, body, true);
    if (l.unique < 0) {
      c.kfree(l.ff);
      return ret(l.unique);
    }
    return block({ on: 'answer', conn: fc.ptr, unique: l.unique }, 'reply');
  },
  reply(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = connOfInode(c, fi);
    const ff = c.deref(l.ff, 'fuse_file');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      // the server does not implement OPEN: no RELEASE later and no io modes
      setField(c, ff, 'hasArgs', false);
      setField(c, ff, 'openFlags', FOPEN.KEEP_CACHE);
      setField(c, fc, 'noOpen', true);
      return goto('finish');
    }
    if (a.error) {
      c.kfree(l.ff);
      return ret(a.error);
    }
    const r = decodeReplyArg(FUSE_OPCODE.OPEN, a.body);
    if (r.op !== 'OPEN') throw new Error('decodeReplyArg(OPEN) (model bug)');
    ff.fh = r.arg.fh;
    setField(c, ff, 'openFlags', r.arg.open_flags);
    l.backingId = r.arg.backing_id;
    return preempt('finish');
  },
  finish(c, l) {
    const f = c.deref(l.file, 'file');
    f.private_data = l.ff;
    return call(fuse_file_io_open, { file: l.file, inode: l.inode, ff: l.ff, backingId: l.backingId }, 'finished', 'err');
  },
  finished(c, l) {
    const f = c.deref(l.file, 'file');
    if (!l.err) {
      const fi = c.deref(l.inode, 'fuse_inode');
      setField(c, fi, 'icount', fi.icount + 1);
      // fuse_finish_open: with the writeback cache a writable file is one writeback may use
      if (connOfInode(c, fi).writebackCache && f.write) setField(c, fi, 'writeFiles', [l.ff, ...fi.writeFiles]);
      // an open without FOPEN_KEEP_CACHE drops the inode's page cache (invalidate_inode_pages2,
      // which launders dirty pages first: WRITE)
      if (!(c.deref(l.ff, 'fuse_file').openFlags & FOPEN.KEEP_CACHE) && Object.keys(fi.pages).length) {
        if (fi.dirty.length) return call(fuse_writepages, { file: l.file }, 'invalidate', null);
        return goto('invalidate');
      }
      return ret(0);
    }
    f.private_data = 0;
    const ff = c.deref(l.ff, 'fuse_file');
    if (!ff.hasArgs) {
      c.kfree(l.ff);
      return ret(l.err);
    }
    // fuse_sync_release: RELEASE, and wait for the server's answer
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = connOfInode(c, fi);
    l.unique = fuse_queue_request(c, fc, FUSE_OPCODE.RELEASE, fi.nodeid, releaseBody(c, ff, f), true);
    if (l.unique < 0) return goto('released');
    return block({ on: 'answer', conn: fc.ptr, unique: l.unique }, 'released');
  },
  invalidate(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    invalidatePages(fi.pages);
    if (c.record) c.emit('field', `${name(fi)}: page cache invalidated (open without FOPEN_KEEP_CACHE)`);
    return ret(0);
  },
  released(c, l) {
    if (l.unique > 0) {
      const fi = c.deref(l.inode, 'fuse_inode');
      fuse_take_answer(c, connOfInode(c, fi), l.unique);
    }
    c.kfree(l.ff);
    return ret(l.err);
  },
});

/**
 * fuse_prepare_release: RELEASE carries the file's flags (do_dentry_open dropped CREAT, EXCL,
 * NOCTTY, TRUNC); fuse_file_release adds FUSE_RELEASE_FLOCK_UNLOCK and the open file's lock
 * owner when flock(2) was ever called on it with FUSE_FLOCK_LOCKS (ff->flock), so the server
 * drops that owner's flock lock: close itself never sends an unlock.
 */
export function releaseBody(c: Ctx, ff: FuseFileObj, f: FileObj): Uint8Array {
  const flock = ff.flock ? { release_flags: FUSE_RELEASE_FLOCK_UNLOCK, lock_owner: fuse_lock_owner_id(c, file_owner(f.ptr)) } : { release_flags: 0, lock_owner: 0 };
  return encode(FUSE_RELEASE_IN, { fh: ff.fh, flags: f.flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC), ...flock });
}

/**
 * fuse_release -> fuse_file_release -> fuse_file_put: the last reference to the open file.
 * The per-open backing file goes first, then the file's io mode (the last passthrough file
 * hands the inode's fb back), then an asynchronous RELEASE tells the server.
 */
export function fuse_release(c: Ctx, f: FileObj) {
  const ff = c.deref(f.private_data, 'fuse_file');
  const fi = c.deref(ff.inode, 'fuse_inode');
  fuse_passthrough_release(c, ff);
  ff.count--;
  if (ff.count > 0) return;
  if (fi.writeFiles.includes(ff.ptr)) setField(c, fi, 'writeFiles', fi.writeFiles.filter((p) => p !== ff.ptr));
  if (ff.hasArgs) {
    fuse_file_io_release(c, ff, fi);
    const fc = connOfInode(c, fi);
    fuse_queue_request(c, fc, FUSE_OPCODE.RELEASE, fi.nodeid, releaseBody(c, ff, f), false);
  }
  c.kfree(ff.ptr);
  fuse_iput(c, fi);
}

interface FlushL {
  file: Ptr;
  unique: number;
  fc: Ptr;
}

/**
 * fuse_flush: close(2) asks the server to flush, unless the open said FOPEN_NOFLUSH. It does
 * not look at ff->args: a file of a server without OPEN is flushed too (fh 0). FLUSH is a
 * forced request, so after an abort it ends with -ENOTCONN, and close(2) returns that.
 */
export const fuse_flush = kfunc<{ file: Ptr }, FlushL>('fuse_flush', 'fs/fuse/file.c', {
  start(c, l) {
    const { ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    if (ff.openFlags & FOPEN.NOFLUSH && !fc.writebackCache) return ret(0);
    // write_inode_now: dirty pages (and, with the writeback cache, the times) go back before
    // FLUSH (their error is not close's)
    return call(fuse_write_inode_now, { inode: fuseFileOf(c, l.file).fi.ptr }, 'flush', null);
  },
  flush(c, l) {
    const { ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    if (fc.noFlush) return ret(0);
    l.fc = fc.ptr;
    const body = encode(FUSE_FLUSH_IN, { fh: ff.fh, unused: 0, padding: 0, lock_owner: fuse_lock_owner_id(c) });
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.FLUSH, fi.nodeid, body, 'done');
  },
  done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      setField(c, fc, 'noFlush', true); // the server has no FLUSH: never ask again
      return ret(0);
    }
    return ret(a.error);
  },
});

/**
 * fuse_lock_owner_id(fc, owner): the lock owner the kernel sends, a scrambled pointer: by
 * default current->files, the POSIX owner (one for all of a process's fds, as the kernel's);
 * a flock owner is the open file (sim/kernel/vfs/locks.ts: posix_owner, file_owner). The
 * model's is a number per owner, never 0 (a POSIX owner's is its process name's hash).
 */
export function fuse_lock_owner_id(c: Ctx, owner?: string): number {
  return lock_owner_id_of(owner === undefined ? c.p.name : (owner_proc(owner) ?? owner));
}

/** The lock owner id of a POSIX owner (its process name) or a flock owner ("file#<ptr>"). */
export function lock_owner_id_of(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h || 1;
}

/** A model offset on the wire (LOCK_OFFSET_MAX is OFFSET_MAX). */
function offsetOnWire(v: number): Wide {
  return v === LOCK_OFFSET_MAX ? OFFSET_MAX : v;
}

/** A wire offset in the model: null beyond OFFSET_MAX (see convert_fuse_file_lock). */
function offsetFromWire(v: Wide): number | null {
  const b = BigInt(v);
  if (b > OFFSET_MAX) return null;
  if (b === OFFSET_MAX) return LOCK_OFFSET_MAX;
  return Number(b);
}

/**
 * fuse_lk_fill: GETLK/SETLK/SETLKW's fuse_lk_in: fh, the lock owner (the process's for a
 * POSIX lock, the open file's for flock), the range (end inclusive, OFFSET_MAX to the end of
 * the file), the type, the pid the caller gives, and FUSE_LK_FLOCK for flock(2).
 */
function fuse_lk_fill(c: Ctx, ff: FuseFileObj, flPtr: Ptr, pid: number, flock: boolean): Uint8Array {
  const fl = lockOf(c, flPtr);
  return encode(FUSE_LK_IN, {
    fh: ff.fh,
    owner: fuse_lock_owner_id(c, fl.owner),
    lk: { start: offsetOnWire(fl.start), end: offsetOnWire(fl.end), type: fl.ltype, pid },
    lk_flags: flock ? FUSE_LK_FLOCK : 0,
    padding: 0,
  });
}

/**
 * convert_fuse_file_lock: a GETLK reply into the request. F_UNLCK changes only the type;
 * F_RDLCK/F_WRLCK need a range within OFFSET_MAX with end >= start (else EIO), and their pid is
 * looked up in the connection's pid namespace (a pid no task has becomes 0); any other type
 * is EIO.
 */
function convert_fuse_file_lock(c: Ctx, lk: { start: Wide; end: Wide; type: number; pid: number }, flPtr: Ptr): number {
  const fl = lockOf(c, flPtr);
  switch (lk.type) {
    case F_UNLCK:
      break;
    case F_RDLCK:
    case F_WRLCK: {
      const start = offsetFromWire(lk.start);
      const end = offsetFromWire(lk.end);
      if (start === null || end === null || end < start) return neg('EIO');
      fl.start = start;
      fl.end = end;
      fl.pid = pid_nr_of(c, lk.pid);
      break;
    }
    default:
      return neg('EIO');
  }
  fl.ltype = lk.type;
  return 0;
}

interface SetlkA {
  file: Ptr;
  fl: Ptr;
  flock: boolean;
}

interface LkL {
  file: Ptr;
  fl: Ptr;
  unique: number;
  fc: Ptr;
}

/**
 * fuse_setlk: SETLKW for a request that may sleep (FL_SLEEP: F_SETLKW, flock without
 * LOCK_NB), else SETLK; pid is the caller's tgid, 0 for an unlock. The server decides: its
 * errno goes to the caller as it is (ENOSYS too: nothing is remembered), and the kernel keeps
 * no lock of its own.
 */
export const fuse_setlk = kfunc<SetlkA, SetlkA & LkL>('fuse_setlk', 'fs/fuse/file.c', {
  start(c, l) {
    const { ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    l.fc = fc.ptr;
    const fl = lockOf(c, l.fl);
    const opcode = fl.flags & FL_SLEEP ? FUSE_OPCODE.SETLKW : FUSE_OPCODE.SETLK;
    const pid = fl.ltype !== F_UNLCK ? tgid_of(c.w, c.p.name) : 0;
    return fuse_request_wait(c, l, fc, opcode, fi.nodeid, fuse_lk_fill(c, ff, l.fl, pid, l.flock), 'done');
  },
  done(c, l) {
    return ret(fuse_take_answer(c, c.deref(l.fc, 'fuse_conn'), l.unique).error);
  },
});

/** fuse_getlk: GETLK (pid 0, never FUSE_LK_FLOCK); the reply's lock replaces the request's. */
const fuse_getlk = kfunc<{ file: Ptr; fl: Ptr }, LkL>('fuse_getlk', 'fs/fuse/file.c', {
  start(c, l) {
    const { ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    l.fc = fc.ptr;
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.GETLK, fi.nodeid, fuse_lk_fill(c, ff, l.fl, 0, false), 'done');
  },
  done(c, l) {
    const a = fuse_take_answer(c, c.deref(l.fc, 'fuse_conn'), l.unique);
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.GETLK, a.body);
    if (r.op !== 'GETLK') throw new Error('decodeReplyArg(GETLK) (model bug)');
    return ret(convert_fuse_file_lock(c, r.arg.lk, l.fl));
  },
});

/**
 * fuse_file_lock (->lock): without FUSE_POSIX_LOCKS (fc->no_lock) the kernel keeps POSIX
 * locks itself (posix_test_lock, posix_lock_file); with it every F_GETLK is a GETLK and every
 * F_SETLK/F_SETLKW a SETLK/SETLKW, passthrough opens included.
 */
const fuse_file_lock = kfunc<LockA>('fuse_file_lock', 'fs/fuse/file.c', {
  start(c, l) {
    const { fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    if (l.cmd === F_CANCELLK) return ret(0);
    if (l.cmd === F_GETLK) {
      if (fc.noLock) {
        posix_test_lock(c, l.file, l.fl);
        return ret(0);
      }
      return tail(fuse_getlk, { file: l.file, fl: l.fl });
    }
    if (fc.noLock) return ret(posix_lock_inode(c, l.file, l.fl));
    return tail(fuse_setlk, { file: l.file, fl: l.fl, flock: false });
  },
});

/**
 * fuse_file_flock (->flock): without FUSE_FLOCK_LOCKS (fc->no_flock) the kernel keeps flock
 * locks itself (locks_lock_file_wait); with it flock is emulated with POSIX locks on the
 * server: SETLK/SETLKW with FUSE_LK_FLOCK and the open file as owner, and ff->flock is set
 * (before the request, so even a failed flock makes RELEASE carry FLOCK_UNLOCK).
 */
const fuse_file_flock = kfunc<LockA>('fuse_file_flock', 'fs/fuse/file.c', {
  start(c, l) {
    const { ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    if (fc.noFlock) return tail(locks_lock_file_wait, { file: l.file, fl: l.fl });
    setField(c, ff, 'flock', true);
    return tail(fuse_setlk, { file: l.file, fl: l.fl, flock: true });
  },
});

/** The open flags fuse_send_open puts in fuse_open_in.flags (also OPENDIR's). */
export function fuseOpenInFlags(f: FileObj, fc: FuseConnObj): number {
  let flags = f.flags & ~(O_CREAT | O_EXCL | O_NOCTTY);
  if (!fc.atomicOTrunc) flags &= ~O_TRUNC;
  return flags;
}

interface ReadL extends ReadA {
  unique: number;
  fc: Ptr;
  r: number;
}

/**
 * fuse_file_read_iter: FOPEN_DIRECT_IO overrides passthrough (the server reads); a
 * passthrough file reads its backing file with the server's creds and no READ is sent; any
 * other read goes through the page cache (fuse_cache_read_iter).
 */
export const fuse_file_read_iter = kfunc<ReadA>('fuse_file_read_iter', 'fs/fuse/file.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const ff = c.deref(f.private_data, 'fuse_file');
    if (ff.openFlags & FOPEN.DIRECT_IO) return tail(fuse_direct_read, { file: l.file, offset: l.offset, n: l.n });
    if (ff.passthrough) return tail(fuse_passthrough_io, { file: l.file, offset: l.offset, n: l.n, write: false, via: 'fuse_passthrough_read_iter' });
    return tail(fuse_cache_read_iter, { file: l.file, offset: l.offset, n: l.n });
  },
});

/**
 * fuse_cache_read_iter: a read reaching past the kernel's i_size first makes sure i_size is
 * current (fuse_update_attributes(STATX_SIZE): GETATTR with the file's fh when the size was
 * invalidated or the attributes expired); then generic_file_read_iter: O_DIRECT goes to the
 * server directly (fuse_direct_IO), anything else is served by the page cache (filemap_read),
 * one READ of a whole page for each page it lacks.
 */
const fuse_cache_read_iter = kfunc<ReadA, ReadL>('fuse_cache_read_iter', 'fs/fuse/file.c', {
  start(c, l) {
    const { f, fi } = fuseFileOf(c, l.file);
    // (with the writeback cache the kernel keeps the size itself: only expired attributes count)
    const wb = connOfInode(c, fi).writebackCache;
    if (l.offset + l.n > fi.size && ((!fi.attrValid && !wb) || c.w.jiffies >= fi.attrExpires)) {
      return call(fuse_getattr, { sb: fi.sb, name: fi.name, inode: fi.ptr, cached: false, file: f.ptr }, 'read', 'r');
    }
    return goto('read');
  },
  read(c, l) {
    if (l.r < 0) return ret(l.r);
    const f = c.deref(l.file, 'file');
    if (f.flags & O_DIRECT) return tail(fuse_direct_read, { file: l.file, offset: l.offset, n: l.n });
    return tail(filemap_read, { file: l.file, offset: l.offset, n: l.n });
  },
});

/**
 * fuse_read_folio (fuse_do_readfolio): one READ of the whole page, no lock owner; the reply
 * fills the page (NULs after a short reply) and makes it uptodate; a short reply means the
 * file ended there (fuse_short_read: i_size shrinks to it); atime is invalidated.
 */
const fuse_read_folio = kfunc<{ file: Ptr; index: number; writeBegin?: boolean }, { file: Ptr; index: number; writeBegin?: boolean; unique: number; fc: Ptr }>('fuse_read_folio', 'fs/fuse/file.c', {
  start(c, l) {
    const { f, ff, fi } = fuseFileOf(c, l.file);
    // the caller's folio lock (filemap_update_page's folio_lock, fuse_write_begin's
    // __filemap_get_folio(FGP_WRITEBEGIN)): the page cache holds one folio per index, locked
    // while a read fills it; a second task needing the page sleeps on the lock and then finds
    // the folio uptodate, so the page is read once and never over a write made meanwhile
    if (fi.locked?.includes(l.index)) return block({ on: 'folio', inode: fi.ptr, index: l.index }, 'relock');
    if (fi.pages[l.index] !== undefined) return ret(0); // uptodate once we held the lock: folio_unlock, nothing to read
    (fi.locked ??= []).push(l.index);
    const fc = connOfInode(c, fi);
    l.fc = fc.ptr;
    const body = encode(FUSE_READ_IN, { fh: ff.fh, offset: l.index * PAGE_SIZE, size: PAGE_SIZE, read_flags: 0, lock_owner: 0, flags: f.flags, padding: 0 });
    const next = fuse_request_wait(c, l, fc, FUSE_OPCODE.READ, fi.nodeid, body, 'done');
    // a request that fails before it is sent (fuse_get_req on a dead connection: ENOTCONN)
    // unlocks the folio as well: the error path of fuse_do_readfolio's caller
    if (next.k === 'ret') fi.locked = fi.locked.filter((i) => i !== l.index);
    return next;
  },
  relock() {
    return goto('start');
  },
  done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    const { fi } = fuseFileOf(c, l.file);
    // folio_unlock (uptodate or not): the tasks waiting for the page go on
    fi.locked = (fi.locked ?? []).filter((i) => i !== l.index);
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.READ, a.body);
    const data = r.op === 'READ' ? new TextDecoder().decode(r.data) : '';
    fi.pages[l.index] = data;
    if (c.record) c.emit('field', `${name(fi)}: page ${l.index} uptodate (${data.length} bytes from the server)`);
    const end = l.index * PAGE_SIZE + data.length;
    if (data.length < PAGE_SIZE && end < fi.size && !connOfInode(c, fi).writebackCache) setField(c, fi, 'size', end); // fuse_short_read
    // fuse_invalidate_atime (not when fuse_write_begin reads the page: fuse_do_readfolio)
    if (!l.writeBegin) setField(c, fi, 'atimeValid', false);
    return ret(0);
  },
});

/**
 * __fuse_direct_read -> fuse_direct_io: the server reads exactly what was asked, wherever
 * i_size is, with the reader's lock owner (FUSE_READ_LOCKOWNER); atime is invalidated.
 */
const fuse_direct_read = kfunc<ReadA, ReadL>('fuse_direct_read_iter', 'fs/fuse/file.c', {
  start(c, l) {
    const { f, ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    l.fc = fc.ptr;
    const body = encode(FUSE_READ_IN, {
      fh: ff.fh,
      offset: l.offset,
      size: l.n,
      read_flags: FUSE_READ_LOCKOWNER,
      lock_owner: fuse_lock_owner_id(c),
      flags: f.flags,
      padding: 0,
    });
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.READ, fi.nodeid, body, 'read_done');
  },
  read_done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.READ, a.body);
    const data = r.op === 'READ' ? new TextDecoder().decode(r.data) : '';
    const { fi } = fuseFileOf(c, l.file);
    setField(c, fi, 'atimeValid', false); // fuse_invalidate_atime
    c.data = data;
    return ret(data.length);
  },
});

interface WriteL extends WriteA {
  unique: number;
  fc: Ptr;
  r: number;
  shared: boolean;
  direct: boolean;
}

/**
 * fuse_file_write_iter: direct io (with the parallel-write lock dance), passthrough to the
 * backing file then fuse_write_update_attr, or a write-through to the server
 * (fuse_cache_write_iter).
 */
export const fuse_file_write_iter = kfunc<WriteA, WriteL>('fuse_file_write_iter', 'fs/fuse/file.c', {
  start(c, l) {
    const { f, ff, fi } = fuseFileOf(c, l.file);
    // generic_write_checks: O_APPEND writes at the kernel's i_size (the server is not asked)
    if (f.flags & O_APPEND && !ff.passthrough) l.offset = fi.size;
    if (ff.openFlags & FOPEN.DIRECT_IO) {
      l.direct = true;
      return goto('dio_lock');
    }
    if (!ff.passthrough) {
      // fuse_cache_write_iter: the privilege question first (file_remove_privs), then O_DIRECT
      // goes straight to the server (generic_file_direct_write), anything else through the
      // page cache: written through now, or (writeback cache) later
      l.direct = (f.flags & O_DIRECT) !== 0;
      if (connOfInode(c, fi).writebackCache && !l.direct) return goto('wb_attr');
      return call(file_remove_privs, { sb: fi.sb, name: fi.name, inode: fi.ptr }, 'server', 'r');
    }
    return tail(fuse_passthrough_io, { file: l.file, offset: l.offset, data: l.data, write: true, via: 'fuse_passthrough_write_iter' });
  },
  wb_attr(c, l) {
    // writeback cache: fuse_update_attributes(STATX_SIZE | STATX_MODE) first; the kernel keeps
    // size and times itself (cache_mask), so only expired attributes are asked for
    const { f, fi } = fuseFileOf(c, l.file);
    if (c.w.jiffies >= fi.attrExpires) return call(fuse_getattr, { sb: fi.sb, name: fi.name, inode: fi.ptr, cached: false, file: f.ptr }, 'wb_privs', 'r');
    return goto('wb_privs');
  },
  wb_privs(c, l) {
    if (l.r < 0) return ret(l.r);
    const { fi } = fuseFileOf(c, l.file);
    return call(file_remove_privs, { sb: fi.sb, name: fi.name, inode: fi.ptr }, 'wb_write', 'r');
  },
  wb_write(c, l) {
    // generic_perform_write: fuse_write_begin reads a page that the write covers only in part
    // (unless the page starts at or past EOF), then the data goes into the page, dirty, and
    // i_size grows; the times are the kernel's now (file_update_time): no request at all
    const { fi } = fuseFileOf(c, l.file);
    const end = l.offset + l.data.length;
    for (let i = Math.floor(l.offset / PAGE_SIZE); i * PAGE_SIZE < end; i++) {
      const whole = l.offset <= i * PAGE_SIZE && end >= (i + 1) * PAGE_SIZE;
      if (fi.pages[i] === undefined && !whole && i * PAGE_SIZE < fi.size) {
        return call(fuse_read_folio, { file: l.file, index: i, writeBegin: true }, 'wb_read', 'r');
      }
    }
    for (let i = Math.floor(l.offset / PAGE_SIZE); i * PAGE_SIZE < end; i++) {
      const start = i * PAGE_SIZE;
      const from = Math.max(l.offset, start) - start;
      const to = Math.min(end, start + PAGE_SIZE) - start;
      const old = (fi.pages[i] ?? '').padEnd(from, '\0');
      fi.pages[i] = old.slice(0, from) + l.data.slice(start + from - l.offset, start + to - l.offset) + old.slice(to);
      if (!fi.dirty.includes(i)) fi.dirty.push(i);
    }
    fi.dirty.sort((a, b) => a - b);
    if (end > fi.size) setField(c, fi, 'size', end);
    setField(c, fi, 'timesDirty', true);
    if (c.record) c.emit('field', `${name(fi)}: ${l.data.length} bytes written into the page cache at ${l.offset} (dirty pages ${fi.dirty.join(',')})`);
    return ret(l.data.length);
  },
  wb_read(_c, l) {
    // fuse_write_begin: a page that could not be read fails the write with the read's error
    if (l.r < 0) return ret(l.r);
    return goto('wb_write');
  },
  dio_lock(c, l) {
    // fuse_dio_lock: a parallel direct write holds an uncached reference (fb = NULL) for its
    // duration (the shared inode lock); fuse_dio_wr_exclusive_lock sends it to the exclusive
    // lock instead (no io mode) without FOPEN_PARALLEL_DIRECT_WRITES, past EOF, or, since
    // 6.12, when FUSE_I_CACHE_IO_MODE is set. The model has no inode lock: exclusive writers
    // simply take no uncached reference.
    const { ff, fi } = fuseFileOf(c, l.file);
    const pastEof = l.offset + l.data.length > fi.size; // fuse_io_past_eof
    let exclusive: boolean;
    if (!(ff.openFlags & FOPEN.PARALLEL_DIRECT_WRITES)) exclusive = true;
    else if (fi.cacheIoMode) exclusive = c.profile.dioExclusiveInCacheIoMode; // 6.9: inverted, "shared"
    else exclusive = pastEof;
    l.shared = false;
    if (!exclusive) {
      // shared lock taken: past EOF again, then deny caching (ETXTBSY while cached users exist)
      l.shared = !pastEof && fuse_inode_uncached_io_start(c, fi, 0) === 0;
      if (c.record) c.emit('note', `fuse_dio_lock: ${l.shared ? 'shared lock, uncached io started' : 'past EOF or inode is cached: exclusive lock'}`);
    } else if (ff.openFlags & FOPEN.PARALLEL_DIRECT_WRITES) {
      if (c.record) c.emit('note', `fuse_dio_lock: exclusive lock (${fi.cacheIoMode ? 'FUSE_I_CACHE_IO_MODE is set' : 'past EOF'})`);
    }
    return goto('server');
  },
  server(c, l) {
    // a direct write (fuse_direct_io) carries the writer's lock owner; a page-cache write
    // (fuse_perform_write -> fuse_send_write_pages) none
    const { f, ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    l.fc = fc.ptr;
    const data = new TextEncoder().encode(l.data);
    const owner = l.direct ? { write_flags: FUSE_WRITE_LOCKOWNER, lock_owner: fuse_lock_owner_id(c) } : { write_flags: 0, lock_owner: 0 };
    const body = encodeWriteBody({ fh: ff.fh, offset: l.offset, ...owner, flags: f.flags, padding: 0 }, data);
    l.unique = fuse_queue_request(c, fc, FUSE_OPCODE.WRITE, fi.nodeid, body, true);
    if (l.unique < 0) {
      l.r = l.unique;
      return goto('dio_unlock');
    }
    return block({ on: 'answer', conn: fc.ptr, unique: l.unique }, 'write_done');
  },
  write_done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error) l.r = a.error;
    else {
      const r = decodeReplyArg(FUSE_OPCODE.WRITE, a.body);
      l.r = r.op === 'WRITE' ? r.arg.size : 0;
      const { fi } = fuseFileOf(c, l.file);
      // the page cache keeps what a write-through wrote (a direct write drops those pages)
      if (l.direct) invalidatePages(fi.pages);
      else writeToPages(fi.pages, l.offset, l.data.slice(0, l.r));
      fuse_write_update_attr(c, l.file, l.offset + l.r);
    }
    return goto('dio_unlock');
  },
  dio_unlock(c, l) {
    if (l.shared && !c.mutant('dio-write-no-uncached-end')) {
      const f = c.deref(l.file, 'file');
      const fi = c.deref(c.deref(f.private_data, 'fuse_file').inode, 'fuse_inode');
      fuse_inode_uncached_io_end(c, fi);
    }
    return ret(l.r);
  },
});

/**
 * fuse_splice_read: FOPEN_DIRECT_IO overrides passthrough here too. A passthrough file
 * splices from its backing file (backing_file_splice_read, then fuse_file_accessed); any
 * other, a direct_io file included, goes through the page cache (filemap_splice_read).
 */
const fuse_splice_read = kfunc<ReadA>('fuse_splice_read', 'fs/fuse/file.c', {
  start(c, l) {
    const { ff } = fuseFileOf(c, l.file);
    if (!ff.passthrough || ff.openFlags & FOPEN.DIRECT_IO) {
      if (c.record) c.emit('note', 'filemap_splice_read: through the page cache');
      return tail(filemap_read, { file: l.file, offset: l.offset, n: l.n });
    }
    return tail(fuse_passthrough_io, { file: l.file, offset: l.offset, n: l.n, write: false, via: 'fuse_passthrough_splice_read' });
  },
});

/**
 * fuse_splice_write: a passthrough file (without FOPEN_DIRECT_IO) splices into its backing
 * file (backing_file_splice_write, then fuse_write_update_attr); any other goes through
 * iter_file_splice_write, i.e. ->write_iter.
 */
const fuse_splice_write = kfunc<WriteA>('fuse_splice_write', 'fs/fuse/file.c', {
  start(c, l) {
    const { ff } = fuseFileOf(c, l.file);
    if (!ff.passthrough || ff.openFlags & FOPEN.DIRECT_IO) {
      return tail(fuse_file_write_iter, { file: l.file, offset: l.offset, data: l.data });
    }
    return tail(fuse_passthrough_io, { file: l.file, offset: l.offset, data: l.data, write: true, via: 'fuse_passthrough_splice_write' });
  },
});

/** fuse_write_update_attr (also ctx->end_write of passthrough writes): grow i_size to the write's end and invalidate the attributes. */
export function fuse_write_update_attr(c: Ctx, file: Ptr, end: number) {
  const f = c.deref(file, 'file');
  const ff = c.deref(f.private_data, 'fuse_file');
  const fi = c.deref(ff.inode, 'fuse_inode');
  // 6.9's passthrough path only invalidates; the server-write path and 6.12+ also extend.
  if (!ff.passthrough || c.profile.passthroughWriteExtendsSize) {
    if (end > fi.size) setField(c, fi, 'size', end);
  }
  setField(c, fi, 'attrValid', false);
}

interface MmapL extends MmapA {
  err: number;
  vmaFile: Ptr;
}

/**
 * fuse_file_mmap: a passthrough file maps its backing file (the mapping then pins the
 * per-open backing file, not the FUSE file); an inode in passthrough mode refuses any other
 * mapping (ENODEV); the first shared mapping of a direct-io file enters cached mode.
 * Returns the file the vma will hold.
 */
const fuse_file_mmap = kfunc<MmapA, MmapL>('fuse_file_mmap', 'fs/fuse/file.c', {
  start(c, l) {
    const { ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    if (ff.passthrough) {
      // fuse_passthrough_mmap -> backing_file_mmap: vma_set_file(vma, backing file)
      get_file(c, ff.passthrough);
      if (c.record) c.emit('note', `fuse_passthrough_mmap: the vma maps file#${ff.passthrough}`);
      return ret(ff.passthrough);
    }
    if (fuse_inode_backing(c, fi) !== 0) return ret(neg('ENODEV'));
    if (ff.openFlags & FOPEN.DIRECT_IO) {
      if (l.shared && !fc.directIoAllowMmap) return ret(neg('ENODEV'));
      if (l.shared) return call(fuse_file_cached_io_open, { inode: ff.inode, ff: ff.ptr }, 'cached', 'err');
    }
    return goto('map');
  },
  cached(c, l) {
    if (l.err) return ret(l.err);
    return goto('map');
  },
  map(c, l) {
    // a shared writable mapping may dirty pages: writeback will need an open file's fh
    // (fuse_link_write_file, most recent first)
    if (l.shared && l.write) {
      const { ff, fi } = fuseFileOf(c, l.file);
      if (!fi.writeFiles.includes(ff.ptr)) fi.writeFiles.unshift(ff.ptr);
    }
    get_file(c, l.file);
    return ret(l.file);
  },
});

interface WritepagesL {
  file: Ptr;
  inode: Ptr;
  /** the run being written: first page and page count */
  first: number;
  count: number;
  unique: number;
  fc: Ptr;
}

/**
 * fuse_writepages: every dirty page goes to the server, a run of contiguous pages in one
 * WRITE (FUSE_WRITE_CACHE, no lock owner, no open flags) through the inode's write file
 * (fuse_write_file_get), the last page cut at i_size; writeback waits for each reply
 * (filemap_write_and_wait). The pages are clean afterwards.
 */
export const fuse_writepages = kfunc<{ file: Ptr; inode?: Ptr; from?: number; to?: number }, WritepagesL & { from?: number; to?: number }>('fuse_writepages', 'fs/fuse/file.c', {
  start(c, l) {
    if (!l.inode) l.inode = fuseFileOf(c, l.file).fi.ptr;
    return goto('run');
  },
  run(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    // filemap_write_and_wait_range (fuse_writeback_range) writes only the pages from..to
    const inRange = (i: number) => (l.from === undefined || i >= l.from) && (l.to === undefined || i <= l.to);
    const first = fi.dirty.find(inRange);
    const wf = fi.writeFiles[0];
    if (first === undefined) return ret(0);
    if (wf === undefined) {
      if (c.record) c.emit('note', `fuse_writepages: ${name(fi)} has dirty pages but no write file`);
      return ret(neg('EIO'));
    }
    let count = 1;
    while (fi.dirty.includes(first + count) && inRange(first + count)) count++;
    l.first = first;
    l.count = count;
    const start = first * PAGE_SIZE;
    const end = Math.min((first + count) * PAGE_SIZE, fi.size);
    const fc = connOfInode(c, fi);
    l.fc = fc.ptr;
    if (end <= start) return goto('written');
    let data = '';
    for (let i = first; i < first + count; i++) data += (fi.pages[i] ?? '').padEnd(PAGE_SIZE, '\0');
    const ff = c.deref(wf, 'fuse_file');
    const body = encodeWriteBody(
      { fh: ff.fh, offset: start, write_flags: FUSE_WRITE_CACHE, lock_owner: 0, flags: 0, padding: 0 },
      new TextEncoder().encode(data.slice(0, end - start)),
    );
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.WRITE, fi.nodeid, body, 'replied');
  },
  replied(c, l) {
    fuse_take_answer(c, c.deref(l.fc, 'fuse_conn'), l.unique);
    return goto('written');
  },
  written(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    setField(c, fi, 'dirty', fi.dirty.filter((i) => i < l.first || i >= l.first + l.count));
    return goto('run');
  },
});

interface WriteInodeL {
  inode: Ptr;
  unique: number;
  fc: Ptr;
}

/**
 * write_inode_now(inode, 1): the dirty pages (fuse_writepages), then, with the writeback
 * cache, the times the kernel changed locally (fuse_write_inode -> fuse_flush_times: SETATTR
 * MTIME|CTIME|FH through the inode's write file).
 */
export const fuse_write_inode_now = kfunc<{ inode: Ptr; metadataOnly?: boolean }, WriteInodeL & { metadataOnly?: boolean }>('write_inode_now', 'fs/fs-writeback.c', {
  start(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    // sync_inode_metadata (metadataOnly) writes the inode, not its pages
    if (fi.dirty.length && !l.metadataOnly) return call(fuse_writepages, { file: 0, inode: fi.ptr }, 'times', null);
    return goto('times');
  },
  times(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    const wf = fi.writeFiles[0];
    if (!fi.timesDirty || wf === undefined) return ret(0);
    setField(c, fi, 'timesDirty', false);
    const fc = connOfInode(c, fi);
    l.fc = fc.ptr;
    const ff = c.deref(wf, 'fuse_file');
    const now = c.w.jiffies || 1;
    const body = encode(FUSE_SETATTR_IN, { ...zeroValue(FUSE_SETATTR_IN), valid: FATTR.MTIME | FATTR.CTIME | FATTR.FH, fh: ff.fh, mtime: now, ctime: now, mtimensec: 1, ctimensec: 1 });
    // (the kernel's times carry nanoseconds; the model's clock has none, so any non-zero will do)
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.SETATTR, fi.nodeid, body, 'done');
  },
  done(c, l) {
    fuse_take_answer(c, c.deref(l.fc, 'fuse_conn'), l.unique);
    return ret(0);
  },
});

/** fuse_vma_close (no writeback cache): the dirty pages are written back as the mapping goes. */
const fuse_vma_close = kfunc<{ file: Ptr }>('fuse_vma_close', 'fs/fuse/file.c', {
  start(_c, l) {
    return tail(fuse_writepages, { file: l.file });
  },
});

interface FsyncL extends FsyncA {
  unique: number;
  fc: Ptr;
}

/**
 * fuse_fsync: the dirty pages go to the server first (file_write_and_wait_range, then
 * fuse_sync_writes), then the inode's metadata (sync_inode_metadata: with the writeback cache
 * the times it changed itself, fuse_flush_times); only then, unless the server once said it
 * has no FSYNC (fc->no_fsync: success without asking), FSYNC with FUSE_FSYNC_FDATASYNC for
 * fdatasync(2) (fuse_fsync_common). ENOSYS is remembered and is success. A passthrough file
 * has no pages and asks the server all the same: 6.18 passes no fsync to the backing file.
 */
const fuse_fsync = kfunc<FsyncA, FsyncL>('fuse_fsync', 'fs/fuse/file.c', {
  start(c, l) {
    return call(fuse_write_inode_now, { inode: fuseFileOf(c, l.file).fi.ptr }, 'send', null);
  },
  send(c, l) {
    const { ff, fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    if (fc.noFsync) return ret(0);
    l.fc = fc.ptr;
    const body = encode(FUSE_FSYNC_IN, { fh: ff.fh, fsync_flags: l.datasync ? FUSE_FSYNC_FDATASYNC : 0, padding: 0 });
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.FSYNC, fi.nodeid, body, 'done');
  },
  done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      setField(c, fc, 'noFsync', true);
      return ret(c.mutant('fsync-enosys-returned') ? a.error : 0);
    }
    return ret(a.error);
  },
});

/**
 * fuse_dir_fsync: FSYNCDIR with the directory's fh (0: the model's directories are opened
 * without OPENDIR); fc->no_fsyncdir after ENOSYS, then success without asking.
 */
export const fuse_dir_fsync = kfunc<FsyncA, FsyncL>('fuse_dir_fsync', 'fs/fuse/dir.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const sb = c.w.sbs[f.sb]!;
    if (sb.kind !== 'fuse') throw new Error('fuse directory on a non-fuse sb (model bug)');
    const fc = c.deref(sb.conn, 'fuse_conn');
    if (fc.noFsyncdir) return ret(0);
    l.fc = fc.ptr;
    const fi = inodeOfFile(c, f);
    const nodeid = fi ? c.deref(fi, 'fuse_inode').nodeid : FUSE_ROOT_ID;
    const fh = f.private_data ? c.deref(f.private_data, 'fuse_file').fh : 0;
    const body = encode(FUSE_FSYNC_IN, { fh, fsync_flags: l.datasync ? FUSE_FSYNC_FDATASYNC : 0, padding: 0 });
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.FSYNCDIR, nodeid, body, 'done');
  },
  done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      setField(c, fc, 'noFsyncdir', true);
      return ret(0);
    }
    return ret(a.error);
  },
});

interface FallocL extends FallocateA {
  unique: number;
  fc: Ptr;
  r: number;
}

/**
 * fuse_file_fallocate: modes other than KEEP_SIZE, PUNCH_HOLE and ZERO_RANGE, and any mode
 * once the server said ENOSYS (fc->no_fallocate), are EOPNOTSUPP at once. PUNCH_HOLE and
 * ZERO_RANGE write the range's dirty pages back first (fuse_writeback_range); growing past
 * s_maxbytes is EFBIG (inode_newsize_ok); file_modified asks about privileges (GETXATTR);
 * then FALLOCATE. ENOSYS is remembered and EOPNOTSUPP. After success, without KEEP_SIZE i_size
 * grows to the range's end (fuse_write_update_attr), PUNCH_HOLE/ZERO_RANGE drop the range from
 * the page cache (truncate_pagecache_range), and the attributes are invalid (the next stat
 * asks). Passthrough files too: 6.18 sends the request, the backing file is not touched.
 */
const fuse_file_fallocate = kfunc<FallocateA, FallocL>('fuse_file_fallocate', 'fs/fuse/file.c', {
  start(c, l) {
    const { fi } = fuseFileOf(c, l.file);
    const fc = connOfInode(c, fi);
    if (l.mode & ~(FALLOC_FL.KEEP_SIZE | FALLOC_FL.PUNCH_HOLE | FALLOC_FL.ZERO_RANGE)) return ret(neg('EOPNOTSUPP'));
    if (fc.noFallocate) return ret(neg('EOPNOTSUPP'));
    if (l.mode & (FALLOC_FL.PUNCH_HOLE | FALLOC_FL.ZERO_RANGE)) {
      // fuse_writeback_range: from the range's start to the end of the file (LLONG_MAX)
      const from = Math.floor(l.offset / PAGE_SIZE);
      if (fi.dirty.some((i) => i >= from)) return call(fuse_writepages, { file: l.file, from }, 'privs', 'r');
    }
    return goto('privs');
  },
  privs(c, l) {
    if (l.r < 0) return goto('out');
    const { fi } = fuseFileOf(c, l.file);
    if (!(l.mode & FALLOC_FL.KEEP_SIZE) && l.offset + l.len > MAX_LFS_FILESIZE) {
      l.r = neg('EFBIG');
      return goto('out');
    }
    return call(file_remove_privs, { sb: fi.sb, name: fi.name, inode: fi.ptr }, 'send', 'r');
  },
  send(c, l) {
    if (l.r < 0) return goto('out');
    const { ff, fi } = fuseFileOf(c, l.file);
    file_update_time(c, fi);
    const fc = connOfInode(c, fi);
    l.fc = fc.ptr;
    const body = encode(FUSE_FALLOCATE_IN, { fh: ff.fh, offset: l.offset, length: l.len, mode: l.mode, padding: 0 });
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.FALLOCATE, fi.nodeid, body, 'done');
  },
  done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      setField(c, fc, 'noFallocate', true);
      l.r = neg('EOPNOTSUPP');
      return goto('out');
    }
    l.r = a.error;
    if (a.error) return goto('out');
    const { fi } = fuseFileOf(c, l.file);
    const end = l.offset + l.len;
    if (!(l.mode & FALLOC_FL.KEEP_SIZE) && end > fi.size) setField(c, fi, 'size', end);
    if (l.mode & (FALLOC_FL.PUNCH_HOLE | FALLOC_FL.ZERO_RANGE)) truncatePagesRange(fi.pages, l.offset, end - 1);
    setField(c, fi, 'attrValid', false); // fuse_invalidate_attr_mask(FUSE_STATX_MODSIZE)
    return goto('out');
  },
  out(c, l) {
    // fuse_flush_time_update: sync_inode_metadata (the writeback cache's times: SETATTR)
    return call(fuse_write_inode_now, { inode: fuseFileOf(c, l.file).fi.ptr, metadataOnly: true }, 'done_out', null);
  },
  done_out(_c, l) {
    return ret(l.r);
  },
});

/**
 * file_update_time (file_modified's second half): with the writeback cache the kernel keeps
 * mtime/ctime itself and the inode becomes dirty (I_DIRTY_SYNC: fuse_flush_times tells the
 * server later); without it FUSE inodes are S_NOCMTIME and nothing changes.
 */
function file_update_time(c: Ctx, fi: FuseInodeObj) {
  if (connOfInode(c, fi).writebackCache && !fi.timesDirty) setField(c, fi, 'timesDirty', true);
}

interface LlseekL extends LlseekA {
  unique: number;
  fc: Ptr;
  r: number;
}

/** fuse_update_attributes(inode, file, STATX_SIZE) asks the server only for a size it cannot trust. */
function sizeNeedsGetattr(c: Ctx, fi: FuseInodeObj): boolean {
  // (with the writeback cache the kernel keeps the size itself: only expired attributes count)
  const wb = connOfInode(c, fi).writebackCache;
  return (!fi.attrValid && !wb) || c.w.jiffies >= fi.attrExpires;
}

/**
 * fuse_file_llseek: SEEK_SET and SEEK_CUR are generic; SEEK_END first makes i_size current
 * (fuse_update_attributes: GETATTR with the file's fh when the size is invalid or expired);
 * SEEK_DATA and SEEK_HOLE ask the server (fuse_lseek: LSEEK, its offset becomes f_pos, its
 * errno, ENXIO too, is the caller's) unless it once said ENOSYS (fc->no_lseek): then, as
 * after that ENOSYS, i_size is made current and the generic answer given (the whole file is
 * data). Passthrough files too: 6.18 does not seek the backing file.
 */
const fuse_file_llseek = kfunc<LlseekA, LlseekL>('fuse_file_llseek', 'fs/fuse/file.c', {
  start(c, l) {
    switch (l.whence) {
      case SEEK_SET:
      case SEEK_CUR:
        return goto('generic');
      case SEEK_END:
        return goto('update');
      case SEEK_DATA:
      case SEEK_HOLE: {
        const { ff, fi } = fuseFileOf(c, l.file);
        const fc = connOfInode(c, fi);
        if (fc.noLseek) return goto('update');
        l.fc = fc.ptr;
        // fuse_lseek passes the loff_t as it is: a negative offset is a huge u64 on the wire
        const body = encode(FUSE_LSEEK_IN, { fh: ff.fh, offset: l.offset < 0 ? BigInt.asUintN(64, BigInt(l.offset)) : l.offset, whence: l.whence, padding: 0 });
        return fuse_request_wait(c, l, fc, FUSE_OPCODE.LSEEK, fi.nodeid, body, 'lseek_done');
      }
      default:
        return ret(neg('EINVAL'));
    }
  },
  lseek_done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      setField(c, fc, 'noLseek', true);
      return goto('update');
    }
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.LSEEK, a.body);
    if (r.op !== 'LSEEK') throw new Error('decodeReplyArg(LSEEK) (model bug)');
    const off = BigInt(r.arg.offset);
    // vfs_setpos: an offset past s_maxbytes (or negative as a loff_t) is EINVAL
    if (off > BigInt(MAX_LFS_FILESIZE)) return ret(neg('EINVAL'));
    return ret(vfs_setpos(c.deref(l.file, 'file'), Number(off), MAX_LFS_FILESIZE));
  },
  update(c, l) {
    const { f, fi } = fuseFileOf(c, l.file);
    if (sizeNeedsGetattr(c, fi)) return call(fuse_getattr, { sb: fi.sb, name: fi.name, inode: fi.ptr, cached: false, file: f.ptr }, 'updated', 'r');
    return goto('generic');
  },
  updated(_c, l) {
    if (l.r < 0) return ret(l.r);
    return goto('generic');
  },
  generic(c, l) {
    const { f, fi } = fuseFileOf(c, l.file);
    return ret(generic_file_llseek(f, l.offset, l.whence, fi.size));
  },
});

/** fuse_dir_operations' llseek: generic_file_llseek over the directory's i_size (the root's: 0). */
export const fuse_dir_llseek = kfunc<LlseekA>('generic_file_llseek', 'fs/read_write.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const fi = inodeOfFile(c, f);
    return ret(generic_file_llseek(f, l.offset, l.whence, fi ? c.deref(fi, 'fuse_inode').size : 0));
  },
});

interface CopyL extends CopyRangeA {
  unique: number;
  fc: Ptr;
  r: number;
  opcode: number;
}

/**
 * __fuse_copy_file_range: EOPNOTSUPP once the server said it has no copy
 * (fc->no_copy_file_range), EXDEV between two connections; the source's dirty pages in the
 * range go back first (fuse_writeback_range), then file_modified(file_out) asks about
 * privileges (GETXATTR) and the destination's range is written back. The request is
 * COPY_FILE_RANGE_64 (6.18) unless the server once said ENOSYS to it
 * (fc->no_copy_file_range_64), in which case, and right after that ENOSYS, COPY_FILE_RANGE
 * with the same fields; its ENOSYS sets fc->no_copy_file_range and is EOPNOTSUPP. After a
 * copy the destination's pages in the range go (truncate_inode_pages_range), its i_size grows
 * to the copy's end and its attributes are invalid (fuse_write_update_attr). Passthrough files
 * too: the server copies (6.18 has no passthrough copy).
 */
const __fuse_copy_file_range = kfunc<CopyRangeA, CopyL>('__fuse_copy_file_range', 'fs/fuse/file.c', {
  start(c, l) {
    const { fi } = fuseFileOf(c, l.fileIn);
    const fc = connOfInode(c, fi);
    if (fc.noCopyFileRange) return ret(neg('EOPNOTSUPP'));
    if (fi.sb !== fuseFileOf(c, l.fileOut).fi.sb) return ret(neg('EXDEV'));
    l.fc = fc.ptr;
    // fuse_writeback_range: from the range's start to the end of the file (LLONG_MAX)
    const from = Math.floor(l.posIn / PAGE_SIZE);
    if (fi.dirty.some((i) => i >= from)) return call(fuse_writepages, { file: l.fileIn, from }, 'privs', 'r');
    return goto('privs');
  },
  privs(c, l) {
    if (l.r < 0) return ret(l.r);
    const { fi } = fuseFileOf(c, l.fileOut);
    return call(file_remove_privs, { sb: fi.sb, name: fi.name, inode: fi.ptr }, 'wb_out', 'r');
  },
  wb_out(c, l) {
    if (l.r < 0) return ret(l.r);
    const { fi } = fuseFileOf(c, l.fileOut);
    file_update_time(c, fi);
    const from = Math.floor(l.posOut / PAGE_SIZE);
    if (fi.dirty.some((i) => i >= from)) return call(fuse_writepages, { file: l.fileOut, from }, 'send', 'r');
    return goto('send');
  },
  send(c, l) {
    if (l.r < 0) return goto('out');
    const fc = c.deref(l.fc, 'fuse_conn');
    l.opcode = c.profile.copyFileRange64 && !fc.noCopyFileRange64 ? FUSE_OPCODE.COPY_FILE_RANGE_64 : FUSE_OPCODE.COPY_FILE_RANGE;
    return goto('request');
  },
  request(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const { ff: ffIn, fi: fiIn } = fuseFileOf(c, l.fileIn);
    const { ff: ffOut } = fuseFileOf(c, l.fileOut);
    const body = encode(FUSE_COPY_FILE_RANGE_IN, { fh_in: ffIn.fh, off_in: l.posIn, nodeid_out: ffOut.nodeid, fh_out: ffOut.fh, off_out: l.posOut, len: l.len, flags: l.flags });
    return fuse_request_wait(c, l, fc, l.opcode, fiIn.nodeid, body, 'done');
  },
  done(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      if (l.opcode === FUSE_OPCODE.COPY_FILE_RANGE_64) {
        setField(c, fc, 'noCopyFileRange64', true);
        l.opcode = FUSE_OPCODE.COPY_FILE_RANGE;
        return goto('request');
      }
      setField(c, fc, 'noCopyFileRange', true);
      l.r = neg('EOPNOTSUPP');
      return goto('out');
    }
    l.r = a.error;
    if (a.error) return goto('out');
    const r = decodeReplyArg(l.opcode, a.body);
    const copied = r.op === 'COPY_FILE_RANGE_64' ? Number(r.arg.bytes_copied) : r.op === 'COPY_FILE_RANGE' ? r.arg.size : 0;
    const { fi } = fuseFileOf(c, l.fileOut);
    const start = Math.floor(l.posOut / PAGE_SIZE) * PAGE_SIZE;
    const end = Math.ceil((l.posOut + copied) / PAGE_SIZE) * PAGE_SIZE - 1;
    if (end >= start) truncatePagesRange(fi.pages, start, end);
    if (l.posOut + copied > fi.size) setField(c, fi, 'size', l.posOut + copied);
    setField(c, fi, 'attrValid', false);
    l.r = copied;
    return goto('out');
  },
  out(c, l) {
    // fuse_flush_time_update(inode_out): sync_inode_metadata (the writeback cache's times)
    return call(fuse_write_inode_now, { inode: fuseFileOf(c, l.fileOut).fi.ptr, metadataOnly: true }, 'done_out', null);
  },
  done_out(_c, l) {
    return ret(l.r);
  },
});

interface CopyOuterL extends CopyRangeA {
  r: number;
}

/**
 * fuse_copy_file_range (->copy_file_range): the server's copy; when that is EOPNOTSUPP
 * (the server has none, or said so) or EXDEV, the kernel copies through splice
 * (splice_copy_file_range: READ and WRITE by the usual rules, passthrough files their backing
 * files).
 */
const fuse_copy_file_range = kfunc<CopyRangeA, CopyOuterL>('fuse_copy_file_range', 'fs/fuse/file.c', {
  start(_c, l) {
    return call(__fuse_copy_file_range, { ...l }, 'done', 'r');
  },
  done(_c, l) {
    if (l.r !== neg('EOPNOTSUPP') && l.r !== neg('EXDEV')) return ret(l.r);
    return tail(splice_copy_file_range, { fileIn: l.fileIn, posIn: l.posIn, fileOut: l.fileOut, posOut: l.posOut, len: l.len });
  },
});

/** fuse_file_operations, with fuse_file_aops' read_folio */
export const FUSE_FOPS = 'fuse';
register_file_operations(FUSE_FOPS, {
  name: 'fuse_file_operations',
  open: fuse_open,
  read_iter: fuse_file_read_iter,
  write_iter: fuse_file_write_iter,
  splice_read: fuse_splice_read,
  splice_write: fuse_splice_write,
  mmap: fuse_file_mmap,
  flush: fuse_flush,
  lock: fuse_file_lock,
  flock: fuse_file_flock,
  release: fuse_release,
  read_folio: fuse_read_folio,
  writepages: fuse_writepages,
  vma_close: fuse_vma_close,
  fsync: fuse_fsync,
  fallocate: fuse_file_fallocate,
  llseek: fuse_file_llseek,
  copy_file_range: fuse_copy_file_range,
  mapping(c, f) {
    const fi = c.deref(c.deref(f.private_data, 'fuse_file').inode, 'fuse_inode');
    return { pages: fi.pages, size: fi.size, dirty: fi.dirty };
  },
});

/** fuse_dir_operations (registered in readdir.ts, once dir.ts's members exist) */
export const FUSE_DIR_FOPS = 'fuse_dir';
