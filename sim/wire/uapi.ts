// Numbers from the FUSE userspace ABI header (include/uapi/linux/fuse.h) as it
// stands in Linux 6.9, i.e. protocol 7.40, the release that merged passthrough.
// Only numbers live here: which kernel/patch version uses which value is the
// job of the project's profile table, so the one patch-series difference we
// care about is exported as plain data in V15_UAPI instead of a version switch.

/** Major protocol version; a mismatch makes the kernel re-send INIT or fail. */
export const FUSE_KERNEL_VERSION = 7;
/** Minor protocol version spoken by 6.9 (passthrough arrived in 7.40). */
export const FUSE_KERNEL_MINOR_VERSION = 40;

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
  /** max_stack_depth, FUSE_PASSTHROUGH, backing_id, FOPEN_PASSTHROUGH. */
  PASSTHROUGH: 40,
} as const;

/** nodeid of the mount root; the kernel never sends FORGET for it. */
export const FUSE_ROOT_ID = 1;

/** /dev/fuse read buffers must be at least this large. */
export const FUSE_MIN_READ_BUFFER = 8192;

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
 * Values from the v15 passthrough patch series, which differ from the merged
 * ABI: v15 reserved bit 7 for FOPEN_CACHE_IO and put FOPEN_PASSTHROUGH at bit 8.
 * The merge dropped CACHE_IO from the uapi and moved PASSTHROUGH down to bit 7,
 * so a v15-era server sets a bit that 6.9 does not treat as passthrough.
 */
export const V15_UAPI = {
  FOPEN_CACHE_IO: 1 << 7,
  FOPEN_PASSTHROUGH: 1 << 8,
} as const;

/** fuse_release_in.release_flags */
export const FUSE_RELEASE_FLUSH = 1 << 0;
export const FUSE_RELEASE_FLOCK_UNLOCK = 1 << 1;
/** fuse_getattr_in.getattr_flags: the fh field is valid */
export const FUSE_GETATTR_FH = 1 << 0;
/** fuse_read_in.read_flags: lock_owner is valid */
export const FUSE_READ_LOCKOWNER = 1 << 1;
/** fuse_write_in.write_flags */
export const FUSE_WRITE_CACHE = 1 << 0;
export const FUSE_WRITE_LOCKOWNER = 1 << 1;
export const FUSE_WRITE_KILL_SUIDGID = 1 << 2;
/** fuse_open_in.open_flags */
export const FUSE_OPEN_KILL_SUIDGID = 1 << 0;

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
