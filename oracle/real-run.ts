// Running a scenario on the real kernel: plain filesystems become directories in a private
// tmpfs area (read-only ones a read-only bind mount), overlays real overlay mounts (lowerdir
// only) in that area, FUSE mounts RealFuseTransport mounts served by the shared server core.
// Every mount lives in a private mount namespace the keeper helper makes (a tmpfs on /tmp in
// it): the FUSE helpers and the fpsim-user processes join it, node reaches its files through
// /proc/<keeper pid>/root, and the host sees no mount and no directory. The helpers still
// unmount what they mounted when they end (PR_SET_PDEATHSIG, signals), and whatever way they
// all die, the kernel removes every mount with the namespace. User ops run in one fpsim-user
// child per scenario process, one op at a time, in the order the model finished them; a
// server thread's ops go through the transport.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SEEK_NAMES, type Scenario, type ScenarioOp } from '../sim/scenario/schema.ts';
import { flockCmd, LOCK_CMD, LOCK_TYPE, MKNOD_TYPE, openFlags, renameFlags } from '../sim/scenario/build.ts';
import { FALLOC_FL, FUSE_DEV_IOC_BACKING_CLOSE, FUSE_DEV_IOC_BACKING_OPEN, FUSE_DEV_IOC_CLONE } from '../sim/wire/uapi.ts';
import { ensureBuilt } from './native/build.ts';
import { RealServer } from './real-server.ts';
import { RealFuseTransport, ServerProcessOps, TransportClosedError } from './transport.ts';
import type { UserResult } from './user.ts';
import { canonicalErrno, errnoNameOf } from './compare.ts';

const MS_RDONLY = 1;
const MS_REMOUNT = 32;
const MS_BIND = 4096;

/** One op's outcome, as the model's task results carry it: a value >= 0, or the errno name. */
export interface RealResult {
  ret: number | string;
  data?: string;
}

export interface RealRun {
  /** "task#index" -> outcome */
  results: Record<string, RealResult>;
  /** each FUSE mount's requests (opcode names), in order, before teardown */
  seen: Record<string, string[]>;
  /** each FUSE mount's requests with their fields (ServerState.log), in order */
  log: Record<string, string[]>;
  /** what each server's own BACKING_OPENs returned */
  backingOpens: Record<string, number[]>;
  /** what each mount's INIT offered ("7.45 PASSTHROUGH") */
  kernelInit: Record<string, string>;
  /** "/fs/name" -> content, for every regular file of a plain filesystem, after the ops */
  files: Record<string, string>;
  /**
   * "task#index" -> whether the op was still asleep a while after it started, for each op the
   * model saw sleep in a lock wait (those start early: see RealRunOptions.order)
   */
  blocked?: Record<string, boolean>;
  /** problems of the harness or the server (a timeout, a request it could not decode) */
  errors: string[];
}

export const opKey = (task: string, index: number) => `${task}#${index}`;

/**
 * One entry of the model's op order: [task, index] runs the op to its end there; [task,
 * index, 'start'] starts an op the model saw fall asleep in a lock wait at that point, without
 * waiting for it: its [task, index] entry comes later, where the model saw it return (or never,
 * if it never did).
 */
export type OrderEntry = [string, number] | [string, number, 'start'];

/** How long a started op must stay asleep to count as blocked (ms). */
const BLOCK_PROBE_MS = 100;

/** Everything still running, so a signal handler can end it all. */
const live = new Set<{ stop(): Promise<void> }>();

/** Ends every helper and user process of runs in progress (their mounts go with them). */
export async function stopAll(): Promise<void> {
  await Promise.all([...live].map((x) => x.stop().catch(() => {})));
}

