// fpsim server: libfuse's passthrough_hp, unmodified, as the server of a model mount (bridge/
// sync.ts, bridge/peer.ts, bridge/run.ts, sim/server/external.ts). The pristine server passes
// random programs of three user tasks in every configuration; each faulty variant is flagged
// with its kernel-terms diagnosis and a trace that replays without the server; servers that
// crash, hang or write garbage get a report naming the request; a bad command line exits 2;
// nothing is left behind.
//
// Needs root, gcc, the libfuse tarball, meson, ninja and g++; otherwise it skips and says why
// (under CI a missing build tool fails instead: .ci/run installs them).
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPassthroughHpVariant, ensurePassthroughHp, passthroughHpUnavailable } from '../bridge/libfuse.ts';
import { gccAvailable } from '../bridge/native/build.ts';
import { VARIANTS } from '../bridge/variants.ts';
import { runServerProgram, serverCampaign, type ServerConfig, type ServerProgram } from '../bridge/run.ts';
import { shutdownSyncServers } from '../bridge/sync.ts';
import { replayTrace } from '../sim/trace/replay.ts';
import { serializeTrace } from '../sim/trace/format.ts';
import { parseTrace } from '../sim/trace/read.ts';
import { main } from '../cli/app.ts';
import { underCI } from '../cli/progress.ts';

const skipReason: string | undefined = process.getuid?.() !== 0 ? 'not root' : !gccAvailable() ? 'no gcc for the bridge' : passthroughHpUnavailable();
if (skipReason !== undefined) console.log(`fpsim server tests skipped: ${skipReason}`);
if (skipReason !== undefined && underCI() && /not on PATH|no gcc/.test(skipReason)) {
  describe('fpsim server build tools', () => {
    it('are installed (.ci/run installs them)', () => {
      throw new Error(`${skipReason}: under CI .ci/run installs it, so this is a setup failure, not a skip`);
    });
  });
}

const hp = (): string => {
  const b = ensurePassthroughHp();
  if (!b.ok) throw new Error(b.reason);
  return b.path;
};
/** this file's runs make their source trees here (and must remove every one) */
let ROOT = ''; // made by the suite's beforeAll (a filtered run that skips the suite makes none)
const cfg = (path: string, ...opts: string[]): ServerConfig => ({ argv: [path, '--foreground', '--nosplice', ...opts, '{src}', '{dev}'], timeoutMs: 5000, quietMs: 2, tmpRoot: ROOT });
/**
 * this process's children that still run (a zombie is reaped once the event loop turns), but
 * not esbuild's service, which vite/tsx start in this process on first use and keep
 */
