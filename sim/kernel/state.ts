// The whole model state is plain data (design-notes: "atomic steps must be copyable"):
// no classes, no closures, no Maps, so it can be cloned, hashed and printed.
import type { Violation } from './lib/violation.ts';

/** A kernel pointer: a heap object id. 0 is NULL; negative values are ERR_PTR(-errno). */
export type Ptr = number;
export const NULL: Ptr = 0;

export type Lifetime = 'live' | 'rcu-pending' | 'freed';

interface ObjBase {
  ptr: Ptr;
  life: Lifetime;
}

/** fs/fuse/fuse_i.h: struct fuse_backing */
export interface FuseBackingObj extends ObjBase {
  type: 'fuse_backing';
  file: Ptr;
  cred: Ptr;
  /** refcount_t count */
  count: number;
}

/** include/linux/cred.h: struct cred (only what the model needs) */
export interface CredObj extends ObjBase {
  type: 'cred';
  usage: number;
  uid: number;
  capSysAdmin: boolean;
}

/** the type of an inode (S_IFMT of i_mode) */
export type InodeKind = 'reg' | 'dir' | 'fifo' | 'chr' | 'sock' | 'lnk';

/** include/linux/fs.h: struct file */
export interface FileObj extends ObjBase {
  type: 'file';
  /** f_count (file_ref_t in newer kernels; a plain count here) */
  count: number;
  /** file->f_op: the name of a registered table of file operations (sim/kernel/vfs/fs.ts) */
  f_op: string;
  /** file_inode(file)->i_sb */
  sb: number;
  /** name of the inode within its sb ("" for the /dev/fuse device) */
  name: string;
  /** the inode's type (file_inode(file)->i_mode) */
  mode: InodeKind;
  /** f_flags: the open(2) flags the file keeps (O_ACCMODE, O_APPEND, O_DIRECT, ...; sim/kernel/vfs/fcntl.ts) */
  flags: number;
  /** FMODE_READ */
  read: boolean;
  /** FMODE_WRITE */
  write: boolean;
  /** O_PATH: a location only; fget() does not return it, fget_raw() does */
  opath: boolean;
  /**
   * the inode an O_PATH file holds (do_dentry_open's path_get: the file keeps its dentry and
   * so its inode until __fput's path_put); other files hold theirs through their ->open
   */
  pathInode?: Ptr;
  /**
   * file->private_data, the filesystem's own (NULL until its ->open sets it): a FUSE file's
   * fuse_file; /dev/fuse's connection (the kernel's fuse_dev, which points to it)
   */
  private_data: Ptr;
  /** FMODE_BACKING: a per-open backing file made by backing_file_open() */
  backing: boolean;
  /** f_cred */
  cred: Ptr;
  /** the sb of the real inode behind the file (an overlay file's lower layer; else sb) */
  realSb: number;
  /**
   * /dev/fuse only: FUSE_DEV_SYNC_INIT, the mark FUSE_DEV_IOC_SYNC_INIT leaves in private_data
   * (its low bit) on a device no mount has attached yet (6.18)
   */
  devSyncInit?: boolean;
  /**
   * f_pos: where read/write without an offset, lseek(2) and sendfile(2) without one work; of a
   * directory, the cookie getdents(2) goes on from (ctx->pos) (absent: 0)
   */
  pos?: number;
}

export type IoMode = 'IOM_NONE' | 'IOM_CACHED' | 'IOM_UNCACHED';

/** an inode's page cache (i_mapping): page index -> the page's bytes, uptodate pages only (sim/kernel/mm/filemap.ts) */
export type Pages = Record<number, string>;

