// Running a scenario and judging it: every op's result against what the file expects, the
// violations against the ones it expects, and what each server saw.
import type { Scenario, ScenarioOp } from './schema.ts';
import { roundRobin, runPhase, scripted, sequential, startWorld, teardown, type Phase, type RunOptions, type Scheduler } from './run.ts';
import type { StepRecord } from '../kernel/effects.ts';
import type { World } from '../kernel/state.ts';
import type { Violation } from '../kernel/lib/violation.ts';
import { stepChecker } from '../check/invariants.ts';
import { deadlock } from '../check/deadlock.ts';
import { serverStates } from '../server/state.ts';
import { FUSE_OPCODE } from '../wire/uapi.ts';

export interface OpOutcome {
  task: string;
  op: number;
  what: string;
  expected: string | null;
  actual: string;
  ok: boolean;
}

export interface ScenarioResult {
  name: string;
  world: World;
  steps: { phase: Phase; rec: StepRecord }[];
  outcomes: OpOutcome[];
  violations: Violation[];
  /** expected violation kinds not seen, and seen kinds not expected */
  missingViolations: string[];
  unexpectedViolations: Violation[];
  serverProblems: string[];
  passed: boolean;
}

export interface ScenarioRunOptions {
  record?: boolean;
  check?: boolean;
  /** override the scenario's schedule (replay, properties) */
  scheduler?: Scheduler;
  mutants?: string[];
  kernel?: string;
  /** drive every phase (setup, run, teardown) with this scheduler instead: replay */
  override?: Scheduler;
  /** told every task picked, in order, across all phases: a trace's schedule */
  onPick?: (task: string, phase: Phase) => void;
  /** told each step as it happens (with record off too): replay compares as it goes */
  onStep?: (rec: StepRecord, phase: Phase) => void;
}

export function describeOp(o: ScenarioOp): string {
  const { op, expect: _e, save, note: _n, ...rest } = o as ScenarioOp & Record<string, unknown>;
  let args = '';
  for (const k of Object.keys(rest)) {
    const v = (rest as Record<string, unknown>)[k];
    if (Array.isArray(v) && v.length === 0) continue;
    args += `${args ? ' ' : ''}${k}=${JSON.stringify(v)}`;
  }
  return `${op}${args ? ` ${args}` : ''}${save ? ` -> $${save}` : ''}`;
}

function judge(expect: ScenarioOp['expect'], ret: number | string | undefined, data: string | undefined): { expected: string | null; ok: boolean } {
  if (expect === undefined) return { expected: null, ok: ret !== undefined };
  if (expect === 'blocks') return { expected: 'blocks (never returns)', ok: ret === undefined };
  const e = typeof expect === 'object' ? expect : { ret: expect };
  const parts: string[] = [];
  let ok = ret !== undefined;
  if (e.ret !== undefined) {
    parts.push(String(e.ret));
    if (e.ret === 'ok') ok &&= typeof ret === 'number' && ret >= 0;
    else ok &&= ret === e.ret;
  }
  if ('data' in e && e.data !== undefined) {
    parts.push(JSON.stringify(e.data));
    ok &&= data === e.data;
  }
  return { expected: parts.join(' '), ok };
}

/**
 * "sequential" for a scenario's run: the first runnable task, except that a FUSE server with
 * forgets waiting reads them first. A forget is queued by something that does not wait for the
 * server (an eviction), and a real server blocked in read(2) takes it at once, before the
 * user's next syscall can queue a request. Left to run on, the user would queue that request
 * first and the server would read it first (fuse_dev_do_read's forget_batch starts at 0), which
 * on the real kernel takes a server that lags. Every other interleaving is the explorer's.
 */
const sequentialForgetsFirst: Scheduler = (w, r) => {
  // the connections are the FUSE superblocks' (a handful), not a walk of the heap at every pick
  for (const sb of w.sbs) {
    if (sb.kind !== 'fuse') continue;
    const fc = w.heap[sb.conn];
    if (fc?.type !== 'fuse_conn' || !fc.pending.some((q) => q.opcode === FUSE_OPCODE.FORGET)) continue;
    const server = r.find((t) => t.role === 'daemon' && t.proc === `server:${fc.name}`);
    if (server) return server.name;
  }
  return sequential(w, r);
};

