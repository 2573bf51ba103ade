// fs/namei.c: the path walk, cut to what the model's paths are: "/<mount>/<name>", a mount
// point and a name on its filesystem. Looking the name up is the filesystem's business
// (s_type(sb).lookup: i_op->lookup through the dcache). And the syscalls that make and remove
// names: mknod(2), mkdir(2), unlink(2), rmdir(2), rename(2)/renameat2(2).
import { block, call, entry, goto, kfunc, type Next } from '../exec.ts';
import type { Ctx } from '../ctx.ts';
import type { SuperBlock, World } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { s_type } from './fs.ts';
import { inode_lock_dir, walk_get, walk_ret, type WalkL } from './namespace.ts';

export interface Resolved {
  sb: SuperBlock;
  name: string;
}

/** "/<mount>/<name>" to its (mounted) superblock and the name within it. */
export function resolvePath(w: World, path: string): Resolved | null {
  const m = /^\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (!m) return null;
  const sb = w.sbs.find((s) => s.name === m[1] && s.mounted);
  if (!sb) return null;
  return { sb, name: m[2] ?? '' };
}

/**
 * The path walk to its last name (path_lookupat without following a trailing link): resolve
 * "/<mount>/<name>", hold the mount (walk_get), and ask its filesystem's ->lookup; the walk
 * goes on at `next` with the inode (or -errno) in l.inode. ENOENT when no mount has the path.
 */
export function path_lookup(c: Ctx, l: WalkL & { path: string; sb: number; name: string }, next: string): Next {
  const r = resolvePath(c.w, l.path);
  if (!r) return walk_ret(c, l, neg('ENOENT'));
  walk_get(c, l, r.sb);
  l.sb = r.sb.id;
  l.name = r.name;
  return call(s_type(r.sb).lookup, { sb: r.sb.id, name: r.name }, next, 'inode');
}

/** MAXSYMLINKS: how many symbolic links one walk follows before ELOOP */
export const MAXSYMLINKS = 40;

/**
 * A symbolic link's target as a path of the model: an absolute target is one already; a
 * relative one is relative to the link's directory, the root of its filesystem (the model's
 * directories are flat).
 */
export function link_path(sb: SuperBlock, target: string): string {
  return target.startsWith('/') ? target : `/${sb.name}/${target}`;
}

/** The walk goes on at the link's target (its `start` label), or ELOOP after MAXSYMLINKS. */
function follow_link(c: Ctx, l: WalkL & { links?: number; path: string }, target: string): Next {
  l.links = (l.links ?? 0) + 1;
  if (l.links > MAXSYMLINKS) return walk_ret(c, l, neg('ELOOP'));
  l.path = target;
  return goto('start');
}

/** What a walk that may follow a trailing link keeps. */
type LinkWalkL = WalkL & { links?: number; path: string; sb: number; name: string; inode: number; r: number };

/**
 * step_into -> pick_link at a trailing symbolic link: its target through ->get_link. A
 * filesystem that knows it (get_link) is followed at once; one that must ask (i_get_link:
 * FUSE's READLINK) is called, and the walk goes on at `next`, which ends in picked_link.
 * null when the filesystem gives no target (the walk stays at the link).
 */
export function pick_link(c: Ctx, l: LinkWalkL, next: string): Next | null {
  const sb = c.w.sbs[l.sb]!;
  const type = s_type(sb);
  if (type.i_get_link) return call(type.i_get_link, { sb: l.sb, name: l.name, inode: l.inode }, next, 'r');
  const target = type.get_link?.(c.w, sb, l.name) ?? null;
  return target === null ? null : follow_link(c, l, link_path(sb, target));
}

/** After ->get_link asked: its -errno ends the walk, else the walk follows the target it left in c.data. */
export function picked_link(c: Ctx, l: LinkWalkL): Next {
  const target = c.data ?? '';
  c.data = undefined;
  if (l.r < 0) return walk_ret(c, l, l.r);
  return follow_link(c, l, link_path(c.w.sbs[l.sb]!, target));
}

