// Table-driven byte layouts of the FUSE wire structs (x86_64, little-endian).
//
// Each struct is plain data (name, size, fields with explicit offsets), so the
// layout can be printed, diffed against the C header, and used by one generic
// encoder/decoder instead of a hand-written function per struct.
// defineLayout() checks every table when the module loads: the FUSE header
// pads all structs by hand, so any gap, overlap or misaligned field here is a
// transcription mistake, not real padding.

/** Thrown for any malformed message or out-of-range value. */
export class WireError extends Error {
  override readonly name = 'WireError';
  constructor(
    /** C struct (or message) being processed, e.g. "fuse_out_header". */
    readonly struct: string,
    /** Byte offset the problem was found at, relative to that struct. */
    readonly offset: number,
    detail: string,
  ) {
    super(`${struct}: ${detail}`);
  }
}

/**
 * 'u64w' is a u64 the kernel fills with full 64-bit values (request ids, whose bit 63 marks a
 * resend; lock owners, which are kernel pointers): decoded as a number while it is a safe
 * integer and as a bigint above Number.MAX_SAFE_INTEGER, encoded from either. Plain 'u64'
 * fields (offsets, sizes, node ids and file handles the server chose) stay numbers and reject
 * values they cannot represent exactly.
 */
export type ScalarType = 'u8' | 'u16' | 'u32' | 'i32' | 'u64' | 'u64w';

/** The JS value of a 'u64w' field: a number when it is a safe integer, else a bigint. */
export type Wide = number | bigint;

/** A decoded 64-bit value in its canonical form: a number when safe, else a bigint. */
export function wide(v: bigint): Wide {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Whether two Wide values are the same 64-bit number (1 and 1n are). */
export function wideEqual(a: Wide, b: Wide): boolean {
  return BigInt(a) === BigInt(b);
}

/** A Wide value as text: decimal while safe, hex above (for traces and tables). */
export function formatWide(v: Wide): string {
  return typeof v === 'bigint' ? `0x${v.toString(16)}` : String(v);
}

export interface ScalarField {
  readonly name: string;
  readonly type: ScalarType;
  readonly offset: number;
  /**
   * A field a later minor carved out of bytes older headers call unused (e.g. 7.43's
   * request_timeout in fuse_init_out): optional in a JS value and encoded as 0 when absent, so
   * code written against the older header still type-checks; always present when decoded.
   */
  readonly optional?: true;
}
/** An embedded struct, e.g. the fuse_attr inside fuse_attr_out. */
export interface StructField {
  readonly name: string;
  readonly type: 'struct';
  readonly offset: number;
  readonly layout: Layout;
}
/**
 * Reserved bytes such as `uint32_t unused[6]`. Encoded as zeros; ignored on
 * decode, just as the kernel ignores them (this is what lets newer servers
 * put new fields there). nonZeroReserved() reports them if you care.
 */
export interface ReservedField {
  readonly name: string;
  readonly type: 'reserved';
  readonly offset: number;
  readonly size: number;
}
export type Field = ScalarField | StructField | ReservedField;

export interface Layout {
  /** The C struct name, used in error messages. */
  readonly name: string;
  readonly size: number;
  readonly fields: readonly Field[];
}

type FieldValue<F> = F extends StructField ? ValueOf<F['layout']> : F extends { readonly type: 'u64w' } ? Wide : number;
type Flat<T> = { [K in keyof T]: T[K] };

/**
 * The JS value of a layout: one number per scalar (a Wide for 'u64w'), nested objects for
 * structs, reserved fields omitted, optional fields optional.
 */
export type ValueOf<L extends Layout> = Flat<
  {
    -readonly [F in L['fields'][number] as F extends ReservedField
      ? never
      : F extends { readonly optional: true }
        ? never
        : F['name']]: FieldValue<F>;
  } & {
    -readonly [F in L['fields'][number] as F extends { readonly optional: true } ? F['name'] : never]?: FieldValue<F>;
  }
>;

const SCALAR_SIZE: Record<ScalarType, number> = { u8: 1, u16: 2, u32: 4, i32: 4, u64: 8, u64w: 8 };

/** Byte size of a field. */
export function fieldSize(f: Field): number {
  switch (f.type) {
    case 'struct':
      return f.layout.size;
    case 'reserved':
      return f.size;
    default:
      return SCALAR_SIZE[f.type];
  }
}

// x86_64 aligns each scalar to its own size and a struct to its largest member;
// every FUSE struct containing a u64 is 8-aligned.
function fieldAlign(f: Field): number {
  switch (f.type) {
    case 'struct':
      return 8;
    case 'reserved':
      return 1;
    default:
      return SCALAR_SIZE[f.type];
  }
}

/** Identity function that validates a layout table at load time and keeps its literal type. */
export function defineLayout<const L extends Layout>(layout: L): L {
  let end = 0;
  for (const f of layout.fields) {
    const where = `field ${f.name} at offset ${f.offset}`;
    if (f.offset !== end) {
      throw new Error(`${layout.name}: ${where}: expected offset ${end} (no implicit padding in FUSE structs)`);
    }
    if (f.offset % fieldAlign(f) !== 0) throw new Error(`${layout.name}: ${where} is misaligned`);
    end = f.offset + fieldSize(f);
  }
  if (end !== layout.size) throw new Error(`${layout.name}: fields end at ${end}, declared size ${layout.size}`);
  return layout;
}

// ---------------------------------------------------------------------------
// The structs, as of protocol 7.45 (Linux 6.18). Apart from 7.43's request_timeout in
// fuse_init_out and 7.45's fuse_copy_file_range_out, every layout here is the same in 7.40
// (6.9). Older minors used shorter forms of a few (FUSE_COMPAT_*_SIZE); the kernel only
// sends those to servers that negotiate a minor below 7.9 (7.12 for mknod), which fpsim
// does not model, except fuse_setxattr_in, whose 8-byte form is still sent to every server
// that does not ask for FUSE_SETXATTR_EXT.

export const FUSE_IN_HEADER = defineLayout({
  name: 'fuse_in_header',
  size: 40,
  fields: [
    { name: 'len', type: 'u32', offset: 0 }, // whole message, header included
    { name: 'opcode', type: 'u32', offset: 4 },
    { name: 'unique', type: 'u64w', offset: 8 },
    { name: 'nodeid', type: 'u64', offset: 16 },
    { name: 'uid', type: 'u32', offset: 24 },
    { name: 'gid', type: 'u32', offset: 28 },
    { name: 'pid', type: 'u32', offset: 32 },
    { name: 'total_extlen', type: 'u16', offset: 36 }, // request extensions, in units of 8 bytes
    { name: 'padding', type: 'u16', offset: 38 },
  ],
});

export const FUSE_OUT_HEADER = defineLayout({
  name: 'fuse_out_header',
  size: 16,
  fields: [
    { name: 'len', type: 'u32', offset: 0 },
    { name: 'error', type: 'i32', offset: 4 }, // 0 or -errno; notification code when unique == 0
    { name: 'unique', type: 'u64w', offset: 8 },
  ],
});

export const FUSE_INIT_IN = defineLayout({
  name: 'fuse_init_in',
  size: 64,
  fields: [
    { name: 'major', type: 'u32', offset: 0 },
    { name: 'minor', type: 'u32', offset: 4 },
    { name: 'max_readahead', type: 'u32', offset: 8 },
    { name: 'flags', type: 'u32', offset: 12 },
    { name: 'flags2', type: 'u32', offset: 16 }, // init bits 32..63, valid with FUSE_INIT_EXT
    { name: 'unused', type: 'reserved', offset: 20, size: 44 }, // uint32_t unused[11]
  ],
});

export const FUSE_INIT_OUT = defineLayout({
  name: 'fuse_init_out',
  size: 64,
  fields: [
    { name: 'major', type: 'u32', offset: 0 },
    { name: 'minor', type: 'u32', offset: 4 },
    { name: 'max_readahead', type: 'u32', offset: 8 },
    { name: 'flags', type: 'u32', offset: 12 },
    { name: 'max_background', type: 'u16', offset: 16 },
    { name: 'congestion_threshold', type: 'u16', offset: 18 },
    { name: 'max_write', type: 'u32', offset: 20 },
    { name: 'time_gran', type: 'u32', offset: 24 },
    { name: 'max_pages', type: 'u16', offset: 28 },
    { name: 'map_alignment', type: 'u16', offset: 30 },
    { name: 'flags2', type: 'u32', offset: 32 },
    { name: 'max_stack_depth', type: 'u32', offset: 36 }, // 7.40: passthrough stacking limit
    // 7.43: seconds after which the kernel aborts a request the server has not answered,
    // read only when the reply's flags have FUSE_REQUEST_TIMEOUT; 6.9 never reads these bytes
    { name: 'request_timeout', type: 'u16', offset: 40, optional: true },
    { name: 'unused', type: 'reserved', offset: 42, size: 22 }, // uint16_t unused[11]
  ],
});

export const FUSE_OPEN_IN = defineLayout({
  name: 'fuse_open_in',
  size: 8,
  fields: [
    { name: 'flags', type: 'u32', offset: 0 }, // open(2) flags
    { name: 'open_flags', type: 'u32', offset: 4 }, // FUSE_OPEN_*
  ],
});

export const FUSE_OPEN_OUT = defineLayout({
  name: 'fuse_open_out',
  size: 16,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'open_flags', type: 'u32', offset: 8 }, // FOPEN_*
    { name: 'backing_id', type: 'i32', offset: 12 }, // signed: was padding before 7.40
  ],
});

