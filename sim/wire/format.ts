// One line of text per /dev/fuse message, for traces, the oracle's comparison and the viewer:
//   SETATTR valid=SIZE|FH|LOCKOWNER fh=3 size=20 lock_owner=0x1234 atime=0 ...
//   OPEN flags=O_RDWR|O_LARGEFILE open_flags=0
//   GETXATTR size=0 name=security.capability
//   BATCH_FORGET count=2 [n2x1 n3x1]
// The opcode's name, then every field of its arguments by name in struct order (padding,
// dummy and unused fields left out), flags by name (unknown bits as "bitN"), modes in octal,
// lock owners in hex, names bare when they are plain printable text and JSON-quoted otherwise.
// Neither function ever throws: a body its decoder refuses is shown as
//   SETATTR <malformed: fuse_setattr_in: body is 3 bytes, expected exactly 88> 3 bytes
// so a trace of a fuzzer's messages still prints.

import {
  ACCESS_MASK,
  DT,
  FALLOC_FL,
  FATTR,
  FOPEN,
  FUSE_ATTR,
  FUSE_FSYNC,
  FUSE_GETATTR,
  FUSE_INIT_FLAG,
  FUSE_LK,
  FUSE_OPEN,
  FUSE_READ,
  FUSE_RELEASE,
  FUSE_SETXATTR,
  FUSE_WRITE,
  F_LOCK_TYPE,
  RENAME,
  SEEK,
  STATX,
  XATTR,
  bitNames,
  enumName,
  flagText,
  opcodeName,
  openFlagNames,
} from './uapi.ts';
import {
  WireError,
  FUSE_ACCESS_IN,
  FUSE_ATTR_OUT,
  FUSE_COPY_FILE_RANGE_IN,
  FUSE_COPY_FILE_RANGE_OUT,
  FUSE_CREATE_IN,
  FUSE_ENTRY_OUT,
  FUSE_FALLOCATE_IN,
  FUSE_FLUSH_IN,
  FUSE_FORGET_IN,
  FUSE_FSYNC_IN,
  FUSE_GETATTR_IN,
  FUSE_GETXATTR_IN,
  FUSE_GETXATTR_OUT,
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
  FUSE_OPEN_IN,
  FUSE_OPEN_OUT,
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
  formatWide,
} from './structs.ts';
import type { Layout, Wide } from './structs.ts';
import { decodeReplyArg, decodeRequestArg } from './messages.ts';
import type { Dirent, ReplyArg, ReplyDecodeOptions, RequestArg, RequestDecodeOptions, RequestOp } from './messages.ts';

type Fmt = (v: unknown) => string;

const num = (v: unknown): number => (typeof v === 'number' ? v : Number(v));
const octal: Fmt = (v) => (num(v) === 0 ? '0' : `0${num(v).toString(8)}`);
const hex: Fmt = (v) => {
  const b = BigInt(v as Wide);
  return b === 0n ? '0' : `0x${b.toString(16)}`;
};
const named =
  (table: Readonly<Record<string, number>>): Fmt =>
  (v) =>
    flagText(bitNames(table, num(v)));
const enumOf =
  (table: Readonly<Record<string, number>>, prefix = ''): Fmt =>
  (v) => {
    const n = enumName(table, num(v));
    return /^\d+$/.test(n) ? n : prefix + n;
  };
const openFlags: Fmt = (v) => openFlagNames(num(v)).join('|');
const accessMask: Fmt = (v) => (num(v) === 0 ? 'F_OK' : flagText(bitNames(ACCESS_MASK, num(v))));

/** INIT flags of one 32-bit word; `shift` 32 for flags2. Unknown bits as their 64-bit position. */
function initWord(shift: bigint): Fmt {
  return (v) => {
    const names: string[] = [];
    for (let bit = 0n; bit < 32n; bit++) {
      if (((BigInt(num(v)) >> bit) & 1n) === 0n) continue;
      const b = 1n << (bit + shift);
      const name = Object.entries(FUSE_INIT_FLAG).find(([, x]) => x === b)?.[0];
      names.push(name ?? `bit${bit + shift}`);
    }
    return flagText(names);
  };
}