/** include/linux/namei.h: the walk's intent, which ->d_revalidate may look at */
export const LOOKUP_OPEN = 0x0100;
export const LOOKUP_CREATE = 0x0200;
export const LOOKUP_EXCL = 0x0400;
export const LOOKUP_RENAME_TARGET = 0x0800;

/** include/uapi/linux/fs.h: renameat2(2) flags */
export const RENAME_NOREPLACE = 1;
export const RENAME_EXCHANGE = 2;

/** current_umask(): the model's tasks keep the usual 022 (the oracle's processes set it) */
export const CURRENT_UMASK = 0o022;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

interface CreateL extends WalkL {
  path: string;
  /** symlink(2): the link's target */
  target: string;
  mode: number;
  rdev: number;
  dir: boolean;
  sb: number;
  name: string;
  inode: number;
  r: number;
}

/**
 * do_mknodat / do_mkdirat: filename_create looks the last name up for an exclusive create
 * (LOOKUP_CREATE | LOOKUP_EXCL: a cached entry is revalidated) and a positive answer is EEXIST;
 * then a read-only mount is EROFS; mknod refuses S_IFDIR (EPERM) and types it does not know
 * (EINVAL), a type of 0 is S_IFREG; the mode loses the umask (mode_strip_umask, no POSIX
 * ACLs); then ->mknod or ->mkdir.
 */
function createSteps(what: 'mknod' | 'mkdir' | 'symlink') {
  return {
    start(c: Ctx, l: CreateL) {
      const r = resolvePath(c.w, l.path);
      if (!r) return walk_ret(c, l, neg('ENOENT'));
      if (r.name === '') return walk_ret(c, l, neg('EEXIST'));
      walk_get(c, l, r.sb);
      // filename_create: inode_lock_nested(dir), then the lookup of the new name under it
      if (!inode_lock_dir(c, l, r.sb)) return block({ on: 'i_rwsem', sb: r.sb.id, write: true, task: c.t.name }, 'start');
      l.sb = r.sb.id;
      l.name = r.name;
      return call(s_type(r.sb).lookup, { sb: r.sb.id, name: r.name, flags: LOOKUP_CREATE | LOOKUP_EXCL }, 'looked', 'inode');
    },
    looked(c: Ctx, l: CreateL) {
      if (l.inode >= 0) return walk_ret(c, l, neg('EEXIST'));
      if (l.inode !== neg('ENOENT')) return walk_ret(c, l, l.inode);
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      if (type.readonly(sb)) return walk_ret(c, l, neg('EROFS'));
      if (what === 'symlink') {
        if (!type.i_symlink) return walk_ret(c, l, neg('EPERM'));
        return call(type.i_symlink, { sb: l.sb, name: l.name, target: l.target }, 'done', 'r');
      }
      if (what === 'mkdir') {
        if (!type.i_mkdir) return walk_ret(c, l, neg('EPERM'));
        return call(type.i_mkdir, { sb: l.sb, name: l.name, mode: l.mode & 0o7777 & ~CURRENT_UMASK }, 'done', 'r');
      }
      let mode = l.mode;
      if ((mode & S_IFMT) === 0) mode |= S_IFREG;
      const t = mode & S_IFMT;
      if (t === S_IFDIR) return walk_ret(c, l, neg('EPERM'));
      if (t !== S_IFREG && t !== S_IFIFO && t !== S_IFSOCK && t !== S_IFCHR && t !== S_IFBLK) return walk_ret(c, l, neg('EINVAL'));
      if (!type.i_mknod) return walk_ret(c, l, neg('EPERM'));
      return call(type.i_mknod, { sb: l.sb, name: l.name, mode: t | (mode & 0o7777 & ~CURRENT_UMASK), rdev: l.rdev }, 'done', 'r');
    },
    done(c: Ctx, l: CreateL) {
      return walk_ret(c, l, l.r);
    },
  };
}

