// The bridge: libfuse's passthrough_hp (built from the third-party tarball)
// served by hand over fpsim-bridge, with requests and replies encoded by
// sim/wire, as the model kernel will later do. Shows that the server's
// replies, its passthrough ioctls (with the backing file), its threads, its
// clone fds and its death all reach Node, and that nothing outlives a stop()
// or a SIGKILLed Node.
//
// Needs root, the libfuse tarball, meson, ninja and g++; otherwise it skips
// and says why. The first run builds libfuse (30-50 s) into the cache.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildPassthroughHpVariant, ensurePassthroughHp, passthroughHpUnavailable } from '../bridge/libfuse.ts';
import { gccAvailable } from '../bridge/native/build.ts';
import { ServerProcess, type BridgeEvent } from '../bridge/server-process.ts';
import { VARIANTS, backingPerOpen, closeAfterOpen, neverClose } from '../bridge/variants.ts';
import { underCI } from '../cli/progress.ts';
import { cstring, decodeReply, decodeReplyArg, encodeRequest, encodeWriteBody, type DecodedReply } from '../sim/wire/messages.ts';
import {
  decode,
  encode,
  zeroValue,
  FUSE_BACKING_MAP,
  FUSE_GETATTR_IN,
  FUSE_INIT_IN,
  FUSE_OPEN_IN,
  FUSE_READ_IN,
  FUSE_RELEASE_IN,
  type FuseInitOut,
} from '../sim/wire/structs.ts';
import {
  FOPEN_PASSTHROUGH,
  FUSE_DEV_IOC_BACKING_CLOSE,
  FUSE_DEV_IOC_BACKING_OPEN,
  FUSE_DEV_IOC_CLONE,
  FUSE_INIT_FLAG,
  FUSE_OPCODE,
  FUSE_ROOT_ID,
  initFlagNames,
  joinInitFlags,
  splitInitFlags,
} from '../sim/wire/uapi.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const skipReason: string | undefined =
  process.getuid?.() !== 0
    ? 'not root'
    : !gccAvailable()
      ? 'no gcc for the bridge'
      : passthroughHpUnavailable();
if (skipReason !== undefined) console.log(`bridge tests skipped: ${skipReason}`);
// under CI .ci/run installs meson, ninja, gcc and g++: a missing build tool is a setup failure
// there, not a skip (test/needs.ts); no root or no libfuse tarball still skips, saying why
if (skipReason !== undefined && underCI() && /not on PATH|no gcc/.test(skipReason)) {
  describe('fpsim-bridge build tools', () => {
    it('are installed (.ci/run installs them)', () => {
      throw new Error(`${skipReason}: under CI .ci/run installs it, so this is a setup failure, not a skip`);
    });
  });
}

type IoctlEvent = Extract<BridgeEvent, { t: 'ioctl' }>;
const O_RDONLY = 0;
const O_RDWR = 2;
const ENOTTY = 25;

/**
 * What a 6.9+ kernel offers in INIT (fuse_send_init), minus DAX and the
 * reserved bit: the server picks from these.
 */
const KERNEL_INIT_FLAGS = (Object.entries(FUSE_INIT_FLAG) as [string, bigint][])
  .filter(([n]) => !['INIT_RESERVED', 'HAS_INODE_DAX', 'MAP_ALIGNMENT', 'FILE_OPS'].includes(n))
  .reduce((a, [, bit]) => a | bit, 0n);

/** A hand-driven kernel side: numbers requests, pairs replies, answers ioctls as told. */
class Peer {
  private unique = 0;
  /** every event seen, in order */
  readonly events: BridgeEvent[] = [];
  /** replies that arrived while waiting for another one */
  private readonly early = new Map<string, { dev: number; reply: DecodedReply }>();

  constructor(readonly sp: ServerProcess) {}

  send(opcode: number, nodeid: number, body: Uint8Array | null, dev = 0): number {
    this.unique += 2;
    this.sp.deliver(encodeRequest({ opcode, unique: this.unique, nodeid, uid: 0, gid: 0, pid: process.pid }, body), dev);
    return this.unique;
  }

