// The scenario file format: mounts and stacking, server policies, user tasks and their
// syscalls, the schedule, and the outcomes expected (written next to each op).
import { z } from 'zod';
import { ERRNO } from '../kernel/lib/errno.ts';
import { MUTANT_NAMES } from '../kernel/mutants.ts';
import { PROFILE_NAMES } from '../kernel/profile.ts';
import { ServerPolicySchema } from '../server/policy.ts';
import type { OpenFlagName } from '../kernel/vfs/fcntl.ts';

const errnoName = z.enum(Object.keys(ERRNO) as [string, ...string[]]);
/** the open(2) flags a scenario may add to an open's mode */
export const SCENARIO_OPEN_FLAGS = ['O_APPEND', 'O_DIRECT', 'O_NOATIME'] as const satisfies readonly OpenFlagName[];
const ref = z.union([z.number().int(), z.string().regex(/^\$\w+$/, 'a saved value: "$name"')]);
const varName = z.string().regex(/^\w+$/, 'a name of letters, digits and _');
/** a lock's l_start or l_len: within +-2^50, so that the model's offset arithmetic stays exact */
const LOCK_RANGE_LIMIT = 2 ** 50;
const lockOffset = z
  .number()
  .int()
  .min(-LOCK_RANGE_LIMIT, `at least -2^50 (the model's lock offsets stay exact below 2^53)`)
  .max(LOCK_RANGE_LIMIT, `at most 2^50 (the model's lock offsets stay exact below 2^53)`);

/**
 * What an op should return: a number, an errno name, "ok" (any success), or "blocks": it never
 * returns (it sleeps in a lock wait nothing ends; teardown kills it, and it has no result).
 */
export const ExpectSchema = z.union([
  z.number().int(),
  errnoName,
  z.literal('ok'),
  z.literal('blocks'),
  z.object({ ret: z.union([z.number().int(), errnoName, z.literal('ok')]).optional(), data: z.string().optional() }).strict(),
]);

const common = { expect: ExpectSchema.optional(), save: varName.optional(), note: z.string().optional() };

export const OpSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('open'),
      path: z.string(),
      /** O_RDONLY, O_RDWR, O_WRONLY or O_PATH */
      mode: z.enum(['r', 'rw', 'w', 'path']).default('r'),
      /** more open(2) flags */
      flags: z.array(z.enum(SCENARIO_OPEN_FLAGS)).default([]),
      ...common,
    })
    .strict(),
  z.object({ op: z.literal('read'), fd: ref, n: z.number().int().min(0).default(4096), offset: z.number().int().min(0).default(0), ...common }).strict(),
  z.object({ op: z.literal('write'), fd: ref, data: z.string(), offset: z.number().int().min(0).default(0), ...common }).strict(),
  z.object({ op: z.literal('splice_read'), fd: ref, n: z.number().int().min(0).default(4096), offset: z.number().int().min(0).default(0), ...common }).strict(),
  z.object({ op: z.literal('splice_write'), fd: ref, data: z.string(), offset: z.number().int().min(0).default(0), ...common }).strict(),
  z.object({ op: z.literal('mmap'), fd: ref, shared: z.boolean().default(true), ...common }).strict(),
  z.object({ op: z.literal('munmap'), vma: ref, ...common }).strict(),
  z.object({ op: z.literal('close'), fd: ref, ...common }).strict(),
  // flock(2): LOCK_SH, LOCK_EX or LOCK_UN, with LOCK_NB if nb
  z.object({ op: z.literal('flock'), fd: ref, type: z.enum(['sh', 'ex', 'un']), nb: z.boolean().default(false), ...common }).strict(),
  // fcntl(2) F_SETLK, F_SETLKW or F_GETLK with struct flock { l_type, SEEK_SET, l_start, l_len }
  // (l_len 0: to the end of the file); F_GETLK's result is its data: "un", or the lock found
  // as "<rd|wr> start=<l_start> len=<l_len> pid=<holder's process>"
  z
    .object({
      op: z.literal('lock'),
      fd: ref,
      cmd: z.enum(['setlk', 'setlkw', 'getlk']),
      type: z.enum(['rd', 'wr', 'un']),
      start: lockOffset.default(0),
      len: lockOffset.default(0),
      ...common,
    })
    .strict(),
  z
    .object({
      op: z.literal('stat'),
      path: z.string(),
      /**
       * statx(AT_STATX_DONT_SYNC): the size the kernel has cached, without asking the server
       * (plain stat(2) sends GETATTR when the attributes are invalid)
       */
      cached: z.boolean().optional(),
      ...common,
    })
    .strict(),
  z
    .object({
      op: z.literal('backing_open'),
      fd: ref,
      flags: z.number().int().default(0),
      padding: z.number().int().default(0),
      ...common,
    })
    .strict(),
  z.object({ op: z.literal('backing_close'), id: ref, ...common }).strict(),
  z.object({ op: z.literal('ioctl'), cmd: z.number().int(), ...common }).strict(),
  z.object({ op: z.literal('drop_inode'), path: z.string(), ...common }).strict(),
  z.object({ op: z.literal('umount'), fs: z.string(), ...common }).strict(),
  z.object({ op: z.literal('abort'), fs: z.string(), ...common }).strict(),
  z.object({ op: z.literal('mount'), fs: z.string(), ...common }).strict(),
  z.object({ op: z.literal('serve'), ...common }).strict(),
  // model-only: wait until another task has finished `ops` of its ops (orders tasks without a schedule)
  z.object({ op: z.literal('wait'), task: z.string(), ops: z.number().int().min(1).default(1), ...common }).strict(),
  z
    .object({
      op: z.literal('assert'),
      /** a FUSE inode by path: its fb ("null", "set", or the backing id it must be) and iocachectr */
      inode: z.string().optional(),
      fb: z.union([z.literal('null'), z.literal('set'), z.number().int()]).optional(),
      iocachectr: z.number().int().optional(),
      /** a FUSE mount: the ids in its backing map */
      fs: z.string().optional(),
      backing_ids: z.array(z.number().int()).optional(),
      /** the refcount of the fuse_backing behind backing id `id` on `fs` */
      id: z.number().int().optional(),
      count: z.number().int().optional(),
      passthrough: z.boolean().optional(),
      max_stack_depth: z.number().int().optional(),
      ...common,
    })
    .strict(),
]);