/** mknod(2): a regular file, FIFO, socket or device node (mode carries the type). */
export const sys_mknod = entry('mknod', kfunc<{ path: string; mode: number; rdev: number }, CreateL>('sys_mknodat', 'fs/namei.c', createSteps('mknod')));

/** mkdir(2) */
export const sys_mkdir = entry('mkdir', kfunc<{ path: string; mode: number }, CreateL>('sys_mkdirat', 'fs/namei.c', createSteps('mkdir')));

/** symlink(2) (do_symlinkat): a symbolic link `path` to `target`, which is kept as given. */
export const sys_symlink = entry('symlink', kfunc<{ path: string; target: string }, CreateL>('sys_symlinkat', 'fs/namei.c', createSteps('symlink')));

interface UnlinkL extends WalkL {
  path: string;
  dir: boolean;
  sb: number;
  name: string;
  inode: number;
  r: number;
}

/**
 * do_unlinkat / do_rmdir: a read-only mount is EROFS first (mnt_want_write); the name is looked
 * up (a cached valid entry sends nothing); may_delete: unlink of a directory is EISDIR, rmdir
 * of anything else ENOTDIR; the mount's root cannot go (EBUSY). The syscall holds the inode
 * (ihold) across ->unlink / ->rmdir, so an inode nobody else holds is evicted when it lets go.
 */
function unlinkSteps(dir: boolean) {
  return {
    start(c: Ctx, l: UnlinkL) {
      l.dir = dir;
      const r = resolvePath(c.w, l.path);
      if (!r) return walk_ret(c, l, neg('ENOENT'));
      if (r.name === '') return walk_ret(c, l, neg(l.dir ? 'EBUSY' : 'EISDIR'));
      if (s_type(r.sb).readonly(r.sb)) return walk_ret(c, l, neg('EROFS'));
      walk_get(c, l, r.sb);
      // do_unlinkat / do_rmdir: inode_lock_nested(dir), then the lookup of the name under it
      if (!inode_lock_dir(c, l, r.sb)) return block({ on: 'i_rwsem', sb: r.sb.id, write: true, task: c.t.name }, 'start');
      l.sb = r.sb.id;
      l.name = r.name;
      return call(s_type(r.sb).lookup, { sb: r.sb.id, name: r.name, flags: 0 }, 'looked', 'inode');
    },
    looked(c: Ctx, l: UnlinkL) {
      if (l.inode < 0) return walk_ret(c, l, l.inode);
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      const isDir = type.inodeKind(c.w, sb, l.name) === 'dir';
      if (l.dir && !isDir) return walk_ret(c, l, neg('ENOTDIR'));
      if (!l.dir && isDir) return walk_ret(c, l, neg('EISDIR'));
      if (!type.i_unlink) return walk_ret(c, l, neg('EPERM'));
      type.pathGet?.(c, l.inode);
      return call(type.i_unlink, { sb: l.sb, name: l.name, dir: l.dir }, 'done', 'r');
    },
    done(c: Ctx, l: UnlinkL) {
      s_type(c.w.sbs[l.sb]!).pathPut?.(c, l.inode);
      return walk_ret(c, l, l.r);
    },
  };
}

/** unlink(2) */
export const sys_unlink = entry('unlink', kfunc<{ path: string }, UnlinkL>('sys_unlinkat', 'fs/namei.c', unlinkSteps(false)));

/** rmdir(2) */
export const sys_rmdir = entry('rmdir', kfunc<{ path: string }, UnlinkL>('sys_rmdir', 'fs/namei.c', unlinkSteps(true)));

interface RenameL extends WalkL {
  from: string;
  to: string;
  flags: number;
  sb: number;
  old: string;
  new: string;
  oldInode: number;
  newInode: number;
  r: number;
}

