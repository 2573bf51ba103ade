// Traces: record, write, read, replay. Every built-in scenario round-trips without a
// divergence; an edited trace diverges exactly where it was edited; bad files give one clear
// error naming the file (and exit status 2 from the CLI, without a stack trace); writing is
// atomic and never clobbers; the same run gives the same bytes.
import { describe as group, expect, it, beforeAll, afterAll } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { loadScenario, InputError } from '../sim/scenario/load.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { recordTrace, writeTrace } from '../sim/trace/write.ts';
import { readTrace, stepRange, knownTaskNames } from '../sim/trace/read.ts';
import { replayTrace } from '../sim/trace/replay.ts';
import { serializeTrace, traceStep, type Trace } from '../sim/trace/format.ts';
import { explainViolation } from '../sim/trace/explain.ts';
import { MUTANT_NAMES } from '../sim/kernel/mutants.ts';
import { builtinScenarios } from '../cli/common.ts';
import type { ViolationKind } from '../sim/kernel/lib/violation.ts';

const ROOT = join(import.meta.dirname, '..');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fpsim-trace-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SCENARIOS = builtinScenarios();
const FIRST = SCENARIOS.find((f) => basename(f) === 'passthrough-read.json') ?? SCENARIOS[0]!;
let seq = 0;
const fresh = (name = 'trace') => join(dir, `${name}-${seq++}.json`);

function recorded(file = FIRST, mutants?: string[]) {
  return recordTrace(loadScenario(file), mutants ? { mutants } : {}).trace;
}

/** Write, read back and replay; the replay must agree with the recording. */
function roundTrip(t: Trace) {
  const f = fresh();
  writeTrace(f, t);
  const back = readTrace(f);
  expect(back).toEqual(t);
  const rp = replayTrace(back);
  return rp;
}

