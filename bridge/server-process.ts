// A real FUSE server binary as a protocol peer: Node plays /dev/fuse.
//
// ServerProcess starts bridge/native/fpsim-bridge, which runs the server with
// a SOCK_SEQPACKET socket as its /dev/fuse (argv's "{dev}" becomes
// /dev/fd/3) and fpsim-preload.so catching its /dev/fuse ioctls. Everything
// the server does comes back here as an event, in order:
//
//   msg    one message the server wrote on a device (a reply, or a
//          notification when unique is 0)
//   ioctl  a server thread is blocked in ioctl(2) on a device until
//          answerIoctl(chan, ...) is called; BACKING_OPEN carries the backing
//          file, held open by the bridge under a handle until closeHandle()
//   exit   the server died (code or signal, and the tail of its stderr); the
//          bridge stays up, holding the backing files, until stop()
//
// Nothing here decodes FUSE beyond the out header's `unique` (to tell replies
// from notifications in settle()); callers use sim/wire.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { ensureBridgeBuilt } from './native/build.ts';

/** Frame types; see the table at the top of bridge/native/fpsim-bridge.c. */
const F = {
  DELIVER: 1,
  ANSWER: 2,
  CLOSE_HANDLE: 3,
  SIGNAL: 4,
  STOP: 5,
  HELLO: 0x81,
  MSG: 0x82,
  IOCTL: 0x83,
  EXIT: 0x84,
} as const;
const FRAME_HDR = 16;
/** struct file_info in fpsim-bridge.c (fixed part, before the strings). */
const FILE_INFO_SIZE = 64;

export type FileKind = 'reg' | 'dir' | 'fifo' | 'sock' | 'chr' | 'blk' | 'lnk' | 'unknown';

/** The backing file a BACKING_OPEN ioctl passed, as the bridge sees its copy. */
export interface BackingFdInfo {
  /** The bridge keeps the fd open under this handle until closeHandle(handle). */
  handle: number;
  kind: FileKind;
  /** st_mode (kind and permission bits) */
  mode: number;
  /** st_dev, in glibc's encoding (what fs.statSync().dev reports) */
  dev: number;
  /** st_ino; a bigint because overlayfs (xino) and others use the high bits */
  ino: bigint;
  size: number;
  /** fcntl(F_GETFL) of the open file: access mode and status flags */
  flags: number;
  /** 'O_RDONLY' | 'O_WRONLY' | 'O_RDWR' | 'O_PATH' */
  accmode: string;
  /** the status flags that are set, e.g. ['O_APPEND', 'O_DIRECT', 'O_LARGEFILE'] */
  flagNames: string[];
  /** fstatfs f_type (the superblock magic) */
  fsType: number;
  /** the mount's type from mountinfo ('ext4', 'tmpfs', 'devtmpfs', 'overlay', 'fuse.x'...),
   * or for internal mounts (sockets, pipes) the name of the magic ('sockfs', 'pipefs'...) */
  fsName: string;
  mntId: number;
  /** readlink of the fd: where the file is (or '/x (deleted)', 'socket:[n]'...) */
  path: string;
  /**
   * /proc/<bridge pid>/fd/<k>: opening it reaches the same inode the server
   * passed (a new open file description, with the flags you open it with), so
   * the model can pread/pwrite the real file synchronously.
   */
  procPath: string;
}

export type BridgeEvent =
  | { t: 'msg'; dev: number; bytes: Uint8Array }
  | {
      t: 'ioctl';
      /** answerIoctl(chan, ...) wakes the thread; one pending ioctl per chan */
      chan: number;
      /** the device (0 = the fd given as {dev}; 1.. = /dev/fuse opened by the server) */
      dev: number;
      /** the server thread's tid */
      tid: number;
      cmd: number;
      /** the _IOC_SIZE(cmd) bytes of the argument (empty when the pointer is NULL) */
      arg: Uint8Array;
      /** FUSE_DEV_IOC_CLONE: the device the argument's fd is, or -1 if it is none */
      argDev?: number;
      /** FUSE_DEV_IOC_BACKING_OPEN with an open fd: the file */
      file?: BackingFdInfo;
    }
  | { t: 'exit'; code: number | null; signal: string | null; stderrTail: string }
  | { t: 'timeout' };

