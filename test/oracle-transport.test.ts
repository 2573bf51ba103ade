// The real-kernel FUSE transport (oracle/transport.ts + the native helper).
// Skips, saying why, where /dev/fuse, root, gcc or a passthrough kernel is
// missing. Never stats a FUSE mount from this process: the user side always
// runs in a child (fpsim-user), with timeouts.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RealServer } from '../oracle/real-server.ts';
import { MOUNT_PARENT, RealFuseTransport, availability, fpsimMounts, runUser } from '../oracle/transport.ts';
import { userData } from '../oracle/user.ts';
import type { ServerPolicy } from '../sim/server/policy.ts';
import { withRealKernelLock } from './real-kernel-lock.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const avail = availability();
const skipReason = avail.ok ? '' : avail.reason;
if (!avail.ok) console.warn(`oracle-transport tests skipped: ${skipReason}`);
const title = avail.ok ? 'real-kernel FUSE transport' : `real-kernel FUSE transport (skipped: ${skipReason})`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a mount is listed or its directory still exists (by name only: no stat into a mount). */
function leftovers(mountpoint: string): { mounted: boolean; dirExists: boolean } {
  const mounted = fpsimMounts().includes(mountpoint);
  const dirExists = existsSync(MOUNT_PARENT) && readdirSync(MOUNT_PARENT).includes(basename(mountpoint));
  return { mounted, dirExists };
}

/** Polls until mount and directory are gone, or the (bounded) deadline passes. */
async function waitGone(mountpoint: string, ms = 5_000): Promise<{ mounted: boolean; dirExists: boolean }> {
  const deadline = Date.now() + ms;
  let state = leftovers(mountpoint);
  while ((state.mounted || state.dirExists) && Date.now() < deadline) {
    await sleep(50);
    state = leftovers(mountpoint);
  }
  return state;
}

function processGone(pid: number): boolean {
  try {
    // a zombie counts as gone: it has exited, only the reaping is left
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

const children: ChildProcess[] = [];
const transports: RealFuseTransport[] = [];
afterEach(async () => {
  for (const t of transports.splice(0)) await t.stop();
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A file "f" with inline data; OPEN replies as the policy says (default: a plain open). */
const SERVER_F = { files: { f: { data: 'SERVER--DATA-456' } } };

/** A mount served by the shared server core (sim/server/core.ts) over the transport. */
async function startServed(policy: unknown = SERVER_F): Promise<{ t: RealFuseTransport; s: RealServer }> {
  const t = await RealFuseTransport.start();
  transports.push(t);
  const s = new RealServer(t, policy as ServerPolicy);
  await s.init;
  return { t, s };
}

interface HarnessInfo {
  pid: number;
  helperPid: number;
  mountpoint: string;
}

/** Starts oracle/harness-child.ts under tsx and waits for its JSON line. */
function startHarness(timeoutMs = 30_000): Promise<{ child: ChildProcess; info: HarnessInfo }> {
  const child = spawn(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'oracle', 'harness-child.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`harness did not start in ${timeoutMs} ms: ${err}`)), timeoutMs);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve({ child, info: JSON.parse(out.slice(0, nl)) as HarnessInfo });
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`harness exited early (code ${code}, signal ${signal}): ${err}`));
    });
  });
}