// a regular file (its content), a directory, or a FIFO (for open and BACKING_OPEN only: the
// model does not model pipe io, and a real open O_RDONLY of a FIFO waits for a writer)
const fileSpec = z.union([z.string(), z.object({ dir: z.literal(true) }).strict(), z.object({ fifo: z.literal(true) }).strict()]);

export const FilesystemSchema = z.discriminatedUnion('type', [
  z
    .object({
      name: z.string().regex(/^[\w.-]+$/),
      type: z.literal('plain'),
      readonly: z.boolean().default(false),
      files: z.record(z.string().regex(/^[^/]+$/), fileSpec).default({}),
    })
    .strict(),
  z
    .object({
      name: z.string().regex(/^[\w.-]+$/),
      type: z.literal('overlay'),
      layers: z.array(z.string()).min(1),
      /** "setup": mounted before the tasks run; "task": a task mounts it (op "mount") */
      mount: z.enum(['setup', 'task']).default('setup'),
    })
    .strict(),
  z.object({ name: z.string().regex(/^[\w.-]+$/), type: z.literal('fuse'), server: ServerPolicySchema }).strict(),
]);

export const TaskSchema = z
  .object({
    name: z.string().regex(/^[\w.-]+$/),
    /** the process this task is a thread of (default: its own); "server:<fs>" joins a server */
    proc: z.string().optional(),
    ops: z.array(OpSchema),
  })
  .strict();

export const ScenarioSchema = z
  .object({
    name: z.string(),
    description: z.string().default(''),
    /** the spec paragraph this scenario demonstrates, e.g. "3. BACKING_OPEN" */
    spec: z.string().optional(),
    kernel: z.enum(PROFILE_NAMES as [string, ...string[]]).default('6.9'),
    mutants: z.array(z.enum(MUTANT_NAMES as [string, ...string[]])).default([]),
    filesystems: z.array(FilesystemSchema).min(1),
    tasks: z.array(TaskSchema).min(1),
    /**
     * "sequential": the first runnable task runs; or a list of task names, one atomic step each
     * (a name not runnable at its turn is skipped); besides the scenario's tasks, a FUSE
     * server's session loop ("fuse-daemon:<fs>") and the RCU kthread ("rcu_gp") may be named
     */
    schedule: z.union([z.literal('sequential'), z.literal('round-robin'), z.array(z.string())]).default('sequential'),
    teardown: z.boolean().default(true),
    expect: z
      .object({
        /** the kinds of violation the run must report (default none) */
        violations: z.array(z.string()).default([]),
        /** the opcodes each server must have seen, in order (exactly), or must never see */
        server_seen: z.record(z.string(), z.array(z.string())).optional(),
        server_never: z.record(z.string(), z.array(z.string())).optional(),
      })
      .strict()
      .default({ violations: [] }),
  })
  .strict()
  .superRefine((s, ctx) => {
    const fsNames = new Set<string>();
    s.filesystems.forEach((f, i) => {
      if (fsNames.has(f.name)) ctx.addIssue({ code: 'custom', path: ['filesystems', i, 'name'], message: `duplicate filesystem name "${f.name}"` });
      if (f.type === 'overlay') {
        f.layers.forEach((l, j) => {
          if (!fsNames.has(l)) ctx.addIssue({ code: 'custom', path: ['filesystems', i, 'layers', j], message: `layer "${l}" must name a filesystem declared before it` });
        });
      }
      fsNames.add(f.name);
    });
    const taskNames = new Set<string>();
    s.tasks.forEach((t, i) => {
      if (taskNames.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'name'], message: `duplicate task name "${t.name}"` });
      taskNames.add(t.name);
      if (t.proc?.startsWith('server:') && !fsNames.has(t.proc.slice(7))) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, 'proc'], message: `no filesystem "${t.proc.slice(7)}" to join the server of` });
      }
      t.ops.forEach((op, j) => {
        if (op.op === 'wait' && !s.tasks.some((x) => x.name === op.task)) {
          ctx.addIssue({ code: 'custom', path: ['tasks', i, 'ops', j, 'task'], message: `no task "${op.task}" to wait for` });
        }
        const fs = 'fs' in op ? op.fs : undefined;
        if (fs !== undefined && !fsNames.has(fs)) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'ops', j, 'fs'], message: `no filesystem "${fs}"` });
      });
    });
    if (Array.isArray(s.schedule)) {
      // the kernel-side tasks a schedule may name too (sim/scenario/build.ts: serverTask, RCU_TASK)
      for (const f of s.filesystems) if (f.type === 'fuse') taskNames.add(`fuse-daemon:${f.name}`);
      taskNames.add('rcu_gp');
      s.schedule.forEach((n, i) => {
        if (!taskNames.has(n)) ctx.addIssue({ code: 'custom', path: ['schedule', i], message: `no task "${n}" (tasks: ${[...taskNames].join(', ')})` });
      });
    }
  });

export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioOp = z.infer<typeof OpSchema>;
export type ScenarioInput = z.input<typeof ScenarioSchema>;
