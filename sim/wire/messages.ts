// Whole /dev/fuse messages: a header plus an opcode-specific body.
//
// Requests (kernel -> server) are fuse_in_header + argument struct(s);
// replies (server -> kernel) are fuse_out_header + result struct(s). One
// read(2) or write(2) on /dev/fuse carries exactly one message, so the length
// field in the header must match the byte count exactly.
//
// The reply checks below model what the kernel enforces when a server writes a
// reply. fs/fuse/dev.c's fuse_copy_out_args takes each reply argument at the size
// the waiting request declared: a fixed-size argument (an attr_out, an entry_out,
// an open_out, ...) must arrive exactly, and only the last argument of a request
// marked out_argvar (READ data, xattr values, READDIR buffers, READLINK) may be
// shorter, never longer, than the size the request asked for. A reply that breaks
// this fails the server's write(2) with EINVAL, and the waiting request ends with
// EIO. Here every such violation is a WireError; the model kernel turns it into the
// server's EINVAL and the waiting request's EIO. A ReplyContentError is different:
// the kernel accepted the bytes (the write succeeded) and rejects their content
// afterwards (a dirent's namelen, a malformed xattr list), so only the caller gets
// its errno.

import {
  FUSE_NAME_MAX,
  FUSE_OPCODE,
  FUSE_READLINK_MAX,
  opcodeName,
} from './uapi.ts';
import {
  WireError,
  decode,
  decodeZeroExtended,
  direntAlign,
  encode,
  encodeInto,
  FUSE_ACCESS_IN,
  FUSE_ATTR_OUT,
  FUSE_BATCH_FORGET_IN,
  FUSE_COMPAT_SETXATTR_IN_SIZE,
  FUSE_COPY_FILE_RANGE_IN,
  FUSE_COPY_FILE_RANGE_OUT,
  FUSE_CREATE_IN,
  FUSE_DIRENT,
  FUSE_ENTRY_OUT,
  FUSE_FALLOCATE_IN,
  FUSE_FLUSH_IN,
  FUSE_FORGET_IN,
  FUSE_FORGET_ONE,
  FUSE_FSYNC_IN,
  FUSE_GETATTR_IN,
  FUSE_GETXATTR_IN,
  FUSE_GETXATTR_OUT,
  FUSE_IN_HEADER,
  FUSE_INIT_IN,
  FUSE_INIT_OUT,
  FUSE_INTERRUPT_IN,
  FUSE_LINK_IN,
  FUSE_LK_IN,
  FUSE_LK_OUT,
  FUSE_LSEEK_IN,
  FUSE_LSEEK_OUT,
  FUSE_MKDIR_IN,
  FUSE_MKNOD_IN,
  FUSE_NAME_OFFSET,
  FUSE_NAME_OFFSET_DIRENTPLUS,
  FUSE_OPEN_IN,
  FUSE_OPEN_OUT,
  FUSE_OUT_HEADER,
  FUSE_READ_IN,
  FUSE_RELEASE_IN,
  FUSE_RENAME2_IN,
  FUSE_RENAME_IN,
  FUSE_SETATTR_IN,
  FUSE_SETXATTR_IN,
  FUSE_STATFS_OUT,
  FUSE_STATX_IN,
  FUSE_STATX_OUT,
  FUSE_WRITE_IN,
  FUSE_WRITE_OUT,
} from './structs.ts';
import type {
  Wide,
  FuseAccessIn,
  FuseAttrOut,
  FuseBatchForgetIn,
  FuseCopyFileRangeIn,
  FuseCopyFileRangeOut,
  FuseCreateIn,
  FuseEntryOut,
  FuseFallocateIn,
  FuseFlushIn,
  FuseForgetIn,
  FuseForgetOne,
  FuseFsyncIn,
  FuseGetattrIn,
  FuseGetxattrIn,
  FuseGetxattrOut,
  FuseInHeader,
  FuseInitIn,
  FuseInitOut,
  FuseInterruptIn,
  FuseLinkIn,
  FuseLkIn,
  FuseLkOut,
  FuseLseekIn,
  FuseLseekOut,
  FuseMkdirIn,
  FuseMknodIn,
  FuseOpenIn,
  FuseOpenOut,
  FuseOutHeader,
  FuseReadIn,
  FuseReleaseIn,
  FuseRename2In,
  FuseRenameIn,
  FuseSetattrIn,
  FuseSetxattrIn,
  FuseStatfsOut,
  FuseStatxIn,
  FuseStatxOut,
  FuseWriteIn,
  FuseWriteOut,
  Layout,
  ValueOf,
} from './structs.ts';

export { WireError, wide, wideEqual, formatWide } from './structs.ts';
export type { Wide } from './structs.ts';

const IN_HDR = FUSE_IN_HEADER.size;
const OUT_HDR = FUSE_OUT_HEADER.size;

/** The kernel rejects reply errors at or below -ERESTARTSYS (512): those are kernel-internal codes. */
const MIN_REPLY_ERROR = -511;

/**
 * Kernels before 7.36 sent only major, minor, max_readahead and flags; newer
 * servers must still accept that, so INIT requests may be this short.
 */
const INIT_IN_MIN_SIZE = 16;

// ---------------------------------------------------------------------------
// Requests.

export interface RequestHeaderFields {
  opcode: number;
  /** a number, or a bigint for values above 2^53 (a real kernel's resend bit) */
  unique: Wide;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
  /** Length of request extensions at the end of the body, in 8-byte units. Default 0. */
  total_extlen?: number;
}

/** Build a request; header.len is computed. Extensions, if any, must already be at the end of `body`. */
export function encodeRequest(h: RequestHeaderFields, body: Uint8Array | null): Uint8Array {
  const bodyLen = body?.length ?? 0;
  const extlen = h.total_extlen ?? 0;
  if (extlen * 8 > bodyLen) {
    throw new WireError('fuse_in_header', 36, `total_extlen ${extlen} (x8 bytes) exceeds body of ${bodyLen} bytes`);
  }
  const out = new Uint8Array(IN_HDR + bodyLen);
  const header: FuseInHeader = {
    len: out.length,
    opcode: h.opcode,
    unique: h.unique,
    nodeid: h.nodeid,
    uid: h.uid,
    gid: h.gid,
    pid: h.pid,
    total_extlen: extlen,
    padding: 0,
  };
  encodeInto(FUSE_IN_HEADER, header, out, 0);
  if (body) out.set(body, IN_HDR);
  return out;
}

export interface DecodedRequest {
  header: FuseInHeader;
  /** The opcode's argument bytes, without extensions. A view into the input, not a copy. */
  body: Uint8Array;
  /** Request extensions (total_extlen * 8 bytes at the very end); usually empty. */
  ext: Uint8Array;
}

