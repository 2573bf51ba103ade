// fs/attr.c and the truncate/chmod half of fs/open.c: changing an inode's attributes
// through the filesystem's ->setattr (notify_change), and the privilege check a write or a
// truncation makes first (file_remove_privs, fs/inode.c).
import { call, entry, kfunc, ret, tail } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { ATTR_CTIME, ATTR_FILE, ATTR_MODE, ATTR_MTIME, ATTR_OPEN, ATTR_SIZE, s_type, type IattrA } from './fs.ts';
import { path_lookup } from './namei.ts';
import { walk_ret, type WalkL } from './namespace.ts';
import { fdget, fdput } from './file.ts';

/** The capability xattr file_remove_privs asks about (XATTR_NAME_CAPS). */
export const XATTR_NAME_CAPS = 'security.capability';

interface PrivsA {
  sb: number;
  name: string;
  inode: Ptr;
}

/**
 * file_remove_privs / dentry_needs_remove_privs: unless the inode is S_NOSEC (never on FUSE:
 * fuse_sb_defaults clears SB_NOSEC, so the question is asked every time), a write or a
 * truncation first asks whether a capability xattr must go (cap_inode_need_killpriv:
 * __vfs_getxattr(XATTR_NAME_CAPS, size 0)). Only a positive size would mean killing it; an
 * error (ENODATA, EOPNOTSUPP, ENOTCONN after an abort) means there is nothing to kill. The
 * model's files have no set-id bits and no server reports a capability (the policy cannot say
 * so), so nothing is ever removed: this is the question, and its requests.
 */
export const file_remove_privs = kfunc<PrivsA, PrivsA & { r: number }>('file_remove_privs', 'fs/inode.c', {
  start(c, l) {
    const getxattr = s_type(c.w.sbs[l.sb]!).getxattr;
    if (!getxattr) return ret(0);
    return call(getxattr, { sb: l.sb, name: l.name, inode: l.inode, xname: XATTR_NAME_CAPS, size: 0 }, 'done', 'r');
  },
  done() {
    return ret(0);
  },
});

/** notify_change: the filesystem's ->setattr (none: the change is not modelled there: EPERM). */
export const notify_change = kfunc<IattrA>('notify_change', 'fs/attr.c', {
  start(c, l) {
    const setattr = s_type(c.w.sbs[l.sb]!).setattr;
    if (!setattr) return ret(neg('EPERM'));
    return tail(setattr, { ...l });
  },
});

interface TruncateA {
  sb: number;
  name: string;
  inode: Ptr;
  size: number;
  /** ATTR_FILE / ATTR_OPEN and the file, for ftruncate and an O_TRUNC open */
  how: number;
  file: Ptr;
}

/**
 * do_truncate: the privilege question first (dentry_needs_remove_privs), then notify_change
 * with ATTR_SIZE | ATTR_MTIME | ATTR_CTIME (ftruncate adds ATTR_FILE, an O_TRUNC open
 * ATTR_OPEN).
 */
export const do_truncate = kfunc<TruncateA, TruncateA & { r: number }>('do_truncate', 'fs/open.c', {
  start(_c, l) {
    return call(file_remove_privs, { sb: l.sb, name: l.name, inode: l.inode }, 'change', 'r');
  },
  change(_c, l) {
    const valid = ATTR_SIZE | ATTR_MTIME | ATTR_CTIME | l.how;
    return tail(notify_change, { sb: l.sb, name: l.name, inode: l.inode, valid, size: l.size, mode: 0, atime: 0, mtime: 0, file: l.file });
  },
});

interface FtruncateA {
  fd: number;
  size: number;
}

/**
 * ftruncate(2) (do_sys_ftruncate): a negative size, a file not open for writing or not a
 * regular file is EINVAL; then do_truncate through the file.
 */
export const sys_ftruncate = entry(
  'ftruncate',
  kfunc<FtruncateA, FtruncateA & { file: Ptr; r: number }>('sys_ftruncate', 'fs/open.c', {
    start(c, l) {
      if (l.size < 0) return ret(neg('EINVAL'));
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      if (f.mode !== 'reg' || !f.write) return fdput(c, l.file, neg('EINVAL'));
      const sb = c.w.sbs[f.sb]!;
      // file_inode(file): the inode the file holds, whatever its name leads to now
      const inode = s_type(sb).fileInode?.(c.w, f) ?? s_type(sb).inodeOf?.(c.w, sb, f.name) ?? 0;
      return call(do_truncate, { sb: f.sb, name: f.name, inode, size: l.size, how: ATTR_FILE, file: f.ptr }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);

interface PathAttrL extends WalkL {
  path: string;
  sb: number;
  name: string;
  inode: Ptr;
  r: number;
}

/** truncate(2) (vfs_truncate): the path walk; a directory is EISDIR; then do_truncate. */
export const sys_truncate = entry(
  'truncate',
  kfunc<{ path: string; size: number }, PathAttrL & { size: number }>('sys_truncate', 'fs/open.c', {
    start(c, l) {
      if (l.size < 0) return walk_ret(c, l, neg('EINVAL'));
      return path_lookup(c, l, 'found');
    },
    found(c, l) {
      if (l.inode < 0) return walk_ret(c, l, l.inode);
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      if (type.inodeKind(c.w, sb, l.name) === 'dir') return walk_ret(c, l, neg('EISDIR'));
      if (type.readonly(sb)) return walk_ret(c, l, neg('EROFS'));
      type.pathGet?.(c, l.inode);
      return call(do_truncate, { sb: l.sb, name: l.name, inode: l.inode, size: l.size, how: 0, file: 0 }, 'done', 'r');
    },
    done(c, l) {
      s_type(c.w.sbs[l.sb]!).pathPut?.(c, l.inode);
      return walk_ret(c, l, l.r);
    },
  }),
);

/** chmod(2) (chmod_common): notify_change with ATTR_MODE | ATTR_CTIME; no file (fchmod passes none either). */
export const sys_chmod = entry(
  'chmod',
  kfunc<{ path: string; mode: number }, PathAttrL & { mode: number }>('sys_chmod', 'fs/open.c', {
    start(c, l) {
      return path_lookup(c, l, 'found');
    },
    found(c, l) {
      if (l.inode < 0) return walk_ret(c, l, l.inode);
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      if (type.readonly(sb)) return walk_ret(c, l, neg('EROFS'));
      type.pathGet?.(c, l.inode);
      const kind = type.inodeKind(c.w, sb, l.name);
      const ifmt = kind === 'dir' ? 0o40000 : kind === 'fifo' ? 0o10000 : 0o100000;
      return call(notify_change, { sb: l.sb, name: l.name, inode: l.inode, valid: ATTR_MODE | ATTR_CTIME, size: 0, mode: ifmt | (l.mode & 0o7777), atime: 0, mtime: 0, file: 0 }, 'done', 'r');
    },
    done(c, l) {
      s_type(c.w.sbs[l.sb]!).pathPut?.(c, l.inode);
      return walk_ret(c, l, l.r);
    },
  }),
);

/** handle_truncate: an O_TRUNC open of an existing file truncates it after ->open. */
export const handle_truncate = kfunc<{ file: Ptr }>('handle_truncate', 'fs/namei.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const sb = c.w.sbs[f.sb]!;
    const inode = s_type(sb).fileInode?.(c.w, f) ?? s_type(sb).inodeOf?.(c.w, sb, f.name) ?? 0;
    return tail(do_truncate, { sb: f.sb, name: f.name, inode, size: 0, how: ATTR_OPEN, file: l.file });
  },
});
