// The scenario file format: mounts and stacking, server policies, user tasks and their
// syscalls, the schedule, and the outcomes expected (written next to each op).
//
// Everything a scenario names is resolved here, at load time: a "$name" must be saved by an
// op of the same process, a path must start at a declared filesystem, a schedule, a wait or a
// server expectation must name what exists; the model's own task names are refused; numbers
// that go on the wire take their wire type's range. A trace embeds a scenario and goes through
// the same checks, so nothing malformed reaches the model from either.
import { z } from 'zod';
import { ERRNO } from '../kernel/lib/errno.ts';
import { MUTANT_NAMES } from '../kernel/mutants.ts';
import { PROFILE_NAMES } from '../kernel/profile.ts';
import { ServerPolicySchema, savedRefsOfPolicy } from '../server/policy.ts';
import { FUSE_INIT_FLAG, FUSE_OPCODE } from '../wire/uapi.ts';
import type { OpenFlagName } from '../kernel/vfs/fcntl.ts';
import { MAX_FILE_BYTES, MAX_OPS_PER_TASK, MAX_TASKS, MAX_TOTAL_OPS, RESERVED_FS_NAMES, RESERVED_PROC_NAMES, RESERVED_TASK_NAMES, RESERVED_TASK_PREFIXES, VIOLATION_KINDS, objectBuiltinName, reservedTaskName } from './kinds.ts';

const errnoName = z.enum(Object.keys(ERRNO) as [string, ...string[]]);
/** the open(2) flags a scenario may add to an open's mode */
export const SCENARIO_OPEN_FLAGS = ['O_APPEND', 'O_DIRECT', 'O_NOATIME', 'O_TRUNC', 'O_NOFOLLOW', 'O_CREAT', 'O_EXCL'] as const satisfies readonly OpenFlagName[];
const savedRef = z.string().regex(/^\$\w+$/, 'a saved value: "$name"');
/** an int argument of a syscall (C int: an fd, a vma number) */
const s32 = z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1);
/** a 32-bit ioctl argument the kernel reads as u32 or int: either spelling of the same bits */
const any32 = z.number().int().min(-(2 ** 31)).max(2 ** 32 - 1);
const u32 = z.number().int().min(0).max(2 ** 32 - 1);
/**
 * a u64 wire field: a safe integer, or any value up to 2^64-1 as a string ("18446744073709551615",
 * "0xffffffffffffffff"), since JSON numbers above 2^53 are not exact
 */