export function decodeRequest(bytes: Uint8Array): DecodedRequest {
  if (bytes.length < IN_HDR) {
    throw new WireError('fuse_in_header', 0, `message is ${bytes.length} bytes, need at least ${IN_HDR}`);
  }
  const header = decode(FUSE_IN_HEADER, bytes);
  if (header.len !== bytes.length) {
    throw new WireError('fuse_in_header', 0, `len field says ${header.len} bytes, message is ${bytes.length}`);
  }
  const extBytes = header.total_extlen * 8;
  if (IN_HDR + extBytes > bytes.length) {
    throw new WireError('fuse_in_header', 36, `total_extlen ${header.total_extlen} (x8 bytes) exceeds body`);
  }
  const split = bytes.length - extBytes;
  return { header, body: bytes.subarray(IN_HDR, split), ext: bytes.subarray(split) };
}

/** A name as the kernel sends it: the dentry's bytes (no NUL), and the same as text. */
export interface WireName {
  /** UTF-8 decoding of nameBytes (a name that is not UTF-8 shows U+FFFD where it breaks) */
  name: string;
  /** the bytes as sent, without the terminating NUL; a view into the body */
  nameBytes: Uint8Array;
}

/** Decoded request arguments, discriminated by `op` (the opcode name). */
export type RequestArg =
  | { op: 'INIT'; arg: FuseInitIn }
  | { op: 'OPEN' | 'OPENDIR'; arg: FuseOpenIn }
  | { op: 'RELEASE' | 'RELEASEDIR'; arg: FuseReleaseIn }
  | { op: 'READ'; arg: FuseReadIn }
  | { op: 'WRITE'; arg: FuseWriteIn; data: Uint8Array }
  | { op: 'FLUSH'; arg: FuseFlushIn }
  | { op: 'GETATTR'; arg: FuseGetattrIn }
  | ({ op: 'LOOKUP' } & WireName)
  | { op: 'DESTROY' }
  | { op: 'SETATTR'; arg: FuseSetattrIn }
  | ({ op: 'GETXATTR'; arg: FuseGetxattrIn } & WireName)
  | { op: 'LISTXATTR'; arg: FuseGetxattrIn }
  | ({
      op: 'SETXATTR';
      /** setxattr_flags is 0 when the kernel sent the 8-byte form (ext false) */
      arg: FuseSetxattrIn;
      /** whether the body carried the 16-byte fuse_setxattr_in (FUSE_SETXATTR_EXT) */
      ext: boolean;
      value: Uint8Array;
    } & WireName)
  | ({ op: 'REMOVEXATTR' } & WireName)
  | { op: 'FSYNC' | 'FSYNCDIR'; arg: FuseFsyncIn }
  | { op: 'FALLOCATE'; arg: FuseFallocateIn }
  | { op: 'LSEEK'; arg: FuseLseekIn }
  | { op: 'COPY_FILE_RANGE' | 'COPY_FILE_RANGE_64'; arg: FuseCopyFileRangeIn }
  | { op: 'STATFS' }
  | { op: 'READLINK' }
  | { op: 'GETLK' | 'SETLK' | 'SETLKW'; arg: FuseLkIn }
  | { op: 'FORGET'; arg: FuseForgetIn }
  | { op: 'BATCH_FORGET'; arg: FuseBatchForgetIn; forgets: FuseForgetOne[] }
  | ({ op: 'CREATE' | 'TMPFILE'; arg: FuseCreateIn } & WireName)
  | ({ op: 'MKNOD'; arg: FuseMknodIn } & WireName)
  | ({ op: 'MKDIR'; arg: FuseMkdirIn } & WireName)
  | ({
      op: 'SYMLINK';
      /** the link's target, the second string of the body */
      target: string;
      targetBytes: Uint8Array;
    } & WireName)
  | ({ op: 'LINK'; arg: FuseLinkIn } & WireName)
  | ({ op: 'UNLINK' | 'RMDIR' } & WireName)
  | ({ op: 'RENAME'; arg: FuseRenameIn } & RenameNames)
  | ({ op: 'RENAME2'; arg: FuseRename2In } & RenameNames)
  | { op: 'READDIR' | 'READDIRPLUS'; arg: FuseReadIn }
  | { op: 'ACCESS'; arg: FuseAccessIn }
  | { op: 'INTERRUPT'; arg: FuseInterruptIn }
  | { op: 'STATX'; arg: FuseStatxIn };

/** RENAME/RENAME2: the old name (in the header's nodeid) and the new one (in newdir). */
export interface RenameNames {
  oldname: string;
  oldnameBytes: Uint8Array;
  newname: string;
  newnameBytes: Uint8Array;
}

export type RequestOp = RequestArg['op'];

/** What the request decoder must know beyond the bytes. */
export interface RequestDecodeOptions {
  /**
   * The server set FUSE_SETXATTR_EXT in its INIT reply, so the kernel sends the 16-byte
   * fuse_setxattr_in. Default false: the 8-byte form every other server gets.
   */
  setxattrExt?: boolean;
}

