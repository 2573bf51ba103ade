// fs/inode.c: dropping an unused inode from the cache.
import { entry, kfunc, ret } from '../exec.ts';
import { neg } from '../lib/errno.ts';
import { s_type } from './fs.ts';
import { resolvePath } from './namei.ts';

/**
 * Drop one unused inode from the cache, as memory pressure or drop_caches would: a model op
 * (the kernel has only the global drop_caches). EBUSY while the inode is in use; EINVAL on
 * a filesystem whose inodes the model does not cache.
 */
export const sys_drop_inode = entry(
  'drop_inode',
  kfunc<{ path: string }>('sys_drop_inode', 'fs/inode.c', {
    start(c, l) {
      const r = resolvePath(c.w, l.path);
      const drop = r && s_type(r.sb).dropInode;
      if (!r || !drop) return ret(neg('EINVAL'));
      return ret(drop(c, r.sb, r.name));
    },
  }),
);
