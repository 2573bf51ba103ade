// kernel/fork.c: fork(2) of a process, as copy_process does it without CLONE_FILES, CLONE_VM
// or CLONE_THREAD: the child gets a copy of the parent's fd table (dup_fd: the same open
// files, each with one more reference), of its address space (dup_mmap: each mapping holds
// its file once more), of its creds (copy_creds: a new cred object with the same contents,
// which the child may then change alone) and of its memory (the program's saved values).
import type { CredObj, Proc } from './state.ts';
import { entry, kfunc, ret } from './exec.ts';
import { get_file } from './vfs/file_table.ts';

/**
 * The harness forks process `child` from `parent` (a scenario's "fork"), at setup once the
 * mounts are up: a FUSE server's child holds the server's /dev/fuse fd ($devfd) as its own.
 */
export const copy_process = entry(
  'fork',
  kfunc<{ parent: string; child: string }>('copy_process', 'kernel/fork.c', {
    start(c, l) {
      const parent = c.w.procs[l.parent];
      if (!parent) throw new Error(`fork: no process ${l.parent} (model bug)`);
      const pc = c.deref(parent.cred, 'cred');
      const cred = c.alloc<CredObj>({ type: 'cred', usage: 1, uid: pc.uid, capSysAdmin: pc.capSysAdmin });
      const child: Proc = { name: l.child, cred: cred.ptr, fds: {}, nextFd: parent.nextFd, vmas: [], nextVma: parent.nextVma, vars: { ...parent.vars } };
      for (const [fd, p] of Object.entries(parent.fds)) {
        get_file(c, p);
        child.fds[Number(fd)] = p;
      }
      for (const v of parent.vmas) {
        get_file(c, v.file);
        child.vmas.push({ ...v, cow: { ...v.cow } });
      }
      c.w.procs[l.child] = child;
      if (c.record) c.emit('fd', `fork: ${l.child} from ${l.parent} (fds ${Object.keys(child.fds).join(', ') || 'none'})`);
      return ret(0);
    },
  }),
);