export interface StartOptions {
  /** The server's command line; "{dev}" anywhere in an argument becomes /dev/fd/N. */
  argv: string[];
  cwd?: string;
  /** The server's environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Where the server's stdout and stderr go (default: an unnamed temporary file). */
  stderrFile?: string;
  /** How long to wait for the bridge to come up (default 10 s). */
  startTimeoutMs?: number;
}

const FUSE_DEV_IOC_CLONE = 0x8004e500;

const SIGNAL_NAMES = new Map<number, string>(
  Object.entries(osConstants.signals).map(([name, n]) => [n as number, name]),
);

// Status flags in F_GETFL (x86_64 values; O_LARGEFILE is what the kernel reports for 64-bit opens).
const O_FLAG_NAMES: [number, string][] = [
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o20000, 'O_ASYNC'],
  [0o40000, 'O_DIRECT'],
  [0o100000, 'O_LARGEFILE'],
  [0o1000000, 'O_NOATIME'],
  [0o4000000, 'O_SYNC'],
  [0o10000000, 'O_PATH'],
];

// statfs magics (include/uapi/linux/magic.h) for files with no mountinfo entry, and a fallback.
const FS_MAGIC = new Map<number, string>([
  [0x01021994, 'tmpfs'],
  [0xef53, 'ext4'], // ext2/3/4 share it
  [0x794c7630, 'overlayfs'],
  [0x65735546, 'fuse'],
  [0x534f434b, 'sockfs'],
  [0x50495045, 'pipefs'],
  [0x09041934, 'anon_inodefs'],
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x1cd1, 'devpts'],
  [0x858458f6, 'ramfs'],
  [0x9123683e, 'btrfs'],
  [0x58465342, 'xfs'],
  [0x6969, 'nfs'],
  [0xf2f52010, 'f2fs'],
  [0x73717368, 'squashfs'],
  [0xe0f5e1e2, 'erofs'],
  [0x4d44, 'vfat'],
  [0x2011bab0, 'exfat'],
  [0x01021997, '9p'],
  [0x63677270, 'cgroup2'],
  [0x958458f6, 'hugetlbfs'],
  [0x6e736673, 'nsfs'],
  [0xcafe4a11, 'bpf'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
]);

const KINDS: Record<number, FileKind> = {
  0o100000: 'reg',
  0o040000: 'dir',
  0o010000: 'fifo',
  0o140000: 'sock',
  0o020000: 'chr',
  0o060000: 'blk',
  0o120000: 'lnk',
};

/** The name the bridge should report for a statfs magic, or its hex. */
export function fsMagicName(magic: number): string {
  return FS_MAGIC.get(magic) ?? `0x${magic.toString(16)}`;
}

function decodeFileInfo(b: Buffer): BackingFdInfo {
  const pathLen = b.readUInt32LE(48);
  const procLen = b.readUInt32LE(52);
  const fsLen = b.readUInt32LE(56);
  let off = FILE_INFO_SIZE;
  const str = (n: number): string => {
    const s = b.toString('utf8', off, off + n);
    off += n;
    return s;
  };
  const path = str(pathLen);
  const procPath = str(procLen);
  const mountType = str(fsLen);
  const mode = b.readUInt32LE(4);
  const flags = b.readUInt32LE(8);
  const fsType = Number(b.readBigUInt64LE(40));
  const acc = flags & 0o10000000 ? 'O_PATH' : (['O_RDONLY', 'O_WRONLY', 'O_RDWR'][flags & 3] ?? 'O_ACCMODE');
  return {
    handle: b.readInt32LE(0),
    kind: KINDS[mode & 0o170000] ?? 'unknown',
    mode,
    dev: Number(b.readBigUInt64LE(16)),
    ino: b.readBigUInt64LE(24),
    size: Number(b.readBigInt64LE(32)),
    flags,
    accmode: acc,
    flagNames: O_FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, n]) => n),
    fsType,
    fsName: mountType !== '' ? mountType : fsMagicName(fsType),
    mntId: b.readInt32LE(12),
    path,
    procPath,
  };
}

function frame(type: number, a: number, b: number, payload?: Uint8Array): Buffer {
  const len = payload?.length ?? 0;
  const out = Buffer.alloc(FRAME_HDR + len);
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(type, 4);
  out.writeInt32LE(a, 8);
  out.writeInt32LE(b, 12);
  if (payload) out.set(payload, FRAME_HDR);
  return out;
}