export const FUSE_RELEASE_IN = defineLayout({
  name: 'fuse_release_in',
  size: 24,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'flags', type: 'u32', offset: 8 },
    { name: 'release_flags', type: 'u32', offset: 12 },
    { name: 'lock_owner', type: 'u64w', offset: 16 },
  ],
});

export const FUSE_FLUSH_IN = defineLayout({
  name: 'fuse_flush_in',
  size: 24,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'unused', type: 'u32', offset: 8 },
    { name: 'padding', type: 'u32', offset: 12 },
    { name: 'lock_owner', type: 'u64w', offset: 16 },
  ],
});

export const FUSE_READ_IN = defineLayout({
  name: 'fuse_read_in',
  size: 40,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'offset', type: 'u64', offset: 8 },
    { name: 'size', type: 'u32', offset: 16 },
    { name: 'read_flags', type: 'u32', offset: 20 },
    { name: 'lock_owner', type: 'u64w', offset: 24 },
    { name: 'flags', type: 'u32', offset: 32 },
    { name: 'padding', type: 'u32', offset: 36 },
  ],
});

export const FUSE_WRITE_IN = defineLayout({
  name: 'fuse_write_in',
  size: 40,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'offset', type: 'u64', offset: 8 },
    { name: 'size', type: 'u32', offset: 16 }, // bytes of data following this struct
    { name: 'write_flags', type: 'u32', offset: 20 },
    { name: 'lock_owner', type: 'u64w', offset: 24 },
    { name: 'flags', type: 'u32', offset: 32 },
    { name: 'padding', type: 'u32', offset: 36 },
  ],
});

export const FUSE_WRITE_OUT = defineLayout({
  name: 'fuse_write_out',
  size: 8,
  fields: [
    { name: 'size', type: 'u32', offset: 0 },
    { name: 'padding', type: 'u32', offset: 4 },
  ],
});

export const FUSE_ATTR = defineLayout({
  name: 'fuse_attr',
  size: 88,
  fields: [
    { name: 'ino', type: 'u64', offset: 0 },
    { name: 'size', type: 'u64', offset: 8 },
    { name: 'blocks', type: 'u64', offset: 16 },
    { name: 'atime', type: 'u64', offset: 24 },
    { name: 'mtime', type: 'u64', offset: 32 },
    { name: 'ctime', type: 'u64', offset: 40 },
    { name: 'atimensec', type: 'u32', offset: 48 },
    { name: 'mtimensec', type: 'u32', offset: 52 },
    { name: 'ctimensec', type: 'u32', offset: 56 },
    { name: 'mode', type: 'u32', offset: 60 },
    { name: 'nlink', type: 'u32', offset: 64 },
    { name: 'uid', type: 'u32', offset: 68 },
    { name: 'gid', type: 'u32', offset: 72 },
    { name: 'rdev', type: 'u32', offset: 76 },
    { name: 'blksize', type: 'u32', offset: 80 },
    { name: 'flags', type: 'u32', offset: 84 },
  ],
});

export const FUSE_ATTR_OUT = defineLayout({
  name: 'fuse_attr_out',
  size: 104,
  fields: [
    { name: 'attr_valid', type: 'u64', offset: 0 },
    { name: 'attr_valid_nsec', type: 'u32', offset: 8 },
    { name: 'dummy', type: 'u32', offset: 12 },
    { name: 'attr', type: 'struct', offset: 16, layout: FUSE_ATTR },
  ],
});

