// fs/locks.c: POSIX record locks (fcntl(2) F_GETLK, F_SETLK, F_SETLKW; lockf(3) is built on
// them) and flock(2) locks, per inode, in the inode's lock context (inode->i_flctx, which the
// filesystem type keeps: s_type(sb).i_flctx).
//
//  - A POSIX lock belongs to a process (its files_struct): one process's locks never conflict
//    with each other, its ranges of one type merge when they touch, and a lock of another type
//    or an unlock splits them; closing any fd of the inode drops all of the process's locks on
//    it (filp_flush -> locks_remove_posix).
//  - A flock lock belongs to an open file: the same open never conflicts with itself; a
//    conversion (shared <-> exclusive) first drops the old lock, then asks for the new one;
//    the last fput of the open file drops it (__fput -> locks_remove_file).
//  - A request that conflicts fails with EAGAIN, or, if it may sleep (F_SETLKW, flock without
//    LOCK_NB), waits behind the conflicting lock (__locks_insert_block: under a waiter it
//    conflicts with, if any, so a release wakes waiters one generation at a time) until a
//    release wakes it, then tries again. A POSIX request that would close a cycle of waiting
//    owners fails with EDEADLK (posix_locks_deadlock); flock has no such check.
//
// A filesystem with ->lock or ->flock decides for itself (FUSE asks its server); without them
// the locks live here. Requests and locks are heap objects (file_lock), so kmemleak sees a
// lock nobody removed and KASAN a request freed while still linked.
import type { Ctx } from '../ctx.ts';
import { block, call, goto, kfunc, preempt, ret } from '../exec.ts';
import type { FileLockContext, FileLockObj, FileObj, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { pid_exists, proc_of_tgid, tgid_of } from '../pid.ts';
import { F_RDLCK, F_UNLCK, F_WRLCK } from '../../wire/uapi.ts';
import { f_op, s_type } from './fs.ts';

// include/linux/filelock.h: flc_flags
export const FL_POSIX = 1;
export const FL_FLOCK = 2;
export const FL_ACCESS = 8;
export const FL_EXISTS = 16;
export const FL_CLOSE = 64;
export const FL_SLEEP = 128;

// include/uapi/asm-generic/fcntl.h (x86_64): the lock commands, and flock(2)'s operations
export const F_GETLK = 5;
export const F_SETLK = 6;
export const F_SETLKW = 7;
/** F_CANCELLK (F_LINUX_SPECIFIC_BASE + 5): lockd's, never a user's */
export const F_CANCELLK = 1029;
export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export const LOCK_MAND = 32;

/** ->lock/->flock: the request now waits behind a lock (include/linux/filelock.h) */
export const FILE_LOCK_DEFERRED = 1;

/**
 * OFFSET_MAX as the model's numbers hold it: a lock "to the end of the file" ends here. The
 * model's offsets stay far below 2^53 (the scenario schema bounds them), so this sentinel
 * orders after every real offset and start - 1 / end + 1 stay exact; on the wire it is
 * 0x7fffffffffffffff (sim/wire/uapi.ts OFFSET_MAX).
 */
export const LOCK_OFFSET_MAX = Number.MAX_SAFE_INTEGER;

/** MAX_DEADLK_ITERATIONS */
const MAX_DEADLK_ITERATIONS = 10;

/** A POSIX lock's owner: the process's files_struct (current->files). */
export function posix_owner(proc: string): string {
  return `files:${proc}`;
}

/** A flock (or OFD) lock's owner: the open file. */
export function file_owner(file: Ptr): string {
  return `file#${file}`;
}

/** The process a POSIX owner names, or null for a file owner. */
export function owner_proc(owner: string): string | null {
  return owner.startsWith('files:') ? owner.slice(6) : null;
}

export const lockOf = (c: Ctx, p: Ptr): FileLockObj => c.deref(p, 'file_lock');

export const typeName = (t: number) => (t === F_RDLCK ? 'F_RDLCK' : t === F_WRLCK ? 'F_WRLCK' : t === F_UNLCK ? 'F_UNLCK' : `type ${t}`);
const range = (fl: FileLockObj) => `${fl.start}-${fl.end === LOCK_OFFSET_MAX ? 'EOF' : fl.end}`;
export const describeLock = (fl: FileLockObj) =>
  `file_lock#${fl.ptr} ${fl.flags & FL_POSIX ? 'POSIX' : 'FLOCK'} ${typeName(fl.ltype)} ${range(fl)} owner ${fl.owner}`;

/** locks_alloc_lock, initialised as the caller says. */
export function locks_alloc_lock(c: Ctx, init: Pick<FileLockObj, 'flags' | 'ltype' | 'owner' | 'pid' | 'file' | 'start' | 'end'>): FileLockObj {
  return c.alloc<FileLockObj>({ type: 'file_lock', ...init, blocker: 0, blocked: [], listed: false });
}

/** locks_free_lock: BUG_ON a lock still listed, still waiting, or still waited on. */
export function locks_free_lock(c: Ctx, p: Ptr) {
  const fl = lockOf(c, p);
  if (fl.listed || fl.blocker !== 0 || fl.blocked.length > 0) {
    c.violate(
      'file-lock',
      `locks_free_lock frees ${describeLock(fl)} while it is ${fl.listed ? "on its inode's list" : fl.blocker ? `waiting behind file_lock#${fl.blocker}` : `waited on by ${fl.blocked.map((b) => `file_lock#${b}`).join(', ')}`}`,
      `file_lock#${fl.ptr}`,
    );
  }
  c.kfree(p);
}

/** locks_copy_lock: a new lock with the request's owner, pid, file, flags, type and range. */
function locks_copy_lock(c: Ctx, from: FileLockObj): FileLockObj {
  return locks_alloc_lock(c, { flags: from.flags, ltype: from.ltype, owner: from.owner, pid: from.pid, file: from.file, start: from.start, end: from.end });
}

/** locks_copy_conflock: the request takes the conflicting lock's description (for F_GETLK). */
function locks_copy_conflock(into: FileLockObj, from: FileLockObj) {
  into.owner = from.owner;
  into.pid = from.pid;
  into.file = 0;
  into.flags = from.flags;
  into.ltype = from.ltype;
  into.start = from.start;
  into.end = from.end;
}

// --- the inode's lock context ---------------------------------------------------------------

/** locks_inode_context(file_inode(file)): null until the inode's first lock. */
export function locks_inode_context(c: Ctx, f: FileObj): FileLockContext | null {
  return s_type(c.w.sbs[f.sb]!).i_flctx(c, f, false);
}

/** locks_get_lock_context: made at the first lock; an unlock never makes one. */
function locks_get_lock_context(c: Ctx, f: FileObj, type: number): FileLockContext | null {
  const ctx = locks_inode_context(c, f);
  if (ctx || type === F_UNLCK) return ctx;
  if (c.record) c.emit('alloc', `${f.name}: file_lock_context (inode->i_flctx)`);
  return s_type(c.w.sbs[f.sb]!).i_flctx(c, f, true);
}

// --- conflicts ------------------------------------------------------------------------------

function locks_overlap(a: FileLockObj, b: FileLockObj): boolean {
  return a.end >= b.start && b.end >= a.start;
}

export function posix_same_owner(a: FileLockObj, b: FileLockObj): boolean {
  return a.owner === b.owner;
}

/** locks_conflict: a write lock conflicts with anything, read locks with each other never. */
function locks_conflict(caller: FileLockObj, sys: FileLockObj): boolean {
  return sys.ltype === F_WRLCK || caller.ltype === F_WRLCK;
}

export function posix_locks_conflict(caller: FileLockObj, sys: FileLockObj): boolean {
  if (posix_same_owner(caller, sys)) return false;
  if (!locks_overlap(caller, sys)) return false;
  return locks_conflict(caller, sys);
}

/** posix_test_locks_conflict: F_GETLK's; an F_UNLCK test finds the caller's own locks. */
function posix_test_locks_conflict(caller: FileLockObj, sys: FileLockObj): boolean {
  if (caller.ltype === F_UNLCK) return posix_same_owner(caller, sys) && locks_overlap(caller, sys);
  return posix_locks_conflict(caller, sys);
}

export function flock_locks_conflict(caller: FileLockObj, sys: FileLockObj): boolean {
  if (caller.file === sys.file) return false;
  return locks_conflict(caller, sys);
}

type Conflict = (a: FileLockObj, b: FileLockObj) => boolean;

// --- waiting: the blocker tree --------------------------------------------------------------

/** __locks_unlink_block: off its blocker's list (and blocked_hash). */
function __locks_unlink_block(c: Ctx, waiter: FileLockObj) {
  if (!waiter.blocker) return;
  const b = lockOf(c, waiter.blocker);
  const i = b.blocked.indexOf(waiter.ptr);
  if (i >= 0) b.blocked.splice(i, 1);
}

/** __locks_wake_up_blocks: every request waiting directly behind `blocker` wakes, oldest first. */
function __locks_wake_up_blocks(c: Ctx, blocker: FileLockObj) {
  while (blocker.blocked.length) {
    const waiter = lockOf(c, blocker.blocked[0]!);
    __locks_unlink_block(c, waiter);
    waiter.blocker = 0;
    if (c.record) c.emit('lock', `${describeLock(waiter)} wakes (file_lock#${blocker.ptr} released or changed)`);
  }
}

const locks_wake_up_blocks = __locks_wake_up_blocks;

/**
 * __locks_delete_block: the request stops waiting (after its wait, whatever ended it): its own
 * waiters wake, and it leaves its blocker's list. 0 if it was still waiting, else -ENOENT.
 */
export function locks_delete_block(c: Ctx, p: Ptr): number {
  const waiter = lockOf(c, p);
  if (!waiter.blocker && waiter.blocked.length === 0) return neg('ENOENT');
  const status = waiter.blocker ? 0 : neg('ENOENT');
  __locks_wake_up_blocks(c, waiter);
  __locks_unlink_block(c, waiter);
  waiter.blocker = 0;
  return status;
}

/**
 * __locks_insert_block: wait behind `blocker`, or behind one of its waiters this request
 * conflicts with (recursively), so that a release wakes only those who may now proceed;
 * requests that waited behind this one wake (they may not conflict with the new blocker).
 */
function __locks_insert_block(c: Ctx, blocker: FileLockObj, waiter: FileLockObj, conflict: Conflict) {
  if (waiter.blocker) c.violate('file-lock', `__locks_insert_block: ${describeLock(waiter)} already waits behind file_lock#${waiter.blocker} (BUG_ON)`);
  let b = blocker;
  for (let again = true; again; ) {
    again = false;
    for (const q of b.blocked) {
      const w = lockOf(c, q);
      if (conflict(w, waiter)) {
        b = w;
        again = true;
        break;
      }
    }
  }
  waiter.blocker = b.ptr;
  b.blocked.push(waiter.ptr);
  if (c.record) c.emit('lock', `${describeLock(waiter)} waits behind ${describeLock(b)}`);
  __locks_wake_up_blocks(c, waiter);
}

/** locks_move_blocks: the waiters of a request move to the lock made from it. */
function locks_move_blocks(c: Ctx, to: FileLockObj, from: FileLockObj) {
  if (from.blocked.length === 0) return;
  for (const q of from.blocked) lockOf(c, q).blocker = to.ptr;
  to.blocked.push(...from.blocked);
  from.blocked = [];
}

/**
 * what_owner_is_waiting_for: a POSIX request of blocker's owner that waits (blocked_hash
 * holds the requests waiting behind a POSIX lock or request), followed to the lock at the
 * root of its wait. The model finds waiting requests through the tasks asleep on them, in task
 * order (the kernel's hash bucket is newest first: it differs only for an owner with two
 * threads waiting at once).
 */
function what_owner_is_waiting_for(c: Ctx, blocker: FileLockObj): FileLockObj | null {
  for (const t of c.w.tasks) {
    if (t.done || t.blocked?.on !== 'file_lock') continue;
    const o = c.w.heap[t.blocked.fl];
    if (!o || o.type !== 'file_lock' || o.life !== 'live' || !o.blocker) continue;
    if (!(lockOf(c, o.blocker).flags & FL_POSIX)) continue;
    if (!posix_same_owner(o, blocker)) continue;
    let root: FileLockObj = o;
    while (root.blocker) root = lockOf(c, root.blocker);
    return root;
  }
  return null;
}

/** posix_locks_deadlock: would caller, waiting behind block_fl, close a cycle of waiting owners? */
export function posix_locks_deadlock(c: Ctx, caller: FileLockObj, block_fl: FileLockObj): boolean {
  let blocker: FileLockObj | null = block_fl;
  let i = 0;
  while ((blocker = what_owner_is_waiting_for(c, blocker))) {
    if (i++ > MAX_DEADLK_ITERATIONS) return false;
    if (posix_same_owner(caller, blocker)) return true;
  }
  return false;
}

// --- the inode's lists ----------------------------------------------------------------------

/** locks_insert_lock_ctx: onto the list before index `at` (the list's end: at = length). */
function locks_insert_lock_ctx(c: Ctx, list: Ptr[], fl: FileLockObj, at: number) {
  list.splice(at, 0, fl.ptr);
  fl.listed = true;
  if (c.record) c.emit('lock', `${describeLock(fl)} held`);
}

/** locks_delete_lock_ctx: off the list (its waiters wake), to be freed with `dispose`. */
function locks_delete_lock_ctx(c: Ctx, list: Ptr[], fl: FileLockObj, dispose: Ptr[]) {
  const i = list.indexOf(fl.ptr);
  if (i >= 0) list.splice(i, 1);
  fl.listed = false;
  if (c.record) c.emit('lock', `${describeLock(fl)} released`);
  locks_wake_up_blocks(c, fl);
  dispose.push(fl.ptr);
}

function locks_dispose_list(c: Ctx, dispose: Ptr[]) {
  for (const p of dispose) locks_free_lock(c, p);
}

// --- taking and testing locks ---------------------------------------------------------------

/**
 * flock_lock_inode: an open file's flock lock. Its old lock goes first (a conversion drops it,
 * waking its waiters, before the new one is asked for: a failed LOCK_NB conversion leaves the
 * file with no lock), an unlock ends there; then a conflict is EAGAIN, or
 * FILE_LOCK_DEFERRED once the request waits behind it; else the lock is added at the end.
 */
export function flock_lock_inode(c: Ctx, file: Ptr, p: Ptr): number {
  const req = lockOf(c, p);
  const f = c.deref(file, 'file');
  const ctx = locks_get_lock_context(c, f, req.ltype);
  if (!ctx) {
    if (req.ltype !== F_UNLCK) return neg('ENOMEM');
    return req.flags & FL_EXISTS ? neg('ENOENT') : 0;
  }
  const dispose: Ptr[] = [];
  let found = false;
  for (const q of ctx.flc_flock) {
    const fl = lockOf(c, q);
    if (req.file !== fl.file) continue;
    if (req.ltype === fl.ltype) return 0;
    found = true;
    locks_delete_lock_ctx(c, ctx.flc_flock, fl, dispose);
    break;
  }
  let error = 0;
  if (req.ltype === F_UNLCK) {
    if (req.flags & FL_EXISTS && !found) error = neg('ENOENT');
    locks_dispose_list(c, dispose);
    return error;
  }
  for (const q of ctx.flc_flock) {
    const fl = lockOf(c, q);
    if (!flock_locks_conflict(req, fl)) continue;
    if (!(req.flags & FL_SLEEP)) error = neg('EAGAIN');
    else {
      __locks_insert_block(c, fl, req, flock_locks_conflict);
      error = FILE_LOCK_DEFERRED;
    }
    locks_dispose_list(c, dispose);
    return error;
  }
  const new_fl = locks_copy_lock(c, req);
  locks_move_blocks(c, new_fl, req);
  locks_insert_lock_ctx(c, ctx.flc_flock, new_fl, ctx.flc_flock.length);
  locks_dispose_list(c, dispose);
  return 0;
}

/**
 * posix_lock_inode (posix_lock_file): a POSIX lock or unlock. A conflict with another owner's
 * lock is EAGAIN, EDEADLK, or FILE_LOCK_DEFERRED once the request waits behind it; else the
 * owner's locks are rewritten: same-type ranges that overlap or touch merge into one, a
 * different type (or an unlock) trims or splits what it covers, and every lock changed wakes
 * its waiters. The owner's locks stay together, sorted by start.
 *
 * The kernel allocates the two locks it may need before taking the spinlock (it must not fail
 * under it: ENOLCK); the model cannot fail an allocation, so it makes them where they are used.
 */
export function posix_lock_inode(c: Ctx, file: Ptr, p: Ptr): number {
  const f = c.deref(file, 'file');
  let request = lockOf(c, p);
  const ctx = locks_get_lock_context(c, f, request.ltype);
  if (!ctx) return request.ltype === F_UNLCK ? 0 : neg('ENOMEM');
  const list = ctx.flc_posix;

  if (request.ltype !== F_UNLCK) {
    for (const q of list) {
      const fl = lockOf(c, q);
      if (!posix_locks_conflict(request, fl)) continue;
      if (!(request.flags & FL_SLEEP)) return neg('EAGAIN');
      // deadlock detection and insertion into the blocked lists under one lock
      __locks_wake_up_blocks(c, request);
      if (posix_locks_deadlock(c, request, fl)) {
        if (c.record) c.emit('lock', `${describeLock(request)}: waiting behind ${describeLock(fl)} would close a cycle of waiting owners (EDEADLK)`);
        return neg('EDEADLK');
      }
      __locks_insert_block(c, fl, request, posix_locks_conflict);
      return FILE_LOCK_DEFERRED;
    }
  }
  if (request.flags & FL_ACCESS) return 0;

  const dispose: Ptr[] = [];
  // the first lock of this owner; then the owner's locks, in order
  let i = list.findIndex((q) => posix_same_owner(request, lockOf(c, q)));
  if (i < 0) i = list.length;
  let added = false;
  let left: FileLockObj | null = null;
  let right: FileLockObj | null = null;
  while (i < list.length) {
    const fl = lockOf(c, list[i]!);
    if (!posix_same_owner(request, fl)) break;
    if (request.ltype === fl.ltype) {
      // adjacent or overlapping regions of one type ("start - 1", never "end + 1": OFFSET_MAX)
      if (fl.end < request.start - 1) {
        i++;
        continue;
      }
      if (fl.start - 1 > request.end) break;
      // one lock from the lower start to the higher end
      if (fl.start > request.start) fl.start = request.start;
      else request.start = fl.start;
      if (fl.end < request.end) fl.end = request.end;
      else request.end = fl.end;
      if (added) {
        locks_delete_lock_ctx(c, list, fl, dispose);
        continue;
      }
      if (c.record) c.emit('lock', `${describeLock(fl)}: merged with the new range`);
      request = fl;
      added = true;
      i++;
      continue;
    }
    // a different type
    if (fl.end < request.start) {
      i++;
      continue;
    }
    if (fl.start > request.end) break;
    if (request.ltype === F_UNLCK) added = true;
    if (fl.start < request.start) left = fl;
    // a lock that ends past the new one: the new one goes before it
    if (fl.end > request.end) {
      right = fl;
      break;
    }
    if (fl.start >= request.start) {
      // the new lock covers this one entirely
      if (added) {
        locks_delete_lock_ctx(c, list, fl, dispose);
        continue;
      }
      const new_fl = locks_copy_lock(c, request);
      locks_move_blocks(c, new_fl, request);
      request = new_fl;
      locks_insert_lock_ctx(c, list, new_fl, i);
      i++;
      locks_delete_lock_ctx(c, list, fl, dispose);
      added = true;
      continue;
    }
    i++;
  }

  if (!added) {
    if (request.ltype === F_UNLCK) {
      locks_dispose_list(c, dispose);
      return request.flags & FL_EXISTS ? neg('ENOENT') : 0;
    }
    const new_fl = locks_copy_lock(c, request);
    locks_move_blocks(c, new_fl, request);
    locks_insert_lock_ctx(c, list, new_fl, i);
    i = list.indexOf(new_fl.ptr);
  }
  if (right) {
    if (left === right) {
      // the new lock splits the old one in two: the second part is a new lock
      const at = i < list.length ? i : list.length;
      left = locks_copy_lock(c, right);
      locks_insert_lock_ctx(c, list, left, at);
    }
    right.start = request.end + 1;
    if (c.record) c.emit('lock', `${describeLock(right)}: trimmed`);
    locks_wake_up_blocks(c, right);
  }
  if (left) {
    left.end = request.start - 1;
    if (c.record) c.emit('lock', `${describeLock(left)}: trimmed`);
    locks_wake_up_blocks(c, left);
  }
  locks_dispose_list(c, dispose);
  return 0;
}

/**
 * posix_test_lock (F_GETLK without ->lock): the first lock of another owner that conflicts,
 * copied into the request, or the request's type becomes F_UNLCK.
 */
export function posix_test_lock(c: Ctx, file: Ptr, p: Ptr) {
  const fl = lockOf(c, p);
  const ctx = locks_inode_context(c, c.deref(file, 'file'));
  for (const q of ctx?.flc_posix ?? []) {
    const cfl = lockOf(c, q);
    if (!posix_test_locks_conflict(fl, cfl)) continue;
    locks_copy_conflock(fl, cfl);
    return;
  }
  fl.ltype = F_UNLCK;
}

// --- the waits ------------------------------------------------------------------------------

interface WaitA {
  file: Ptr;
  fl: Ptr;
}

interface WaitL extends WaitA {
  r: number;
}

/** A wait ended by a kill: wait_event_interruptible's -ERESTARTSYS (the syscall never returns). */
const ERESTARTSYS = neg('EINTR');

/**
 * locks_lock_file_wait -> locks_lock_inode_wait: posix_lock_inode_wait or
 * flock_lock_inode_wait, the lock taken here: try; when the request waits, sleep until a
 * release wakes it (interruptibly: a kill ends the wait), and try again; then
 * locks_delete_block.
 */
export const locks_lock_file_wait = kfunc<WaitA, WaitL>('locks_lock_file_wait', 'fs/locks.c', {
  start(c, l) {
    const fl = lockOf(c, l.fl);
    l.r = fl.flags & FL_POSIX ? posix_lock_inode(c, l.file, l.fl) : flock_lock_inode(c, l.file, l.fl);
    if (l.r !== FILE_LOCK_DEFERRED) return goto('done');
    return block({ on: 'file_lock', fl: l.fl, task: c.t.name }, 'woke');
  },
  woke(c, l) {
    if (c.t.killed) {
      l.r = ERESTARTSYS;
      return goto('done');
    }
    return goto('start');
  },
  done(c, l) {
    locks_delete_block(c, l.fl);
    return ret(l.r);
  },
});

interface VfsLockA {
  file: Ptr;
  cmd: number;
  fl: Ptr;
}

interface VfsLockL extends VfsLockA {
  r: number;
}

/** vfs_lock_file: the filesystem's ->lock, or posix_lock_file. */
export const vfs_lock_file = kfunc<VfsLockA, VfsLockL>('vfs_lock_file', 'fs/locks.c', {
  start(c, l) {
    const lock = f_op(c.deref(l.file, 'file')).lock;
    if (lock) return call(lock, { file: l.file, cmd: l.cmd, fl: l.fl }, 'done', 'r');
    return ret(posix_lock_inode(c, l.file, l.fl));
  },
  done(_c, l) {
    return ret(l.r);
  },
});

type DoWaitL = VfsLockL;

/**
 * do_lock_file_wait: vfs_lock_file until it neither takes nor refuses the lock but waits
 * (FILE_LOCK_DEFERRED): then sleep until woken and try again; locks_delete_block at the end.
 */
const do_lock_file_wait = kfunc<VfsLockA, DoWaitL>('do_lock_file_wait', 'fs/locks.c', {
  start(_c, l) {
    return call(vfs_lock_file, { file: l.file, cmd: l.cmd, fl: l.fl }, 'tried', 'r');
  },
  tried(c, l) {
    if (l.r !== FILE_LOCK_DEFERRED) return goto('done');
    return block({ on: 'file_lock', fl: l.fl, task: c.t.name }, 'woke');
  },
  woke(c, l) {
    if (c.t.killed) {
      l.r = ERESTARTSYS;
      return goto('done');
    }
    return goto('start');
  },
  done(c, l) {
    locks_delete_block(c, l.fl);
    return ret(l.r);
  },
});

/** vfs_test_lock: the filesystem's ->lock(F_GETLK), or posix_test_lock. */
const vfs_test_lock = kfunc<{ file: Ptr; fl: Ptr }, { file: Ptr; fl: Ptr; r: number }>('vfs_test_lock', 'fs/locks.c', {
  start(c, l) {
    const lock = f_op(c.deref(l.file, 'file')).lock;
    if (lock) return call(lock, { file: l.file, cmd: F_GETLK, fl: l.fl }, 'done', 'r');
    posix_test_lock(c, l.file, l.fl);
    return ret(0);
  },
  done(_c, l) {
    return ret(l.r);
  },
});

// --- fcntl(2) -------------------------------------------------------------------------------

/** struct flock as fcntl(2) passes it (l_whence SEEK_SET: the model's files have no f_pos). */
export interface FlockArg {
  /** l_type: F_RDLCK, F_WRLCK or F_UNLCK (anything else is EINVAL) */
  type: number;
  start: number;
  len: number;
}

/**
 * flock64_to_posix_lock: the range from l_start and l_len (0: to the end of the file; a
 * negative length ends just before l_start), owner current->files, pid current->tgid.
 */
function flock_to_posix_lock(c: Ctx, file: Ptr, a: FlockArg): FileLockObj | number {
  let start = a.start;
  let end: number;
  if (start < 0) return neg('EINVAL');
  if (a.len > 0) end = start + (a.len - 1);
  else if (a.len < 0) {
    if (start + a.len < 0) return neg('EINVAL');
    end = start - 1;
    start += a.len;
  } else end = LOCK_OFFSET_MAX;
  if (a.type !== F_RDLCK && a.type !== F_WRLCK && a.type !== F_UNLCK) return neg('EINVAL'); // assign_type
  return locks_alloc_lock(c, { flags: FL_POSIX, ltype: a.type, owner: posix_owner(c.p.name), pid: tgid_of(c.w, c.p.name), file, start, end });
}

/**
 * What F_GETLK leaves in the caller's struct flock, as the op's data: "un" when nothing
 * conflicts, else the lock's type, l_start, l_len (0 to the end of the file) and l_pid, the
 * holder named by its process (a pid no process of the scenario has is printed as a number).
 */
export function getlkResult(c: Ctx, fl: FileLockObj): string {
  if (fl.ltype === F_UNLCK) return 'un';
  const len = fl.end === LOCK_OFFSET_MAX ? 0 : fl.end - fl.start + 1;
  const who = fl.pid > 0 ? (proc_of_tgid(c.w, fl.pid) ?? String(fl.pid)) : String(fl.pid);
  return `${fl.ltype === F_RDLCK ? 'rd' : 'wr'} start=${fl.start} len=${len} pid=${who}`;
}

interface GetlkA extends FlockArg {
  file: Ptr;
}

interface GetlkL extends GetlkA {
  fl: Ptr;
  r: number;
}

/**
 * fcntl_getlk: only F_RDLCK or F_WRLCK may be tested (EINVAL); the first conflicting lock of
 * another owner is reported (posix_lock_to_flock: l_pid through locks_translate_pid, which
 * leaves a pid <= 0 as it is), or l_type F_UNLCK and the rest of the struct as the caller
 * passed it.
 */
export const fcntl_getlk = kfunc<GetlkA, GetlkL>('fcntl_getlk', 'fs/locks.c', {
  start(c, l) {
    if (l.type !== F_RDLCK && l.type !== F_WRLCK) return ret(neg('EINVAL'));
    const fl = flock_to_posix_lock(c, l.file, l);
    if (typeof fl === 'number') return ret(fl);
    l.fl = fl.ptr;
    return call(vfs_test_lock, { file: l.file, fl: l.fl }, 'tested', 'r');
  },
  tested(c, l) {
    if (l.r === 0) c.data = getlkResult(c, lockOf(c, l.fl));
    locks_free_lock(c, l.fl);
    return ret(l.r);
  },
});

interface SetlkA extends FlockArg {
  fd: number;
  file: Ptr;
  cmd: number;
}

interface SetlkL extends SetlkA {
  fl: Ptr;
  r: number;
  x: number;
}

/**
 * fcntl_setlk: the lock needs the matching open mode (F_RDLCK FMODE_READ, F_WRLCK
 * FMODE_WRITE: EBADF); F_SETLKW may sleep. A lock taken while a sibling thread closed the fd
 * (the close/fcntl race) is removed again with all the process's locks on the file
 * (locks_remove_posix) and the call fails EBADF.
 */
export const fcntl_setlk = kfunc<SetlkA, SetlkL>('fcntl_setlk', 'fs/locks.c', {
  start(c, l) {
    const fl = flock_to_posix_lock(c, l.file, l);
    if (typeof fl === 'number') return ret(fl);
    l.fl = fl.ptr;
    const f = c.deref(l.file, 'file');
    if ((fl.ltype === F_RDLCK && !f.read) || (fl.ltype === F_WRLCK && !f.write)) {
      l.r = neg('EBADF'); // check_fmode_for_setlk
      return goto('out');
    }
    if (l.cmd === F_SETLKW) fl.flags |= FL_SLEEP;
    return call(do_lock_file_wait, { file: l.file, cmd: l.cmd, fl: l.fl }, 'locked', 'r');
  },
  locked(c, l) {
    // no lock is held from here to the fd check: a sibling thread's close(2) may come between
    if (l.r === 0 && lockOf(c, l.fl).ltype !== F_UNLCK && !c.t.killed) return preempt('check');
    return goto('out');
  },
  check(c, l) {
    if (c.p.fds[l.fd] === l.file || c.mutant('fcntl-setlk-no-close-race-check')) return goto('out');
    if (c.record) c.emit('note', `fcntl_setlk: fd ${l.fd} was closed meanwhile: the lock goes again (EBADF)`);
    return call(locks_remove_posix, { file: l.file, owner: posix_owner(c.p.name) }, 'raced', 'x');
  },
  raced(_c, l) {
    l.r = neg('EBADF');
    return goto('out');
  },
  out(c, l) {
    locks_free_lock(c, l.fl);
    return ret(l.r);
  },
});

// --- flock(2) -------------------------------------------------------------------------------

/** flock_translate_cmd */
export function flock_translate_cmd(cmd: number): number {
  switch (cmd) {
    case LOCK_SH:
      return F_RDLCK;
    case LOCK_EX:
      return F_WRLCK;
    case LOCK_UN:
      return F_UNLCK;
  }
  return neg('EINVAL');
}

/** flock_make_lock: the whole file, owned by the open file. */
export function flock_make_lock(c: Ctx, file: Ptr, type: number): FileLockObj {
  return locks_alloc_lock(c, { flags: FL_FLOCK, ltype: type, owner: file_owner(file), pid: tgid_of(c.w, c.p.name), file, start: 0, end: LOCK_OFFSET_MAX });
}

// --- releases -------------------------------------------------------------------------------

interface RemovePosixA {
  file: Ptr;
  owner: string;
}

interface RemovePosixL extends RemovePosixA {
  fl: Ptr;
  r: number;
}

/**
 * locks_remove_posix: an owner closed an fd of the file (filp_flush): all its POSIX locks on
 * the inode go, through vfs_lock_file(F_SETLK, F_UNLCK over the whole file); nothing at all
 * when the inode has no POSIX lock here (a filesystem keeping its locks elsewhere is not asked).
 */
export const locks_remove_posix = kfunc<RemovePosixA, RemovePosixL>('locks_remove_posix', 'fs/locks.c', {
  start(c, l) {
    const ctx = locks_inode_context(c, c.deref(l.file, 'file'));
    if (!ctx || ctx.flc_posix.length === 0) return ret(0);
    const proc = owner_proc(l.owner);
    const fl = locks_alloc_lock(c, { flags: FL_POSIX | FL_CLOSE, ltype: F_UNLCK, owner: l.owner, pid: tgid_of(c.w, proc ?? c.p.name), file: l.file, start: 0, end: LOCK_OFFSET_MAX });
    l.fl = fl.ptr;
    return call(vfs_lock_file, { file: l.file, cmd: F_SETLK, fl: l.fl }, 'done', 'r');
  },
  done(c, l) {
    locks_free_lock(c, l.fl);
    return ret(0);
  },
});

/**
 * locks_remove_file: the last fput of an open file (__fput): its OFD locks (the model has
 * none: locks_remove_posix with the file as owner finds nothing) and its flock lock go
 * (locks_remove_flock: an F_UNLCK with FL_CLOSE), then any lock left that names this file is
 * reported (locks_check_ctx_file_list: "Leaked POSIX lock").
 *
 * The kernel sends the flock unlock through ->flock when the filesystem has one; a
 * filesystem's ->flock that keeps locks elsewhere never has any on this list (FUSE with
 * FUSE_FLOCK_LOCKS), and one that keeps them here ends in flock_lock_inode: __fput is not a
 * stepped function in the model, so it calls flock_lock_inode directly.
 */
export function locks_remove_file(c: Ctx, f: FileObj) {
  const ctx = locks_inode_context(c, f);
  if (!ctx) return;
  if (ctx.flc_flock.length) {
    const fl = flock_make_lock(c, f.ptr, F_UNLCK);
    fl.flags |= FL_CLOSE;
    flock_lock_inode(c, f.ptr, fl.ptr);
    locks_free_lock(c, fl.ptr);
  }
  for (const [what, list] of [
    ['POSIX', ctx.flc_posix],
    ['FLOCK', ctx.flc_flock],
  ] as const) {
    for (const q of list) {
      const fl = lockOf(c, q);
      if (fl.file !== f.ptr) continue;
      c.violate('file-lock', `Leaked ${what} lock on ${f.name}: ${describeLock(fl)} outlives its file#${f.ptr} (locks_check_ctx_file_list)`, `file_lock#${fl.ptr}`);
    }
  }
}

/**
 * locks_free_lock_context (at the inode's destruction): its lists must be empty
 * (locks_check_ctx_lists: "Leaked locks on dev=...").
 */
export function locks_free_lock_context(c: Ctx, what: string, ctx: FileLockContext | undefined) {
  if (!ctx) return;
  const left = [...ctx.flc_posix, ...ctx.flc_flock];
  if (left.length) c.violate('file-lock', `Leaked locks on ${what}: ${left.map((q) => describeLock(lockOf(c, q))).join(', ')} (locks_check_ctx_lists)`);
}

/** The pid a remote lock reports (convert_fuse_file_lock: pid_nr_ns(find_pid_ns(pid)), 0 for a pid that does not exist). */
export function pid_nr_of(c: Ctx, nr: number): number {
  return pid_exists(c.w, nr) ? nr : 0;
}
