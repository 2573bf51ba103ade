// Numbers from the FUSE userspace ABI header (include/uapi/linux/fuse.h) as it
// stands in Linux 6.18, i.e. protocol 7.45, with 6.9's 7.40 (the release that
// merged passthrough) kept alongside: every 7.41..7.45 addition is marked with
// its minor. Only numbers live here: which kernel/patch version uses which value
// is the job of the project's profile table, so the one patch-series difference
// we care about is exported as plain data in V15_UAPI instead of a version switch.
// The open(2), lock, seek, fallocate and rename numbers the kernel copies into
// FUSE requests come from other headers (asm-generic/fcntl.h, linux/falloc.h,
// linux/fs.h); they are x86_64's values.

/** Major protocol version; a mismatch makes the kernel re-send INIT or fail. */
export const FUSE_KERNEL_VERSION = 7;
/** Minor protocol version spoken by 6.9 (passthrough arrived in 7.40). */
export const FUSE_KERNEL_MINOR_VERSION = 40;
/** The same, named for the kernel that speaks it. */
export const FUSE_KERNEL_MINOR_VERSION_6_9 = 40;
/** Minor protocol version spoken by 6.18 (7.45: COPY_FILE_RANGE_64). The profile picks one. */
export const FUSE_KERNEL_MINOR_VERSION_6_18 = 45;

/**
 * Minor versions at which fields/flags we model first appeared. Both sides
 * use min(kernel minor, server minor), so a decoder must know e.g. that a
 * 7.35 server cannot send flags2.
 */
export const FUSE_MINOR = {
  /** fuse_getattr_in exists; fuse_attr gains blksize; read/write_in grow to 40 bytes. */
  GETATTR_IN: 9,
  /** time_gran + reserved space in fuse_init_out. */
  INIT_OUT_TIME_GRAN: 23,
  /** max_pages in fuse_init_out. */
  MAX_PAGES: 28,
  /** map_alignment in fuse_init_out. */
  MAP_ALIGNMENT: 31,
  /** FUSE_INIT_EXT: flags2 carries init bits 32..63. */
  INIT_EXT: 36,
  /** total_extlen in fuse_in_header (request extensions). */
  REQUEST_EXT: 38,
  /** FATTR_KILL_SUIDGID, FUSE_OPEN_KILL_SUIDGID, FUSE_SETXATTR_EXT (fuse_setxattr_in grows to 16 bytes). */
  KILL_SUIDGID: 33,
  /** max_stack_depth, FUSE_PASSTHROUGH, backing_id, FOPEN_PASSTHROUGH. */
  PASSTHROUGH: 40,
  /** FUSE_ALLOW_IDMAP (idmapped mounts; uid/gid may be FUSE_INVALID_UIDGID). */
  ALLOW_IDMAP: 41,
  /** FUSE_OVER_IO_URING and the io-uring structs (not modelled). */
  OVER_IO_URING: 42,
  /** FUSE_REQUEST_TIMEOUT; request_timeout (u16) in fuse_init_out at offset 40. */
  REQUEST_TIMEOUT: 43,
  /** FUSE_NOTIFY_INC_EPOCH. */
  NOTIFY_INC_EPOCH: 44,
  /** FUSE_COPY_FILE_RANGE_64, fuse_copy_file_range_out, FUSE_NOTIFY_PRUNE. */
  COPY_FILE_RANGE_64: 45,
} as const;

/** nodeid of the mount root; the kernel never sends FORGET for it. */
export const FUSE_ROOT_ID = 1;

/** /dev/fuse read buffers must be at least this large. */
export const FUSE_MIN_READ_BUFFER = 8192;

/** Longest name in a dirent the kernel accepts (fs/fuse/fuse_i.h); longer is EIO for getdents. */
export const FUSE_NAME_MAX = 1024;
/** The kernel caps a size-0 GETXATTR answer (fuse_getxattr_out.size) at this (linux/limits.h). */
export const XATTR_SIZE_MAX = 65536;
/** ... and a size-0 LISTXATTR answer at this. */
export const XATTR_LIST_MAX = 65536;
/** A READLINK reply may carry at most PAGE_SIZE - 1 bytes (x86_64: 4095). */
export const FUSE_READLINK_MAX = 4095;
/** 7.41: uid/gid in fuse_in_header when an idmapped mount cannot map the caller. */
export const FUSE_INVALID_UIDGID = 0xffff_ffff;

