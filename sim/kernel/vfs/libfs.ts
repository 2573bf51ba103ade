// fs/libfs.c and mm/filemap.c: generic pieces filesystems put in their operations.
import { kfunc, ret } from '../exec.ts';
import { neg } from '../lib/errno.ts';
import type { MmapA, ReadA } from './fs.ts';
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