/** Decode `body` (from decodeRequest, extensions already split off) for every opcode a 6.18 kernel sends; WireError for any other. */
export function decodeRequestArg(opcode: number, body: Uint8Array, opts: RequestDecodeOptions = {}): RequestArg {
  switch (opcode) {
    case FUSE_OPCODE.INIT:
      if (body.length < INIT_IN_MIN_SIZE) {
        throw new WireError('fuse_init_in', 0, `body is ${body.length} bytes, need at least ${INIT_IN_MIN_SIZE}`);
      }
      return { op: 'INIT', arg: decodeZeroExtended(FUSE_INIT_IN, body) };
    case FUSE_OPCODE.OPEN:
    case FUSE_OPCODE.OPENDIR:
      return { op: opcode === FUSE_OPCODE.OPEN ? 'OPEN' : 'OPENDIR', arg: exact(FUSE_OPEN_IN, body) };
    case FUSE_OPCODE.RELEASE:
    case FUSE_OPCODE.RELEASEDIR:
      return { op: opcode === FUSE_OPCODE.RELEASE ? 'RELEASE' : 'RELEASEDIR', arg: exact(FUSE_RELEASE_IN, body) };
    case FUSE_OPCODE.READ:
      return { op: 'READ', arg: exact(FUSE_READ_IN, body) };
    case FUSE_OPCODE.WRITE: {
      const arg = decode(FUSE_WRITE_IN, body);
      const data = body.subarray(FUSE_WRITE_IN.size);
      if (data.length !== arg.size) {
        throw new WireError('fuse_write_in', 16, `size field says ${arg.size} data bytes, ${data.length} follow`);
      }
      return { op: 'WRITE', arg, data };
    }
    case FUSE_OPCODE.FLUSH:
      return { op: 'FLUSH', arg: exact(FUSE_FLUSH_IN, body) };
    case FUSE_OPCODE.GETATTR:
      return { op: 'GETATTR', arg: exact(FUSE_GETATTR_IN, body) };
    case FUSE_OPCODE.LOOKUP:
      return { op: 'LOOKUP', ...oneName('LOOKUP name', body, 0) };
    case FUSE_OPCODE.DESTROY:
      empty('DESTROY', body);
      return { op: 'DESTROY' };
    case FUSE_OPCODE.SETATTR:
      return { op: 'SETATTR', arg: exact(FUSE_SETATTR_IN, body) };
    case FUSE_OPCODE.GETXATTR: {
      const arg = head(FUSE_GETXATTR_IN, body);
      return { op: 'GETXATTR', arg, ...oneName('GETXATTR name', body, FUSE_GETXATTR_IN.size) };
    }
    case FUSE_OPCODE.LISTXATTR:
      return { op: 'LISTXATTR', arg: exact(FUSE_GETXATTR_IN, body) };
    case FUSE_OPCODE.SETXATTR:
      return decodeSetxattr(body, opts.setxattrExt ?? false);
    case FUSE_OPCODE.REMOVEXATTR:
      return { op: 'REMOVEXATTR', ...oneName('REMOVEXATTR name', body, 0) };
    case FUSE_OPCODE.FSYNC:
    case FUSE_OPCODE.FSYNCDIR:
      return { op: opcode === FUSE_OPCODE.FSYNC ? 'FSYNC' : 'FSYNCDIR', arg: exact(FUSE_FSYNC_IN, body) };
    case FUSE_OPCODE.FALLOCATE:
      return { op: 'FALLOCATE', arg: exact(FUSE_FALLOCATE_IN, body) };
    case FUSE_OPCODE.LSEEK:
      return { op: 'LSEEK', arg: exact(FUSE_LSEEK_IN, body) };
    case FUSE_OPCODE.COPY_FILE_RANGE:
    case FUSE_OPCODE.COPY_FILE_RANGE_64:
      return {
        op: opcode === FUSE_OPCODE.COPY_FILE_RANGE ? 'COPY_FILE_RANGE' : 'COPY_FILE_RANGE_64',
        arg: exact(FUSE_COPY_FILE_RANGE_IN, body),
      };
    case FUSE_OPCODE.STATFS:
      empty('STATFS', body);
      return { op: 'STATFS' };
    case FUSE_OPCODE.READLINK:
      empty('READLINK', body);
      return { op: 'READLINK' };
    case FUSE_OPCODE.GETLK:
    case FUSE_OPCODE.SETLK:
    case FUSE_OPCODE.SETLKW: {
      const op = opcode === FUSE_OPCODE.GETLK ? 'GETLK' : opcode === FUSE_OPCODE.SETLK ? 'SETLK' : 'SETLKW';
      return { op, arg: exact(FUSE_LK_IN, body) };
    }
    case FUSE_OPCODE.FORGET:
      return { op: 'FORGET', arg: exact(FUSE_FORGET_IN, body) };
    case FUSE_OPCODE.BATCH_FORGET: {
      const arg = head(FUSE_BATCH_FORGET_IN, body);
      const want = FUSE_BATCH_FORGET_IN.size + arg.count * FUSE_FORGET_ONE.size;
      if (body.length !== want) {
        throw new WireError(
          'fuse_batch_forget_in',
          0,
          `count ${arg.count} needs ${want} bytes (8 + 16 per fuse_forget_one), body is ${body.length}`,
        );
      }
      const forgets: FuseForgetOne[] = [];
      for (let i = 0; i < arg.count; i++) {
        forgets.push(decode(FUSE_FORGET_ONE, body, FUSE_BATCH_FORGET_IN.size + i * FUSE_FORGET_ONE.size));
      }
      return { op: 'BATCH_FORGET', arg, forgets };
    }
    case FUSE_OPCODE.CREATE:
    case FUSE_OPCODE.TMPFILE: {
      const op = opcode === FUSE_OPCODE.CREATE ? 'CREATE' : 'TMPFILE';
      return { op, arg: head(FUSE_CREATE_IN, body), ...oneName(`${op} name`, body, FUSE_CREATE_IN.size) };
    }
    case FUSE_OPCODE.MKNOD:
      return { op: 'MKNOD', arg: head(FUSE_MKNOD_IN, body), ...oneName('MKNOD name', body, FUSE_MKNOD_IN.size) };
    case FUSE_OPCODE.MKDIR:
      return { op: 'MKDIR', arg: head(FUSE_MKDIR_IN, body), ...oneName('MKDIR name', body, FUSE_MKDIR_IN.size) };
    case FUSE_OPCODE.SYMLINK: {
      const [a, b] = twoNames('SYMLINK names', body, 0);
      return { op: 'SYMLINK', name: a.name, nameBytes: a.nameBytes, target: b.name, targetBytes: b.nameBytes };
    }
    case FUSE_OPCODE.LINK:
      return { op: 'LINK', arg: head(FUSE_LINK_IN, body), ...oneName('LINK name', body, FUSE_LINK_IN.size) };
    case FUSE_OPCODE.UNLINK:
    case FUSE_OPCODE.RMDIR: {
      const op = opcode === FUSE_OPCODE.UNLINK ? 'UNLINK' : 'RMDIR';
      return { op, ...oneName(`${op} name`, body, 0) };
    }
    case FUSE_OPCODE.RENAME: {
      const arg = head(FUSE_RENAME_IN, body);
      return { op: 'RENAME', arg, ...renameNames('RENAME names', body, FUSE_RENAME_IN.size) };
    }
    case FUSE_OPCODE.RENAME2: {
      const arg = head(FUSE_RENAME2_IN, body);
      return { op: 'RENAME2', arg, ...renameNames('RENAME2 names', body, FUSE_RENAME2_IN.size) };
    }
    case FUSE_OPCODE.READDIR:
    case FUSE_OPCODE.READDIRPLUS:
      return { op: opcode === FUSE_OPCODE.READDIR ? 'READDIR' : 'READDIRPLUS', arg: exact(FUSE_READ_IN, body) };
    case FUSE_OPCODE.ACCESS:
      return { op: 'ACCESS', arg: exact(FUSE_ACCESS_IN, body) };
    case FUSE_OPCODE.INTERRUPT:
      return { op: 'INTERRUPT', arg: exact(FUSE_INTERRUPT_IN, body) };
    case FUSE_OPCODE.STATX:
      return { op: 'STATX', arg: exact(FUSE_STATX_IN, body) };
    default:
      throw new WireError('request', 4, `no argument decoder for opcode ${opcode} (${opcodeName(opcode)})`);
  }
}

