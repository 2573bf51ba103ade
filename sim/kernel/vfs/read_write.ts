// fs/read_write.c: pread(2) and pwrite(2), and vfs_read/vfs_write, which hand the io to
// whatever filesystem the file is on through its f_op (a passthrough read recurses here for
// the backing file).
import { call, entry, kfunc, ret, tail } from '../exec.ts';
import type { FileObj, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op, type LlseekA, type ReadA, type WriteA } from './fs.ts';
import { MAX_LFS_FILESIZE } from './falloc.ts';
import { SEEK_CUR, SEEK_DATA, SEEK_END, SEEK_HOLE } from '../../wire/uapi.ts';

/** SEEK_MAX: the last whence lseek(2) knows */
const SEEK_MAX = SEEK_HOLE;
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

// ---------------------------------------------------------------------------------------------
// lseek(2): f_pos, and the generic llseek helpers filesystems put in their ->llseek.

/** vfs_setpos: a negative offset or one past maxsize is EINVAL; else f_pos moves there. */
export function vfs_setpos(f: FileObj, offset: number, maxsize: number): number {
  if (offset < 0 || offset > maxsize) return neg('EINVAL');
  f.pos = offset;
  return offset;
}

/**
 * generic_file_llseek_size: SEEK_END from eof, SEEK_CUR from f_pos (offset 0: f_pos as it is,
 * nothing moves), SEEK_DATA: the offset itself when it is inside the file (the whole file is
 * data), SEEK_HOLE: eof (the virtual hole at the end); both ENXIO at or past eof.
 */
export function generic_file_llseek_size(f: FileObj, offset: number, whence: number, maxsize: number, eof: number): number {
  switch (whence) {
    case SEEK_END:
      offset += eof;
      break;
    case SEEK_CUR:
      if (offset === 0) return f.pos ?? 0;
      offset += f.pos ?? 0;
      break;
    case SEEK_DATA:
      if (offset < 0 || offset >= eof) return neg('ENXIO');
      break;
    case SEEK_HOLE:
      if (offset < 0 || offset >= eof) return neg('ENXIO');
      offset = eof;
      break;
  }
  return vfs_setpos(f, offset, maxsize);
}

/** generic_file_llseek over an i_size the caller knows (s_maxbytes is MAX_LFS_FILESIZE) */
export function generic_file_llseek(f: FileObj, offset: number, whence: number, eof: number): number {
  return generic_file_llseek_size(f, offset, whence, MAX_LFS_FILESIZE, eof);
}

/** vfs_llseek: a file without FMODE_LSEEK (no ->llseek: pipes, sockets, /dev/fuse) is ESPIPE. */
export const vfs_llseek = kfunc<LlseekA>('vfs_llseek', 'fs/read_write.c', {
  start(c, l) {
    const llseek = f_op(c.deref(l.file, 'file')).llseek;
    if (!llseek) return ret(neg('ESPIPE'));
    return tail(llseek, { file: l.file, offset: l.offset, whence: l.whence });
  },
});

interface LseekSysA {
  fd: number;
  offset: number;
  whence: number;
}

/** lseek(2) (ksys_lseek): fdget (EBADF), a whence past SEEK_MAX (SEEK_HOLE) EINVAL, vfs_llseek. */
export const sys_lseek = entry(
  'lseek',
  kfunc<LseekSysA, LseekSysA & SysIoL>('sys_lseek', 'fs/read_write.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      if (l.whence < 0 || l.whence > SEEK_MAX) return fdput(c, l.file, neg('EINVAL'));
      return call(vfs_llseek, { file: f.ptr, offset: l.offset, whence: l.whence }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);