const children = () => {
  try {
    return execFileSync('ps', ['-o', 'pid=,stat=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l) && !/\bps -o\b/.test(l) && !/esbuild\b.*--service/.test(l))
      .join('\n');
  } catch {
    return '';
  }
};

/** Two opens of one file from two tasks: the pattern every variant gets wrong. */
const TWO_OPENS: ServerProgram = {
  tasks: [[{ k: 'open', file: 0, mode: 'r' }, { k: 'read', fd: 0, off: 0, n: 4096 }], [{ k: 'open', file: 0, mode: 'r' }, { k: 'read', fd: 0, off: 0, n: 4096 }], [{ k: 'stat', file: 1 }]],
  sched: [],
};

describe.skipIf(skipReason !== undefined)('fpsim server with libfuse passthrough_hp', () => {
  beforeAll(() => {
    ROOT = mkdtempSync(join(tmpdir(), 'fpsim-server-test-'));
  });
  afterAll(() => {
    shutdownSyncServers();
    const left = readdirSync(ROOT);
    rmSync(ROOT, { recursive: true, force: true });
    expect(left).toEqual([]); // every run's source tree removed
  });

  it('a program runs against the real server: passthrough reads, a write that reaches the real file, GETATTR from the server', { timeout: 120_000 }, () => {
    const p: ServerProgram = {
      tasks: [
        [{ k: 'open', file: 0, mode: 'rw' }, { k: 'write', fd: 0, off: 0, data: 1 }, { k: 'close', fd: 0 }, { k: 'open', file: 0, mode: 'r' }, { k: 'read', fd: 1, off: 0, n: 4096 }, { k: 'fstat', fd: 1 }],
        [{ k: 'stat', file: 1 }],
        [{ k: 'open', file: 1, mode: 'w' }, { k: 'ftruncate', fd: 0, size: 4 }, { k: 'close', fd: 0 }],
      ],
      sched: [],
    };
    const r = runServerProgram(p, cfg(hp(), '--single'), { record: true });
    expect(r.failures).toEqual([]);
    // sequentially: t0 writes XYZXYZ over the start of f0 through passthrough, reopens, reads it
    // (the model's fd table hands out the next number, not the lowest free one)
    expect(r.results[0]).toBe('t0: open 3, write 6, close 0, open 4, read 19 "XYZXYZ real server\\n", fstat 19');
    expect(r.results[2]).toBe('t2: open 3, ftruncate 0, close 0');
    const seen = (r.result!.world.servers['fuse'] as { seen: string[] }).seen;
    expect(seen).toContain('OPEN');
    expect(seen).not.toContain('READ'); // passthrough: the server never sees the data
    // the trace carries the server's answers: replay needs no server and matches step by step
    const t = parseTrace(serializeTrace(r.trace!), 'trace');
    const rp = replayTrace(t);
    expect(rp.divergence).toBeNull();
    expect(children()).toBe('');
  });

  for (const opts of [['--single'], ['--num-threads', '4'], ['--single', '--nopassthrough'], ['--num-threads', '4', '--nopassthrough']]) {
    it(`passes random programs of 3+ user tasks: ${opts.join(' ')}`, { timeout: 300_000 }, async () => {
      const r = await serverCampaign(cfg(hp(), ...opts), { runs: 25, seed: 7 });
      expect(r.failed?.failures ?? []).toEqual([]);
      expect(r.runs).toBe(25);
    });
  }

  it('--nopassthrough: the data goes through the server (READ, WRITE)', { timeout: 120_000 }, () => {
    const p: ServerProgram = { tasks: [[{ k: 'open', file: 0, mode: 'rw' }, { k: 'write', fd: 0, off: 0, data: 0 }, { k: 'read', fd: 0, off: 0, n: 4096 }], [{ k: 'stat', file: 1 }], [{ k: 'stat', file: 0 }]], sched: [] };
    const r = runServerProgram(p, cfg(hp(), '--single', '--nopassthrough'));
    expect(r.failures).toEqual([]);
    expect(r.results[0]).toMatch(/^t0: open 3, write 3, read 19 "abclo, real server\\n"$/);
    expect((r.result!.world.servers['fuse'] as { seen: string[] }).seen).toContain('WRITE');
  });

  const DIAGNOSES: Record<string, RegExp> = {
    'close-after-open': /names backing id \d+, which the server closed or never opened: fuse_passthrough_open finds no fuse_backing under it and the open fails EIO/,
    'never-close': /backing ids [\d, ]+ are still in fc->backing_files_map at .*the server never closed them \(BACKING_CLOSE\)/,
    'backing-per-open': /while another open of that inode uses backing id \d+: two backing files for one inode \(fuse_inode_uncached_io_start/,
  };
  for (const v of VARIANTS) {
    it(`flags the faulty variant ${v.name} in kernel terms, with a trace that replays without the server`, { timeout: 300_000 }, async () => {
      const path = buildPassthroughHpVariant(v.name, v.edit);
      const r = runServerProgram(TWO_OPENS, cfg(path, '--single'), { record: true });
      expect(r.failures.map((f) => f.message).join('\n')).toMatch(DIAGNOSES[v.name]!);
      if (v.name !== 'never-close') expect(r.results.some((l) => /open EIO/.test(l))).toBe(true);
      const rp = replayTrace(parseTrace(serializeTrace(r.trace!), 'trace'));
      expect(rp.divergence).toBeNull();
      expect(rp.result!.violations.some((x) => x.kind === 'server')).toBe(true);
      // and a random campaign finds it and shrinks it
      const c = await serverCampaign(cfg(path, '--single'), { runs: 40, seed: 1 });
      // close-after-open has two symptoms, by who wins the race: the opener finds the id gone,
      // or the server closes it under an open not yet released; a campaign may shrink to either
      const campaign = v.name === 'close-after-open' ? new RegExp(`${DIAGNOSES[v.name]!.source}|the server closed backing id \\d+ while the open it named it in \\(fh \\d+\\) is not released`) : DIAGNOSES[v.name]!;
      expect(c.failed?.failures.map((f) => f.message).join('\n')).toMatch(campaign);
    });
  }

  it('--real-kernel: the same programs with the same binary on this kernel agree syscall by syscall', { timeout: 300_000 }, async () => {
    const r = await serverCampaign({ ...cfg(hp(), '--single'), realKernel: true }, { runs: 8, seed: 3 });
    expect(r.failed?.failures ?? []).toEqual([]);
    expect(r.compared).toBeGreaterThan(20);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain('fpsim-real-'); // unmounted
  });

  it("a missing name: passthrough_hp's negative entry (nodeid 0) is a negative dentry, not an inode; O_CREAT then sends CREATE", { timeout: 120_000 }, () => {
    // before the model knew fuse_lookup_name's zero nodeid, it made an inode of nodeid 0 and
    // sent OPEN for it: passthrough_hp died of SIGSEGV (found by the first campaign with creates)
    const p: ServerProgram = { tasks: [[{ k: 'open', file: 2, mode: 'r' }, { k: 'stat', file: 2 }, { k: 'create', file: 2, excl: false }, { k: 'write', fd: 1, off: 0, data: 0 }], [{ k: 'stat', file: 0 }], [{ k: 'stat', file: 1 }]], sched: [] };
    const r = runServerProgram(p, cfg(hp(), '--single'));
    expect(r.failures).toEqual([]);
    expect(r.results[0]).toBe('t0: open ENOENT, stat ENOENT, open 3, write 3');
    // one LOOKUP for g0: the second walk and the create found the negative dentry
    const seen = (r.result!.world.servers['fuse'] as { seen: string[] }).seen;
    expect(seen.filter((x) => x === 'CREATE')).toHaveLength(1);
    expect(seen.filter((x) => x === 'LOOKUP')).toHaveLength(3);
  });

  it('--real-kernel: an unlink racing an open(O_CREAT) of its name is held apart, so the real kernel can follow the order', { timeout: 120_000 }, () => {
    // the campaign's first disagreement: the model's O_CREAT open looked f0 up before the
    // unlink and opened the old file; run after the unlink, the real kernel created a new one
    const p: ServerProgram = { tasks: [[{ k: 'unlink', file: 0 }, { k: 'open', file: 0, mode: 'r' }], [{ k: 'create', file: 0, excl: false }], [{ k: 'stat', file: 0 }], [{ k: 'open', file: 0, mode: 'r' }]], sched: [0, 1, 2, 3, 4, 0, 4, 1, 4, 2, 4, 3, 4, 0, 0] };
    const r = runServerProgram(p, { ...cfg(hp(), '--single'), realKernel: true });
    expect(r.failures).toEqual([]);
    expect(r.compared).toBe(5);
    expect(r.unordered).toBe(0);
  });

  it('--real-kernel: the faulty variants show the same symptoms there when the server runs first after its reply', { timeout: 300_000 }, () => {
    const three: ServerProgram = { tasks: [...TWO_OPENS.tasks.slice(0, 2), [{ k: 'open', file: 0, mode: 'r' }, { k: 'close', fd: 0 }, { k: 'open', file: 0, mode: 'r' }]], sched: [] };
    for (const v of VARIANTS) {
      // close-after-open races on the real kernel too: the server's BACKING_CLOSE right after
      // its OPEN reply against the opener it woke (fuse_passthrough_open). The model has both
      // outcomes (server first, or the opener first); try each against the kernel a few times
      // until the kernel's run matches one
      let r = runServerProgram(three, { ...cfg(buildPassthroughHpVariant(v.name, v.edit), '--single'), realKernel: true }, { serverFirst: true });
      for (let k = 0; v.name === 'close-after-open' && k < 8 && r.failures.some((f) => f.kind === 'real-kernel'); k++) {
        r = runServerProgram(three, { ...cfg(buildPassthroughHpVariant(v.name, v.edit), '--single'), realKernel: true }, { serverFirst: k % 2 === 1 });
      }
      expect(r.compared).toBe(7);
      expect(r.failures.filter((f) => f.kind === 'real-kernel')).toEqual([]);
      expect(r.failures.map((f) => f.message).join('\n')).toMatch(v.name === 'close-after-open' ? /the server closed backing id 1 while the open it named it in/ : DIAGNOSES[v.name]!);
    }
  });

  it('a server that exits, hangs or writes garbage: a report naming the request, exit 1, nothing left', { timeout: 120_000 }, async () => {
    const one = (argv: string[]) => runServerProgram(TWO_OPENS, { argv, timeoutMs: 400, quietMs: 2, tmpRoot: ROOT });
    expect(one(['sh', '-c', 'echo dying >&2; exit 3', 'x', '{dev}']).failures.map((f) => f.message)).toEqual([expect.stringMatching(/the server exited \(code 3\) while serving INIT \(unique \d+\), before replying; its last output:\ndying/)]);
    expect(one(['sh', '-c', 'sleep 60', 'x', '{dev}']).failures.map((f) => f.message)).toEqual([expect.stringMatching(/did not reply to INIT \(unique \d+\) within 400 ms/)]);
    expect(one(['sh', '-c', 'printf garbage >&3; sleep 60', 'x', '{dev}']).failures.map((f) => f.message)).toEqual([expect.stringMatching(/reply to INIT .* was refused by fuse_dev_write with EINVAL: 67617262616765 \(7 bytes\)/)]);
    // a server killed mid-run (after INIT): the requests after it fail, the report says which
    const kill = one(['sh', '-c', `exec "$0" --foreground --single --nosplice "$1" "$2" & sleep 0.3; kill -9 $!; wait`, hp(), '{src}', '{dev}']);
    void kill; // timing-dependent: only that it ends and leaves nothing behind
    expect(children()).toBe('');
    const out: string[] = [];
    const trace = join(mkdtempSync(join(tmpdir(), 'fpsim-server-trace-')), 't.json');
    const code = await main(['server', '--runs', '2', '--seed', '1', '--timeout', '300', '--trace', trace, '--', 'sh', '-c', 'exit 3', 'x', '{dev}'], { out: (s) => out.push(s), err: (s) => out.push(s) });
    rmSync(dirname(trace), { recursive: true, force: true });
    expect(code).toBe(1);
    expect(out.join('')).toMatch(/the server exited \(code 3\) while serving INIT/);
  });
});

describe.skipIf(skipReason !== undefined)('fpsim server killed', () => {
  it('SIGKILL mid-run (with --real-kernel): no server, bridge or mount is left', { timeout: 120_000 }, async () => {
    hp(); // built before the clock starts
    const tmp = mkdtempSync(join(tmpdir(), 'fpsim-server-kill-'));
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'cli', 'main.ts');
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'server', '--passthrough-hp', '--real-kernel', '--runs', '1000', '--seed', '5', '--trace', join(tmp, 't.json'), '--', '--single'], {
      env: { ...process.env, TMPDIR: tmp }, // every run's tree, hence every server's argv, names tmp
      stdio: 'ignore',
    });
    const ours = () => {
      try {
        return execFileSync('pgrep', ['-f', tmp], { encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (let t = 0; t < 200 && ours() === ''; t++) await sleep(50); // a server is up
    await sleep(1500);
    expect(ours()).not.toBe('');
    child.kill('SIGKILL');
    for (let t = 0; t < 100 && (ours() !== '' || readFileSync('/proc/self/mountinfo', 'utf8').includes(tmp)); t++) await sleep(50);
    expect(ours()).toBe('');
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(tmp);
    // the trees of the run it was in may stay: the bridge removes the model's when Node dies
    // (test/bridge.test.ts), but a kill between making a tree and starting its bridge, or during
    // the real-kernel run (its own tree), leaves one: nobody is left to remove it
    rmSync(tmp, { recursive: true, force: true });
  });
});

describe('fpsim server: bad command lines exit 2', () => {
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const code = await main(['server', ...argv], { out: (s) => out.push(s), err: (s) => out.push(s) });
    return { code, text: out.join('') };
  };
  it.each([
    [['--runs', 'x', '--', 'srv', '{dev}'], /--runs: "x" is not a whole number/],
    [['--runs', '0', '--', 'srv', '{dev}'], /--runs: 0 is out of range/],
    [['--seed', 'abc', '--', 'srv', '{dev}'], /--seed: "abc" is not a whole number/],
    [['--variant', 'never-close', '--', 'srv', '{dev}'], /--variant only goes with --passthrough-hp/],
  ])('%j', async (argv, msg) => {
    const r = await run(...(argv as string[]));
    expect(r.code).toBe(2);
    expect(r.text).toMatch(msg as RegExp);
  });
  it.skipIf(process.getuid?.() !== 0)('no command, or a command without {dev}', async () => {
    expect(await run('--runs', '1')).toMatchObject({ code: 2, text: expect.stringMatching(/no server command/) });
    expect(await run('--runs', '1', '--', 'srv', '/mnt')).toMatchObject({ code: 2, text: expect.stringMatching(/put \{dev\} where it takes the mountpoint/) });
    expect(await run('--passthrough-hp', '--variant', 'nope')).toMatchObject({ code: 2, text: expect.stringMatching(/unknown variant "nope"/) });
  });
});