export const FUSE_GETATTR_IN = defineLayout({
  name: 'fuse_getattr_in',
  size: 16,
  fields: [
    { name: 'getattr_flags', type: 'u32', offset: 0 }, // FUSE_GETATTR_FH: fh is valid
    { name: 'dummy', type: 'u32', offset: 4 },
    { name: 'fh', type: 'u64', offset: 8 },
  ],
});

export const FUSE_ENTRY_OUT = defineLayout({
  name: 'fuse_entry_out',
  size: 128,
  fields: [
    { name: 'nodeid', type: 'u64', offset: 0 },
    { name: 'generation', type: 'u64', offset: 8 },
    { name: 'entry_valid', type: 'u64', offset: 16 },
    { name: 'attr_valid', type: 'u64', offset: 24 },
    { name: 'entry_valid_nsec', type: 'u32', offset: 32 },
    { name: 'attr_valid_nsec', type: 'u32', offset: 36 },
    { name: 'attr', type: 'struct', offset: 40, layout: FUSE_ATTR },
  ],
});

/** Argument of FUSE_DEV_IOC_BACKING_OPEN (an ioctl, not a /dev/fuse message). */
export const FUSE_BACKING_MAP = defineLayout({
  name: 'fuse_backing_map',
  size: 16,
  fields: [
    { name: 'fd', type: 'i32', offset: 0 },
    { name: 'flags', type: 'u32', offset: 4 }, // must be 0 in 6.9
    { name: 'padding', type: 'u64', offset: 8 },
  ],
});

/** struct fuse_kstatfs */
export const FUSE_KSTATFS = defineLayout({
  name: 'fuse_kstatfs',
  size: 80,
  fields: [
    { name: 'blocks', type: 'u64', offset: 0 },
    { name: 'bfree', type: 'u64', offset: 8 },
    { name: 'bavail', type: 'u64', offset: 16 },
    { name: 'files', type: 'u64', offset: 24 },
    { name: 'ffree', type: 'u64', offset: 32 },
    { name: 'bsize', type: 'u32', offset: 40 },
    { name: 'namelen', type: 'u32', offset: 44 },
    { name: 'frsize', type: 'u32', offset: 48 },
    { name: 'padding', type: 'u32', offset: 52 },
    { name: 'spare', type: 'reserved', offset: 56, size: 24 }, // uint32_t spare[6]
  ],
});

/** STATFS reply (statfs(2) on any path of the mount sends STATFS with that inode's nodeid). */
export const FUSE_STATFS_OUT = defineLayout({
  name: 'fuse_statfs_out',
  size: 80,
  fields: [{ name: 'st', type: 'struct', offset: 0, layout: FUSE_KSTATFS }],
});

// ---------------------------------------------------------------------------
// 7.45 request and reply arguments beyond the open/read/write core.

/**
 * SETATTR request. `valid` (FATTR_*) says which fields carry a change; the others are 0.
 * The kernel fills lock_owner with the files-struct owner whenever SIZE is set, and fh only
 * for ftruncate (FATTR_FH). Times are the new values (also filled for *_NOW), as the kernel's
 * signed time64, hence 'u64w': a time before 1970 arrives as a value above 2^63.
 */
export const FUSE_SETATTR_IN = defineLayout({
  name: 'fuse_setattr_in',
  size: 88,
  fields: [
    { name: 'valid', type: 'u32', offset: 0 },
    { name: 'padding', type: 'u32', offset: 4 },
    { name: 'fh', type: 'u64', offset: 8 },
    { name: 'size', type: 'u64', offset: 16 },
    { name: 'lock_owner', type: 'u64w', offset: 24 },
    { name: 'atime', type: 'u64w', offset: 32 },
    { name: 'mtime', type: 'u64w', offset: 40 },
    { name: 'ctime', type: 'u64w', offset: 48 },
    { name: 'atimensec', type: 'u32', offset: 56 },
    { name: 'mtimensec', type: 'u32', offset: 60 },
    { name: 'ctimensec', type: 'u32', offset: 64 },
    { name: 'mode', type: 'u32', offset: 68 },
    { name: 'unused4', type: 'u32', offset: 72 },
    { name: 'uid', type: 'u32', offset: 76 },
    { name: 'gid', type: 'u32', offset: 80 },
    { name: 'unused5', type: 'u32', offset: 84 },
  ],
});

/** GETXATTR (followed by the NUL-terminated name) and LISTXATTR (alone) request. */
export const FUSE_GETXATTR_IN = defineLayout({
  name: 'fuse_getxattr_in',
  size: 8,
  fields: [
    // the caller's buffer size; 0 asks only for the value's length (reply: fuse_getxattr_out)
    { name: 'size', type: 'u32', offset: 0 },
    { name: 'padding', type: 'u32', offset: 4 },
  ],
});

/** Reply to a size-0 GETXATTR/LISTXATTR: the length; the kernel caps it at XATTR_SIZE_MAX/LIST_MAX. */
export const FUSE_GETXATTR_OUT = defineLayout({
  name: 'fuse_getxattr_out',
  size: 8,
  fields: [
    { name: 'size', type: 'u32', offset: 0 },
    { name: 'padding', type: 'u32', offset: 4 },
  ],
});

/**
 * SETXATTR request, followed by the NUL-terminated name and `size` value bytes. The kernel
 * sends all 16 bytes only to a server that set FUSE_SETXATTR_EXT in its INIT reply
 * (fc->setxattr_ext), otherwise just the first 8 (FUSE_COMPAT_SETXATTR_IN_SIZE).
 */
export const FUSE_SETXATTR_IN = defineLayout({
  name: 'fuse_setxattr_in',
  size: 16,
  fields: [
    { name: 'size', type: 'u32', offset: 0 }, // value length
    { name: 'flags', type: 'u32', offset: 4 }, // XATTR_CREATE / XATTR_REPLACE, from setxattr(2)
    { name: 'setxattr_flags', type: 'u32', offset: 8 }, // 7.33: FUSE_SETXATTR_ACL_KILL_SGID
    { name: 'padding', type: 'u32', offset: 12 },
  ],
});
/** Bytes of fuse_setxattr_in sent to a server without FUSE_SETXATTR_EXT. */
export const FUSE_COMPAT_SETXATTR_IN_SIZE = 8;