function decodeSetxattr(body: Uint8Array, ext: boolean): RequestArg {
  const fixed = ext ? FUSE_SETXATTR_IN.size : FUSE_COMPAT_SETXATTR_IN_SIZE;
  if (body.length < fixed) {
    throw new WireError('fuse_setxattr_in', 0, `body is ${body.length} bytes, need at least ${fixed} (${ext ? 'SETXATTR_EXT' : 'compat'} form)`);
  }
  // the compat form is the first 8 bytes of the struct; setxattr_flags reads as 0
  const arg = decodeZeroExtended(FUSE_SETXATTR_IN, body.subarray(0, fixed));
  const rest = body.subarray(fixed);
  const nul = rest.indexOf(0);
  if (nul < 0) throw new WireError('SETXATTR name', body.length, `no NUL terminator in the ${rest.length} bytes after fuse_setxattr_in`);
  const nameBytes = rest.subarray(0, nul);
  const value = rest.subarray(nul + 1);
  if (value.length !== arg.size) {
    throw new WireError('fuse_setxattr_in', 0, `size field says ${arg.size} value bytes, ${value.length} follow the name`);
  }
  return { op: 'SETXATTR', arg, ext, name: utf8(nameBytes), nameBytes, value };
}

/** A NUL-terminated UTF-8 string, as the kernel sends names (LOOKUP, CREATE, ...). */
export function cstring(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  if (enc.includes(0)) throw new WireError('cstring', enc.indexOf(0), 'name contains a NUL byte');
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out;
}

const utf8 = (b: Uint8Array): string => new TextDecoder().decode(b);

// One name filling the body from `at` to the end: one NUL, the very last byte.
function oneName(what: string, body: Uint8Array, at: number): WireName {
  const rest = body.subarray(at);
  const nul = rest.indexOf(0);
  if (nul < 0) throw new WireError(what, body.length, `no NUL terminator in ${rest.length} bytes`);
  if (nul !== rest.length - 1) {
    throw new WireError(what, at + nul, `NUL at offset ${at + nul} but body is ${body.length} bytes`);
  }
  const nameBytes = rest.subarray(0, nul);
  return { name: utf8(nameBytes), nameBytes };
}

// Two names filling the body from `at`: exactly two NULs, the second the last byte.
function twoNames(what: string, body: Uint8Array, at: number): [WireName, WireName] {
  const rest = body.subarray(at);
  const nuls: number[] = [];
  rest.forEach((b, i) => {
    if (b === 0) nuls.push(i);
  });
  const [first, second] = nuls;
  if (nuls.length !== 2 || first === undefined || second === undefined) {
    const where = nuls.length > 2 ? at + (nuls[2] ?? 0) : body.length;
    throw new WireError(what, where, `expected 2 NUL-terminated names in ${rest.length} bytes, found ${nuls.length} NUL(s)`);
  }
  if (second !== rest.length - 1) {
    throw new WireError(what, at + second + 1, `${rest.length - second - 1} bytes after the second name`);
  }
  const a = rest.subarray(0, first);
  const b = rest.subarray(first + 1, second);
  return [
    { name: utf8(a), nameBytes: a },
    { name: utf8(b), nameBytes: b },
  ];
}

function renameNames(what: string, body: Uint8Array, at: number): RenameNames {
  const [o, n] = twoNames(what, body, at);
  return { oldname: o.name, oldnameBytes: o.nameBytes, newname: n.name, newnameBytes: n.nameBytes };
}

// Fixed-size arguments: the kernel always sends/accepts exactly sizeof(struct).
function exact<L extends Layout>(layout: L, body: Uint8Array): ValueOf<L> {
  if (body.length !== layout.size) {
    throw new WireError(layout.name, 0, `body is ${body.length} bytes, expected exactly ${layout.size}`);
  }
  return decode(layout, body);
}

// A fixed struct that something else follows (a name, forget entries).
function head<L extends Layout>(layout: L, body: Uint8Array): ValueOf<L> {
  if (body.length < layout.size) {
    throw new WireError(layout.name, 0, `body is ${body.length} bytes, need ${layout.size} before what follows`);
  }
  return decode(layout, body);
}

function empty(what: string, body: Uint8Array): void {
  if (body.length !== 0) throw new WireError(what, 0, `expected an empty body, got ${body.length} bytes`);
}

// ---------------------------------------------------------------------------
// Replies.

/** Build a reply; header.len is computed. `error` is 0 or -errno (or a notify code with unique 0). */
export function encodeReply(unique: Wide, error: number, body: Uint8Array | null): Uint8Array {
  const bodyLen = body?.length ?? 0;
  const out = new Uint8Array(OUT_HDR + bodyLen);
  const header: FuseOutHeader = { len: out.length, error, unique };
  encodeInto(FUSE_OUT_HEADER, header, out, 0);
  if (body) out.set(body, OUT_HDR);
  return out;
}

export interface DecodedReply {
  header: FuseOutHeader;
  /** A view into the input, not a copy. Empty for error replies. */
  body: Uint8Array;
}

/**
 * Parse a message written by the server. For ordinary replies (unique != 0)
 * this also applies the kernel's sanity checks: error must be 0 or a
 * negative errno above -512, and an error reply carries no body.
 * unique == 0 is a notification; its error field is the FUSE_NOTIFY_* code.
 */
export function decodeReply(bytes: Uint8Array): DecodedReply {
  if (bytes.length < OUT_HDR) {
    throw new WireError('fuse_out_header', 0, `message is ${bytes.length} bytes, need at least ${OUT_HDR}`);
  }
  const header = decode(FUSE_OUT_HEADER, bytes);
  if (header.len !== bytes.length) {
    throw new WireError('fuse_out_header', 0, `len field says ${header.len} bytes, message is ${bytes.length}`);
  }
  if (header.unique !== 0) {
    if (header.error > 0 || header.error < MIN_REPLY_ERROR) {
      throw new WireError('fuse_out_header', 4, `error ${header.error} is not 0 or a negative errno above -512`);
    }
    if (header.error !== 0 && bytes.length !== OUT_HDR) {
      throw new WireError('fuse_out_header', OUT_HDR, `error reply (${header.error}) must have no body`);
    }
  }
  return { header, body: bytes.subarray(OUT_HDR) };
}

/**
 * The kernel accepted a reply's bytes (the server's write(2) succeeded) but rejects what they
 * say once it reads them: a dirent whose namelen is 0 or above FUSE_NAME_MAX or whose name has
 * a '/' (fs/fuse/readdir.c), a LISTXATTR list with an empty or unterminated name
 * (fuse_verify_xattr_list). The syscall that asked gets `errno`; the server never learns.
 */
export class ReplyContentError extends WireError {
  /** what the waiting syscall returns */
  readonly errno = 'EIO';
}

/** One READDIR record; encoders derive namelen from the name. */
export interface Dirent {
  ino: number;
  /** the cookie for the next READDIR (u64w: telldir() values can be 64-bit hashes) */
  off: Wide;
  /** DT_* */
  type: number;
  name: string;
  /** the raw name; when given to an encoder it wins over `name` (for names that are not UTF-8) */
  nameBytes?: Uint8Array;
}

