// fs/read_write.c: pread(2) and pwrite(2) (read(2)/write(2) at f_pos), lseek(2),
// copy_file_range(2), sendfile(2), and vfs_read/vfs_write, which hand the io to
// whatever filesystem the file is on through its f_op (a passthrough read recurses here for
// the backing file).
import { call, entry, kfunc, ret, tail } from '../exec.ts';
import type { FileObj, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import type { Ctx } from '../ctx.ts';
import { f_op, s_type, type CopyRangeA, type LlseekA, type ReadA, type WriteA } from './fs.ts';
import { do_splice_direct, do_splice_read } from './splice.ts';
import { fput } from './file_table.ts';
import { O_APPEND } from './fcntl.ts';
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
  /** read(2): at f_pos (ksys_read: fdget_pos, then f_pos moves by what was read) */
  pos?: boolean;
}

interface PwriteA {
  fd: number;
  offset?: number;
  data?: string;
  /** write(2): at f_pos (O_APPEND: the filesystem writes at i_size and f_pos follows) */
  pos?: boolean;
}

/** The file's size as its filesystem keeps it (the page cache's i_size, else the inode's data). */
function i_size(c: Ctx, f: FileObj): number {
  const m = f_op(f).mapping?.(c, f);
  if (m) return m.size;
  const sb = c.w.sbs[f.sb]!;
  return s_type(sb).peek(c.w, sb, f.name)?.data.length ?? 0;
}

interface SysIoL {
  file: Ptr;
  r: number;
}

/** pread(2); read(2) with pos (at f_pos, which moves) */
export const sys_read = entry(
  'read',
  kfunc<PreadA, PreadA & SysIoL>('sys_read', 'fs/read_write.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      if (l.pos) l.offset = f.pos ?? 0;
      return call(vfs_read, { file: f.ptr, offset: l.offset ?? 0, n: l.n ?? 4096 }, 'done', 'r');
    },
    done(c, l) {
      if (l.pos && l.r > 0) c.deref(l.file, 'file').pos = (l.offset ?? 0) + l.r;
      return fdput(c, l.file, l.r);
    },
  }),
);

