// fs/read_write.c: pread(2) and pwrite(2), and vfs_read/vfs_write, which hand the io to
// whatever filesystem the file is on through its f_op (a passthrough read recurses here for
// the backing file).
import { call, entry, kfunc, ret, tail } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op, type ReadA, type WriteA } from './fs.ts';
import { fdget, fdput } from './file.ts';

/**
 * vfs_read: a file not opened for reading is EBADF; then ->read if the file has one
 * (generic_read_dir: EISDIR), else ->read_iter; neither: EINVAL.
 */
export const vfs_read = kfunc<ReadA>('vfs_read', 'fs/read_write.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    if (!f.read) return ret(neg('EBADF'));
    const ops = f_op(f);
    const read = ops.read ?? ops.read_iter;
    if (!read) return ret(neg('EINVAL'));
    return tail(read, { file: l.file, offset: l.offset, n: l.n });
  },
});

/** vfs_write: a file not opened for writing is EBADF; then ->write_iter (none: EINVAL). */
export const vfs_write = kfunc<WriteA>('vfs_write', 'fs/read_write.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    if (!f.write) return ret(neg('EBADF'));
    const write = f_op(f).write_iter;
    if (!write) return ret(neg('EINVAL'));
    return tail(write, { file: l.file, offset: l.offset, data: l.data });
  },
});

interface PreadA {
  fd: number;
  offset?: number;
  n?: number;
}

interface PwriteA {
  fd: number;
  offset?: number;
  data?: string;
}

interface SysIoL {
  file: Ptr;
  r: number;
}

/** pread(2) */
export const sys_read = entry(
  'read',
  kfunc<PreadA, PreadA & SysIoL>('sys_read', 'fs/read_write.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      return call(vfs_read, { file: f.ptr, offset: l.offset ?? 0, n: l.n ?? 4096 }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);

/** pwrite(2): a file not opened for writing is EBADF. */
export const sys_write = entry(
  'write',
  kfunc<PwriteA, PwriteA & SysIoL>('sys_write', 'fs/read_write.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      if (!f.write) return fdput(c, l.file, neg('EBADF'));
      return call(vfs_write, { file: f.ptr, offset: l.offset ?? 0, data: l.data ?? '' }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);
