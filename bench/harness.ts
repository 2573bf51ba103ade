// The benchmark measurements, callable on tiny inputs from a test.
import { ScenarioSchema } from '../sim/scenario/schema.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { longProgram } from './workload.ts';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, copyFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Scenario } from '../sim/scenario/schema.ts';
import { loadScenario } from '../sim/scenario/load.ts';
import { explore, type ExploreOptions } from '../sim/explore/explore.ts';
import { exploreParallel } from '../sim/explore/parallel.ts';

export interface StepRate {
  label: string;
  steps: number;
  ms: number;
  stepsPerSec: number;
  passed: boolean;
}

/** Simulated atomic steps per second for one configuration (best of `repeat`). */
export function stepRate(label: string, users: number, rounds: number, check: boolean, record: boolean, repeat: number): StepRate {
  const s = ScenarioSchema.parse(longProgram(users, rounds));
  let best = Infinity;
  let steps = 0;
  let passed = true;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const r = runScenario(s, { check, record });
    const ms = performance.now() - t0;
    steps = r.world.step;
    passed &&= r.passed;
    best = Math.min(best, ms);
  }
  return { label, steps, ms: best, stepsPerSec: Math.round((steps / best) * 1000), passed };
}

export function stepRates(users: number, rounds: number, repeat: number): StepRate[] {
  return [
    stepRate('checks off, no trace', users, rounds, false, false, repeat),
    stepRate('checks off, trace recorded', users, rounds, false, true, repeat),
    stepRate('invariants checked every step, no trace', users, rounds, true, false, repeat),
    stepRate('invariants checked every step, trace recorded', users, rounds, true, true, repeat),
  ];
}

// --- the explorer (fpsim explore) ---------------------------------------------------------

const benchDir = fileURLToPath(new URL('.', import.meta.url));
export const REFERENCE_DIR = join(benchDir, 'reference');
export const SPIN_DIR = join(benchDir, 'spin');

export interface ExploreRate {
  label: string;
  states: number;
  transitions: number;
  pruned: number;
  maxDepth: number;
  ms: number;
  statesPerSec: number;
  transitionsPerSec: number;
  complete: boolean;
  /** violation kinds found, with the length of the shortest trace to each */
  findings: { kind: string; depth: number; schedule: string[] }[];
  /** with symmetry reduction: the states the representatives stand for (else the states) */
  represented: number | null;
}

/** Explore a scenario (best of `repeat` runs; the counts are the same every time). */
export function exploreRate(label: string, s: Scenario, opts: ExploreOptions, repeat: number): ExploreRate {
  let best = Infinity;
  let r = explore(s, opts);
  best = r.ms;
  for (let i = 1; i < repeat; i++) {
    const again = explore(s, opts);
    if (again.states !== r.states || again.transitions !== r.transitions) throw new Error(`${label}: the state counts changed between runs`);
    if (again.ms < best) best = again.ms;
    r = again;
  }
  return toRate(label, r, best);
}

type ExploreCounts = Pick<ExploreRate, 'states' | 'transitions' | 'pruned' | 'maxDepth' | 'complete'> & {
  symmetry?: { represented: number | null };
  findings: { kind: string; depth: number; schedule: string[] }[];
};

/** An exploration's counts and the wall time it took, as the results table reports them. */
function toRate(label: string, r: ExploreCounts, ms: number): ExploreRate {
  return {
    label,
    states: r.states,
    transitions: r.transitions,
    pruned: r.pruned,
    maxDepth: r.maxDepth,
    ms,
    statesPerSec: Math.round((r.states / ms) * 1000),
    transitionsPerSec: Math.round((r.transitions / ms) * 1000),
    complete: r.complete,
    findings: r.findings.map((f) => ({ kind: f.kind, depth: f.depth, schedule: f.schedule })),
    represented: r.symmetry?.represented ?? r.states,
  };
}

/** The three reference scenarios of bench/reference (sorted by file name). */
export function referenceScenarios(): { file: string; scenario: Scenario }[] {
  return readdirSync(REFERENCE_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: `bench/reference/${f}`, scenario: loadScenario(join(REFERENCE_DIR, f)) }));
}

/**
 * The growth family: reference (a) (a server control thread that opens, registers and
 * closes a backing id) with n-1 users opening the passthrough file, n scenario tasks in
 * all (the server's session loop and the rcu_gp kthread interleave too).
 */
export function growthScenario(n: number): Scenario {
  const base = JSON.parse(readFileSync(join(REFERENCE_DIR, 'lookup-vs-backing-close.json'), 'utf8')) as Record<string, unknown> & { tasks: unknown[] };
  const users = Array.from({ length: n - 1 }, (_, i) => ({ name: `user${i + 1}`, ops: [{ op: 'open', path: '/fuse/f' }] }));
  const { schedule: _s, ...rest } = base;
  return ScenarioSchema.parse({ ...rest, name: `growth-${n}-tasks`, tasks: [base.tasks[0], ...users] });
}