const u64 = z.union(
  [
    z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    z
      .string()
      .regex(/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/, 'a decimal or 0x hex string')
      // zod runs this refinement even when the regex failed: only a string the regex accepts is a BigInt
      .refine((v) => !/^(0x[0-9a-fA-F]{1,16}|[0-9]{1,20})$/.test(v) || BigInt(v) <= 0xffff_ffff_ffff_ffffn, 'at most 2^64-1'),
  ],
  { error: 'a u64: an integer up to 2^53-1, or a decimal or 0x string up to 2^64-1' },
);
const ref = z.union([s32, savedRef], { error: 'an integer from -2^31 to 2^31-1, or a saved value "$name"' });
const ref32 = z.union([any32, savedRef], { error: 'a 32-bit integer (-2^31 to 2^32-1), or a saved value "$name"' });
const varName = z.string().regex(/^\w+$/, 'a name of letters, digits and _');
/** a file offset or size the model keeps in memory (see MAX_FILE_BYTES) */
const fileBytes = z.number().int().min(0).max(MAX_FILE_BYTES, `at most ${MAX_FILE_BYTES} (16 MiB): the model keeps file data in memory`);
/** an offset or length that may be negative (lseek(2), fallocate(2)'s EINVAL) */
const signedBytes = z.number().int().min(-MAX_FILE_BYTES).max(MAX_FILE_BYTES, `at most ${MAX_FILE_BYTES} (16 MiB): the model keeps file data in memory`);
/** fallocate(2)'s FALLOC_FL_ bits by name */
export const FALLOC_MODE_NAMES = ['KEEP_SIZE', 'PUNCH_HOLE', 'NO_HIDE_STALE', 'COLLAPSE_RANGE', 'ZERO_RANGE', 'INSERT_RANGE', 'UNSHARE_RANGE'] as const;
/** lseek(2)'s whence by name: SEEK_SET .. SEEK_HOLE */
export const SEEK_NAMES = ['set', 'cur', 'end', 'data', 'hole'] as const;
const pathRe = /^\/[^/]+(\/.*)?$/;
const path = z.string().regex(pathRe, 'a path "/<filesystem>/<name>"');
const fsName = z.string().regex(/^[\w.-]+$/, 'a name of letters, digits, _, . and -');
const OPCODE_NAMES = Object.keys(FUSE_OPCODE) as [string, ...string[]];
const INIT_FLAG_NAMES = Object.keys(FUSE_INIT_FLAG) as [string, ...string[]];

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
const retSchema = z.union([z.number().int(), errnoName, z.literal('ok')], { error: 'a return value: an integer, an errno name (e.g. "EBADF") or "ok"' });
export const ExpectSchema = z.union(
  [
    z.number().int(),
    errnoName,
    z.literal('ok'),
    z.literal('blocks'),
    z.object({ ret: retSchema.optional(), data: z.string().optional() }).strict(),
  ],
  { error: 'an expected result: an integer, an errno name (e.g. "EBADF"), "ok", "blocks", or {"ret", "data"}' },
);

const common = { expect: ExpectSchema.optional(), save: varName.optional(), note: z.string().optional() };

