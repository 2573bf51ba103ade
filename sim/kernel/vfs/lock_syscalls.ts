// The lock syscalls: flock(2) (SYSCALL_DEFINE2(flock) in fs/locks.c) and fcntl(2)'s lock
// commands (do_fcntl in fs/fcntl.c: F_GETLK, F_SETLK, F_SETLKW). They live apart from
// ./locks.ts only because they need the fd table (fdget/fdput, ./file.ts), which reaches
// ./file_table.ts, whose __fput calls locks_remove_file: one file would be an import circle.
import { call, entry, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { F_UNLCK } from '../../wire/uapi.ts';
import { f_op } from './fs.ts';
import { fdget, fdput, fget } from './file.ts';
import {
  F_GETLK,
  F_SETLK,
  F_SETLKW,
  FL_SLEEP,
  LOCK_MAND,
  LOCK_NB,
  fcntl_getlk,
  fcntl_setlk,
  flock_make_lock,
  flock_translate_cmd,
  locks_free_lock,
  locks_lock_file_wait,
} from './locks.ts';

interface FlockA {
  fd: number;
  /** LOCK_SH, LOCK_EX or LOCK_UN, with LOCK_NB */
  cmd: number;
}

interface FlockL extends FlockA {
  file: Ptr;
  fl: Ptr;
  r: number;
}

/**
 * flock(2): LOCK_MAND is ignored (0); an unknown operation is EINVAL before the fd is looked
 * at; a bad fd (or an O_PATH one: fdget) is EBADF; the whole-file lock owned by the open file
 * goes to the filesystem's ->flock, or locks_lock_file_wait. Without LOCK_NB it may sleep
 * (F_SETLKW); with it a conflict is EWOULDBLOCK (EAGAIN).
 */
export const sys_flock = entry(
  'flock',
  kfunc<FlockA, FlockL>('sys_flock', 'fs/locks.c', {
    start(c, l) {
      if (l.cmd & LOCK_MAND) return ret(0);
      const type = flock_translate_cmd(l.cmd & ~LOCK_NB);
      if (type < 0) return ret(type);
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      if (type !== F_UNLCK && !(f.read || f.write)) return fdput(c, l.file, neg('EBADF'));
      const fl = flock_make_lock(c, l.file, type);
      const canSleep = !(l.cmd & LOCK_NB);
      if (canSleep) fl.flags |= FL_SLEEP;
      l.fl = fl.ptr;
      const flock = f_op(f).flock;
      if (flock) return call(flock, { file: l.file, cmd: canSleep ? F_SETLKW : F_SETLK, fl: l.fl }, 'done', 'r');
      return call(locks_lock_file_wait, { file: l.file, fl: l.fl }, 'done', 'r');
    },
    done(c, l) {
      locks_free_lock(c, l.fl); // the kernel's is on the stack: it must be unlinked by now
      return fdput(c, l.file, l.r);
    },
  }),
);

interface FcntlA {
  fd: number;
  cmd: number;
  /** struct flock: l_type, l_start, l_len (l_whence SEEK_SET) */
  type: number;
  start: number;
  len: number;
}

interface FcntlL extends FcntlA {
  file: Ptr;
  r: number;
}

/**
 * fcntl(2) with a lock command: the fd through fdget_raw (an O_PATH fd is found, then refused:
 * check_fcntl_cmd allows no lock command on it, EBADF), then fcntl_getlk or fcntl_setlk.
 */
export const sys_fcntl = entry(
  'fcntl',
  kfunc<FcntlA, FcntlL>('sys_fcntl', 'fs/fcntl.c', {
    start(c, l) {
      const p = fget(c, l.fd, true);
      if (p === 0) return ret(neg('EBADF'));
      l.file = p;
      if (c.deref(p, 'file').opath) return fdput(c, p, neg('EBADF'));
      const flock = { type: l.type, start: l.start, len: l.len };
      switch (l.cmd) {
        case F_GETLK:
          return call(fcntl_getlk, { file: p, ...flock }, 'done', 'r');
        case F_SETLK:
        case F_SETLKW:
          return call(fcntl_setlk, { fd: l.fd, file: p, cmd: l.cmd, ...flock }, 'done', 'r');
        default:
          return fdput(c, p, neg('EINVAL'));
      }
    },
    done(c, l) {
      return fdput(c, l.file, l.r);
    },
  }),
);
