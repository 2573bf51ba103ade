// fs/backing-file.c: the per-open backing files of stacking filesystems (FUSE passthrough,
// overlayfs): a fresh struct file on the real path, opened with the creds given (the FUSE
// server's) and the user's open flags.
import { name } from '../ctx.ts';
import { call, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { alloc_file, discard_file } from './file_table.ts';
import { f_op, s_type } from './fs.ts';
import { fmodeRead, fmodeWrite } from './fcntl.ts';

interface BackingFileA {
  /** the user's open flags (the FUSE file's f_flags): O_APPEND and O_DIRECT apply to the backing file */
  flags: number;
  /** the struct file whose path is opened again (a fuse_backing's file) */
  real: Ptr;
  cred: Ptr;
}

interface BackingFileL extends BackingFileA {
  f: Ptr;
  err: number;
}

/**
 * backing_file_open: a new struct file (FMODE_BACKING) on the real file's path: vfs_open,
 * so the real inode's own file operations and ->open (for a FUSE backing file, a full FUSE
 * open on the lower mount), even when the fb was registered from an O_PATH fd (6.12+). A
 * read-only filesystem refuses a writable open (do_dentry_open: file_get_write_access ->
 * mnt_get_write_access: EROFS).
 */
export const backing_file_open = kfunc<BackingFileA, BackingFileL>('backing_file_open', 'fs/backing-file.c', {
  start(c, l) {
    const real = c.deref(l.real, 'file');
    const sb = c.w.sbs[real.sb]!;
    const type = s_type(sb);
    const write = fmodeWrite(l.flags);
    if (write && type.readonly(sb)) return ret(neg('EROFS'));
    const f = alloc_file(
      c,
      { f_op: type.fops(real.mode), sb: real.sb, name: real.name, mode: real.mode, flags: l.flags, read: fmodeRead(l.flags), write, opath: false, private_data: 0, backing: true, realSb: real.realSb },
      l.cred,
    );
    l.f = f.ptr;
    if (c.record) c.emit('note', `backing_file_open: ${name(f)} on /${sb.name}/${real.name} with cred#${l.cred}`);
    const open = f_op(f).open;
    // the real file's path, not its name: an unlinked backing file opens as well (file_inode)
    const inode = type.fileInode?.(c.w, real);
    if (open) return call(open, inode ? { file: l.f, inode } : { file: l.f }, 'opened', 'err');
    return ret(l.f);
  },
  opened(c, l) {
    if (l.err < 0) {
      discard_file(c, l.f);
      return ret(l.err);
    }
    return ret(l.f);
  },
});