/** fs/fuse/fuse_i.h: struct fuse_file */
export interface FuseFileObj extends ObjBase {
  type: 'fuse_file';
  fh: number;
  nodeid: number;
  inode: Ptr;
  openFlags: number;
  iomode: IoMode;
  /** ff->passthrough: the per-open backing file */
  passthrough: Ptr;
  /** ff->cred: the backing's creds, used for passthrough io */
  cred: Ptr;
  /** ff->args != NULL: the server implements OPEN */
  hasArgs: boolean;
  /** ff->count */
  count: number;
  /** ff->flock: flock(2) was called on this open with FUSE_FLOCK_LOCKS (RELEASE then carries FLOCK_UNLOCK) */
  flock?: boolean;
  /** a directory's open (OPENDIR): released with RELEASEDIR */
  isdir?: boolean;
  /** ff->readdir: where this open's stream is in the directory's readdir cache */
  readdir?: { pos: number; idx: number; version: number };
}

/** fs/fuse/fuse_i.h: struct fuse_inode (with the bits of struct inode the model needs) */
export interface FuseInodeObj extends ObjBase {
  type: 'fuse_inode';
  sb: number;
  name: string;
  nodeid: number;
  /** fi->fb: the inode's single backing reference */
  fb: Ptr;
  /** fi->iocachectr: >0 cached opens, <0 uncached (passthrough / parallel dio) users */
  iocachectr: number;
  /** fi->lock */
  lock: SpinLock;
  /** FUSE_I_CACHE_IO_MODE in fi->state */
  cacheIoMode: boolean;
  /** i_count: open files and the dcache */
  icount: number;
  /** S_IFMT of i_mode */
  mode: InodeKind;
  /** fi->nlookup: entry replies naming this inode since the server last heard a FORGET for it */
  nlookup: number;
  size: number;
  mtime: number;
  /** attributes valid: no bit of fi->inval_mask but STATX_ATIME set (fuse_invalidate_attr clears it) */
  attrValid: boolean;
  /** STATX_ATIME not in fi->inval_mask (fuse_invalidate_atime after any read clears it) */
  atimeValid: boolean;
  /** fi->i_time: jiffies until which the attributes may be used without asking (attr_valid) */
  attrExpires: number;
  /** the dentry's time: jiffies until which the name needs no revalidation (entry_valid) */
  entryExpires: number;
  /**
   * the page cache (inode->i_mapping): page index -> the page's bytes, for the uptodate pages
   * only; bytes past what the server returned read as NULs
   */
  pages: Pages;
  /** the pages of the page cache written through a shared mapping and not yet written back */
  dirty: number[];
  /**
   * the pages whose folio is locked while ->read_folio fills it (a READ in flight): another
   * task that needs the page waits for the lock (folio_lock) and then finds it uptodate
   */
  locked?: number[];
  /** fi->write_files: the open files (fuse_file) writeback may use, most recent first */
  writeFiles: Ptr[];
  /** writeback cache: mtime/ctime changed locally and not yet told (I_DIRTY_SYNC; fuse_flush_times) */
  timesDirty: boolean;
  /** inode->i_flctx: its file locks (fs/locks.c), made at the first lock */
  flctx?: FileLockContext;
  /** FUSE_I_ADVISE_RDPLUS in fi->state (a directory): a lookup in it asks for READDIRPLUS */
  adviseRdplus?: boolean;
  /** FUSE_I_INIT_RDPLUS in fi->state: new, not yet looked up through the dcache (readdirplus_auto) */
  initRdplus?: boolean;
  /**
   * the dentry's place on the superblock's dentry LRU (d_lru_add at the dput that left it
   * unused: a larger number is nearer the tail), undefined while it is on none
   */
  lru?: number;
  /** DCACHE_REFERENCED: unused again since it went on the LRU (the shrinker gives it a second pass) */
  referenced?: boolean;
  /** inode->i_version of a directory: fuse_dir_changed moves it (inode_maybe_inc_iversion) */
  iversion?: number;
  /**
   * fi->rdc, a directory's readdir cache (FOPEN_CACHE_DIR): the dirents read so far in stream
   * order, complete or not, its version, the next offset it expects, and the directory's
   * i_version and mtime when it was started
   */
  rdc?: { cached: boolean; entries: { name: string; off: number }[]; pos: number; version: number; iversion: number; mtime: number };
}