/**
 * do_renameat2: flags other than RENAME_NOREPLACE / RENAME_EXCHANGE, or both, are EINVAL; two
 * mounts are EXDEV; a read-only mount EROFS; the old name is looked up (ENOENT), then the new
 * one as a rename target (LOOKUP_RENAME_TARGET, a cached entry revalidated; with EXCHANGE a
 * plain lookup). NOREPLACE onto an existing name is EEXIST, EXCHANGE with a missing one ENOENT;
 * a directory onto a non-directory ENOTDIR, the reverse EISDIR; a name onto itself does
 * nothing. Then ->rename, with both inodes held by the syscall.
 */
export const sys_rename = entry(
  'rename',
  kfunc<{ from: string; to: string; flags: number }, RenameL>('sys_renameat2', 'fs/namei.c', {
    start(c, l) {
      if (l.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) || (l.flags & RENAME_NOREPLACE && l.flags & RENAME_EXCHANGE)) return walk_ret(c, l, neg('EINVAL'));
      const a = resolvePath(c.w, l.from);
      const b = resolvePath(c.w, l.to);
      if (!a || !b) return walk_ret(c, l, neg('ENOENT'));
      if (a.sb !== b.sb) return walk_ret(c, l, neg('EXDEV'));
      if (a.name === '' || b.name === '') return walk_ret(c, l, neg('EBUSY'));
      if (s_type(a.sb).readonly(a.sb)) return walk_ret(c, l, neg('EROFS'));
      walk_get(c, l, a.sb);
      // lock_rename: one directory, so inode_lock_nested(dir); both lookups under it
      if (!inode_lock_dir(c, l, a.sb)) return block({ on: 'i_rwsem', sb: a.sb.id, write: true, task: c.t.name }, 'start');
      l.sb = a.sb.id;
      l.old = a.name;
      l.new = b.name;
      return call(s_type(a.sb).lookup, { sb: l.sb, name: l.old, flags: 0 }, 'old_found', 'oldInode');
    },
    old_found(c, l) {
      if (l.oldInode < 0) return walk_ret(c, l, l.oldInode);
      const flags = l.flags & RENAME_EXCHANGE ? 0 : LOOKUP_RENAME_TARGET | LOOKUP_CREATE | (l.flags & RENAME_NOREPLACE ? LOOKUP_EXCL : 0);
      return call(s_type(c.w.sbs[l.sb]!).lookup, { sb: l.sb, name: l.new, flags }, 'new_found', 'newInode');
    },
    new_found(c, l) {
      const exists = l.newInode >= 0;
      if (!exists && l.newInode !== neg('ENOENT')) return walk_ret(c, l, l.newInode);
      if (l.flags & RENAME_EXCHANGE && !exists) return walk_ret(c, l, neg('ENOENT'));
      if (l.flags & RENAME_NOREPLACE && exists) return walk_ret(c, l, neg('EEXIST'));
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      const oldDir = type.inodeKind(c.w, sb, l.old) === 'dir';
      if (exists && !(l.flags & RENAME_EXCHANGE)) {
        const newDir = type.inodeKind(c.w, sb, l.new) === 'dir';
        if (oldDir && !newDir) return walk_ret(c, l, neg('ENOTDIR'));
        if (!oldDir && newDir) return walk_ret(c, l, neg('EISDIR'));
      }
      if (l.old === l.new) return walk_ret(c, l, 0);
      if (!type.i_rename) return walk_ret(c, l, neg('EPERM'));
      type.pathGet?.(c, l.oldInode);
      if (exists) type.pathGet?.(c, l.newInode);
      return call(type.i_rename, { sb: l.sb, old: l.old, new: l.new, flags: l.flags }, 'done', 'r');
    },
    done(c, l) {
      const type = s_type(c.w.sbs[l.sb]!);
      type.pathPut?.(c, l.oldInode);
      if (l.newInode >= 0) type.pathPut?.(c, l.newInode);
      return walk_ret(c, l, l.r);
    },
  }),
);
