// Building a world from a scenario: filesystems, processes, the servers' and the kernel's
// tasks, and each op of a task's program as the step machine runs it.
import '../kernel/index.ts';
import '../server/server.ts';
import '../server/external.ts';
import './ops.ts';
import { entryOf, type Op } from '../kernel/exec.ts';
import type { PlainInode, Proc, SuperBlock, Task, TaskRole, World } from '../kernel/state.ts';
import { SEEK_NAMES, type Scenario, type ScenarioOp } from './schema.ts';
import { FUSE_DEV_IOC_BACKING_CLOSE, FUSE_DEV_IOC_BACKING_OPEN, FUSE_DEV_IOC_CLONE } from '../wire/uapi.ts';
import { DEVTMPFS } from '../kernel/mm/shmem.ts';
import { PIPEFS } from '../kernel/vfs/pipe.ts';
import { SOCKFS } from '../kernel/net/socket.ts';
import { O_DIRECTORY, O_LARGEFILE, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR, O_WRONLY, OPEN_FLAG_BITS, type OpenFlagName } from '../kernel/vfs/fcntl.ts';
import { F_GETLK, F_SETLK, F_SETLKW, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from '../kernel/vfs/locks.ts';
import { F_RDLCK, F_UNLCK, F_WRLCK, FALLOC_FL } from '../wire/uapi.ts';
import { LIFECYCLE_INITIAL } from '../server/lifecycle.ts';
import { ServerPolicySchema } from '../server/policy.ts';
import { newServerState } from '../server/core.ts';

export const KERNEL_PROC = 'kernel';
export const serverProc = (fs: string) => `server:${fs}`;
export const serverTask = (fs: string) => `fuse-daemon:${fs}`;
export const RCU_TASK = 'rcu_gp';
export const SETUP_TASK = 'setup';

export function newTask(name: string, proc: string, role: TaskRole, ops: Op[]): Task {
  return { name, role, ops, next: 0, frames: [], blocked: null, done: ops.length === 0, proc, results: [], refs: [] };
}

/** A scenario op as the step machine runs it: the entry point it names and its arguments. */
export function toOp(o: ScenarioOp): Op {
  const { op, expect: _e, save, note: _n, ...rest } = o as ScenarioOp & Record<string, unknown>;
  const base = (sys: string, args: Record<string, unknown>): Op => (save ? { sys, args, save } : { sys, args });
  switch (op) {
    case 'open':
      return base('open', { path: rest['path'], flags: openFlags(rest['mode'] as string, rest['flags'] as OpenFlagName[]), ...(rest['perm'] === undefined ? {} : { perm: rest['perm'] }) });
    case 'mknod':
      return base('mknod', { path: rest['path'], mode: MKNOD_TYPE[rest['type'] as keyof typeof MKNOD_TYPE] | (rest['perm'] as number), rdev: 0 });
    case 'mkdir':
      return base('mkdir', { path: rest['path'], mode: rest['perm'] });
    case 'rename':
      return base('rename', { from: rest['path'], to: rest['to'], flags: renameFlags(rest['flags'] as string[]) });
    // glibc's opendir: O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC (the file keeps no O_CLOEXEC)
    case 'opendir':
      return base('open', { path: rest['path'], flags: O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_LARGEFILE });
    // the server's own ioctls go to its /dev/fuse fd
    case 'backing_open':
      return base('ioctl', { dev: rest['dev'] ?? '$devfd', cmd: FUSE_DEV_IOC_BACKING_OPEN, fd: rest['fd'], flags: rest['flags'], padding: rest['padding'] });
    case 'backing_close':
      return base('ioctl', { dev: rest['dev'] ?? '$devfd', cmd: FUSE_DEV_IOC_BACKING_CLOSE, id: rest['id'] });
    case 'mmap':
      return base('mmap', { fd: rest['fd'], shared: rest['shared'], write: rest['prot'] === 'rw', len: rest['len'] });
    case 'ioctl':
      return base('ioctl', { dev: rest['dev'] ?? '$devfd', cmd: rest['cmd'] });
    // FUSE_DEV_IOC_CLONE: its argument (a u32) is the old fd
    case 'clone':
      return base('ioctl', { dev: rest['dev'] ?? '$devfd', cmd: FUSE_DEV_IOC_CLONE, fd: rest['from'] });
    case 'flock':
      return base('flock', { fd: rest['fd'], cmd: flockCmd(rest['type'] as string, rest['nb'] as boolean) });
    case 'fallocate':
      return base('fallocate', { fd: rest['fd'], mode: (rest['mode'] as (keyof typeof FALLOC_FL)[]).reduce((m, n) => m | FALLOC_FL[n], 0), offset: rest['offset'], len: rest['len'] });
    case 'lseek':
      return base('lseek', { fd: rest['fd'], offset: rest['offset'], whence: typeof rest['whence'] === 'number' ? rest['whence'] : SEEK_NAMES.indexOf(rest['whence'] as (typeof SEEK_NAMES)[number]) });
    case 'lock':
      return base('fcntl', { fd: rest['fd'], cmd: LOCK_CMD[rest['cmd'] as keyof typeof LOCK_CMD], type: LOCK_TYPE[rest['type'] as keyof typeof LOCK_TYPE], start: rest['start'], len: rest['len'] });
    default:
      return base(op, rest);
  }
}

/** mknod(2)'s file types, by the scenario's names */
export const MKNOD_TYPE = { reg: 0o100000, fifo: 0o010000, sock: 0o140000 } as const;

/** renameat2(2)'s flags: RENAME_NOREPLACE, RENAME_EXCHANGE */
export function renameFlags(names: readonly string[] = []): number {
  return (names.includes('noreplace') ? 1 : 0) | (names.includes('exchange') ? 2 : 0);
}

/** fcntl(2)'s lock commands and struct flock's l_type, by the scenario's names. */
export const LOCK_CMD = { setlk: F_SETLK, setlkw: F_SETLKW, getlk: F_GETLK } as const;
export const LOCK_TYPE = { rd: F_RDLCK, wr: F_WRLCK, un: F_UNLCK } as const;

/** flock(2)'s operation: LOCK_SH, LOCK_EX or LOCK_UN, with LOCK_NB. */
export function flockCmd(type: string, nb = false): number {
  return (type === 'sh' ? LOCK_SH : type === 'ex' ? LOCK_EX : LOCK_UN) | (nb ? LOCK_NB : 0);
}

/**
 * An open's mode and flags as open(2) gets them; O_LARGEFILE as the kernel adds it on 64-bit
 * (force_o_largefile in build_open_flags), except to O_PATH, which keeps only O_PATH's flags.
 */
export function openFlags(mode: string, names: readonly OpenFlagName[] = []): number {
  // build_open_flags: O_PATH keeps only O_PATH_FLAGS (O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC)
  if (mode === 'path') return O_PATH | (names.includes('O_NOFOLLOW') ? O_NOFOLLOW : 0);
  let flags = (mode === 'rw' ? O_RDWR : mode === 'w' ? O_WRONLY : O_RDONLY) | O_LARGEFILE;
  for (const n of names) flags |= OPEN_FLAG_BITS[n];
  return flags;
}

export interface Built {
  world: World;
  /** user tasks, added to the world once setup is done */
  userTasks: Task[];
}

export function buildWorld(s: Scenario): Built {
  const w: World = {
    profile: s.kernel,
    mutants: [...s.mutants],
    step: 0,
    clock: 0,
    jiffies: 0,
    heap: {},
    nextPtr: 1,
    rcu: { completed: 0, current: null, readers: {}, callbacks: [] },
    sbs: [],
    procs: {},
    tasks: [],
    servers: {},
    violations: [],
  };
  const cred = (capSysAdmin: boolean, uid: number) => {
    const p = w.nextPtr++;
    w.heap[p] = { type: 'cred', ptr: p, life: 'live', usage: 1, uid, capSysAdmin };
    return p;
  };
  const proc = (name: string, c: number): Proc => {
    const p: Proc = { name, cred: c, fds: {}, nextFd: 3, vmas: [], nextVma: 1, vars: {} };
    w.procs[name] = p;
    return p;
  };
  proc(KERNEL_PROC, cred(true, 0));
  const setupOps: Op[] = [];
  const servers: Task[] = [];
  for (const f of s.filesystems) {
    const id = w.sbs.length;
    let sb: SuperBlock;
    if (f.type === 'plain') {
      const files: Record<string, PlainInode> = {};
      for (const [n, v] of Object.entries(f.files)) {
        const kind = typeof v === 'string' ? 'reg' : 'dir' in v ? 'dir' : 'fifo' in v ? 'fifo' : 'chr' in v ? 'chr' : 'lnk';
        files[n] = { kind, data: typeof v === 'string' ? v : '', mtime: 0, atime: 0 };
        if (typeof v === 'object' && 'symlink' in v) files[n]!.target = v.symlink;
      }
      sb = { id, name: f.name, kind: 'plain', s_stack_depth: 0, mounted: true, readonly: f.readonly, files };
    } else if (f.type === 'overlay') {
      const layers = f.layers.map((n) => w.sbs.find((x) => x.name === n)!.id);
      sb = { id, name: f.name, kind: 'overlay', s_stack_depth: 0, mounted: false, layers, dentries: {} };
      if (f.mount === 'setup') setupOps.push({ sys: 'mount_overlay_setup', args: { fs: f.name } });
    } else {
      sb = { id, name: f.name, kind: 'fuse', s_stack_depth: 0, mounted: false, conn: 0, inodes: {} };
      // the policy is copied: a server writes to its inline files
      const policy = ServerPolicySchema.parse(structuredClone(f.server));
      const sp = proc(serverProc(f.name), cred(policy.cap_sys_admin, 0));
      setupOps.push({ sys: 'mount_fuse', args: { fs: f.name, server: sp.name } });
      servers.push(newTask(serverTask(f.name), sp.name, 'daemon', [{ sys: policy.external ? 'serve_external' : 'serve', args: {} }]));
      w.servers[f.name] = newServerState(f.name, sp.name, policy, LIFECYCLE_INITIAL);
    }
    w.sbs.push(sb);
  }
  // devtmpfs, where /dev/fuse is, and the kernel's internal pipefs and sockfs: not reachable
  // by path in scenarios (never "mounted" there)
  for (const n of [DEVTMPFS, PIPEFS, SOCKFS]) w.sbs.push({ id: w.sbs.length, name: n, kind: 'plain', s_stack_depth: 0, mounted: false, readonly: false, files: {} });
  // forked processes: made by copy_process at setup, once the mounts are up
  const forks = new Map<string, string>();
  for (const t of s.tasks) if (t.fork !== undefined) forks.set(t.proc ?? t.name, t.fork);
  for (const [child, parent] of forks) setupOps.push({ sys: 'fork', args: { parent, child } });
  w.tasks.push(newTask(SETUP_TASK, KERNEL_PROC, 'setup', setupOps));
  w.tasks.push(...servers);
  const rcu = newTask(RCU_TASK, KERNEL_PROC, 'daemon', [{ sys: 'rcu_gp_kthread', args: {} }]);
  rcu.frames.push({ fn: entryOf('rcu_gp_kthread')!.name, pc: 'start', l: {}, into: null, ret: null });
  rcu.blocked = { on: 'rcu' }; // asleep until there is grace-period work
  w.tasks.push(rcu);
  const userTasks = s.tasks.map((t) => {
    const pname = t.proc ?? t.name;
    if (!w.procs[pname] && !forks.has(pname)) proc(pname, cred(false, 1000));
    return newTask(t.name, pname, t.proc?.startsWith('server:') || forks.get(pname)?.startsWith('server:') ? 'server' : 'user', t.ops.map(toOp));
  });
  return { world: w, userTasks };
}
