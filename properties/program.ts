// Random programs for the model properties: a scenario (the same Scenario type every driver
// uses: one model serves `fpsim run`, the properties, the explorer and replay) plus an
// interleaving. Both shrink: fast-check removes ops, tasks and mounts and shortens the
// interleaving until only what the failure needs is left.
//
// Everything is drawn as small numbers first ("seeds") and resolved into a scenario in one
// pure function, so that removing an op or a mount never leaves a dangling reference: a fd
// argument is "the k-th fd this process saved" (mod how many there are), a backing path "the
// k-th candidate of this topology", and so on.
//
// Lock ops (flock, fcntl F_SETLK/F_SETLKW/F_GETLK) may make a process sleep until another
// unlocks, closes or exits, and random programs are not deadlock-free: a flock cycle, a cycle
// mixing flock and POSIX locks, or a holder whose program ends while holding the lock leave
// tasks asleep for good. That is the program's deadlock, not the kernel's, and the property
// accepts it (sim/check/deadlock.ts: a task in a lock wait is not stuck; teardown kills it,
// SIGKILL ending the interruptible wait, and the run is judged as usual: invariants, leaks).
// A cycle of POSIX lock waits is the kernel's to refuse (EDEADLK from posix_locks_deadlock):
// a task asleep in one is stuck, a failure. The kernel's detector follows one waiting request
// per owner, so with threads of three or more processes it can miss a cycle; the programs
// have at most two lock owners whenever a process has two threads, where it cannot.
import fc from 'fast-check';
import { ScenarioSchema, type Scenario, type ScenarioInput } from '../sim/scenario/schema.ts';
import type { FopenName } from '../sim/server/policy.ts';

/** A program: a scenario and the interleaving the run phase follows. */
export interface Program {
  scenario: Scenario;
  /**
   * The interleaving: one entry per atomic step of the run phase, an index into the tasks
   * that can run at that step (modulo their number; 0 is the first runnable task in the
   * world's order, i.e. what the sequential scheduler would pick). When the list is used up
   * the run goes on sequentially.
   */
  sched: number[];
  /** where the program came from: "random", "targeted:<name>", "library:<file>" */
  origin: string;
  /**
   * Run under the scenario's own schedule (the interleaving is ignored) and judge the
   * outcomes the scenario expects: hand-made programs whose expectations need their order.
   */
  own?: boolean;
}

// --- the world's shape ---------------------------------------------------------------

/**
 * The plain filesystem every program has: two files, a directory, /dev/null's device node and
 * a symlink to the first file (backing fds of every kind a server can name by path).
 */
export const LOWER_FILES = {
  a: 'hello, backing file',
  b: 'second backing file',
  d: { dir: true as const },
  n: { chr: 'null' as const },
  l: { symlink: '/lower/a' },
};

interface TopoSeed {
  /** the plain fs is read-only (a backing file opened for writing gets EROFS) */
  readonly: boolean;
  /** an overlay over the plain fs (s_stack_depth 1) is there to back files with */
  overlay: boolean;
  /** a second FUSE mount: none, next to the first, or stacked on it */
  second: 'none' | 'side' | 'stacked';
}

type OpenSeed =
  | { mode: 'passthrough_hp' }
  | { mode: 'per_open'; close_after_reply: boolean; flags: FopenName[] }
  | ReplySeed
  | ErrorSeed
  | { mode: 'sequence'; replies: (ReplySeed | ErrorSeed)[] };
type ReplySeed = { mode: 'reply'; flags: FopenName[]; backing_id: number | string };
type ErrorSeed = { mode: 'error'; errno: 'EACCES' | 'EPERM' | 'ENOENT' | 'ENOSYS' };

interface FileSeed {
  /** index into the backing candidates; the last candidate is "no backing file" (inline data) */
  backing: number;
  open: OpenSeed | null;
}

interface ServerSeed {
  cap: boolean;
  v15: boolean;
  passthrough: boolean;
  initExt: boolean;
  writeback: boolean;
  dioMmap: boolean;
  depth: number;
  initFails: boolean;
  open: OpenSeed;
  files: [FileSeed, FileSeed];
  flushEnosys: boolean;
  /** what GETXATTR of security.capability answers (before writes and truncation) */
  getxattrEnodata: boolean;
  /** FSYNC, FALLOCATE, LSEEK and COPY_FILE_RANGE(_64) implemented ("ok"), else libfuse's ENOSYS */
  syncOk: boolean;
  /** SETATTR and STATFS fail now and then */
  setattrErr: boolean;
  statfsErr: boolean;
  /** entry_valid and attr_valid in seconds (0: ask every time; 1: a sleep lets them run out) */
  valid: number;
  atomicOTrunc: boolean;
  /** FUSE_POSIX_LOCKS and FUSE_FLOCK_LOCKS in the INIT reply, and how lock requests are answered */
  posixLocks: boolean;
  flockLocks: boolean;
  locks: 'grant' | 'table' | 'conflict' | 'ENOSYS';
  /** LOOKUP of a missing name answered with a negative entry (nodeid 0; passthrough_hp's), not ENOENT */
  negative: boolean;
}

