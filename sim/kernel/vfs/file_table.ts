// fs/file_table.c: struct file, its references, and its end (__fput: the filesystem's
// ->release through f_op, then the creds and the memory).
import type { Ctx } from '../ctx.ts';
import { name } from '../ctx.ts';
import type { FileObj, Ptr } from '../state.ts';
import { current_cred, get_cred, put_cred } from '../cred.ts';
import { f_op, s_type } from './fs.ts';
import { locks_remove_file } from './locks.ts';
import { mntput } from './namespace.ts';

/** get_file() */
export function get_file(c: Ctx, p: Ptr) {
  const f = c.deref(p, 'file');
  if (f.count <= 0) c.violate('refcount-inc-from-zero', `get_file on ${name(f)} with f_count ${f.count}`, name(f));
  f.count++;
  if (c.record) c.emit('refcount', `${name(f)}.f_count ${f.count - 1} -> ${f.count} (get_file)`);
}

/**
 * fput(): drop a reference; the last one runs __fput, which calls the filesystem's release.
 * (The kernel defers __fput to task_work, run before returning to userspace; the model runs
 * it at once, which is the same for everything the model observes.)
 */
export function fput(c: Ctx, p: Ptr) {
  const f = c.deref(p, 'file');
  if (f.count <= 0) {
    c.violate('refcount-underflow', `fput on ${name(f)} with f_count ${f.count}`, name(f));
    return;
  }
  f.count--;
  if (c.record) c.emit('refcount', `${name(f)}.f_count ${f.count + 1} -> ${f.count} (fput)`);
  if (f.count === 0) __fput(c, f);
}

/** __fput(): the file's locks go (locks_remove_file), then ->release, the file's creds and memory, then its mount's reference (mntput). */
function __fput(c: Ctx, f: FileObj) {
  locks_remove_file(c, f);
  f_op(f).release?.(c, f);
  put_cred(c, f.cred);
  c.kfree(f.ptr);
  const sb = c.w.sbs[f.sb];
  // path_put of an O_PATH file's path: its inode reference goes
  if (f.pathInode && sb) s_type(sb).pathPut?.(c, f.pathInode);
  if (sb?.detached) mntput(c, sb);
}

/** A file whose ->open failed is discarded without ->release (fs/open.c: do_dentry_open). */
export function discard_file(c: Ctx, p: Ptr) {
  const f = c.deref(p, 'file');
  put_cred(c, f.cred);
  c.kfree(f.ptr);
}

/** alloc_empty_file(): a new struct file with one reference, with the given creds (default: the task's, current_cred()). */
export function alloc_file(c: Ctx, init: Omit<FileObj, 'ptr' | 'life' | 'type' | 'count' | 'cred'>, cred: Ptr = current_cred(c)): FileObj {
  return c.alloc<FileObj>({ type: 'file', count: 1, cred: get_cred(c, cred), ...init });
}