/** Old servers may send shorter INIT replies; the kernel accepts these sizes. */
export const FUSE_COMPAT_INIT_OUT_SIZE = 8;
export const FUSE_COMPAT_22_INIT_OUT_SIZE = 24;

// ---------------------------------------------------------------------------
// Opcodes (enum fuse_opcode). 7 and 19 were never assigned.

export const FUSE_OPCODE = {
  LOOKUP: 1,
  FORGET: 2, // the kernel expects no reply
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  /** 7.45 (6.18): like COPY_FILE_RANGE but answered with a 64-bit fuse_copy_file_range_out. */
  COPY_FILE_RANGE_64: 53,
  CUSE_INIT: 4096,
  // Byte-swapped INIT/CUSE_INIT opcodes, reserved so an endianness mix-up is detectable.
  CUSE_INIT_BSWAP_RESERVED: 1048576,
  FUSE_INIT_BSWAP_RESERVED: 436207616,
} as const;

export type FuseOpcodeName = keyof typeof FUSE_OPCODE;

const OPCODE_NAMES: ReadonlyMap<number, FuseOpcodeName> = new Map(
  (Object.entries(FUSE_OPCODE) as [FuseOpcodeName, number][]).map(([k, v]) => [v, k]),
);

/** "INIT" for 26; "OPCODE_7" for numbers with no assigned name (trace output never throws). */
export function opcodeName(n: number): string {
  return OPCODE_NAMES.get(n) ?? `OPCODE_${n}`;
}

/** Codes carried in out_header.error when unique == 0 (server-initiated notifications). */
export const FUSE_NOTIFY = {
  POLL: 1,
  INVAL_INODE: 2,
  INVAL_ENTRY: 3,
  STORE: 4,
  RETRIEVE: 5,
  DELETE: 6,
  RESEND: 7,
  INC_EPOCH: 8, // 7.44
  PRUNE: 9, // 7.45
} as const;

/** Bit 63 of in_header.unique marks a request the kernel re-sent (FUSE_HAS_RESEND). */
export const FUSE_UNIQUE_RESEND = 1n << 63n;

// ---------------------------------------------------------------------------
// INIT flags. The protocol treats them as one 64-bit set; on the wire bits
// 0..31 sit in `flags` and bits 32..63 in `flags2` (the latter only honoured
// when FUSE_INIT_EXT is set). bigint avoids JS's 32-bit signed bit operators.

export const FUSE_INIT_FLAG = {
  ASYNC_READ: 1n << 0n,
  POSIX_LOCKS: 1n << 1n,
  FILE_OPS: 1n << 2n,
  ATOMIC_O_TRUNC: 1n << 3n,
  EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n,
  DONT_MASK: 1n << 6n,
  SPLICE_WRITE: 1n << 7n,
  SPLICE_MOVE: 1n << 8n,
  SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n,
  HAS_IOCTL_DIR: 1n << 11n,
  AUTO_INVAL_DATA: 1n << 12n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  ASYNC_DIO: 1n << 15n,
  WRITEBACK_CACHE: 1n << 16n,
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  HANDLE_KILLPRIV: 1n << 19n,
  POSIX_ACL: 1n << 20n,
  ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  MAP_ALIGNMENT: 1n << 26n,
  SUBMOUNTS: 1n << 27n,
  HANDLE_KILLPRIV_V2: 1n << 28n,
  SETXATTR_EXT: 1n << 29n,
  INIT_EXT: 1n << 30n,
  INIT_RESERVED: 1n << 31n,
  // --- bits 32.. travel in flags2 ---
  SECURITY_CTX: 1n << 32n,
  HAS_INODE_DAX: 1n << 33n,
  CREATE_SUPP_GROUP: 1n << 34n,
  HAS_EXPIRE_ONLY: 1n << 35n,
  DIRECT_IO_ALLOW_MMAP: 1n << 36n, // FUSE_DIRECT_IO_RELAX is an obsolete alias
  PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n, // also 7.40 / 6.9
  HAS_RESEND: 1n << 39n, // also 7.40 / 6.9
  // --- 7.41..7.45 (6.18). 6.18 offers ALLOW_IDMAP and REQUEST_TIMEOUT in every INIT;
  // OVER_IO_URING only with the fuse module's enable_uring parameter. No INIT bit was
  // added in 7.44 or 7.45.
  ALLOW_IDMAP: 1n << 40n, // 7.41: the server allows idmapped mounts
  OVER_IO_URING: 1n << 41n, // 7.42: requests over io-uring (not modelled)
  REQUEST_TIMEOUT: 1n << 42n, // 7.43: fuse_init_out.request_timeout (seconds) is valid
} as const;

