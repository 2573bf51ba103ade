// A failed property, for people and for the tools: what broke, the shrunk program as steps,
// the interleaving, fast-check's seed and path, and two files under out/counterexamples/:
//   <name>.json           a trace (fpsimTrace 1: the scenario, kernel, mutants, the schedule of
//                         every atomic step, the step records): `fpsim replay <name>.json`,
//                         and `fpsim run <name>.json` runs its scenario again
//   <name>.scenario.json  the scenario alone, its schedule the interleaving that failed:
//                         `fpsim run <name>.scenario.json`
// Existing files are never replaced: a suffix is added.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ScenarioSchema, type Scenario, type ScenarioOp } from '../sim/scenario/schema.ts';
import { recordTrace, writeTrace } from '../sim/trace/write.ts';
import { describePicks, describeProgram, runProgram, type RunInfo } from './run-program.ts';
import type { Failure } from './failure.ts';
import type { Program } from './program.ts';

export const COUNTEREXAMPLE_DIR = 'out/counterexamples';

export interface FailureContext {
  /** the property that failed, e.g. "model" or "mutant get-without-not-zero" */
  property: string;
  program: Program;
  info: RunInfo;
  seed: number;
  path: string | null;
  kernel: string;
  mutants: string[];
  /** runs until the failure, shrinks */
  numRuns?: number;
  numShrinks?: number;
}

/** The counterexample as a scenario that fails on its own: its interleaving as the schedule. */
export function counterexampleScenario(ctx: FailureContext, name: string): Scenario {
  const { program: p, info } = ctx;
  const first = info.failures[0];
  const s = structuredClone(p.scenario) as Scenario;
  s.name = name;
  s.kernel = ctx.kernel as Scenario['kernel'];
  s.mutants = [...ctx.mutants] as Scenario['mutants'];
  s.description =
    `Counterexample of the ${ctx.property} property (fast-check seed ${ctx.seed}${ctx.path ? `, path "${ctx.path}"` : ''}; ` +
    `program from ${p.origin}): ${first ? `${first.kind}: ${first.message}` : 'no failure'}`;
  if (!p.own) s.schedule = info.picks.length ? [...info.picks] : 'sequential';
  // an outcome property fails on an op's result: say what that op must return
  if (first?.op && first.kind.startsWith('outcome:') && first.kind !== 'outcome:expected') {
    const t = s.tasks.find((x) => x.name === first.op!.task);
    const op = t?.ops[first.op.index] as ScenarioOp | undefined;
    if (op) op.expect = expectedFor(ctx, first) as ScenarioOp['expect'];
  }
  return ScenarioSchema.parse(s);
}

/** What the op an outcome property objects to should have returned. */
function expectedFor(ctx: FailureContext, f: Failure): string {
  const fallback = f.kind === 'outcome:open-errno' ? 'EIO' : f.kind === 'outcome:enosys-leaked' ? enosysAbsorbed(ctx, f) : 'EINVAL';
  if (!ctx.mutants.length) return fallback;
  // the same program and interleaving on the model without the seeded bug
  const ref = runProgram(ctx.program, { kernel: ctx.kernel, mutants: [] });
  const task = ref.result?.world.tasks.find((t) => t.name === f.op!.task);
  const r = task?.results.find((x) => x.op === f.op!.index);
  const same = ref.failures.some((x) => x.kind === f.kind && x.op?.task === f.op!.task && x.op.index === f.op!.index);
  return r && typeof r.ret === 'string' && !same ? r.ret : fallback;
}

/** What the kernel makes of a server's ENOSYS: fallocate EOPNOTSUPP, the others a success. */
function enosysAbsorbed(ctx: FailureContext, f: Failure): string {
  const op = ctx.program.scenario.tasks.find((t) => t.name === f.op!.task)?.ops[f.op!.index];
  return op?.op === 'fallocate' ? 'EOPNOTSUPP' : 'ok';
}

function freeName(dir: string, base: string): string {
  for (let i = 0; ; i++) {
    const name = i === 0 ? base : `${base}-${i}`;
    if (!existsSync(join(dir, `${name}.json`)) && !existsSync(join(dir, `${name}.scenario.json`))) return name;
  }
}

/**
 * Write the trace and the scenario; returns their paths (trace null when the model itself
 * crashes on the program: there is no run to record, the scenario reproduces the crash).
 * Never replaces a file.
 */
export function writeCounterexample(ctx: FailureContext, base: string, dir = COUNTEREXAMPLE_DIR): { trace: string | null; scenario: string } {
  mkdirSync(dir, { recursive: true });
  for (let attempt = 0; ; attempt++) {
    const name = freeName(dir, base.replace(/[^\w.-]+/g, '-'));
    const scenario = counterexampleScenario(ctx, name);
    const tracePath = join(dir, `${name}.json`);
    const scenarioPath = join(dir, `${name}.scenario.json`);
    try {
      // "wx": created here or not at all (another run may take the name meanwhile)
      writeFileSync(scenarioPath, `${JSON.stringify(scenario, null, 2)}\n`, { encoding: 'utf8', flag: 'wx' });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 20) continue;
      throw e;
    }
    let trace;
    try {
      trace = recordTrace(scenario, { kernel: ctx.kernel, mutants: ctx.mutants }).trace;
    } catch {
      return { trace: null, scenario: scenarioPath };
    }
    writeTrace(tracePath, trace);
    return { trace: tracePath, scenario: scenarioPath };
  }
}

/** The report printed when a property fails. */
export function formatFailure(ctx: FailureContext, files?: { trace: string | null; scenario: string }): string {
  const { program: p, info } = ctx;
  const lines: string[] = [];
  lines.push(`Property "${ctx.property}" failed (kernel ${ctx.kernel}${ctx.mutants.length ? `, mutants: ${ctx.mutants.join(', ')}` : ''})`);
  for (const f of info.failures.slice(0, 6)) lines.push(`  ${f.kind}${f.step !== undefined ? ` at step ${f.step}` : ''}${f.task ? ` in ${f.task}` : ''}: ${f.message}`);
  if (info.failures.length > 6) lines.push(`  ... and ${info.failures.length - 6} more`);
  lines.push(`Shrunk program (from ${p.origin}; ${countOps(p.scenario)} ops, ${info.steps} atomic steps):`);
  for (const l of describeProgram(p.scenario)) lines.push(`  ${l}`);
  lines.push(`Interleaving: ${p.own ? `the scenario's own schedule (${JSON.stringify(p.scenario.schedule)})` : `[${p.sched.join(', ')}]`}`);
  if (!p.own) lines.push(`  tasks picked: ${describePicks(info.picks)}`);
  lines.push(`fast-check: seed ${ctx.seed}, path "${ctx.path ?? ''}"${ctx.numRuns !== undefined ? `, failed at run ${ctx.numRuns}` : ''}${ctx.numShrinks !== undefined ? ` after ${ctx.numShrinks} shrinks` : ''}`);
  lines.push(`  replay: fc.assert(prop, { seed: ${ctx.seed}, path: "${ctx.path ?? ''}", endOnFailure: true })`);
  if (files) {
    if (files.trace) lines.push(`Counterexample written: ${files.trace} (fpsim replay / fpsim run)`);
    else lines.push('Counterexample written (no trace: the model crashed running it):');
    lines.push(`                        ${files.scenario} (npx tsx cli/main.ts run ${files.scenario})`);
  }
  return lines.join('\n');
}

export function countOps(s: Scenario): number {
  return s.tasks.reduce((n, t) => n + t.ops.length, 0);
}
