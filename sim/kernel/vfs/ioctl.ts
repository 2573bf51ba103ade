// fs/ioctl.c: ioctl(2), through the file's ->unlocked_ioctl (none: ENOTTY).
import { call, entry, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op } from './fs.ts';
import { fdget, fdput } from './file.ts';

interface IoctlSysA {
  /** the fd the ioctl is made on (a server's /dev/fuse: "$devfd") */
  dev: number;
  cmd: number;
  fd?: number;
  flags?: number;
  /** u64: a number, or a string for values past 2^53 */
  padding?: number | string;
  id?: number;
}

interface IoctlSysL extends IoctlSysA {
  file: Ptr;
  r: number;
}

export const sys_ioctl = entry(
  'ioctl',
  kfunc<IoctlSysA, IoctlSysL>('sys_ioctl', 'fs/ioctl.c', {
    start(c, l) {
      const f = fdget(c, l.dev);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      const ioctl = f_op(f).unlocked_ioctl;
      if (!ioctl) return fdput(c, l.file, neg('ENOTTY'));
      return call(ioctl, { file: f.ptr, cmd: l.cmd, fd: l.fd ?? 0, flags: l.flags ?? 0, padding: l.padding ?? 0, id: l.id ?? 0 }, 'done', 'r');
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);