/** FSYNC and FSYNCDIR request. */
export const FUSE_FSYNC_IN = defineLayout({
  name: 'fuse_fsync_in',
  size: 16,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'fsync_flags', type: 'u32', offset: 8 }, // FUSE_FSYNC_FDATASYNC for fdatasync(2)
    { name: 'padding', type: 'u32', offset: 12 },
  ],
});

/** FALLOCATE request; mode is a subset of FUSE_FALLOCATE_MODES (KEEP_SIZE|PUNCH_HOLE|ZERO_RANGE). */
export const FUSE_FALLOCATE_IN = defineLayout({
  name: 'fuse_fallocate_in',
  size: 32,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'offset', type: 'u64', offset: 8 },
    { name: 'length', type: 'u64', offset: 16 },
    { name: 'mode', type: 'u32', offset: 24 },
    { name: 'padding', type: 'u32', offset: 28 },
  ],
});

/** LSEEK request: sent only for SEEK_DATA / SEEK_HOLE. */
export const FUSE_LSEEK_IN = defineLayout({
  name: 'fuse_lseek_in',
  size: 24,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'offset', type: 'u64w', offset: 8 }, // a loff_t: a negative SEEK_DATA offset goes out as is
    { name: 'whence', type: 'u32', offset: 16 },
    { name: 'padding', type: 'u32', offset: 20 },
  ],
});

/** LSEEK reply: the new file position, which the kernel stores in f_pos as is. */
export const FUSE_LSEEK_OUT = defineLayout({
  name: 'fuse_lseek_out',
  size: 8,
  fields: [{ name: 'offset', type: 'u64', offset: 0 }],
});

/**
 * COPY_FILE_RANGE and COPY_FILE_RANGE_64 request, sent to the source file's nodeid; the
 * destination is nodeid_out/fh_out. flags is copy_file_range(2)'s (always 0 today).
 */
export const FUSE_COPY_FILE_RANGE_IN = defineLayout({
  name: 'fuse_copy_file_range_in',
  size: 56,
  fields: [
    { name: 'fh_in', type: 'u64', offset: 0 },
    { name: 'off_in', type: 'u64', offset: 8 },
    { name: 'nodeid_out', type: 'u64', offset: 16 },
    { name: 'fh_out', type: 'u64', offset: 24 },
    { name: 'off_out', type: 'u64', offset: 32 },
    { name: 'len', type: 'u64', offset: 40 },
    { name: 'flags', type: 'u64', offset: 48 },
  ],
});

/** 7.45: COPY_FILE_RANGE_64 reply (COPY_FILE_RANGE's is fuse_write_out, whose u32 size capped copies). */
export const FUSE_COPY_FILE_RANGE_OUT = defineLayout({
  name: 'fuse_copy_file_range_out',
  size: 8,
  fields: [{ name: 'bytes_copied', type: 'u64', offset: 0 }],
});

/**
 * A lock range. start/end are byte offsets, end inclusive; a lock to end of file has
 * end = OFFSET_MAX (2^63 - 1), so both are 'u64w'. type is F_RDLCK/F_WRLCK/F_UNLCK; pid is
 * the locker's tgid in a request (0 for unlocks and GETLK) and the holder's in a GETLK reply.
 */
export const FUSE_FILE_LOCK = defineLayout({
  name: 'fuse_file_lock',
  size: 24,
  fields: [
    { name: 'start', type: 'u64w', offset: 0 },
    { name: 'end', type: 'u64w', offset: 8 },
    { name: 'type', type: 'u32', offset: 16 },
    { name: 'pid', type: 'u32', offset: 20 },
  ],
});

/** GETLK, SETLK and SETLKW request. owner: the files-struct owner (POSIX) or the open file's (flock). */
export const FUSE_LK_IN = defineLayout({
  name: 'fuse_lk_in',
  size: 48,
  fields: [
    { name: 'fh', type: 'u64', offset: 0 },
    { name: 'owner', type: 'u64w', offset: 8 },
    { name: 'lk', type: 'struct', offset: 16, layout: FUSE_FILE_LOCK },
    { name: 'lk_flags', type: 'u32', offset: 40 }, // FUSE_LK_FLOCK for flock(2)
    { name: 'padding', type: 'u32', offset: 44 },
  ],
});

/** GETLK reply: the conflicting lock, or type F_UNLCK when there is none. */
export const FUSE_LK_OUT = defineLayout({
  name: 'fuse_lk_out',
  size: 24,
  fields: [{ name: 'lk', type: 'struct', offset: 0, layout: FUSE_FILE_LOCK }],
});

/** FORGET request (no reply): drop nlookup references to the header's nodeid. */
export const FUSE_FORGET_IN = defineLayout({
  name: 'fuse_forget_in',
  size: 8,
  fields: [{ name: 'nlookup', type: 'u64', offset: 0 }],
});

/** BATCH_FORGET request header (header nodeid 0), followed by `count` fuse_forget_one. */
export const FUSE_BATCH_FORGET_IN = defineLayout({
  name: 'fuse_batch_forget_in',
  size: 8,
  fields: [
    { name: 'count', type: 'u32', offset: 0 },
    { name: 'dummy', type: 'u32', offset: 4 },
  ],
});

/** One entry of a BATCH_FORGET. */
export const FUSE_FORGET_ONE = defineLayout({
  name: 'fuse_forget_one',
  size: 16,
  fields: [
    { name: 'nodeid', type: 'u64', offset: 0 },
    { name: 'nlookup', type: 'u64', offset: 8 },
  ],
});

/**
 * CREATE (and TMPFILE) request, followed by the NUL-terminated name. flags are the open(2)
 * flags with O_CREAT (and O_EXCL if given) kept; umask is the caller's (the kernel applied
 * it to mode already unless the server asked for DONT_MASK).
 */
export const FUSE_CREATE_IN = defineLayout({
  name: 'fuse_create_in',
  size: 16,
  fields: [
    { name: 'flags', type: 'u32', offset: 0 },
    { name: 'mode', type: 'u32', offset: 4 },
    { name: 'umask', type: 'u32', offset: 8 },
    { name: 'open_flags', type: 'u32', offset: 12 }, // 7.33: FUSE_OPEN_KILL_SUIDGID (was padding)
  ],
});

