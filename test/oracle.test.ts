// fpsim oracle: the comparison (normalizer, rows, table, summary) on canned runs, which needs
// no kernel; then, where /dev/fuse, root and a passthrough kernel are there, the real thing:
// three small built-in scenarios agree with the kernel, and a harness killed mid-run (SIGKILL,
// SIGTERM) leaves no process, mount namespace, mount or directory behind.
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  canonicalErrno,
  formatSummary,
  formatTable,
  expandBatchForgets,
  IGNORED_REQUESTS,
  normalizeRequests,
  normalizeResult,
  skippedRow,
  summarize,
  type Row,
} from '../oracle/compare.ts';
import { compareNondeterministic, compareRuns, modelRun, realSkipReason, serverEager, type ModelRun } from '../oracle/oracle.ts';
import type { RealRun } from '../oracle/real-run.ts';
import { availability } from '../oracle/transport.ts';
import { KILL_SCENARIOS, killTrial } from '../oracle/killtest.ts';
import { loadScenario, parseScenario } from '../sim/scenario/load.ts';
import { withRealKernelLock } from './real-kernel-lock.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const scenario = (name: string) => loadScenario(join(ROOT, 'scenarios', `${name}.json`));

describe('normalizing what each side observed', () => {
  it('drops the requests the model does not model, and counts them', () => {
    const n = normalizeRequests(['INIT', 'LOOKUP', 'GETXATTR', 'OPEN', 'GETXATTR', 'STATFS', 'FLUSH', 'RELEASE', 'FORGET', 'INTERRUPT', 'ACCESS', 'BATCH_FORGET', 'DESTROY']);
    expect(n.kept).toEqual(['INIT', 'LOOKUP', 'GETXATTR', 'OPEN', 'GETXATTR', 'STATFS', 'FLUSH', 'RELEASE', 'FORGET', 'BATCH_FORGET']);
    expect(n.ignored).toEqual({ INTERRUPT: 1, ACCESS: 1, DESTROY: 1 });
    // what the model does model stays, even when the kernel sends it unasked
    for (const op of ['INIT', 'LOOKUP', 'GETATTR', 'GETXATTR', 'STATFS', 'OPEN', 'READ', 'WRITE', 'FLUSH', 'RELEASE', 'SETATTR', 'FORGET', 'BATCH_FORGET', 'OPENDIR', 'READDIR', 'READDIRPLUS', 'RELEASEDIR', 'CREATE', 'MKNOD', 'UNLINK', 'RENAME']) {
      expect(IGNORED_REQUESTS.has(op)).toBe(false);
    }
  });

  it('compares a BATCH_FORGET as the FORGETs it carries', () => {
    const x = expandBatchForgets(['LOOKUP', 'BATCH_FORGET', 'FORGET'], ['n1 LOOKUP name=a', 'n0 BATCH_FORGET count=2 [n2x1 n3x4]', 'n5 FORGET nlookup=2']);
    expect(x.seen).toEqual(['LOOKUP', 'FORGET', 'FORGET', 'FORGET']);
    expect(x.log).toEqual(['n1 LOOKUP name=a', 'n2 FORGET nlookup=1', 'n3 FORGET nlookup=4', 'n5 FORGET nlookup=2']);
  });

  it('compares fds and mappings by success only, reads by count and bytes, the rest by value', () => {
    expect(normalizeResult('open', 3)).toBe('ok');
    expect(normalizeResult('open', 7)).toBe('ok');
    expect(normalizeResult('mmap', 0)).toBe('ok');
    expect(normalizeResult('read', 5, 'hello')).toBe('5 "hello"');
    expect(normalizeResult('read', 0, '')).toBe('0 ""');
    expect(normalizeResult('backing_open', 2)).toBe('2');
    expect(normalizeResult('stat', 19)).toBe('19');
    expect(normalizeResult('open', 'EIO')).toBe('EIO');
    expect(normalizeResult('backing_open', -95)).toBe('EOPNOTSUPP');
  });

  it('spells one errno one way on both sides', () => {
    expect(canonicalErrno('ENOTSUP')).toBe('EOPNOTSUPP');
    expect(canonicalErrno('EOPNOTSUPP')).toBe('EOPNOTSUPP');
    expect(canonicalErrno('EWOULDBLOCK')).toBe('EAGAIN');
    expect(canonicalErrno('ENOENT')).toBe('ENOENT');
  });
});