export type FuseInitFlagName = keyof typeof FUSE_INIT_FLAG;

// Flat aliases with the header's spelling, for code that reads like C.
export const FUSE_ASYNC_READ = FUSE_INIT_FLAG.ASYNC_READ;
export const FUSE_WRITEBACK_CACHE = FUSE_INIT_FLAG.WRITEBACK_CACHE;
export const FUSE_PARALLEL_DIROPS = FUSE_INIT_FLAG.PARALLEL_DIROPS;
export const FUSE_MAX_PAGES = FUSE_INIT_FLAG.MAX_PAGES;
export const FUSE_INIT_EXT = FUSE_INIT_FLAG.INIT_EXT;
export const FUSE_DIRECT_IO_ALLOW_MMAP = FUSE_INIT_FLAG.DIRECT_IO_ALLOW_MMAP;
export const FUSE_PASSTHROUGH = FUSE_INIT_FLAG.PASSTHROUGH;

const U32_MASK = 0xffff_ffffn;

/** Split a 64-bit INIT flag set into the two u32 wire fields. */
export function splitInitFlags(f: bigint): { flags: number; flags2: number } {
  if (f < 0n || f > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`init flags 0x${f.toString(16)} do not fit in 64 bits`);
  }
  return { flags: Number(f & U32_MASK), flags2: Number((f >> 32n) & U32_MASK) };
}

/** Inverse of splitInitFlags. Inputs are u32 values (as decoded from the wire). */
export function joinInitFlags(flags: number, flags2: number): bigint {
  for (const [name, v] of [['flags', flags], ['flags2', flags2]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff) {
      throw new RangeError(`${name}=${v} is not a u32`);
    }
  }
  return (BigInt(flags2) << 32n) | BigInt(flags);
}

/** Names of the known bits set in f, low bit first (for traces/teaching output). */
export function initFlagNames(f: bigint): string[] {
  return (Object.entries(FUSE_INIT_FLAG) as [FuseInitFlagName, bigint][])
    .filter(([, bit]) => (f & bit) !== 0n)
    .map(([name]) => name);
}

// ---------------------------------------------------------------------------
// Flags in fuse_open_out.open_flags, as merged in 6.9.

export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
} as const;

export const FOPEN_DIRECT_IO = FOPEN.DIRECT_IO;
export const FOPEN_KEEP_CACHE = FOPEN.KEEP_CACHE;
export const FOPEN_NONSEEKABLE = FOPEN.NONSEEKABLE;
export const FOPEN_CACHE_DIR = FOPEN.CACHE_DIR;
export const FOPEN_STREAM = FOPEN.STREAM;
export const FOPEN_NOFLUSH = FOPEN.NOFLUSH;
export const FOPEN_PARALLEL_DIRECT_WRITES = FOPEN.PARALLEL_DIRECT_WRITES;
export const FOPEN_PASSTHROUGH = FOPEN.PASSTHROUGH;

/**
 * Names of the bits set in a u32 flags value, low bit first, from a table of single-bit
 * values; a bit the table does not name is shown as "bitN" (N = 0..31), so nothing is lost.
 */
export function bitNames(table: Readonly<Record<string, number>>, v: number): string[] {
  const out: string[] = [];
  let u = v >>> 0;
  if (u === 0) return out;
  const names = namesByBit(table);
  for (let bit = 0; u !== 0; bit++, u >>>= 1) if (u & 1) out.push(names[bit]!);
  return out;
}

/** Per table (the module-level constants above): each bit's name, the first key whose value it is. */
const BIT_NAMES = new WeakMap<Readonly<Record<string, number>>, string[]>();
function namesByBit(table: Readonly<Record<string, number>>): string[] {
  let names = BIT_NAMES.get(table);
  if (!names) {
    const keys = Object.keys(table);
    names = Array.from({ length: 32 }, (_, bit) => keys.find((k) => table[k] === 2 ** bit) ?? `bit${bit}`);
    BIT_NAMES.set(table, names);
  }
  return names;
}

