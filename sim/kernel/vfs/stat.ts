// fs/stat.c: stat(2), and statx(AT_STATX_DONT_SYNC) for what the kernel has cached.
import { call, entry, goto, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { s_type } from './fs.ts';
import { resolvePath } from './namei.ts';
import { fdput } from './file.ts';
import { get_file } from './file_table.ts';
import { walk_get, walk_ret, type WalkL } from './namespace.ts';

interface StatA {
  path: string;
  /** AT_STATX_DONT_SYNC: whatever the inode has, no GETATTR */
  cached?: boolean;
}

interface StatL extends StatA, WalkL {
  /** symbolic links followed so far (MAXSYMLINKS 40: ELOOP) */
  links: number;
  sb: number;
  name: string;
  inode: Ptr;
  r: number;
}

/** fstat(2): the file's inode's ->getattr (vfs_getattr without a file: no FH in GETATTR); returns st_size. */
export const sys_fstat = entry(
  'fstat',
  kfunc<{ fd: number }, { fd: number; file: Ptr; r: number }>('sys_fstat', 'fs/stat.c', {
    start(c, l) {
      const p = c.p.fds[l.fd];
      if (p === undefined) return ret(neg('EBADF'));
      // fstat works on O_PATH files too (fdget_raw)
      const f = c.deref(p, 'file');
      get_file(c, p);
      l.file = p;
      const sb = c.w.sbs[f.sb]!;
      const type = s_type(sb);
      // file_inode(file): the inode the file holds, whatever its name leads to now
      const inode = type.fileInode?.(c.w, f) ?? type.inodeOf?.(c.w, sb, f.name) ?? 0;
      return call(type.getattr, { sb: f.sb, name: f.name, inode, cached: false }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);

/** stat(2): the path walk, then the filesystem's ->getattr; returns st_size. */
export const sys_stat = entry(
  'stat',
  kfunc<StatA, StatL>('sys_stat', 'fs/stat.c', {
    start(c, l) {
      const r = resolvePath(c.w, l.path);
      if (!r) return walk_ret(c, l, neg('ENOENT'));
      walk_get(c, l, r.sb);
      l.sb = r.sb.id;
      l.name = r.name;
      return call(s_type(r.sb).lookup, { sb: r.sb.id, name: r.name }, 'found', 'inode');
    },
    found(c, l) {
      if (l.inode < 0) return walk_ret(c, l, l.inode);
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      // stat(2) follows a trailing symlink (LOOKUP_FOLLOW)
      const target = type.inodeKind(c.w, sb, l.name) === 'lnk' ? (type.get_link?.(c.w, sb, l.name) ?? null) : null;
      if (target !== null) {
        l.links = (l.links ?? 0) + 1;
        if (l.links > 40) return walk_ret(c, l, neg('ELOOP'));
        l.path = target;
        return goto('start');
      }
      type.pathGet?.(c, l.inode);
      return call(type.getattr, { sb: l.sb, name: l.name, inode: l.inode, cached: !!l.cached }, 'done', 'r');
    },
    done(c, l) {
      s_type(c.w.sbs[l.sb]!).pathPut?.(c, l.inode);
      return walk_ret(c, l, l.r);
    },
  }),
);