/** One READDIRPLUS record: the entry the kernel links into the dcache (a lookup), and its dirent. */
export interface Direntplus {
  entry: FuseEntryOut;
  dirent: Dirent;
}

/** Decoded reply payloads, discriminated by `op`. Only call this for successful (error 0) replies. */
export type ReplyArg =
  | { op: 'INIT'; arg: FuseInitOut; short: boolean }
  | { op: 'OPEN' | 'OPENDIR'; arg: FuseOpenOut }
  | { op: 'READ'; data: Uint8Array }
  | { op: 'WRITE'; arg: FuseWriteOut }
  | { op: 'GETATTR' | 'SETATTR'; arg: FuseAttrOut }
  | { op: 'LOOKUP' | 'MKNOD' | 'MKDIR' | 'SYMLINK' | 'LINK'; arg: FuseEntryOut }
  | { op: 'CREATE' | 'TMPFILE'; entry: FuseEntryOut; open: FuseOpenOut }
  /** size 0 in the request: the value's (or list's) length */
  | { op: 'GETXATTR' | 'LISTXATTR'; arg: FuseGetxattrOut }
  /** size > 0: the value itself, at most the requested size */
  | { op: 'GETXATTR'; value: Uint8Array }
  /** size > 0: the NUL-separated list, and its names */
  | { op: 'LISTXATTR'; value: Uint8Array; names: string[] }
  | { op: 'LSEEK'; arg: FuseLseekOut }
  | { op: 'COPY_FILE_RANGE'; arg: FuseWriteOut }
  | { op: 'COPY_FILE_RANGE_64'; arg: FuseCopyFileRangeOut }
  | { op: 'STATFS'; arg: FuseStatfsOut }
  | { op: 'GETLK'; arg: FuseLkOut }
  | { op: 'STATX'; arg: FuseStatxOut }
  /** ignored: bytes after the last whole record (only with lenientDirents; else always 0) */
  | { op: 'READDIR'; entries: Dirent[]; ignored: number }
  | { op: 'READDIRPLUS'; entries: Direntplus[]; ignored: number }
  | { op: 'READLINK'; target: string; targetBytes: Uint8Array }
  | { op: EmptyReplyOp };

/** Requests whose successful reply has no body at all (a byte more is EINVAL to the server). */
export const EMPTY_REPLY_OPS = [
  'RELEASE',
  'RELEASEDIR',
  'FLUSH',
  'FSYNC',
  'FSYNCDIR',
  'FALLOCATE',
  'UNLINK',
  'RMDIR',
  'RENAME',
  'RENAME2',
  'SETLK',
  'SETLKW',
  'ACCESS',
  'SETXATTR',
  'REMOVEXATTR',
  'INTERRUPT', // only ever answered with an error (EAGAIN, ENOSYS), which has no body anyway
  'DESTROY',
] as const;
export type EmptyReplyOp = (typeof EMPTY_REPLY_OPS)[number];

/** What the reply decoder must know beyond the bytes: the request it answers. */
export interface ReplyDecodeOptions {
  /**
   * The `size` of the request this answers. Required for GETXATTR and LISTXATTR (0 asks for
   * the length: fuse_getxattr_out; otherwise the value, at most that long) and for READDIR and
   * READDIRPLUS; when given for READ or READLINK it bounds the data too.
   */
  requestSize?: number;
  /**
   * READDIR/READDIRPLUS: parse like the kernel's parse_dirfile, which stops silently at a
   * record that does not fit in what is left (the caller just gets the records before it), and
   * report those bytes as `ignored`. Default false: such a buffer is a WireError, because no
   * correct server sends one.
   */
  lenientDirents?: boolean;
}

const EMPTY_REPLY = new Set<string>(EMPTY_REPLY_OPS);

