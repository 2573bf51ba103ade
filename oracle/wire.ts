// Minimal FUSE wire encoding for the real-kernel oracle: just the structs the
// probe and the oracle tests use. Layouts follow the FUSE protocol (7.40,
// Linux 6.9); the system <linux/fuse.h> is too old to have passthrough, so
// the passthrough constants are spelled out here.

export const FUSE_KERNEL_VERSION = 7;
/** Minor version of Linux 6.9, the baseline fpsim models. */
export const FUSE_KERNEL_MINOR_VERSION = 40;

export const Op = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  GETXATTR: 22,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  DESTROY: 38,
  BATCH_FORGET: 42,
  STATX: 52,
} as const;

export function opName(opcode: number): string {
  for (const [k, v] of Object.entries(Op)) if (v === opcode) return k;
  return `OP${opcode}`;
}

/** INIT flags (64-bit; bits 32+ travel in flags2 when FUSE_INIT_EXT is set). */
export const InitFlag = {
  ASYNC_READ: 1n << 0n,
  WRITEBACK_CACHE: 1n << 16n,
  MAX_PAGES: 1n << 22n,
  INIT_EXT: 1n << 30n,
  PASSTHROUGH: 1n << 37n,
} as const;

export const FOPEN = {
  DIRECT_IO: 1 << 0,
  KEEP_CACHE: 1 << 1,
  NONSEEKABLE: 1 << 2,
  CACHE_DIR: 1 << 3,
  STREAM: 1 << 4,
  NOFLUSH: 1 << 5,
  PARALLEL_DIRECT_WRITES: 1 << 6,
  PASSTHROUGH: 1 << 7,
  /** The bit used by the out-of-tree v15-era patches; not passthrough in 6.9. */
  OLD_V15_PASSTHROUGH: 1 << 8,
} as const;

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
  totalExtlen: number;
}

export interface Request {
  header: InHeader;
  /** bytes after the 40-byte header */
  body: Buffer;
}

export function parseRequest(bytes: Uint8Array): Request {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < IN_HEADER_SIZE) throw new Error(`short FUSE request (${b.length} bytes)`);
  return {
    header: {
      len: b.readUInt32LE(0),
      opcode: b.readUInt32LE(4),
      unique: b.readBigUInt64LE(8),
      nodeid: b.readBigUInt64LE(16),
      uid: b.readUInt32LE(24),
      gid: b.readUInt32LE(28),
      pid: b.readUInt32LE(32),
      totalExtlen: b.readUInt16LE(36),
    },
    body: b.subarray(IN_HEADER_SIZE),
  };
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
}

export function parseInitIn(body: Buffer): InitIn {
  const low = BigInt(body.readUInt32LE(12));
  const high = body.length >= 20 && low & InitFlag.INIT_EXT ? BigInt(body.readUInt32LE(16)) : 0n;
  return {
    major: body.readUInt32LE(0),
    minor: body.readUInt32LE(4),
    maxReadahead: body.readUInt32LE(8),
    flags: low | (high << 32n),
  };
}

/** A NUL-terminated name, as in LOOKUP. */
export function parseName(body: Buffer): string {
  const nul = body.indexOf(0);
  return body.subarray(0, nul < 0 ? body.length : nul).toString('utf8');
}

export interface OpenIn {
  flags: number;
  openFlags: number;
}
export function parseOpenIn(body: Buffer): OpenIn {
  return { flags: body.readUInt32LE(0), openFlags: body.readUInt32LE(4) };
}

export interface ReadIn {
  fh: bigint;
  offset: bigint;
  size: number;
}
export function parseReadIn(body: Buffer): ReadIn {
  return { fh: body.readBigUInt64LE(0), offset: body.readBigUInt64LE(8), size: body.readUInt32LE(16) };
}

export interface WriteIn {
  fh: bigint;
  offset: bigint;
  size: number;
  data: Buffer;
}
/** fuse_write_in is 40 bytes (7.9+), data follows. */
export function parseWriteIn(body: Buffer): WriteIn {
  const size = body.readUInt32LE(16);
  return { fh: body.readBigUInt64LE(0), offset: body.readBigUInt64LE(8), size, data: body.subarray(40, 40 + size) };
}

function outMessage(unique: bigint, error: number, payload: Buffer): Uint8Array {
  const out = Buffer.alloc(OUT_HEADER_SIZE + payload.length);
  out.writeUInt32LE(out.length, 0);
  out.writeInt32LE(error, 4);
  out.writeBigUInt64LE(unique, 8);
  payload.copy(out, OUT_HEADER_SIZE);
  return out;
}

/** Error reply; errno is positive (it is negated on the wire). */
export function replyError(unique: bigint, errno: number): Uint8Array {
  return outMessage(unique, -Math.abs(errno), Buffer.alloc(0));
}