/** A hand edit: parse the file as a person would, change it, save it (standard JSON). */
function edit(t: Trace, change: (j: any) => void): string {
  const f = fresh('edited');
  const j = JSON.parse(serializeTrace(t));
  change(j);
  writeFileSync(f, JSON.stringify(j, null, 2));
  return f;
}

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}
function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile('npx', ['tsx', 'cli/main.ts', ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** An InputError whose message names the file and says `what`. */
function inputError(fn: () => unknown, file: string, what: RegExp) {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InputError);
  const m = (caught as Error).message;
  expect(m).toContain(file);
  expect(m).toMatch(what);
  return m;
}

group('round trip', () => {
  it.each(SCENARIOS.map((f) => [basename(f), f]))('%s: run with trace, write, read, replay: no divergence', (_n, file) => {
    const s = loadScenario(file);
    const { trace } = recordTrace(s);
    // the trace holds exactly what a plain run does, and a pick for every step
    const plain = runScenario(s);
    expect(trace.steps).toEqual(plain.steps.map((x) => traceStep(x.rec, x.phase)));
    expect(trace.schedule).toEqual(trace.steps.map((x) => x.task));
    expect(trace.passed).toBe(plain.passed);
    expect(new Set(trace.steps.map((x) => x.phase))).toContain('teardown');
    const rp = roundTrip(trace);
    expect(rp.divergence).toBeNull();
    expect(rp.steps).toEqual(trace.steps);
    expect(rp.result?.passed).toBe(trace.passed);
  });

  it('a run with mutants and violations round-trips too', () => {
    for (const m of MUTANT_NAMES) {
      const t = recorded(FIRST, [m]);
      const rp = roundTrip(t);
      expect(rp.divergence, m).toBeNull();
      expect(rp.violations.length, m).toBe(t.violations.length);
    }
  });

  it('the same scenario gives byte-identical traces', () => {
    for (const file of SCENARIOS) {
      const a = serializeTrace(recorded(file));
      const b = serializeTrace(recorded(file));
      expect(a).toBe(b);
      const fa = fresh();
      const fb = fresh();
      writeTrace(fa, recorded(file));
      writeTrace(fb, recorded(file));
      expect(readFileSync(fa)).toEqual(readFileSync(fb));
    }
  });
});

group('divergence', () => {
  const t = recorded();
  // steps in the run phase with effects to edit (not the first or last step)
  const candidates = t.steps.filter((s) => s.phase === 'run' && s.effects.length > 0);

  it.each([0, Math.floor(candidates.length / 2), candidates.length - 1])('an edited effect text of step k diverges at step k (candidate %i)', (c) => {
    const k = candidates[c]!.step;
    const f = edit(t, (j) => {
      j.steps[k - 1].effects[0].text += ' (edited)';
    });
    const rp = replayTrace(readTrace(f));
    expect(rp.divergence?.step).toBe(k);
    expect(rp.divergence?.message).toMatch(new RegExp(`^step ${k}: recorded .*\\(edited\\).*, replay did `));
    expect(rp.steps.at(-1)?.step).toBe(k);
  });

  it('a task name swapped in the schedule diverges at that step', () => {
    const tasks = [...new Set(t.schedule)];
    for (const k of [candidates[0]!.step, candidates.at(-1)!.step]) {
      const other = tasks.find((n) => n !== t.schedule[k - 1])!;
      const f = edit(t, (j) => {
        j.schedule[k - 1] = other;
      });
      const rp = replayTrace(readTrace(f));
      expect(rp.divergence?.step).toBe(k);
      expect(rp.divergence?.message).toMatch(new RegExp(`^step ${k}: recorded `));
    }
  });

  it("a task name swapped in a step's record diverges at that step", () => {
    const k = candidates[1]!.step;
    const f = edit(t, (j) => {
      j.steps[k - 1].task = j.steps[k - 1].task === 'user' ? 'setup' : 'user';
    });
    expect(replayTrace(readTrace(f)).divergence?.step).toBe(k);
  });

  it('a trace cut short, or with an extra step, diverges at its end', () => {
    const n = t.steps.length;
    const short = edit(t, (j) => {
      j.schedule.pop();
      j.steps.pop();
    });
    const a = replayTrace(readTrace(short));
    expect(a.divergence?.step).toBe(n);
    expect(a.divergence?.message).toMatch(/recorded the end of the run/);
    const long = edit(t, (j) => {
      j.steps.push({ ...j.steps[n - 1], step: n + 1 });
    });
    const b = replayTrace(readTrace(long));
    expect(b.divergence?.step).toBe(n + 1);
    expect(b.divergence?.message).toMatch(/replay did nothing: the run ended after/);
  });

  it('a changed verdict diverges after the last step', () => {
    const f = edit(t, (j) => {
      j.passed = !j.passed;
    });
    const rp = replayTrace(readTrace(f));
    expect(rp.divergence?.step).toBe(t.steps.length + 1);
    expect(rp.divergence?.message).toMatch(/^after the last step/);
  });

  it('the CLI reports the divergence with exit status 1', async () => {
    const orig = fresh('cli');
    await cli('run', FIRST, '-q', '--trace', orig);
    const k = candidates[0]!.step;
    const f = edit(readTrace(orig), (j) => {
      j.steps[k - 1].effects[0].text = 'something else';
    });
    const r = await cli('replay', f);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`DIVERGED step ${k}: recorded`);
    expect(r.stdout).toContain('"something else"');
  });
});