/** An fpsim-user child in "-" mode: one op per line, one JSON result per line. */
class UserProcess {
  private readonly child: ChildProcess;
  private buf = '';
  private readonly waiting: ((r: UserResult | null) => void)[] = [];
  private readonly lines: string[] = [];
  private exited = false;
  readonly stderr: string[] = [];
  /** the process's pid (what F_GETLK reports as a lock holder's l_pid) */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** nsPid: run in the mount namespace of this keeper helper */
  constructor(nsPid: number) {
    this.child = spawn(ensureBuilt('fpsim-user'), ['--ns', String(nsPid), '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const w = this.waiting.shift();
        if (w) w(JSON.parse(line) as UserResult);
        else this.lines.push(line);
      }
    });
    this.child.stderr!.setEncoding('utf8').on('data', (s: string) => this.stderr.push(s));
    this.child.stdin!.on('error', () => {});
    this.child.once('close', () => {
      this.exited = true;
      for (const w of this.waiting.splice(0)) w(null);
    });
    live.add(this);
  }

  /** Runs one op; null when it did not answer within timeoutMs (the process is then killed). */
  run(args: (string | number)[], timeoutMs: number): Promise<UserResult | null> {
    if (this.exited) return Promise.resolve(null);
    const queued = this.lines.shift();
    if (queued) return Promise.resolve(JSON.parse(queued) as UserResult);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(done);
        if (i >= 0) this.waiting.splice(i, 1);
        this.child.kill('SIGKILL');
        resolve(null);
      }, timeoutMs);
      const done = (r: UserResult | null) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.waiting.push(done);
      this.child.stdin!.write(`${args.join('\t')}\n`);
    });
  }

  /** EOF on stdin: the process exits, closing its files and mappings (FLUSH, RELEASE). */
  async stop(): Promise<void> {
    live.delete(this);
    if (this.exited) return;
    // an op still asleep (a lock wait that never ends) never reads EOF: kill it at once
    if (this.waiting.length) this.child.kill('SIGKILL');
    this.child.stdin!.end();
    const gone = new Promise<void>((r) => this.child.once('close', () => r()));
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3_000);
    await gone;
    clearTimeout(timer);
  }
}

function helperHandle(t: RealFuseTransport) {
  const h = { stop: () => t.stop() };
  live.add(h);
  return h;
}

export interface RealRunOptions {
  /** the model's op order: [task, op index], each op once, and the lock waits' starts (OrderEntry) */
  order: readonly OrderEntry[];
  /** per-op timeout (ms) */
  opTimeoutMs?: number;
  /** told each thing worth telling (for --verbose) */
  log?: (line: string) => void;
}

/**
 * Runs the scenario's ops on the real kernel in the given order. The scenario must have
 * passed realSkipReason (no schedule list, no mutants, only ops the real side can do).
 */