describe('which scenarios the real side can run', () => {
  it('runs sequential scenarios with user and server ops', () => {
    expect(realSkipReason(scenario('passthrough-read'))).toBeNull();
    expect(realSkipReason(scenario('abort-backing-ioctls-still-work'))).toBeNull();
    expect(realSkipReason(scenario('stack-overlay-mount-over-fuse-depth-1-ok'))).toBeNull();
  });

  it('skips schedules, mutants, the v15 kernel and model-only ops, saying why', () => {
    expect(realSkipReason(scenario('race-lookup-vs-backing-close'))).toMatch(/schedule list/);
    expect(realSkipReason(scenario('race-lookup-vs-backing-close-get-without-not-zero'))).toMatch(/schedule list|mutants/);
    expect(realSkipReason(scenario('open-reply-v15-server-on-v15-kernel'))).toMatch(/v15/);
    expect(realSkipReason(scenario('inode-drop-sends-forget'))).toMatch(/drop_inode/);
    const s = parseScenario(
      JSON.stringify({
        name: 'm',
        mutants: ['no-flags-check'],
        filesystems: [{ name: 'fuse', type: 'fuse', server: { files: {} } }],
        tasks: [{ name: 'u', ops: [{ op: 'stat', path: '/fuse/f' }] }],
      }),
      'inline',
    );
    expect(realSkipReason(s)).toMatch(/mutants \(no-flags-check\)/);
  });
});

describe('the model side', () => {
  it('gives the op order it ran, the results, the requests and the backing ids, before teardown', () => {
    const m = modelRun(scenario('passthrough-read'), '6.18');
    expect(m.order.map(([t, i]) => `${t}#${i}`)).toEqual(['user#0', 'user#1', 'user#2', 'user#3', 'user#4', 'user#5']);
    expect(m.results['user#3']).toEqual({ ret: 5, data: 'hello' });
    expect(m.seen['fuse']).toEqual(['INIT', 'LOOKUP', 'OPEN', 'FLUSH', 'RELEASE']);
    expect(m.backingOpens['fuse']).toEqual([1]);
    expect(m.kernelInit['fuse']).toBe('7.45 PASSTHROUGH');
    expect(modelRun(scenario('passthrough-read'), '6.9').kernelInit['fuse']).toBe('7.40 PASSTHROUGH');
  });
});

/** A canned real run of passthrough-read: what the kernel showed, with one difference planted. */
function cannedReal(model: ModelRun, change: Partial<RealRun> = {}): RealRun {
  return {
    results: { ...model.results, 'user#0': { ret: 4 } },
    seen: { fuse: ['INIT', 'LOOKUP', 'OPEN', 'ACCESS', 'FLUSH', 'RELEASE'] },
    log: { fuse: [...(model.log['fuse'] ?? [])] },
    backingOpens: { fuse: [1] },
    kernelInit: { fuse: '7.45 PASSTHROUGH' },
    files: { ...model.files },
    errors: [],
    ...change,
  };
}

describe('a race the kernel resolves either way', () => {
  const s = scenario('lazy-umount-passthrough-open');
  const own = modelRun(s, '6.18');
  const alt = modelRun(s, '6.18', serverEager);
  const asReal = (m: ModelRun): RealRun => ({ results: m.results, seen: m.seen, log: m.log, backingOpens: m.backingOpens, kernelInit: m.kernelInit, files: m.files, errors: [] });

  it('the two model runs differ only by the last RELEASE', () => {
    expect(own.seen['fuse']).toEqual(['INIT', 'LOOKUP', 'OPEN', 'GETXATTR', 'GETATTR', 'FLUSH']);
    expect(alt.seen['fuse']).toEqual([...own.seen['fuse']!, 'RELEASE']);
    expect(alt.results).toEqual(own.results);
  });

  it('accepts a kernel run matching either, noting which, and only on the rows the race decides', () => {
    const lost = compareNondeterministic(s, own, asReal(own), '6.18');
    expect(lost.every((r) => r.agree)).toBe(true);
    expect(lost.find((r) => r.observable === 'requests at /fuse')?.note).toMatch(/user tasks first; nondeterministic: the last RELEASE/);
    expect(lost.find((r) => r.observable.startsWith('user[2]'))?.note).toBeUndefined();
    const delivered = compareNondeterministic(s, own, asReal(alt), '6.18');
    expect(delivered.every((r) => r.agree)).toBe(true);
    expect(delivered.find((r) => r.observable === 'requests at /fuse')?.note).toMatch(/the servers first/);
  });

  it('still disagrees with a kernel run neither model run shows', () => {
    const odd = asReal(own);
    odd.seen = { fuse: [...own.seen['fuse']!, 'RELEASE', 'RELEASE'] };
    const rows = compareNondeterministic(s, own, odd, '6.18');
    expect(rows.filter((r) => r.agree === false).map((r) => r.observable)).toEqual(['requests at /fuse']);
  });
});