// ---------------------------------------------------------------------------
// Nothing may outlive this process. Each live bridge is killed (and its
// server's process group, which the bridge's death would also take down via
// PR_SET_PDEATHSIG) when Node exits or gets SIGINT/SIGTERM/SIGHUP; if Node is
// SIGKILLed, the bridge sees its stdin close and gets PR_SET_PDEATHSIG itself.

const live = new Set<ServerProcess>();
const TERM_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let hooksInstalled = false;

function killAllNow(): void {
  for (const s of live) s.killNow();
}

function onTermSignal(sig: NodeJS.Signals): void {
  killAllNow();
  // Give the signal its default meaning back (and re-raise it) unless
  // someone else is handling it.
  uninstallHooks();
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllNow);
  for (const s of TERM_SIGNALS) process.on(s, onTermSignal);
}

function uninstallHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.off('exit', killAllNow);
  for (const s of TERM_SIGNALS) process.off(s, onTermSignal);
}

// ---------------------------------------------------------------------------

export class ServerProcess {
  /** pid of fpsim-bridge (the backing files live in its fd table) */
  readonly bridgePid: number;
  /** pid of the server, which is also its process group id */
  readonly serverPid: number;
  /** the fd number the server has its device on ({dev} = /dev/fd/<devFd>) */
  readonly devFd: number;
  /** what fpsim-bridge itself printed on stderr (its warnings), capped */
  bridgeLog = '';

  private readonly child: ChildProcess;
  private readonly queue: BridgeEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private inbuf: Buffer = Buffer.alloc(0);
  private exitEvent: BridgeEvent | undefined;
  private bridgeGone = false;
  private readonly bridgeExited: Promise<void>;
  private stopping: Promise<void> | undefined;
  /** chans whose ioctl event went out and has not been answered */
  private readonly pendingIoctls = new Set<number>();

  private constructor(child: ChildProcess, hello: { bridgePid: number; serverPid: number; devFd: number }, rest: Buffer) {
    this.child = child;
    this.bridgePid = hello.bridgePid;
    this.serverPid = hello.serverPid;
    this.devFd = hello.devFd;
    this.bridgeExited = new Promise((resolve) => child.once('close', () => resolve()));
    child.stdout!.on('data', (d: Buffer) => this.onData(d));
    // 'close': the bridge has exited and its stdout is drained.
    child.once('close', () => this.onBridgeGone());
    live.add(this);
    installHooks();
    if (rest.length > 0) this.onData(rest);
  }

