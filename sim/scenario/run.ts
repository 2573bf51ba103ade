// Running a world: one step function, a scheduler that picks the task, and the phases a
// scenario goes through (setup, its tasks, teardown, the final leak check). `fpsim run`,
// the properties, the explorer and replay all come through here with their own scheduler,
// and all start from the same world (startWorld) and end the same way (teardown).
import { stepTask, taskRunnable, type Op } from '../kernel/exec.ts';
import type { StepRecord } from '../kernel/effects.ts';
import type { Task, World } from '../kernel/state.ts';
import { buildWorld, KERNEL_PROC, newTask, RCU_TASK, serverProc } from './build.ts';
import type { Scenario } from './schema.ts';
import { InputError } from './load.ts';
import { leakCheck } from '../check/leak.ts';
import { killableLockWaiters, stuckTasks } from '../check/deadlock.ts';

/** Picks the next task among the runnable ones (never empty). */
export type Scheduler = (w: World, runnable: Task[]) => string;

/** The first runnable task in the world's order: each task runs until it blocks or ends. */
export const sequential: Scheduler = (_w, r) => r[0]!.name;

/** One step each in turn. */
export function roundRobin(): Scheduler {
  let last = -1;
  return (w, r) => {
    // the first runnable task after the last one picked, in the world's order, else the first
    let first = -1;
    let next = -1;
    for (const t of r) {
      const i = w.tasks.indexOf(t);
      if (first < 0) first = i;
      if (i > last) {
        next = i;
        break;
      }
    }
    if (next < 0) next = first;
    last = next;
    return w.tasks[next]!.name;
  };
}

/** A fixed list of task names (one step each, skipped while not runnable), then sequential. */
export function scripted(order: readonly string[]): Scheduler {
  let i = 0;
  return (w, r) => {
    while (i < order.length) {
      const name = order[i++]!;
      if (r.some((t) => t.name === name)) return name;
    }
    return sequential(w, r);
  };
}

export interface RunOptions {
  record: boolean;
  /** check the invariants after every step */
  check?: (w: World, rec: StepRecord) => void;
  maxSteps?: number;
  /** called with each step as it happens */
  onStep?: (rec: StepRecord, phase: Phase) => void;
  /** drives every phase (setup, run, teardown) instead of the phase's own scheduler: replay */
  override?: Scheduler;
  /** told every task picked, in order, across all phases: the exact schedule, for traces */
  onPick?: (task: string, phase: Phase) => void;
}

export type Phase = 'setup' | 'run' | 'teardown';

export interface PhaseResult {
  steps: number;
  /** tasks that could not finish: nothing was runnable (a deadlock) or the step limit hit */
  stuck: string[];
}

/** Run until no task can run. Kernel/server loops that only wait count as finished. */
export function runPhase(w: World, sched: Scheduler, phase: Phase, opts: RunOptions): PhaseResult {
  const max = opts.maxSteps ?? 100_000;
  let n = 0;
  while (n < max) {
    const runnable = w.tasks.filter((t) => taskRunnable(w, t));
    if (runnable.length === 0) break;
    const name = (opts.override ?? sched)(w, runnable);
    opts.onPick?.(name, phase);
    const rec = stepTask(w, name, opts.record);
    n++;
    opts.check?.(w, rec);
    opts.onStep?.(rec, phase);
  }
  return { steps: n, stuck: stuckTasks(w) };
}

/**
 * The world a scenario's run starts from, for every driver: built, its setup phase run (the
 * mounts, each FUSE INIT answered), and its tasks added. A setup that fails is the
 * scenario's mistake (a stack too deep for the kernel, a mount that cannot complete).
 */