// How a field prints: by "struct.field" first, then by field name; otherwise its number.
const BY_STRUCT_FIELD: Record<string, Fmt> = {
  'fuse_open_in.flags': openFlags,
  'fuse_create_in.flags': openFlags,
  'fuse_read_in.flags': openFlags,
  'fuse_write_in.flags': openFlags,
  'fuse_release_in.flags': openFlags,
  'fuse_open_in.open_flags': named(FUSE_OPEN),
  'fuse_create_in.open_flags': named(FUSE_OPEN),
  'fuse_open_out.open_flags': named(FOPEN),
  'fuse_rename2_in.flags': named(RENAME),
  'fuse_setxattr_in.flags': named(XATTR),
  'fuse_attr.flags': named(FUSE_ATTR),
  'fuse_init_in.flags': initWord(0n),
  'fuse_init_in.flags2': initWord(32n),
  'fuse_init_out.flags': initWord(0n),
  'fuse_init_out.flags2': initWord(32n),
  'fuse_fallocate_in.mode': named(FALLOC_FL),
  'fuse_file_lock.type': enumOf(F_LOCK_TYPE),
  'fuse_dirent.type': enumOf(DT),
  'fuse_lseek_in.whence': enumOf(SEEK, 'SEEK_'),
  'fuse_access_in.mask': accessMask,
  'fuse_statx_in.sx_mask': named(STATX),
  'fuse_statx_in.sx_flags': hex,
  'fuse_statx.mask': named(STATX),
};
const BY_FIELD: Record<string, Fmt> = {
  valid: named(FATTR),
  mode: octal,
  umask: octal,
  lock_owner: hex,
  owner: hex,
  release_flags: named(FUSE_RELEASE),
  getattr_flags: named(FUSE_GETATTR),
  read_flags: named(FUSE_READ),
  write_flags: named(FUSE_WRITE),
  fsync_flags: named(FUSE_FSYNC),
  lk_flags: named(FUSE_LK),
  setxattr_flags: named(FUSE_SETXATTR),
};
/** Fields that carry nothing (padding and the like). */
const HIDDEN = /^(padding|dummy|unused\d*|reserved)$/;
/** Embedded structs whose fields print without a prefix (the only struct in their parent). */
const UNPREFIXED = new Set(['lk', 'st']);

/** "name=value" for every field of a decoded struct, in layout order. */
export function formatFields(layout: Layout, value: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  formatInto(out, layout, value, prefix);
  return out;
}

function formatInto(out: string[], layout: Layout, value: Record<string, unknown>, prefix: string) {
  for (const f of printedFields(layout)) {
    const v = value[f.name];
    if (v === undefined) continue; // an optional field left out
    if (f.layout) formatInto(out, f.layout, v as Record<string, unknown>, prefix + f.sub);
    else out.push(`${prefix}${f.name}=${f.fmt(v)}`);
  }
}

/** A layout's fields as formatFields prints them: what is shown, and how (the layouts are constants). */
interface PrintedField {
  name: string;
  /** an embedded struct, and what its fields' names get in front */
  layout?: Layout;
  sub: string;
  fmt: Fmt;
}
const PRINTED = new WeakMap<Layout, PrintedField[]>();
function printedFields(layout: Layout): PrintedField[] {
  let fields = PRINTED.get(layout);
  if (!fields) {
    fields = [];
    for (const f of layout.fields) {
      if (f.type === 'reserved' || HIDDEN.test(f.name)) continue;
      if (f.type === 'struct') fields.push({ name: f.name, layout: f.layout, sub: UNPREFIXED.has(f.name) ? '' : `${f.name}.`, fmt: String });
      else fields.push({ name: f.name, sub: '', fmt: BY_STRUCT_FIELD[`${layout.name}.${f.name}`] ?? BY_FIELD[f.name] ?? ((x: unknown) => formatWide(x as Wide)) });
    }
    PRINTED.set(layout, fields);
  }
  return fields;
}

/** A name as trace text: bare when it is plain printable ASCII, else JSON-quoted. */
export function formatName(name: string): string {
  return /^[\x21-\x7e]+$/.test(name) && !name.includes('"') ? name : JSON.stringify(name);
}

/** Data as trace text: short printable text quoted, short binary as hex, anything else its size. */
export function formatData(b: Uint8Array): string {
  if (b.length <= 64 && b.every((c) => c >= 0x20 && c < 0x7f)) return JSON.stringify(String.fromCharCode(...b));
  if (b.length <= 16) return `<${b.length} bytes ${Array.from(b, (c) => c.toString(16).padStart(2, '0')).join(' ')}>`;
  return `<${b.length} bytes>`;
}