describe('the conformance table', () => {
  const s = scenario('passthrough-read');
  const model = modelRun(s, '6.18');

  it('agrees where only fd numbers and unmodelled requests differ, and lists the latter', () => {
    const rows = compareRuns(s, model, cannedReal(model));
    expect(rows.every((r) => r.agree)).toBe(true);
    expect(rows.map((r) => r.observable)).toEqual([
      'user[0] open path="/fuse/f" mode="r" -> $fd',
      'user[3] read fd="$fd" n=5 offset=0',
      'user[4] close fd="$fd"',
      'INIT the kernel sent /fuse',
      'requests at /fuse',
      'request 1 at /fuse',
      'request 2 at /fuse',
      'request 3 at /fuse',
      'request 4 at /fuse',
      'request 5 at /fuse',
      'backing ids the server /fuse got',
    ]);
    expect(rows.find((r) => r.observable === 'requests at /fuse')?.note).toBe('kernel also: ACCESS');
  });

  it("compares each request's fields, less what only the kernel picks", () => {
    const log = [...(model.log['fuse'] ?? [])];
    expect(log[2]).toMatch(/^n2 OPEN flags=O_RDONLY\|O_LARGEFILE open_flags=0$/);
    expect(log[3]).toMatch(/^n2 FLUSH fh=1 lock_owner=o1$/);
    const real = cannedReal(model, { log: { fuse: log.map((l, i) => (i === 2 ? l.replace('O_RDONLY', 'O_RDWR') : l)) } });
    const bad = compareRuns(s, model, real).filter((r) => r.agree === false);
    expect(bad.map((r) => r.observable)).toEqual(['request 3 at /fuse']);
  });

  it('shows a difference as a row that disagrees, and counts it', () => {
    const real = cannedReal(model, {
      results: { ...model.results, 'user#3': { ret: 5, data: 'HELLO' } },
      seen: { fuse: ['INIT', 'LOOKUP', 'OPEN', 'READ', 'FLUSH', 'RELEASE'] },
    });
    const rows: Row[] = [...compareRuns(s, model, real), skippedRow('race-x', 'it uses a schedule list')];
    const bad = rows.filter((r) => r.agree === false);
    expect(bad.map((r) => [r.observable, r.model, r.kernel])).toEqual([
      ['user[3] read fd="$fd" n=5 offset=0', '5 "hello"', '5 "HELLO"'],
      ['requests at /fuse', 'INIT LOOKUP OPEN FLUSH RELEASE', 'INIT LOOKUP OPEN READ FLUSH RELEASE'],
    ]);
    const sum = summarize(rows);
    expect(sum).toEqual({ scenarios: 2, run: 1, skipped: 1, observables: 6, agreements: 4, disagreements: 2, failing: ['passthrough-read'] });
    expect(formatSummary(sum)).toBe('2 scenarios: 1 run, 1 skipped; 6 observables, 4 agree, 2 disagree (in passthrough-read)');

    const table = formatTable(rows, { width: 0 });
    expect(table[0]).toMatch(/^scenario\s+observable\s+model\s+kernel\s+agree\?\s+note$/);
    expect(table.filter((l) => l.startsWith('passthrough-read'))).toHaveLength(1); // the name once per scenario
    expect(table.some((l) => /user\[3\] read .*5 "hello"\s+5 "HELLO"\s+NO/.test(l))).toBe(true);
    expect(table.some((l) => /^race-x .*skip\s+skipped: it uses a schedule list$/.test(l))).toBe(true);
    const problems = formatTable(rows, { onlyProblems: true, width: 0 });
    expect(problems).toHaveLength(2 + 3);
  });

  it('compares file contents only where a write changed them, and reports harness errors as disagreements', () => {
    const w = scenario('passthrough-write-reaches-backing');
    const m = modelRun(w, '6.18');
    const rows = compareRuns(w, m, { ...cannedReal(m), results: m.results, seen: { fuse: m.seen['fuse']! }, files: { '/lower/data': 'hello, backing file' }, errors: ['user: timed out'] });
    const content = rows.find((r) => r.observable === 'content of /lower/data')!;
    expect([content.model, content.kernel, content.agree]).toEqual(['"HELLO, backing file"', '"hello, backing file"', false]);
    expect(rows.at(-1)).toMatchObject({ observable: '(harness)', kernel: 'user: timed out', agree: false });
  });
});