export function decodeReplyArg(opcode: number, body: Uint8Array, opts: ReplyDecodeOptions = {}): ReplyArg {
  const name = opcodeName(opcode);
  if (EMPTY_REPLY.has(name)) {
    if (body.length !== 0) throw new WireError(`${name} reply`, 0, `expected an empty body, got ${body.length} bytes`);
    return { op: name as EmptyReplyOp };
  }
  switch (opcode) {
    case FUSE_OPCODE.INIT:
      // Variable-size on purpose: old servers send 8 or 24 bytes, pre-7.40
      // servers leave max_stack_depth out. Missing fields read as 0.
      return { op: 'INIT', arg: decodeZeroExtended(FUSE_INIT_OUT, body), short: body.length < FUSE_INIT_OUT.size };
    case FUSE_OPCODE.OPEN:
    case FUSE_OPCODE.OPENDIR:
      return { op: opcode === FUSE_OPCODE.OPEN ? 'OPEN' : 'OPENDIR', arg: exact(FUSE_OPEN_OUT, body) };
    case FUSE_OPCODE.READ:
      // The data itself; it may be shorter than requested (EOF), never longer. The requested
      // size lives in the request: checked here when the caller passes it.
      atMost('READ data', body, opts.requestSize);
      return { op: 'READ', data: body };
    case FUSE_OPCODE.WRITE:
      return { op: 'WRITE', arg: exact(FUSE_WRITE_OUT, body) };
    case FUSE_OPCODE.GETATTR:
    case FUSE_OPCODE.SETATTR:
      return { op: opcode === FUSE_OPCODE.GETATTR ? 'GETATTR' : 'SETATTR', arg: exact(FUSE_ATTR_OUT, body) };
    case FUSE_OPCODE.LOOKUP:
    case FUSE_OPCODE.MKNOD:
    case FUSE_OPCODE.MKDIR:
    case FUSE_OPCODE.SYMLINK:
    case FUSE_OPCODE.LINK:
      return { op: name as 'LOOKUP' | 'MKNOD' | 'MKDIR' | 'SYMLINK' | 'LINK', arg: exact(FUSE_ENTRY_OUT, body) };
    case FUSE_OPCODE.CREATE:
    case FUSE_OPCODE.TMPFILE: {
      // two fixed out args, entry_out then open_out: 144 bytes exactly
      const size = FUSE_ENTRY_OUT.size + FUSE_OPEN_OUT.size;
      if (body.length !== size) {
        throw new WireError(`${name} reply`, 0, `body is ${body.length} bytes, expected exactly ${size} (fuse_entry_out + fuse_open_out)`);
      }
      return {
        op: name as 'CREATE' | 'TMPFILE',
        entry: decode(FUSE_ENTRY_OUT, body),
        open: decode(FUSE_OPEN_OUT, body, FUSE_ENTRY_OUT.size),
      };
    }
    case FUSE_OPCODE.GETXATTR:
    case FUSE_OPCODE.LISTXATTR: {
      const op = name as 'GETXATTR' | 'LISTXATTR';
      const size = needSize(op, opts);
      // "two different operations rolled into one" (fs/fuse/xattr.c): size 0 asks for the length
      if (size === 0) return { op, arg: exact(FUSE_GETXATTR_OUT, body) };
      // Otherwise the value is the request's out_argvar argument: up to `size` bytes. A longer
      // value is not ERANGE: fuse_copy_out_args refuses the reply (EINVAL to the server) and
      // getxattr(2)/listxattr(2) fail with EIO. ERANGE reaches the caller only when the server
      // itself answers -ERANGE, which is what it must do when the value does not fit.
      atMost(`${op} value`, body, size);
      if (op === 'GETXATTR') return { op, value: body };
      return { op, value: body, names: xattrList(body) };
    }
    case FUSE_OPCODE.LSEEK:
      return { op: 'LSEEK', arg: exact(FUSE_LSEEK_OUT, body) };
    case FUSE_OPCODE.COPY_FILE_RANGE:
      return { op: 'COPY_FILE_RANGE', arg: exact(FUSE_WRITE_OUT, body) };
    case FUSE_OPCODE.COPY_FILE_RANGE_64:
      return { op: 'COPY_FILE_RANGE_64', arg: exact(FUSE_COPY_FILE_RANGE_OUT, body) };
    case FUSE_OPCODE.STATFS:
      return { op: 'STATFS', arg: exact(FUSE_STATFS_OUT, body) };
    case FUSE_OPCODE.GETLK:
      return { op: 'GETLK', arg: exact(FUSE_LK_OUT, body) };
    case FUSE_OPCODE.STATX:
      return { op: 'STATX', arg: exact(FUSE_STATX_OUT, body) };
    case FUSE_OPCODE.READDIR: {
      atMost('READDIR buffer', body, needSize('READDIR', opts));
      const { entries, ignored } = decodeDirents(body, opts);
      return { op: 'READDIR', entries, ignored };
    }
    case FUSE_OPCODE.READDIRPLUS: {
      atMost('READDIRPLUS buffer', body, needSize('READDIRPLUS', opts));
      const { entries, ignored } = decodeDirentplus(body, opts);
      return { op: 'READDIRPLUS', entries, ignored };
    }
    case FUSE_OPCODE.READLINK:
      // out_argvar, at most a page less the NUL the kernel appends
      atMost('READLINK target', body, Math.min(opts.requestSize ?? FUSE_READLINK_MAX, FUSE_READLINK_MAX));
      return { op: 'READLINK', target: utf8(body), targetBytes: body };
    case FUSE_OPCODE.FORGET:
    case FUSE_OPCODE.BATCH_FORGET:
      throw new WireError(`${name} reply`, 0, 'the kernel expects no reply to FORGET/BATCH_FORGET (the write fails ENOENT: no such request)');
    default:
      throw new WireError('reply', 0, `no reply decoder for opcode ${opcode} (${name})`);
  }
}

function needSize(op: string, opts: ReplyDecodeOptions): number {
  const n = opts.requestSize;
  if (n === undefined || !Number.isInteger(n) || n < 0) {
    throw new WireError(`${op} reply`, 0, `decoding needs the request's size (ReplyDecodeOptions.requestSize), got ${String(n)}`);
  }
  return n;
}

// Variable-size (out_argvar) reply argument: shorter than asked is fine, longer is EINVAL.
function atMost(what: string, body: Uint8Array, limit: number | undefined): void {
  if (limit !== undefined && body.length > limit) {
    throw new WireError(what, limit, `${body.length} bytes, more than the ${limit} the request asked for`);
  }
}

// fuse_verify_xattr_list: every name non-empty and NUL-terminated.
function xattrList(value: Uint8Array): string[] {
  const names: string[] = [];
  let at = 0;
  while (at < value.length) {
    const nul = value.indexOf(0, at);
    if (nul < 0) throw new ReplyContentError('LISTXATTR list', at, `name at ${at} has no NUL (listxattr gets EIO)`);
    if (nul === at) throw new ReplyContentError('LISTXATTR list', at, `empty name at ${at} (listxattr gets EIO)`);
    names.push(utf8(value.subarray(at, nul)));
    at = nul + 1;
  }
  return names;
}

/**
 * A READDIR buffer: fuse_dirent records, each padded to 8 bytes. namelen 0 or above
 * FUSE_NAME_MAX, or a '/' in a name, is a ReplyContentError (getdents gets EIO). A record
 * running past the end (or a tail too short for a header) is a WireError, or with
 * `lenientDirents` the end of the list, as in the kernel.
 */
export function decodeDirents(buf: Uint8Array, opts: { lenientDirents?: boolean } = {}): { entries: Dirent[]; ignored: number } {
  const entries: Dirent[] = [];
  let at = 0;
  while (at < buf.length) {
    const rec = direntRecord('fuse_dirent', buf, at, FUSE_NAME_OFFSET, 0, opts);
    if (!rec) return { entries, ignored: buf.length - at };
    entries.push(rec.dirent);
    at += rec.reclen;
  }
  return { entries, ignored: 0 };
}

/** A READDIRPLUS buffer: fuse_direntplus records (entry_out + dirent + name, padded to 8). */
export function decodeDirentplus(buf: Uint8Array, opts: { lenientDirents?: boolean } = {}): { entries: Direntplus[]; ignored: number } {
  const entries: Direntplus[] = [];
  let at = 0;
  while (at < buf.length) {
    const rec = direntRecord('fuse_direntplus', buf, at, FUSE_NAME_OFFSET_DIRENTPLUS, FUSE_ENTRY_OUT.size, opts);
    if (!rec) return { entries, ignored: buf.length - at };
    entries.push({ entry: decode(FUSE_ENTRY_OUT, buf, at), dirent: rec.dirent });
    at += rec.reclen;
  }
  return { entries, ignored: 0 };
}

// One record at `at`: the dirent header sits at at + direntAt, the name at at + nameOffset.
// null: the record does not fit (lenient only).
function direntRecord(
  struct: string,
  buf: Uint8Array,
  at: number,
  nameOffset: number,
  direntAt: number,
  opts: { lenientDirents?: boolean },
): { dirent: Dirent; reclen: number } | null {
  const left = buf.length - at;
  if (left < nameOffset) {
    if (opts.lenientDirents) return null;
    throw new WireError(struct, at, `${left} bytes left at offset ${at}, less than a ${nameOffset}-byte record header (the kernel ignores them)`);
  }
  const head = decode(FUSE_DIRENT, buf, at + direntAt);
  if (head.namelen === 0 || head.namelen > FUSE_NAME_MAX) {
    throw new ReplyContentError(struct, at + direntAt + 16, `namelen ${head.namelen} at offset ${at} is outside 1..${FUSE_NAME_MAX} (getdents gets EIO)`);
  }
  const reclen = direntAlign(nameOffset + head.namelen);
  if (reclen > left) {
    if (opts.lenientDirents) return null;
    throw new WireError(struct, at, `record at offset ${at} needs ${reclen} bytes (namelen ${head.namelen}, padded to 8), ${left} left (the kernel stops here)`);
  }
  const nameBytes = buf.subarray(at + nameOffset, at + nameOffset + head.namelen);
  const slash = nameBytes.indexOf(0x2f);
  if (slash >= 0) {
    throw new ReplyContentError(struct, at + nameOffset + slash, `name at offset ${at} contains '/' (getdents gets EIO)`);
  }
  return { dirent: { ino: head.ino, off: head.off, type: head.type, name: utf8(nameBytes), nameBytes }, reclen };
}

