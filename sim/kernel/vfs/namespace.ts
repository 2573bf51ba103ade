// fs/namespace.c: mount(2) of a filesystem declared "mounted at run time", and umount(2).
import { entry, kfunc, ret, tail, task_work_add, type Next } from '../exec.ts';
import type { SuperBlock } from '../state.ts';
import type { Ctx } from '../ctx.ts';
import { neg } from '../lib/errno.ts';
import { dir_lock_holders } from '../lib/in_lookup.ts';
import { s_type } from './fs.ts';

/** mount(2): the filesystem's own mount (overlayfs: its fill_super with the stacking limit). */
export const sys_mount = entry(
  'mount',
  kfunc<{ fs: string }>('sys_mount', 'fs/namespace.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === l.fs);
      if (!sb || sb.mounted) return ret(neg('EINVAL'));
      const mount = s_type(sb).mount;
      if (!mount) return ret(neg('EINVAL'));
      return tail(mount, { sb: sb.id });
    },
  }),
);

/** The default kill_sb: a mount with a file still open on it is busy. */
function generic_umount(c: Ctx, sb: SuperBlock): number {
  if (Object.values(c.w.heap).some((o) => o.type === 'file' && o.life === 'live' && o.sb === sb.id)) return neg('EBUSY');
  sb.mounted = false;
  return 0;
}

/**
 * Whether anything still holds the mount: a file open on it (f_path.mnt), or a path-based
 * syscall in progress that resolved a path on it (the walk's struct path).
 */
function filesOpenOn(c: Ctx, sb: SuperBlock): boolean {
  if (sb.walkers) return true;
  return Object.values(c.w.heap).some((o) => o.type === 'file' && o.life === 'live' && o.sb === sb.id);
}

/** A path-based syscall's hold on the mount its walk resolved (walkSb < 0 or absent: none). */
export interface WalkL {
  walkSb?: number;
  /** the superblock whose root directory's i_rwsem this syscall holds for writing (inode_lock_dir; < 0 or absent: none) */
  dirLockSb?: number;
}

/**
 * path_get of the walk's result: the syscall holds the mount it resolved until its path_put
 * (walk_put), so a lazy umount meanwhile leaves it alive (an open in progress still opens the
 * file, which then holds the mount). A second walk (a symlink followed) drops the first.
 */
export function walk_get(c: Ctx, l: WalkL, sb: SuperBlock) {
  walk_put(c, l);
  sb.walkers = (sb.walkers ?? 0) + 1;
  l.walkSb = sb.id;
}

/**
 * inode_lock(dir) for a namespace change or an open with O_CREAT (filename_create,
 * do_unlinkat, lock_rename, open_last_lookups): the root directory's i_rwsem for writing,
 * taken once no other task holds it either way. false: the caller must sleep on it
 * ({ on: 'i_rwsem', write: true }) and start again.
 */
export function inode_lock_dir(c: Ctx, l: WalkL, sb: SuperBlock): boolean {
  if (sb.dirLock === c.t.name) return true;
  if (dir_lock_holders(c.w, sb, c.t.name, true).length) return false;
  sb.dirLock = c.t.name;
  l.dirLockSb = sb.id;
  return true;
}

/** inode_unlock(dir): the change (or the open's lookup) is done; path_put does it too, for every way out. */
export function inode_unlock_dir(c: Ctx, l: WalkL) {
  if (l.dirLockSb === undefined || l.dirLockSb < 0) return;
  const sb = c.w.sbs[l.dirLockSb]!;
  l.dirLockSb = -1;
  if (sb.dirLock === c.t.name) delete sb.dirLock;
}

/** path_put of the walk's result: the last hold on a detached mount queues its cleanup. */
export function walk_put(c: Ctx, l: WalkL) {
  inode_unlock_dir(c, l);
  if (l.walkSb === undefined || l.walkSb < 0) return;
  const sb = c.w.sbs[l.walkSb]!;
  l.walkSb = -1;
  sb.walkers = (sb.walkers ?? 1) - 1;
  if (sb.walkers <= 0) delete sb.walkers;
  if (sb.detached) mntput(c, sb);
}

/** Return v from a path-based syscall, after its path_put. */
export function walk_ret(c: Ctx, l: WalkL, v: number): Next {
  walk_put(c, l);
  return ret(v);
}

/**
 * umount(2) / umount2(2): busy while another mount stacks on it; then the filesystem's own
 * teardown. With MNT_DETACH (lazy) the mount leaves the namespace at once (no path reaches it
 * any more) and lives on while files are open on it: its last mntput (at once if none is
 * open, else the last file's __fput) runs cleanup_mnt as task_work of that task. (A lazy
 * umount of a mount another one stacks on is EBUSY here too: the model does not keep a
 * detached lower layer alive under a mounted overlay.)
 */
export const sys_umount = entry(
  'umount',
  kfunc<{ fs: string; lazy?: boolean }>('sys_umount', 'fs/namespace.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === l.fs && s.mounted);
      if (!sb) return ret(neg('EINVAL'));
      if (c.w.sbs.some((s) => s.mounted && s_type(s).lowers?.(s).includes(sb.id))) return ret(neg('EBUSY'));
      if (l.lazy) {
        // umount_tree(UMOUNT_PROPAGATE): detached; the namespace's reference goes (mntput)
        sb.mounted = false;
        sb.detached = true;
        if (c.record) c.emit('note', `umount2(/${sb.name}, MNT_DETACH): detached${filesOpenOn(c, sb) ? ', alive while files are open on it' : ''}`);
        mntput(c, sb);
        return ret(0);
      }
      const umount = s_type(sb).umount ?? generic_umount;
      return ret(umount(c, sb));
    },
  }),
);

/**
 * mntput of a reference on a detached mount (the namespace's, or an open file's from __fput):
 * once nothing holds it, its cleanup_mnt is queued as task_work of this task (mntput_no_expire:
 * task_work_add), to run on its way back to userspace.
 */
export function mntput(c: Ctx, sb: SuperBlock) {
  if (!sb.detached || filesOpenOn(c, sb)) return;
  if (c.t.taskWork?.some((w) => w.fn === cleanup_mnt.name && w.args['sb'] === sb.id)) return;
  task_work_add(c, cleanup_mnt, { sb: sb.id });
}

/**
 * cleanup_mnt: the last reference to a detached mount is gone: deactivate_super, and the
 * filesystem's kill_sb (FUSE: fuse_kill_sb_anon -> fuse_conn_destroy, which aborts the
 * connection: requests still queued are lost).
 */
export const cleanup_mnt = kfunc<{ sb: number }>('cleanup_mnt', 'fs/namespace.c', {
  start(c, l) {
    const sb = c.w.sbs[l.sb]!;
    if (!sb.detached || filesOpenOn(c, sb)) return ret(0);
    sb.detached = false;
    if (c.record) c.emit('note', `cleanup_mnt: the last reference to the detached /${sb.name} is gone: deactivate_super`);
    const umount = s_type(sb).umount ?? generic_umount;
    return ret(umount(c, sb));
  },
});
