// kernel/pid.c, as far as the model needs pid numbers: a task's pid is 1000 plus its index in
// the world's task list (what fuse_queue_request puts in a request header), and a process's
// tgid is its thread group leader's, i.e. its first task's. The numbers are stable while the
// scenario's tasks run (user tasks join the list once, before they start).
import type { World } from './state.ts';

export const PID_BASE = 1000;

/** task_tgid_nr: the tgid of process `proc` (0 if it has no task). */
export function tgid_of(w: World, proc: string): number {
  const i = w.tasks.findIndex((t) => t.proc === proc);
  return i < 0 ? 0 : PID_BASE + i;
}

/** find_pid_ns(nr) != NULL: a task with this pid exists. */
export function pid_exists(w: World, nr: number): boolean {
  const i = nr - PID_BASE;
  return Number.isInteger(i) && i >= 0 && i < w.tasks.length;
}

/** The process whose tgid is nr, or null (what a pid reported to userspace names). */
export function proc_of_tgid(w: World, nr: number): string | null {
  if (!pid_exists(w, nr)) return null;
  const proc = w.tasks[nr - PID_BASE]!.proc;
  return tgid_of(w, proc) === nr ? proc : null;
}