describe('fpsim oracle without a usable kernel', () => {
  it('says so, marks every row skipped and exits 0', async () => {
    const r = await cli(['oracle', 'passthrough-read', 'backing-ids-cyclic', '--json'], { FPSIM_ORACLE: '0' });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { unavailable: string; summary: ReturnType<typeof summarize>; rows: Row[] };
    expect(j.unavailable).toMatch(/FPSIM_ORACLE=0/);
    expect(j.summary).toMatchObject({ scenarios: 2, run: 0, skipped: 2, observables: 0, disagreements: 0 });
    expect(j.rows.every((x) => x.agree === null && /no real kernel/.test(x.note ?? ''))).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// The real kernel.

const avail = availability();
if (!avail.ok) console.warn(`fpsim oracle against the real kernel: skipped (${avail.reason})`);
const realTitle = avail.ok ? 'fpsim oracle against the real kernel' : `fpsim oracle against the real kernel (skipped: ${avail.reason})`;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), ...args],
      { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr }),
    );
  });
}


describe.skipIf(!avail.ok)(realTitle, () => {
  it('agrees with the kernel on three small built-in scenarios', async () => {
    const r = await withRealKernelLock(() => cli(['oracle', 'passthrough-read', 'backing-ids-cyclic', 'open-reply-keep-cache-eio', '--json']));
    const j = JSON.parse(r.stdout) as { summary: ReturnType<typeof summarize>; rows: Row[] };
    const bad = j.rows.filter((x) => x.agree === false);
    expect(bad, JSON.stringify(bad, null, 2)).toEqual([]);
    expect(j.summary).toMatchObject({ scenarios: 3, run: 3, skipped: 0, disagreements: 0 });
    expect(j.summary.observables).toBeGreaterThan(15);
    expect(r.code).toBe(0);
    // every row of the three is a real comparison: the op results, the server's view
    expect(j.rows.some((x) => x.observable === 'requests at /fuse' && x.kernel.startsWith('INIT LOOKUP OPEN'))).toBe(true);
    expect(j.rows.some((x) => x.observable.startsWith('ctl[7] backing_open') && x.kernel === '4')).toBe(true);
  });

  // every mount of a run is in the keeper's private mount namespace: nothing of it reaches the
  // host, and it all goes with the namespace however the run ends (oracle/killtest.ts checks
  // processes, namespaces, host mounts and directories of the run)
  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    it(`leaves nothing behind when the node process gets ${signal} mid-run`, async () => {
      await withRealKernelLock(async () => {
        const r = await killTrial('node', 0, KILL_SCENARIOS, signal, 0, { afterHelpers: 300 });
        expect(r.finishedFirst, 'the oracle ended before it was killed').toBe(false);
        expect(r.helpersAtKill).toBeGreaterThan(0);
        expect(r.leftovers).toEqual({ processes: [], namespaces: [], mounts: [], dirs: [] });
        // SIGTERM is a clean stop: helpers ended, then exit 128 + 15 (which npm in front
        // passes on as its own SIGTERM)
        if (signal === 'SIGTERM') expect(['code 143', 'SIGTERM']).toContain(r.exit);
      });
    });
  }
});

if (!avail.ok) {
  describe(realTitle, () => {
    it.skip(`needs the real kernel: ${avail.reason}`, () => {});
  });
}
