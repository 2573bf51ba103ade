// fpsim as a library (`import { ... } from 'fpsim'`): load and validate scenarios, run them
// (outcomes, violations, a trace), explore every interleaving, run a property campaign over
// your own scenarios, record, replay and render traces, and the JSON Schemas of the files.
// A driver like the CLI: it re-exports a small typed surface of sim/, properties/ and view/
// and adds the few functions a FUSE project's own test suite needs. docs/api.md shows it in use.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { InputError, jsonPath, loadScenario } from '../sim/scenario/load.ts';
import { ScenarioSchema, type Scenario } from '../sim/scenario/schema.ts';
import { runScenario as runModel, type ScenarioResult } from '../sim/scenario/run-scenario.ts';
import { recordTrace } from '../sim/trace/write.ts';
import type { Trace } from '../sim/trace/format.ts';
import { traceHtml } from '../view/html.ts';
import { runCampaign as campaign, type CampaignResult } from '../properties/campaign.ts';
import { interleavingArb, randomProgramArb, type Program } from '../properties/program.ts';
import { library, modelArb } from '../properties/property.ts';
import { TARGETED, withoutExpectations } from '../properties/targeted.ts';
import { formatFailure, writeCounterexample } from '../properties/report.ts';

// --- scenarios -------------------------------------------------------------------------------

export { InputError, loadScenario, parseScenario } from '../sim/scenario/load.ts';
export { ScenarioSchema, OpSchema, FilesystemSchema, TaskSchema } from '../sim/scenario/schema.ts';
export type { Scenario, ScenarioInput, ScenarioOp } from '../sim/scenario/schema.ts';
export type { ScenarioResult, OpOutcome } from '../sim/scenario/run-scenario.ts';
export type { Violation, ViolationKind } from '../sim/kernel/lib/violation.ts';
export { PROFILE_NAMES, type ProfileName } from '../sim/kernel/profile.ts';
export { MUTANTS, MUTANT_NAMES, type MutantName } from '../sim/kernel/mutants.ts';

const HERE = dirname(fileURLToPath(import.meta.url));

/** fpsim's version (its package.json). */
export const VERSION: string = (() => {
  for (const p of [join(HERE, '..', 'package.json'), join(HERE, '..', '..', 'package.json')]) {
    try {
      const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (j.name === 'fpsim' && j.version) return j.version;
    } catch {
      // not here
    }
  }
  return 'unknown';
})();

/** The built-in scenarios' directory (scenarios/ in the tree, dist/scenarios/ installed). */
export const BUILTIN_SCENARIO_DIR = join(HERE, '..', 'scenarios');

export interface ScenarioIssue {
  /** a JSON path: "$.tasks[0].ops[2].expect" */
  path: string;
  message: string;
}

/** Check a value (a parsed JSON file) against the scenario format without throwing. */
export function validateScenario(value: unknown): { ok: true; scenario: Scenario } | { ok: false; issues: ScenarioIssue[] } {
  const r = ScenarioSchema.safeParse(value);
  if (!r.success) return { ok: false, issues: r.error.issues.map((i) => ({ path: jsonPath(i.path), message: i.message })) };
  const { $schema: _editor, ...scenario } = r.data;
  return { ok: true, scenario };
}

export interface LoadedScenario {
  file: string;
  scenario: Scenario;
}

/**
 * Load scenario files: a directory (every *.json in it, by name) or a list of files. A file
 * that is not a valid scenario throws an InputError naming the file, the JSON path and what
 * was expected.
 */
export function loadScenarios(from: string | readonly string[]): LoadedScenario[] {
  let files: string[];
  if (typeof from === 'string' && statSync(from, { throwIfNoEntry: false })?.isDirectory()) {
    files = readdirSync(from)
      .filter((f) => f.endsWith('.json'))
      .sort()
      .map((f) => join(from, f));
    if (!files.length) throw new InputError(`${from}: no scenario files (*.json) in this directory`);
  } else files = typeof from === 'string' ? [from] : [...from];
  return files.map((file) => ({ file, scenario: loadScenario(file) }));
}