function schedulerOf(s: Scenario): Scheduler {
  if (s.schedule === 'sequential') return sequentialForgetsFirst;
  if (s.schedule === 'round-robin') return roundRobin();
  return scripted(s.schedule);
}

export function runScenario(s: Scenario, opts: ScenarioRunOptions = {}): ScenarioResult {
  const sc: Scenario = { ...s, mutants: opts.mutants ?? s.mutants, kernel: opts.kernel ?? s.kernel };
  const steps: ScenarioResult['steps'] = [];
  const record = opts.record ?? true;
  const onStep = opts.onStep;
  const ro: RunOptions = {
    record,
    check: opts.check === false ? undefined : stepChecker(),
    onStep:
      record || onStep
        ? (rec, phase) => {
            if (record) steps.push({ phase, rec });
            onStep?.(rec, phase);
          }
        : undefined,
    override: opts.override,
    onPick: opts.onPick,
  };
  const w = startWorld(sc, ro);
  const main = runPhase(w, opts.scheduler ?? schedulerOf(sc), 'run', ro);
  for (const t of main.stuck) w.violations.push(deadlock(w, t));
  const seen: Record<string, string[]> = {};
  for (const srv of serverStates(w)) seen[srv.fs] = [...srv.seen];
  if (sc.teardown && !main.stuck.length) {
    for (const t of teardown(w, ro).stuck) w.violations.push(deadlock(w, t));
  }

  const outcomes: OpOutcome[] = [];
  sc.tasks.forEach((t) => {
    const task = w.tasks.find((x) => x.name === t.name)!;
    const byOp = new Map(task.results.map((x) => [x.op, x])); // one pass: long programs have thousands of ops
    t.ops.forEach((op, i) => {
      const r = byOp.get(i);
      const actual = r === undefined ? '(did not finish)' : `${r.ret}${r.data !== undefined ? ` ${JSON.stringify(r.data)}` : ''}`;
      const j = judge(op.expect, r?.ret, r?.data);
      outcomes.push({ task: t.name, op: i, what: describeOp(op), expected: j.expected, actual, ok: j.ok });
    });
  });
  const expectedKinds = new Set(sc.expect.violations);
  const missingViolations = [...expectedKinds].filter((k) => !w.violations.some((v) => v.kind === k));
  const unexpectedViolations = w.violations.filter((v) => !expectedKinds.has(v.kind));
  const serverProblems: string[] = [];
  for (const [fs, want] of Object.entries(sc.expect.server_seen ?? {})) {
    const got = seen[fs] ?? [];
    if (JSON.stringify(got) !== JSON.stringify(want)) serverProblems.push(`server ${fs} saw [${got.join(' ')}], expected [${want.join(' ')}]`);
  }
  for (const [fs, never] of Object.entries(sc.expect.server_never ?? {})) {
    const got = seen[fs] ?? [];
    for (const op of never) if (got.includes(op)) serverProblems.push(`server ${fs} saw ${op}, which it never should`);
  }
  for (const [fs, want] of Object.entries(sc.expect.kernel_init ?? {})) {
    const srv = serverStates(w).find((x) => x.fs === fs);
    const got = srv?.kernelInitRequest;
    if (!got) {
      serverProblems.push(`server ${fs} got no INIT`);
      continue;
    }
    if (want.minor !== undefined && got.minor !== want.minor) serverProblems.push(`the kernel's INIT to ${fs} says minor ${got.minor}, expected ${want.minor}`);
    for (const f of want.offers) if (!got.offered.includes(f)) serverProblems.push(`the kernel's INIT to ${fs} does not offer ${f}`);
    for (const f of want.withholds) if (got.offered.includes(f)) serverProblems.push(`the kernel's INIT to ${fs} offers ${f}, which it should not`);
  }
  const passed = outcomes.every((o) => o.ok) && missingViolations.length === 0 && unexpectedViolations.length === 0 && serverProblems.length === 0;
  return { name: s.name, world: w, steps, outcomes, violations: w.violations, missingViolations, unexpectedViolations, serverProblems, passed };
}