/** A flags value as trace text: names joined with "|", or "0". */
export function flagText(names: readonly string[]): string {
  return names.length ? names.join('|') : '0';
}

/** fuse_open_out.open_flags by name; unknown bits (v15's bit 8, a future bit 20) as "bit8". */
export function fopenNames(v: number): string[] {
  return bitNames(FOPEN, v);
}

/**
 * Values from the v15 passthrough patch series, which differ from the merged
 * ABI: v15 reserved bit 7 for FOPEN_CACHE_IO and put FOPEN_PASSTHROUGH at bit 8.
 * The merge dropped CACHE_IO from the uapi and moved PASSTHROUGH down to bit 7,
 * so a v15-era server sets a bit that 6.9 does not treat as passthrough.
 */
export const V15_UAPI = {
  FOPEN_CACHE_IO: 1 << 7,
  FOPEN_PASSTHROUGH: 1 << 8,
} as const;

// ---------------------------------------------------------------------------
// Per-request flag fields. Each set comes as a table (for the naming functions and traces)
// and, where code already used them, as flat constants with the header's spelling.

/** fuse_release_in.release_flags */
export const FUSE_RELEASE = {
  FLUSH: 1 << 0, // flush before release (only the old "flush on release" servers)
  FLOCK_UNLOCK: 1 << 1, // the file was flock()ed: unlock lock_owner's flock (7.17)
} as const;
export const FUSE_RELEASE_FLUSH = FUSE_RELEASE.FLUSH;
export const FUSE_RELEASE_FLOCK_UNLOCK = FUSE_RELEASE.FLOCK_UNLOCK;
/** fuse_getattr_in.getattr_flags (also fuse_statx_in): the fh field is valid */
export const FUSE_GETATTR = { FH: 1 << 0 } as const;
export const FUSE_GETATTR_FH = FUSE_GETATTR.FH;
/** fuse_read_in.read_flags: lock_owner is valid (direct-io reads only; page-cache reads send 0) */
export const FUSE_READ = { LOCKOWNER: 1 << 1 } as const;
export const FUSE_READ_LOCKOWNER = FUSE_READ.LOCKOWNER;
/** fuse_write_in.write_flags */
export const FUSE_WRITE = {
  CACHE: 1 << 0, // writeback from the page cache: fh is any writable handle, lock_owner 0
  LOCKOWNER: 1 << 1, // lock_owner is valid (direct-io writes)
  KILL_SUIDGID: 1 << 2, // 7.33, only with HANDLE_KILLPRIV_V2: the server drops suid/sgid
} as const;
export const FUSE_WRITE_CACHE = FUSE_WRITE.CACHE;
export const FUSE_WRITE_LOCKOWNER = FUSE_WRITE.LOCKOWNER;
export const FUSE_WRITE_KILL_SUIDGID = FUSE_WRITE.KILL_SUIDGID;
/** fuse_open_in.open_flags / fuse_create_in.open_flags (7.33, HANDLE_KILLPRIV_V2 only) */
export const FUSE_OPEN = { KILL_SUIDGID: 1 << 0 } as const;
export const FUSE_OPEN_KILL_SUIDGID = FUSE_OPEN.KILL_SUIDGID;
/** fuse_fsync_in.fsync_flags: fdatasync(2) (also FSYNCDIR's) */
export const FUSE_FSYNC = { FDATASYNC: 1 << 0 } as const;
export const FUSE_FSYNC_FDATASYNC = FUSE_FSYNC.FDATASYNC;
/** fuse_lk_in.lk_flags: a flock(2) lock rather than a POSIX one (7.17) */
export const FUSE_LK = { FLOCK: 1 << 0 } as const;
export const FUSE_LK_FLOCK = FUSE_LK.FLOCK;
/** fuse_setxattr_in.setxattr_flags (only in the 16-byte form, FUSE_SETXATTR_EXT) */
export const FUSE_SETXATTR = { ACL_KILL_SGID: 1 << 0 } as const;
export const FUSE_SETXATTR_ACL_KILL_SGID = FUSE_SETXATTR.ACL_KILL_SGID;
/** fuse_setxattr_in.flags: setxattr(2)'s own flags (linux/xattr.h) */
export const XATTR = { CREATE: 1, REPLACE: 2 } as const;
/** fuse_attr.flags (server -> kernel) */
export const FUSE_ATTR = { SUBMOUNT: 1 << 0, DAX: 1 << 1 } as const;
/** fuse_notify_inval_entry_out.flags */
export const FUSE_EXPIRE_ONLY = 1 << 0;

