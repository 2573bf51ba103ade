// The model property with fast-check: "every run of a random program under a random
// interleaving reports no violation (invariants after every step, the leak check after
// teardown), never deadlocks, and returns only what the syscalls may return". One predicate,
// three drivers: assertModel (vitest, fc.assert), checkModel (mutants and campaigns, fc.check).
import fc from 'fast-check';
import { randomProgramArb, type Program } from './program.ts';
import { TARGETED, libraryPrograms, targetedArb, type Targeted } from './targeted.ts';
import { runProgram, type RunInfo } from './run-program.ts';
import type { Failure } from './failure.ts';
import { formatFailure, writeCounterexample, type FailureContext } from './report.ts';

export interface PropertyOptions {
  seed: number;
  numRuns: number;
  kernel?: string;
  mutants?: string[];
  /** the programs (default: modelArb()) */
  arb?: fc.Arbitrary<Program>;
  /** stop at the first failure without shrinking */
  endOnFailure?: boolean;
  /** stop shrinking this long after the first failure (the best counterexample so far stands) */
  shrinkMs?: number;
  /** stop searching after this long (a run that found nothing by then passes) */
  timeLimitMs?: number;
  /** count a failure only if the program passes without the mutants: the mutant's doing */
  requireBaselinePass?: boolean;
  /** record step effects (coverage); slower */
  record?: boolean;
  /** told every run of the search (not the shrinking) */
  onRun?: (p: Program, info: RunInfo, elapsedMs: number) => void;
  /** replay a counterexample path (with its seed) */
  path?: string;
  /**
   * run only the programs whose index (in the order fast-check generates them from the seed)
   * is `index` mod `count`: n shards with the same seed run exactly the unsharded campaign's
   * programs between them (the others are generated, which is cheap, and pass unrun)
   */
  shard?: { index: number; count: number };
}

export interface PropertyResult {
  failed: boolean;
  /** runs of the search (up to and including the first failure) */
  runs: number;
  ms: number;
  /** from the start to the first failing run (null: none) */
  msToFailure: number | null;
  /** the shrunk counterexample, judged again */
  ctx: FailureContext | null;
  /** programs that failed without the mutants too (model problems, not kills) */
  baselineFailures: { program: Program; failures: Failure[] }[];
}

let libraryCache: Targeted[] | null = null;
/** The scenario library as programs (loaded once per process). */
export function library(): Targeted[] {
  return (libraryCache ??= libraryPrograms());
}

/**
 * The programs the model property draws: mostly random ones; now and then a hand-made race
 * (properties/targeted.ts) or a scenario of the library, under its own schedule or a random one.
 */
export function modelArb(opts: { library?: boolean; targetedWeight?: number } = {}): fc.Arbitrary<Program> {
  const hand = [...TARGETED, ...(opts.library === false ? [] : library())];
  return fc.oneof({ weight: 10, arbitrary: randomProgramArb }, { weight: opts.targetedWeight ?? 1, arbitrary: targetedArb(hand) });
}

interface State {
  t0: number;
  firstFailAt: number | null;
  runs: number;
  /** programs generated so far (the run index, for shards) */
  generated: number;
  baselineFailures: PropertyResult['baselineFailures'];
}

function predicate(o: PropertyOptions, st: State) {
  return (p: Program): boolean => {
    const now = performance.now();
    if (o.shard && st.firstFailAt === null && st.generated++ % o.shard.count !== o.shard.index) return true; // another shard's
    if (st.firstFailAt === null) {
      if (o.timeLimitMs !== undefined && now - st.t0 > o.timeLimitMs) return true;
      st.runs++;
    } else if (o.shrinkMs !== undefined && now - st.firstFailAt > o.shrinkMs) {
      return true; // the shrinking budget is spent: the smallest counterexample so far stands
    }
    const info = runProgram(p, { kernel: o.kernel, mutants: o.mutants, record: o.record });
    if (st.firstFailAt === null) o.onRun?.(p, info, performance.now() - st.t0);
    let failed = info.failures.length > 0;
    if (failed && o.requireBaselinePass && o.mutants?.length) {
      const base = runProgram(p, { kernel: o.kernel });
      if (base.failures.length) {
        failed = false;
        if (st.baselineFailures.length < 5) st.baselineFailures.push({ program: p, failures: base.failures });
      }
    }
    if (failed && st.firstFailAt === null) st.firstFailAt = performance.now();
    return !failed;
  };
}

function params(o: PropertyOptions): fc.Parameters<[Program]> {
  const ps: fc.Parameters<[Program]> = { seed: o.seed, numRuns: o.numRuns };
  if (o.endOnFailure) ps.endOnFailure = true;
  if (o.path !== undefined) ps.path = o.path;
  // past the time limit the predicate passes at once, but fast-check would still generate
  // every remaining program (--runs 1e9 never ends): stop it then too (a failure found just
  // before the limit keeps the counterexample shrunk so far)
  if (o.timeLimitMs !== undefined) {
    ps.interruptAfterTimeLimit = o.timeLimitMs;
    ps.markInterruptAsFailure = false;
  }
  return ps;
}

function contextOf(o: PropertyOptions, d: fc.RunDetails<[Program]>, property: string): FailureContext | null {
  if (!d.failed || !d.counterexample) return null;
  const program = d.counterexample[0];
  const info = runProgram(program, { kernel: o.kernel, mutants: o.mutants });
  return {
    property,
    program,
    info,
    seed: d.seed,
    path: d.counterexamplePath,
    kernel: info.result?.world.profile ?? o.kernel ?? program.scenario.kernel,
    mutants: o.mutants ?? [],
    numRuns: d.numRuns,
    numShrinks: d.numShrinks,
  };
}

/** A whole number from the environment (longer local runs: FPSIM_RUNS=20000 npx vitest ...). */
export function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : dflt;
}

/** Run the property with fc.check: the result, never a throw. */
export function checkModel(o: PropertyOptions, property = 'model'): PropertyResult {
  const st: State = { t0: performance.now(), firstFailAt: null, runs: 0, generated: 0, baselineFailures: [] };
  const d = fc.check(fc.property(o.arb ?? modelArb(), predicate(o, st)), params(o));
  return {
    failed: d.failed && !!d.counterexample,
    runs: st.runs,
    ms: performance.now() - st.t0,
    msToFailure: st.firstFailAt === null ? null : st.firstFailAt - st.t0,
    ctx: contextOf(o, d, property),
    baselineFailures: st.baselineFailures,
  };
}

/**
 * Run the property with fc.assert: on failure, print the report (the failure, the shrunk
 * program as steps, the interleaving, seed and path), write the counterexample files, throw.
 */
export function assertModel(o: PropertyOptions & { name: string; write?: boolean; dir?: string }, property = 'model') {
  const st: State = { t0: performance.now(), firstFailAt: null, runs: 0, generated: 0, baselineFailures: [] };
  fc.assert(fc.property(o.arb ?? modelArb(), predicate(o, st)), {
    ...params(o),
    reporter(d) {
      if (!d.failed) return;
      const ctx = contextOf(o, d, property);
      if (!ctx) throw new Error(fc.defaultReportMessage(d));
      let files: { trace: string | null; scenario: string } | undefined;
      if (o.write !== false) {
        try {
          files = writeCounterexample(ctx, o.name, o.dir);
        } catch (e) {
          console.error(`could not write the counterexample: ${(e as Error).message}`);
        }
      }
      const text = formatFailure(ctx, files);
      console.error(text);
      throw new Error(text);
    },
  });
}
