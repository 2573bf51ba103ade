// fs/sync.c: fsync(2) and fdatasync(2). Both sync the whole file through the filesystem's
// ->fsync (vfs_fsync -> vfs_fsync_range over 0..LLONG_MAX); a file whose table has none
// (pipes, sockets, /dev/null, /dev/fuse) is EINVAL. An fd opened read-only may be synced.
import { call, entry, kfunc, ret, tail } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op } from './fs.ts';
import { fdget, fdput } from './file.ts';

/** vfs_fsync_range: no ->fsync is EINVAL; else the filesystem's answer. */
export const vfs_fsync_range = kfunc<{ file: Ptr; datasync: boolean }>('vfs_fsync_range', 'fs/sync.c', {
  start(c, l) {
    const fsync = f_op(c.deref(l.file, 'file')).fsync;
    if (!fsync) return ret(neg('EINVAL'));
    return tail(fsync, { file: l.file, datasync: l.datasync });
  },
});

interface SyncL {
  fd: number;
  file: Ptr;
  r: number;
}

/** do_fsync: fdget (EBADF for a bad or O_PATH fd), vfs_fsync, fdput. */
function do_fsync(sys: string, datasync: boolean) {
  return kfunc<{ fd: number }, SyncL>(sys, 'fs/sync.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      return call(vfs_fsync_range, { file: f.ptr, datasync }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  });
}

/** fsync(2) */
export const sys_fsync = entry('fsync', do_fsync('sys_fsync', false));
/** fdatasync(2): the same, with datasync set (FUSE: FUSE_FSYNC_FDATASYNC) */
export const sys_fdatasync = entry('fdatasync', do_fsync('sys_fdatasync', true));
