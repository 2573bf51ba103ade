// Building a world from a scenario: filesystems, processes, the servers' and kernel's tasks.
import './index.ts';
import { block, kfunc, ret, type Op } from './exec.ts';
import type { Ctx } from './ctx.ts';
import type { CredObj, FileObj, FuseConnObj, OverlaySb, Proc, Ptr, SuperBlock, Task, World } from './state.ts';
import type { Scenario, ScenarioOp } from '../scenario/schema.ts';
import { FUSE_DEV_IOC_BACKING_CLOSE, FUSE_DEV_IOC_BACKING_OPEN } from '../wire/uapi.ts';
import { idr_init } from './lib/idr.ts';
import { fuse_send_init } from './fuse/inode.ts';
import { LIFECYCLE_INITIAL } from '../server/lifecycle.ts';
import { FILESYSTEM_MAX_STACK_DEPTH, overlayDepth } from './vfs/super.ts';
import { ServerPolicySchema } from '../server/policy.ts';

export const KERNEL_PROC = 'kernel';
export const serverProc = (fs: string) => `server:${fs}`;
export const serverTask = (fs: string) => `fuse-daemon:${fs}`;
export const RCU_TASK = 'rcu_gp';
/** the superblock of /dev/fuse */
export const DEVTMPFS = 'devtmpfs';

function newTask(name: string, proc: string, kind: Task['kind'], ops: Op[]): Task {
  return { name, kind, ops, next: 0, frames: [], blocked: null, done: ops.length === 0, proc, results: [], refs: [] };
}

/** A scenario op as the step machine runs it. */
export function toOp(o: ScenarioOp): Op {
  const { op, expect: _e, save, note: _n, ...rest } = o as ScenarioOp & Record<string, unknown>;
  const base = (sys: string, args: Record<string, unknown>): Op => (save ? { sys, args, save } : { sys, args });
  switch (op) {
    case 'open':
      return base('open', { path: rest['path'], write: rest['mode'] === 'rw', opath: rest['mode'] === 'path' });
    case 'backing_open':
      return base('fuse_ioctl', { cmd: FUSE_DEV_IOC_BACKING_OPEN, fd: rest['fd'], flags: rest['flags'], padding: rest['padding'] });
    case 'backing_close':
      return base('fuse_ioctl', { cmd: FUSE_DEV_IOC_BACKING_CLOSE, id: rest['id'] });
    case 'ioctl':
      return base('fuse_ioctl', { cmd: rest['cmd'] });
    default:
      return base(op, rest);
  }
}

/** Mount a FUSE filesystem: a connection, the server's /dev/fuse file, and INIT on its way. */
kfunc<{ fs: string }>('sys_mount_fuse', 'fs/fuse/inode.c', {
  start(c, l) {
    const sb = c.w.sbs.find((s) => s.name === l.fs);
    if (!sb || sb.kind !== 'fuse') throw new Error(`no fuse fs ${l.fs}`);
    const srv = c.w.procs[serverProc(l.fs)]!;
    // /dev/fuse lives on devtmpfs (s_stack_depth 0), not on the mount it serves
    const devtmpfs = c.w.sbs.length - 1; // buildWorld adds devtmpfs last
    if (c.w.sbs[devtmpfs]!.name !== DEVTMPFS) throw new Error('devtmpfs is not the last superblock (model bug)');
    const dev = c.alloc<FileObj>({
      type: 'file', count: 1, sb: devtmpfs, name: '', write: true, opath: false, hasIter: true,
      fuseFile: 0, backing: false, devConn: 0, cred: srv.cred, realSb: devtmpfs,
    });
    (c.w.heap[srv.cred] as CredObj).usage++;
    const fc = c.alloc<FuseConnObj>({
      type: 'fuse_conn', name: l.fs, sb: sb.id, count: 2, connected: true, initialized: false, connError: false,
      passthrough: false, maxStackDepth: 0, writebackCache: false, directIoAllowMmap: false, noOpen: false, noFlush: false, minor: 0,
      idr: idr_init(), lock: { owner: null }, pending: [], processing: [], answered: [], nextUnique: 2, devFile: dev.ptr,
      idHighWater: 0,
    });
    dev.devConn = fc.ptr; // fuse_fill_super attaches the fuse_dev to the opened /dev/fuse file
    sb.conn = fc.ptr;
    sb.mounted = true;
    const fd = srv.nextFd++;
    srv.fds[fd] = dev.ptr;
    srv.vars['devfd'] = fd;
    const key = -(sb.id + 1);
    const st = c.w.servers[key]!;
    delete c.w.servers[key];
    st.conn = fc.ptr;
    c.w.servers[fc.ptr] = st;
    c.emit('note', `mount fuse /${l.fs}: fuse_conn#${fc.ptr}, server /dev/fuse is fd ${fd}`);
    fuse_send_init(c, fc);
    return ret(0);
  },
});