/** fs/fuse/fuse_i.h: struct fuse_conn */
export interface FuseConnObj extends ObjBase {
  type: 'fuse_conn';
  name: string;
  sb: number;
  /** fc->count: the superblock and each fuse_dev hold one */
  count: number;
  connected: boolean;
  initialized: boolean;
  /** fc->conn_error: INIT failed */
  connError: boolean;
  passthrough: boolean;
  maxStackDepth: number;
  writebackCache: boolean;
  directIoAllowMmap: boolean;
  /** fc->atomic_o_trunc: FUSE_ATOMIC_O_TRUNC agreed at INIT (O_TRUNC rides in OPEN) */
  atomicOTrunc: boolean;
  noOpen: boolean;
  /** fc->no_flush: the server answered FLUSH with ENOSYS once; no FLUSH is sent again */
  noFlush: boolean;
  /** fc->no_getxattr: the server answered GETXATTR with ENOSYS once; never asked again */
  noGetxattr: boolean;
  /** fc->no_lock: INIT did not agree FUSE_POSIX_LOCKS; fcntl locks stay in the kernel */
  noLock?: boolean;
  /** fc->no_flock: INIT did not agree FUSE_FLOCK_LOCKS (before 7.17: POSIX_LOCKS); flock(2) stays in the kernel */
  noFlock?: boolean;
  /** fc->no_fsync / no_fsyncdir: FSYNC (FSYNCDIR) answered ENOSYS once; fsync(2) then succeeds without asking */
  noFsync?: boolean;
  noFsyncdir?: boolean;
  /** fc->no_fallocate: FALLOCATE answered ENOSYS once; fallocate(2) is EOPNOTSUPP from then on */
  noFallocate?: boolean;
  /** fc->no_lseek: LSEEK answered ENOSYS once; SEEK_DATA/SEEK_HOLE are answered from i_size */
  noLseek?: boolean;
  /** fc->no_copy_file_range_64 (6.18): COPY_FILE_RANGE_64 answered ENOSYS once; COPY_FILE_RANGE is sent instead */
  noCopyFileRange64?: boolean;
  /** fc->no_copy_file_range: COPY_FILE_RANGE answered ENOSYS once; the VFS copies by splice */
  noCopyFileRange?: boolean;
  minor: number;
  /** fc->backing_files_map: an IDR guarded by fc->lock */
  idr: Idr;
  lock: SpinLock;
  /** pending requests not yet read by the server (fiq->pending) */
  pending: Request[];
  /** requests read by the server, awaiting a reply (fpq->processing) */
  processing: Request[];
  /** replies to waiting tasks, by unique */
  answered: Answer[];
  nextUnique: number;
  /** the server's /dev/fuse struct file (the one the mount attached) */
  devFile: Ptr;
  /** fc->dev_count: the /dev/fuse files attached to the connection (the mount's and its clones) */
  devCount: number;
  /** ghost state (not in the kernel): the highest backing id ever handed out, for the reuse check */
  idHighWater: number;
  /** fc->no_create: CREATE was answered ENOSYS once; O_CREAT falls back to MKNOD + OPEN */
  noCreate?: boolean;
  /** fc->no_rename2: RENAME2 was answered ENOSYS once; renameat2 with flags is EINVAL */
  noRename2?: boolean;
  /** fc->do_readdirplus / fc->readdirplus_auto: FUSE_DO_READDIRPLUS (and _AUTO) agreed at INIT */
  doReaddirplus?: boolean;
  readdirplusAuto?: boolean;
  /** fc->max_pages (FUSE_DEFAULT_MAX_PAGES_PER_REQ, 32, unless INIT agreed FUSE_MAX_PAGES) */
  maxPages?: number;
  /** fc->cache_symlinks: FUSE_CACHE_SYMLINKS agreed at INIT (a link's target is kept in its page cache) */
  cacheSymlinks?: boolean;
  /** fiq->forget_batch: how many forgets may still jump ahead of pending requests */
  forgetBatch?: number;
  /** fc->no_opendir: OPENDIR was answered ENOSYS once; directories open without asking */
  noOpendir?: boolean;
}

