// fs/drop_caches.c: echo 2 > /proc/sys/vm/drop_caches.
import { entry, kfunc, ret } from '../exec.ts';
import { s_type } from './fs.ts';

/**
 * drop_caches_sysctl_handler with 2: drop_slab, which shrinks every superblock's dcache and
 * then its icache (super_cache_scan: prune_dcache_sb, prune_icache_sb): every unused dentry
 * and inode goes, a FUSE inode with its FORGET. Filesystems whose dentries are their storage
 * (tmpfs) keep theirs. Returns 0 (the write's result).
 */
export const sys_drop_caches = entry(
  'drop_caches',
  kfunc<object>('drop_caches_sysctl_handler', 'fs/drop_caches.c', {
    start(c) {
      let n = 0;
      for (const sb of c.w.sbs) if (sb.mounted) n += s_type(sb).dropCaches?.(c, sb) ?? 0;
      if (c.record) c.emit('note', `drop_caches: ${n} unused inode(s) evicted`);
      return ret(0);
    },
  }),
);