group('bad trace files', () => {
  const t = recorded();
  const text = serializeTrace(t);
  const bad = (name: string, content: string) => {
    const f = join(dir, name);
    writeFileSync(f, content);
    return f;
  };
  let files: Record<string, { file: string; what: RegExp }>;
  beforeAll(() => {
    const j = () => JSON.parse(text);
    const v99 = j();
    v99.fpsimTrace = 99;
    const noVersion = j();
    delete noVersion.fpsimTrace;
    const unknown = j();
    unknown.schedule[5] = 'nobody';
    const schema = j();
    schema.steps[2].effects[0] = { k: 'gossip', text: 1 };
    files = {
      truncated: { file: bad('truncated.json', text.slice(0, Math.floor(text.length / 2))), what: /not valid JSON at line \d+, column \d+ \(the file is cut short/ },
      'version 99': { file: bad('v99.json', JSON.stringify(v99)), what: /written by a newer fpsim \(version 99\); this fpsim reads version 1/ },
      'missing version': { file: bad('noversion.json', JSON.stringify(noVersion)), what: /not an fpsim trace: no "fpsimTrace" version field/ },
      'unknown task': { file: bad('unknown.json', JSON.stringify(unknown)), what: /at \$\.schedule\[5\] \(step 6\): no task "nobody"/ },
      'schema error': { file: bad('schema.json', JSON.stringify(schema)), what: /at \$\.steps\[2\]\.effects\[0\]\.k: .*expected one of/ },
      'a scenario, not a trace': { file: FIRST, what: /looks like a scenario/ },
    };
  });

  it.each(['truncated', 'version 99', 'missing version', 'unknown task', 'schema error', 'a scenario, not a trace'])('%s: one InputError naming the file', (name) => {
    const { file, what } = files[name]!;
    inputError(() => readTrace(file), file, what);
  });

  it('--from / --to outside the trace: an InputError naming the file', () => {
    const f = fresh();
    writeTrace(f, t);
    const back = readTrace(f);
    const n = t.steps.length;
    inputError(() => stepRange(back, f, n + 1), f, new RegExp(`--from ${n + 1} is outside the trace: the trace has steps 1 to ${n}`));
    inputError(() => stepRange(back, f, undefined, 0), f, /--to 0 is outside the trace/);
    inputError(() => stepRange(back, f, 5, 3), f, /--from 5 is after --to 3/);
    expect(stepRange(back, f, 2, 4)).toEqual({ from: 2, to: 4 });
    expect(stepRange(back, f)).toEqual({ from: 1, to: n });
  });

  it('the CLI: exit status 2, one error line naming the file, no stack trace', async () => {
    const f = fresh();
    writeTrace(f, t);
    const cases: [string, string[]][] = [
      ...Object.values(files).map((c): [string, string[]] => [c.file, ['replay', c.file]]),
      [f, ['replay', f, '--from', String(t.steps.length + 1)]],
      [join(dir, 'missing.json'), ['replay', join(dir, 'missing.json')]],
    ];
    const results = await Promise.all(cases.map(([, args]) => cli(...args)));
    results.forEach((r, i) => {
      const file = cases[i]![0];
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(file);
      expect(r.stderr.match(/^fpsim: /gm)).toHaveLength(1);
      expect(r.stderr).not.toMatch(/^\s+at .*\(.*:\d+:\d+\)$/m);
      expect(r.stderr).not.toMatch(/InputError|Error:/);
      expect(r.stdout).toBe('');
    });
  });

  it('--step without a terminal: a clear error, exit status 2', async () => {
    const f = fresh();
    writeTrace(f, t);
    const r = await cli('replay', f, '--step');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--step .* stdin is not a terminal/);
  });
});

group('writing', () => {
  it('refuses to overwrite without force, and leaves no temp file behind', () => {
    const sub = join(dir, 'w');
    mkdirSync(sub);
    const f = join(sub, 'out.json');
    const t = recorded();
    writeTrace(f, t);
    const before = readFileSync(f, 'utf8');
    inputError(() => writeTrace(f, recorded(FIRST, ['store-instead-of-xchg'])), f, /already exists \(use --force to overwrite it\)/);
    expect(readFileSync(f, 'utf8')).toBe(before);
    expect(readdirSync(sub)).toEqual(['out.json']);
    const m = recorded(FIRST, ['store-instead-of-xchg']);
    writeTrace(f, m, { force: true });
    expect(readTrace(f)).toEqual(m);
    expect(readdirSync(sub)).toEqual(['out.json']);
    // no directory, or a directory in the way: errors name the file, nothing is left
    const nodir = join(sub, 'no', 'such', 'x.json');
    inputError(() => writeTrace(nodir, t), nodir, /cannot write: no directory/);
    mkdirSync(join(sub, 'adir.json'));
    inputError(() => writeTrace(join(sub, 'adir.json'), t, { force: true }), join(sub, 'adir.json'), /is a directory/);
    expect(readdirSync(sub).sort()).toEqual(['adir.json', 'out.json']);
  });

  it('fpsim run --trace writes the trace; a second time needs --force', async () => {
    const f = fresh('cli');
    const a = await cli('run', FIRST, '-q', '--trace', f);
    expect([0, 1]).toContain(a.code);
    expect(readTrace(f)).toEqual(recorded());
    const b = await cli('run', FIRST, '-q', '--trace', f);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain(`${f}: already exists`);
    const c = await cli('run', FIRST, '--json', '--trace', f, '--force');
    expect([0, 1]).toContain(c.code);
    expect(() => JSON.parse(c.stdout)).not.toThrow();
    expect(c.stderr).toContain(`written to ${f}`);
    expect(existsSync(f)).toBe(true);
    const d = await cli('replay', f);
    expect(d.code).toBe(a.code);
    expect(d.stdout).toContain('replay matches the trace');
  });
});