export function startWorld(s: Scenario, opts: RunOptions): World {
  const { world: w, userTasks } = buildWorld(s);
  const setup = runPhase(w, sequential, 'setup', opts);
  const failed = w.tasks[0]!.results.find((r) => typeof r.ret === 'string');
  if (setup.stuck.length || failed) {
    throw new InputError(`${s.name}: setup failed: ${failed ? `${failed.name} of filesystem ${failed.op + 1} returned ${failed.ret}` : 'a mount did not complete'}`);
  }
  // user tasks go first: under the sequential scheduler each runs until it blocks
  w.tasks.splice(1, 0, ...userTasks);
  return w;
}

/** The teardown's task names (replay checks a trace's schedule against them). */
export const exitTaskName = (proc: string) => `teardown:exit:${proc}`;
export const umountTaskName = (fs: string) => `teardown:umount:${fs}`;

/**
 * Tear everything down, one piece after the other: what still sleeps in a lock wait (the
 * program's own deadlock, sim/check/deadlock.ts) is killed and unwinds, each process exits (unmapping and closing
 * its files), overlays and FUSE mounts are unmounted (each FUSE server exits, closing
 * /dev/fuse, right after its mount), the kernel's own creds go, and RCU runs every pending
 * callback. What is left is a leak.
 */
export function teardown(w: World, opts: RunOptions): PhaseResult {
  const userProcs = Object.keys(w.procs).filter((p) => p !== KERNEL_PROC && !p.startsWith('server:'));
  const stages: Task[] = [];
  const exit: Op[] = [
    { sys: 'exit', args: {} },
    { sys: 'exit_creds', args: {} },
  ];
  const task = (name: string, proc: string, ops: Op[]) => newTask(name, proc, 'teardown', ops);
  for (const p of userProcs) stages.push(task(exitTaskName(p), p, exit));
  const serverExit = (fs: string) => task(exitTaskName(serverProc(fs)), serverProc(fs), exit);
  // Topmost first, and each FUSE server exits right after its mount goes: a server of a
  // stacked mount holds files on the mount below it (its backing fds), which stays busy
  // (umount: EBUSY) until that server has closed them.
  // (a FUSE mount a task already unmounted, lazily or not, keeps its place in the stack: its
  // server still holds files on the mounts below it)
  const mounted = w.sbs.filter((s) => (s.mounted && s.kind !== 'plain') || (s.kind === 'fuse' && w.procs[serverProc(s.name)])).reverse();
  const exited = new Set<string>();
  for (const sb of mounted) {
    if (sb.mounted) stages.push(task(umountTaskName(sb.name), KERNEL_PROC, [{ sys: 'umount', args: { fs: sb.name } }]));
    if (sb.kind === 'fuse' && w.procs[serverProc(sb.name)]) {
      stages.push(serverExit(sb.name));
      exited.add(sb.name);
    }
  }
  for (const sb of w.sbs.filter((s) => s.kind === 'fuse' && !exited.has(s.name))) {
    if (w.procs[serverProc(sb.name)]) stages.push(serverExit(sb.name));
  }
  stages.push(task(exitTaskName(KERNEL_PROC), KERNEL_PROC, [{ sys: 'exit_creds', args: {} }]));
  let steps = 0;
  const stuck: string[] = [];
  const killed = killableLockWaiters(w);
  if (killed.length) {
    // SIGKILL: their interruptible waits end, their syscalls unwind and return nothing
    for (const t of killed) t.killed = true;
    const r = runPhase(w, sequential, 'teardown', opts);
    steps += r.steps;
    stuck.push(...r.stuck);
  }
  for (const t of stages) {
    w.tasks.push(t);
    const r = runPhase(w, sequential, 'teardown', opts);
    steps += r.steps;
    stuck.push(...r.stuck.filter((s) => !stuck.includes(s)));
  }
  // rcu_barrier(): every queued callback runs
  const rcu = w.tasks.find((t) => t.name === RCU_TASK);
  if (rcu) steps += runPhase(w, sequential, 'teardown', opts).steps;
  if (!stuck.length) leakCheck(w);
  return { steps, stuck };
}