  /**
   * Waits for the reply to `unique`, answering every ioctl that comes first
   * with onIoctl (default: fail the test). Returns the reply and those ioctls.
   */
  async reply(
    unique: number,
    onIoctl: (ev: IoctlEvent) => number = (ev) => {
      throw new Error(`unexpected ioctl 0x${ev.cmd.toString(16)}`);
    },
    timeoutMs = 10_000,
  ): Promise<{ reply: DecodedReply; dev: number; ioctls: IoctlEvent[] }> {
    const ioctls: IoctlEvent[] = [];
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.early.get(String(unique));
      if (got !== undefined) {
        this.early.delete(String(unique));
        return { ...got, ioctls };
      }
      const evs = await this.sp.settle(1, Math.max(1, deadline - Date.now()));
      for (const ev of evs) {
        this.events.push(ev);
        if (ev.t === 'msg') {
          const r = decodeReply(ev.bytes);
          this.early.set(String(r.header.unique), { dev: ev.dev, reply: r });
        } else if (ev.t === 'ioctl') {
          ioctls.push(ev);
          this.sp.answerIoctl(ev.chan, onIoctl(ev));
        } else {
          throw new Error(`waiting for reply ${unique}: ${JSON.stringify(ev)}\n${this.sp.bridgeLog}`);
        }
      }
    }
  }

  async init(flags = KERNEL_INIT_FLAGS): Promise<FuseInitOut> {
    const body = encode(FUSE_INIT_IN, { ...zeroValue(FUSE_INIT_IN), major: 7, minor: 40, max_readahead: 131072, ...splitInitFlags(flags) });
    const { reply } = await this.reply(this.send(FUSE_OPCODE.INIT, 0, body));
    expect(reply.header.error).toBe(0);
    const d = decodeReplyArg(FUSE_OPCODE.INIT, reply.body);
    if (d.op !== 'INIT') throw new Error('not INIT');
    return d.arg;
  }

  async lookup(name: string, parent = FUSE_ROOT_ID): Promise<{ nodeid: number; size: number }> {
    const { reply } = await this.reply(this.send(FUSE_OPCODE.LOOKUP, parent, cstring(name)));
    expect(reply.header.error).toBe(0);
    const d = decodeReplyArg(FUSE_OPCODE.LOOKUP, reply.body);
    if (d.op !== 'LOOKUP') throw new Error('not LOOKUP');
    return { nodeid: d.arg.nodeid, size: d.arg.attr.size };
  }

  openBody(flags: number): Uint8Array {
    return encode(FUSE_OPEN_IN, { flags, open_flags: 0 });
  }

  releaseBody(fh: number, flags: number): Uint8Array {
    return encode(FUSE_RELEASE_IN, { fh, flags, release_flags: 0, lock_owner: 0 });
  }
}

function openOut(reply: DecodedReply): { fh: number; open_flags: number; backing_id: number } {
  expect(reply.header.error).toBe(0);
  const d = decodeReplyArg(FUSE_OPCODE.OPEN, reply.body);
  if (d.op !== 'OPEN') throw new Error('not OPEN');
  return d.arg;
}

function u32(arg: Uint8Array): number {
  return new DataView(arg.buffer, arg.byteOffset, arg.length).getUint32(0, true);
}

/** 'R', 'S', 'Z'..., or undefined when the pid is gone. */
function procState(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2, s.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** Live (not zombie) processes whose command line mentions `text`. */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(text)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out.filter((p) => p !== process.pid && !['Z', 'X', undefined].includes(procState(p)));
}