/**
 * fuse_setattr_in.valid: which fields of the SETATTR carry a change. The kernel sets FH only
 * for ftruncate (ATTR_FILE) and LOCKOWNER with every SIZE change; ATIME_NOW/MTIME_NOW come
 * with the times filled in anyway; KILL_SUIDGID (7.33) only with HANDLE_KILLPRIV_V2.
 */
export const FATTR = {
  MODE: 1 << 0,
  UID: 1 << 1,
  GID: 1 << 2,
  SIZE: 1 << 3,
  ATIME: 1 << 4,
  MTIME: 1 << 5,
  FH: 1 << 6,
  ATIME_NOW: 1 << 7,
  MTIME_NOW: 1 << 8,
  LOCKOWNER: 1 << 9,
  CTIME: 1 << 10,
  KILL_SUIDGID: 1 << 11,
} as const;
export const FATTR_MODE = FATTR.MODE;
export const FATTR_UID = FATTR.UID;
export const FATTR_GID = FATTR.GID;
export const FATTR_SIZE = FATTR.SIZE;
export const FATTR_ATIME = FATTR.ATIME;
export const FATTR_MTIME = FATTR.MTIME;
export const FATTR_FH = FATTR.FH;
export const FATTR_ATIME_NOW = FATTR.ATIME_NOW;
export const FATTR_MTIME_NOW = FATTR.MTIME_NOW;
export const FATTR_LOCKOWNER = FATTR.LOCKOWNER;
export const FATTR_CTIME = FATTR.CTIME;
export const FATTR_KILL_SUIDGID = FATTR.KILL_SUIDGID;

/** fuse_setattr_in.valid by name, e.g. ['SIZE', 'FH', 'LOCKOWNER']; unknown bits as "bitN". */
export function fattrNames(valid: number): string[] {
  return bitNames(FATTR, valid);
}

// ---------------------------------------------------------------------------
// Numbers from other headers that the kernel copies into FUSE requests (x86_64).

/**
 * open(2) flag bits (asm-generic/fcntl.h, octal) as they reach fuse_open_in.flags,
 * fuse_create_in.flags and the `flags` of READ/WRITE/RELEASE. The kernel sends the file's
 * f_flags minus O_CREAT/O_EXCL/O_NOCTTY (and minus O_TRUNC unless ATOMIC_O_TRUNC) for OPEN;
 * CREATE keeps O_CREAT/O_EXCL. O_LARGEFILE is always there on 64-bit. __FMODE_EXEC is the
 * kernel's marker for an open by execve(2) (OPEN flags 0o100040).
 */
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const OPEN_FLAG = {
  __FMODE_EXEC: 0o40,
  O_CREAT: 0o100,
  O_EXCL: 0o200,
  O_NOCTTY: 0o400,
  O_TRUNC: 0o1000,
  O_APPEND: 0o2000,
  O_NONBLOCK: 0o4000,
  O_DSYNC: 0o10000,
  O_ASYNC: 0o20000, // FASYNC
  O_DIRECT: 0o40000,
  O_LARGEFILE: 0o100000,
  O_DIRECTORY: 0o200000,
  O_NOFOLLOW: 0o400000,
  O_NOATIME: 0o1000000,
  O_CLOEXEC: 0o2000000,
  __O_SYNC: 0o4000000, // O_SYNC is __O_SYNC | O_DSYNC
  O_PATH: 0o10000000,
  __O_TMPFILE: 0o20000000, // O_TMPFILE is __O_TMPFILE | O_DIRECTORY
} as const;
export const O_CREAT = OPEN_FLAG.O_CREAT;
export const O_EXCL = OPEN_FLAG.O_EXCL;
export const O_NOCTTY = OPEN_FLAG.O_NOCTTY;
export const O_TRUNC = OPEN_FLAG.O_TRUNC;
export const O_APPEND = OPEN_FLAG.O_APPEND;
export const O_NONBLOCK = OPEN_FLAG.O_NONBLOCK;
export const O_DSYNC = OPEN_FLAG.O_DSYNC;
export const O_DIRECT = OPEN_FLAG.O_DIRECT;
export const O_LARGEFILE = OPEN_FLAG.O_LARGEFILE;
export const O_DIRECTORY = OPEN_FLAG.O_DIRECTORY;
export const O_NOFOLLOW = OPEN_FLAG.O_NOFOLLOW;
export const O_NOATIME = OPEN_FLAG.O_NOATIME;
export const O_CLOEXEC = OPEN_FLAG.O_CLOEXEC;
export const __O_SYNC = OPEN_FLAG.__O_SYNC;
export const O_SYNC = OPEN_FLAG.__O_SYNC | OPEN_FLAG.O_DSYNC;
export const O_PATH = OPEN_FLAG.O_PATH;