/**
 * A FUSE layer whose INIT is not answered yet: ovl_fill_super statfs's each layer
 * (ovl_check_namelen -> vfs_statfs -> fuse_statfs), and that request waits in fuse_get_req
 * until fc->initialized, i.e. until process_init_reply has set the layer's s_stack_depth.
 */
export function uninitializedFuseLayer(c: Ctx, sb: OverlaySb): Ptr {
  for (const id of sb.layers) {
    const lsb = c.w.sbs[id]!;
    if (lsb.kind !== 'fuse' || lsb.conn === 0) continue;
    const fc = c.deref(lsb.conn, 'fuse_conn');
    if (!fc.initialized) return fc.ptr;
  }
  return 0;
}

/** Mount an overlay at setup: a depth beyond the limit is a mistake in the scenario. */
kfunc<{ fs: string }>('sys_mount_overlay_setup', 'fs/overlayfs/super.c', {
  start(c, l) {
    const sb = c.w.sbs.find((s) => s.name === l.fs) as OverlaySb;
    const waitFor = uninitializedFuseLayer(c, sb);
    if (waitFor) return block({ on: 'initialized', conn: waitFor }, 'start');
    const depth = overlayDepth(c.w, sb);
    if (depth > FILESYSTEM_MAX_STACK_DEPTH) return ret(-22);
    sb.s_stack_depth = depth;
    sb.mounted = true;
    c.emit('note', `mount overlay /${l.fs}: s_stack_depth ${depth}`);
    return ret(0);
  },
});

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
      const files: Record<string, { kind: 'reg' | 'dir' | 'fifo'; data: string; mtime: number; atime: number }> = {};
      for (const [n, v] of Object.entries(f.files)) {
        const kind = typeof v === 'string' ? 'reg' : 'dir' in v ? 'dir' : 'fifo';
        files[n] = { kind, data: typeof v === 'string' ? v : '', mtime: 0, atime: 0 };
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
      setupOps.push({ sys: 'mount_fuse', args: { fs: f.name } });
      servers.push(newTask(serverTask(f.name), sp.name, 'server', [{ sys: 'serve', args: {} }]));
      // keyed by the connection pointer once mounted; until then by a placeholder
      w.servers[-(id + 1)] = {
        fs: f.name, conn: 0, proc: sp.name, lifecycle: LIFECYCLE_INITIAL, policy,
        inodes: {}, nextNodeid: 2, fhs: {}, nextFh: 1, seen: [], backingOpens: [], kernelInit: '',
      };
    }
    w.sbs.push(sb);
  }
  // devtmpfs, where /dev/fuse is: not reachable by path in scenarios (never "mounted" there)
  w.sbs.push({ id: w.sbs.length, name: DEVTMPFS, kind: 'plain', s_stack_depth: 0, mounted: false, readonly: false, files: {} });
  w.tasks.push(newTask('setup', KERNEL_PROC, 'kthread', setupOps));
  w.tasks.push(...servers);
  const rcu = newTask(RCU_TASK, KERNEL_PROC, 'kthread', [{ sys: 'rcu_gp_kthread', args: {} }]);
  rcu.frames.push({ fn: 'sys_rcu_gp_kthread', pc: 'start', l: {}, into: null, ret: null });
  rcu.blocked = { on: 'rcu' }; // asleep until there is grace-period work
  w.tasks.push(rcu);
  const userTasks = s.tasks.map((t) => {
    const pname = t.proc ?? t.name;
    if (!w.procs[pname]) proc(pname, cred(false, 1000));
    return newTask(t.name, pname, t.proc?.startsWith('server:') ? 'server' : 'user', t.ops.map(toOp));
  });
  return { world: w, userTasks };
}
