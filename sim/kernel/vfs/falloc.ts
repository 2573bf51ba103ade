// fs/open.c: fallocate(2) (vfs_fallocate), with linux/falloc.h's modes. The VFS checks the
// mode's shape, the fd and the inode's type, then hands the rest to the filesystem's
// ->fallocate (none: EOPNOTSUPP). The checks follow 6.18's vfs_fallocate, where the modes are
// exclusive (a switch over FALLOC_FL_MODE_MASK) and KEEP_SIZE is the only flag beside them.
import { call, entry, kfunc, ret, tail } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op } from './fs.ts';
import { fdget, fdput } from './file.ts';
import { FALLOC_FL } from '../../wire/uapi.ts';

/** FALLOC_FL_MODE_MASK: the exclusive modes (FALLOC_FL_ALLOCATE_RANGE is none of them: 0) */
export const FALLOC_FL_MODE_MASK = FALLOC_FL.PUNCH_HOLE | FALLOC_FL.COLLAPSE_RANGE | FALLOC_FL.ZERO_RANGE | FALLOC_FL.INSERT_RANGE | FALLOC_FL.UNSHARE_RANGE;

/** s_maxbytes of every filesystem the model has (MAX_LFS_FILESIZE) */
export const MAX_LFS_FILESIZE = Number.MAX_SAFE_INTEGER;

/**
 * The mode and range checks of vfs_fallocate that need no file: EINVAL for a negative offset
 * or a length <= 0, EOPNOTSUPP for an unknown bit; then (exclusive modes, v6.12+) EOPNOTSUPP
 * for two modes at once, PUNCH_HOLE without KEEP_SIZE, COLLAPSE/INSERT with KEEP_SIZE, or
 * (before) the old bit-by-bit rules (Profile.fallocateModesExclusive). 0 when the call may go on.
 */
export function fallocate_mode_check(mode: number, offset: number, len: number, exclusive: boolean): number {
  if (offset < 0 || len <= 0) return neg('EINVAL');
  if (mode & ~(FALLOC_FL_MODE_MASK | FALLOC_FL.KEEP_SIZE)) return neg('EOPNOTSUPP');
  if (!exclusive) {
    // before v6.12: bit by bit (FALLOC_FL_SUPPORTED_MASK is the same set as above)
    if ((mode & (FALLOC_FL.PUNCH_HOLE | FALLOC_FL.ZERO_RANGE)) === (FALLOC_FL.PUNCH_HOLE | FALLOC_FL.ZERO_RANGE)) return neg('EOPNOTSUPP');
    if (mode & FALLOC_FL.PUNCH_HOLE && !(mode & FALLOC_FL.KEEP_SIZE)) return neg('EOPNOTSUPP');
    if (mode & FALLOC_FL.COLLAPSE_RANGE && mode & ~FALLOC_FL.COLLAPSE_RANGE) return neg('EINVAL');
    if (mode & FALLOC_FL.INSERT_RANGE && mode & ~FALLOC_FL.INSERT_RANGE) return neg('EINVAL');
    if (mode & FALLOC_FL.UNSHARE_RANGE && mode & ~(FALLOC_FL.UNSHARE_RANGE | FALLOC_FL.KEEP_SIZE)) return neg('EINVAL');
    return 0;
  }
  switch (mode & FALLOC_FL_MODE_MASK) {
    case 0: // FALLOC_FL_ALLOCATE_RANGE
    case FALLOC_FL.UNSHARE_RANGE:
    case FALLOC_FL.ZERO_RANGE:
      return 0;
    case FALLOC_FL.PUNCH_HOLE:
      return mode & FALLOC_FL.KEEP_SIZE ? 0 : neg('EOPNOTSUPP');
    case FALLOC_FL.COLLAPSE_RANGE:
    case FALLOC_FL.INSERT_RANGE:
      return mode & FALLOC_FL.KEEP_SIZE ? neg('EOPNOTSUPP') : 0;
    default:
      return neg('EOPNOTSUPP');
  }
}

/**
 * vfs_fallocate: the mode checks; a file not open for writing is EBADF; a FIFO ESPIPE, a
 * directory EISDIR, anything but a regular file ENODEV; past s_maxbytes EFBIG; no
 * ->fallocate EOPNOTSUPP; then the filesystem.
 */
export const vfs_fallocate = kfunc<{ file: Ptr; mode: number; offset: number; len: number }>('vfs_fallocate', 'fs/open.c', {
  start(c, l) {
    const bad = fallocate_mode_check(l.mode, l.offset, l.len, c.profile.fallocateModesExclusive);
    if (bad) return ret(bad);
    const f = c.deref(l.file, 'file');
    if (!f.write) return ret(neg('EBADF'));
    if (f.mode === 'fifo') return ret(neg('ESPIPE'));
    if (f.mode === 'dir') return ret(neg('EISDIR'));
    if (f.mode !== 'reg') return ret(neg('ENODEV'));
    if (l.offset + l.len > MAX_LFS_FILESIZE) return ret(neg('EFBIG'));
    const fallocate = f_op(f).fallocate;
    if (!fallocate) return ret(neg('EOPNOTSUPP'));
    return tail(fallocate, { file: l.file, mode: l.mode, offset: l.offset, len: l.len });
  },
});

interface FallocateSysA {
  fd: number;
  mode: number;
  offset: number;
  len: number;
}

/** fallocate(2) (ksys_fallocate): fdget (EBADF), vfs_fallocate, fdput. */
export const sys_fallocate = entry(
  'fallocate',
  kfunc<FallocateSysA, FallocateSysA & { file: Ptr; r: number }>('sys_fallocate', 'fs/open.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      return call(vfs_fallocate, { file: f.ptr, mode: l.mode, offset: l.offset, len: l.len }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);