/** k worker threads on one scenario (wall time includes starting the workers). */
export async function parallelRate(label: string, s: Scenario, workers: number, opts: Omit<ExploreOptions, 'shard' | 'onProgress'> = {}): Promise<ExploreRate & { overlap: number }> {
  const r = await exploreParallel(s, opts, workers);
  return { ...toRate(label, r, r.ms), overlap: r.overlap };
}

// --- SPIN ----------------------------------------------------------------------------------

export interface SpinRun {
  states: number;
  transitions: number;
  depth: number;
  errors: number;
  /** spin -a, gcc and the best ./pan run, in ms */
  msSpin: number;
  msGcc: number;
  msPan: number;
  /** the assertion SPIN reports violated, if any, and the depth of its trail */
  violated: string | null;
  violatedAt: number | null;
  /** pan's own "elapsed time" of the search (wall, s), from the best run */
  panElapsed: number;
  /** CPU time (user + system, s) and peak RSS (KB) of the best ./pan run, by /usr/bin/time; null without it */
  panCpu: number | null;
  panRssKB: number | null;
}

/** How runSpin builds pan: extra flags to spin -a (e.g. -o2) and to gcc (e.g. -DNOREDUCE). */
export interface SpinBuild {
  spinFlags?: string[];
  gccFlags?: string[];
}

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** SPIN, installed from Debian when missing and we are root; else the reason it is not there. */
export function ensureSpin(install: boolean): string | null {
  if (has('spin') && has('gcc')) return null;
  if (!has('gcc')) return 'gcc is missing: SPIN needs it to compile pan.c';
  if (!install) return 'spin is not installed';
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'spin is not installed and we are not root (apt-get install -y spin)';
  try {
    execFileSync('apt-get', ['install', '-y', 'spin'], { stdio: 'ignore' });
  } catch (e) {
    return `apt-get install -y spin failed: ${(e as Error).message.split('\n')[0]}`;
  }
  return has('spin') ? null : 'apt-get install -y spin did not provide spin';
}

const time = (f: () => void) => {
  const t0 = performance.now();
  f();
  return performance.now() - t0;
};

/** SPIN in exhaustive mode on bench/spin/<model>: spin -a; gcc -O2 -DSAFETY pan.c; ./pan. */
export function runSpin(model: string, defines: string[] = [], repeat = 3, panFlags: string[] = [], build: SpinBuild = {}): SpinRun {
  const dir = mkdtempSync(join(tmpdir(), 'fpsim-spin-'));
  try {
    copyFileSync(join(SPIN_DIR, model), join(dir, model));
    const msSpin = time(() => execFileSync('spin', [...(build.spinFlags ?? []), ...defines.map((d) => `-D${d}`), '-a', model], { cwd: dir, stdio: 'pipe' }));
    const msGcc = time(() => execFileSync('gcc', ['-O2', '-DSAFETY', ...(build.gccFlags ?? []), '-o', 'pan', 'pan.c'], { cwd: dir, stdio: 'pipe' }));
    // /usr/bin/time, where there is one, gives pan's CPU time and peak memory
    const timed = existsSync('/usr/bin/time');
    let out = '';
    let msPan = Infinity;
    let panCpu: number | null = null;
    let panRssKB: number | null = null;
    for (let i = 0; i < repeat; i++) {
      let o = '';
      const ms = time(() => {
        try {
          o = timed
            ? execFileSync('/usr/bin/time', ['-f', '%U %S %M', '-o', 'pan.time', './pan', ...panFlags], { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 })
            : execFileSync('./pan', panFlags, { cwd: dir, encoding: 'utf8', maxBuffer: 64 << 20 });
        } catch (e) {
          o = String((e as { stdout?: string }).stdout ?? '');
        }
      });
      if (ms < msPan) {
        msPan = ms;
        out = o;
        if (timed) {
          const [u, sy, rss] = readFileSync(join(dir, 'pan.time'), 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
          panCpu = u! + sy!;
          panRssKB = rss!;
        }
      }
    }
    const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
    return {
      states: num(/([\d.e+]+) states, stored/),
      transitions: num(/([\d.e+]+) transitions \(= stored\+matched\)/),
      depth: num(/depth reached (\d+)/),
      errors: num(/errors: (\d+)/),
      msSpin,
      msGcc,
      msPan,
      violated: /assertion violated (.*?) \(at depth/.exec(out)?.[1] ?? null,
      violatedAt: /assertion violated .*? \(at depth (\d+)\)/.exec(out) ? Number(/assertion violated .*? \(at depth (\d+)\)/.exec(out)![1]) : null,
      panElapsed: num(/pan: elapsed time ([\d.e+]+) seconds/),
      panCpu,
      panRssKB,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
