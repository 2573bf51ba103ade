// The model property, as a function: run one program under its interleaving and say what,
// if anything, went wrong. Every driver of the properties (the vitest suites, `fpsim check`,
// `fpsim mutants`) comes through here, and through runScenario: the same step function and
// the same invariants (checked after every atomic step) as `fpsim run`.
import type { World } from '../sim/kernel/state.ts';
import type { Scheduler } from '../sim/run.ts';
import type { Scenario, ScenarioOp } from '../sim/scenario/schema.ts';
import { runScenario, describeOp, type ScenarioResult } from '../sim/scenario/run-scenario.ts';
import { InputError } from '../sim/scenario/load.ts';
import { profileOf } from '../sim/kernel/profile.ts';
import type { Program } from './program.ts';
import { outcomeProblems } from './outcomes.ts';

/** Something the property objects to: a violation, a deadlock, a bad outcome, a crash. */
export interface Failure {
  /** a violation kind (leak, use-after-free, iomode, ...), "deadlock", "outcome:<property>", "crash" */
  kind: string;
  message: string;
  task?: string;
  step?: number;
  /** the op concerned, for outcome properties: task and index */
  op?: { task: string; index: number };
}

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
  for (const t of r.world.tasks) if (t.kind === 'user' || t.kind === 'server') n += t.results.length;
  return n;
}

/**
 * The objects a known kernel weakness leaks, not a model bug: a server that registers its own
 * /dev/fuse as a backing file (accepted by 6.9's read_iter/write_iter check) and never closes
 * the id makes a cycle, fc -> backing_files_map -> fb -> /dev/fuse file -> fc, since only the
 * device file's release drops the device's reference on fc, and only fc's last put frees the
 * map (scenarios/backing-open-dev-fuse-6.9-cycle-leaks.json). Everything held by such a
 * connection's map is stranded with it.
 */
export function devFuseCycle(w: World): Set<string> {
  const roots: number[] = [];
  for (const o of Object.values(w.heap)) {
    if (o.type !== 'fuse_backing' || o.life === 'freed') continue;
    const f = w.heap[o.file];
    if (!f || f.type !== 'file' || f.devConn === 0) continue;
    const fc = w.heap[f.devConn];
    if (fc && fc.type === 'fuse_conn' && Object.values(fc.idr.entries).includes(o.ptr)) roots.push(fc.ptr);
  }
  return reachable(w, roots);
}

/** Everything reachable from `roots` through the objects' pointers (what they keep alive). */
function reachable(w: World, roots: number[]): Set<string> {
  const seen = new Set<number>();
  const todo = [...roots];
  const fuseConnOfSb = (sb: number) => {
    const s = w.sbs[sb];
    return s && s.kind === 'fuse' ? [s.conn, ...Object.values(s.inodes)] : [];
  };
  while (todo.length) {
    const p = todo.pop()!;
    if (p <= 0 || seen.has(p)) continue;
    const o = w.heap[p];
    if (!o) continue;
    seen.add(p);
    switch (o.type) {
      case 'fuse_conn':
        todo.push(...Object.values(o.idr.entries), o.devFile, ...fuseConnOfSb(o.sb));
        break;
      case 'fuse_backing':
        todo.push(o.file, o.cred);
        break;
      case 'file':
        // an open file pins its fuse_file and keeps its mount (and so its connection) busy
        todo.push(o.cred, o.fuseFile, o.devConn, ...fuseConnOfSb(o.sb));
        break;
      case 'fuse_file':
        todo.push(o.inode, o.passthrough, o.cred);
        break;
      case 'fuse_inode':
        todo.push(o.fb);
        break;
      case 'cred':
        break;
    }
  }
  return new Set([...seen].map((p) => `${w.heap[p]!.type}#${p}`));
}

/** What the property checks after a run (the invariants were checked after every step). */
export function judgeRun(p: Program, r: ScenarioResult): Failure[] {
  const out: Failure[] = [];
  const cycle = devFuseCycle(r.world);
  // violations: the invariants after every step, the checkers inside the kernel functions,
  // deadlocks of the run phase and the leak check after teardown
  for (const v of r.violations) {
    if (p.own && !r.unexpectedViolations.includes(v)) continue; // a hand-made program expected it
    if (v.kind === 'leak' && v.object !== undefined && cycle.has(v.object)) continue; // the known 6.9 cycle
    out.push({ kind: v.kind, message: v.message, task: v.task, step: v.step });
  }
  // every task of the program must finish: the run phase reports stuck user tasks, but a
  // server thread ("proc": "server:<fs>") that waits forever is a deadlock too
  const reported = new Set(r.violations.filter((v) => v.kind === 'deadlock').map((v) => v.task));
  for (const st of p.scenario.tasks) {
    const t = r.world.tasks.find((x) => x.name === st.name);
    if (t && !t.done && !reported.has(t.name)) {
      out.push({ kind: 'deadlock', message: `task ${t.name} never finished${t.blocked ? ` (blocked on ${t.blocked.on})` : ''}`, task: t.name });
    }
  }
  // a teardown that cannot finish never reaches the leak check: a deadlock too
  for (const t of r.world.tasks) {
    if (t.name.startsWith('teardown') && !t.done) {
      out.push({ kind: 'deadlock', message: `teardown task ${t.name} can never finish${t.blocked ? ` (blocked on ${t.blocked.on})` : ''}`, task: t.name });
    }
  }
  out.push(...outcomeProblems(p.scenario, r, profileOf(r.world.profile)));
  if (p.own) {
    for (const o of r.outcomes) {
      if (!o.ok) out.push({ kind: 'outcome:expected', message: `${o.task}[${o.op}] ${o.what}: ${o.actual}, expected ${o.expected}`, task: o.task, op: { task: o.task, index: o.op } });
    }
    for (const k of r.missingViolations) out.push({ kind: 'outcome:expected', message: `expected a ${k} violation, none was reported` });
    for (const s of r.serverProblems) out.push({ kind: 'outcome:expected', message: s });
  }
  return out;
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
