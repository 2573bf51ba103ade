// The model property, as a function: run one program under its interleaving and say what,
// if anything, went wrong. Every driver of the properties (the vitest suites, `fpsim check`,
// `fpsim mutants`) comes through here, and through runScenario: the same step function and
// the same invariants (checked after every atomic step) as `fpsim run`.
import type { Scheduler } from '../sim/scenario/run.ts';
import type { Scenario, ScenarioOp } from '../sim/scenario/schema.ts';
import { runScenario, describeOp, type ScenarioResult } from '../sim/scenario/run-scenario.ts';
import { InputError } from '../sim/scenario/load.ts';
import type { Program } from './program.ts';
import type { Failure } from './failure.ts';
import { judgeRun } from './judge.ts';

export interface RunInfo {
  /** everything the property objects to, in the order found; empty when the run is fine */
  failures: Failure[];
  /** atomic steps in all phases */
  steps: number;
  /** atomic steps of the run phase */
  runSteps: number;
  /** ops that finished (commands executed) */
  ops: number;
  /** the task picked at each run-phase step while the interleaving lasted */
  picks: string[];
  /** null when the run threw (crash, setup failure) */
  result: ScenarioResult | null;
}

export interface RunProgramOptions {
  /** the kernel profile (programs under their own schedule keep their scenario's) */
  kernel?: string;
  mutants?: string[];
  /** record every step's effects (for traces, coverage and the determinism check) */
  record?: boolean;
}

/** The scheduler of an interleaving: entry k picks among the runnable tasks at step k. */
export function interleaving(sched: readonly number[], picks: string[]): Scheduler {
  let i = 0;
  return (_w, r) => {
    if (i < sched.length) {
      const name = r[sched[i++]! % r.length]!.name;
      picks.push(name);
      return name;
    }
    return r[0]!.name;
  };
}

/** Run a program and judge it. Never throws for what the model does; a crash is a failure. */
export function runProgram(p: Program, o: RunProgramOptions = {}): RunInfo {
  const picks: string[] = [];
  let runSteps = 0;
  const inner = interleaving(p.sched, picks);
  const counting: Scheduler = (w, r) => {
    runSteps++;
    return inner(w, r);
  };
  const opts: Parameters<typeof runScenario>[1] = { record: o.record ?? false };
  if (!p.own) opts.scheduler = counting;
  if (o.mutants) opts.mutants = o.mutants;
  // a hand-made program judged on its own expectations keeps the kernel it was written for
  if (o.kernel && !p.own) opts.kernel = o.kernel;
  let r: ScenarioResult;
  try {
    r = runScenario(p.scenario, opts);
  } catch (e) {
    const setup = e instanceof InputError;
    const err = e as Error;
    const where = setup ? '' : ` at ${(err.stack ?? '').split('\n').slice(1, 3).map((x) => x.trim()).join(' < ')}`;
    return {
      failures: [{ kind: setup ? 'setup' : 'crash', message: `${err.message}${where}` }],
      steps: 0,
      runSteps,
      ops: 0,
      picks,
      result: null,
    };
  }
  return { failures: judgeRun(p, r), steps: r.world.step, runSteps: p.own ? 0 : runSteps, ops: countOps(r), picks, result: r };
}

function countOps(r: ScenarioResult): number {
  let n = 0;
  for (const t of r.world.tasks) if (t.role === 'user' || t.role === 'server') n += t.results.length;
  return n;
}

/** A scenario's ops as readable lines: one line per task. */
export function describeProgram(s: Scenario): string[] {
  const out: string[] = [];
  for (const f of s.filesystems) {
    if (f.type === 'plain') out.push(`fs /${f.name}: plain${f.readonly ? ' (read-only)' : ''}, files ${Object.keys(f.files).join(' ')}`);
    else if (f.type === 'overlay') out.push(`fs /${f.name}: overlay of ${f.layers.join(', ')}`);
    else {
      const srv = f.server;
      const files = Object.entries(srv.files)
        .map(([n, x]) => `${n}${x.backing ? `->${x.backing}` : ' (inline)'}${x.open ? ` open=${JSON.stringify(x.open)}` : ''}`)
        .join(', ');
      out.push(
        `fs /${f.name}: fuse; INIT ${srv.init.errno ? `fails ${srv.init.errno}` : `[${srv.init.flags.join(' ')}] max_stack_depth ${srv.init.max_stack_depth}`}` +
          `${srv.cap_sys_admin ? '' : ', no CAP_SYS_ADMIN'}${srv.uapi === 'v15' ? ', v15 uapi' : ''}; open=${JSON.stringify(srv.open)}; files ${files}`,
      );
    }
  }
  for (const t of s.tasks) {
    out.push(`task ${t.name}${t.proc && t.proc !== t.name ? ` (process ${t.proc})` : ''}: ${t.ops.map((o: ScenarioOp) => describeOp(o)).join('; ')}`);
  }
  return out;
}

/** An interleaving as runs of one task: "t0 x3, fuse-daemon:fuse, t1 x2". */
export function describePicks(picks: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < picks.length; ) {
    let j = i;
    while (j < picks.length && picks[j] === picks[i]) j++;
    out.push(j - i > 1 ? `${picks[i]} x${j - i}` : picks[i]!);
    i = j;
  }
  return out.length ? out.join(', ') : '(sequential)';
}
