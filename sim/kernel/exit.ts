// kernel/exit.c: a process's end: its mappings go, then every fd is closed as close(2)
// would (filp_close: ->flush too), then its creds (exit_creds, kernel/cred.c).
import { call, entry, goto, kfunc, ret } from './exec.ts';
import { sys_munmap } from './mm/mmap.ts';
import { sys_close } from './vfs/open.ts';
import { put_cred } from './cred.ts';

export const sys_exit = entry(
  'exit',
  kfunc<object, { r: number }>('sys_exit', 'kernel/exit.c', {
    start(c) {
      // exit_mmap: every mapping goes, as munmap would take it down
      const v = c.p.vmas[0];
      if (v) return call(sys_munmap, { vma: v.id }, 'start', 'r');
      return goto('next');
    },
    next(c) {
      const fds = Object.keys(c.p.fds).map(Number).sort((a, b) => a - b);
      if (fds.length === 0) return ret(0);
      return call(sys_close, { fd: fds[0]! }, 'next', 'r');
    },
  }),
);

/**
 * exit_creds: the process's credentials go: those of each of its threads that changed its own
 * (task->cred, commit_creds), then the ones they shared.
 */
export const sys_exit_creds = entry(
  'exit_creds',
  kfunc<object>('sys_exit_creds', 'kernel/cred.c', {
    start(c) {
      for (const t of c.w.tasks) {
        if (t.proc !== c.p.name || !t.cred) continue;
        const own = t.cred;
        delete t.cred;
        put_cred(c, own);
      }
      const cred = c.p.cred;
      c.p.cred = 0;
      put_cred(c, cred);
      return ret(0);
    },
  }),
);