export async function runReal(s: Scenario, opts: RealRunOptions): Promise<RealRun> {
  const log = opts.log ?? (() => {});
  const opTimeout = opts.opTimeoutMs ?? 5_000;
  const run: RealRun = { results: {}, seen: {}, log: {}, backingOpens: {}, kernelInit: {}, files: {}, blocked: {}, errors: [] };
  const handles: { stop(): Promise<void> }[] = [];
  const users = new Map<string, UserProcess>();
  const servers = new Map<string, { t: RealFuseTransport; srv: RealServer }>();
  const roots = new Map<string, string>();
  /** the server processes' and their forked children's operations, by process */
  const procOps = new Map<string, ServerProcessOps>();
  const vars = new Map<string, Record<string, number>>();
  const varsOf = (proc: string) => {
    let v = vars.get(proc);
    if (!v) vars.set(proc, (v = {}));
    return v;
  };
  let area: RealFuseTransport | undefined;
  let areaHandle: { stop(): Promise<void> } | undefined;
  try {
    area = await RealFuseTransport.start({ keeper: true, newns: true });
    areaHandle = helperHandle(area);
    const areaDir = area.mountpoint;
    const nsPid = area.helperPid;
    /** a path of the run's namespace, as node reaches it */
    const host = (p: string) => area!.hostPath(p);
    const mount = async (fstype: string, source: string, target: string, flags = 0, data = ''): Promise<number> =>
      area!.mount(fstype, source, target, flags, data);

    /** Where a plain filesystem's files really are (a read-only one's writable source). */
    const plainDir = (name: string) => {
      const f = s.filesystems.find((x) => x.name === name);
      return f?.type === 'plain' && f.readonly ? join(areaDir, `.src-${name}`) : join(areaDir, name);
    };
    const fsOf = (name: string) => s.filesystems.find((x) => x.name === name);
    const split = (path: string): [string, string] | null => {
      const m = /^\/([^/]+)(?:\/(.*))?$/.exec(path);
      return m ? [m[1]!, m[2] ?? ''] : null;
    };
    /** A scenario path on the real side (an unknown mount: a path that does not exist). */
    const realPath = (path: string): string => {
      const p = split(path);
      const root = p && roots.get(p[0]);
      if (!p || !root) return join(areaDir, '.nonexistent', path);
      return p[1] ? join(root, p[1]) : root;
    };
    /**
     * The plain file behind a path as the model's server sees it (realInode): a plain file,
     * or the first plain layer of an overlay that has it; a FUSE file reads as empty. The
     * server never reads through a FUSE mount here: that could wait on this very process.
     */
    const plainFile = (path: string): { file: string } | 'fuse' | null => {
      const p = split(path);
      if (!p || !roots.has(p[0]) || !p[1]) return null;
      const f = fsOf(p[0]);
      if (!f) return null;
      if (f.type === 'fuse') return 'fuse';
      const layers = f.type === 'overlay' ? f.layers : [f.name];
      for (const l of layers) {
        const lf = fsOf(l);
        if (lf?.type !== 'plain') continue;
        const file = host(join(plainDir(l), p[1]));
        try {
          statSync(file);
          return { file };
        } catch {
          // not in this layer
        }
      }
      return null;
    };
    const serverEnv = {
      resolve: realPath,
      backing: (path: string) => {
        const r = plainFile(path);
        if (r === 'fuse') return { data: '', mtime: 0 };
        if (!r) return null;
        const st = statSync(r.file);
        // never read a FIFO: that would wait for a writer
        if (!st.isFile()) return { data: '', mtime: Math.floor(st.mtimeMs / 1000) };
        return { data: readFileSync(r.file, 'latin1'), mtime: Math.floor(st.mtimeMs / 1000) };
      },
      truncateBacking: (path: string, size: number) => {
        const r = plainFile(path);
        if (r && r !== 'fuse') truncateSync(r.file, size);
      },
      writeBacking: (path: string, offset: number, data: string) => {
        const r = plainFile(path);
        if (!r || r === 'fuse') return;
        const fd = openSync(r.file, 'r+');
        try {
          writeSync(fd, Buffer.from(data, 'latin1'), 0, data.length, offset);
        } finally {
          closeSync(fd);
        }
      },
    };

    const mountOverlay = async (name: string): Promise<number> => {
      const f = fsOf(name);
      if (f?.type !== 'overlay') return -22;
      const lowers = f.layers.map((l) => roots.get(l));
      if (lowers.some((x) => x === undefined)) return -2;
      // overlayfs wants two lower layers when there is no upper one: an empty bottom layer
      // changes nothing else (its s_stack_depth is 0)
      const empty = join(areaDir, `.empty-${name}`);
      mkdirSync(host(empty), { recursive: true });
      const lowerdir = [...(lowers as string[]), ...(lowers.length < 2 ? [empty] : [])].join(':');
      const target = join(areaDir, name);
      const r = await mount('overlay', 'overlay', target, 0, `lowerdir=${lowerdir}`);
      if (r === 0) roots.set(name, target);
      return r;
    };

    // ---- setup: the filesystems, in order
    const links: [string, string][] = [];
    for (const f of s.filesystems) {
      if (f.type === 'plain') {
        const dir = plainDir(f.name);
        mkdirSync(host(dir), { recursive: true });
        for (const [n, v] of Object.entries(f.files)) {
          if (typeof v === 'string') writeFileSync(host(join(dir, n)), v);
          else if ('dir' in v) mkdirSync(host(join(dir, n)));
          else if ('chr' in v) mknodNull(host(join(dir, n)));
          // made once every filesystem is there: the link points at its target's real path
          else if ('symlink' in v) links.push([host(join(dir, n)), v.symlink]);
          else mkfifo(host(join(dir, n)));
        }
        const target = join(areaDir, f.name);
        if (f.readonly) {
          let r = await mount('', dir, target, MS_BIND);
          if (r === 0) r = await mount('', '', target, MS_REMOUNT | MS_BIND | MS_RDONLY);
          if (r !== 0) throw new Error(`read-only bind mount of /${f.name}: ${errnoNameOf(r)}`);
        }
        roots.set(f.name, target);
      } else if (f.type === 'fuse') {
        const t = await RealFuseTransport.start({ ns: nsPid });
        const h = helperHandle(t);
        handles.push(h);
        if (!f.server.cap_sys_admin) {
          const r = await t.setCapSysAdmin(false);
          if (r !== 0) throw new Error(`dropping CAP_SYS_ADMIN for /${f.name}: ${errnoNameOf(r)}`);
        }
        const srv = new RealServer(t, f.server, {
          fs: f.name,
          vars: varsOf(`server:${f.name}`),
          env: serverEnv,
          onNote: (n) => log(n),
        });
        servers.set(f.name, { t, srv });
        procOps.set(`server:${f.name}`, t.ops());
        roots.set(f.name, t.mountpoint);
        // the server's own /dev/fuse fd: what its ops name $devfd
        const devfd = await t.ops().devFd();
        if (devfd < 0) throw new Error(`/${f.name}: the helper has no /dev/fuse fd (${errnoNameOf(devfd)})`);
        varsOf(`server:${f.name}`)['devfd'] = devfd;
        let timer: NodeJS.Timeout | undefined;
        const ok = await Promise.race([srv.init.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5_000)))]);
        clearTimeout(timer);
        if (!ok) throw new Error(`/${f.name}: the kernel sent no INIT within 5 s`);
        log(`mounted /${f.name} at ${t.mountpoint}${f.server.init.hold ? ' (INIT held)' : ''}`);
      } else if (f.mount === 'setup') {
        const r = await mountOverlay(f.name);
        if (r !== 0) throw new Error(`overlay mount of /${f.name}: ${errnoNameOf(r)}`);
      }
    }

    for (const [at, target] of links) symlinkSync(realPath(target), at);

    // ---- forked processes: children of their server's helper, forked once the mounts are up
    const forks = new Map<string, string>();
    for (const t of s.tasks) if (t.fork !== undefined) forks.set(t.proc ?? t.name, t.fork);
    for (const [child, parent] of forks) {
      const fs = parent.startsWith('server:') ? servers.get(parent.slice(7)) : undefined;
      if (!fs) throw new Error(`fork of ${parent}: only a FUSE server's process can be forked on the real side`);
      procOps.set(child, await fs.t.fork());
      Object.assign(varsOf(child), varsOf(parent));
      log(`forked ${child} from ${parent}`);
    }

    /**
     * Until every server has been quiet for a while. A close(2) or munmap(2) that drops the
     * last reference queues RELEASE in the background (it is on its way when the syscall
     * returns), so those wait longer than ops whose requests were answered before they returned.
     */
    const settle = async (quietMs = 15) => {
      await Promise.all([...servers.values()].map((x) => x.srv.idle(quietMs)));
    };
    await settle();

    // ---- the ops, in the model's order
    const tasks = new Map(s.tasks.map((t) => [t.name, t]));
    /** what F_GETLK's l_pid names: each user process by its pid */
    const procOfPid = (pid: number): string | null => {
      for (const [proc, u] of users) if (u.pid === pid) return proc;
      return null;
    };
    /** ops started early (lock waits), until their turn to return comes */
    const started = new Map<string, Promise<RealResult>>();
    let fusectl: string | undefined;
    for (const entry of opts.order) {
      const [taskName, index] = entry;
      const task = tasks.get(taskName)!;
      const op = task.ops[index]!;
      if (op.op === 'assert' || op.op === 'wait') continue;
      const proc = task.proc ?? task.name;
      const pv = varsOf(proc);
      const arg = (v: number | string): number => (typeof v === 'number' ? v : (pv[v.slice(1)] ?? -1));
      const key = opKey(taskName, index);
      if (entry[2] === 'start') {
        // the model saw this op fall asleep here: start it, and see that the kernel sleeps too
        let u = users.get(proc);
        if (!u) users.set(proc, (u = new UserProcess(nsPid)));
        const p = userOp(u, op, arg, realPath, 60_000, procOfPid);
        started.set(key, p);
        let timer: NodeJS.Timeout | undefined;
        const returned = await Promise.race([p.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), BLOCK_PROBE_MS)))]);
        clearTimeout(timer);
        (run.blocked ??= {})[key] = !returned;
        log(`${taskName}[${index}] ${op.op} started: ${returned ? 'returned at once' : 'asleep'}`);
        await settle(15);
        continue;
      }
      let res: RealResult;
      const serverFs = proc.startsWith('server:') ? proc.slice(7) : null;
      const early = started.get(key);
      if (early) {
        started.delete(key);
        res = await early;
      } else if (op.op === 'abort' || op.op === 'mount') {
        if (op.op === 'mount') res = fromErr(await mountOverlay(op.fs));
        else {
          const t = servers.get(op.fs)?.t;
          if (!t) res = { ret: 'ENOENT' };
          else {
            if (!fusectl) {
              fusectl = join(areaDir, '.fusectl');
              const r = await mount('fusectl', 'fusectl', fusectl);
              if (r !== 0) throw new Error(`mounting fusectl: ${errnoNameOf(r)}`);
            }
            res = abortConnection(host(fusectl), t.mountpoint, nsPid);
          }
        }
      } else if (procOps.has(proc)) {
        // a server thread, or a thread of a process forked from a server: through its helper
        const fs = serverFs ?? forks.get(proc)!.slice(7);
        res = await serverOp(servers.get(fs)!, procOps.get(proc)!, op, arg, pv, realPath);
      } else {
        let u = users.get(proc);
        if (!u) users.set(proc, (u = new UserProcess(nsPid)));
        res = await userOp(u, op, arg, realPath, opTimeout, procOfPid);
      }
      // the real value (an fd, a mapping, a backing id) is what later ops of this process use
      if ('save' in op && op.save && typeof res.ret === 'number' && res.ret >= 0) pv[op.save] = res.ret;
      run.results[opKey(taskName, index)] = { ret: res.ret, ...(res.data !== undefined ? { data: res.data } : {}) };
      log(`${taskName}[${index}] ${op.op} -> ${res.ret}${res.data !== undefined ? ` ${JSON.stringify(res.data)}` : ''}`);
      await settle(op.op === 'close' || op.op === 'munmap' ? 60 : 15);
    }

    // ops started that the model never saw return: they must still be asleep (no result)
    for (const [key, p] of started) {
      let timer: NodeJS.Timeout | undefined;
      const r = await Promise.race([p, new Promise<null>((res) => (timer = setTimeout(() => res(null), BLOCK_PROBE_MS)))]);
      clearTimeout(timer);
      if (r) run.results[key] = r;
    }

    // ---- what each side can observe now, before teardown
    await settle(100);
    for (const [name, { srv }] of servers) {
      run.seen[name] = [...srv.state.seen];
      run.log[name] = [...srv.state.log];
      run.backingOpens[name] = [...srv.state.backingOpens];
      run.kernelInit[name] = srv.state.kernelInit;
      for (const e of srv.errors) run.errors.push(`server /${name}: ${e}`);
    }
    for (const f of s.filesystems) {
      if (f.type !== 'plain') continue;
      for (const [n, v] of Object.entries(f.files)) {
        if (typeof v !== 'string') continue;
        try {
          run.files[`/${f.name}/${n}`] = readFileSync(host(join(plainDir(f.name), n)), 'latin1');
        } catch (e) {
          run.files[`/${f.name}/${n}`] = `(${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`;
        }
      }
    }
    for (const [proc, u] of users) if (u.stderr.length) run.errors.push(`${proc}: ${u.stderr.join('').trim()}`);
    return run;
  } finally {
    // processes first (their files close while the servers still answer), then the FUSE
    // mounts topmost first, then the area with the overlays and plain directories
    await Promise.all([...users.values()].map((u) => u.stop()));
    for (const h of handles.reverse()) {
      await h.stop();
      live.delete(h);
    }
    if (areaHandle) {
      await areaHandle.stop();
      live.delete(areaHandle);
    }
  }
}

