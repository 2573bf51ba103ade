// kernel/signal.c: a signal sent to a task (kill(2)/tgkill(2) of a thread). The model's tasks
// all have a handler installed without SA_RESTART: a task sleeping interruptibly wakes and its
// syscall returns EINTR (-ERESTARTSYS turned into EINTR on the way out); a task between
// syscalls runs the handler and goes on; one running in the kernel finds the signal pending
// at its next interruptible sleep, and runs the handler on its way back to userspace.
import { entry, kfunc, ret } from './exec.ts';
import { neg } from './lib/errno.ts';

export const sys_tgkill = entry(
  'signal',
  kfunc<{ task: string }>('sys_tgkill', 'kernel/signal.c', {
    start(c, l) {
      const t = c.w.tasks.find((x) => x.name === l.task);
      if (!t || t.done) return ret(neg('ESRCH'));
      // signal_wake_up: TIF_SIGPENDING, and an interruptible sleeper wakes
      if (t.frames.length > 0) {
        t.sigpending = true;
        if (c.record) c.emit('note', `signal to ${t.name}: pending${t.blocked ? ' (it sleeps: woken if interruptibly)' : ''}`);
      } else c.emit('note', `signal to ${t.name}: between syscalls, its handler runs`);
      return ret(0);
    },
  }),
);
