// fs/stat.c: stat(2), and statx(AT_STATX_DONT_SYNC) for what the kernel has cached.
import { call, entry, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { s_type } from './fs.ts';
import { resolvePath } from './namei.ts';

interface StatA {
  path: string;
  /** AT_STATX_DONT_SYNC: whatever the inode has, no GETATTR */
  cached?: boolean;
}

interface StatL extends StatA {
  sb: number;
  name: string;
  inode: Ptr;
  r: number;
}

/** stat(2): the path walk, then the filesystem's ->getattr; returns st_size. */
export const sys_stat = entry(
  'stat',
  kfunc<StatA, StatL>('sys_stat', 'fs/stat.c', {
    start(c, l) {
      const r = resolvePath(c.w, l.path);
      if (!r) return ret(neg('ENOENT'));
      l.sb = r.sb.id;
      l.name = r.name;
      return call(s_type(r.sb).lookup, { sb: r.sb.id, name: r.name }, 'found', 'inode');
    },
    found(c, l) {
      if (l.inode < 0) return ret(l.inode);
      const type = s_type(c.w.sbs[l.sb]!);
      type.pathGet?.(c, l.inode);
      return call(type.getattr, { sb: l.sb, name: l.name, inode: l.inode, cached: !!l.cached }, 'done', 'r');
    },
    done(c, l) {
      s_type(c.w.sbs[l.sb]!).pathPut?.(c, l.inode);
      return ret(l.r);
    },
  }),
);
