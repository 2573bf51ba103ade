// fs/fuse/control.c: the fusectl filesystem, /sys/fs/fuse/connections/N/.
import { entry, kfunc, ret } from '../exec.ts';
import type { FuseSb } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { fuse_abort_conn } from './dev.ts';

/** echo 1 > /sys/fs/fuse/connections/N/abort (fuse_conn_abort_write); the op names the mount. */
entry(
  'abort',
  kfunc<{ fs: string }>('fuse_conn_abort_write', 'fs/fuse/control.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === l.fs && s.kind === 'fuse') as FuseSb | undefined;
      if (!sb) return ret(neg('ENOENT'));
      fuse_abort_conn(c, c.deref(sb.conn, 'fuse_conn'));
      return ret(0);
    },
  }),
);
