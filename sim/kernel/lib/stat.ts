// include/linux/stat.h (uapi): the file type bits of a mode, as the model's inode kinds.
import type { InodeKind } from '../state.ts';

/** S_IFMT of a mode (S_ISDIR, S_ISFIFO, ...): a FUSE attr's, or the mode mknod(2) was given. */
export function inodeKindOf(mode: number): InodeKind {
  switch (mode & 0o170000) {
    case 0o040000:
      return 'dir';
    case 0o010000:
      return 'fifo';
    case 0o020000:
      return 'chr';
    case 0o140000:
      return 'sock';
    case 0o120000:
      return 'lnk';
    default:
      return 'reg';
  }
}
