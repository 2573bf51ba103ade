// A longer campaign of the model property (`fpsim check`): many runs, with the step records
// kept for coverage (ops reached, errnos returned and produced inside the kernel, kernel
// functions and steps reached), throughput, and the shrunk counterexample if one shows up.
import { lookupKFunc } from '../sim/kernel/exec.ts';
import type fc from 'fast-check';
import { checkModel, modelArb } from './property.ts';
import type { Program } from './program.ts';
import { addRun, emptyCoverage, specErrnoTable, type Coverage } from './coverage.ts';
import type { FailureContext } from './report.ts';

export interface CampaignOptions {
  runs: number;
  seed: number;
  kernel?: string;
  mutants?: string[];
  /** shrinking budget on failure (ms) */
  shrinkMs?: number;
  /** stop starting new runs after this long (ms); the runs done are the result */
  timeLimitMs?: number;
  /** told after each run */
  onProgress?: (done: number, total: number, elapsedMs: number) => void;
  /** the programs (default modelArb(): random ones, the hand-made races, the scenario library) */
  arb?: fc.Arbitrary<Program>;
  /** run only programs index mod count == index (PropertyOptions.shard) */
  shard?: { index: number; count: number };
}

export interface CampaignResult {
  runs: number;
  /** the runs asked for (runs < requested: stopped by the time limit) */
  requested: number;
  /** the time limit ended the campaign before `requested` runs */
  timedOut: boolean;
  seed: number;
  ms: number;
  runsPerSec: number;
  /** ops (commands) and atomic steps executed by the search */
  ops: number;
  steps: number;
  failed: boolean;
  ctx: FailureContext | null;
  coverage: Coverage;
  /** steps of the functions reached that no run reached */
  unreachedLabels: string[];
}

export function runCampaign(o: CampaignOptions): CampaignResult {
  const cov = emptyCoverage();
  let ops = 0;
  let steps = 0;
  let done = 0;
  const r = checkModel({
    seed: o.seed,
    numRuns: o.runs,
    kernel: o.kernel,
    mutants: o.mutants,
    requireBaselinePass: !!o.mutants?.length,
    shrinkMs: o.shrinkMs ?? 10_000,
    ...(o.timeLimitMs !== undefined ? { timeLimitMs: o.timeLimitMs } : {}),
    record: true,
    arb: o.arb ?? modelArb(),
    ...(o.shard ? { shard: o.shard } : {}),
    onRun(p, info, elapsed) {
      done++;
      ops += info.ops;
      steps += info.steps;
      if (info.result) addRun(cov, p.scenario, info.result);
      o.onProgress?.(done, shardRuns(o.runs, o.shard), elapsed);
    },
  });
  const searchMs = r.msToFailure ?? r.ms;
  const mine = shardRuns(o.runs, o.shard);
  return {
    runs: r.runs,
    requested: mine,
    timedOut: !r.failed && r.runs < mine,
    seed: o.seed,
    ms: r.ms,
    runsPerSec: r.runs / (searchMs / 1000 || 1e-9),
    ops,
    steps,
    failed: r.failed,
    ctx: r.ctx,
    coverage: cov,
    unreachedLabels: unreached(cov),
  };
}

/** How many of a campaign's `runs` programs are a shard's own (indices congruent to its index). */
export function shardRuns(runs: number, shard?: { index: number; count: number }): number {
  return shard ? Math.max(0, Math.ceil((runs - shard.index) / shard.count)) : runs;
}

/** The steps ("fn:label") of every function the campaign entered that it never ran. */
function unreached(cov: Coverage): string[] {
  const out: string[] = [];
  for (const fn of Object.keys(cov.functions).sort()) {
    const kf = lookupKFunc(fn);
    if (!kf) continue;
    for (const label of Object.keys(kf.steps)) {
      const key = label === 'start' ? fn : `${fn}:${label}`;
      if (!cov.labels[key]) out.push(key);
    }
  }
  return out;
}

export { specErrnoTable };