  static async start(opts: StartOptions): Promise<ServerProcess> {
    if (opts.argv.length === 0) throw new Error('ServerProcess.start: empty argv');
    const { bridge, preload } = ensureBridgeBuilt();
    const args = ['--preload', preload];
    if (opts.stderrFile !== undefined) args.push('--stderr', opts.stderrFile);
    args.push('--', ...opts.argv);
    const child = spawn(bridge, args, {
      cwd: opts.cwd,
      env: { ...(opts.env ?? process.env), FPSIM_BRIDGE_PARENT: String(process.pid) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let log = '';
    child.stderr!.setEncoding('utf8');
    const onLog = (s: string): void => {
      log = (log + s).slice(-16384);
    };
    child.stderr!.on('data', onLog);
    // Swallow EPIPE on a bridge that died: its exit is reported as an event.
    child.stdin!.on('error', () => {});

    // The first frame is HELLO (pids), unless the bridge fails to start.
    const timeoutMs = opts.startTimeoutMs ?? 10_000;
    const { hello, rest } = await new Promise<{ hello: { bridgePid: number; serverPid: number; devFd: number }; rest: Buffer }>(
      (resolve, reject) => {
        let buf = Buffer.alloc(0);
        const fail = (why: string): void => {
          cleanup();
          child.kill('SIGKILL');
          reject(new Error(`fpsim-bridge did not start: ${why}${log !== '' ? `\n${log}` : ''}`));
        };
        const onData = (d: Buffer): void => {
          buf = Buffer.concat([buf, d]);
          if (buf.length < FRAME_HDR) return;
          const len = buf.readUInt32LE(0);
          if (buf.readUInt16LE(4) !== F.HELLO) return fail(`first frame is type ${buf.readUInt16LE(4)}, not HELLO`);
          if (buf.length < FRAME_HDR + len) return;
          cleanup();
          resolve({
            hello: { bridgePid: buf.readInt32LE(8), serverPid: buf.readInt32LE(12), devFd: buf.readUInt32LE(FRAME_HDR) },
            rest: buf.subarray(FRAME_HDR + len),
          });
        };
        const onError = (e: Error): void => fail(e.message);
        const onClose = (code: number | null, sig: string | null): void => fail(`exited (${code ?? sig})`);
        const timer = setTimeout(() => fail(`no HELLO within ${timeoutMs} ms`), timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          child.stdout!.off('data', onData);
          child.off('error', onError);
          child.off('close', onClose);
        };
        child.stdout!.on('data', onData);
        child.once('error', onError);
        child.once('close', onClose);
      },
    );
    const sp = new ServerProcess(child, hello, rest);
    sp.bridgeLog = log;
    child.stderr!.off('data', onLog);
    child.stderr!.on('data', (s: string) => {
      sp.bridgeLog = (sp.bridgeLog + s).slice(-16384);
    });
    return sp;
  }

  // --- to the server --------------------------------------------------------

  /** Hand one request to the server, on device `dev` (default 0). */
  deliver(bytes: Uint8Array, dev = 0): void {
    this.send(frame(F.DELIVER, dev, 0, bytes));
  }

  /**
   * Wake the thread blocked in the ioctl of event `chan`: `ret` is what
   * ioctl(2) returns (>= 0) or -errno; `extra` is copied back into the
   * argument for ioctls that read it (_IOC_READ), e.g. none of the FUSE ones.
   */
  answerIoctl(chan: number, ret: number, extra?: Uint8Array): void {
    this.pendingIoctls.delete(chan);
    this.send(frame(F.ANSWER, chan, ret, extra));
  }

  /** Close the bridge's copy of a backing file (BackingFdInfo.handle). */
  closeHandle(handle: number): void {
    this.send(frame(F.CLOSE_HANDLE, handle, 0));
  }

  /** Send a signal to the server's process group (e.g. to kill it mid-run). */
  signal(sig: NodeJS.Signals | number): void {
    const n = typeof sig === 'number' ? sig : osConstants.signals[sig];
    this.send(frame(F.SIGNAL, n, 0));
  }

  private send(b: Buffer): void {
    if (this.bridgeGone || this.stopping !== undefined) return;
    this.child.stdin!.write(b);
  }

  // --- from the server ------------------------------------------------------

  private onData(d: Buffer): void {
    this.inbuf = this.inbuf.length === 0 ? d : Buffer.concat([this.inbuf, d]);
    let off = 0;
    while (this.inbuf.length - off >= FRAME_HDR) {
      const len = this.inbuf.readUInt32LE(off);
      if (this.inbuf.length - off < FRAME_HDR + len) break;
      const type = this.inbuf.readUInt16LE(off + 4);
      const a = this.inbuf.readInt32LE(off + 8);
      const b = this.inbuf.readInt32LE(off + 12);
      // Copy: the events outlive the read buffer.
      const payload = Buffer.from(this.inbuf.subarray(off + FRAME_HDR, off + FRAME_HDR + len));
      off += FRAME_HDR + len;
      this.onFrame(type, a, b, payload);
    }
    this.inbuf = this.inbuf.subarray(off);
  }

  private onFrame(type: number, a: number, b: number, p: Buffer): void {
    switch (type) {
      case F.MSG:
        this.push({ t: 'msg', dev: a, bytes: new Uint8Array(p.buffer, p.byteOffset, p.length) });
        return;
      case F.IOCTL: {
        const cmd = p.readUInt32LE(0);
        const argDev = p.readInt32LE(4);
        const tid = p.readInt32LE(8);
        const argLen = p.readUInt32LE(12);
        const infoLen = p.readUInt32LE(16);
        const arg = new Uint8Array(p.buffer, p.byteOffset + 24, argLen);
        const ev: BridgeEvent = { t: 'ioctl', chan: a, dev: b, tid, cmd, arg };
        if (cmd === FUSE_DEV_IOC_CLONE) ev.argDev = argDev;
        if (infoLen > 0) ev.file = decodeFileInfo(p.subarray(24 + argLen, 24 + argLen + infoLen));
        this.pendingIoctls.add(a);
        this.push(ev);
        return;
      }
      case F.EXIT: {
        const ev: BridgeEvent = {
          t: 'exit',
          code: a >= 0 ? a : null,
          signal: b > 0 ? (SIGNAL_NAMES.get(b) ?? `SIG${b}`) : null,
          stderrTail: p.toString('utf8'),
        };
        this.exitEvent = ev;
        this.pendingIoctls.clear();
        this.push(ev);
        return;
      }
      default:
        this.bridgeLog += `\n[fpsim bridge: unknown frame type ${type} ignored]`;
    }
  }

  private onBridgeGone(): void {
    if (this.bridgeGone) return;
    this.bridgeGone = true;
    live.delete(this);
    if (live.size === 0) uninstallHooks();
    if (this.exitEvent === undefined) {
      // The bridge died before the server's exit was reported (it was
      // killed, or crashed): the server went with it (PR_SET_PDEATHSIG), how
      // exactly nobody saw.
      const how = this.child.signalCode ?? `exit ${this.child.exitCode}`;
      const ev: BridgeEvent = {
        t: 'exit',
        code: null,
        signal: null,
        stderrTail: `fpsim-bridge ended (${how}) without reporting the server's exit; the server is killed with it${
          this.bridgeLog !== '' ? `; bridge log:\n${this.bridgeLog}` : ''
        }`,
      };
      this.exitEvent = ev;
      this.push(ev);
    }
    this.wake();
  }

  private push(ev: BridgeEvent): void {
    this.queue.push(ev);
    this.wake();
  }

  private wake(): void {
    const ws = [...this.waiters];
    this.waiters.clear();
    for (const w of ws) w();
  }

  /** Resolves when an event is queued, the bridge is gone, or after ms. */
  private waitForEvent(ms: number): Promise<void> {
    if (this.queue.length > 0 || this.bridgeGone || ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const w = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(w);
        resolve();
      }, ms);
      this.waiters.add(w);
    });
  }