// ---------------------------------------------------------------------------
// Convenience builders for the kernel model, scripted servers and tests.

/** WRITE request body: fuse_write_in (size filled from data) followed by the data. */
export function encodeWriteBody(arg: Omit<FuseWriteIn, 'size'>, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(FUSE_WRITE_IN.size + data.length);
  encodeInto(FUSE_WRITE_IN, { ...arg, size: data.length }, out, 0);
  out.set(data, FUSE_WRITE_IN.size);
  return out;
}

/** INIT reply body truncated to `size` bytes, to imitate an older server. */
export function encodeShortInitOut(value: FuseInitOut, size: number): Uint8Array {
  if (size < 0 || size > FUSE_INIT_OUT.size) {
    throw new WireError('fuse_init_out', 0, `size ${size} is outside 0..${FUSE_INIT_OUT.size}`);
  }
  return encode(FUSE_INIT_OUT, value).subarray(0, size);
}

/** A name as bytes, for a string or raw bytes (a name that is not UTF-8). */
export type NameInput = string | Uint8Array;

function nameBytesOf(name: NameInput): Uint8Array {
  const b = typeof name === 'string' ? new TextEncoder().encode(name) : name;
  if (b.includes(0)) throw new WireError('cstring', b.indexOf(0), 'name contains a NUL byte');
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const NUL = Uint8Array.of(0);

/** A body of names, each NUL-terminated, after an optional fixed struct. */
function namesBody(fixed: Uint8Array | null, names: readonly NameInput[]): Uint8Array {
  const parts: Uint8Array[] = fixed ? [fixed] : [];
  for (const n of names) parts.push(nameBytesOf(n), NUL);
  return concat(parts);
}

/** A name alone, NUL-terminated: LOOKUP, UNLINK, RMDIR, REMOVEXATTR. */
export function encodeNameBody(name: NameInput): Uint8Array {
  return namesBody(null, [name]);
}

/** A fixed struct then one NUL-terminated name: CREATE, TMPFILE, MKNOD, MKDIR, LINK, GETXATTR. */
export function encodeNamedRequest<L extends Layout>(layout: L, value: ValueOf<L>, name: NameInput): Uint8Array {
  return namesBody(encode(layout, value), [name]);
}

/** RENAME: fuse_rename_in, then "oldname\0newname\0" (header nodeid: the old parent). */
export function encodeRenameBody(newdir: number, oldname: NameInput, newname: NameInput): Uint8Array {
  return namesBody(encode(FUSE_RENAME_IN, { newdir }), [oldname, newname]);
}

/** RENAME2: fuse_rename2_in with renameat2(2)'s flags, then the two names. */
export function encodeRename2Body(newdir: number, flags: number, oldname: NameInput, newname: NameInput): Uint8Array {
  return namesBody(encode(FUSE_RENAME2_IN, { newdir, flags, padding: 0 }), [oldname, newname]);
}

/** SYMLINK: the new entry's name, then the link's target, both NUL-terminated. */
export function encodeSymlinkBody(name: NameInput, target: NameInput): Uint8Array {
  return namesBody(null, [name, target]);
}

/** GETXATTR: fuse_getxattr_in { size } then the attribute's name. */
export function encodeGetxattrBody(size: number, name: NameInput): Uint8Array {
  return encodeNamedRequest(FUSE_GETXATTR_IN, { size, padding: 0 }, name);
}

/**
 * SETXATTR: fuse_setxattr_in (size filled from value), the name, the value. `ext`: the
 * server negotiated FUSE_SETXATTR_EXT, so the struct is 16 bytes; otherwise its first 8.
 */
export function encodeSetxattrBody(
  arg: { flags: number; setxattr_flags?: number },
  name: NameInput,
  value: Uint8Array,
  opts: { ext: boolean },
): Uint8Array {
  const full = encode(FUSE_SETXATTR_IN, { size: value.length, flags: arg.flags, setxattr_flags: arg.setxattr_flags ?? 0, padding: 0 });
  if (!opts.ext && (arg.setxattr_flags ?? 0) !== 0) {
    throw new WireError('fuse_setxattr_in', 8, 'setxattr_flags needs the 16-byte form (FUSE_SETXATTR_EXT)');
  }
  const fixed = opts.ext ? full : full.subarray(0, FUSE_COMPAT_SETXATTR_IN_SIZE);
  return concat([fixed, nameBytesOf(name), NUL, value]);
}

/** BATCH_FORGET: fuse_batch_forget_in { count } then one fuse_forget_one per entry. */
export function encodeBatchForgetBody(forgets: readonly FuseForgetOne[]): Uint8Array {
  const out = new Uint8Array(FUSE_BATCH_FORGET_IN.size + forgets.length * FUSE_FORGET_ONE.size);
  encodeInto(FUSE_BATCH_FORGET_IN, { count: forgets.length, dummy: 0 }, out, 0);
  forgets.forEach((f, i) => encodeInto(FUSE_FORGET_ONE, f, out, FUSE_BATCH_FORGET_IN.size + i * FUSE_FORGET_ONE.size));
  return out;
}

/** The request body for a decoded argument: the inverse of decodeRequestArg. */
export function encodeRequestArg(a: RequestArg): Uint8Array {
  switch (a.op) {
    case 'INIT':
      return encode(FUSE_INIT_IN, a.arg);
    case 'OPEN':
    case 'OPENDIR':
      return encode(FUSE_OPEN_IN, a.arg);
    case 'RELEASE':
    case 'RELEASEDIR':
      return encode(FUSE_RELEASE_IN, a.arg);
    case 'READ':
    case 'READDIR':
    case 'READDIRPLUS':
      return encode(FUSE_READ_IN, a.arg);
    case 'WRITE':
      return encodeWriteBody(a.arg, a.data);
    case 'FLUSH':
      return encode(FUSE_FLUSH_IN, a.arg);
    case 'GETATTR':
      return encode(FUSE_GETATTR_IN, a.arg);
    case 'LOOKUP':
    case 'UNLINK':
    case 'RMDIR':
    case 'REMOVEXATTR':
      return encodeNameBody(a.nameBytes);
    case 'DESTROY':
    case 'STATFS':
    case 'READLINK':
      return new Uint8Array(0);
    case 'SETATTR':
      return encode(FUSE_SETATTR_IN, a.arg);
    case 'GETXATTR':
      return encodeNamedRequest(FUSE_GETXATTR_IN, a.arg, a.nameBytes);
    case 'LISTXATTR':
      return encode(FUSE_GETXATTR_IN, a.arg);
    case 'SETXATTR':
      return encodeSetxattrBody(a.arg, a.nameBytes, a.value, { ext: a.ext });
    case 'FSYNC':
    case 'FSYNCDIR':
      return encode(FUSE_FSYNC_IN, a.arg);
    case 'FALLOCATE':
      return encode(FUSE_FALLOCATE_IN, a.arg);
    case 'LSEEK':
      return encode(FUSE_LSEEK_IN, a.arg);
    case 'COPY_FILE_RANGE':
    case 'COPY_FILE_RANGE_64':
      return encode(FUSE_COPY_FILE_RANGE_IN, a.arg);
    case 'GETLK':
    case 'SETLK':
    case 'SETLKW':
      return encode(FUSE_LK_IN, a.arg);
    case 'FORGET':
      return encode(FUSE_FORGET_IN, a.arg);
    case 'BATCH_FORGET':
      return encodeBatchForgetBody(a.forgets);
    case 'CREATE':
    case 'TMPFILE':
      return encodeNamedRequest(FUSE_CREATE_IN, a.arg, a.nameBytes);
    case 'MKNOD':
      return encodeNamedRequest(FUSE_MKNOD_IN, a.arg, a.nameBytes);
    case 'MKDIR':
      return encodeNamedRequest(FUSE_MKDIR_IN, a.arg, a.nameBytes);
    case 'SYMLINK':
      return encodeSymlinkBody(a.nameBytes, a.targetBytes);
    case 'LINK':
      return encodeNamedRequest(FUSE_LINK_IN, a.arg, a.nameBytes);
    case 'RENAME':
      return namesBody(encode(FUSE_RENAME_IN, a.arg), [a.oldnameBytes, a.newnameBytes]);
    case 'RENAME2':
      return namesBody(encode(FUSE_RENAME2_IN, a.arg), [a.oldnameBytes, a.newnameBytes]);
    case 'ACCESS':
      return encode(FUSE_ACCESS_IN, a.arg);
    case 'INTERRUPT':
      return encode(FUSE_INTERRUPT_IN, a.arg);
    case 'STATX':
      return encode(FUSE_STATX_IN, a.arg);
  }
}

/** CREATE/TMPFILE reply: fuse_entry_out then fuse_open_out, 144 bytes. */
export function encodeCreateOut(entry: FuseEntryOut, open: FuseOpenOut): Uint8Array {
  const out = new Uint8Array(FUSE_ENTRY_OUT.size + FUSE_OPEN_OUT.size);
  encodeInto(FUSE_ENTRY_OUT, entry, out, 0);
  encodeInto(FUSE_OPEN_OUT, open, out, FUSE_ENTRY_OUT.size);
  return out;
}

/** Size-0 GETXATTR/LISTXATTR reply: the length the caller should allocate. */
export function encodeGetxattrOut(size: number): Uint8Array {
  return encode(FUSE_GETXATTR_OUT, { size, padding: 0 });
}

/** A LISTXATTR value: each name NUL-terminated. */
export function encodeXattrList(names: readonly NameInput[]): Uint8Array {
  return namesBody(null, names);
}

// One record: `fixed` (the entry_out for direntplus, or nothing), the dirent header, the
// name, zero padding to 8. The encoder builds what it is given: an empty name or a '/' is
// the scripted server's choice (and the decoder's ReplyContentError).
function direntBytes(fixed: Uint8Array | null, d: Dirent): Uint8Array {
  const name = d.nameBytes ?? nameBytesOf(d.name);
  const pre = fixed?.length ?? 0;
  const out = new Uint8Array(direntAlign(pre + FUSE_DIRENT.size + name.length));
  if (fixed) out.set(fixed, 0);
  encodeInto(FUSE_DIRENT, { ino: d.ino, off: d.off, namelen: name.length, type: d.type }, out, pre);
  out.set(name, pre + FUSE_DIRENT.size);
  return out;
}

/** READDIR reply: the records, each padded to 8 bytes. */
export function encodeDirents(list: readonly Dirent[]): Uint8Array {
  return concat(list.map((d) => direntBytes(null, d)));
}

/** READDIRPLUS reply: fuse_entry_out + fuse_dirent + name per record, each padded to 8. */
export function encodeDirentplus(list: readonly Direntplus[]): Uint8Array {
  return concat(list.map((d) => direntBytes(encode(FUSE_ENTRY_OUT, d.entry), d.dirent)));
}

/** The reply body for a decoded reply: the inverse of decodeReplyArg (an INIT reply comes out whole). */
export function encodeReplyArg(r: ReplyArg): Uint8Array {
  switch (r.op) {
    case 'INIT':
      return encode(FUSE_INIT_OUT, r.arg);
    case 'OPEN':
    case 'OPENDIR':
      return encode(FUSE_OPEN_OUT, r.arg);
    case 'READ':
      return r.data;
    case 'WRITE':
    case 'COPY_FILE_RANGE':
      return encode(FUSE_WRITE_OUT, r.arg);
    case 'GETATTR':
    case 'SETATTR':
      return encode(FUSE_ATTR_OUT, r.arg);
    case 'LOOKUP':
    case 'MKNOD':
    case 'MKDIR':
    case 'SYMLINK':
    case 'LINK':
      return encode(FUSE_ENTRY_OUT, r.arg);
    case 'CREATE':
    case 'TMPFILE':
      return encodeCreateOut(r.entry, r.open);
    case 'GETXATTR':
    case 'LISTXATTR':
      return 'arg' in r ? encode(FUSE_GETXATTR_OUT, r.arg) : r.value;
    case 'LSEEK':
      return encode(FUSE_LSEEK_OUT, r.arg);
    case 'COPY_FILE_RANGE_64':
      return encode(FUSE_COPY_FILE_RANGE_OUT, r.arg);
    case 'STATFS':
      return encode(FUSE_STATFS_OUT, r.arg);
    case 'GETLK':
      return encode(FUSE_LK_OUT, r.arg);
    case 'STATX':
      return encode(FUSE_STATX_OUT, r.arg);
    case 'READDIR':
      return encodeDirents(r.entries);
    case 'READDIRPLUS':
      return encodeDirentplus(r.entries);
    case 'READLINK':
      return r.targetBytes;
    default:
      return new Uint8Array(0); // the empty replies
  }
}
