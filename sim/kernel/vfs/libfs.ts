// fs/libfs.c and mm/filemap.c: generic pieces filesystems put in their operations.
import { kfunc, ret } from '../exec.ts';
import { neg } from '../lib/errno.ts';
import type { FsyncA, LlseekA, MmapA, ReadA } from './fs.ts';
import { SEEK_CUR, SEEK_SET } from '../../wire/uapi.ts';
import { get_file } from './file_table.ts';

/** generic_read_dir: ->read of a directory: EISDIR. */
export const generic_read_dir = kfunc<ReadA>('generic_read_dir', 'fs/libfs.c', {
  start() {
    return ret(neg('EISDIR'));
  },
});

/** generic_file_mmap (mm/filemap.c): the vma maps the file itself. */
export const generic_file_mmap = kfunc<MmapA>('generic_file_mmap', 'mm/filemap.c', {
  start(c, l) {
    get_file(c, l.file);
    return ret(l.file);
  },
});

/** simple_statfs: a filesystem that needs nothing to answer statfs. */
export const simple_statfs = kfunc<{ sb: number }>('simple_statfs', 'fs/libfs.c', {
  start() {
    return ret(0);
  },
});

/** noop_fsync: nothing to write back (tmpfs, simple directories): 0. */
export const noop_fsync = kfunc<FsyncA>('noop_fsync', 'fs/libfs.c', {
  start() {
    return ret(0);
  },
});

/**
 * dcache_dir_lseek (simple_dir_operations; the model's other directories seek alike): only
 * SEEK_SET and SEEK_CUR, to a non-negative position; anything else EINVAL.
 */
export const dcache_dir_lseek = kfunc<LlseekA>('dcache_dir_lseek', 'fs/libfs.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    let offset = l.offset;
    if (l.whence === SEEK_CUR) offset += f.pos ?? 0;
    else if (l.whence !== SEEK_SET) return ret(neg('EINVAL'));
    if (offset < 0) return ret(neg('EINVAL'));
    f.pos = offset;
    return ret(offset);
  },
});

