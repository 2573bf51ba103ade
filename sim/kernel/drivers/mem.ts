// drivers/char/mem.c: the memory character devices; the model has /dev/null (major 1, minor
// 3), which a scenario's plain filesystem may hold (mknod c 1 3). chrdev_open gives its files
// null_fops: reads see end of file, writes vanish. It has read_iter and write_iter, so 6.9's
// BACKING_OPEN took it as a backing file; 6.17+ refuses it (not a regular file: EINVAL).
import { kfunc, ret } from '../exec.ts';
import { register_file_operations, type LlseekA, type ReadA, type WriteA } from '../vfs/fs.ts';

/** read_iter_null: always end of file. */
const read_iter_null = kfunc<ReadA>('read_iter_null', 'drivers/char/mem.c', {
  start(c) {
    c.data = '';
    return ret(0);
  },
});

/** write_iter_null: everything is written, nowhere. */
const write_iter_null = kfunc<WriteA>('write_iter_null', 'drivers/char/mem.c', {
  start(_c, l) {
    return ret(l.data.length);
  },
});

/** null_lseek: /dev/null has no position: f_pos becomes 0, whatever was asked. */
const null_lseek = kfunc<LlseekA>('null_lseek', 'drivers/char/mem.c', {
  start(c, l) {
    c.deref(l.file, 'file').pos = 0;
    return ret(0);
  },
});

/** null_fops (no ->fsync: fsync(2) is EINVAL; no ->fallocate: a character device is ENODEV first) */
export const NULL_FOPS = 'null';
register_file_operations(NULL_FOPS, {
  name: 'null_fops',
  read_iter: read_iter_null,
  write_iter: write_iter_null,
  // splice_write_null: whatever the pipe holds is consumed
  splice_write: write_iter_null,
  llseek: null_lseek,
});