/** MKNOD request, followed by the NUL-terminated name. Also the CREATE fallback after its ENOSYS. */
export const FUSE_MKNOD_IN = defineLayout({
  name: 'fuse_mknod_in',
  size: 16,
  fields: [
    { name: 'mode', type: 'u32', offset: 0 }, // file type included (S_IFREG, S_IFIFO, ...)
    { name: 'rdev', type: 'u32', offset: 4 },
    { name: 'umask', type: 'u32', offset: 8 },
    { name: 'padding', type: 'u32', offset: 12 },
  ],
});

/** MKDIR request, followed by the NUL-terminated name. mode has no file-type bits. */
export const FUSE_MKDIR_IN = defineLayout({
  name: 'fuse_mkdir_in',
  size: 8,
  fields: [
    { name: 'mode', type: 'u32', offset: 0 },
    { name: 'umask', type: 'u32', offset: 4 },
  ],
});

/** RENAME request (header nodeid: old parent), followed by "oldname\0newname\0". */
export const FUSE_RENAME_IN = defineLayout({
  name: 'fuse_rename_in',
  size: 8,
  fields: [{ name: 'newdir', type: 'u64', offset: 0 }],
});

/** RENAME2 request: renameat2(2) with non-zero flags (RENAME_NOREPLACE/EXCHANGE/WHITEOUT). */
export const FUSE_RENAME2_IN = defineLayout({
  name: 'fuse_rename2_in',
  size: 16,
  fields: [
    { name: 'newdir', type: 'u64', offset: 0 },
    { name: 'flags', type: 'u32', offset: 8 },
    { name: 'padding', type: 'u32', offset: 12 },
  ],
});

/** LINK request (header nodeid: the new parent), followed by the new NUL-terminated name. */
export const FUSE_LINK_IN = defineLayout({
  name: 'fuse_link_in',
  size: 8,
  fields: [{ name: 'oldnodeid', type: 'u64', offset: 0 }],
});

/** ACCESS request: access(2)'s mask (R_OK/W_OK/X_OK; F_OK is 0). */
export const FUSE_ACCESS_IN = defineLayout({
  name: 'fuse_access_in',
  size: 8,
  fields: [
    { name: 'mask', type: 'u32', offset: 0 },
    { name: 'padding', type: 'u32', offset: 4 },
  ],
});

/** INTERRUPT request (its own unique has bit 0 set): the unique of the request to interrupt. */
export const FUSE_INTERRUPT_IN = defineLayout({
  name: 'fuse_interrupt_in',
  size: 8,
  fields: [{ name: 'unique', type: 'u64w', offset: 0 }],
});

/**
 * The fixed part of one READDIR record; the name (namelen bytes, no NUL) follows and the
 * record is padded to a multiple of 8 (FUSE_DIRENT_ALIGN). off is the cookie the kernel
 * sends back as the next READDIR's offset: servers pass telldir() values, 64-bit hashes on
 * ext4, hence 'u64w'. type is DT_* (mode >> 12).
 */
export const FUSE_DIRENT = defineLayout({
  name: 'fuse_dirent',
  size: 24,
  fields: [
    { name: 'ino', type: 'u64', offset: 0 },
    { name: 'off', type: 'u64w', offset: 8 },
    { name: 'namelen', type: 'u32', offset: 16 },
    { name: 'type', type: 'u32', offset: 20 },
  ],
});
/** offsetof(struct fuse_dirent, name) */
export const FUSE_NAME_OFFSET = FUSE_DIRENT.size;

/**
 * The fixed part of one READDIRPLUS record: a LOOKUP reply and a dirent, then the name,
 * padded to 8. Each entry with a non-zero nodeid counts as a lookup (the kernel will FORGET it).
 */
export const FUSE_DIRENTPLUS = defineLayout({
  name: 'fuse_direntplus',
  size: 152,
  fields: [
    { name: 'entry_out', type: 'struct', offset: 0, layout: FUSE_ENTRY_OUT },
    { name: 'dirent', type: 'struct', offset: 128, layout: FUSE_DIRENT },
  ],
});
/** offsetof(struct fuse_direntplus, dirent.name) */
export const FUSE_NAME_OFFSET_DIRENTPLUS = FUSE_DIRENTPLUS.size;

/** A statx timestamp. tv_sec is signed in the header (int64_t); here the raw 64 bits, as u64w. */
export const FUSE_SX_TIME = defineLayout({
  name: 'fuse_sx_time',
  size: 16,
  fields: [
    { name: 'tv_sec', type: 'u64w', offset: 0 },
    { name: 'tv_nsec', type: 'u32', offset: 8 },
    { name: '__reserved', type: 'reserved', offset: 12, size: 4 },
  ],
});

/** struct fuse_statx: bit-for-bit statx(2)'s struct statx, first 256 bytes (7.39). */
export const FUSE_STATX = defineLayout({
  name: 'fuse_statx',
  size: 256,
  fields: [
    { name: 'mask', type: 'u32', offset: 0 }, // STATX_* the server filled in
    { name: 'blksize', type: 'u32', offset: 4 },
    { name: 'attributes', type: 'u64', offset: 8 },
    { name: 'nlink', type: 'u32', offset: 16 },
    { name: 'uid', type: 'u32', offset: 20 },
    { name: 'gid', type: 'u32', offset: 24 },
    { name: 'mode', type: 'u16', offset: 28 },
    { name: '__spare0', type: 'reserved', offset: 30, size: 2 },
    { name: 'ino', type: 'u64', offset: 32 },
    { name: 'size', type: 'u64', offset: 40 },
    { name: 'blocks', type: 'u64', offset: 48 },
    { name: 'attributes_mask', type: 'u64', offset: 56 },
    { name: 'atime', type: 'struct', offset: 64, layout: FUSE_SX_TIME },
    { name: 'btime', type: 'struct', offset: 80, layout: FUSE_SX_TIME },
    { name: 'ctime', type: 'struct', offset: 96, layout: FUSE_SX_TIME },
    { name: 'mtime', type: 'struct', offset: 112, layout: FUSE_SX_TIME },
    { name: 'rdev_major', type: 'u32', offset: 128 },
    { name: 'rdev_minor', type: 'u32', offset: 132 },
    { name: 'dev_major', type: 'u32', offset: 136 },
    { name: 'dev_minor', type: 'u32', offset: 140 },
    { name: '__spare2', type: 'reserved', offset: 144, size: 112 }, // uint64_t __spare2[14]
  ],
});

/**
 * STATX request (7.39): sent by a statx(2) that asks for more than STATX_BASIC_STATS (e.g.
 * STATX_BTIME), or forces a sync, unless the server answered ENOSYS before (fc->no_statx).
 */