/** fpsim's own scenarios (the ones `fpsim list` shows). */
export function builtinScenarios(): LoadedScenario[] {
  return loadScenarios(BUILTIN_SCENARIO_DIR);
}

export interface RunOptions {
  /** the kernel profile: "v15", "6.9" or "6.18" (default: the scenario's own) */
  kernel?: string;
  /** seeded bugs to switch on (default: the scenario's own) */
  mutants?: string[];
  /** also record the run as a trace (for replayTrace, writeTrace, renderTraceHtml) */
  trace?: boolean;
}

export interface ScenarioRun extends ScenarioResult {
  /** the recorded trace, when RunOptions.trace was set */
  trace: Trace | null;
}

/**
 * Run a scenario on the model under its own schedule: every atomic step, every invariant after
 * each step, teardown and the leak check; each op's outcome judged against its "expect", the
 * violations against expect.violations. `passed` says whether all of it held.
 */
export function runScenario(s: Scenario, o: RunOptions = {}): ScenarioRun {
  const opts: { kernel?: string; mutants?: string[] } = {};
  if (o.kernel !== undefined) opts.kernel = o.kernel;
  if (o.mutants !== undefined) opts.mutants = o.mutants;
  if (o.trace) {
    const { trace, result } = recordTrace(s, opts);
    return Object.assign(result, { trace });
  }
  return Object.assign(runModel(s, { ...opts, record: true }), { trace: null });
}

/** A run's verdict as plain text: each op that was judged, each violation, PASS or FAIL. */
export function verdict(r: ScenarioResult): string {
  const out: string[] = [];
  for (const o of r.outcomes) {
    if (o.expected === null && o.ok) continue;
    out.push(`${o.ok ? 'ok ' : 'BAD'} ${o.task}[${o.op}] ${o.what}: ${o.actual}${o.expected !== null ? ` (expected ${o.expected})` : ''}`);
  }
  for (const v of r.violations) {
    const expected = !r.unexpectedViolations.includes(v);
    out.push(`${expected ? 'expected violation' : 'VIOLATION'} ${v.kind} at step ${v.step} in ${v.task}${v.fn ? ` (${v.fn})` : ''}: ${v.message}`);
  }
  for (const k of r.missingViolations) out.push(`MISSING expected a ${k} violation, none was reported`);
  for (const p of r.serverProblems) out.push(`BAD ${p}`);
  out.push(`${r.passed ? 'PASS' : 'FAIL'} ${r.name}`);
  return out.join('\n');
}

// --- traces: record, write, read, replay, render -----------------------------------------------

export { recordTrace, writeTrace } from '../sim/trace/write.ts';
export { readTrace, parseTrace } from '../sim/trace/read.ts';
export { replayTrace, type Replay, type Divergence } from '../sim/trace/replay.ts';
export { TraceSchema, TRACE_VERSION, serializeTrace, type Trace, type TraceStep } from '../sim/trace/format.ts';

/** A self-contained HTML page for a trace: a timeline per task, objects over time, violations. */
export function renderTraceHtml(t: Trace, title = `fpsim: ${t.scenario.name}`): string {
  return traceHtml(t, title);
}

// --- exhaustive exploration -----------------------------------------------------------------------

export { explore, type ExploreOptions, type ExploreResult, type Finding, type Progress } from '../sim/explore/explore.ts';
export { exploreParallel, type ParallelResult } from '../sim/explore/parallel.ts';
export { counterexample, type Counterexample } from '../sim/explore/counterexample.ts';

// --- property campaigns -------------------------------------------------------------------------

export type { Program } from '../properties/program.ts';
export type { Coverage } from '../properties/coverage.ts';
export type { FailureContext } from '../properties/report.ts';
export { runMutants, type MutantReport, type MutantResult, type MutantRunOptions } from '../properties/mutants.ts';

