// Replay: run a trace's scenario again, forcing the recorded schedule on every phase, and
// check each step against the recorded one as it happens. The first difference is a
// divergence and stops the replay: after it, the two runs have nothing to compare.
import type { Scheduler } from '../scenario/run.ts';
import type { StepRecord } from '../kernel/effects.ts';
import type { World } from '../kernel/state.ts';
import type { Violation } from '../kernel/lib/violation.ts';
import { runScenario, type ScenarioResult } from '../scenario/run-scenario.ts';
import { traceStep, traceViolation, type Trace, type TraceStep } from './format.ts';

export interface Divergence {
  /** the step (1-based) where the runs part; one past the last step if only the endings differ */
  step: number;
  recorded: string;
  replayed: string;
  /** "step 17: recorded X, replay did Y" */
  message: string;
}

export interface Replay {
  /** the steps the replay took, up to and including the one that diverged */
  steps: TraceStep[];
  divergence: Divergence | null;
  /** the replay's violations (so far, if it diverged) */
  violations: Violation[];
  /** the judged run; null when it diverged before the end */
  result: ScenarioResult | null;
}

class Diverged extends Error {
  constructor(readonly d: Divergence) {
    super(d.message);
  }
}

function divergence(step: number, recorded: string, replayed: string, where = `step ${step}`): Diverged {
  return new Diverged({ step, recorded, replayed, message: `${where}: recorded ${recorded}, replay did ${replayed}` });
}

const at = (s: TraceStep) => `${s.task} at ${s.where.join(' > ') || '(nowhere)'}`;
const doneText = (d: TraceStep['done']) => (d ? `op ${d.op} (${d.name}) returning ${d.ret}` : 'no op finishing');

/** The first difference between a recorded step and the replayed one, if any. */
export function compareStep(rec: TraceStep | undefined, got: TraceStep): Diverged | null {
  const k = got.step;
  if (!rec) return divergence(k, 'the end of the run', at(got));
  if (rec.task !== got.task) return divergence(k, at(rec), at(got));
  if (rec.phase !== got.phase) return divergence(k, `${rec.task} in the ${rec.phase} phase`, `${got.task} in the ${got.phase} phase`);
  if (rec.where.join('\0') !== got.where.join('\0')) return divergence(k, at(rec), at(got));
  const n = Math.max(rec.effects.length, got.effects.length);
  for (let i = 0; i < n; i++) {
    const a = rec.effects[i];
    const b = got.effects[i];
    if (a?.k === b?.k && a?.text === b?.text) continue;
    const show = (e: typeof a) => (e ? `"${e.text}"${e.k === 'note' ? '' : ` (${e.k})`}` : 'nothing');
    return divergence(k, `${rec.task} effect ${i + 1}: ${show(a)}`, show(b));
  }
  if (JSON.stringify(rec.done ?? null) !== JSON.stringify(got.done ?? null)) {
    return divergence(k, `${rec.task} with ${doneText(rec.done)}`, doneText(got.done));
  }
  return null;
}

/**
 * A scheduler for every phase: the recorded task names in order. A name that cannot run
 * now, or a run that goes on past the recording, is a divergence.
 */
function forced(schedule: readonly string[], seen: (w: World) => void): Scheduler {
  let i = 0;
  return (w, runnable) => {
    seen(w);
    const k = i + 1;
    const name = schedule[i];
    const can = runnable.map((t) => t.name).join(', ');
    if (name === undefined) throw divergence(k, `the end of the run (${schedule.length} steps)`, `not end: ${can} can still run`);
    if (!runnable.some((t) => t.name === name)) {
      const t = w.tasks.find((x) => x.name === name);
      const state = !t ? 'there is no such task yet' : t.done ? 'it has finished' : t.blocked ? `it is blocked, waiting for ${t.blocked.on}` : 'it has nothing to run';
      throw divergence(k, `${name} running (schedule[${i}])`, `not: ${name} cannot run now, ${state} (runnable: ${can})`);
    }
    // a server's session loop starts on its mount's connection: a trace that runs it before
    // the setup task has mounted the filesystem is not a run the model can make
    if (name.startsWith('fuse-daemon:')) {
      const sb = w.sbs.find((x) => x.name === name.slice('fuse-daemon:'.length));
      if (sb?.kind === 'fuse' && sb.conn === 0) throw divergence(k, `${name} running (schedule[${i}])`, `not: ${name} cannot run before its filesystem is mounted (by the setup task)`);
    }
    i++;
    return name;
  };
}

export function replayTrace(t: Trace): Replay {
  const steps: TraceStep[] = [];
  let world: World | null = null;
  const onStep = (rec: StepRecord, phase: TraceStep['phase']) => {
    const got = traceStep(rec, phase);
    steps.push(got);
    const d = compareStep(t.steps[steps.length - 1], got);
    if (d) throw d;
  };
  let result: ScenarioResult;
  try {
    result = runScenario(t.scenario, {
      kernel: t.kernel,
      mutants: t.mutants,
      record: true,
      override: forced(t.schedule, (w) => (world = w)),
      onStep,
    });
  } catch (e) {
    if (!(e instanceof Diverged)) throw e;
    const w = world as World | null;
    return { steps, divergence: e.d, violations: w ? [...w.violations] : [], result: null };
  }
  const done = (d: Diverged | null): Replay => ({ steps, divergence: d?.d ?? null, violations: result.violations, result });
  const next = t.steps[steps.length];
  if (next) return done(divergence(next.step, at(next), `nothing: the run ended after ${steps.length} steps`));
  // the steps agree; so must the verdict
  const end = steps.length + 1;
  const after = `after the last step (${steps.length})`;
  const key = (v: Violation | undefined) => (v ? JSON.stringify(traceViolation(v)) : '');
  const n = Math.max(result.violations.length, t.violations.length);
  for (let j = 0; j < n; j++) {
    const a = t.violations[j];
    const b = result.violations[j];
    if (key(a) === key(b)) continue;
    const show = (v: Violation | undefined) => (v ? `${v.kind} at step ${v.step} in ${v.task}: ${v.message}` : 'nothing');
    return done(divergence(end, `violation ${j + 1}: ${show(a)}`, show(b), after));
  }
  if (result.passed !== t.passed) {
    return done(divergence(end, `a run that ${t.passed ? 'passed' : 'failed'}`, `one that ${result.passed ? 'passed' : 'failed'}`, after));
  }
  return done(null);
}