export const FUSE_STATX_IN = defineLayout({
  name: 'fuse_statx_in',
  size: 24,
  fields: [
    { name: 'getattr_flags', type: 'u32', offset: 0 }, // FUSE_GETATTR_FH: fh is valid
    { name: 'reserved', type: 'u32', offset: 4 },
    { name: 'fh', type: 'u64', offset: 8 },
    { name: 'sx_flags', type: 'u32', offset: 16 }, // AT_STATX_* sync flags
    { name: 'sx_mask', type: 'u32', offset: 20 }, // STATX_* wanted
  ],
});

/** STATX reply. */
export const FUSE_STATX_OUT = defineLayout({
  name: 'fuse_statx_out',
  size: 288,
  fields: [
    { name: 'attr_valid', type: 'u64', offset: 0 },
    { name: 'attr_valid_nsec', type: 'u32', offset: 8 },
    { name: 'flags', type: 'u32', offset: 12 },
    { name: 'spare', type: 'reserved', offset: 16, size: 16 }, // uint64_t spare[2]
    { name: 'stat', type: 'struct', offset: 32, layout: FUSE_STATX },
  ],
});

/** Round a record length up to 8 bytes (FUSE_REC_ALIGN / FUSE_DIRENT_ALIGN). */
export function direntAlign(n: number): number {
  return Math.ceil(n / 8) * 8;
}

export type FuseInHeader = ValueOf<typeof FUSE_IN_HEADER>;
export type FuseOutHeader = ValueOf<typeof FUSE_OUT_HEADER>;
export type FuseInitIn = ValueOf<typeof FUSE_INIT_IN>;
export type FuseInitOut = ValueOf<typeof FUSE_INIT_OUT>;
export type FuseOpenIn = ValueOf<typeof FUSE_OPEN_IN>;
export type FuseOpenOut = ValueOf<typeof FUSE_OPEN_OUT>;
export type FuseReleaseIn = ValueOf<typeof FUSE_RELEASE_IN>;
export type FuseFlushIn = ValueOf<typeof FUSE_FLUSH_IN>;
export type FuseReadIn = ValueOf<typeof FUSE_READ_IN>;
export type FuseWriteIn = ValueOf<typeof FUSE_WRITE_IN>;
export type FuseWriteOut = ValueOf<typeof FUSE_WRITE_OUT>;
export type FuseAttr = ValueOf<typeof FUSE_ATTR>;
export type FuseAttrOut = ValueOf<typeof FUSE_ATTR_OUT>;
export type FuseGetattrIn = ValueOf<typeof FUSE_GETATTR_IN>;
export type FuseEntryOut = ValueOf<typeof FUSE_ENTRY_OUT>;
export type FuseBackingMap = ValueOf<typeof FUSE_BACKING_MAP>;
export type FuseKstatfs = ValueOf<typeof FUSE_KSTATFS>;
export type FuseStatfsOut = ValueOf<typeof FUSE_STATFS_OUT>;
export type FuseSetattrIn = ValueOf<typeof FUSE_SETATTR_IN>;
export type FuseGetxattrIn = ValueOf<typeof FUSE_GETXATTR_IN>;
export type FuseGetxattrOut = ValueOf<typeof FUSE_GETXATTR_OUT>;
export type FuseSetxattrIn = ValueOf<typeof FUSE_SETXATTR_IN>;
export type FuseFsyncIn = ValueOf<typeof FUSE_FSYNC_IN>;
export type FuseFallocateIn = ValueOf<typeof FUSE_FALLOCATE_IN>;
export type FuseLseekIn = ValueOf<typeof FUSE_LSEEK_IN>;
export type FuseLseekOut = ValueOf<typeof FUSE_LSEEK_OUT>;
export type FuseCopyFileRangeIn = ValueOf<typeof FUSE_COPY_FILE_RANGE_IN>;
export type FuseCopyFileRangeOut = ValueOf<typeof FUSE_COPY_FILE_RANGE_OUT>;
export type FuseFileLock = ValueOf<typeof FUSE_FILE_LOCK>;
export type FuseLkIn = ValueOf<typeof FUSE_LK_IN>;
export type FuseLkOut = ValueOf<typeof FUSE_LK_OUT>;
export type FuseForgetIn = ValueOf<typeof FUSE_FORGET_IN>;
export type FuseBatchForgetIn = ValueOf<typeof FUSE_BATCH_FORGET_IN>;
export type FuseForgetOne = ValueOf<typeof FUSE_FORGET_ONE>;
export type FuseCreateIn = ValueOf<typeof FUSE_CREATE_IN>;
export type FuseMknodIn = ValueOf<typeof FUSE_MKNOD_IN>;
export type FuseMkdirIn = ValueOf<typeof FUSE_MKDIR_IN>;
export type FuseRenameIn = ValueOf<typeof FUSE_RENAME_IN>;
export type FuseRename2In = ValueOf<typeof FUSE_RENAME2_IN>;
export type FuseLinkIn = ValueOf<typeof FUSE_LINK_IN>;
export type FuseAccessIn = ValueOf<typeof FUSE_ACCESS_IN>;
export type FuseInterruptIn = ValueOf<typeof FUSE_INTERRUPT_IN>;
export type FuseDirentHead = ValueOf<typeof FUSE_DIRENT>;
export type FuseDirentplusHead = ValueOf<typeof FUSE_DIRENTPLUS>;
export type FuseSxTime = ValueOf<typeof FUSE_SX_TIME>;
export type FuseStatx = ValueOf<typeof FUSE_STATX>;
export type FuseStatxIn = ValueOf<typeof FUSE_STATX_IN>;
export type FuseStatxOut = ValueOf<typeof FUSE_STATX_OUT>;