const ACCMODE_NAMES = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'] as const;

/**
 * open(2) flags by name, the access mode first: openFlagNames(0o100002) is
 * ['O_RDWR', 'O_LARGEFILE']; 0 is ['O_RDONLY']. O_SYNC shows as one name when both of its bits
 * are set; unknown bits as "bitN".
 */
export function openFlagNames(flags: number): string[] {
  const u = flags >>> 0;
  const acc = ACCMODE_NAMES[u & O_ACCMODE] ?? 'O_RDONLY';
  let rest = bitNames(OPEN_FLAG, (u & ~O_ACCMODE) >>> 0);
  if (rest.includes('__O_SYNC') && rest.includes('O_DSYNC')) {
    rest = rest.filter((n) => n !== 'O_DSYNC').map((n) => (n === '__O_SYNC' ? 'O_SYNC' : n));
  }
  return [acc, ...rest];
}

/** renameat2(2) flags in fuse_rename2_in.flags (linux/fs.h). Plain rename(2) is RENAME, not RENAME2. */
export const RENAME = { NOREPLACE: 1 << 0, EXCHANGE: 1 << 1, WHITEOUT: 1 << 2 } as const;
export const RENAME_NOREPLACE = RENAME.NOREPLACE;
export const RENAME_EXCHANGE = RENAME.EXCHANGE;
export const RENAME_WHITEOUT = RENAME.WHITEOUT;

/**
 * fallocate(2) modes (linux/falloc.h). fuse_file_fallocate passes only KEEP_SIZE, PUNCH_HOLE
 * and ZERO_RANGE (FUSE_FALLOCATE_MODES) to the server; any other bit (COLLAPSE_RANGE,
 * INSERT_RANGE, UNSHARE_RANGE, ...) fails EOPNOTSUPP in the kernel before a request is built.
 */
export const FALLOC_FL = {
  KEEP_SIZE: 0x01,
  PUNCH_HOLE: 0x02,
  NO_HIDE_STALE: 0x04,
  COLLAPSE_RANGE: 0x08,
  ZERO_RANGE: 0x10,
  INSERT_RANGE: 0x20,
  UNSHARE_RANGE: 0x40,
} as const;
export const FALLOC_FL_KEEP_SIZE = FALLOC_FL.KEEP_SIZE;
export const FALLOC_FL_PUNCH_HOLE = FALLOC_FL.PUNCH_HOLE;
export const FALLOC_FL_ZERO_RANGE = FALLOC_FL.ZERO_RANGE;
export const FALLOC_FL_COLLAPSE_RANGE = FALLOC_FL.COLLAPSE_RANGE;
export const FALLOC_FL_INSERT_RANGE = FALLOC_FL.INSERT_RANGE;
/** The fallocate modes a FUSE_FALLOCATE request can carry. */
export const FUSE_FALLOCATE_MODES = FALLOC_FL.KEEP_SIZE | FALLOC_FL.PUNCH_HOLE | FALLOC_FL.ZERO_RANGE;

/** lseek(2) whence. The kernel sends LSEEK only for DATA and HOLE; SET/CUR/END are answered locally. */
export const SEEK = { SET: 0, CUR: 1, END: 2, DATA: 3, HOLE: 4 } as const;
export const SEEK_SET = SEEK.SET;
export const SEEK_CUR = SEEK.CUR;
export const SEEK_END = SEEK.END;
export const SEEK_DATA = SEEK.DATA;
export const SEEK_HOLE = SEEK.HOLE;