/**
 * include/linux/filelock.h: struct file_lock (its file_lock_core): a lock an inode holds, or a
 * request a syscall makes (fs/locks.c), which may wait behind a lock or another request.
 */
export interface FileLockObj extends ObjBase {
  type: 'file_lock';
  /** flc_flags: FL_POSIX or FL_FLOCK, with FL_SLEEP (may wait) and FL_CLOSE (close's unlock) */
  flags: number;
  /** flc_type: F_RDLCK, F_WRLCK or F_UNLCK (sim/wire/uapi.ts) */
  ltype: number;
  /**
   * flc_owner: a POSIX lock's is the process's files_struct ("files:<process>"), a flock
   * lock's the open file ("file#<ptr>")
   */
  owner: string;
  /** flc_pid: the locker's tgid */
  pid: number;
  /** flc_file: the file it was taken through (no reference held) */
  file: Ptr;
  /** fl_start, fl_end: inclusive bytes; a lock to the end of the file ends at LOCK_OFFSET_MAX */
  start: number;
  end: number;
  /** flc_blocker: the lock or request this request waits behind (NULL: not waiting) */
  blocker: Ptr;
  /** flc_blocked_requests: the requests waiting behind this one, in the order they came */
  blocked: Ptr[];
  /** on one of its inode's lists (flc_list), i.e. a lock held */
  listed: boolean;
}

/** include/linux/filelock.h: struct file_lock_context (inode->i_flctx): an inode's locks, in list order */
export interface FileLockContext {
  flc_flock: Ptr[];
  flc_posix: Ptr[];
}

export type HeapObj = FuseBackingObj | CredObj | FileObj | FuseFileObj | FuseInodeObj | FuseConnObj | FileLockObj;
export type HeapType = HeapObj['type'];

/** lib/idr.c: an IDR; entries is id -> pointer, next is the cyclic cursor */
export interface Idr {
  entries: Record<number, Ptr>;
  next: number;
}

/** include/linux/spinlock.h: a lock with its owner task, for misuse checks */
export interface SpinLock {
  owner: string | null;
}

export interface Request {
  unique: number;
  opcode: number;
  /** the encoded request, as hex (the wire is the contract) */
  bytes: string;
  /** the task waiting for the answer, or null for requests nobody waits on (RELEASE, FORGET) */
  waiter: string | null;
  /** the /dev/fuse file the server read it through (its fuse_dev's fpq->processing), once read */
  dev?: Ptr;
}

export interface Answer {
  unique: number;
  /** 0 or -errno */
  error: number;
  /** the encoded reply body, as hex */
  body: string;
}

export interface PlainInode {
  kind: InodeKind;
  /** a symbolic link's target: a path of the model ("/<fs>/<name>") */
  target?: string;
  data: string;
  mtime: number;
  atime: number;
  /** inode->i_flctx: its file locks (fs/locks.c), made at the first lock */
  flctx?: FileLockContext;
}

export type SuperBlock =
  | PlainSb
  | OverlaySb
  | FuseSb;

interface SbBase {
  id: number;
  /** mount point name: paths are "/<name>/<file>" */
  name: string;
  s_stack_depth: number;
  /** attached at its mount point: paths through "/<name>" reach it */
  mounted: boolean;
  /**
   * umount2(MNT_DETACH) took it out of the namespace while files were still open on it: it
   * lives on until the last of them goes, then cleanup_mnt kills it (the mount's last mntput)
   */
  detached?: boolean;
  /** path walks in progress that hold this mount (the struct path a path-based syscall resolved) */
  walkers?: number;
  /**
   * fs/dcache.c's in-lookup hash (d_alloc_parallel): the names a ->lookup is asking for right
   * now, each with the task asking. Another lookup of the name waits for it (d_wait_lookup)
   * instead of asking again; d_lookup_done ends it.
   */
  inLookup?: Record<string, string>;
  /**
   * the root directory's i_rwsem held for writing (inode_lock(dir): a namespace change, or an
   * open with O_CREAT, from before its lookup until the change is done): the task. Held for
   * reading by every lookup_slow in progress, which the model knows from inLookup and the
   * tasks waiting in d_wait_lookup (sim/kernel/lib/in_lookup.ts)
   */
  dirLock?: string;
}

