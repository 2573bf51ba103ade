// fs/statfs.c: statfs(2): the path walk, then the filesystem's ->statfs of that inode.
import { call, entry, kfunc } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { s_type } from './fs.ts';
import { path_lookup } from './namei.ts';
import { walk_ret, type WalkL } from './namespace.ts';

interface StatfsL extends WalkL {
  path: string;
  sb: number;
  name: string;
  inode: Ptr;
  r: number;
}

/** statfs(2) (user_statfs -> vfs_statfs): returns f_namelen; the fields go to the op's data. */
export const sys_statfs = entry(
  'statfs',
  kfunc<{ path: string }, StatfsL>('sys_statfs', 'fs/statfs.c', {
    start(c, l) {
      return path_lookup(c, l, 'found');
    },
    found(c, l) {
      if (l.inode < 0) return walk_ret(c, l, l.inode);
      const type = s_type(c.w.sbs[l.sb]!);
      type.pathGet?.(c, l.inode);
      return call(type.statfs, { sb: l.sb, name: l.name, inode: l.inode }, 'done', 'r');
    },
    done(c, l) {
      s_type(c.w.sbs[l.sb]!).pathPut?.(c, l.inode);
      return walk_ret(c, l, l.r);
    },
  }),
);