export const OpSchema = z.discriminatedUnion('op', [
  z
    .object({
      op: z.literal('open'),
      path,
      /** O_RDONLY, O_RDWR, O_WRONLY or O_PATH */
      mode: z.enum(['r', 'rw', 'w', 'path']).default('r'),
      /** more open(2) flags */
      flags: z.array(z.enum(SCENARIO_OPEN_FLAGS)).default([]),
      /** open(2)'s mode argument: the permission bits an O_CREAT open gives a new file (default 0644; the umask is 022) */
      perm: z.number().int().min(0).max(0o7777).optional(),
      ...common,
    })
    .strict(),
  /** pread(2) at offset; with "pos": true read(2) at the file's f_pos, which moves (offset is then unused) */
  z.object({ op: z.literal('read'), fd: ref, n: fileBytes.default(4096), offset: fileBytes.default(0), pos: z.literal(true).optional(), ...common }).strict(),
  /** pwrite(2) at offset; with "pos": true write(2) at the file's f_pos (O_APPEND: at the end), which moves */
  z.object({ op: z.literal('write'), fd: ref, data: z.string().max(MAX_FILE_BYTES), offset: fileBytes.default(0), pos: z.literal(true).optional(), ...common }).strict(),
  z.object({ op: z.literal('splice_read'), fd: ref, n: fileBytes.default(4096), offset: fileBytes.default(0), ...common }).strict(),
  z.object({ op: z.literal('splice_write'), fd: ref, data: z.string().max(MAX_FILE_BYTES), offset: fileBytes.default(0), ...common }).strict(),
  z
    .object({
      op: z.literal('mmap'),
      fd: ref,
      shared: z.boolean().default(true),
      /** PROT_READ, or PROT_READ|PROT_WRITE */
      prot: z.enum(['r', 'rw']).default('r'),
      /** bytes from offset 0, a whole number of pages */
      len: z.number().int().min(4096).max(1 << 20).multipleOf(4096).default(4096),
      ...common,
    })
    .strict(),
  /** a load through a mapping: n bytes at offset (a fault is EFAULT) */
  z.object({ op: z.literal('mread'), vma: ref, offset: z.number().int().min(0).max(1 << 20).default(0), n: z.number().int().min(0).max(1 << 20), ...common }).strict(),
  /** a store through a mapping */
  z.object({ op: z.literal('mwrite'), vma: ref, offset: z.number().int().min(0).max(1 << 20).default(0), data: z.string().max(1 << 20), ...common }).strict(),
  z.object({ op: z.literal('munmap'), vma: ref, ...common }).strict(),
  z.object({ op: z.literal('close'), fd: ref, ...common }).strict(),
  /** ftruncate(2) */
  z.object({ op: z.literal('ftruncate'), fd: ref, size: fileBytes, ...common }).strict(),
  /** truncate(2) of a path */
  z.object({ op: z.literal('truncate'), path, size: fileBytes, ...common }).strict(),
  /** chmod(2): the permission bits (octal in JSON as a number, e.g. 384 for 0600) */
  z.object({ op: z.literal('chmod'), path, mode: z.number().int().min(0).max(0o7777), ...common }).strict(),
  /** fstat(2): st_size */
  z.object({ op: z.literal('fstat'), fd: ref, ...common }).strict(),
  /** nanosleep(2): the model's clock moves (entry_valid and attr_valid run out) */
  z.object({ op: z.literal('sleep'), ms: z.number().int().min(0).max(3_600_000), ...common }).strict(),
  /** statfs(2): returns f_namelen */
  z.object({ op: z.literal('statfs'), path, ...common }).strict(),
  /** fsync(2) and fdatasync(2) */
  z.object({ op: z.literal('fsync'), fd: ref, ...common }).strict(),
  z.object({ op: z.literal('fdatasync'), fd: ref, ...common }).strict(),
  /** fallocate(2): mode is a list of FALLOC_FL_ names (none: allocate the range) */
  z.object({ op: z.literal('fallocate'), fd: ref, mode: z.array(z.enum(FALLOC_MODE_NAMES)).default([]), offset: signedBytes.default(0), len: signedBytes, ...common }).strict(),
  /** lseek(2): returns the new f_pos; whence by name, or a number (an unknown one is EINVAL) */
  z.object({ op: z.literal('lseek'), fd: ref, offset: signedBytes.default(0), whence: z.union([z.enum(SEEK_NAMES), z.number().int().min(0).max(255)]), ...common }).strict(),
  /**
   * copy_file_range(2): len bytes from fd_in at off_in to fd_out at off_out; an offset left
   * out is the file's f_pos (which then moves)
   */
  z
    .object({
      op: z.literal('copy_file_range'),
      fd_in: ref,
      off_in: fileBytes.optional(),
      fd_out: ref,
      off_out: fileBytes.optional(),
      len: fileBytes,
      flags: z.number().int().min(0).max(0xffffffff).default(0),
      ...common,
    })
    .strict(),
  /** sendfile(2): count bytes from in_fd (at offset, else its f_pos) to out_fd at its f_pos */
  z.object({ op: z.literal('sendfile'), out_fd: ref, in_fd: ref, offset: fileBytes.optional(), count: fileBytes, ...common }).strict(),
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
      path,
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
      /** struct fuse_backing_map: u32 flags, u64 padding (a safe integer, or any u64 as a decimal or 0x string) */
      flags: u32.default(0),
      padding: u64.default(0),
      /** the /dev/fuse fd the ioctl is made on (default: the server's own, "$devfd") */
      dev: ref.optional(),
      ...common,
    })
    .strict(),
  z.object({ op: z.literal('backing_close'), id: ref32, dev: ref.optional(), ...common }).strict(),
  z.object({ op: z.literal('ioctl'), cmd: u32, dev: ref.optional(), ...common }).strict(),
  /** FUSE_DEV_IOC_CLONE on the /dev/fuse fd `dev` (default "$devfd"): attach it to the connection of fd `from` */
  z.object({ op: z.literal('clone'), dev: ref.optional(), from: ref, ...common }).strict(),
  /** open("/dev/fuse", O_RDWR): a device attached to no connection yet (returns the fd) */
  z.object({ op: z.literal('open_dev_fuse'), ...common }).strict(),
  /** a server thread writes the INIT reply its server held back (policy init.hold) */
  z.object({ op: z.literal('init_reply'), ...common }).strict(),
  /** capset(2) of the calling thread: CAP_SYS_ADMIN in its effective set or not (its siblings keep theirs) */
  z.object({ op: z.literal('capset'), cap_sys_admin: z.boolean(), ...common }).strict(),
  /** a signal to another task (its handler has no SA_RESTART): an interruptible wait it sleeps in ends with EINTR */
  z.object({ op: z.literal('signal'), task: z.string(), ...common }).strict(),
  /** pipe(2) on pipefs: returns (and saves) the read end; save_write saves the write end */
  z.object({ op: z.literal('pipe'), save_write: varName.optional(), ...common }).strict(),
  /** socket(AF_UNIX, SOCK_STREAM), bound to `bind` (a path on a plain filesystem) if given; returns the fd */
  z.object({ op: z.literal('socket'), bind: path.optional(), ...common }).strict(),
  /** mknod(2) of a regular file, FIFO or socket with these permission bits (less the umask 022) */
  z.object({ op: z.literal('mknod'), path, type: z.enum(['reg', 'fifo', 'sock']).default('reg'), perm: z.number().int().min(0).max(0o7777).default(0o644), ...common }).strict(),
  /** mkdir(2) */
  z.object({ op: z.literal('mkdir'), path, perm: z.number().int().min(0).max(0o7777).default(0o755), ...common }).strict(),
  /** unlink(2) */
  z.object({ op: z.literal('unlink'), path, ...common }).strict(),
  /** rmdir(2) */
  z.object({ op: z.literal('rmdir'), path, ...common }).strict(),
  /** rename(2) of path to `to`; renameat2(2) with RENAME_NOREPLACE / RENAME_EXCHANGE when flags are given */
  z.object({ op: z.literal('rename'), path, to: path, flags: z.array(z.enum(['noreplace', 'exchange'])).default([]), ...common }).strict(),
  /** symlink(2): a symbolic link `path` whose target is `target` (kept as given: relative to the link's directory, or a path of the model) */
  z.object({ op: z.literal('symlink'), target: z.string().min(1).max(4095), path, ...common }).strict(),
  /** readlink(2) into a page-sized buffer: returns the target's length, the target as data */
  z.object({ op: z.literal('readlink'), path, ...common }).strict(),
  /** opendir(3) without its fstat: open(path, O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC); returns the fd */
  z.object({ op: z.literal('opendir'), path, ...common }).strict(),
  /** getdents64(2) with a buffer of count bytes: returns how many entries came, their names (space-separated) as data */
  z.object({ op: z.literal('getdents'), fd: ref, count: z.number().int().min(1).max(1 << 20).default(32768), ...common }).strict(),
  /** echo 2 > /proc/sys/vm/drop_caches: every unused dentry and inode is dropped (a FUSE inode's FORGET goes out) */
  z.object({ op: z.literal('drop_caches'), ...common }).strict(),
  z.object({ op: z.literal('drop_inode'), path, ...common }).strict(),
  /** umount(2); lazy: umount2(MNT_DETACH) */
  z.object({ op: z.literal('umount'), fs: z.string(), lazy: z.boolean().default(false), ...common }).strict(),
  z.object({ op: z.literal('abort'), fs: z.string(), ...common }).strict(),
  z.object({ op: z.literal('mount'), fs: z.string(), ...common }).strict(),
  z.object({ op: z.literal('serve'), ...common }).strict(),
  // model-only: wait until another task has finished `ops` of its ops (orders tasks without a schedule)
  z.object({ op: z.literal('wait'), task: z.string(), ops: z.number().int().min(1).max(MAX_OPS_PER_TASK).default(1), ...common }).strict(),
  z
    .object({
      op: z.literal('assert'),
      /** a FUSE inode by path: its fb ("null", "set", or the backing id it must be) and iocachectr */
      inode: path.optional(),
      fb: z.union([z.literal('null'), z.literal('set'), z.number().int()], { error: '"null", "set" or a backing id (an integer)' }).optional(),
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

// a regular file (its content), a directory, a FIFO (for open and BACKING_OPEN only: the
// model does not model pipe io, and a real open O_RDONLY of a FIFO waits for a writer), the
// character device /dev/null (mknod c 1 3), or a symbolic link to another path
const fileSpec = z.union(
  [
    z.string().max(MAX_FILE_BYTES),
    z.object({ dir: z.literal(true) }).strict(),
    z.object({ fifo: z.literal(true) }).strict(),
    z.object({ chr: z.literal('null') }).strict(),
    z.object({ symlink: path }).strict(),
  ],
  {
    error: 'a file: its content (a string), {"dir": true}, {"fifo": true}, {"chr": "null"} or {"symlink": "/<fs>/<name>"}',
  },
);

export const FilesystemSchema = z.discriminatedUnion('type', [
  z
    .object({
      name: fsName,
      type: z.literal('plain'),
      readonly: z.boolean().default(false),
      files: z.record(z.string().regex(/^[^/]+$/), fileSpec).default({}),
    })
    .strict(),
  z
    .object({
      name: fsName,
      type: z.literal('overlay'),
      layers: z.array(z.string()).min(1),
      /** "setup": mounted before the tasks run; "task": a task mounts it (op "mount") */
      mount: z.enum(['setup', 'task']).default('setup'),
    })
    .strict(),
  z.object({ name: fsName, type: z.literal('fuse'), server: ServerPolicySchema }).strict(),
]);

export const TaskSchema = z
  .object({
    name: z.string().regex(/^[\w.-]+$/, 'a name of letters, digits, _, . and -'),
    /** the process this task is a thread of (default: its own); "server:<fs>" joins a server */
    proc: z.string().optional(),
    /**
     * its process is a fork(2) of this one (a FUSE server's: "server:<fs>"), made at setup once
     * the mounts are up: the same open files (the server's /dev/fuse fd is its $devfd too), a
     * copy of the creds and of the saved values
     */
    fork: z.string().optional(),
    ops: z.array(OpSchema).max(MAX_OPS_PER_TASK),
  })
  .strict();

export const ScenarioSchema = z
  .object({
    /** the file's JSON Schema, for editors (schemas/scenario.schema.json); the model ignores it */
    $schema: z.string().optional(),
    name: z.string(),
    description: z.string().default(''),
    /** the spec paragraph this scenario demonstrates, e.g. "3. BACKING_OPEN" */
    spec: z.string().optional(),
    kernel: z.enum(PROFILE_NAMES as [string, ...string[]]).default('6.9'),
    /**
     * a race the real kernel resolves either way (why, in words): fpsim oracle then also runs
     * the model with the FUSE servers scheduled first whenever they can run, and accepts the
     * kernel's value of a row if either model run shows it (the note says which)
     */
    nondeterministic: z.string().min(1).optional(),
    mutants: z.array(z.enum(MUTANT_NAMES as [string, ...string[]])).default([]),
    filesystems: z.array(FilesystemSchema).min(1).max(64),
    tasks: z.array(TaskSchema).min(1).max(MAX_TASKS, `at most ${MAX_TASKS} tasks (the model is built for small programs)`),
    /**
     * "sequential": the first runnable task runs; or a list of task names, one atomic step each
     * (a name not runnable at its turn is skipped); besides the scenario's tasks, a FUSE
     * server's session loop ("fuse-daemon:<fs>") and the RCU kthread ("rcu_gp") may be named
     */
    schedule: z
      .union([z.literal('sequential'), z.literal('round-robin'), z.array(z.string())], { error: '"sequential", "round-robin" or a list of task names' })
      .default('sequential'),
    teardown: z.boolean().default(true),
    expect: z
      .object({
        /** the kinds of violation the run must report (default none) */
        violations: z.array(z.enum(VIOLATION_KINDS)).default([]),
        /** the opcodes each server must have seen, in order (exactly), or must never see */
        server_seen: z.record(z.string(), z.array(z.enum(OPCODE_NAMES))).optional(),
        server_never: z.record(z.string(), z.array(z.enum(OPCODE_NAMES))).optional(),
        /** the INIT request the kernel sends each FUSE mount: its minor, flags it offers, flags it does not */
        kernel_init: z
          .record(
            z.string(),
            z
              .object({
                minor: z.number().int().min(0).max(2 ** 32 - 1).optional(),
                offers: z.array(z.enum(INIT_FLAG_NAMES)).default([]),
                withholds: z.array(z.enum(INIT_FLAG_NAMES)).default([]),
              })
              .strict(),
          )
          .optional(),
      })
      .strict()
      .default({ violations: [] }),
  })
  .strict()
  .superRefine((s, ctx) => {
    // names JavaScript objects already have, anywhere a scenario names something
    const builtin = (n: string | undefined, at: (string | number)[]) => {
      if (n !== undefined && objectBuiltinName(n)) ctx.addIssue({ code: 'custom', path: at, message: `"${n}" is a name every JavaScript object already has (the model keeps names in objects): choose another` });
    };
    s.filesystems.forEach((f, i) => {
      builtin(f.name, ['filesystems', i, 'name']);
      if (f.type === 'plain') for (const k of Object.keys(f.files)) builtin(k, ['filesystems', i, 'files', k]);
      if (f.type === 'fuse') for (const k of Object.keys(f.server.files)) builtin(k, ['filesystems', i, 'server', 'files', k]);
    });
    s.tasks.forEach((t, i) => {
      builtin(t.name, ['tasks', i, 'name']);
      builtin(t.proc, ['tasks', i, 'proc']);
      t.ops.forEach((op, j) => {
        builtin(op.save, ['tasks', i, 'ops', j, 'save']);
        const p = 'path' in op ? op.path : op.op === 'assert' ? op.inode : undefined;
        if (p !== undefined) for (const part of p.split('/').filter(Boolean)) builtin(part, ['tasks', i, 'ops', j, 'path' in op ? 'path' : 'inode']);
      });
    });
    const fsNames = new Set<string>();
    const fuseNames = new Set<string>();
    s.filesystems.forEach((f, i) => {
      if (fsNames.has(f.name)) ctx.addIssue({ code: 'custom', path: ['filesystems', i, 'name'], message: `duplicate filesystem name "${f.name}"` });
      if ((RESERVED_FS_NAMES as readonly string[]).includes(f.name)) {
        ctx.addIssue({ code: 'custom', path: ['filesystems', i, 'name'], message: `"${f.name}" is the model's own filesystem (where /dev/fuse lives): choose another name` });
      }
      if (f.type === 'overlay') {
        f.layers.forEach((l, j) => {
          if (!fsNames.has(l)) ctx.addIssue({ code: 'custom', path: ['filesystems', i, 'layers', j], message: `layer "${l}" must name a filesystem declared before it` });
        });
      }
      fsNames.add(f.name);
      if (f.type === 'fuse') fuseNames.add(f.name);
    });
    const fsList = () => [...fsNames].join(', ');
    const checkPath = (p: string | undefined, at: (string | number)[]) => {
      if (p === undefined) return;
      const first = /^\/([^/]+)/.exec(p)?.[1];
      if (first !== undefined && !fsNames.has(first)) ctx.addIssue({ code: 'custom', path: at, message: `path "${p}" is on no declared filesystem: its first component must be one of ${fsList()}` });
    };
    // what each process saves: "$name" must name one of them (a server process also has $devfd)
    const procOf = (t: { name: string; proc?: string | undefined }) => t.proc ?? t.name;
    const saved = new Map<string, Set<string>>();
    for (const f of fuseNames) saved.set(`server:${f}`, new Set(['devfd']));
    for (const t of s.tasks) {
      // a forked process starts with what its parent held at setup ($devfd)
      if (t.fork !== undefined && !saved.has(procOf(t))) saved.set(procOf(t), new Set(saved.get(t.fork) ?? []));
    }
    for (const t of s.tasks) {
      const set = saved.get(procOf(t)) ?? new Set<string>();
      saved.set(procOf(t), set);
      for (const op of t.ops) {
        if (op.save !== undefined) set.add(op.save);
        if (op.op === 'pipe' && op.save_write !== undefined) set.add(op.save_write);
      }
    }
    const checkRef = (v: unknown, proc: string, at: (string | number)[]) => {
      if (typeof v !== 'string' || !v.startsWith('$')) return;
      const names = saved.get(proc);
      if (!names?.has(v.slice(1))) {
        const have = names?.size ? `it saves ${[...names].map((n) => `$${n}`).join(', ')}` : 'it saves nothing';
        ctx.addIssue({ code: 'custom', path: at, message: `${v} is saved by no op of process "${proc}" (${have}): add "save": "${v.slice(1)}" to the op that makes it` });
      }
    };
    s.filesystems.forEach((f, i) => {
      if (f.type === 'plain') {
        for (const [name, file] of Object.entries(f.files)) if (typeof file === 'object' && 'symlink' in file) checkPath(file.symlink, ['filesystems', i, 'files', name, 'symlink']);
      }
      if (f.type === 'fuse') {
        for (const [name, file] of Object.entries(f.server.files)) {
          if (file.backing !== undefined) checkPath(file.backing, ['filesystems', i, 'server', 'files', name, 'backing']);
        }
        for (const r of savedRefsOfPolicy(f.server)) checkRef(r.ref, `server:${f.name}`, ['filesystems', i, 'server', ...r.path]);
        const host = f.server.external?.host;
        if (host !== undefined && !s.filesystems.some((x) => x.type === 'plain' && x.name === host)) {
          ctx.addIssue({ code: 'custom', path: ['filesystems', i, 'server', 'external', 'host'], message: `"${host}" is no plain filesystem of this scenario: the real server's backing files need one (plain filesystems: ${s.filesystems.filter((x) => x.type === 'plain').map((x) => x.name).join(', ') || 'none'})` });
        }
      }
    });
    const totalOps = s.tasks.reduce((a, t) => a + t.ops.length, 0);
    if (totalOps > MAX_TOTAL_OPS) ctx.addIssue({ code: 'custom', path: ['tasks'], message: `${totalOps} ops in all, at most ${MAX_TOTAL_OPS} (the model is built for small programs)` });
    const taskNames = new Set<string>();
    s.tasks.forEach((t, i) => {
      if (taskNames.has(t.name)) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'name'], message: `duplicate task name "${t.name}"` });
      if (reservedTaskName(t.name)) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, 'name'], message: `"${t.name}" is a name the model gives its own tasks (${RESERVED_TASK_NAMES.join(', ')}, ${RESERVED_TASK_PREFIXES.map((p) => `${p}*`).join(', ')}): choose another` });
      }
      const proc = procOf(t);
      if ((RESERVED_PROC_NAMES as readonly string[]).includes(proc)) {
        ctx.addIssue({ code: 'custom', path: t.proc !== undefined ? ['tasks', i, 'proc'] : ['tasks', i, 'name'], message: `"${proc}" is the kernel's own process: a task cannot be (or join) it` });
      }
      taskNames.add(t.name);
      if (t.proc?.startsWith('server:') && !fuseNames.has(t.proc.slice(7))) {
        ctx.addIssue({ code: 'custom', path: ['tasks', i, 'proc'], message: `no FUSE filesystem "${t.proc.slice(7)}" to join the server of (FUSE filesystems: ${[...fuseNames].join(', ') || 'none'})` });
      }
      if (t.fork !== undefined) {
        const parents = new Set([...[...fuseNames].map((f) => `server:${f}`), ...s.tasks.filter((x) => x.fork === undefined).map(procOf)]);
        if (proc.startsWith('server:')) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'fork'], message: `a server process is made by its mount, not by fork: give the forked process its own name ("proc")` });
        else if (!parents.has(t.fork) || t.fork === proc) {
          ctx.addIssue({ code: 'custom', path: ['tasks', i, 'fork'], message: `no process "${t.fork}" to fork from (processes: ${[...parents].filter((x) => x !== proc).join(', ') || 'none'})` });
        }
        const other = s.tasks.find((x) => procOf(x) === proc && x.fork !== t.fork);
        if (other) ctx.addIssue({ code: 'custom', path: ['tasks', i, 'fork'], message: `task "${other.name}" of process "${proc}" says it is ${other.fork === undefined ? 'not forked' : `forked from "${other.fork}"`}: every task of a forked process names the same parent` });
      }
      t.ops.forEach((op, j) => {
        const at = (k: string) => ['tasks', i, 'ops', j, k];
        if (op.op === 'wait' && !s.tasks.some((x) => x.name === op.task)) {
          ctx.addIssue({ code: 'custom', path: at('task'), message: `no task "${op.task}" to wait for (tasks: ${s.tasks.map((x) => x.name).join(', ')})` });
        }
        const fs = 'fs' in op ? op.fs : undefined;
        if (fs !== undefined && !fsNames.has(fs)) ctx.addIssue({ code: 'custom', path: at('fs'), message: `no filesystem "${fs}" (filesystems: ${fsList()})` });
        if ('path' in op) checkPath(op.path, at('path'));
        if (op.op === 'assert') checkPath(op.inode, at('inode'));
        if ((op.op === 'write' || op.op === 'splice_write') && op.offset <= MAX_FILE_BYTES && op.offset + op.data.length > MAX_FILE_BYTES) {
          ctx.addIssue({ code: 'custom', path: at('offset'), message: `offset + data length is ${op.offset + op.data.length}, at most ${MAX_FILE_BYTES} (16 MiB): the model keeps file data in memory` });
        }
        for (const k of ['fd', 'vma', 'id', 'dev', 'from', 'fd_in', 'fd_out', 'in_fd', 'out_fd'] as const) if (k in op) checkRef((op as Record<string, unknown>)[k], proc, at(k));
        if (op.op === 'signal' && !s.tasks.some((x) => x.name === op.task)) {
          ctx.addIssue({ code: 'custom', path: at('task'), message: `no task "${op.task}" to signal (tasks: ${s.tasks.map((x) => x.name).join(', ')})` });
        }
        if (op.op === 'socket') checkPath(op.bind, at('bind'));
        if (op.op === 'rename') checkPath(op.to, at('to'));
      });
    });
    for (const key of ['server_seen', 'server_never', 'kernel_init'] as const) {
      for (const fs of Object.keys(s.expect[key] ?? {})) {
        if (!fuseNames.has(fs)) ctx.addIssue({ code: 'custom', path: ['expect', key, fs], message: `no FUSE filesystem "${fs}" (FUSE filesystems: ${[...fuseNames].join(', ') || 'none'})` });
      }
    }
    if (Array.isArray(s.schedule)) {
      // the kernel-side tasks a schedule may name too (sim/scenario/build.ts: serverTask, RCU_TASK)
      for (const f of fuseNames) taskNames.add(`fuse-daemon:${f}`);
      taskNames.add('rcu_gp');
      s.schedule.forEach((n, i) => {
        if (!taskNames.has(n)) ctx.addIssue({ code: 'custom', path: ['schedule', i], message: `no task "${n}" (tasks: ${[...taskNames].join(', ')})` });
      });
    }
  });

export type Scenario = z.infer<typeof ScenarioSchema>;
export type ScenarioOp = z.infer<typeof OpSchema>;
export type ScenarioInput = z.input<typeof ScenarioSchema>;
