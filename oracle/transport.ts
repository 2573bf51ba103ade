// A real-kernel transport for a scripted FUSE server: the native helper
// (oracle/native/fpsim-fuse-helper.c) owns /dev/fuse and the mount; this
// class speaks its framed stdin/stdout protocol. The server itself runs in
// this Node process; user syscalls must come from other processes (see
// runUser in ./user.ts), never from this one, or the event loop that answers
// FUSE requests could be blocked by the very request it has to answer.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, readFileSync, statSync } from 'node:fs';
import { release } from 'node:os';
import { gunzipSync } from 'node:zlib';
import { NATIVE_TOOLS, ensureBuilt, gccAvailable, isUpToDate } from './native/build.ts';

export { runUser } from './user.ts';
export type { UserResult, UserRun } from './user.ts';

export const MOUNT_PARENT = '/tmp/fpsim-mounts';

export type Availability = { ok: true } | { ok: false; reason: string };

/** Minimum kernel with FUSE passthrough (FUSE_PASSTHROUGH, backing ioctls). */
export const MIN_KERNEL: readonly [number, number] = [6, 9];

function kernelVersion(): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)/.exec(release());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

function checkAvailability(): Availability {
  if (process.env.FPSIM_ORACLE === '0') return { ok: false, reason: 'disabled by FPSIM_ORACLE=0' };
  if (process.platform !== 'linux') return { ok: false, reason: `needs Linux, this is ${process.platform}` };
  if (process.getuid?.() !== 0) return { ok: false, reason: 'needs root (mount(2) and the backing ioctls need CAP_SYS_ADMIN)' };
  try {
    if (!statSync('/dev/fuse').isCharacterDevice()) return { ok: false, reason: '/dev/fuse is not a character device' };
    accessSync('/dev/fuse', fsConstants.R_OK | fsConstants.W_OK);
  } catch (e) {
    return { ok: false, reason: `/dev/fuse is not usable: ${(e as Error).message}` };
  }
  try {
    if (!/\tfuse\n/.test(readFileSync('/proc/filesystems', 'utf8'))) {
      return { ok: false, reason: 'the kernel has no fuse filesystem (/proc/filesystems)' };
    }
  } catch {
    return { ok: false, reason: 'cannot read /proc/filesystems' };
  }
  const v = kernelVersion();
  if (v === undefined) return { ok: false, reason: `cannot parse kernel version ${release()}` };
  if (v[0] < MIN_KERNEL[0] || (v[0] === MIN_KERNEL[0] && v[1] < MIN_KERNEL[1])) {
    return { ok: false, reason: `kernel ${release()} predates FUSE passthrough (needs >= ${MIN_KERNEL.join('.')})` };
  }
  // When the running config is visible, it must have passthrough built in.
  if (existsSync('/proc/config.gz')) {
    try {
      const config = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
      if (!/^CONFIG_FUSE_PASSTHROUGH=y$/m.test(config)) {
        return { ok: false, reason: 'kernel built without CONFIG_FUSE_PASSTHROUGH=y' };
      }
    } catch {
      // unreadable config: fall back to the version check
    }
  }
  if (!NATIVE_TOOLS.every(isUpToDate) && !gccAvailable()) {
    return { ok: false, reason: 'gcc not found: it is needed to build the native helpers (apt-get install gcc)' };
  }
  return { ok: true };
}

let availabilityCache: Availability | undefined;
/** Whether this machine can run the real-kernel oracle, and if not, why. */
export function availability(): Availability {
  availabilityCache ??= checkAvailability();
  return availabilityCache;
}

export class TransportClosedError extends Error {
  constructor(why: string) {
    super(`fuse transport closed: ${why}`);
    this.name = 'TransportClosedError';
  }
}

export interface StartOptions {
  /** mount with default_permissions (the kernel checks modes itself) */
  defaultPermissions?: boolean;
  /** mount with allow_other */
  allowOther?: boolean;
  /** how long to wait for the helper to report its mountpoint (default 10 s) */
  startTimeoutMs?: number;
  /** copy the helper's stderr to ours (also: env FPSIM_ORACLE_DEBUG=1) */
  debug?: boolean;
  /**
   * mount no FUSE filesystem: a private tmpfs area instead, below which mount() puts other
   * filesystems (overlays, read-only binds); they all go when the helper goes
   */
  keeper?: boolean;
  /**
   * with keeper: a private mount namespace of the helper's own (a tmpfs on /tmp in it); every
   * mount of the run lives there, and the kernel removes them all when the namespace's last
   * process dies, however it dies. The host sees none of it: node reaches the files through
   * hostPath (/proc/<keeper pid>/root).
   */
  newns?: boolean;
  /** mount in the namespace of this keeper (its pid) instead of the host's */
  ns?: number;
}