/** Every layout, by C name, for printing and for tests. */
export const LAYOUTS: readonly Layout[] = [
  FUSE_IN_HEADER,
  FUSE_OUT_HEADER,
  FUSE_INIT_IN,
  FUSE_INIT_OUT,
  FUSE_OPEN_IN,
  FUSE_OPEN_OUT,
  FUSE_RELEASE_IN,
  FUSE_FLUSH_IN,
  FUSE_READ_IN,
  FUSE_WRITE_IN,
  FUSE_WRITE_OUT,
  FUSE_ATTR,
  FUSE_ATTR_OUT,
  FUSE_GETATTR_IN,
  FUSE_ENTRY_OUT,
  FUSE_BACKING_MAP,
  FUSE_KSTATFS,
  FUSE_STATFS_OUT,
  FUSE_SETATTR_IN,
  FUSE_GETXATTR_IN,
  FUSE_GETXATTR_OUT,
  FUSE_SETXATTR_IN,
  FUSE_FSYNC_IN,
  FUSE_FALLOCATE_IN,
  FUSE_LSEEK_IN,
  FUSE_LSEEK_OUT,
  FUSE_COPY_FILE_RANGE_IN,
  FUSE_COPY_FILE_RANGE_OUT,
  FUSE_FILE_LOCK,
  FUSE_LK_IN,
  FUSE_LK_OUT,
  FUSE_FORGET_IN,
  FUSE_BATCH_FORGET_IN,
  FUSE_FORGET_ONE,
  FUSE_CREATE_IN,
  FUSE_MKNOD_IN,
  FUSE_MKDIR_IN,
  FUSE_RENAME_IN,
  FUSE_RENAME2_IN,
  FUSE_LINK_IN,
  FUSE_ACCESS_IN,
  FUSE_INTERRUPT_IN,
  FUSE_DIRENT,
  FUSE_DIRENTPLUS,
  FUSE_SX_TIME,
  FUSE_STATX,
  FUSE_STATX_IN,
  FUSE_STATX_OUT,
];

// ---------------------------------------------------------------------------
// Generic encode / decode.

type Scalars = Record<string, unknown>;

const RANGE: Record<Exclude<ScalarType, 'u64' | 'u64w'>, readonly [number, number]> = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  u32: [0, 0xffff_ffff],
  i32: [-0x8000_0000, 0x7fff_ffff],
};

/** A value with every field 0, to spread over: `{ ...zeroValue(FUSE_INIT_OUT), major: 7 }`. */
export function zeroValue<L extends Layout>(layout: L): ValueOf<L> {
  const out: Scalars = {};
  for (const f of layout.fields) {
    if (f.type === 'struct') out[f.name] = zeroValue(f.layout);
    else if (f.type !== 'reserved') out[f.name] = 0;
  }
  return out as ValueOf<L>;
}

/** Serialize `value` into a new buffer of exactly layout.size bytes. */
export function encode<L extends Layout>(layout: L, value: ValueOf<L>): Uint8Array {
  const bytes = new Uint8Array(layout.size); // zero-filled, so reserved bytes are 0
  encodeInto(layout, value, bytes, 0);
  return bytes;
}

/** Serialize `value` into `bytes` at `offset` (for building whole messages without copies). */
export function encodeInto<L extends Layout>(layout: L, value: ValueOf<L>, bytes: Uint8Array, offset = 0): void {
  if (offset < 0 || bytes.length - offset < layout.size) {
    throw new WireError(layout.name, 0, `need ${layout.size} bytes at offset ${offset}, buffer is ${bytes.length}`);
  }
  writeFields(layout, layout.name, '', value as Scalars, bytes, offset, offset);
}

// Little-endian integers straight in the bytes: a DataView per message cost more than the
// fields it wrote (the callers check the struct fits, so every index is in bounds).
const TWO_32 = 0x1_0000_0000;
/** The high word of the largest safe integer: a u64 whose high word is at most this is a safe number. */
const SAFE_HI = 0x1f_ffff;

function put32(b: Uint8Array, at: number, v: number) {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}

function get32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** A u64 in 0..2^64-1 (a number must be a safe integer). */
function put64(b: Uint8Array, at: number, v: Wide) {
  if (typeof v === 'number') {
    const lo = v % TWO_32;
    put32(b, at, lo);
    put32(b, at + 4, (v - lo) / TWO_32);
  } else {
    put32(b, at, Number(v & 0xffff_ffffn));
    put32(b, at + 4, Number(v >> 32n));
  }
}

function get64(b: Uint8Array, at: number): bigint {
  return (BigInt(get32(b, at + 4)) << 32n) | BigInt(get32(b, at));
}

function writeFields(
  layout: Layout,
  root: string,
  prefix: string,
  value: Scalars,
  bytes: Uint8Array,
  base: number,
  rootBase: number,
): void {
  for (const f of layout.fields) {
    const at = base + f.offset;
    if (f.type === 'reserved') {
      bytes.fill(0, at, at + f.size);
      continue;
    }
    const given = value[f.name];
    // an absent optional field is encoded as 0, like the unused bytes it used to be
    const v = given === undefined && f.type !== 'struct' && f.optional ? 0 : given;
    if (f.type === 'u64w') {
      const ok = typeof v === 'bigint' ? v >= 0n && v <= 0xffff_ffff_ffff_ffffn : typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
      if (!ok) {
        throw new WireError(root, at - rootBase, `field ${prefix + f.name} (u64) = ${String(v)} is not an integer in 0..2^64-1`);
      }
      put64(bytes, at, v as Wide);
      continue;
    }
    if (f.type === 'struct') {
      if (typeof v !== 'object' || v === null) {
        throw new WireError(root, at - rootBase, `field ${prefix + f.name} must be an object (struct ${f.layout.name})`);
      }
      writeFields(f.layout, root, `${prefix + f.name}.`, v as Scalars, bytes, at, rootBase);
      continue;
    }
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new WireError(root, at - rootBase, `field ${prefix + f.name} (${f.type}) must be an integer, got ${String(v)}`);
    }
    if (f.type === 'u64') {
      if (v < 0 || v > Number.MAX_SAFE_INTEGER) {
        throw new WireError(root, at - rootBase, `field ${prefix + f.name} (u64) = ${v} is outside 0..Number.MAX_SAFE_INTEGER`);
      }
      put64(bytes, at, v);
      continue;
    }
    const range = RANGE[f.type];
    if (v < range[0] || v > range[1]) {
      throw new WireError(root, at - rootBase, `field ${prefix + f.name} (${f.type}) = ${v} is outside ${range[0]}..${range[1]}`);
    }
    switch (f.type) {
      case 'u8':
        bytes[at] = v;
        break;
      case 'u16':
        bytes[at] = v & 0xff;
        bytes[at + 1] = v >>> 8;
        break;
      case 'u32':
      case 'i32':
        put32(bytes, at, v);
        break;
    }
  }
}

