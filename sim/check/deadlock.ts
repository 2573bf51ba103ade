// The one deadlock rule, for every driver (fpsim run, the properties, the explorer, replay):
// when nothing can run, every task that must finish and has not is stuck. A task must finish
// unless it is a daemon: an endless service loop (the FUSE session loop, rcu_gp) that is
// idle, not stuck, when it waits.
//
// File locks are the one exception, because there userspace waits for userspace: a task
// asleep in a lock wait (flock(2), F_SETLKW) waits until the holder unlocks, closes or exits,
// which only the holder's program can do. When nothing can run, such a task is the program's
// own deadlock, not the kernel's: a flock cycle (the kernel has no detection for flock, nor
// for a cycle mixing flock and POSIX locks), or a holder whose program ended still holding
// the lock (it would release it at exit). Those tasks are not stuck; teardown kills them
// (SIGKILL ends an interruptible wait) before the processes exit. A cycle made only of POSIX
// waits is the kernel's business: posix_locks_deadlock must have refused its last request
// with EDEADLK, so a task waiting in one is stuck, and reported.
import type { FileLockObj, Task, World } from '../kernel/state.ts';
import type { Violation } from '../kernel/lib/violation.ts';
import { FL_POSIX, owner_proc } from '../kernel/vfs/locks.ts';

export function mustFinish(t: Task): boolean {
  return t.role !== 'daemon';
}

/** The request a task sleeps on in a lock wait, if it does. */
function lockWait(w: World, t: Task): FileLockObj | null {
  if (t.done || t.blocked?.on !== 'file_lock') return null;
  const o = w.heap[t.blocked.fl];
  return o && o.type === 'file_lock' && o.life === 'live' && o.blocker !== 0 ? o : null;
}

/** The lock at the root of a waiting request's chain of blockers. */
function rootOf(w: World, fl: FileLockObj): FileLockObj {
  let r = fl;
  for (let i = 0; r.blocker && i < 1000; i++) {
    const b = w.heap[r.blocker];
    if (!b || b.type !== 'file_lock') break;
    r = b;
  }
  return r;
}

/**
 * The tasks waiting in a cycle of POSIX lock waits: a waiting POSIX request of process A whose
 * blocking lock belongs to process B, whose own waiting request leads on, back to A.
 */
export function posixLockCycle(w: World): Set<string> {
  // process -> the processes its tasks' POSIX requests wait for
  const waitsFor = new Map<string, Set<string>>();
  const waiters = new Map<string, string[]>();
  for (const t of w.tasks) {
    const fl = lockWait(w, t);
    if (!fl || !(fl.flags & FL_POSIX)) continue;
    const root = rootOf(w, fl);
    const from = owner_proc(fl.owner);
    const to = root.flags & FL_POSIX ? owner_proc(root.owner) : null;
    if (!from || !to) continue;
    if (!waitsFor.has(from)) waitsFor.set(from, new Set());
    waitsFor.get(from)!.add(to);
    waiters.set(from, [...(waiters.get(from) ?? []), t.name]);
  }
  const inCycle = new Set<string>();
  for (const start of waitsFor.keys()) {
    // can start reach itself?
    const seen = new Set<string>();
    const todo = [...(waitsFor.get(start) ?? [])];
    while (todo.length) {
      const p = todo.pop()!;
      if (p === start) {
        for (const n of waiters.get(start) ?? []) inCycle.add(n);
        break;
      }
      if (seen.has(p)) continue;
      seen.add(p);
      todo.push(...(waitsFor.get(p) ?? []));
    }
  }
  return inCycle;
}

/** A task asleep in a lock wait only userspace can end (see the header): not stuck. */
export function inUserspaceLockWait(w: World, t: Task, cycle: Set<string> = posixLockCycle(w)): boolean {
  return lockWait(w, t) !== null && !cycle.has(t.name);
}

/** The tasks that cannot finish, once no task can run (or the step budget is spent). */
export function stuckTasks(w: World): string[] {
  const out: string[] = [];
  let cycle: Set<string> | null = null;
  for (const t of w.tasks) {
    if (!mustFinish(t) || t.done) continue;
    if (t.blocked?.on === 'file_lock' && inUserspaceLockWait(w, t, (cycle ??= posixLockCycle(w)))) continue;
    out.push(t.name);
  }
  return out;
}

/** A stuck task as a violation. */
export function deadlock(w: World, task: string): Violation {
  const t = w.tasks.find((x) => x.name === task);
  const on = t?.blocked ? ` (blocked on ${t.blocked.on})` : '';
  const cycle = t?.blocked?.on === 'file_lock' && posixLockCycle(w).has(task);
  const why = cycle ? ': it waits in a cycle of POSIX lock waits, which posix_locks_deadlock should have refused with EDEADLK' : '';
  return { kind: 'deadlock', message: `task ${task} can never finish: it waits and nothing can wake it${on}${why}`, step: w.step, task, fn: '' };
}

/**
 * The tasks teardown kills before the processes exit: every task asleep in a lock wait
 * (only those: the model's other waits are uninterruptible).
 */
export function killableLockWaiters(w: World): Task[] {
  return w.tasks.filter((t) => mustFinish(t) && lockWait(w, t) !== null);
}