describe.skipIf(!avail.ok)(title, () => {
  it('mounts, answers INIT, serves stat from a child process, and leaves nothing after stop', async () => {
    const { t, s } = await startServed();
    expect(t.mountpoint.startsWith(`${MOUNT_PARENT}/${t.helperPid}-`)).toBe(true);
    expect(fpsimMounts()).toContain(t.mountpoint);
    const run = await runUser(['stat', t.mountpoint, 'stat', join(t.mountpoint, 'nope')], { timeoutMs: 10_000 });
    expect(run.timedOut).toBe(false);
    expect(run.results[0]).toMatchObject({ op: 'stat', ret: 0, ino: 1 });
    expect((run.results[0]!.mode ?? 0) & 0o170000).toBe(0o040000);
    expect(run.results[1]).toMatchObject({ op: 'stat', ret: -1, err: 'ENOENT' });
    expect(s.count('GETATTR')).toBeGreaterThan(0);
    await t.stop();
    expect(t.closed).toBe(true);
    expect(leftovers(t.mountpoint)).toEqual({ mounted: false, dirExists: false });
  });

  it('backing open, passthrough read and backing close through the helper', async () => {
    // the default INIT negotiates FUSE_PASSTHROUGH with max_stack_depth 1; OPEN of "f" replies
    // FOPEN_PASSTHROUGH with the backing id the test saves as $id
    const { t, s } = await startServed({
      files: { f: { data: 'SERVER--DATA-456', open: { mode: 'reply', flags: ['PASSTHROUGH'], backing_id: '$id' } } },
    });
    const dir = mkdtempSync(join(tmpdir(), 'fpsim-oracle-test-'));
    const backing = join(dir, 'backing');
    writeFileSync(backing, 'BACKING-DATA-123');
    try {
      const id = await t.backingOpen(backing);
      expect(id).toBeGreaterThan(0);
      s.vars['id'] = id;
      const run = await runUser(['open', join(t.mountpoint, 'f'), 'rdonly', 'read', '@0', '16', 'close', '@0']);
      expect(run.results[0]!.ret).toBeGreaterThanOrEqual(0);
      expect(userData(run.results[1]).toString()).toBe('BACKING-DATA-123');
      expect(s.count('READ')).toBe(0);
      expect(await t.backingClose(id)).toBe(0);
      expect(await t.backingClose(id)).toBe(-2); // ENOENT
      expect(await t.backingOpen(join(t.mountpoint, 'f'))).toBe(-35); // EDEADLK: own mount refused
      expect(t.replyErrors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the server process's own operations: its $devfd, another /dev/fuse, a clone, sockets, pipes, a forked child without CAP_SYS_ADMIN, closing its device", async () => {
    const { t, s } = await startServed();
    const ops = t.ops();
    const dir = mkdtempSync(join(tmpdir(), 'fpsim-oracle-test-'));
    const backing = join(dir, 'backing');
    writeFileSync(backing, 'BACKING-DATA-123');
    try {
      const devfd = await ops.devFd();
      expect(devfd).toBeGreaterThanOrEqual(0);
      const bfd = await ops.openFile(backing, 0);
      const map = (fd: number) => {
        const b = Buffer.alloc(16);
        b.writeInt32LE(fd, 0);
        return b;
      };
      const u32 = (v: number) => {
        const b = Buffer.alloc(4);
        b.writeUInt32LE(v, 0);
        return b;
      };
      // a /dev/fuse no mount attached: EPERM for the backing ioctls, SYNC_INIT marks it
      const dev = await ops.openFile('/dev/fuse', 2);
      expect(await ops.devIoctl(dev, 0x4010e501, map(bfd))).toBe(-1); // EPERM
      expect(await ops.devIoctl(dev, 0xe503)).toBe(0); // FUSE_DEV_IOC_SYNC_INIT
      expect(await ops.closeFile(dev)).toBe(0);
      // a clone shares the id space
      const c = await ops.openFile('/dev/fuse', 2);
      expect(await ops.devIoctl(c, 0x8004e500, u32(devfd))).toBe(0); // FUSE_DEV_IOC_CLONE
      expect(await ops.devIoctl(c, 0x4010e501, map(bfd))).toBe(1);
      expect(await ops.backingOpenFd(bfd)).toBe(2);
      expect(await ops.devIoctl(c, 0x4004e502, u32(2))).toBe(0);
      expect(await ops.closeFile(c)).toBe(0);
      // sockets and pipes: fds the server may name (not regular files: EINVAL on 6.18)
      const sk = await ops.socket(join(dir, 'sock'));
      expect(sk).toBeGreaterThanOrEqual(0);
      const p = await ops.pipe();
      expect(typeof p).toBe('object');
      // a forked child shares the device; without CAP_SYS_ADMIN its ioctls are EPERM
      const kid = await t.fork();
      expect(await kid.devFd()).toBe(devfd);
      expect(await kid.backingOpenFd(bfd)).toBe(3);
      expect(await kid.setCapSysAdmin(false)).toBe(0);
      expect(await kid.backingOpenFd(bfd)).toBe(-1);
      expect(await kid.backingClose(3)).toBe(-1);
      expect(await ops.backingClose(3)).toBe(0);
      // the server closes its device; the child's copy keeps the connection up until it goes
      expect(await ops.closeFile(devfd)).toBe(0);
      expect(await kid.closeFile(devfd)).toBe(0);
      await s.done;
      expect(t.replyErrors).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`the helper cleans up when the node harness that started it gets ${signal}`, async () => {
      const { child, info } = await startHarness();
      expect(leftovers(info.mountpoint)).toEqual({ mounted: true, dirExists: true });
      // the helper's parent is the harness node process itself
      const ppid = Number(readFileSync(`/proc/${info.helperPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      expect(ppid).toBe(info.pid);
      const served = await runUser(['stat', info.mountpoint], { timeoutMs: 10_000 });
      expect(served.results[0]).toMatchObject({ ret: 0 });
      process.kill(info.pid, signal);
      expect(await waitGone(info.mountpoint)).toEqual({ mounted: false, dirExists: false });
      const deadline = Date.now() + 5_000;
      while (!processGone(info.helperPid) && Date.now() < deadline) await sleep(50);
      expect(processGone(info.helperPid)).toBe(true);
      child.kill('SIGKILL'); // the tsx wrapper, if still around
    });
  }

  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    it(`the helper cleans up on ${signal} sent to it directly`, async () => {
      const { t } = await startServed();
      process.kill(t.helperPid, signal);
      await t.stop(); // returns once the helper has exited
      expect(t.closed).toBe(true);
      expect(await waitGone(t.mountpoint, 2_000)).toEqual({ mounted: false, dirExists: false });
    });
  }

  it('a new helper removes the stale mount of a SIGKILLed helper', async () => {
    // no other test file may start a helper meanwhile: it would sweep the stale mount first
    await withRealKernelLock(async () => {
      const { t: old } = await startServed();
      process.kill(old.helperPid, 'SIGKILL');
      await old.stop();
      // SIGKILL allows no cleanup: the (aborted) mount and its directory stay
      expect(leftovers(old.mountpoint)).toEqual({ mounted: true, dirExists: true });
      const { t: fresh } = await startServed();
      expect(leftovers(old.mountpoint)).toEqual({ mounted: false, dirExists: false });
      await fresh.stop();
      expect(leftovers(fresh.mountpoint)).toEqual({ mounted: false, dirExists: false });
    });
  });
});

if (!avail.ok) {
  describe(title, () => {
    it.skip(`needs the real kernel: ${skipReason}`, () => {});
  });
}