/** mknod(1) of /dev/null's device (c 1 3): Node has no mknod. */
function mknodNull(path: string): void {
  const r = spawnSync('mknod', ['-m', '0666', path, 'c', '1', '3'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`mknod ${path}: ${r.error?.message ?? r.stderr}`);
}

const O_RDWR_ = 2;

/** mkfifo(1): Node has no mknod. */
function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', ['-m', '0644', path], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`mkfifo ${path}: ${r.error?.message ?? r.stderr}`);
}

/** A result from 0 / -errno. */
function fromErr(r: number): RealResult {
  return r < 0 ? { ret: errnoNameOf(r) } : { ret: r };
}

/** echo 1 > /sys/fs/fuse/connections/<dev minor>/abort, the connection found by its mount (in nsPid's namespace). */
function abortConnection(fusectl: string, mountpoint: string, nsPid: number): RealResult {
  const line = readFileSync(`/proc/${nsPid}/mountinfo`, 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === mountpoint);
  const dev = line?.split(' ')[2];
  if (!dev) return { ret: 'ENOENT' };
  try {
    writeFileSync(join(fusectl, dev.split(':')[1]!, 'abort'), '1');
    return { ret: 0 };
  } catch (e) {
    return { ret: canonicalErrno((e as NodeJS.ErrnoException).code ?? 'EIO') };
  }
}