/** The struct each request's `arg` is, for the ops that have one. */
const REQUEST_LAYOUT: Partial<Record<RequestOp, Layout>> = {
  INIT: FUSE_INIT_IN,
  OPEN: FUSE_OPEN_IN,
  OPENDIR: FUSE_OPEN_IN,
  RELEASE: FUSE_RELEASE_IN,
  RELEASEDIR: FUSE_RELEASE_IN,
  READ: FUSE_READ_IN,
  READDIR: FUSE_READ_IN,
  READDIRPLUS: FUSE_READ_IN,
  WRITE: FUSE_WRITE_IN,
  FLUSH: FUSE_FLUSH_IN,
  GETATTR: FUSE_GETATTR_IN,
  SETATTR: FUSE_SETATTR_IN,
  GETXATTR: FUSE_GETXATTR_IN,
  LISTXATTR: FUSE_GETXATTR_IN,
  SETXATTR: FUSE_SETXATTR_IN,
  FSYNC: FUSE_FSYNC_IN,
  FSYNCDIR: FUSE_FSYNC_IN,
  FALLOCATE: FUSE_FALLOCATE_IN,
  LSEEK: FUSE_LSEEK_IN,
  COPY_FILE_RANGE: FUSE_COPY_FILE_RANGE_IN,
  COPY_FILE_RANGE_64: FUSE_COPY_FILE_RANGE_IN,
  GETLK: FUSE_LK_IN,
  SETLK: FUSE_LK_IN,
  SETLKW: FUSE_LK_IN,
  FORGET: FUSE_FORGET_IN,
  CREATE: FUSE_CREATE_IN,
  TMPFILE: FUSE_CREATE_IN,
  MKNOD: FUSE_MKNOD_IN,
  MKDIR: FUSE_MKDIR_IN,
  LINK: FUSE_LINK_IN,
  RENAME: FUSE_RENAME_IN,
  RENAME2: FUSE_RENAME2_IN,
  ACCESS: FUSE_ACCESS_IN,
  INTERRUPT: FUSE_INTERRUPT_IN,
  STATX: FUSE_STATX_IN,
};

function requestParts(a: RequestArg): string[] {
  const parts: string[] = [];
  const layout = REQUEST_LAYOUT[a.op];
  if (layout && 'arg' in a && a.op !== 'BATCH_FORGET') {
    let fields = formatFields(layout, a.arg as Record<string, unknown>);
    // the 8-byte form has no setxattr_flags on the wire
    if (a.op === 'SETXATTR' && !a.ext) fields = fields.filter((f) => !f.startsWith('setxattr_flags='));
    parts.push(...fields);
  }
  switch (a.op) {
    case 'WRITE':
      parts.push(`data=${formatData(a.data)}`);
      break;
    case 'SETXATTR':
      parts.push(`name=${formatName(a.name)}`, `value=${formatData(a.value)}`);
      break;
    case 'SYMLINK':
      parts.push(`name=${formatName(a.name)}`, `target=${formatName(a.target)}`);
      break;
    case 'RENAME':
    case 'RENAME2':
      parts.push(`oldname=${formatName(a.oldname)}`, `newname=${formatName(a.newname)}`);
      break;
    case 'BATCH_FORGET':
      parts.push(`count=${a.arg.count}`, `[${a.forgets.map((f) => `n${f.nodeid}x${f.nlookup}`).join(' ')}]`);
      break;
    default:
      if ('name' in a) parts.push(`name=${formatName(a.name)}`);
  }
  return parts;
}

function failure(name: string, e: unknown, body: Uint8Array): string {
  if (e instanceof WireError && e.struct === 'request' && /no argument decoder/.test(e.message)) {
    return `${name} <${body.length} bytes, not decoded>`;
  }
  if (e instanceof WireError && e.struct === 'reply' && /no reply decoder/.test(e.message)) {
    return `${name} <${body.length} bytes, not decoded>`;
  }
  const msg = e instanceof Error ? e.message : String(e);
  return `${name} <malformed: ${msg}> ${body.length} bytes`;
}

