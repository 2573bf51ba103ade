// The one deadlock rule, for every driver (fpsim run, the properties, the explorer, replay):
// when nothing can run, every task that must finish and has not is stuck. A task must finish
// unless it is a daemon: an endless service loop (the FUSE session loop, rcu_gp) that is
// idle, not stuck, when it waits.
import type { Task, World } from '../kernel/state.ts';
import type { Violation } from '../kernel/lib/violation.ts';

export function mustFinish(t: Task): boolean {
  return t.role !== 'daemon';
}

/** The tasks that cannot finish, once no task can run (or the step budget is spent). */
export function stuckTasks(w: World): string[] {
  const out: string[] = [];
  for (const t of w.tasks) if (mustFinish(t) && !t.done) out.push(t.name);
  return out;
}

/** A stuck task as a violation. */
export function deadlock(w: World, task: string): Violation {
  const t = w.tasks.find((x) => x.name === task);
  const on = t?.blocked ? ` (blocked on ${t.blocked.on})` : '';
  return { kind: 'deadlock', message: `task ${task} can never finish: it waits and nothing can wake it${on}`, step: w.step, task, fn: '' };
}