/** The bytes of struct fuse_backing_map (s32 fd, u32 flags, u64 padding). */
function backingMap(fd: number, flags: number, padding: bigint | number | string): Buffer {
  const p = Buffer.alloc(16);
  p.writeInt32LE(fd | 0, 0);
  p.writeUInt32LE(flags >>> 0, 4);
  p.writeBigUInt64LE(BigInt.asUintN(64, BigInt(padding)), 8);
  return p;
}

/** A u32 ioctl argument. */
function u32Arg(v: number): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32LE(v >>> 0, 0);
  return p;
}

/**
 * A server thread's op (or a forked child's): through the helper that holds the mount's
 * /dev/fuse (its ops, or its child's). An ioctl on another /dev/fuse fd than the server's own
 * goes through devIoctl with the argument's bytes.
 */
async function serverOp(
  server: { t: RealFuseTransport; srv: RealServer },
  ops: ServerProcessOps,
  op: ScenarioOp,
  arg: (v: number | string) => number,
  vars: Record<string, number>,
  realPath: (p: string) => string,
): Promise<RealResult> {
  const dev = (o: { dev?: number | string | undefined }) => (o.dev === undefined ? null : arg(o.dev));
  try {
    switch (op.op) {
      case 'open':
        return fromErr(await ops.openFile(realPath(op.path), openFlags(op.mode, op.flags)));
      case 'open_dev_fuse':
        return fromErr(await ops.openFile('/dev/fuse', O_RDWR_));
      case 'backing_open': {
        const d = dev(op);
        if (d === null) return fromErr(await ops.backingOpenFd(arg(op.fd), { flags: op.flags, padding: BigInt(op.padding) }));
        return fromErr(await ops.devIoctl(d, FUSE_DEV_IOC_BACKING_OPEN, backingMap(arg(op.fd), op.flags, op.padding)));
      }
      case 'backing_close': {
        const d = dev(op);
        if (d === null) return fromErr(await ops.backingClose(arg(op.id)));
        return fromErr(await ops.devIoctl(d, FUSE_DEV_IOC_BACKING_CLOSE, u32Arg(arg(op.id))));
      }
      case 'ioctl': {
        const d = dev(op);
        return fromErr(d === null ? await server.t.ioctl(op.cmd) : await ops.devIoctl(d, op.cmd));
      }
      case 'clone':
        return fromErr(await ops.devIoctl(dev(op) ?? (vars['devfd'] ?? -1), FUSE_DEV_IOC_CLONE, u32Arg(arg(op.from))));
      case 'close':
        return fromErr(await ops.closeFile(arg(op.fd)));
      case 'capset':
        return fromErr(await ops.setCapSysAdmin(op.cap_sys_admin));
      case 'socket':
        return fromErr(await ops.socket(op.bind === undefined ? undefined : realPath(op.bind)));
      case 'pipe': {
        const r = await ops.pipe();
        if (typeof r === 'number') return fromErr(r);
        if (op.save_write) vars[op.save_write] = r.w;
        return { ret: r.r };
      }
      case 'init_reply':
        return fromErr(server.srv.releaseInit());
      case 'umount':
        // the server's own mount, lazily (the helper's umount2(MNT_DETACH), then its directory goes)
        return fromErr(await server.t.umount());
      default:
        throw new Error(`a server thread cannot ${op.op} on the real side`);
    }
  } catch (e) {
    if (e instanceof TransportClosedError) return { ret: '(helper gone)' };
    throw e;
  }
}