export interface BackingOpenOptions {
  /** fuse_backing_map.flags (must be 0 in 6.9) */
  flags?: number;
  /** fuse_backing_map.padding */
  padding?: bigint | number;
  /** open(2) flags the helper uses to open the backing file (default O_RDWR) */
  oflags?: number;
}

/** A reply the kernel rejected when the helper wrote it to /dev/fuse. */
export interface ReplyError {
  errno: number;
  /** unique of the rejected reply (0n for notifications) */
  unique: bigint;
}

interface Pending {
  resolve: (v: number) => void;
  reject: (e: Error) => void;
}

const O_RDWR = 2;

export class RealFuseTransport {
  readonly mountpoint: string;
  /** Replies the kernel refused (write(2) on /dev/fuse failed), in order. */
  readonly replyErrors: ReplyError[] = [];
  /** Called for each refused reply, in addition to recording it. */
  onReplyError: ((e: ReplyError) => void) | undefined;

  private readonly child: ChildProcess;
  private readonly requests: Uint8Array[] = [];
  private readonly waiters: { resolve: (r: Uint8Array) => void; reject: (e: Error) => void }[] = [];
  private readonly pending: Pending[] = [];
  private closedWhy: string | undefined;
  /** the device said ENODEV/ECONNABORTED: no more requests, but control frames still work */
  private deviceGoneWhy: string | undefined;
  private readonly exited: Promise<void>;
  private stderrText = '';

  private constructor(child: ChildProcess, mountpoint: string, exited: Promise<void>) {
    this.child = child;
    this.mountpoint = mountpoint;
    this.exited = exited;
  }

  /** the pid whose mount namespace the mount is in (null: the host's) */
  nsPid: number | null = null;

  /** A path of the helper's namespace as this process reaches it (/proc/<pid>/root/...). */
  hostPath(p: string): string {
    return this.nsPid === null ? p : `/proc/${this.nsPid}/root${p}`;
  }

  get helperPid(): number {
    return this.child.pid ?? -1;
  }

  /** Whether the device is gone (unmounted, aborted) or the helper has exited. */
  get closed(): boolean {
    return this.closedWhy !== undefined || this.deviceGoneWhy !== undefined;
  }

  /** Whether the helper still runs (control operations such as backingOpen still work). */
  get helperAlive(): boolean {
    return this.closedWhy === undefined;
  }

  /** The helper's diagnostics so far. */
  get stderr(): string {
    return this.stderrText;
  }