  /**
   * The next event, waiting up to timeoutMs. Once the server has exited and
   * everything before it was taken, nothing more can come: `exit` again.
   */
  async next(timeoutMs: number): Promise<BridgeEvent> {
    if (this.queue.length === 0 && this.exitEvent === undefined) await this.waitForEvent(timeoutMs);
    const ev = this.queue.shift();
    if (ev !== undefined) return ev;
    return this.exitEvent ?? { t: 'timeout' };
  }

  /**
   * Waits until the server has nothing left to do on its own: `outstanding`
   * more replies (messages with unique != 0) have come, or a server thread is
   * blocked in an ioctl (an unanswered `ioctl` event, including one returned
   * earlier and still unanswered), or the server exited. Returns every event
   * taken meanwhile, in order, ending with `{t:'timeout'}` if none of that
   * happened within timeoutMs. No wall-clock quiet periods: a driver calls
   * settle(n) after delivering n requests that expect replies, handles what
   * it gets (answering ioctls), and settles again for what is still missing.
   */
  async settle(outstanding: number, timeoutMs: number): Promise<BridgeEvent[]> {
    const out: BridgeEvent[] = [];
    const deadline = Date.now() + timeoutMs;
    let replies = 0;
    for (;;) {
      // Take everything already here before judging.
      for (let ev = this.queue.shift(); ev !== undefined; ev = this.queue.shift()) {
        out.push(ev);
        if (ev.t === 'msg' && isReply(ev.bytes)) replies++;
      }
      if (replies >= outstanding || this.pendingIoctls.size > 0 || this.exitEvent !== undefined) return out;
      const left = deadline - Date.now();
      if (left <= 0) {
        out.push({ t: 'timeout' });
        return out;
      }
      await this.waitForEvent(left);
    }
  }

  // --- ending ---------------------------------------------------------------

  /** Kill the server and the bridge and wait for both. Safe to call twice. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      if (!this.bridgeGone) {
        // STOP makes the bridge SIGKILL the server's group, reap it and exit;
        // closing stdin would do the same.
        this.child.stdin!.end(frame(F.STOP, 0, 0));
        const timer = setTimeout(() => this.killNow(), 3000);
        await this.bridgeExited;
        clearTimeout(timer);
      }
      this.onBridgeGone();
    })();
    return this.stopping;
  }

  /** Synchronous last resort (process exit, signals): SIGKILL both. */
  killNow(): void {
    if (this.bridgeGone) return;
    // The server's group first, while the bridge (its reaper) still holds
    // the zombie, so the group id cannot have been reused.
    if (this.exitEvent === undefined) {
      try {
        process.kill(-this.serverPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    try {
      process.kill(this.bridgePid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** A message the server wrote is a reply when its out header's unique is not 0. */
function isReply(bytes: Uint8Array): boolean {
  if (bytes.length < 16) return true; // malformed: count it, the caller will see it
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return dv.getBigUint64(8, true) !== 0n;
}
