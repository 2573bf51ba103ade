// fs/file.c: the fd table: fd_install, fget/fget_raw, and fdget/fdput around a syscall.
import type { Ctx } from '../ctx.ts';
import { ret, type Next } from '../exec.ts';
import type { FileObj, Ptr } from '../state.ts';
import { fput, get_file } from './file_table.ts';

/** fget(fd) (fget_raw with raw): the task's file with a new reference, or NULL for a bad fd. */
export function fget(c: Ctx, fd: number, raw = false): Ptr {
  const p = c.p.fds[fd];
  if (p === undefined) return 0;
  if (!raw && c.deref(p, 'file').opath) return 0; // fget skips O_PATH files
  get_file(c, p);
  return p;
}

/**
 * fdget(): the fd's file with a reference held for the whole syscall, as the kernel does when
 * the fd table is shared: a sibling thread's close(2) cannot free the file under a read that
 * sleeps waiting for the server. NULL for a bad fd or an O_PATH file. Pair with fdput().
 */
export function fdget(c: Ctx, fd: number): FileObj | null {
  const p = fget(c, fd);
  return p === 0 ? null : c.deref(p, 'file');
}

/** fdput(), then return v: the syscall's last reference may be the file's last (->release runs here). */
export function fdput(c: Ctx, file: Ptr, v: number): Next {
  fput(c, file);
  return ret(v);
}

/** fd_install(): the fd table takes the open's reference. */
export function fd_install(c: Ctx, p: Ptr): number {
  const fd = c.p.nextFd++;
  c.p.fds[fd] = p;
  if (c.record) c.emit('fd', `${c.t.name}: fd ${fd} -> file#${p}`);
  return fd;
}