/** A user op: one line to the process's fpsim-user. */
async function userOp(
  u: UserProcess,
  op: ScenarioOp,
  arg: (v: number | string) => number,
  realPath: (p: string) => string,
  timeoutMs: number,
  procOfPid: (pid: number) => string | null,
): Promise<RealResult> {
  let line: (string | number)[];
  switch (op.op) {
    case 'open':
      line = ['open', realPath(op.path), openFlags(op.mode, op.flags), op.perm ?? 0o644];
      break;
    case 'mknod':
      line = ['mknod', realPath(op.path), MKNOD_TYPE[op.type] | op.perm];
      break;
    case 'mkdir':
      line = ['mkdir', realPath(op.path), op.perm];
      break;
    case 'unlink':
      line = ['unlink', realPath(op.path)];
      break;
    case 'rmdir':
      line = ['rmdir', realPath(op.path)];
      break;
    case 'rename':
      line = ['rename', realPath(op.path), realPath(op.to), renameFlags(op.flags)];
      break;
    case 'opendir':
      line = ['opendir', realPath(op.path)];
      break;
    case 'readlink':
      line = ['readlink', realPath(op.path)];
      break;
    case 'symlink':
      // a relative target is kept as it is on both sides
      line = ['symlink', op.target, realPath(op.path)];
      break;
    case 'getdents':
      line = ['getdents', arg(op.fd), op.count];
      break;
    case 'drop_caches':
      line = ['dropcaches'];
      break;
    case 'read':
      line = op.pos ? ['read', arg(op.fd), op.n] : ['pread', arg(op.fd), op.n, op.offset];
      break;
    case 'write':
      line = op.pos ? ['write', arg(op.fd), `hex:${Buffer.from(op.data, 'utf8').toString('hex')}`] : ['pwrite', arg(op.fd), `hex:${Buffer.from(op.data, 'utf8').toString('hex')}`, op.offset];
      break;
    case 'splice_read':
      line = ['spliceread', arg(op.fd), op.n, op.offset];
      break;
    case 'splice_write':
      line = ['splicewrite', arg(op.fd), `hex:${Buffer.from(op.data, 'utf8').toString('hex')}`, op.offset];
      break;
    case 'mmap':
      line = ['mmap', arg(op.fd), op.len, op.prot, op.shared ? 'shared' : 'private'];
      break;
    case 'mread':
      line = ['mread', arg(op.vma), op.offset, op.n];
      break;
    case 'mwrite':
      line = ['mwrite', arg(op.vma), op.offset, `hex:${Buffer.from(op.data, 'utf8').toString('hex')}`];
      break;
    case 'munmap':
      line = ['munmap', arg(op.vma)];
      break;
    case 'close':
      line = ['close', arg(op.fd)];
      break;
    case 'ftruncate':
      line = ['ftruncate', arg(op.fd), op.size];
      break;
    case 'truncate':
      line = ['truncate', realPath(op.path), op.size];
      break;
    case 'chmod':
      line = ['chmod', realPath(op.path), op.mode];
      break;
    case 'statfs':
      line = ['statfs', realPath(op.path)];
      break;
    case 'fsync':
    case 'fdatasync':
      line = [op.op, arg(op.fd)];
      break;
    case 'fallocate':
      line = ['fallocate', arg(op.fd), op.mode.reduce((m, n) => m | FALLOC_FL[n], 0), op.offset, op.len];
      break;
    case 'lseek':
      line = ['lseek', arg(op.fd), op.offset, typeof op.whence === 'number' ? op.whence : SEEK_NAMES.indexOf(op.whence)];
      break;
    case 'copy_file_range':
      // "-": a NULL offset pointer (the file's f_pos)
      line = ['copyrange', arg(op.fd_in), op.off_in ?? '-', arg(op.fd_out), op.off_out ?? '-', op.len, op.flags];
      break;
    case 'sendfile':
      line = ['sendfile', arg(op.out_fd), arg(op.in_fd), op.offset ?? '-', op.count];
      break;
    case 'fstat':
      line = ['fstat', arg(op.fd)];
      break;
    case 'sleep':
      line = ['sleep', op.ms];
      break;
    case 'stat':
      line = [op.cached ? 'cstat' : 'stat', realPath(op.path)];
      break;
    case 'flock':
      line = ['flock', arg(op.fd), flockCmd(op.type, op.nb)];
      break;
    case 'lock':
      line = ['fcntllk', arg(op.fd), LOCK_CMD[op.cmd], LOCK_TYPE[op.type], op.start, op.len];
      break;
    default:
      throw new Error(`a user process cannot ${op.op} on the real side`);
  }
  const r = await u.run(line, timeoutMs);
  if (!r) return { ret: '(timed out)' };
  if (r.ret < 0) return { ret: canonicalErrno(r.err ?? errnoNameOf(r.errno ?? 5)) };
  switch (op.op) {
    case 'read':
    case 'splice_read':
    case 'mread':
      return { ret: r.ret, data: Buffer.from(r.hex ?? '', 'hex').toString('latin1') };
    case 'stat':
    case 'fstat':
      return { ret: r.size ?? 0 };
    case 'getdents':
    case 'readlink':
      return { ret: r.ret, data: Buffer.from(r.hex ?? '', 'hex').toString('utf8') };
    case 'lock':
      if (op.cmd !== 'getlk') return { ret: r.ret };
      return { ret: r.ret, data: getlkData(r, procOfPid) };
    default:
      return { ret: r.ret };
  }
}

/** F_GETLK's struct flock as the model prints it (sim/kernel/vfs/locks.ts: getlkResult). */
function getlkData(r: UserResult, procOfPid: (pid: number) => string | null): string {
  const type = r.ltype === LOCK_TYPE.un ? 'un' : r.ltype === LOCK_TYPE.rd ? 'rd' : r.ltype === LOCK_TYPE.wr ? 'wr' : `type${r.ltype}`;
  if (type === 'un') return 'un';
  const pid = r.lpid ?? 0;
  const who = pid > 0 ? (procOfPid(pid) ?? String(pid)) : String(pid);
  return `${type} start=${r.lstart} len=${r.llen} pid=${who}`;
}
