// fs/readdir.c: getdents64(2).
import { call, entry, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op } from './fs.ts';
import { fdget, fdput } from './file.ts';

/**
 * getdents64(2) -> iterate_dir: the file's ->iterate_shared (none: ENOTDIR) fills `count`
 * bytes of records from f_pos on. Returns the number of entries (the model's stand-in for the
 * bytes: both sides count records), their names in c.data; 0 at the end.
 */
export const sys_getdents64 = entry(
  'getdents',
  kfunc<{ fd: number; count: number }, { fd: number; count: number; file: Ptr; r: number }>('sys_getdents64', 'fs/readdir.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      const it = f_op(f).iterate_shared;
      if (!it) return fdput(c, l.file, neg('ENOTDIR'));
      return call(it, { file: l.file, count: l.count }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);
