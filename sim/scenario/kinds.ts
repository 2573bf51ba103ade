// The names a scenario or a trace may use for the model's own vocabularies: violation kinds,
// and the task, process and filesystem names the model keeps for itself.
import type { ViolationKind } from '../kernel/lib/violation.ts';

export const VIOLATION_KINDS = [
  'use-after-free',
  'double-free',
  'leak',
  'refcount-inc-from-zero',
  'refcount-underflow',
  'refcount-owners',
  'rcu-early-free',
  'rcu-unbalanced',
  'lock-misuse',
  'iomode',
  'stack-depth',
  'idr',
  'warn-on',
  'deadlock',
  'file-lock',
  'outcome',
  'server',
] as const satisfies readonly ViolationKind[];

// A kind added to the model but not here fails to compile: scenarios and traces must be able to name it.
type Missing<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : Exclude<All, Listed>;
const _violationKindsComplete: Missing<ViolationKind, (typeof VIOLATION_KINDS)[number]> = true;
void _violationKindsComplete;

/**
 * Task names the model gives its own tasks (sim/kernel/build.ts: the setup kthread, RCU_TASK,
 * serverTask; sim/run.ts: the teardown tasks). A user task with one of them would be
 * confused with the model's (a schedule naming it, a trace's step picking it).
 */
export const RESERVED_TASK_NAMES = ['setup', 'rcu_gp'] as const;
export const RESERVED_TASK_PREFIXES = ['fuse-daemon:', 'teardown:'] as const;
/** the kernel's own process (KERNEL_PROC: CAP_SYS_ADMIN credentials) */
export const RESERVED_PROC_NAMES = ['kernel'] as const;
/** the superblocks of the kernel's own: /dev/fuse's (DEVTMPFS), pipes' (PIPEFS) and sockets' (SOCKFS) */
export const RESERVED_FS_NAMES = ['devtmpfs', 'pipefs', 'sockfs'] as const;

export function reservedTaskName(n: string): boolean {
  return (RESERVED_TASK_NAMES as readonly string[]).includes(n) || RESERVED_TASK_PREFIXES.some((p) => n.startsWith(p));
}

/**
 * The largest file offset or size a scenario may use. The model keeps every file's data in
 * memory as a string (and every explored state holds a copy), so a write at offset 2^31 would
 * need a 2 GiB string: 16 MiB is far beyond what any scenario needs and still cheap.
 */
export const MAX_FILE_BYTES = 1 << 24;

/**
 * How many tasks, ops per task and ops in all a scenario may have. The model is built for small
 * programs: a step looks at every task, and the invariants at the whole world, so a run grows
 * with tasks x steps (10 000 tasks took over 20 s); within these bounds a run takes seconds.
 */
export const MAX_TASKS = 256;
export const MAX_OPS_PER_TASK = 10_000;
export const MAX_TOTAL_OPS = 50_000;

/**
 * Names every JavaScript object already has ("constructor", "__proto__", "toString"...): the
 * model keeps processes, files, saved values and servers in plain objects keyed by name, where
 * such a name would find the object's own property instead of nothing. Refused wherever a
 * scenario names something.
 */
export function objectBuiltinName(n: string): boolean {
  return n in Object.prototype || n === '__proto__';
}