export interface CampaignOptions {
  /** programs to run */
  runs: number;
  /** fast-check's seed: the same seed runs the same programs */
  seed: number;
  /**
   * Your scenarios. Each is run under its own schedule (its expected outcomes and violations
   * judged) and, if it switches on no mutant and expects no violation, under random
   * interleavings of its tasks (judged like a random program: the invariants after every
   * step, no leak, no deadlock, only the results the syscalls may return).
   */
  scenarios?: readonly Scenario[];
  /** random programs too (default true) */
  random?: boolean;
  /** fpsim's hand-made races and built-in scenarios too (default: only when no scenarios are given) */
  library?: boolean;
  /** kernel profile for the random programs and interleavings (default 6.9) */
  kernel?: string;
  mutants?: string[];
  /** shrinking budget on failure, in ms (default 10 000) */
  shrinkMs?: number;
  /** write the counterexample (a trace and a scenario) here on failure */
  counterexampleDir?: string;
  onProgress?: (done: number, total: number, elapsedMs: number) => void;
}

export interface CampaignRun extends CampaignResult {
  /** the failure for people: the shrunk program, the interleaving, seed and path; null on success */
  report: string | null;
  /** the counterexample files, when counterexampleDir was given and the campaign failed */
  files: { trace: string | null; scenario: string } | null;
}

/** The programs a campaign draws from scenarios: own schedule, and random interleavings. */
export function scenarioPrograms(scenarios: readonly Scenario[]): fc.Arbitrary<Program> {
  if (!scenarios.length) throw new Error('scenarioPrograms: no scenarios');
  const origin = (s: Scenario) => `scenario:${s.name}`;
  const own = fc.constantFrom(...scenarios).map((s): Program => ({ scenario: s, sched: [], origin: origin(s), own: true }));
  const clean = scenarios.filter((s) => !s.mutants.length && !s.expect.violations.length);
  if (!clean.length) return own;
  const mixed = fc.tuple(fc.constantFrom(...clean), interleavingArb(120)).map(([s, sched]): Program => ({ scenario: withoutExpectations(s), sched, origin: origin(s) }));
  return fc.oneof(own, { weight: 3, arbitrary: mixed });
}

function campaignArb(o: CampaignOptions): fc.Arbitrary<Program> {
  const mine = o.scenarios?.length ? [...o.scenarios] : [];
  const withLibrary = o.library ?? mine.length === 0;
  if (!mine.length && withLibrary && o.random !== false) return modelArb();
  const parts: fc.WeightedArbitrary<Program>[] = [];
  if (o.random !== false) parts.push({ weight: mine.length ? 1 : 10, arbitrary: randomProgramArb });
  if (mine.length) parts.push({ weight: 3, arbitrary: scenarioPrograms(mine) });
  if (withLibrary) parts.push({ weight: 1, arbitrary: scenarioPrograms([...TARGETED.map((t) => t.scenario), ...library().map((t) => t.scenario)]) });
  if (!parts.length) throw new Error('runCampaign: nothing to run (no scenarios, random: false, library: false)');
  return parts.length === 1 ? parts[0]!.arbitrary : fc.oneof(...parts);
}

/**
 * A property campaign (what `fpsim check` runs): `runs` programs, each under an interleaving
 * fast-check draws from `seed`; the first failure is shrunk to a smallest program and
 * interleaving. Never throws for a failure: see `failed` and `report`, or use assertCampaign.
 */
export function runCampaign(o: CampaignOptions): CampaignRun {
  const r = campaign({
    runs: o.runs,
    seed: o.seed,
    kernel: o.kernel,
    mutants: o.mutants,
    shrinkMs: o.shrinkMs,
    onProgress: o.onProgress,
    arb: campaignArb(o),
  });
  let files: CampaignRun['files'] = null;
  if (r.ctx && o.counterexampleDir !== undefined) files = writeCounterexample(r.ctx, `campaign-seed${o.seed}`, o.counterexampleDir);
  return Object.assign(r, { report: r.ctx ? formatFailure(r.ctx, files ?? undefined) : null, files });
}

/** runCampaign, throwing an Error whose message is the report when the property fails: for a test. */
export function assertCampaign(o: CampaignOptions): CampaignRun {
  const r = runCampaign(o);
  if (r.failed) throw new Error(r.report ?? 'the property failed');
  return r;
}

// --- JSON Schemas ---------------------------------------------------------------------------------

export { SCHEMA_DIR, SCENARIO_SCHEMA_PATH, TRACE_SCHEMA_PATH, scenarioJsonSchema, traceJsonSchema } from './schemas.ts';