/** Parse layout.size bytes at `offset`. Extra bytes after the struct are the caller's business. */
export function decode<L extends Layout>(layout: L, bytes: Uint8Array, offset = 0): ValueOf<L> {
  const avail = bytes.length - offset;
  if (offset < 0 || avail < layout.size) {
    throw new WireError(layout.name, 0, `have ${Math.max(avail, 0)} bytes at offset ${offset}, need ${layout.size}`);
  }
  return readFields(layout, layout.name, '', bytes, offset, offset) as ValueOf<L>;
}

/**
 * Decode from possibly fewer than layout.size bytes, treating the missing tail
 * as zeros. This is how the kernel handles a short INIT reply from an older
 * server: it copies what arrived into a zeroed struct, so e.g. a 24-byte
 * fuse_init_out yields max_stack_depth 0. More than layout.size bytes is an error.
 */
export function decodeZeroExtended<L extends Layout>(layout: L, bytes: Uint8Array, offset = 0): ValueOf<L> {
  const avail = bytes.length - offset;
  if (offset < 0 || avail > layout.size) {
    throw new WireError(layout.name, layout.size, `got ${avail} bytes, at most ${layout.size} allowed`);
  }
  const full = new Uint8Array(layout.size);
  full.set(bytes.subarray(offset));
  return decode(layout, full);
}

function readFields(
  layout: Layout,
  root: string,
  prefix: string,
  bytes: Uint8Array,
  base: number,
  rootBase: number,
): Scalars {
  const out: Scalars = {};
  for (const f of layout.fields) {
    const at = base + f.offset;
    switch (f.type) {
      case 'reserved':
        break;
      case 'struct':
        out[f.name] = readFields(f.layout, root, `${prefix}${f.name}.`, bytes, at, rootBase);
        break;
      case 'u8':
        out[f.name] = bytes[at]!;
        break;
      case 'u16':
        out[f.name] = bytes[at]! | (bytes[at + 1]! << 8);
        break;
      case 'u32':
        out[f.name] = get32(bytes, at);
        break;
      case 'i32':
        out[f.name] = get32(bytes, at) | 0;
        break;
      case 'u64w': {
        const hi = get32(bytes, at + 4);
        out[f.name] = hi <= SAFE_HI ? hi * TWO_32 + get32(bytes, at) : get64(bytes, at);
        break;
      }
      case 'u64': {
        const hi = get32(bytes, at + 4);
        if (hi > SAFE_HI) {
          throw new WireError(
            root,
            at - rootBase,
            `field ${prefix}${f.name} (u64) = 0x${get64(bytes, at).toString(16)} exceeds Number.MAX_SAFE_INTEGER`,
          );
        }
        out[f.name] = hi * TWO_32 + get32(bytes, at);
        break;
      }
    }
  }
  return out;
}

/** Paths of reserved fields (including nested ones) holding non-zero bytes; [] when clean or when bytes are short. */
export function nonZeroReserved(layout: Layout, bytes: Uint8Array, offset = 0): string[] {
  const found: string[] = [];
  const walk = (l: Layout, base: number, prefix: string): void => {
    for (const f of l.fields) {
      if (f.type === 'struct') walk(f.layout, base + f.offset, `${prefix}${f.name}.`);
      else if (f.type === 'reserved' && bytes.subarray(base + f.offset, base + f.offset + f.size).some((b) => b !== 0)) {
        found.push(prefix + f.name);
      }
    }
  };
  walk(layout, offset, '');
  return found;
}

// ---------------------------------------------------------------------------
// Teaching output.

/** Classic 16-bytes-per-line dump: offset, hex bytes, printable ASCII. */
export function hexdump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 16) {
    const row = Array.from(bytes.subarray(i, i + 16));
    const hex = row.map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = row.map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${i.toString(16).padStart(4, '0')}  ${`${left}  ${right}`.padEnd(48)}  |${ascii}|`);
  }
  return lines.join('\n');
}

/**
 * One line per field, e.g. "36  max_stack_depth       u32       2".
 * Offsets are relative to the struct; nested fields print as "attr.ino".
 * Fields past the end of `bytes` print "(missing)", which makes short INIT
 * replies easy to explain. Never throws on out-of-range u64 (prints hex).
 */
export function describe(layout: Layout, bytes: Uint8Array, offset = 0): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rows: [string, string, string, string][] = [];
  const walk = (l: Layout, base: number, prefix: string): void => {
    for (const f of l.fields) {
      const at = base + f.offset;
      const rel = String(at - offset);
      const name = prefix + f.name;
      if (f.type === 'struct') {
        walk(f.layout, at, `${name}.`);
        continue;
      }
      const size = fieldSize(f);
      const type = f.type === 'reserved' ? `reserved[${f.size}]` : f.type === 'u64w' ? 'u64' : f.type;
      if (at + size > bytes.length) {
        rows.push([rel, name, type, '(missing)']);
        continue;
      }
      let shown: string;
      switch (f.type) {
        case 'reserved':
          shown = bytes.subarray(at, at + f.size).every((b) => b === 0) ? 'zero' : 'NON-ZERO';
          break;
        case 'u8':
          shown = String(view.getUint8(at));
          break;
        case 'u16':
          shown = String(view.getUint16(at, true));
          break;
        case 'u32':
          shown = String(view.getUint32(at, true));
          break;
        case 'i32':
          shown = String(view.getInt32(at, true));
          break;
        case 'u64':
        case 'u64w': {
          const big = view.getBigUint64(at, true);
          shown = big > BigInt(Number.MAX_SAFE_INTEGER) ? `0x${big.toString(16)}` : String(big);
          break;
        }
      }
      rows.push([rel, name, type, shown]);
    }
  };
  walk(layout, offset, '');
  const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return rows.map(([o, n, t, v]) => `${o.padStart(w[0] ?? 0)}  ${n.padEnd(w[1] ?? 0)}  ${t.padEnd(w[2] ?? 0)}  ${v}`);
}

/** The layout itself as text: "offset size type name" per field, for docs and teaching. */
export function formatLayout(layout: Layout): string {
  const lines = [`struct ${layout.name} /* ${layout.size} bytes */`];
  for (const f of layout.fields) {
    const type = f.type === 'struct' ? `struct ${f.layout.name}` : f.type === 'reserved' ? 'reserved' : f.type === 'u64w' ? 'u64' : f.type;
    lines.push(`  ${String(f.offset).padStart(3)}  ${String(fieldSize(f)).padStart(3)}  ${type.padEnd(16)} ${f.name}`);
  }
  return lines.join('\n');
}