/** Waits until none of pids is running (gone or a zombie); returns those that still are. */
async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const alive = pids.filter((p) => !['Z', 'X', undefined].includes(procState(p)));
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(skipReason !== undefined)('fpsim-bridge with libfuse passthrough_hp', () => {
  let hp = '';
  let work = '';
  let src = '';
  const CONTENT = 'hello from the backing file\n';
  const running: ServerProcess[] = [];

  const start = async (flags: string[], opts: { argv?: string[]; bin?: string } = {}): Promise<ServerProcess> => {
    const sp = await ServerProcess.start({
      argv: opts.argv ?? [opts.bin ?? hp, '--foreground', '--nosplice', ...flags, src, '{dev}'],
      stderrFile: join(work, `stderr-${running.length}.txt`),
    });
    running.push(sp);
    return sp;
  };

  beforeAll(() => {
    const t0 = Date.now();
    const r = ensurePassthroughHp();
    if (!r.ok) throw new Error(r.reason);
    hp = r.path;
    console.log(
      r.buildMs !== undefined
        ? `libfuse + passthrough_hp built in ${(r.buildMs / 1000).toFixed(1)} s`
        : `passthrough_hp from the cache (${Date.now() - t0} ms): ${hp}`,
    );
    work = mkdtempSync(join(tmpdir(), 'fpsim-bridge-test-'));
    src = join(work, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), CONTENT);
    writeFileSync(join(src, 'a'), 'aaaa');
    writeFileSync(join(src, 'b'), 'bbbbbbbb');
    writeFileSync(join(src, 'big'), '');
  }, 600_000);

  afterEach(async () => {
    for (const sp of running.splice(0)) await sp.stop();
  });

  afterAll(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('INIT, LOOKUP, OPEN with BACKING_OPEN, RELEASE with BACKING_CLOSE; then 2000 round trips', async () => {
    const sp = await start(['--single']);
    const peer = new Peer(sp);

    const init = await peer.init();
    const flags = joinInitFlags(init.flags, init.flags2);
    console.log(`INIT reply: ${init.major}.${init.minor}, max_write ${init.max_write}, max_pages ${init.max_pages}, ` +
      `max_stack_depth ${init.max_stack_depth}, flags ${initFlagNames(flags).join(' ')}`);
    expect(flags & FUSE_INIT_FLAG.PASSTHROUGH).toBe(FUSE_INIT_FLAG.PASSTHROUGH);
    expect(flags & FUSE_INIT_FLAG.INIT_EXT).toBe(FUSE_INIT_FLAG.INIT_EXT);
    // libfuse: max_backing_stack_depth (0 unless the server sets it) + 1 for the FUSE layer.
    expect(init.max_stack_depth).toBe(1);
    // Passthrough and writeback cache are exclusive; passthrough_hp asks for passthrough.
    expect(flags & FUSE_INIT_FLAG.WRITEBACK_CACHE).toBe(0n);
    // No ioctl at startup or INIT on a /dev/fd/N device (no SYNC_INIT, no CLONE).
    expect(peer.events.filter((e) => e.t === 'ioctl')).toEqual([]);

    const { nodeid, size } = await peer.lookup('file');
    expect(size).toBe(CONTENT.length);

    // OPEN: the server registers the file it opened as the backing file.
    let opened: IoctlEvent | undefined;
    const open = await peer.reply(peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDWR)), (ev) => {
      opened = ev;
      return 1; // backing id 1
    });
    expect(open.ioctls).toHaveLength(1);
    const ev = opened!;
    expect(ev.cmd).toBe(FUSE_DEV_IOC_BACKING_OPEN);
    expect(ev.dev).toBe(0);
    expect(ev.tid).toBe(sp.serverPid); // --single: the main thread
    const map = decode(FUSE_BACKING_MAP, ev.arg);
    expect(map.flags).toBe(0);
    expect(map.fd).toBeGreaterThanOrEqual(0);
    const file = ev.file!;
    const st = statSync(join(src, 'file'), { bigint: true });
    expect(file.kind).toBe('reg');
    expect(file.dev).toBe(Number(st.dev)); // on the source dir's filesystem
    expect(file.ino).toBe(st.ino);
    expect(file.size).toBe(CONTENT.length);
    expect(file.accmode).toBe('O_RDWR');
    expect(file.fsType).toBe(statfsSync(src).type);
    expect(file.path).toBe(join(src, 'file'));
    expect(file.procPath).toMatch(new RegExp(`^/proc/${sp.bridgePid}/fd/\\d+$`));
    // The model can reach the real file through the bridge's copy.
    expect(readFileSync(file.procPath, 'utf8')).toBe(CONTENT);
    console.log(`backing file: ${file.kind} on ${file.fsName} (0x${file.fsType.toString(16)}), ${file.accmode} ${file.flagNames.join(' ')}, ${file.path}`);

    const oo = openOut(open.reply);
    expect(oo.open_flags & FOPEN_PASSTHROUGH).toBe(FOPEN_PASSTHROUGH);
    expect(oo.backing_id).toBe(1);

    // A second open of the same inode shares the inode's backing id: no ioctl.
    const open2 = await peer.reply(peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDONLY)));
    expect(open2.ioctls).toEqual([]);
    const oo2 = openOut(open2.reply);
    expect(oo2.backing_id).toBe(1);
    const rel2 = await peer.reply(peer.send(FUSE_OPCODE.RELEASE, nodeid, peer.releaseBody(oo2.fh, O_RDONLY)));
    expect(rel2.ioctls).toEqual([]);

    // The last RELEASE closes the backing id before replying.
    const rel = await peer.reply(peer.send(FUSE_OPCODE.RELEASE, nodeid, peer.releaseBody(oo.fh, O_RDWR)), () => 0);
    expect(rel.ioctls.map((e) => [e.cmd, u32(e.arg)])).toEqual([[FUSE_DEV_IOC_BACKING_CLOSE, 1]]);
    expect(rel.reply.header.error).toBe(0);

    // The model drops its reference: the bridge closes its copy.
    sp.closeHandle(file.handle);
    const fdLink = file.procPath;
    for (let i = 0; i < 100; i++) {
      try {
        readlinkSync(fdLink);
      } catch {
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(() => readlinkSync(fdLink)).toThrow();

    // Round trips: LOOKUP and GETATTR, each delivered and settled one at a time.
    const N = 1000;
    const lat: number[] = [];
    const getattr = encode(FUSE_GETATTR_IN, { getattr_flags: 0, dummy: 0, fh: 0 });
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) {
      for (const [op, body] of [
        [FUSE_OPCODE.LOOKUP, cstring('file')],
        [FUSE_OPCODE.GETATTR, getattr],
      ] as const) {
        const t = process.hrtime.bigint();
        const u = peer.send(op, op === FUSE_OPCODE.LOOKUP ? FUSE_ROOT_ID : nodeid, body);
        const evs = await sp.settle(1, 5000);
        lat.push(Number(process.hrtime.bigint() - t) / 1000);
        expect(evs).toHaveLength(1);
        const r = decodeReply((evs[0] as { bytes: Uint8Array }).bytes);
        expect(r.header.unique).toBe(u);
        expect(r.header.error).toBe(0);
      }
    }
    const totalMs = Number(process.hrtime.bigint() - t0) / 1e6;
    lat.sort((a, b) => a - b);
    const pct = (p: number): string => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!.toFixed(0);
    console.log(
      `${lat.length} LOOKUP/GETATTR round trips in ${totalMs.toFixed(0)} ms: mean ${((totalMs * 1000) / lat.length).toFixed(0)} µs, ` +
        `p50 ${pct(0.5)} µs, p99 ${pct(0.99)} µs, max ${lat[lat.length - 1]!.toFixed(0)} µs`,
    );

    await sp.stop();
    await sp.stop(); // idempotent
    expect(await waitGone([sp.bridgePid, sp.serverPid], 3000)).toEqual([]);
    expect(procState(sp.bridgePid)).toBeUndefined(); // reaped by Node, not a zombie
  });

  it('--nopassthrough: plain opens, no ioctls, data through READ and WRITE (4 MiB messages)', async () => {
    const sp = await start(['--single', '--nopassthrough']);
    const peer = new Peer(sp);
    const init = await peer.init();
    const flags = joinInitFlags(init.flags, init.flags2);
    console.log(`--nopassthrough INIT reply flags: ${initFlagNames(flags).join(' ')}`);
    const { nodeid } = await peer.lookup('file');
    const open = await peer.reply(peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDONLY)));
    expect(open.ioctls).toEqual([]);
    const oo = openOut(open.reply);
    expect(oo.open_flags & FOPEN_PASSTHROUGH).toBe(0);
    expect(oo.backing_id).toBe(0);
    const read = await peer.reply(
      peer.send(
        FUSE_OPCODE.READ,
        nodeid,
        encode(FUSE_READ_IN, { fh: oo.fh, offset: 0, size: 4096, read_flags: 0, lock_owner: 0, flags: O_RDONLY, padding: 0 }),
      ),
    );
    expect(read.reply.header.error).toBe(0);
    expect(Buffer.from(read.reply.body).toString()).toBe(CONTENT);
    const rel = await peer.reply(peer.send(FUSE_OPCODE.RELEASE, nodeid, peer.releaseBody(oo.fh, O_RDONLY)));
    expect(rel.ioctls).toEqual([]);

    // A WRITE of max_write bytes: bigger than libfuse's pre-INIT read buffer,
    // so it only arrives whole because the shim's read() says EINVAL (as
    // /dev/fuse does) and libfuse grows its buffer to max_write.
    const big = await peer.lookup('big');
    const bo = openOut((await peer.reply(peer.send(FUSE_OPCODE.OPEN, big.nodeid, peer.openBody(O_RDWR)))).reply);
    const data = Buffer.alloc(init.max_write, 0x5a);
    const w = await peer.reply(
      peer.send(FUSE_OPCODE.WRITE, big.nodeid, encodeWriteBody({ fh: bo.fh, offset: 0, write_flags: 0, lock_owner: 0, flags: O_RDWR, padding: 0 }, data)),
    );
    expect(w.reply.header.error).toBe(0);
    expect(decodeReplyArg(FUSE_OPCODE.WRITE, w.reply.body)).toMatchObject({ arg: { size: data.length } });
    const r = await peer.reply(
      peer.send(FUSE_OPCODE.READ, big.nodeid, encode(FUSE_READ_IN, { fh: bo.fh, offset: 0, size: data.length, read_flags: 0, lock_owner: 0, flags: O_RDWR, padding: 0 })),
    );
    expect(Buffer.from(r.reply.body).equals(data)).toBe(true);
    expect(statSync(join(src, 'big')).size).toBe(data.length);
    expect(peer.events.filter((e) => e.t === 'ioctl')).toEqual([]);
  });

  it('--num-threads 4: two concurrent OPENs block in two ioctls, each gets its own answer', async () => {
    const sp = await start(['--num-threads', '4']);
    const peer = new Peer(sp);
    await peer.init();
    const a = await peer.lookup('a');
    const b = await peer.lookup('b');
    const ua = peer.send(FUSE_OPCODE.OPEN, a.nodeid, peer.openBody(O_RDONLY));
    const ub = peer.send(FUSE_OPCODE.OPEN, b.nodeid, peer.openBody(O_RDONLY));
    // Both threads block before either OPEN can be answered.
    const ioctls: IoctlEvent[] = [];
    while (ioctls.length < 2) {
      const ev = await sp.next(10_000);
      if (ev.t !== 'ioctl') throw new Error(`expected an ioctl, got ${JSON.stringify(ev)}`);
      ioctls.push(ev);
    }
    expect(ioctls.map((e) => e.cmd)).toEqual([FUSE_DEV_IOC_BACKING_OPEN, FUSE_DEV_IOC_BACKING_OPEN]);
    expect(new Set(ioctls.map((e) => e.chan)).size).toBe(2);
    expect(new Set(ioctls.map((e) => e.tid)).size).toBe(2);
    // Answer the later one first, each with an id that names its file.
    const idFor = (e: IoctlEvent): number => (e.file!.path.endsWith('/a') ? 11 : 22);
    expect(ioctls.map(idFor).sort()).toEqual([11, 22]);
    for (const e of [...ioctls].reverse()) sp.answerIoctl(e.chan, idFor(e));
    const ra = await peer.reply(ua);
    const rb = await peer.reply(ub);
    expect(openOut(ra.reply).backing_id).toBe(11);
    expect(openOut(rb.reply).backing_id).toBe(22);
  });

  it('--clone-fd: a worker opens /dev/fuse and CLONEs it; requests on the clone are answered on it', async () => {
    const sp = await start(['--clone-fd', '--num-threads', '2']);
    // Before any request, the first worker thread opens /dev/fuse (a new
    // device, 1) and attaches it to the session fd (device 0).
    const clone = await sp.next(10_000);
    if (clone.t !== 'ioctl') throw new Error(`expected CLONE, got ${JSON.stringify(clone)}`);
    expect(clone.cmd).toBe(FUSE_DEV_IOC_CLONE);
    expect(clone.dev).toBe(1);
    expect(clone.argDev).toBe(0);
    expect(u32(clone.arg)).toBe(sp.devFd);
    sp.answerIoctl(clone.chan, 0);
    // INIT on the clone: the reply comes back on the clone. Any further
    // worker clones too (answered 0 by the Peer).
    const peer = new Peer(sp);
    const unique = peer.send(FUSE_OPCODE.INIT, 0, encode(FUSE_INIT_IN, { ...zeroValue(FUSE_INIT_IN), major: 7, minor: 40, max_readahead: 131072, ...splitInitFlags(KERNEL_INIT_FLAGS) }), 1);
    const r = await peer.reply(unique, (ev) => {
      expect(ev.cmd).toBe(FUSE_DEV_IOC_CLONE);
      return 0;
    });
    expect(r.dev).toBe(1);
    expect(r.reply.header.error).toBe(0);
  });

  it('a server killed mid-run (blocked in an ioctl) gives an exit event', async () => {
    const sp = await start(['--single']);
    const peer = new Peer(sp);
    await peer.init();
    const { nodeid } = await peer.lookup('file');
    peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDONLY));
    const evs = await sp.settle(1, 10_000);
    expect(evs.map((e) => e.t)).toEqual(['ioctl']); // blocked in BACKING_OPEN
    process.kill(sp.serverPid, 'SIGKILL');
    const ev = await sp.next(5000);
    expect(ev).toMatchObject({ t: 'exit', code: null, signal: 'SIGKILL' });
    // Nothing can follow: the exit again, at once.
    expect(await sp.next(5000)).toBe(ev);
    // The model may still answer; the dead thread's answer is dropped.
    sp.answerIoctl((evs[0] as IoctlEvent).chan, -ENOTTY);
    // The bridge still holds the backing file for the model.
    const file = (evs[0] as IoctlEvent).file!;
    expect(readFileSync(file.procPath, 'utf8')).toBe(CONTENT);
  });

  it('an exit reports its status and the tail of stderr', async () => {
    const sp = await start([], { argv: ['/bin/sh', '-c', 'echo "no such source" >&2; exit 3', 'sh', '{dev}'] });
    const ev = await sp.next(5000);
    expect(ev).toMatchObject({ t: 'exit', code: 3, signal: null, stderrTail: 'no such source\n' });
  });

  it('a server that never replies gives timeout', async () => {
    const sp = await start([], { argv: ['/bin/sh', '-c', 'exec sleep 1000', 'sh', '{dev}'] });
    new Peer(sp).send(FUSE_OPCODE.INIT, 0, encode(FUSE_INIT_IN, { ...zeroValue(FUSE_INIT_IN), major: 7, minor: 40 }));
    const evs = await sp.settle(1, 300);
    expect(evs).toEqual([{ t: 'timeout' }]);
    expect(await sp.next(100)).toEqual({ t: 'timeout' });
    await sp.stop();
    expect(await waitGone([sp.bridgePid, sp.serverPid], 3000)).toEqual([]);
  });

  it('a bridge that gets SIGTERM kills the server first; one that gets SIGKILL takes it down too', async () => {
    const a = await start(['--single']);
    process.kill(a.bridgePid, 'SIGTERM');
    expect(await a.next(5000)).toMatchObject({ t: 'exit', code: null, signal: 'SIGKILL' });
    expect(await waitGone([a.bridgePid, a.serverPid], 3000)).toEqual([]);

    const b = await start(['--single']);
    process.kill(b.bridgePid, 'SIGKILL');
    const ev = await b.next(5000);
    expect(ev).toMatchObject({ t: 'exit', code: null, signal: null });
    expect((ev as { stderrTail: string }).stderrTail).toMatch(/fpsim-bridge ended \(SIGKILL\)/);
    // The server's PR_SET_PDEATHSIG.
    expect(await waitGone([b.serverPid], 3000)).toEqual([]);
  });

  it('FPSIM_BRIDGE_ORPHAN_TREE: removed by a bridge whose Node goes (SIGTERM, its PDEATHSIG), not on STOP, and only a fpsim-srv-* directory', async () => {
    const tree = (name: string) => {
      const d = join(work, name);
      mkdirSync(join(d, 'sub'), { recursive: true });
      writeFileSync(join(d, 'sub', 'f'), 'x');
      return d;
    };
    const withTree = (d: string) =>
      ServerProcess.start({ argv: [hp, '--foreground', '--nosplice', '--single', src, '{dev}'], env: { ...process.env, FPSIM_BRIDGE_ORPHAN_TREE: d } });
    const gone = tree('fpsim-srv-gone');
    const a = await withTree(gone);
    running.push(a);
    process.kill(a.bridgePid, 'SIGTERM');
    expect(await a.next(5000)).toMatchObject({ t: 'exit' });
    expect(await waitGone([a.bridgePid], 3000)).toEqual([]);
    expect(readdirSync(work)).not.toContain('fpsim-srv-gone');

    const kept = tree('fpsim-srv-kept');
    const b = await withTree(kept);
    running.push(b);
    await b.stop(); // Node stops it: Node removes its own tree
    expect(readdirSync(join(kept, 'sub'))).toEqual(['f']);

    const other = tree('not-a-server-tree');
    const d = await withTree(other);
    running.push(d);
    process.kill(d.bridgePid, 'SIGTERM');
    expect(await waitGone([d.bridgePid], 3000)).toEqual([]);
    expect(readdirSync(join(other, 'sub'))).toEqual(['f']);
  });

  it('a SIGKILLed Node process leaves no bridge and no server behind', async () => {
    const marker = join(work, 'orphan-src');
    mkdirSync(marker);
    const script = join(work, 'child.mjs');
    writeFileSync(
      script,
      `import { ServerProcess } from ${JSON.stringify(pathToFileURL(join(ROOT, 'bridge', 'server-process.ts')).href)};
const sp = await ServerProcess.start({ argv: JSON.parse(process.env.FPSIM_TEST_ARGV) });
process.stdout.write(JSON.stringify({ bridge: sp.bridgePid, server: sp.serverPid }) + '\\n');
setInterval(() => {}, 1000);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: { ...process.env, FPSIM_TEST_ARGV: JSON.stringify([hp, '--foreground', '--single', '--nosplice', marker, '{dev}']) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.once('exit', (c, s) => reject(new Error(`child exited early (${c ?? s})`)));
    });
    const pids = JSON.parse(line) as { bridge: number; server: number };
    expect(processesMentioning(marker).sort()).toEqual([pids.bridge, pids.server].sort());
    child.kill('SIGKILL');
    expect(await waitGone([pids.bridge, pids.server], 5000)).toEqual([]);
    expect(processesMentioning(marker)).toEqual([]);
  });

  describe('faulty passthrough_hp variants', () => {
    const bins = new Map<string, string>();
    beforeAll(() => {
      for (const v of VARIANTS) {
        const t0 = Date.now();
        bins.set(v.name, buildPassthroughHpVariant(v.name, v.edit));
        console.log(`variant ${v.name}: ${Date.now() - t0} ms`);
      }
    }, 600_000);

    it('each edit fails loudly when its anchor is missing', () => {
      for (const v of VARIANTS) expect(() => v.edit('int main() {}\n')).toThrow(new RegExp(`variant ${v.name}: anchor not found`));
    });

    it(`${closeAfterOpen.name}: BACKING_CLOSE right after the OPEN reply`, async () => {
      const sp = await start(['--single'], { bin: bins.get(closeAfterOpen.name)! });
      const peer = new Peer(sp);
      await peer.init();
      const { nodeid } = await peer.lookup('file');
      // Sends an OPEN and returns its reply and the ioctls around it; the
      // BACKING_CLOSE follows the reply at once (maybe in the same batch).
      const openThenClose = async (backingId: number | undefined): Promise<{ reply: DecodedReply; ioctls: number[][] }> => {
        const before = peer.events.length;
        const unique = peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDONLY));
        const r = await peer.reply(unique, (e) => {
          if (e.cmd === FUSE_DEV_IOC_BACKING_OPEN && backingId !== undefined) return backingId;
          if (e.cmd === FUSE_DEV_IOC_BACKING_CLOSE) return 0;
          throw new Error(`unexpected ioctl 0x${e.cmd.toString(16)}`);
        });
        if (!r.ioctls.some((e) => e.cmd === FUSE_DEV_IOC_BACKING_CLOSE)) {
          const ev = await sp.next(5000);
          if (ev.t !== 'ioctl') throw new Error(`expected BACKING_CLOSE, got ${JSON.stringify(ev)}`);
          peer.events.push(ev);
          sp.answerIoctl(ev.chan, 0);
        }
        const evs = peer.events.slice(before);
        const replyAt = evs.findIndex((e) => e.t === 'msg' && decodeReply(e.bytes).header.unique === unique);
        const closeAt = evs.findIndex((e) => e.t === 'ioctl' && e.cmd === FUSE_DEV_IOC_BACKING_CLOSE);
        expect(replyAt).toBeGreaterThanOrEqual(0);
        expect(closeAt).toBeGreaterThan(replyAt); // after the reply, not before
        const ioctls = evs.flatMap((e) => (e.t === 'ioctl' ? [[e.cmd, u32(e.arg)]] : []));
        return { reply: r.reply, ioctls };
      };
      const first = await openThenClose(5);
      expect(openOut(first.reply).backing_id).toBe(5);
      expect(first.ioctls.map(([cmd]) => cmd)).toEqual([FUSE_DEV_IOC_BACKING_OPEN, FUSE_DEV_IOC_BACKING_CLOSE]);
      expect(first.ioctls[1]).toEqual([FUSE_DEV_IOC_BACKING_CLOSE, 5]);
      // The next open of the inode reuses the id it already closed (no BACKING_OPEN), and closes it again.
      const second = await openThenClose(undefined);
      expect(openOut(second.reply).backing_id).toBe(5);
      expect(second.ioctls).toEqual([[FUSE_DEV_IOC_BACKING_CLOSE, 5]]);
    });

    it(`${neverClose.name}: the last RELEASE closes nothing`, async () => {
      const sp = await start(['--single'], { bin: bins.get(neverClose.name)! });
      const peer = new Peer(sp);
      await peer.init();
      const { nodeid } = await peer.lookup('file');
      const open = await peer.reply(peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDONLY)), () => 1);
      const oo = openOut(open.reply);
      const rel = await peer.reply(peer.send(FUSE_OPCODE.RELEASE, nodeid, peer.releaseBody(oo.fh, O_RDONLY)));
      expect(rel.ioctls).toEqual([]);
      // So the next open registers the file again.
      const again = await peer.reply(peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDONLY)), () => 2);
      expect(again.ioctls.map((e) => e.cmd)).toEqual([FUSE_DEV_IOC_BACKING_OPEN]);
      expect(openOut(again.reply).backing_id).toBe(2);
    });

    it(`${backingPerOpen.name}: two opens of one inode, two backing ids, each closed on its release`, async () => {
      const sp = await start(['--single'], { bin: bins.get(backingPerOpen.name)! });
      const peer = new Peer(sp);
      await peer.init();
      const { nodeid } = await peer.lookup('file');
      let next = 1;
      const o1 = await peer.reply(peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDONLY)), () => next++);
      const o2 = await peer.reply(peer.send(FUSE_OPCODE.OPEN, nodeid, peer.openBody(O_RDONLY)), () => next++);
      expect([o1.ioctls.length, o2.ioctls.length]).toEqual([1, 1]);
      const [f1, f2] = [openOut(o1.reply), openOut(o2.reply)];
      expect([f1.backing_id, f2.backing_id]).toEqual([1, 2]);
      const r2 = await peer.reply(peer.send(FUSE_OPCODE.RELEASE, nodeid, peer.releaseBody(f2.fh, O_RDONLY)), () => 0);
      expect(r2.ioctls.map((e) => [e.cmd, u32(e.arg)])).toEqual([[FUSE_DEV_IOC_BACKING_CLOSE, 2]]);
      const r1 = await peer.reply(peer.send(FUSE_OPCODE.RELEASE, nodeid, peer.releaseBody(f1.fh, O_RDONLY)), () => 0);
      expect(r1.ioctls.map((e) => [e.cmd, u32(e.arg)])).toEqual([[FUSE_DEV_IOC_BACKING_CLOSE, 1]]);
    });
  });
});