  /** Spawns the helper and waits until its filesystem is mounted. */
  static async start(opts: StartOptions = {}): Promise<RealFuseTransport> {
    const avail = availability();
    if (!avail.ok) throw new Error(`fpsim oracle unavailable: ${avail.reason}`);
    const bin = ensureBuilt('fpsim-fuse-helper');
    const args: string[] = [];
    if (opts.defaultPermissions) args.push('--default-permissions');
    if (opts.allowOther) args.push('--allow-other');
    if (opts.keeper) args.push('--keeper');
    if (opts.newns) args.push('--newns');
    if (opts.ns !== undefined) args.push('--ns', String(opts.ns));
    const debug = opts.debug ?? process.env.FPSIM_ORACLE_DEBUG === '1';
    const child = spawn(bin, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let transport: RealFuseTransport | undefined;
    let stderrEarly = '';
    let onExit: (why: string) => void = () => {};
    const exited = new Promise<void>((resolve) => {
      child.once('close', (code, signal) => {
        onExit(`helper exited (code ${code}, signal ${signal})`);
        resolve();
      });
      child.once('error', (e) => {
        onExit(`helper failed: ${e.message}`);
        resolve();
      });
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (debug) process.stderr.write(s);
      if (transport) transport.appendStderr(s);
      else stderrEarly += s;
    });
    // ignore EPIPE on stdin: the exit handler reports the real reason
    child.stdin!.on('error', () => {});

    const timeoutMs = opts.startTimeoutMs ?? 10_000;
    return new Promise<RealFuseTransport>((resolve, reject) => {
      let buf: Buffer = Buffer.alloc(0);
      const timer = setTimeout(() => {
        child.kill('SIGTERM');
        reject(new Error(`fpsim-fuse-helper did not report a mountpoint within ${timeoutMs} ms\n${stderrEarly}`));
      }, timeoutMs);
      onExit = (why) => {
        clearTimeout(timer);
        reject(new Error(`fpsim-fuse-helper failed to start: ${why}\n${stderrEarly}`));
      };
      child.stdout!.on('data', (chunk: Buffer) => {
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        while (buf.length >= 5) {
          const len = buf.readUInt32LE(0);
          if (buf.length < 5 + len) break;
          const kind = String.fromCharCode(buf[4]!);
          const payload = buf.subarray(5, 5 + len);
          buf = buf.subarray(5 + len);
          if (transport === undefined) {
            if (kind !== 'M') {
              child.kill('SIGTERM');
              reject(new Error(`fpsim-fuse-helper: expected mountpoint frame, got '${kind}'`));
              return;
            }
            clearTimeout(timer);
            transport = new RealFuseTransport(child, payload.toString('utf8'), exited);
            if (opts.newns) transport.nsPid = child.pid ?? null;
            else if (opts.ns !== undefined) transport.nsPid = opts.ns;
            transport.appendStderr(stderrEarly);
            const t = transport;
            onExit = (why) => t.markClosed(why);
            resolve(t);
          } else {
            transport.onFrame(kind, Buffer.from(payload));
          }
        }
      });
    });
  }

  private appendStderr(s: string): void {
    // keep the tail only; it is diagnostics
    this.stderrText = (this.stderrText + s).slice(-16_384);
  }

  private onFrame(kind: string, payload: Buffer): void {
    switch (kind) {
      case 'Q': {
        const w = this.waiters.shift();
        if (w) w.resolve(payload);
        else this.requests.push(payload);
        return;
      }
      case 'R': {
        const p = this.pending.shift();
        p?.resolve(Number(payload.readBigInt64LE(0)));
        return;
      }
      case 'E': {
        const e: ReplyError = {
          errno: payload.readInt32LE(0),
          unique: payload.length >= 4 + 16 ? payload.readBigUInt64LE(4 + 8) : 0n,
        };
        this.replyErrors.push(e);
        this.onReplyError?.(e);
        return;
      }
      case 'D':
        this.markDeviceGone('the kernel reported ENODEV (filesystem unmounted or connection aborted)');
        return;
      default:
        this.markClosed(`unexpected frame '${kind}' from helper`);
        this.child.kill('SIGTERM');
    }
  }

  private markClosed(why: string): void {
    if (this.closedWhy !== undefined) return;
    this.closedWhy = why;
    const err = new TransportClosedError(why);
    for (const w of this.waiters.splice(0)) w.reject(err);
    for (const p of this.pending.splice(0)) p.reject(err);
  }

  private markDeviceGone(why: string): void {
    if (this.deviceGoneWhy !== undefined) return;
    this.deviceGoneWhy = why;
    const err = new TransportClosedError(why);
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  private send(kind: string, payload: Uint8Array): void {
    if (this.closedWhy !== undefined) throw new TransportClosedError(this.closedWhy);
    const hdr = Buffer.alloc(5);
    hdr.writeUInt32LE(payload.length, 0);
    hdr[4] = kind.charCodeAt(0);
    this.child.stdin!.write(Buffer.concat([hdr, payload]));
  }

  private control(kind: string, payload: Uint8Array): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      try {
        this.send(kind, payload);
      } catch (e) {
        reject(e as Error);
        return;
      }
      this.pending.push({ resolve, reject });
    });
  }

  /**
   * The next raw request from /dev/fuse (fuse_in_header + body). Rejects with
   * TransportClosedError once the filesystem is gone, or with a timeout error.
   */
  nextRequest(opts: { timeoutMs?: number } = {}): Promise<Uint8Array> {
    const queued = this.requests.shift();
    if (queued) return Promise.resolve(queued);
    const gone = this.closedWhy ?? this.deviceGoneWhy;
    if (gone !== undefined) return Promise.reject(new TransportClosedError(gone));
    return new Promise<Uint8Array>((resolve, reject) => {
      const waiter = { resolve, reject };
      this.waiters.push(waiter);
      if (opts.timeoutMs !== undefined) {
        const timer = setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new Error(`no FUSE request within ${opts.timeoutMs} ms`));
        }, opts.timeoutMs);
        const clear = () => clearTimeout(timer);
        waiter.resolve = (r) => {
          clear();
          resolve(r);
        };
        waiter.reject = (e) => {
          clear();
          reject(e);
        };
      }
    });
  }

  /**
   * Writes raw reply (or notification) bytes to /dev/fuse. Failures land in
   * replyErrors. After the transport closed this is a no-op: there is no
   * longer anyone to answer, and a server loop must not crash on that race.
   */
  reply(bytes: Uint8Array): void {
    if (this.closedWhy !== undefined || this.deviceGoneWhy !== undefined) return;
    this.send('W', bytes);
  }

  /**
   * FUSE_DEV_IOC_BACKING_OPEN on a file the helper opens at `path` (with
   * `oflags`, default O_RDWR) and closes right after. Returns the backing id,
   * or a negative errno (from open(2) or from the ioctl). `path` must not be
   * on this transport's own mount (-EDEADLK).
   */
  backingOpen(path: string, opts: BackingOpenOptions = {}): Promise<number> {
    const p = Buffer.alloc(16);
    p.writeInt32LE(opts.oflags ?? O_RDWR, 0);
    p.writeUInt32LE((opts.flags ?? 0) >>> 0, 4);
    p.writeBigUInt64LE(BigInt.asUintN(64, BigInt(opts.padding ?? 0)), 8);
    return this.control('P', Buffer.concat([p, Buffer.from(path, 'utf8')]));
  }

  /**
   * FUSE_DEV_IOC_BACKING_OPEN with an arbitrary fd number of the helper
   * process (from openFile, or deliberately bad). Returns id or -errno.
   */
  backingOpenFd(fd: number, opts: Omit<BackingOpenOptions, 'oflags'> = {}): Promise<number> {
    const p = Buffer.alloc(16);
    p.writeInt32LE(fd, 0);
    p.writeUInt32LE((opts.flags ?? 0) >>> 0, 4);
    p.writeBigUInt64LE(BigInt.asUintN(64, BigInt(opts.padding ?? 0)), 8);
    return this.control('B', p);
  }

  /** FUSE_DEV_IOC_BACKING_CLOSE(id); id is passed as the kernel's u32. Returns 0 or -errno. */
  backingClose(id: number): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeInt32LE(id | 0, 0);
    return this.control('C', p);
  }

  /** Opens a file inside the helper (to pass its fd to backingOpenFd). Returns fd or -errno. */
  openFile(path: string, oflags: number): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeInt32LE(oflags | 0, 0);
    return this.control('O', Buffer.concat([p, Buffer.from(path, 'utf8')]));
  }

  /** Closes an fd returned by openFile. Returns 0 or -errno. */
  closeFile(fd: number): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeInt32LE(fd | 0, 0);
    return this.control('X', p);
  }

  /** ioctl(2) on the helper's /dev/fuse fd with a NULL argument. Returns the result or -errno. */
  ioctl(cmd: number): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeUInt32LE(cmd >>> 0, 0);
    return this.control('I', p);
  }

  /** Raises (true) or drops (false) CAP_SYS_ADMIN in the helper's effective set. Returns 0 or -errno. */
  setCapSysAdmin(on: boolean): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeInt32LE(on ? 1 : 0, 0);
    return this.control('A', p);
  }

  /**
   * mount(2) in the helper (a keeper's area): `target` must lie inside the helper's directory
   * (this.mountpoint) and is created if missing. Returns 0 or -errno.
   */
  mount(fstype: string, source: string, target: string, flags = 0, data = ''): Promise<number> {
    const head = Buffer.alloc(4);
    head.writeUInt32LE(flags >>> 0, 0);
    const strs = [fstype, source, target, data].map((x) => Buffer.from(`${x}\0`, 'utf8'));
    return this.control('K', Buffer.concat([head, ...strs]));
  }

  /** The server process's own operations (its fd table, its creds): the helper's. */
  ops(): ServerProcessOps {
    return new ServerProcessOps((kind, payload) => this.control(kind, payload));
  }

  /**
   * fork(2) of the server process: a child that shares the helper's open files, /dev/fuse
   * included, and runs the operations given to it. Rejects with the errno if the fork failed.
   */
  async fork(): Promise<ServerProcessOps> {
    const idx = await this.control('F', Buffer.alloc(0));
    if (idx < 0) throw new Error(`fpsim-fuse-helper: fork failed (errno ${-idx})`);
    const head = Buffer.alloc(4);
    head.writeUInt32LE(idx, 0);
    return new ServerProcessOps((kind, payload) => this.control('T', Buffer.concat([head, Buffer.from(kind, 'latin1'), payload])));
  }

  /** Lazily unmounts now (the helper keeps relaying until the kernel says ENODEV). */
  umount(): Promise<number> {
    return this.control('U', Buffer.alloc(0));
  }

  /**
   * Ends the helper: closing its stdin makes it unmount (MNT_DETACH), close
   * /dev/fuse (aborting the connection) and remove its directory. Escalates
   * to SIGTERM and SIGKILL if it does not exit in time.
   */
  async stop(timeoutMs = 5_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.stdin!.end();
      if (!(await this.waitExit(timeoutMs))) {
        this.child.kill('SIGTERM');
        if (!(await this.waitExit(2_000))) {
          this.child.kill('SIGKILL');
          await this.exited;
        }
      }
    }
    await this.exited;
    this.markClosed('stopped');
  }

  private async waitExit(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms))),
    ]);
    clearTimeout(timer);
    return done;
  }
}