/** open(2)'s access mode (0 O_RDONLY, 1 O_RDWR, 2 O_WRONLY, 3 O_PATH) and flags */
const OPEN_MODES = ['r', 'rw', 'w', 'path'] as const;
type OpenFlag = 'O_APPEND' | 'O_DIRECT' | 'O_NOATIME' | 'O_TRUNC';

type OpSeed =
  | { k: 'open'; path: number; rw: boolean; mode?: number; flags?: OpenFlag[] }
  | { k: 'read'; fd: number; off: number; splice: boolean; pos?: boolean }
  | { k: 'write'; fd: number; data: number; splice: boolean; pos?: boolean }
  | { k: 'mmap'; fd: number; shared: boolean; write?: boolean }
  | { k: 'mread'; vma: number; off: number }
  | { k: 'mwrite'; vma: number; data: number }
  | { k: 'ftruncate'; fd: number; size: number }
  /** fsync(2), or fdatasync(2) */
  | { k: 'fsync'; fd: number; datasync: boolean }
  /** fallocate(2) with FALLOC_MODES[mode] at offset off */
  | { k: 'fallocate'; fd: number; mode: number; off: number }
  /** lseek(2): whence 0..4 (SET .. HOLE), 5 an unknown one */
  | { k: 'lseek'; fd: number; whence: number; off: number }
  /** copy_file_range(2) from fd to fd2, at offset off of both, or (pos) at their f_pos */
  | { k: 'copy_file_range'; fd: number; fd2: number; off: number; pos: boolean }
  /** sendfile(2) from fd to fd2, at offset off of the input, or (pos) at its f_pos */
  | { k: 'sendfile'; fd: number; fd2: number; off: number; pos: boolean }
  | { k: 'truncate'; path: number; size: number }
  | { k: 'chmod'; path: number }
  | { k: 'fstat'; fd: number }
  | { k: 'statfs'; path: number }
  | { k: 'sleep'; ms: number }
  | { k: 'munmap'; vma: number }
  | { k: 'close'; fd: number }
  | { k: 'stat'; path: number }
  | { k: 'drop_inode'; path: number }
  | { k: 'abort'; fs: number }
  | { k: 'backing_open'; fd: number; flags: number; padding: number }
  | { k: 'backing_close'; id: number }
  /** flock(2): type 0 sh, 1 ex, 2 un */
  | { k: 'flock'; fd: number; type: number; nb: boolean }
  /** fcntl(2): cmd 0 setlk, 1 setlkw, 2 getlk; type 0 rd, 1 wr, 2 un; a range of LOCK_RANGES */
  | { k: 'lock'; fd: number; cmd: number; type: number; range: number }
  /** umount2(MNT_DETACH) of a FUSE mount */
  | { k: 'umount'; fs: number }
  // namespace operations and directories on the FUSE mounts (NS_PATHS)
  | { k: 'create'; path: number; excl: boolean }
  | { k: 'unlink'; path: number }
  /** flags 0: rename(2), 1: RENAME_NOREPLACE, 2: RENAME_EXCHANGE */
  | { k: 'rename'; path: number; to: number; flags: number }
  | { k: 'mkdir'; path: number }
  | { k: 'rmdir'; path: number }
  | { k: 'opendir'; path: number }
  | { k: 'getdents'; fd: number }
  | { k: 'drop_caches' }
  // a server thread's own fds and devices
  | { k: 'pipe' }
  | { k: 'socket' }
  | { k: 'open_dev_fuse' }
  /** FUSE_DEV_IOC_CLONE of $devfd onto the k-th /dev/fuse fd it opened */
  | { k: 'clone'; dev: number }
  /** BACKING_OPEN through the k-th /dev/fuse fd it opened (attached by a clone, or not) */
  | { k: 'backing_open_dev'; dev: number; fd: number }
  /** the server closes its own /dev/fuse */
  | { k: 'close_dev' }
  | { k: 'capset'; cap: boolean };

interface TasksSeed {
  /** each user task: usually an open first, then anything */
  users: [OpSeed | null, OpSeed[]][];
  /** a server thread; its prologue opens a backing file and registers it (saving "$id") */
  ctl: { fs: number; prologue: boolean; ops: OpSeed[] } | null;
  /** the second user task is a thread of the first one's process (they share fds) */
  shareProc: boolean;
  /** lock contention: the users' opens name the few files of LOCK_PATHS */
  locking?: true;
}

interface ProgramSeed {
  topo: TopoSeed;
  servers: [ServerSeed, ServerSeed];
  tasks: TasksSeed;
}

// --- arbitraries -------------------------------------------------------------------------

const weighted = <T>(...xs: [number, T][]) => fc.oneof(...xs.map(([weight, v]) => ({ weight, arbitrary: fc.constant(v) })));
/** true with probability p, shrinking to false (a rare feature goes away first) */
const rarely = (p: number) => fc.integer({ min: 0, max: 99 }).map((n) => n >= 100 - p * 100);
/** true with probability p, shrinking to true (the usual setting comes back first) */
const likely = (p: number) => fc.integer({ min: 0, max: 99 }).map((n) => n < p * 100);