group('replay shows and explains', () => {
  it('stops at the first violation and explains it in kernel terms', async () => {
    const f = fresh('mutant');
    const run = await cli('run', FIRST, '-q', '--mutant', 'store-instead-of-xchg', '--trace', f);
    expect(run.code).toBe(1);
    const t = readTrace(f);
    expect(t.violations.length).toBeGreaterThan(0);
    const first = Math.min(...t.violations.map((v) => v.step));
    const r = await cli('replay', f, '--json');
    expect(r.code).toBe(t.passed ? 0 : 1);
    const out = JSON.parse(r.stdout);
    expect(out.divergence).toBeNull();
    expect(out.stoppedAtViolation).toBe(first);
    expect(out.steps.at(-1).step).toBe(first);
    expect(out.explained[0].explanation.text.length).toBeGreaterThan(50);
    const text = await cli('replay', f);
    expect(text.stdout).toContain('the kernel would say:');
    expect(text.stdout).toContain(`stopped at the first violation, step ${first}`);
  });

  it('--from / --to cut the steps shown', async () => {
    const f = fresh();
    await cli('run', FIRST, '-q', '--trace', f);
    const t = readTrace(f);
    const r = await cli('replay', f, '--json', '--from', '3', '--to', '7');
    expect(r.code).toBe(t.passed ? 0 : 1);
    const out = JSON.parse(r.stdout);
    expect(out.steps.map((s: { step: number }) => s.step)).toEqual([3, 4, 5, 6, 7]);
    const text = await cli('replay', f, '--from', '3', '--to', '4');
    expect(text.stdout).toMatch(/\[ {2}3\]/);
    expect(text.stdout).not.toMatch(/\[ {2}5\]/);
  });

  it('every violation kind has an explanation; the key ones say why the kernel code is as it is', () => {
    const kinds: ViolationKind[] = [
      'use-after-free', 'double-free', 'leak', 'refcount-inc-from-zero', 'refcount-underflow', 'refcount-owners', 'rcu-early-free',
      'rcu-unbalanced', 'lock-misuse', 'iomode', 'stack-depth', 'idr', 'warn-on', 'deadlock', 'outcome',
    ];
    const e = (kind: ViolationKind) => explainViolation({ kind, message: 'fuse_backing_get dereferences fuse_backing#7, which was already freed', step: 1, task: 'user', fn: 'fuse_backing_get', object: 'fuse_backing#7' });
    for (const k of kinds) {
      expect(e(k).report.length, k).toBeGreaterThan(5);
      expect(e(k).text.length, k).toBeGreaterThan(80);
    }
    expect(e('use-after-free').report).toContain('KASAN: slab-use-after-free');
    expect(e('use-after-free').text).toMatch(/read freed memory.*had not taken a reference for/);
    expect(e('refcount-inc-from-zero').text).toMatch(/fuse_backing_get must use refcount_inc_not_zero/);
    expect(e('rcu-early-free').text).toMatch(/kfree_rcu/);
  });

  it('every task of a recorded schedule is a known task of its scenario', () => {
    for (const file of SCENARIOS) {
      const t = recorded(file);
      const known = knownTaskNames(t.scenario);
      for (const n of t.schedule) expect(known.has(n), n).toBe(true);
    }
  });
});
