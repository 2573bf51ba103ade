// fs/stat.c: stat(2), and statx(AT_STATX_DONT_SYNC) for what the kernel has cached.
import { call, entry, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { s_type } from './fs.ts';
import { path_lookup, pick_link, picked_link } from './namei.ts';
import { fdput } from './file.ts';
import { get_file } from './file_table.ts';
import { walk_ret, type WalkL } from './namespace.ts';

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
      return path_lookup(c, l, 'found');
    },
    found(c, l) {
      if (l.inode < 0) return walk_ret(c, l, l.inode);
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      // stat(2) follows a trailing symlink (LOOKUP_FOLLOW); a filesystem may have to ask for its target
      if (type.inodeKind(c.w, sb, l.name) === 'lnk') {
        const next = pick_link(c, l, 'link');
        if (next) return next;
      }
      type.pathGet?.(c, l.inode);
      return call(type.getattr, { sb: l.sb, name: l.name, inode: l.inode, cached: !!l.cached }, 'done', 'r');
    },
    link(c, l) {
      return picked_link(c, l);
    },
    done(c, l) {
      s_type(c.w.sbs[l.sb]!).pathPut?.(c, l.inode);
      return walk_ret(c, l, l.r);
    },
  }),
);

interface ReadlinkL extends WalkL {
  path: string;
  sb: number;
  name: string;
  inode: Ptr;
  r: number;
}

/**
 * readlink(2) (do_readlinkat, vfs_readlink): the walk without following the last name, then
 * the link's target through ->get_link, copied into the caller's page-sized buffer. EINVAL
 * when the name is not a symbolic link. Returns the target's length; the target is the data.
 */
export const sys_readlink = entry(
  'readlink',
  kfunc<{ path: string }, ReadlinkL>('sys_readlink', 'fs/stat.c', {
    start(c, l) {
      return path_lookup(c, l, 'found');
    },
    found(c, l) {
      if (l.inode < 0) return walk_ret(c, l, l.inode);
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      if (type.inodeKind(c.w, sb, l.name) !== 'lnk') return walk_ret(c, l, neg('EINVAL'));
      if (type.i_get_link) return call(type.i_get_link, { sb: l.sb, name: l.name, inode: l.inode }, 'done', 'r');
      const target = type.get_link?.(c.w, sb, l.name) ?? '';
      c.data = target;
      return walk_ret(c, l, target.length);
    },
    done(c, l) {
      if (l.r < 0) c.data = undefined;
      return walk_ret(c, l, l.r);
    },
  }),
);
