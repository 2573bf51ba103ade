// fs/splice.c: splice(2) between a file and a pipe (the pipe's side is not modelled: the
// data is the result, as for read), and the generic splice helpers filesystems put in their
// f_op: copy_splice_read (through ->read_iter) and iter_file_splice_write (->write_iter).
import { call, entry, goto, kfunc, ret, tail } from '../exec.ts';
import { O_APPEND, O_DIRECT } from './fcntl.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op, type ReadA, type WriteA } from './fs.ts';
import { fdget, fdput } from './file.ts';

/** copy_splice_read: a splice read done as a ->read_iter into the pipe's pages. */
export const copy_splice_read = kfunc<ReadA>('copy_splice_read', 'fs/splice.c', {
  start(c, l) {
    const read = f_op(c.deref(l.file, 'file')).read_iter;
    if (!read) return ret(neg('EINVAL'));
    return tail(read, { file: l.file, offset: l.offset, n: l.n });
  },
});

/** iter_file_splice_write: a splice write done as a ->write_iter from the pipe's pages. */
export const iter_file_splice_write = kfunc<WriteA>('iter_file_splice_write', 'fs/splice.c', {
  start(c, l) {
    const write = f_op(c.deref(l.file, 'file')).write_iter;
    if (!write) return ret(neg('EINVAL'));
    return tail(write, { file: l.file, offset: l.offset, data: l.data });
  },
});

interface SpliceA {
  fd: number;
  offset?: number;
  n?: number;
  data?: string;
}

interface SpliceL extends SpliceA {
  file: Ptr;
  r: number;
}

/** splice(2) from the file into a pipe: do_splice_read, through the file's ->splice_read. */
export const sys_splice_read = entry(
  'splice_read',
  kfunc<SpliceA, SpliceL>('sys_splice_read', 'fs/splice.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      const splice = f_op(f).splice_read;
      if (!splice) return fdput(c, l.file, neg('EINVAL'));
      return call(splice, { file: f.ptr, offset: l.offset ?? 0, n: l.n ?? 4096 }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);

/** splice(2) from a pipe into the file: do_splice_from, through the file's ->splice_write. */
export const sys_splice_write = entry(
  'splice_write',
  kfunc<SpliceA, SpliceL>('sys_splice_write', 'fs/splice.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      if (!f.write) return fdput(c, l.file, neg('EBADF'));
      const splice = f_op(f).splice_write;
      if (!splice) return fdput(c, l.file, neg('EINVAL'));
      return call(splice, { file: f.ptr, offset: l.offset ?? 0, data: l.data ?? '' }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);

/** the pipe do_splice_direct moves data through holds 16 pages (PIPE_DEF_BUFFERS) */
const PIPE_BYTES = 16 * 4096;

/**
 * do_splice_read: a file not open for reading is EBADF; O_DIRECT goes through ->read_iter
 * (copy_splice_read: no page cache); else the file's ->splice_read (none: EINVAL). The data
 * read goes to c.data.
 */
export const do_splice_read = kfunc<ReadA>('do_splice_read', 'fs/splice.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    if (!f.read) return ret(neg('EBADF'));
    if (l.n === 0) return ret(0);
    if (f.flags & O_DIRECT) return tail(copy_splice_read, { file: l.file, offset: l.offset, n: l.n });
    const splice = f_op(f).splice_read;
    if (!splice) return ret(neg('EINVAL'));
    return tail(splice, { file: l.file, offset: l.offset, n: l.n });
  },
});

interface DirectA {
  fileIn: Ptr;
  posIn: number;
  fileOut: Ptr;
  posOut: number;
  len: number;
}

interface DirectL extends DirectA {
  done: number;
  r: number;
  data: string;
}

/**
 * do_splice_direct -> splice_direct_to_actor: the kernel's own copy (copy_file_range's
 * fallback, sendfile(2)): the output must be open for writing (EBADF) and not O_APPEND
 * (EINVAL), the input a regular file (EINVAL: "we require the input to be seekable"). Then
 * a pipe's worth at a time: do_splice_read from the input, the output's ->splice_write
 * (direct_splice_actor -> do_splice_from; none: EINVAL) of what came, until len is done, the
 * input ends (a read of 0) or a write comes up short. The bytes moved, or the first error if
 * nothing moved. Both files' positions are the caller's (posIn/posOut + the result).
 */
export const do_splice_direct = kfunc<DirectA, DirectL>('do_splice_direct', 'fs/splice.c', {
  start(c, l) {
    const out = c.deref(l.fileOut, 'file');
    if (!out.write) return ret(neg('EBADF'));
    if (out.flags & O_APPEND) return ret(neg('EINVAL'));
    if (c.deref(l.fileIn, 'file').mode !== 'reg') return ret(neg('EINVAL'));
    l.done = 0;
    return goto('read');
  },
  read(_c, l) {
    const n = Math.min(l.len - l.done, PIPE_BYTES);
    if (n <= 0) return ret(l.done);
    return call(do_splice_read, { file: l.fileIn, offset: l.posIn + l.done, n }, 'write', 'r');
  },
  write(c, l) {
    l.data = c.data ?? '';
    c.data = undefined;
    if (l.r <= 0) return ret(l.done || l.r);
    const splice = f_op(c.deref(l.fileOut, 'file')).splice_write;
    if (!splice) return ret(l.done || neg('EINVAL'));
    return call(splice, { file: l.fileOut, offset: l.posOut + l.done, data: l.data.slice(0, l.r) }, 'wrote', 'r');
  },
  wrote(_c, l) {
    if (l.r <= 0) return ret(l.done || l.r);
    const short = l.r < l.data.length;
    l.done += l.r;
    l.data = '';
    if (short) return ret(l.done);
    return goto('read');
  },
});

/** splice_copy_file_range: copy_file_range(2) done by the kernel (do_splice_direct). */
export const splice_copy_file_range = kfunc<DirectA>('splice_copy_file_range', 'fs/splice.c', {
  start(_c, l) {
    return tail(do_splice_direct, { ...l });
  },
});
