// Whole /dev/fuse messages: a header plus an opcode-specific body.
//
// Requests (kernel -> server) are fuse_in_header + argument struct(s);
// replies (server -> kernel) are fuse_out_header + result struct(s). One
// read(2) or write(2) on /dev/fuse carries exactly one message, so the length
// field in the header must match the byte count exactly.
//
// The reply checks below model what the kernel enforces when a server writes
// a reply; the simulated kernel can turn a WireError into -EINVAL.

import { FUSE_OPCODE, opcodeName } from './uapi.ts';
import {
  WireError,
  decode,
  decodeZeroExtended,
  encode,
  encodeInto,
  FUSE_ATTR_OUT,
  FUSE_ENTRY_OUT,
  FUSE_FLUSH_IN,
  FUSE_GETATTR_IN,
  FUSE_IN_HEADER,
  FUSE_INIT_IN,
  FUSE_INIT_OUT,
  FUSE_OPEN_IN,
  FUSE_OPEN_OUT,
  FUSE_OUT_HEADER,
  FUSE_READ_IN,
  FUSE_RELEASE_IN,
  FUSE_WRITE_IN,
  FUSE_WRITE_OUT,
} from './structs.ts';
import type {
  Wide,
  FuseAttrOut,
  FuseEntryOut,
  FuseFlushIn,
  FuseGetattrIn,
  FuseInHeader,
  FuseInitIn,
  FuseInitOut,
  FuseOpenIn,
  FuseOpenOut,
  FuseOutHeader,
  FuseReadIn,
  FuseReleaseIn,
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

/** Decoded request arguments, discriminated by `op` (the opcode name). */
export type RequestArg =
  | { op: 'INIT'; arg: FuseInitIn }
  | { op: 'OPEN' | 'OPENDIR'; arg: FuseOpenIn }
  | { op: 'RELEASE' | 'RELEASEDIR'; arg: FuseReleaseIn }
  | { op: 'READ'; arg: FuseReadIn }
  | { op: 'WRITE'; arg: FuseWriteIn; data: Uint8Array }
  | { op: 'FLUSH'; arg: FuseFlushIn }
  | { op: 'GETATTR'; arg: FuseGetattrIn }
  | { op: 'LOOKUP'; name: string; nameBytes: Uint8Array }
  | { op: 'DESTROY' };

/** Decode `body` (from decodeRequest) for the opcodes this module knows; WireError for any other. */
export function decodeRequestArg(opcode: number, body: Uint8Array): RequestArg {
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
    case FUSE_OPCODE.LOOKUP: {
      const nameBytes = cstringBytes('LOOKUP name', body);
      return { op: 'LOOKUP', name: new TextDecoder().decode(nameBytes), nameBytes };
    }
    case FUSE_OPCODE.DESTROY:
      if (body.length !== 0) throw new WireError('DESTROY', 0, `expected an empty body, got ${body.length} bytes`);
      return { op: 'DESTROY' };
    default:
      throw new WireError('request', 4, `no argument decoder for opcode ${opcode} (${opcodeName(opcode)})`);
  }
}

/** A NUL-terminated UTF-8 string, as the kernel sends names (LOOKUP, CREATE, ...). */
export function cstring(s: string): Uint8Array {
  const enc = new TextEncoder().encode(s);
  if (enc.includes(0)) throw new WireError('cstring', enc.indexOf(0), 'name contains a NUL byte');
  const out = new Uint8Array(enc.length + 1);
  out.set(enc);
  return out;
}

// The name must fill the body exactly: one NUL, at the very end.
function cstringBytes(what: string, body: Uint8Array): Uint8Array {
  const nul = body.indexOf(0);
  if (nul < 0) throw new WireError(what, body.length, `no NUL terminator in ${body.length} bytes`);
  if (nul !== body.length - 1) {
    throw new WireError(what, nul, `NUL at offset ${nul} but body is ${body.length} bytes`);
  }
  return body.subarray(0, nul);
}

// Fixed-size arguments: the kernel always sends/accepts exactly sizeof(struct).
function exact<L extends Layout>(layout: L, body: Uint8Array): ValueOf<L> {
  if (body.length !== layout.size) {
    throw new WireError(layout.name, 0, `body is ${body.length} bytes, expected exactly ${layout.size}`);
  }
  return decode(layout, body);
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

/** Decoded reply payloads, discriminated by `op`. Only call this for successful (error 0) replies. */
export type ReplyArg =
  | { op: 'INIT'; arg: FuseInitOut; short: boolean }
  | { op: 'OPEN' | 'OPENDIR'; arg: FuseOpenOut }
  | { op: 'READ'; data: Uint8Array }
  | { op: 'WRITE'; arg: FuseWriteOut }
  | { op: 'GETATTR'; arg: FuseAttrOut }
  | { op: 'LOOKUP'; arg: FuseEntryOut };

export function decodeReplyArg(opcode: number, body: Uint8Array): ReplyArg {
  switch (opcode) {
    case FUSE_OPCODE.INIT:
      // Variable-size on purpose: old servers send 8 or 24 bytes, pre-7.40
      // servers leave max_stack_depth out. Missing fields read as 0.
      return { op: 'INIT', arg: decodeZeroExtended(FUSE_INIT_OUT, body), short: body.length < FUSE_INIT_OUT.size };
    case FUSE_OPCODE.OPEN:
    case FUSE_OPCODE.OPENDIR:
      return { op: opcode === FUSE_OPCODE.OPEN ? 'OPEN' : 'OPENDIR', arg: exact(FUSE_OPEN_OUT, body) };
    case FUSE_OPCODE.READ:
      // The data itself; it may be shorter than requested (EOF), never longer,
      // but the requested size lives in the request, so the caller checks that.
      return { op: 'READ', data: body };
    case FUSE_OPCODE.WRITE:
      return { op: 'WRITE', arg: exact(FUSE_WRITE_OUT, body) };
    case FUSE_OPCODE.GETATTR:
      return { op: 'GETATTR', arg: exact(FUSE_ATTR_OUT, body) };
    case FUSE_OPCODE.LOOKUP:
      return { op: 'LOOKUP', arg: exact(FUSE_ENTRY_OUT, body) };
    default:
      throw new WireError('reply', 0, `no reply decoder for opcode ${opcode} (${opcodeName(opcode)})`);
  }
}

// ---------------------------------------------------------------------------
// Convenience builders for scripted servers and tests.

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
