// fs/namespace.c: mount(2) of a filesystem declared "mounted at run time", and umount(2).
import { entry, kfunc, ret, tail } from '../exec.ts';
import type { SuperBlock } from '../state.ts';
import type { Ctx } from '../ctx.ts';
import { neg } from '../lib/errno.ts';
import { s_type } from './fs.ts';

/** mount(2): the filesystem's own mount (overlayfs: its fill_super with the stacking limit). */
export const sys_mount = entry(
  'mount',
  kfunc<{ fs: string }>('sys_mount', 'fs/namespace.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === l.fs);
      if (!sb || sb.mounted) return ret(neg('EINVAL'));
      const mount = s_type(sb).mount;
      if (!mount) return ret(neg('EINVAL'));
      return tail(mount, { sb: sb.id });
    },
  }),
);

/** The default kill_sb: a mount with a file still open on it is busy. */
function generic_umount(c: Ctx, sb: SuperBlock): number {
  if (Object.values(c.w.heap).some((o) => o.type === 'file' && o.life === 'live' && o.sb === sb.id)) return neg('EBUSY');
  sb.mounted = false;
  return 0;
}

/** umount(2): busy while another mount stacks on it; then the filesystem's own teardown. */
export const sys_umount = entry(
  'umount',
  kfunc<{ fs: string }>('sys_umount', 'fs/namespace.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === l.fs && s.mounted);
      if (!sb) return ret(neg('EINVAL'));
      if (c.w.sbs.some((s) => s.mounted && s_type(s).lowers?.(s).includes(sb.id))) return ret(neg('EBUSY'));
      const umount = s_type(sb).umount ?? generic_umount;
      return ret(umount(c, sb));
    },
  }),
);