export interface PlainSb extends SbBase {
  kind: 'plain';
  readonly: boolean;
  files: Record<string, PlainInode>;
}

export interface OverlaySb extends SbBase {
  kind: 'overlay';
  /** lower layers' sb ids, topmost first (read-only overlay: lowerdir only) */
  layers: number[];
  /**
   * the dcache: names ovl_lookup has found (it walked the layers, asking each FUSE layer above
   * the one that has the name with a LOOKUP); a cached name is not looked up again
   */
  dentries: Record<string, true>;
  /** the overlay inodes' i_flctx, by name: a lock taken through the overlay is the overlay inode's */
  flctx?: Record<string, FileLockContext>;
}

export interface FuseSb extends SbBase {
  kind: 'fuse';
  conn: Ptr;
  /** the dcache/icache: name -> fuse_inode */
  inodes: Record<string, Ptr>;
  /**
   * inodes whose dentry went (d_invalidate) while something still held them (an open file, a
   * path walk): still the superblock's, evicted when the last holder goes (fuse_iput) or at
   * umount, and counted as busy by umount until then
   */
  orphans?: Ptr[];
  /** the last place handed out on the dentry LRU */
  lruClock?: number;
  /**
   * negative dentries that are valid for a while: name -> the jiffies until which the name is
   * known not to exist (a LOOKUP answered with nodeid 0 and its entry_valid: fuse_lookup_name's
   * "zero nodeid is same as -ENOENT, but with valid timeout"). An ENOENT answer leaves a
   * negative dentry too, but with its entry time invalidated: the next walk asks again, so the
   * model keeps none for it.
   */
  negative?: Record<string, number>;
}

/** The RCU state: readers, the grace period in progress and the callbacks waiting for one. */
export interface RcuState {
  /** last completed grace period */
  completed: number;
  /** the grace period in progress: its number and the readers it still waits for */
  current: { gp: number; waitingFor: string[] } | null;
  /** task -> read-side nesting depth */
  readers: Record<string, number>;
  /** kfree_rcu / call_rcu callbacks, each waiting for grace period `gp` */
  callbacks: { ptr: Ptr; gp: number; what: 'kfree' | 'free_inode' }[];
}

export interface Frame {
  /** the function's registry name, e.g. "fuse_backing_close" */
  fn: string;
  /** where in the function: the label of the next atomic step */
  pc: string;
  /** the function's locals (plain data) */
  l: Record<string, unknown>;
  /** the caller's local that receives the return value */
  into: string | null;
  /** the caller's label to continue at */
  ret: string | null;
}

export type WaitCond =
  | { on: 'answer'; conn: Ptr; unique: number }
  | { on: 'request'; conn: Ptr }
  | { on: 'initialized'; conn: Ptr }
  | { on: 'iocache'; inode: Ptr }
  /** folio_lock: until page `index` of the FUSE inode is no longer locked by a read in flight */
  | { on: 'folio'; inode: Ptr; index: number }
  | { on: 'rcu' }
  /**
   * fs/locks.c: wait_event_interruptible(fl->c.flc_wait, list_empty(&fl->c.flc_blocked_member)):
   * until request fl waits behind nothing (a release woke it), or the task is killed
   */
  | { on: 'file_lock'; fl: Ptr; task: string }
  /**
   * fuse_get_dev's wait_event_interruptible(fuse_dev_waitq): until the /dev/fuse file is no
   * longer marked FUSE_DEV_SYNC_INIT (a mount installed its fuse_dev) or a signal is pending
   */
  | { on: 'fud'; file: Ptr }
  /** a scenario's "wait" op: until task has finished `ops` ops */
  | { on: 'task'; task: string; ops: number }
  /** d_wait_lookup: until the lookup in progress of `name` in superblock `sb` is done (d_lookup_done) */
  | { on: 'in_lookup'; sb: number; name: string }
  /** down_read / down_write of the root directory's i_rwsem (inode_lock_shared / inode_lock) */
  | { on: 'i_rwsem'; sb: number; write: boolean; task: string };

