// fs/file_table.c, fs/file.c, kernel/cred.c: struct file references and credentials.
import type { Ctx } from '../ctx.ts';
import { name } from '../ctx.ts';
import type { CredObj, FileObj, Ptr } from '../state.ts';
import { fuse_release } from '../fuse/file.ts';
import { fuse_dev_release } from '../fuse/inode.ts';

/** fget(fd) (fget_raw with raw): the task's file with a new reference, or NULL for a bad fd. */
export function fget(c: Ctx, fd: number, raw = false): Ptr {
  const p = c.p.fds[fd];
  if (p === undefined) return 0;
  if (!raw && c.deref(p, 'file').opath) return 0; // fget skips O_PATH files
  get_file(c, p);
  return p;
}

/** get_file() */
export function get_file(c: Ctx, p: Ptr) {
  const f = c.deref(p, 'file');
  if (f.count <= 0) c.violate('refcount-inc-from-zero', `get_file on ${name(f)} with f_count ${f.count}`, name(f));
  f.count++;
  c.emit('refcount', `${name(f)}.f_count ${f.count - 1} -> ${f.count} (get_file)`);
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
  c.emit('refcount', `${name(f)}.f_count ${f.count + 1} -> ${f.count} (fput)`);
  if (f.count === 0) __fput(c, f);
}

/** __fput(): ->release, then the file's creds and memory. */
function __fput(c: Ctx, f: FileObj) {
  if (f.fuseFile) fuse_release(c, f);
  if (f.devConn) fuse_dev_release(c, f);
  put_cred(c, f.cred);
  c.kfree(f.ptr);
}

/** A file whose ->open failed is discarded without ->release (fs/open.c: do_dentry_open). */
export function discard_file(c: Ctx, p: Ptr) {
  const f = c.deref(p, 'file');
  put_cred(c, f.cred);
  c.kfree(f.ptr);
}

/** prepare_creds(): a copy of the current task's credentials, usage 1. */
export function prepare_creds(c: Ctx): Ptr {
  const cur = c.deref(c.p.cred, 'cred');
  const n = c.alloc<CredObj>({ type: 'cred', usage: 1, uid: cur.uid, capSysAdmin: cur.capSysAdmin });
  return n.ptr;
}

/** get_cred() */
export function get_cred(c: Ctx, p: Ptr): Ptr {
  const cr = c.deref(p, 'cred');
  cr.usage++;
  return p;
}

/** put_cred(): the last put frees the creds after a grace period (__put_cred uses call_rcu). */
export function put_cred(c: Ctx, p: Ptr) {
  if (p === 0) return;
  const cr = c.deref(p, 'cred');
  if (cr.usage <= 0) {
    c.violate('refcount-underflow', `put_cred on ${name(cr)} with usage ${cr.usage}`, name(cr));
    return;
  }
  cr.usage--;
  if (cr.usage === 0) c.kfreeRcu(p);
}

/** Allocate a struct file for an open (do_dentry_open's alloc_empty_file). */
export function alloc_file(c: Ctx, init: Omit<FileObj, 'ptr' | 'life' | 'type' | 'count' | 'cred'>): FileObj {
  return c.alloc<FileObj>({ type: 'file', count: 1, cred: get_cred(c, c.p.cred), ...init });
}

/** fd_install(): the fd table takes the open's reference. */
export function fd_install(c: Ctx, p: Ptr): number {
  const fd = c.p.nextFd++;
  c.p.fds[fd] = p;
  c.emit('fd', `${c.t.name}: fd ${fd} -> file#${p}`);
  return fd;
}