/** fuse_file_lock.type (x86_64 asm-generic/fcntl.h values). */
export const F_LOCK_TYPE = { F_RDLCK: 0, F_WRLCK: 1, F_UNLCK: 2 } as const;
export const F_RDLCK = F_LOCK_TYPE.F_RDLCK;
export const F_WRLCK = F_LOCK_TYPE.F_WRLCK;
export const F_UNLCK = F_LOCK_TYPE.F_UNLCK;
/** fuse_file_lock.end of a lock to end of file (LLONG_MAX): above 2^53, hence a bigint. */
export const OFFSET_MAX = 0x7fff_ffff_ffff_ffffn;

/** access(2) mask in fuse_access_in.mask (F_OK is 0). */
export const ACCESS_MASK = { X_OK: 1, W_OK: 2, R_OK: 4 } as const;

/** statx(2) mask bits (linux/stat.h) in fuse_statx_in.sx_mask and fuse_statx.mask. */
export const STATX = {
  TYPE: 0x1,
  MODE: 0x2,
  NLINK: 0x4,
  UID: 0x8,
  GID: 0x10,
  ATIME: 0x20,
  MTIME: 0x40,
  CTIME: 0x80,
  INO: 0x100,
  SIZE: 0x200,
  BLOCKS: 0x400,
  BTIME: 0x800,
  MNT_ID: 0x1000,
  DIOALIGN: 0x2000,
} as const;
/** What stat(2) needs; the kernel sends STATX only for a mask beyond these. */
export const STATX_BASIC_STATS = 0x7ff;
/** statx(2) sync flags in fuse_statx_in.sx_flags (linux/fcntl.h). */
export const AT_STATX = { FORCE_SYNC: 0x2000, DONT_SYNC: 0x4000 } as const;

/** fuse_dirent.type: the DT_* values, i.e. (mode >> 12) & 15. */
export const DT = { UNKNOWN: 0, FIFO: 1, CHR: 2, DIR: 4, BLK: 6, REG: 8, LNK: 10, SOCK: 12, WHT: 14 } as const;

/** Name of a small enum value from a table, or the number itself. */
export function enumName(table: Readonly<Record<string, number>>, v: number): string {
  return Object.keys(table).find((k) => table[k] === v) ?? String(v);
}
// ---------------------------------------------------------------------------
// ioctl numbers on /dev/fuse. Linux's generic encoding (x86, arm, ...):
//   bits 0..7 nr, 8..15 type, 16..29 argument size, 30..31 direction.

export const IOC_NONE = 0;
export const IOC_WRITE = 1; // userspace writes the argument into the kernel
export const IOC_READ = 2; // kernel fills the argument in

export function _IOC(dir: number, type: number, nr: number, size: number): number {
  if (size < 0 || size >= 1 << 14) throw new RangeError(`ioctl size ${size} exceeds 14 bits`);
  // >>> 0 keeps the result unsigned: dir=2 sets bit 31.
  return ((dir << 30) | (size << 16) | (type << 8) | nr) >>> 0;
}
export const _IO = (type: number, nr: number): number => _IOC(IOC_NONE, type, nr, 0);
export const _IOR = (type: number, nr: number, size: number): number => _IOC(IOC_READ, type, nr, size);
export const _IOW = (type: number, nr: number, size: number): number => _IOC(IOC_WRITE, type, nr, size);

const SIZEOF_UINT32 = 4;
/** sizeof(struct fuse_backing_map); also asserted against the layout in tests. */
const SIZEOF_FUSE_BACKING_MAP = 16;

export const FUSE_DEV_IOC_MAGIC = 229;
/** Attach a new /dev/fuse fd to an existing connection (argument: source fd). */
export const FUSE_DEV_IOC_CLONE = _IOR(FUSE_DEV_IOC_MAGIC, 0, SIZEOF_UINT32);
/** Register a backing file; returns a backing_id for fuse_open_out. */
export const FUSE_DEV_IOC_BACKING_OPEN = _IOW(FUSE_DEV_IOC_MAGIC, 1, SIZEOF_FUSE_BACKING_MAP);
/** Drop a backing_id registration. */
export const FUSE_DEV_IOC_BACKING_CLOSE = _IOW(FUSE_DEV_IOC_MAGIC, 2, SIZEOF_UINT32);
/**
 * Not in 6.9 (7.45, Linux 6.18): ask for a synchronous INIT, on a /dev/fuse fd before it is
 * mounted. Whether a kernel knows it is the profile's business (syncInitIoctl).
 */
export const FUSE_DEV_IOC_SYNC_INIT = _IO(FUSE_DEV_IOC_MAGIC, 3);
