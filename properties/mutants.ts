// Mutation testing of the properties: for every seeded bug of sim/kernel/mutants.ts, run the
// model property (random programs, the hand-made race programs and the scenario library,
// under random interleavings and their own schedules) with the bug switched on, until the
// property fails (the mutant is killed) or the budget ends (it survived). A failure counts
// only if the same program passes on the model without the bug.
import { MUTANT_NAMES, MUTANTS, type MutantName } from '../sim/kernel/mutants.ts';
import { checkModel, modelArb } from './property.ts';
import { countOps, formatFailure, writeCounterexample, COUNTEREXAMPLE_DIR, type FailureContext } from './report.ts';
import type { RunInfo } from './run-program.ts';

export interface MutantRunOptions {
  seed?: number;
  /** at most this many programs per mutant */
  numRuns?: number;
  /** at most this long searching per mutant (ms) */
  timeLimitMs?: number;
  /** shrinking budget after the kill (ms); 0: keep the first counterexample */
  shrinkMs?: number;
  kernel?: string;
  /** only these mutants (default: all) */
  only?: string[];
  /** write each kill's counterexample under this directory (default: none) */
  saveDir?: string | null;
  /** draw from the scenario library too (default true) */
  library?: boolean;
  /** told each mutant's result as it is known */
  onResult?: (r: MutantResult) => void;
}

export interface MutantResult {
  id: string;
  killed: boolean;
  /** time to kill (first failing run), or the time spent when it survived */
  ms: number;
  /** length of the shrunk counterexample in atomic steps, up to the first failure it shows */
  steps: number | null;
  /** its length in ops (commands) */
  ops: number | null;
  /** programs tried until the kill */
  runs: number;
  /** where the killing program came from: random, targeted:<name>, library:<file> */
  via: string | null;
  /** what the property saw */
  failure: { kind: string; message: string } | null;
  /** time spent shrinking */
  shrinkMs: number;
  files?: { trace: string | null; scenario: string };
  report?: string;
}

export interface MutantReport {
  total: number;
  killed: number;
  seed: number;
  mutants: MutantResult[];
}

/** Steps up to the first failure the run shows (the whole run if it names no step). */
export function stepsToFailure(info: RunInfo): number {
  const at = info.failures.map((f) => f.step).filter((s): s is number => s !== undefined && s > 0);
  return at.length ? Math.min(...at) : info.steps;
}

export function runMutants(opts: MutantRunOptions = {}): MutantReport {
  const seed = opts.seed ?? 1;
  const ids = (opts.only?.length ? opts.only : MUTANT_NAMES) as MutantName[];
  for (const id of ids) if (!Object.hasOwn(MUTANTS, id)) throw new Error(`unknown mutant ${id}`);
  const arb = modelArb({ targetedWeight: 2, library: opts.library ?? true });
  const results: MutantResult[] = [];
  for (const id of ids) {
    const shrinkMs = opts.shrinkMs ?? 2000;
    const r = checkModel(
      {
        seed,
        numRuns: opts.numRuns ?? 20_000,
        timeLimitMs: opts.timeLimitMs ?? 30_000,
        shrinkMs,
        endOnFailure: shrinkMs === 0,
        kernel: opts.kernel,
        mutants: [id],
        requireBaselinePass: true,
        arb,
      },
      `mutant ${id}`,
    );
    const ctx = r.ctx;
    const res: MutantResult = {
      id,
      killed: r.failed && ctx !== null,
      ms: Math.round(r.msToFailure ?? r.ms),
      steps: ctx ? stepsToFailure(ctx.info) : null,
      ops: ctx ? countOps(ctx.program.scenario) : null,
      runs: r.runs,
      via: ctx?.program.origin ?? null,
      failure: ctx?.info.failures[0] ? { kind: ctx.info.failures[0].kind, message: ctx.info.failures[0].message } : null,
      shrinkMs: Math.round(r.msToFailure === null ? 0 : r.ms - r.msToFailure),
    };
    if (ctx) {
      if (opts.saveDir) res.files = writeCounterexample(ctx as FailureContext, `mutant-${id}`, opts.saveDir);
      res.report = formatFailure(ctx, res.files);
    }
    results.push(res);
    opts.onResult?.(res);
  }
  return { total: results.length, killed: results.filter((x) => x.killed).length, seed, mutants: results };
}

export { COUNTEREXAMPLE_DIR };