/** open reply flags: the combinations that mean something, and now and then any subset */
const openFlagsArb: fc.Arbitrary<FopenName[]> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<FopenName[]>([]) }, // cached
  { weight: 4, arbitrary: fc.constant<FopenName[]>(['PASSTHROUGH']) },
  { weight: 1, arbitrary: fc.constant<FopenName[]>(['PASSTHROUGH', 'DIRECT_IO']) },
  { weight: 1, arbitrary: fc.constant<FopenName[]>(['PASSTHROUGH', 'NOFLUSH']) },
  { weight: 2, arbitrary: fc.constant<FopenName[]>(['DIRECT_IO']) },
  { weight: 2, arbitrary: fc.constant<FopenName[]>(['DIRECT_IO', 'PARALLEL_DIRECT_WRITES']) },
  { weight: 2, arbitrary: fc.subarray<FopenName>(['DIRECT_IO', 'PASSTHROUGH', 'PARALLEL_DIRECT_WRITES', 'NOFLUSH', 'KEEP_CACHE']) },
);

const replySeedArb: fc.Arbitrary<ReplySeed> = fc.record({
  mode: fc.constant('reply' as const),
  flags: openFlagsArb,
  backing_id: weighted<number | string>([4, '$id'], [3, 1], [1, 0], [1, 2], [1, -1]),
});
const errorSeedArb: fc.Arbitrary<ErrorSeed> = fc.record({
  mode: fc.constant('error' as const),
  errno: fc.constantFrom('EACCES' as const, 'EPERM' as const, 'ENOENT' as const, 'ENOSYS' as const),
});

/** Replies that make the io-mode conflicts: cached then passthrough, two ids, direct io. */
function sequenceArb(): fc.Arbitrary<OpenSeed> {
  const id = weighted<number | string>([3, '$id'], [3, 1], [1, 2]);
  const pt = id.map((backing_id): ReplySeed => ({ mode: 'reply', flags: ['PASSTHROUGH'], backing_id }));
  const cached = fc.constant<ReplySeed>({ mode: 'reply', flags: [], backing_id: 0 });
  const dio = fc.constant<ReplySeed>({ mode: 'reply', flags: ['DIRECT_IO', 'PARALLEL_DIRECT_WRITES'], backing_id: 0 });
  const seq = (...xs: fc.Arbitrary<ReplySeed | ErrorSeed>[]) => fc.tuple(...xs).map((replies): OpenSeed => ({ mode: 'sequence', replies }));
  return fc.oneof(
    { weight: 3, arbitrary: seq(cached, pt) },
    { weight: 1, arbitrary: seq(pt, cached) },
    { weight: 1, arbitrary: seq(pt, pt) },
    { weight: 1, arbitrary: seq(dio, pt) },
    {
      weight: 2,
      arbitrary: fc
        .array(fc.oneof({ weight: 6, arbitrary: replySeedArb }, { weight: 1, arbitrary: errorSeedArb }), { minLength: 1, maxLength: 3 })
        .map((replies): OpenSeed => ({ mode: 'sequence', replies })),
    },
  );
}

export const openSeedArb: fc.Arbitrary<OpenSeed> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ mode: 'passthrough_hp' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      mode: fc.constant('per_open' as const),
      close_after_reply: fc.boolean(),
      flags: fc.subarray<FopenName>(['DIRECT_IO', 'NOFLUSH', 'PARALLEL_DIRECT_WRITES', 'KEEP_CACHE'], { maxLength: 2 }),
    }),
  },
  { weight: 3, arbitrary: replySeedArb },
  { weight: 1, arbitrary: errorSeedArb },
  // the n-th open of the file gets the n-th reply: cached and passthrough opens of one inode
  { weight: 3, arbitrary: sequenceArb() },
);

const fileSeedArb: fc.Arbitrary<FileSeed> = fc.record({
  backing: fc.nat({ max: 6 }),
  open: fc.option(openSeedArb, { freq: 2 }),
});

const serverSeedArb: fc.Arbitrary<ServerSeed> = fc.record({
  cap: likely(0.92),
  v15: rarely(0.08),
  passthrough: likely(0.92),
  initExt: likely(0.96),
  writeback: rarely(0.1),
  dioMmap: rarely(0.35),
  depth: weighted([6, 1], [4, 2], [1, 0], [1, 3]),
  initFails: rarely(0.03),
  open: openSeedArb,
  files: fc.tuple(fileSeedArb, fileSeedArb),
  flushEnosys: rarely(0.1),
  getxattrEnodata: rarely(0.3),
  syncOk: likely(0.5),
  setattrErr: rarely(0.05),
  statfsErr: rarely(0.05),
  valid: weighted([8, 86_400], [2, 1], [1, 0]),
  atomicOTrunc: rarely(0.3),
  posixLocks: rarely(0.4),
  flockLocks: rarely(0.4),
  locks: weighted<ServerSeed['locks']>([5, 'grant'], [4, 'table'], [1, 'conflict'], [1, 'ENOSYS']),
  negative: rarely(0.3),
});