/** A request body (from decodeRequest) as one line. Never throws. */
export function formatRequest(opcode: number, body: Uint8Array, opts: RequestDecodeOptions = {}): string {
  let a: RequestArg;
  try {
    a = decodeRequestArg(opcode, body, opts);
  } catch (e) {
    return failure(opcodeName(opcode), e, body);
  }
  return formatDecodedRequest(opcode, a, body);
}

/** formatRequest of a body its caller has decoded already (decodeRequestArg(opcode, body, opts)). */
export function formatDecodedRequest(opcode: number, a: RequestArg, body: Uint8Array): string {
  const name = opcodeName(opcode);
  try {
    return [name, ...requestParts(a)].join(' ');
  } catch (e) {
    return failure(name, e, body);
  }
}

function direntText(d: Dirent): string {
  return `ino=${d.ino} off=${formatWide(d.off)} type=${enumOf(DT)(d.type)} name=${formatName(d.name)}`;
}

function replyParts(r: ReplyArg, body: Uint8Array): string[] {
  switch (r.op) {
    case 'INIT':
      return [...formatFields(FUSE_INIT_OUT, r.arg), ...(r.short ? [`short=${body.length}`] : [])];
    case 'OPEN':
    case 'OPENDIR':
      return formatFields(FUSE_OPEN_OUT, r.arg);
    case 'READ':
      return [`data=${formatData(r.data)}`];
    case 'WRITE':
    case 'COPY_FILE_RANGE':
      return formatFields(FUSE_WRITE_OUT, r.arg);
    case 'GETATTR':
    case 'SETATTR':
      return formatFields(FUSE_ATTR_OUT, r.arg);
    case 'LOOKUP':
    case 'MKNOD':
    case 'MKDIR':
    case 'SYMLINK':
    case 'LINK':
      return formatFields(FUSE_ENTRY_OUT, r.arg);
    case 'CREATE':
    case 'TMPFILE':
      return [...formatFields(FUSE_ENTRY_OUT, r.entry), ...formatFields(FUSE_OPEN_OUT, r.open)];
    case 'GETXATTR':
    case 'LISTXATTR':
      if ('arg' in r) return formatFields(FUSE_GETXATTR_OUT, r.arg);
      if ('names' in r) return [`names=[${r.names.map(formatName).join(' ')}]`];
      return [`value=${formatData(r.value)}`];
    case 'LSEEK':
      return formatFields(FUSE_LSEEK_OUT, r.arg);
    case 'COPY_FILE_RANGE_64':
      return formatFields(FUSE_COPY_FILE_RANGE_OUT, r.arg);
    case 'STATFS':
      return formatFields(FUSE_STATFS_OUT, r.arg);
    case 'GETLK':
      return formatFields(FUSE_LK_OUT, r.arg);
    case 'STATX':
      return formatFields(FUSE_STATX_OUT, r.arg);
    case 'READDIR':
      return [
        `count=${r.entries.length}`,
        `[${r.entries.map((d) => `{${direntText(d)}}`).join(' ')}]`,
        ...(r.ignored ? [`ignored=${r.ignored}`] : []),
      ];
    case 'READDIRPLUS':
      // the entry's identity and the attributes a listing shows; the rest is LOOKUP's
      return [
        `count=${r.entries.length}`,
        `[${r.entries
          .map((d) => `{nodeid=${d.entry.nodeid} ${direntText(d.dirent)} mode=${octal(d.entry.attr.mode)} size=${d.entry.attr.size}}`)
          .join(' ')}]`,
        ...(r.ignored ? [`ignored=${r.ignored}`] : []),
      ];
    case 'READLINK':
      return [`target=${formatName(r.target)}`];
    default:
      return [];
  }
}

/**
 * A reply body as one line. `error` (the out_header's): a non-zero one is shown instead of
 * the body, which an error reply does not have. GETXATTR, LISTXATTR, READDIR and READDIRPLUS
 * need the request's size (opts.requestSize) to be decoded. Never throws.
 */
export function formatReply(opcode: number, body: Uint8Array, opts: ReplyDecodeOptions & { error?: number } = {}): string {
  const name = opcodeName(opcode);
  if (opts.error) return `${name} error=${opts.error}${body.length ? ` <${body.length} bytes>` : ''}`;
  try {
    return [name, ...replyParts(decodeReplyArg(opcode, body, opts), body)].join(' ');
  } catch (e) {
    return failure(name, e, body);
  }
}