/** pwrite(2); write(2) with pos (at f_pos, which moves): a file not opened for writing is EBADF. */
export const sys_write = entry(
  'write',
  kfunc<PwriteA, PwriteA & SysIoL>('sys_write', 'fs/read_write.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      if (!f.write) return fdput(c, l.file, neg('EBADF'));
      if (l.pos) l.offset = f.pos ?? 0;
      return call(vfs_write, { file: f.ptr, offset: l.offset ?? 0, data: l.data ?? '' }, 'done', 'r');
    },
    done(c, l) {
      if (l.pos && l.r > 0) {
        const f = c.deref(l.file, 'file');
        // generic_write_checks moved an O_APPEND write to i_size: f_pos ends at the new end
        f.pos = f.flags & O_APPEND ? i_size(c, f) : (l.offset ?? 0) + l.r;
      }
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

// ---------------------------------------------------------------------------------------------
// copy_file_range(2) and sendfile(2): a filesystem's own copy, or the kernel's (splice).

/** MAX_RW_COUNT: the most one read, write or copy moves (INT_MAX & PAGE_MASK) */
const MAX_RW_COUNT = 0x7ffff000;

/**
 * generic_copy_file_checks (with generic_file_rw_checks): a directory on either side is
 * EISDIR, anything else but a regular file EINVAL; the input not open for reading, the output
 * not for writing or O_APPEND, EBADF; different filesystems EXDEV (unless both have the same
 * ->copy_file_range: FUSE to FUSE goes to FUSE, which sorts it out); the count is cut at the
 * input's i_size as the kernel knows it (0 at or past it: nothing happens); an overlap within
 * one inode is EINVAL. The (possibly shortened) count, or -errno.
 */
function generic_copy_file_checks(c: Ctx, fin: FileObj, posIn: number, fout: FileObj, posOut: number, len: number): number {
  if (fin.mode === 'dir' || fout.mode === 'dir') return neg('EISDIR');
  if (fin.mode !== 'reg' || fout.mode !== 'reg') return neg('EINVAL');
  if (!fin.read || !fout.write || fout.flags & O_APPEND) return neg('EBADF');
  const cin = f_op(fin).copy_file_range;
  const cout = f_op(fout).copy_file_range;
  if (cout) {
    if (cin !== cout) return neg('EXDEV');
  } else if (fin.sb !== fout.sb) return neg('EXDEV');
  const m = f_op(fin).mapping?.(c, fin);
  const sizeIn = m ? m.size : (s_type(c.w.sbs[fin.sb]!).peek(c.w, c.w.sbs[fin.sb]!, fin.name)?.data.length ?? 0);
  let count = posIn >= sizeIn ? 0 : Math.min(len, sizeIn - posIn);
  if (count > MAX_RW_COUNT) count = MAX_RW_COUNT;
  if (fin.sb === fout.sb && fin.name === fout.name && posOut + count > posIn && posOut < posIn + count) return neg('EINVAL');
  return count;
}

interface CopyL extends CopyRangeA {
  r: number;
}

/**
 * vfs_copy_file_range: the checks, then nothing for a count of 0; a filesystem with
 * ->copy_file_range copies itself (FUSE: fuse_copy_file_range, which falls back to splice on
 * its own); another copies through splice within one filesystem (do_splice_direct).
 */
export const vfs_copy_file_range = kfunc<CopyRangeA, CopyL>('vfs_copy_file_range', 'fs/read_write.c', {
  start(c, l) {
    if (l.flags !== 0) return ret(neg('EINVAL'));
    const fin = c.deref(l.fileIn, 'file');
    const fout = c.deref(l.fileOut, 'file');
    const count = generic_copy_file_checks(c, fin, l.posIn, fout, l.posOut, l.len);
    if (count <= 0) return ret(count);
    const copy = f_op(fout).copy_file_range;
    if (copy) return tail(copy, { fileIn: l.fileIn, posIn: l.posIn, fileOut: l.fileOut, posOut: l.posOut, len: count, flags: l.flags });
    // same sb, no ->copy_file_range nor ->remap_file_range: "fallback to splice for same sb copy for backward compat"
    return tail(do_splice_direct, { fileIn: l.fileIn, posIn: l.posIn, fileOut: l.fileOut, posOut: l.posOut, len: count });
  },
});

interface CopySysA {
  fd_in: number;
  off_in?: number;
  fd_out: number;
  off_out?: number;
  len: number;
  flags?: number;
}

interface CopySysL extends CopySysA {
  fileIn: Ptr;
  fileOut: Ptr;
  posIn: number;
  posOut: number;
  r: number;
}

/**
 * copy_file_range(2): both fds (EBADF), the offsets given or each file's f_pos, flags other
 * than 0 EINVAL, vfs_copy_file_range; what was copied moves the f_pos of a file whose offset
 * was not given.
 */
export const sys_copy_file_range = entry(
  'copy_file_range',
  kfunc<CopySysA, CopySysL>('sys_copy_file_range', 'fs/read_write.c', {
    start(c, l) {
      const fin = fdget(c, l.fd_in);
      if (!fin) return ret(neg('EBADF'));
      l.fileIn = fin.ptr;
      const fout = fdget(c, l.fd_out);
      if (!fout) return fdput(c, l.fileIn, neg('EBADF'));
      l.fileOut = fout.ptr;
      l.posIn = l.off_in ?? fin.pos ?? 0;
      l.posOut = l.off_out ?? fout.pos ?? 0;
      if ((l.flags ?? 0) !== 0) return goto_put(c, l, neg('EINVAL'));
      return call(vfs_copy_file_range, { fileIn: l.fileIn, posIn: l.posIn, fileOut: l.fileOut, posOut: l.posOut, len: l.len, flags: 0 }, 'done', 'r');
    },
    done(c, l) {
      c.data = undefined;
      if (l.r > 0) {
        if (l.off_in === undefined) c.deref(l.fileIn, 'file').pos = l.posIn + l.r;
        if (l.off_out === undefined) c.deref(l.fileOut, 'file').pos = l.posOut + l.r;
      }
      return goto_put(c, l, l.r);
    },
  }),
);

/** fdput of both files, then return v */
function goto_put(c: Ctx, l: { fileIn: Ptr; fileOut: Ptr }, v: number) {
  fput(c, l.fileOut);
  return fdput(c, l.fileIn, v);
}

interface SendfileA {
  out_fd: number;
  in_fd: number;
  offset?: number;
  count: number;
}

interface SendfileL extends SendfileA {
  fileIn: Ptr;
  fileOut: Ptr;
  pos: number;
  outPos: number;
  r: number;
}

/** FMODE_PREAD: pipes and sockets have none (stream_open, sockets' pseudo files) */
function fmode_pread(f: FileObj): boolean {
  return f.mode !== 'fifo' && f.mode !== 'sock';
}

/**
 * sendfile(2) (do_sendfile): the input open for reading (EBADF), an explicit offset only on a
 * file with FMODE_PREAD (ESPIPE), else the input's f_pos; the output open for writing (EBADF),
 * written at its own f_pos. A pipe output gets what the input's ->splice_read gives
 * (splice_file_to_pipe; the model keeps no pipe contents), anything else goes through
 * do_splice_direct. What moved advances the output's f_pos, and the input's when no offset
 * was given.
 */
export const sys_sendfile = entry(
  'sendfile',
  kfunc<SendfileA, SendfileL>('sys_sendfile', 'fs/read_write.c', {
    start(c, l) {
      const fin = fdget(c, l.in_fd);
      if (!fin) return ret(neg('EBADF'));
      l.fileIn = fin.ptr;
      if (!fin.read) return fdput(c, l.fileIn, neg('EBADF'));
      if (l.offset !== undefined && !fmode_pread(fin)) return fdput(c, l.fileIn, neg('ESPIPE'));
      l.pos = l.offset ?? fin.pos ?? 0;
      const fout = fdget(c, l.out_fd);
      if (!fout) return fdput(c, l.fileIn, neg('EBADF'));
      l.fileOut = fout.ptr;
      if (!fout.write) return goto_put(c, l, neg('EBADF'));
      l.outPos = fout.pos ?? 0;
      const count = Math.min(l.count, MAX_RW_COUNT);
      if (fout.mode === 'fifo') return call(do_splice_read, { file: l.fileIn, offset: l.pos, n: Math.min(count, 16 * 4096) }, 'done', 'r');
      return call(do_splice_direct, { fileIn: l.fileIn, posIn: l.pos, fileOut: l.fileOut, posOut: l.outPos, len: count }, 'done', 'r');
    },
    done(c, l) {
      c.data = undefined;
      if (l.r > 0) {
        const fout = c.deref(l.fileOut, 'file');
        if (fout.mode !== 'fifo') fout.pos = l.outPos + l.r;
        if (l.offset === undefined) c.deref(l.fileIn, 'file').pos = l.pos + l.r;
      }
      return goto_put(c, l, l.r);
    },
  }),
);