export function replyEmpty(unique: bigint): Uint8Array {
  return outMessage(unique, 0, Buffer.alloc(0));
}

export function replyData(unique: bigint, data: Uint8Array): Uint8Array {
  return outMessage(unique, 0, Buffer.from(data));
}

export interface InitOut {
  major?: number;
  minor?: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground?: number;
  congestionThreshold?: number;
  maxWrite?: number;
  timeGran?: number;
  maxPages?: number;
  maxStackDepth?: number;
}

/** 64-byte fuse_init_out; max_stack_depth is the u32 at offset 36. */
export function replyInit(unique: bigint, o: InitOut): Uint8Array {
  const p = Buffer.alloc(64);
  let flags = o.flags;
  if (flags >> 32n !== 0n) flags |= InitFlag.INIT_EXT;
  p.writeUInt32LE(o.major ?? FUSE_KERNEL_VERSION, 0);
  p.writeUInt32LE(o.minor ?? FUSE_KERNEL_MINOR_VERSION, 4);
  p.writeUInt32LE(o.maxReadahead, 8);
  p.writeUInt32LE(Number(flags & 0xffffffffn), 12);
  p.writeUInt16LE(o.maxBackground ?? 16, 16);
  p.writeUInt16LE(o.congestionThreshold ?? 12, 18);
  p.writeUInt32LE(o.maxWrite ?? 128 * 1024, 20);
  p.writeUInt32LE(o.timeGran ?? 1, 24);
  p.writeUInt16LE(o.maxPages ?? 0, 28);
  p.writeUInt16LE(0, 30); // map_alignment
  p.writeUInt32LE(Number((flags >> 32n) & 0xffffffffn), 32);
  p.writeUInt32LE(o.maxStackDepth ?? 0, 36);
  return outMessage(unique, 0, p);
}

export interface Attr {
  ino: bigint;
  size: bigint;
  mode: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  blksize?: number;
}

/** 88-byte fuse_attr. */
function encodeAttr(a: Attr): Buffer {
  const p = Buffer.alloc(88);
  p.writeBigUInt64LE(a.ino, 0);
  p.writeBigUInt64LE(a.size, 8);
  p.writeBigUInt64LE((a.size + 511n) / 512n, 16); // blocks
  // atime/mtime/ctime (24..47) and their nsec (48..59) left 0
  p.writeUInt32LE(a.mode, 60);
  p.writeUInt32LE(a.nlink ?? 1, 64);
  p.writeUInt32LE(a.uid ?? 0, 68);
  p.writeUInt32LE(a.gid ?? 0, 72);
  p.writeUInt32LE(0, 76); // rdev
  p.writeUInt32LE(a.blksize ?? 4096, 80);
  p.writeUInt32LE(0, 84); // flags
  return p;
}

/** fuse_entry_out: nodeid, generation, entry_valid, attr_valid, nsecs, attr. */
export function replyEntry(unique: bigint, nodeid: bigint, attr: Attr, validSec = 1n): Uint8Array {
  const p = Buffer.alloc(40 + 88);
  p.writeBigUInt64LE(nodeid, 0);
  p.writeBigUInt64LE(0n, 8);
  p.writeBigUInt64LE(validSec, 16);
  p.writeBigUInt64LE(validSec, 24);
  encodeAttr(attr).copy(p, 40);
  return outMessage(unique, 0, p);
}

/** fuse_attr_out: attr_valid, attr_valid_nsec, dummy, attr. */
export function replyAttr(unique: bigint, attr: Attr, validSec = 1n): Uint8Array {
  const p = Buffer.alloc(16 + 88);
  p.writeBigUInt64LE(validSec, 0);
  encodeAttr(attr).copy(p, 16);
  return outMessage(unique, 0, p);
}

/** fuse_open_out = {u64 fh; u32 open_flags; i32 backing_id}. */
export function replyOpen(unique: bigint, fh: bigint, openFlags: number, backingId = 0): Uint8Array {
  const p = Buffer.alloc(16);
  p.writeBigUInt64LE(fh, 0);
  p.writeUInt32LE(openFlags >>> 0, 8);
  p.writeInt32LE(backingId, 12);
  return outMessage(unique, 0, p);
}

/** fuse_write_out = {u32 size; u32 padding}. */
export function replyWrite(unique: bigint, size: number): Uint8Array {
  const p = Buffer.alloc(8);
  p.writeUInt32LE(size, 0);
  return outMessage(unique, 0, p);
}

/** Requests the kernel never expects an answer to. */
export function isNoReply(opcode: number): boolean {
  return opcode === Op.FORGET || opcode === Op.BATCH_FORGET || opcode === Op.INTERRUPT;
}