/**
 * What a server process does through the helper (the helper itself, or a child it forked): its
 * own files, its /dev/fuse ioctls, its capabilities. Each returns a value >= 0 or -errno.
 */
export class ServerProcessOps {
  constructor(private readonly ctl: (kind: string, payload: Uint8Array) => Promise<number>) {}

  /** open(2) of a path (not on the helper's own mount). */
  openFile(path: string, oflags: number): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeInt32LE(oflags | 0, 0);
    return this.ctl('O', Buffer.concat([p, Buffer.from(path, 'utf8')]));
  }

  /** close(2) of an fd it opened, or of its /dev/fuse ($devfd). */
  closeFile(fd: number): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeInt32LE(fd | 0, 0);
    return this.ctl('X', p);
  }

  /** The fd number of the server's /dev/fuse (its $devfd). */
  devFd(): Promise<number> {
    return this.ctl('G', Buffer.alloc(0));
  }

  /** ioctl(2) on a /dev/fuse fd (the server's own or one it opened), with the argument's bytes (none: NULL). */
  devIoctl(fd: number, cmd: number, arg: Uint8Array = new Uint8Array(0)): Promise<number> {
    const p = Buffer.alloc(8);
    p.writeInt32LE(fd | 0, 0);
    p.writeUInt32LE(cmd >>> 0, 4);
    return this.ctl('V', Buffer.concat([p, arg]));
  }

  /** FUSE_DEV_IOC_BACKING_OPEN through the server's own /dev/fuse. */
  backingOpenFd(fd: number, opts: Omit<BackingOpenOptions, 'oflags'> = {}): Promise<number> {
    const p = Buffer.alloc(16);
    p.writeInt32LE(fd, 0);
    p.writeUInt32LE((opts.flags ?? 0) >>> 0, 4);
    p.writeBigUInt64LE(BigInt.asUintN(64, BigInt(opts.padding ?? 0)), 8);
    return this.ctl('B', p);
  }

  /** FUSE_DEV_IOC_BACKING_CLOSE through the server's own /dev/fuse. */
  backingClose(id: number): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeInt32LE(id | 0, 0);
    return this.ctl('C', p);
  }

  /** capset(2): CAP_SYS_ADMIN raised in or dropped from the effective set. */
  setCapSysAdmin(on: boolean): Promise<number> {
    const p = Buffer.alloc(4);
    p.writeInt32LE(on ? 1 : 0, 0);
    return this.ctl('A', p);
  }

  /** socket(AF_UNIX, SOCK_STREAM), bound to path if given: the fd. */
  socket(path?: string): Promise<number> {
    return this.ctl('S', Buffer.from(path ?? '', 'utf8'));
  }

  /** pipe(2): the read and the write end. */
  async pipe(): Promise<{ r: number; w: number } | number> {
    const v = await this.ctl('Y', Buffer.alloc(0));
    return v < 0 ? v : { r: v & 0xffff, w: v >>> 16 };
  }
}

/** Mount points under MOUNT_PARENT currently listed in /proc/self/mountinfo. */
export function fpsimMounts(): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const mp = line.split(' ')[4];
    if (mp !== undefined && mp.startsWith(`${MOUNT_PARENT}/`)) out.push(mp);
  }
  return out;
}
