// fs/splice.c: splice(2) between a file and a pipe (the pipe's side is not modelled: the
// data is the result, as for read), and the generic splice helpers filesystems put in their
// f_op: copy_splice_read (through ->read_iter) and iter_file_splice_write (->write_iter).
import { call, entry, kfunc, ret, tail } from '../exec.ts';
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