/** [l_start, l_len] of the random fcntl locks: the whole file, two overlapping ranges, one before l_start */
const LOCK_RANGES: [number, number][] = [
  [0, 0],
  [0, 10],
  [5, 10],
  [20, -10],
  [100, 1],
];
const FLOCK_TYPES = ['sh', 'ex', 'un'] as const;
/** fallocate(2) modes of the random programs: allocate, keep the size, punch a hole, zero a range (not on tmpfs), an unknown bit */
const FALLOC_MODES = [[], ['KEEP_SIZE'], ['KEEP_SIZE', 'PUNCH_HOLE'], ['ZERO_RANGE'], ['NO_HIDE_STALE']] as const;
const SEEK_WHENCE = ['set', 'cur', 'end', 'data', 'hole', 7] as const;
const LOCK_CMDS = ['setlk', 'setlkw', 'getlk'] as const;
const LOCK_TYPES = ['rd', 'wr', 'un'] as const;
/** The files a lock-contention program opens: a plain file, and a FUSE file (locks local or the server's per its INIT) */
const LOCK_PATHS = 3;
const lockPaths = (fuse: string[]) => ['/lower/a', `/${fuse[0]}/f`, '/lower/b'];

/** a fd (or mapping) argument: the k-th one this process saved, now and then a bad one */
const BAD_REF = 7;
const fdRef = fc.oneof({ weight: 12, arbitrary: fc.nat({ max: 3 }) }, { weight: 1, arbitrary: fc.constant(BAD_REF) });
const openOpArb = fc.record({
  k: fc.constant('open' as const),
  path: fc.nat({ max: 11 }),
  rw: fc.boolean(),
  // mostly what rw says; now and then O_WRONLY or O_PATH, and flags (shrinking to none)
  mode: weighted<number | undefined>([10, undefined], [1, 2], [1, 3]),
  flags: fc.oneof({ weight: 8, arbitrary: fc.constant<OpenFlag[]>([]) }, { weight: 2, arbitrary: fc.subarray<OpenFlag>(['O_APPEND', 'O_DIRECT', 'O_NOATIME', 'O_TRUNC'], { minLength: 1, maxLength: 2 }) }),
});
const userOpArb: fc.Arbitrary<OpSeed> = fc.oneof(
  { weight: 20, arbitrary: openOpArb },
  { weight: 10, arbitrary: fc.record({ k: fc.constant('read' as const), fd: fdRef, off: fc.constantFrom(0, 3), splice: likely(0.25), pos: rarely(0.2) }) },
  { weight: 8, arbitrary: fc.record({ k: fc.constant('write' as const), fd: fdRef, data: fc.nat({ max: 1 }), splice: likely(0.25), pos: rarely(0.2) }) },
  { weight: 8, arbitrary: fc.record({ k: fc.constant('mmap' as const), fd: fdRef, shared: likely(0.8), write: rarely(0.4) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('mread' as const), vma: fdRef, off: fc.constantFrom(0, 2, 4096) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('mwrite' as const), vma: fdRef, data: fc.nat({ max: 1 }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('ftruncate' as const), fd: fdRef, size: fc.constantFrom(0, 3, 40) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('fsync' as const), fd: fdRef, datasync: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('fallocate' as const), fd: fdRef, mode: fc.nat({ max: FALLOC_MODES.length - 1 }), off: fc.constantFrom(0, 2, 4096) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('lseek' as const), fd: fdRef, whence: fc.nat({ max: 5 }), off: fc.constantFrom(0, 3, -1, 40) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('copy_file_range' as const), fd: fdRef, fd2: fdRef, off: fc.constantFrom(0, 2), pos: rarely(0.3) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('sendfile' as const), fd: fdRef, fd2: fdRef, off: fc.constantFrom(0, 2), pos: rarely(0.3) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('truncate' as const), path: fc.nat({ max: 9 }), size: fc.constantFrom(0, 5) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('chmod' as const), path: fc.nat({ max: 9 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('fstat' as const), fd: fdRef }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('statfs' as const), path: fc.nat({ max: 9 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('sleep' as const), ms: fc.constantFrom(10, 1500) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('munmap' as const), vma: fdRef }) },
  { weight: 12, arbitrary: fc.record({ k: fc.constant('close' as const), fd: fdRef }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('stat' as const), path: fc.nat({ max: 9 }) }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('drop_inode' as const), path: fc.nat({ max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('abort' as const), fs: fc.nat({ max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('umount' as const), fs: fc.nat({ max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('backing_open' as const), fd: fdRef, flags: fc.constant(0), padding: fc.constant(0) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('flock' as const), fd: fdRef, type: fc.nat({ max: 2 }), nb: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('lock' as const), fd: fdRef, cmd: fc.nat({ max: 2 }), type: fc.nat({ max: 2 }), range: fc.nat({ max: LOCK_RANGES.length - 1 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('create' as const), path: fc.nat({ max: 9 }), excl: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('unlink' as const), path: fc.nat({ max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rename' as const), path: fc.nat({ max: 9 }), to: fc.nat({ max: 9 }), flags: weighted([4, 0], [1, 1], [1, 2]) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('mkdir' as const), path: fc.nat({ max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rmdir' as const), path: fc.nat({ max: 9 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('opendir' as const), path: fc.nat({ max: 9 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('getdents' as const), fd: fdRef }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('drop_caches' as const) }) },
);

const ctlOpArb: fc.Arbitrary<OpSeed> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('open' as const), path: fc.nat({ max: 6 }), rw: rarely(0.2) }) },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant('backing_open' as const),
      fd: fdRef,
      flags: weighted([8, 0], [1, 1], [1, 0x80]),
      padding: weighted([9, 0], [1, 1]),
    }),
  },
  { weight: 4, arbitrary: fc.record({ k: fc.constant('backing_close' as const), id: fc.nat({ max: 6 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('close' as const), fd: fdRef }) },
  { weight: 1, arbitrary: fc.constant({ k: 'pipe' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'socket' as const }) },
  { weight: 1, arbitrary: fc.constant({ k: 'open_dev_fuse' as const }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('clone' as const), dev: fc.nat({ max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('backing_open_dev' as const), dev: fc.nat({ max: 1 }), fd: fdRef }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('capset' as const), cap: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ k: 'close_dev' as const }) },
);

/** Lock contention: the processes open the same few files and lock them, often waiting. */
const lockOpArb: fc.Arbitrary<OpSeed> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant('open' as const), path: fc.nat({ max: LOCK_PATHS - 1 }), rw: likely(0.8) }) },
  { weight: 8, arbitrary: fc.record({ k: fc.constant('lock' as const), fd: fc.nat({ max: 1 }), cmd: fc.nat({ max: 2 }), type: fc.nat({ max: 2 }), range: fc.nat({ max: 4 }) }) },
  { weight: 6, arbitrary: fc.record({ k: fc.constant('flock' as const), fd: fc.nat({ max: 1 }), type: fc.nat({ max: 2 }), nb: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('close' as const), fd: fc.nat({ max: 1 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('read' as const), fd: fc.nat({ max: 1 }), off: fc.constant(0), splice: fc.constant(false) }) },
);
const lockFirstOpArb = fc.record({ k: fc.constant('open' as const), path: fc.nat({ max: LOCK_PATHS - 1 }), rw: likely(0.8) });

const tasksSeedArb: fc.Arbitrary<TasksSeed> = fc.oneof(
  {
    weight: 9,
    arbitrary: fc.record({
      users: fc.array(fc.tuple(fc.option(openOpArb, { freq: 6 }), fc.array(userOpArb, { maxLength: 5 })), { minLength: 1, maxLength: 3 }),
      ctl: fc.option(fc.record({ fs: fc.nat({ max: 1 }), prologue: likely(0.8), ops: fc.array(ctlOpArb, { maxLength: 4 }) }), { freq: 2 }),
      shareProc: rarely(0.2),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      users: fc.array(fc.tuple(fc.option(lockFirstOpArb, { freq: 8 }), fc.array(lockOpArb, { maxLength: 6 })), { minLength: 2, maxLength: 3 }),
      ctl: fc.constant(null),
      shareProc: rarely(0.2),
      locking: fc.constant(true as const),
    }),
  },
);

const topoSeedArb: fc.Arbitrary<TopoSeed> = fc.record({
  readonly: rarely(0.2),
  overlay: rarely(0.4),
  second: weighted<TopoSeed['second']>([5, 'none'], [3, 'stacked'], [2, 'side']),
});

export const programSeedArb: fc.Arbitrary<ProgramSeed> = fc.record({
  topo: topoSeedArb,
  servers: fc.tuple(serverSeedArb, serverSeedArb),
  tasks: tasksSeedArb,
});

/** An interleaving: up to `max` choices among the runnable tasks, one per atomic step. */
export function interleavingArb(max = 220): fc.Arbitrary<number[]> {
  return fc.array(fc.nat({ max: 7 }), { maxLength: max });
}

// --- resolving seeds into a scenario --------------------------------------------------------

const pick = <T>(xs: readonly T[], i: number): T => xs[i % xs.length]!;
/** the k-th saved name as a "$ref", or the bad value when asked for one or when there is none */
const ref = (saved: readonly string[], k: number, bad: number | string): number | string => (k === BAD_REF || saved.length === 0 ? bad : `$${pick(saved, k)}`);

const BAD_FD = 42;
const BAD_VMA = 9;
const CTL_IDS: (number | string)[] = ['$id', 1, 2, 0, -1, 0xffffffff, 3];
const WRITE_DATA = ['xy', 'WRITTEN'];

function openPolicy(s: OpenSeed): Record<string, unknown> {
  return { ...s };
}

/** The filesystems of a topology and what each FUSE server may use as backing paths. */
export function layout(t: TopoSeed) {
  const fuse = ['fuse', ...(t.second === 'none' ? [] : ['top'])];
  // weighted by repetition; a directory (EOPNOTSUPP / EISDIR) and inline data now and then
  const plainBacking = t.overlay
    ? ['/lower/a', '/ovl/a', '/lower/b', '/ovl/b', '/lower/a', '/lower/d', '/lower/n', '/lower/l']
    : ['/lower/a', '/lower/b', '/lower/a', '/lower/b', '/lower/d', '/lower/n', '/lower/l'];
  const candidates: Record<string, (string | null)[]> = {
    fuse: [...plainBacking, null],
    top: t.second === 'stacked' ? ['/fuse/f', '/fuse/g', '/fuse/f', '/lower/a', null] : [...plainBacking, null],
  };
  const userPaths: string[] = [];
  for (let i = 0; i < 3; i++) for (const f of fuse) userPaths.push(`/${f}/f`, `/${f}/g`);
  userPaths.push('/fuse/nx', '/lower/a', t.overlay ? '/ovl/a' : '/lower/d');
  // names the namespace ops make and remove: the FUSE mounts' (and their roots, for opendir)
  const nsPaths: string[] = [];
  for (const f of fuse) nsPaths.push(`/${f}/f`, `/${f}/g`, `/${f}/nx`, `/${f}/d`, `/${f}`);
  return { fuse, candidates, userPaths, nsPaths };
}

function resolveServer(s: ServerSeed, backing: (string | null)[]): Record<string, unknown> {
  const flags = [
    ...(s.initExt ? ['INIT_EXT'] : []),
    ...(s.passthrough ? ['PASSTHROUGH'] : []),
    ...(s.writeback ? ['WRITEBACK_CACHE'] : []),
    ...(s.dioMmap ? ['DIRECT_IO_ALLOW_MMAP'] : []),
    ...(s.posixLocks ? ['POSIX_LOCKS'] : []),
    ...(s.flockLocks ? ['FLOCK_LOCKS'] : []),
  ];
  const files: Record<string, Record<string, unknown>> = {};
  (['f', 'g'] as const).forEach((name, i) => {
    const fs = s.files[i]!;
    const b = pick(backing, fs.backing);
    const spec: Record<string, unknown> = b ? { backing: b } : { data: `inline ${name}` };
    if (fs.open) spec['open'] = openPolicy(fs.open);
    files[name] = spec;
  });
  if (s.atomicOTrunc) flags.push('ATOMIC_O_TRUNC');
  const init: Record<string, unknown> = { flags, max_stack_depth: s.depth };
  if (s.initFails) init['errno'] = 'EIO';
  return {
    ...(s.cap ? {} : { cap_sys_admin: false }),
    ...(s.v15 ? { uapi: 'v15' } : {}),
    init,
    files,
    open: openPolicy(s.open),
    ...(s.flushEnosys ? { flush: 'ENOSYS' } : {}),
    ...(s.getxattrEnodata ? { getxattr: 'ENODATA' } : {}),
    ...(s.syncOk ? { fsync: 'ok', fallocate: 'ok', lseek: 'ok', copy_file_range: 'ok' } : {}),
    ...(s.setattrErr ? { setattr: 'EPERM' } : {}),
    ...(s.statfsErr ? { statfs: 'EIO' } : {}),
    ...(s.valid !== 86_400 ? { entry_valid: s.valid, attr_valid: s.valid } : {}),
    ...(s.locks !== 'grant' ? { locks: s.locks } : {}),
    ...(s.negative ? { lookup_missing: 'negative' } : {}),
  };
}

/** Resolve a program seed into a scenario input (validated by the caller). */
export function resolveProgram(p: ProgramSeed): ScenarioInput {
  const { fuse, candidates, userPaths, nsPaths } = layout(p.topo);
  const filesystems: Record<string, unknown>[] = [{ name: 'lower', type: 'plain', ...(p.topo.readonly ? { readonly: true } : {}), files: LOWER_FILES }];
  if (p.topo.overlay) filesystems.push({ name: 'ovl', type: 'overlay', layers: ['lower'] });
  fuse.forEach((name, i) => filesystems.push({ name, type: 'fuse', server: resolveServer(p.servers[i]!, candidates[name]!) }));

  // which process each task belongs to, and what each process has saved (by name)
  const users = p.tasks.users.slice(0, p.tasks.ctl ? 2 : 3);
  const procOf = (i: number) => (i === 1 && p.tasks.shareProc ? 't0' : `t${i}`);
  const saved: Record<string, { fds: string[]; vmas: string[] }> = {};
  const scope = (proc: string) => (saved[proc] ??= { fds: [], vmas: [] });
  const tasks: Record<string, unknown>[] = [];

  users.forEach(([first, rest], i) => {
    const ops = first ? [first, ...rest] : rest;
    const proc = procOf(i);
    const sc = scope(proc);
    let nfd = 0;
    let nvma = 0;
    const out = ops.map((o): Record<string, unknown> => {
      const fd = (k: number) => ref(sc.fds, k, BAD_FD);
      switch (o.k) {
        case 'open': {
          const save = `t${i}fd${nfd++}`;
          sc.fds.push(save);
          const op: Record<string, unknown> = { op: 'open', path: pick(p.tasks.locking ? lockPaths(fuse) : userPaths, o.path), mode: o.mode !== undefined ? OPEN_MODES[o.mode] : o.rw ? 'rw' : 'r', save };
          if (o.flags?.length) op['flags'] = o.flags;
          return op;
        }
        case 'read':
          // read(2) at f_pos (pos), else pread(2) or splice(2) at an offset
          if (o.pos && !o.splice) return { op: 'read', fd: fd(o.fd), n: 8, pos: true };
          return { op: o.splice ? 'splice_read' : 'read', fd: fd(o.fd), n: 8, offset: o.off };
        case 'write':
          if (o.pos && !o.splice) return { op: 'write', fd: fd(o.fd), data: pick(WRITE_DATA, o.data), pos: true };
          return { op: o.splice ? 'splice_write' : 'write', fd: fd(o.fd), data: pick(WRITE_DATA, o.data) };
        case 'mmap': {
          const save = `t${i}vm${nvma++}`;
          const op = { op: 'mmap', fd: fd(o.fd), shared: o.shared, ...(o.write ? { prot: 'rw' } : {}), save };
          sc.vmas.push(save);
          return op;
        }
        case 'mread':
          return { op: 'mread', vma: ref(sc.vmas, o.vma, BAD_VMA), offset: o.off, n: 4 };
        case 'mwrite':
          return { op: 'mwrite', vma: ref(sc.vmas, o.vma, BAD_VMA), offset: 1, data: pick(WRITE_DATA, o.data) };
        case 'ftruncate':
          return { op: 'ftruncate', fd: fd(o.fd), size: o.size };
        case 'fsync':
          return { op: o.datasync ? 'fdatasync' : 'fsync', fd: fd(o.fd) };
        case 'fallocate':
          return { op: 'fallocate', fd: fd(o.fd), mode: [...pick(FALLOC_MODES, o.mode)], offset: o.off, len: 8 };
        case 'lseek':
          return { op: 'lseek', fd: fd(o.fd), offset: o.off, whence: pick(SEEK_WHENCE, o.whence) };
        case 'copy_file_range':
          return { op: 'copy_file_range', fd_in: fd(o.fd), fd_out: fd(o.fd2), ...(o.pos ? {} : { off_in: o.off, off_out: o.off + 4 }), len: 6 };
        case 'sendfile':
          return { op: 'sendfile', in_fd: fd(o.fd), out_fd: fd(o.fd2), ...(o.pos ? {} : { offset: o.off }), count: 6 };
        case 'truncate':
          return { op: 'truncate', path: pick(userPaths, o.path), size: o.size };
        case 'chmod':
          return { op: 'chmod', path: pick(userPaths, o.path), mode: 0o600 };
        case 'fstat':
          return { op: 'fstat', fd: fd(o.fd) };
        case 'statfs':
          return { op: 'statfs', path: pick(userPaths, o.path) };
        case 'sleep':
          return { op: 'sleep', ms: o.ms };
        case 'munmap':
          return { op: 'munmap', vma: ref(sc.vmas, o.vma, BAD_VMA) };
        case 'close':
          return { op: 'close', fd: fd(o.fd) };
        case 'stat':
          return { op: 'stat', path: pick(userPaths, o.path) };
        case 'drop_inode':
          return { op: 'drop_inode', path: pick(userPaths, o.path) };
        case 'abort':
          return { op: 'abort', fs: pick(fuse, o.fs) };
        case 'backing_open':
          // an unprivileged user without a /dev/fuse fd: must fail
          return { op: 'backing_open', fd: fd(o.fd) };
        case 'backing_close':
          return { op: 'backing_close', id: pick(CTL_IDS, o.id) };
        case 'flock':
          return { op: 'flock', fd: fd(o.fd), type: pick(FLOCK_TYPES, o.type), nb: o.nb };
        case 'lock': {
          const [start, len] = pick(LOCK_RANGES, o.range);
          return { op: 'lock', fd: fd(o.fd), cmd: pick(LOCK_CMDS, o.cmd), type: pick(LOCK_TYPES, o.type), start, len };
        }
        case 'umount':
          return { op: 'umount', fs: pick(fuse, o.fs), lazy: true };
        case 'create': {
          const save = `t${i}fd${nfd++}`;
          sc.fds.push(save);
          return { op: 'open', path: pick(nsPaths, o.path), mode: 'rw', flags: o.excl ? ['O_CREAT', 'O_EXCL'] : ['O_CREAT'], save };
        }
        case 'unlink':
          return { op: 'unlink', path: pick(nsPaths, o.path) };
        case 'rename':
          return { op: 'rename', path: pick(nsPaths, o.path), to: pick(nsPaths, o.to), flags: o.flags === 1 ? ['noreplace'] : o.flags === 2 ? ['exchange'] : [] };
        case 'mkdir':
          return { op: 'mkdir', path: pick(nsPaths, o.path) };
        case 'rmdir':
          return { op: 'rmdir', path: pick(nsPaths, o.path) };
        case 'opendir': {
          const save = `t${i}fd${nfd++}`;
          sc.fds.push(save);
          return { op: 'opendir', path: pick(nsPaths, o.path), save };
        }
        case 'getdents':
          return { op: 'getdents', fd: fd(o.fd) };
        case 'drop_caches':
          return { op: 'drop_caches' };
        default:
          throw new Error(`no user op ${o.k}`);
      }
    });
    const t: Record<string, unknown> = { name: `t${i}`, ops: out };
    if (proc !== `t${i}`) t['proc'] = proc;
    tasks.push(t);
  });

  if (p.tasks.ctl) {
    const fs = pick(fuse, p.tasks.ctl.fs);
    const cands = candidates[fs]!.filter((x): x is string => x !== null);
    const fds: string[] = [];
    const devs: string[] = [];
    let n = 0;
    const seeds: OpSeed[] = p.tasks.ctl.prologue ? [{ k: 'open', path: 0, rw: false }, { k: 'backing_open', fd: 0, flags: 0, padding: 0 }] : [];
    const ops = [...seeds, ...p.tasks.ctl.ops].flatMap((o): Record<string, unknown> | Record<string, unknown>[] => {
      // the k-th fd it opened; or its /dev/fuse fd, or a bad one, when asked for a bad one
      const fd = (k: number) => (k === BAD_REF || fds.length === 0 ? pick<string | number>(['$devfd', BAD_FD], k) : `$${pick(fds, k)}`);
      switch (o.k) {
        case 'open': {
          const save = `cfd${n++}`;
          fds.push(save);
          return { op: 'open', path: pick(cands, o.path), mode: o.rw ? 'rw' : 'r', save };
        }
        case 'backing_open': {
          const op: Record<string, unknown> = { op: 'backing_open', fd: fd(o.fd), save: 'id' };
          if (o.flags) op['flags'] = o.flags;
          if (o.padding) op['padding'] = o.padding;
          return op;
        }
        case 'backing_close':
          return { op: 'backing_close', id: pick(CTL_IDS, o.id) };
        case 'close':
          return { op: 'close', fd: fd(o.fd) };
        case 'pipe': {
          const save = `cfd${n++}`;
          const w = `cfd${n++}`;
          fds.push(save, w);
          return { op: 'pipe', save, save_write: w };
        }
        case 'socket': {
          const save = `cfd${n++}`;
          fds.push(save);
          return { op: 'socket', save };
        }
        case 'open_dev_fuse': {
          const save = `dev${devs.length}`;
          devs.push(save);
          return { op: 'open_dev_fuse', save };
        }
        case 'clone':
          return { op: 'clone', dev: devs.length ? `$${pick(devs, o.dev)}` : '$devfd', from: '$devfd' };
        case 'backing_open_dev':
          return { op: 'backing_open', dev: devs.length ? `$${pick(devs, o.dev)}` : BAD_FD, fd: fd(o.fd), save: 'id' };
        case 'close_dev':
          // the server closes every /dev/fuse fd it holds: its own and the ones it opened (a
          // clone left open would keep the connection up with nobody reading it: a real hang)
          return [{ op: 'close', fd: '$devfd' }, ...devs.map((d) => ({ op: 'close', fd: `$${d}` }))];
        case 'capset':
          return { op: 'capset', cap_sys_admin: o.cap };
        default:
          throw new Error(`no ctl op ${o.k}`);
      }
    });
    tasks.push({ name: 'ctl', proc: `server:${fs}`, ops });
  }
  unsavedRefsToMinusOne(filesystems, tasks);
  return { name: 'random', description: 'a random program (properties/program.ts)', filesystems, tasks } as ScenarioInput;
}

/**
 * A "$name" no op of its process saves (a server's "$id" when no ctl thread registers a
 * backing file) is -1 at run time; the scenario format refuses such a reference, so the
 * program says -1 itself (the same run).
 */
function unsavedRefsToMinusOne(filesystems: Record<string, unknown>[], tasks: Record<string, unknown>[]) {
  const saved = new Map<string, Set<string>>();
  const procOf = (t: Record<string, unknown>) => (t['proc'] as string | undefined) ?? (t['name'] as string);
  for (const f of filesystems) if (f['type'] === 'fuse') saved.set(`server:${f['name'] as string}`, new Set(['devfd']));
  for (const t of tasks) {
    const set = saved.get(procOf(t)) ?? new Set<string>();
    saved.set(procOf(t), set);
    for (const op of t['ops'] as Record<string, unknown>[]) if (typeof op['save'] === 'string') set.add(op['save']);
  }
  const fix = (o: Record<string, unknown>, key: string, proc: string) => {
    const v = o[key];
    if (typeof v === 'string' && v.startsWith('$') && !saved.get(proc)?.has(v.slice(1))) o[key] = -1;
  };
  for (const t of tasks) for (const op of t['ops'] as Record<string, unknown>[]) for (const k of ['fd', 'vma', 'id', 'fd_in', 'fd_out', 'in_fd', 'out_fd']) fix(op, k, procOf(t));
  for (const f of filesystems) {
    if (f['type'] !== 'fuse') continue;
    const proc = `server:${f['name'] as string}`;
    const server = f['server'] as { open?: Record<string, unknown>; files: Record<string, { open?: Record<string, unknown> }> };
    const visit = (p: Record<string, unknown> | undefined) => {
      if (!p) return;
      fix(p, 'backing_id', proc);
      for (const r of (p['replies'] as Record<string, unknown>[] | undefined) ?? []) fix(r, 'backing_id', proc);
    };
    visit(server.open);
    for (const file of Object.values(server.files)) visit(file.open);
  }
}

/** A random scenario, validated (defaults filled in). */
export const scenarioArb: fc.Arbitrary<Scenario> = programSeedArb.map((seed) => ScenarioSchema.parse(resolveProgram(seed)));

/** A random program and a random interleaving. */
export const randomProgramArb: fc.Arbitrary<Program> = fc
  .tuple(scenarioArb, interleavingArb())
  .map(([scenario, sched]) => ({ scenario, sched, origin: 'random' }));