export interface Vma {
  id: number;
  /** the file the vma maps (its own, or the one its ->mmap chose: a passthrough file's backing file) */
  file: Ptr;
  /** MAP_SHARED (else MAP_PRIVATE) */
  shared: boolean;
  /** PROT_WRITE (PROT_READ always) */
  write: boolean;
  /** bytes mapped, from file offset 0 */
  len: number;
  /** a private mapping's copied-on-write pages */
  cow: Pages;
}

/**
 * What a task is to the harness: the program of a user process or of a server thread (each
 * must finish), a daemon (an endless service loop: the FUSE session loop, rcu_gp; idle, not
 * stuck, when it waits), or the harness's own kernel-side programs that mount (setup) and
 * take everything down (teardown). sim/check/deadlock.ts holds the one rule built on it.
 */
export type TaskRole = 'user' | 'server' | 'daemon' | 'setup' | 'teardown';

export interface Task {
  name: string;
  role: TaskRole;
  /** the ops of this task's program and the index of the next one */
  ops: unknown[];
  next: number;
  /** the call stack of the op in progress (empty between ops) */
  frames: Frame[];
  blocked: WaitCond | null;
  done: boolean;
  /** the process this task is a thread of */
  proc: string;
  /** results of finished ops, in order */
  results: OpResult[];
  /** references this task holds in flight (for the refcount-owner invariant) */
  refs: Ptr[];
  /**
   * SIGKILL is pending (the harness kills what waits in a lock wait forever at teardown): an
   * interruptible wait ends, the syscall unwinds and returns nothing, and the task runs no
   * more ops
   */
  killed?: boolean;
  /**
   * task->cred once this task changed its own (commit_creds, e.g. capset(2)); absent, the
   * task uses its process's (threads start sharing one cred object: copy_creds, CLONE_THREAD)
   */
  cred?: Ptr;
  /** a signal is pending (signal_pending): interruptible waits end with -EINTR */
  sigpending?: boolean;
  /**
   * task_work queued for the way back to userspace (task_work_add): the kfunc to run and its
   * arguments (cleanup_mnt of a lazily unmounted mount whose last file went)
   */
  taskWork?: { fn: string; args: Record<string, unknown> }[];
}

/** A process: what its threads share (files_struct, mm, creds, and the program's variables). */
export interface Proc {
  name: string;
  cred: Ptr;
  /** the fd table: fd -> struct file */
  fds: Record<number, Ptr>;
  nextFd: number;
  vmas: Vma[];
  nextVma: number;
  /** named values the program saved (an fd, a backing id, a mapping) */
  vars: Record<string, number>;
}

export interface OpResult {
  op: number;
  name: string;
  /** >= 0 success value, or the errno name */
  ret: number | string;
  data?: string;
}

export interface World {
  profile: string;
  mutants: string[];
  step: number;
  /** a counter for atime/mtime stamps (orders events; not part of a state's identity) */
  clock: number;
  /** the model's time, in jiffies (HZ = 1000: milliseconds); moves only when a task sleeps */
  jiffies: number;
  heap: Record<number, HeapObj>;
  nextPtr: number;
  rcu: RcuState;
  sbs: SuperBlock[];
  procs: Record<string, Proc>;
  tasks: Task[];
  /**
   * userspace state of the FUSE servers (their memory), by the mount they serve: plain data
   * the floors above the kernel keep in the world so that it is cloned, hashed and traced with
   * it (sim/server/state.ts); the kernel never reads it
   */
  servers: Record<string, unknown>;
  violations: Violation[];
}
