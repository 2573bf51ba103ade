// A research server for the real kernel: every reply is under the experiment's control, every
// request is decoded (the opcodes the project's wire module does not know included) and logged
// as one line, and user syscalls run in a python3 child whose steps are separated in the log by
// marker LOOKUPs ("__mark__<label>", answered ENOENT). Used by tools/research/*.ts to produce
// docs/request-streams.md. Mounts belong to the oracle's native helper (RealFuseTransport),
// which removes them when this process ends, however it ends.
import { spawn } from 'node:child_process';
import { closeSync, fstatSync, ftruncateSync, mkdirSync, openSync, readSync, rmSync, statSync, writeSync, writeFileSync } from 'node:fs';
import { RealFuseTransport } from '../../oracle/transport.ts';

export const OP: Record<number, string> = {
  1: 'LOOKUP', 2: 'FORGET', 3: 'GETATTR', 4: 'SETATTR', 5: 'READLINK', 6: 'SYMLINK', 8: 'MKNOD', 9: 'MKDIR',
  10: 'UNLINK', 11: 'RMDIR', 12: 'RENAME', 13: 'LINK', 14: 'OPEN', 15: 'READ', 16: 'WRITE', 17: 'STATFS',
  18: 'RELEASE', 20: 'FSYNC', 21: 'SETXATTR', 22: 'GETXATTR', 23: 'LISTXATTR', 24: 'REMOVEXATTR', 25: 'FLUSH',
  26: 'INIT', 27: 'OPENDIR', 28: 'READDIR', 29: 'RELEASEDIR', 30: 'FSYNCDIR', 31: 'GETLK', 32: 'SETLK',
  33: 'SETLKW', 34: 'ACCESS', 35: 'CREATE', 36: 'INTERRUPT', 37: 'BMAP', 38: 'DESTROY', 39: 'IOCTL', 40: 'POLL',
  41: 'NOTIFY_REPLY', 42: 'BATCH_FORGET', 43: 'FALLOCATE', 44: 'READDIRPLUS', 45: 'RENAME2', 46: 'LSEEK',
  47: 'COPY_FILE_RANGE', 48: 'SETUPMAPPING', 49: 'REMOVEMAPPING', 50: 'SYNCFS', 51: 'TMPFILE', 52: 'STATX',
  53: 'COPY_FILE_RANGE_64',
};

export const E = {
  EPERM: 1, ENOENT: 2, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EEXIST: 17, ENODEV: 19, ENOTDIR: 20,
  EISDIR: 21, EINVAL: 22, EFBIG: 27, ENOSPC: 28, ESPIPE: 29, ERANGE: 34, ENOSYS: 38, ENOTEMPTY: 39, ENODATA: 61,
  EOPNOTSUPP: 95, ENXIO: 6, EXDEV: 18,
} as const;

export const INIT = {
  ASYNC_READ: 1n << 0n, POSIX_LOCKS: 1n << 1n, FILE_OPS: 1n << 2n, ATOMIC_O_TRUNC: 1n << 3n, EXPORT_SUPPORT: 1n << 4n,
  BIG_WRITES: 1n << 5n, DONT_MASK: 1n << 6n, SPLICE_WRITE: 1n << 7n, SPLICE_MOVE: 1n << 8n, SPLICE_READ: 1n << 9n,
  FLOCK_LOCKS: 1n << 10n, HAS_IOCTL_DIR: 1n << 11n, AUTO_INVAL_DATA: 1n << 12n, DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n, ASYNC_DIO: 1n << 15n, WRITEBACK_CACHE: 1n << 16n, NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n, HANDLE_KILLPRIV: 1n << 19n, POSIX_ACL: 1n << 20n, ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n, CACHE_SYMLINKS: 1n << 23n, NO_OPENDIR_SUPPORT: 1n << 24n, EXPLICIT_INVAL_DATA: 1n << 25n,
  MAP_ALIGNMENT: 1n << 26n, SUBMOUNTS: 1n << 27n, HANDLE_KILLPRIV_V2: 1n << 28n, SETXATTR_EXT: 1n << 29n,
  INIT_EXT: 1n << 30n, INIT_RESERVED: 1n << 31n, SECURITY_CTX: 1n << 32n, HAS_INODE_DAX: 1n << 33n,
  CREATE_SUPP_GROUP: 1n << 34n, HAS_EXPIRE_ONLY: 1n << 35n, DIRECT_IO_ALLOW_MMAP: 1n << 36n, PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n, HAS_RESEND: 1n << 39n, ALLOW_IDMAP: 1n << 40n, OVER_IO_URING: 1n << 41n,
  REQUEST_TIMEOUT: 1n << 42n,
} as const;

export function initNames(f: bigint): string {
  const names = Object.entries(INIT).filter(([, b]) => (f & b) !== 0n).map(([n]) => n);
  let known = 0n;
  for (const b of Object.values(INIT)) known |= b;
  if (f & ~known) names.push(`unknown:0x${(f & ~known).toString(16)}`);
  return names.join('|');
}

export const FOPEN = { DIRECT_IO: 1, KEEP_CACHE: 2, NONSEEKABLE: 4, CACHE_DIR: 8, STREAM: 16, NOFLUSH: 32, PARALLEL_DIRECT_WRITES: 64, PASSTHROUGH: 128 };

const OFLAGS: [number, string][] = [
  [0o1, 'WRONLY'], [0o2, 'RDWR'], [0o100, 'CREAT'], [0o200, 'EXCL'], [0o400, 'NOCTTY'], [0o1000, 'TRUNC'], [0o2000, 'APPEND'],
  [0o4000, 'NONBLOCK'], [0o10000, 'DSYNC'], [0o20000, 'ASYNC'], [0o40000, 'DIRECT'], [0o100000, 'LARGEFILE'],
  [0o200000, 'DIRECTORY'], [0o400000, 'NOFOLLOW'], [0o1000000, 'NOATIME'], [0o2000000, 'CLOEXEC'], [0o4000000, 'SYNC'],
  [0o10000000, 'PATH'], [0o20000000, 'TMPFILE'],
];
export function oflagNames(f: number): string {
  const n = OFLAGS.filter(([b]) => (f & b) !== 0).map(([, s]) => s);
  if ((f & 3) === 0) n.unshift('RDONLY');
  let rest = f;
  for (const [b] of OFLAGS) rest &= ~b;
  if (rest) n.push(`0x${rest.toString(16)}`);
  return n.join('|');
}
const FATTR: [number, string][] = [
  [1, 'MODE'], [2, 'UID'], [4, 'GID'], [8, 'SIZE'], [16, 'ATIME'], [32, 'MTIME'], [64, 'FH'], [128, 'ATIME_NOW'],
  [256, 'MTIME_NOW'], [512, 'LOCKOWNER'], [1024, 'CTIME'], [2048, 'KILL_SUIDGID'],
];
const bits = (f: number, tbl: [number, string][]) => {
  const n = tbl.filter(([b]) => (f & b) !== 0).map(([, s]) => s);
  let rest = f;
  for (const [b] of tbl) rest &= ~b;
  if (rest) n.push(`0x${rest.toString(16)}`);
  return n.join('|') || '0';
};

export interface Req {
  op: string;
  opcode: number;
  unique: bigint;
  nodeid: number;
  uid: number;
  gid: number;
  pid: number;
  extlen: number;
  /** decoded argument fields */
  f: Record<string, unknown>;
  body: Buffer;
  /** WRITE data, SETXATTR value */
  data?: Buffer;
  text: string;
}

const u64 = (b: Buffer, o: number) => Number(b.readBigUInt64LE(o));
const u64w = (b: Buffer, o: number) => b.readBigUInt64LE(o);
const u32 = (b: Buffer, o: number) => b.readUInt32LE(o);
function cstrings(b: Buffer, o: number): string[] {
  const s = b.subarray(o).toString('latin1');
  const parts = s.split('\0');
  parts.pop();
  return parts;
}
const hx = (v: number | bigint) => `0x${v.toString(16)}`;
const owner = (v: bigint) => (v === 0n ? '0' : `#${(v & 0xffffn).toString(16)}`);

export function decode(raw: Uint8Array): Req {
  const b = Buffer.from(raw);
  const opcode = u32(b, 4);
  const op = OP[opcode] ?? `OP_${opcode}`;
  const extlen = b.readUInt16LE(36);
  const body = b.subarray(40, b.length - extlen * 8);
  const r: Req = {
    op, opcode, unique: u64w(b, 8), nodeid: u64(b, 16), uid: u32(b, 24), gid: u32(b, 28), pid: u32(b, 32), extlen,
    f: {}, body, text: '',
  };
  const f = r.f;
  try {
    switch (op) {
      case 'INIT':
        Object.assign(f, { major: u32(body, 0), minor: u32(body, 4), max_readahead: u32(body, 8), flags: u32(body, 12), flags2: body.length >= 20 ? u32(body, 16) : 0 });
        break;
      case 'LOOKUP': case 'UNLINK': case 'RMDIR': case 'GETXATTR_NAME': case 'REMOVEXATTR':
        f.name = cstrings(body, 0)[0];
        break;
      case 'FORGET':
        f.nlookup = u64(body, 0);
        break;
      case 'BATCH_FORGET': {
        const n = u32(body, 0);
        const items: string[] = [];
        for (let i = 0; i < n; i++) items.push(`${u64(body, 8 + 16 * i)}:${u64(body, 16 + 16 * i)}`);
        f.count = n;
        f.items = items.join(',');
        break;
      }
      case 'GETATTR':
        Object.assign(f, { getattr_flags: u32(body, 0), fh: u64(body, 8) });
        break;
      case 'SETATTR':
        Object.assign(f, {
          valid: bits(u32(body, 0), FATTR), fh: u64(body, 8), size: u64(body, 16), lock_owner: owner(u64w(body, 24)),
          atime: u64(body, 32), mtime: u64(body, 40), ctime: u64(body, 48), mode: u32(body, 68).toString(8),
          uid: u32(body, 76), gid: u32(body, 80),
        });
        break;
      case 'OPEN': case 'OPENDIR':
        Object.assign(f, { flags: oflagNames(u32(body, 0)), open_flags: hx(u32(body, 4)) });
        break;
      case 'CREATE':
        Object.assign(f, { flags: oflagNames(u32(body, 0)), mode: u32(body, 4).toString(8), umask: u32(body, 8).toString(8), open_flags: hx(u32(body, 12)), name: cstrings(body, 16)[0] });
        break;
      case 'MKNOD':
        Object.assign(f, { mode: u32(body, 0).toString(8), rdev: u32(body, 4), umask: u32(body, 8).toString(8), name: cstrings(body, 16)[0] });
        break;
      case 'MKDIR':
        Object.assign(f, { mode: u32(body, 0).toString(8), umask: u32(body, 4).toString(8), name: cstrings(body, 8)[0] });
        break;
      case 'SYMLINK': {
        const [name, target] = cstrings(body, 0);
        Object.assign(f, { name, target });
        break;
      }
      case 'LINK':
        Object.assign(f, { oldnodeid: u64(body, 0), name: cstrings(body, 8)[0] });
        break;
      case 'RENAME': {
        const [o, n] = cstrings(body, 8);
        Object.assign(f, { newdir: u64(body, 0), old: o, new: n });
        break;
      }
      case 'RENAME2': {
        const [o, n] = cstrings(body, 16);
        Object.assign(f, { newdir: u64(body, 0), flags: u32(body, 8), old: o, new: n });
        break;
      }
      case 'READ': case 'READDIR': case 'READDIRPLUS':
        Object.assign(f, { fh: u64(body, 0), offset: u64(body, 8), size: u32(body, 16), read_flags: u32(body, 20), lock_owner: owner(u64w(body, 24)), flags: oflagNames(u32(body, 32)) });
        break;
      case 'WRITE':
        Object.assign(f, { fh: u64(body, 0), offset: u64(body, 8), size: u32(body, 16), write_flags: u32(body, 20), lock_owner: owner(u64w(body, 24)), flags: oflagNames(u32(body, 32)) });
        r.data = body.subarray(40);
        break;
      case 'RELEASE': case 'RELEASEDIR':
        Object.assign(f, { fh: u64(body, 0), flags: oflagNames(u32(body, 8)), release_flags: u32(body, 12), lock_owner: owner(u64w(body, 16)) });
        break;
      case 'FLUSH':
        Object.assign(f, { fh: u64(body, 0), lock_owner: owner(u64w(body, 16)) });
        break;
      case 'FSYNC': case 'FSYNCDIR':
        Object.assign(f, { fh: u64(body, 0), fsync_flags: u32(body, 8) });
        break;
      case 'GETXATTR': case 'LISTXATTR':
        Object.assign(f, { size: u32(body, 0) });
        if (op === 'GETXATTR') f.name = cstrings(body, 8)[0];
        break;
      case 'SETXATTR':
        // without FUSE_SETXATTR_EXT the struct is 8 bytes (size, flags)
        Object.assign(f, { size: u32(body, 0), flags: u32(body, 4), name: cstrings(body, 8)[0] });
        break;
      case 'ACCESS':
        f.mask = u32(body, 0);
        break;
      case 'GETLK': case 'SETLK': case 'SETLKW':
        Object.assign(f, {
          fh: u64(body, 0), owner: owner(u64w(body, 8)), start: u64w(body, 16).toString(), end: u64w(body, 24) === 0xffffffffffffffffn ? 'EOF' : u64w(body, 24).toString(),
          type: ['RDLCK', 'WRLCK', 'UNLCK'][u32(body, 32)] ?? u32(body, 32), lkpid: u32(body, 36), lk_flags: u32(body, 40),
        });
        break;
      case 'INTERRUPT':
        f.unique = u64w(body, 0).toString();
        break;
      case 'FALLOCATE':
        Object.assign(f, { fh: u64(body, 0), offset: u64(body, 8), length: u64(body, 16), mode: hx(u32(body, 24)) });
        break;
      case 'LSEEK':
        Object.assign(f, { fh: u64(body, 0), offset: u64(body, 8), whence: ['SET', 'CUR', 'END', 'DATA', 'HOLE'][u32(body, 16)] ?? u32(body, 16) });
        break;
      case 'COPY_FILE_RANGE': case 'COPY_FILE_RANGE_64':
        Object.assign(f, { fh_in: u64(body, 0), off_in: u64(body, 8), nodeid_out: u64(body, 16), fh_out: u64(body, 24), off_out: u64(body, 32), len: u64(body, 40), flags: u64(body, 48) });
        break;
      case 'STATX':
        Object.assign(f, { getattr_flags: u32(body, 0), fh: u64(body, 8), sx_flags: hx(u32(body, 16)), sx_mask: hx(u32(body, 20)) });
        break;
      case 'IOCTL':
        Object.assign(f, { fh: u64(body, 0), flags: u32(body, 8), cmd: hx(u32(body, 12)), in_size: u32(body, 24), out_size: u32(body, 28) });
        break;
      case 'POLL':
        Object.assign(f, { fh: u64(body, 0), kh: u64(body, 8), flags: u32(body, 16), events: hx(u32(body, 20)) });
        break;
      case 'SYNCFS': case 'DESTROY': case 'STATFS': case 'READLINK':
        break;
      default:
        f.bodylen = body.length;
    }
  } catch (e) {
    f.decodeError = (e as Error).message;
  }
  const parts = Object.entries(f).map(([k, v]) => `${k}=${typeof v === 'bigint' ? v.toString() : String(v)}`);
  if (op === 'INIT') {
    parts.push(`[${initNames(BigInt(f.flags as number) | (BigInt(f.flags2 as number) << 32n))}]`);
  }
  r.text = `${op}${r.nodeid && op !== 'INIT' ? ` n${r.nodeid}` : ''}${parts.length ? ' ' + parts.join(' ') : ''}${extlen ? ` ext=${extlen * 8}B` : ''}`;
  return r;
}

// ---------------------------------------------------------------------------
// reply encoding

export interface AttrInit {
  ino: number;
  size: number;
  mode: number;
  nlink?: number;
  mtime?: number;
  blocks?: number;
}

export function attrBytes(a: AttrInit): Buffer {
  const b = Buffer.alloc(88);
  b.writeBigUInt64LE(BigInt(a.ino), 0);
  b.writeBigUInt64LE(BigInt(a.size), 8);
  b.writeBigUInt64LE(BigInt(a.blocks ?? Math.ceil(a.size / 512)), 16);
  b.writeBigUInt64LE(BigInt(a.mtime ?? 0), 24);
  b.writeBigUInt64LE(BigInt(a.mtime ?? 0), 32);
  b.writeBigUInt64LE(BigInt(a.mtime ?? 0), 40);
  b.writeUInt32LE(a.mode, 60);
  b.writeUInt32LE(a.nlink ?? 1, 64);
  return b;
}
export function entryOut(nodeid: number, entryValid: number, attrValid: number, a: AttrInit): Buffer {
  const h = Buffer.alloc(40);
  h.writeBigUInt64LE(BigInt(nodeid), 0);
  h.writeBigUInt64LE(BigInt(entryValid), 16);
  h.writeBigUInt64LE(BigInt(attrValid), 24);
  return Buffer.concat([h, attrBytes(a)]);
}
export function attrOut(attrValid: number, a: AttrInit): Buffer {
  const h = Buffer.alloc(16);
  h.writeBigUInt64LE(BigInt(attrValid), 0);
  return Buffer.concat([h, attrBytes(a)]);
}
export function openOut(fh: number, openFlags: number, backingId = 0, raw?: Buffer): Buffer {
  if (raw) return raw;
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(BigInt(fh), 0);
  b.writeUInt32LE(openFlags >>> 0, 8);
  b.writeInt32LE(backingId, 12);
  return b;
}
function replyBytes(unique: bigint, error: number, body?: Buffer): Buffer {
  const h = Buffer.alloc(16);
  const len = 16 + (body?.length ?? 0);
  h.writeUInt32LE(len, 0);
  h.writeInt32LE(error, 4);
  h.writeBigUInt64LE(unique, 8);
  return body ? Buffer.concat([h, body]) : h;
}

// ---------------------------------------------------------------------------
// the lab

export interface Node {
  nodeid: number;
  name: string;
  parent: number;
  mode: number;
  /** real file (regular files) or directory (dirs) that holds the data */
  path: string;
  nlookup: number;
}

export type OpenKind = 'cached' | 'direct' | 'passthrough' | 'passthrough+direct';

export interface OpenDecision {
  fh?: number;
  open_flags?: number;
  /** 'backing': BACKING_OPEN the node's file; a number: use this id as is */
  backing?: 'backing' | number;
  /** BACKING_CLOSE the id right after the reply (default: at RELEASE) */
  closeIdAtOnce?: boolean;
  error?: number;
  /** raw fuse_open_out bytes (overrides everything but error) */
  raw?: Buffer;
}

export type Reply = { error: number; body?: Buffer } | 'none';
export type Handler = (r: Req, lab: Lab) => Reply | undefined | Promise<Reply | undefined>;

export interface LabOptions {
  /** INIT reply flags (default INIT_EXT|PASSTHROUGH) */
  initFlags?: bigint;
  maxStackDepth?: number;
  minor?: number;
  maxWrite?: number;
  maxReadahead?: number;
  maxPages?: number;
  timeGran?: number;
  /** seconds */
  entryValid?: number;
  attrValid?: number;
  /** regular files at the root: name -> content */
  files?: Record<string, string | Buffer>;
  /** file modes by name (default 0100644 / 040755) */
  modes?: Record<string, number>;
  /** sub directories at the root: name -> files in it */
  dirs?: Record<string, Record<string, string>>;
  /** how OPEN is answered (default 'cached') */
  open?: OpenKind | ((r: Req, n: Node, lab: Lab) => OpenDecision | Promise<OpenDecision>);
  /** how CREATE's open part is answered (default: like open) */
  create?: OpenKind | 'ENOSYS' | ((r: Req, lab: Lab) => OpenDecision);
  opendir?: (r: Req, n: Node, lab: Lab) => OpenDecision | Promise<OpenDecision>;
  /** errno (negative) for GETXATTR (default ENOSYS) */
  getxattr?: number;
  /** opcodes answered ENOSYS on top of the unimplemented ones */
  enosys?: string[];
  /** per-opcode overrides; returning undefined falls through to the default */
  handlers?: Record<string, Handler>;
  /** mount with default_permissions */
  defaultPermissions?: boolean;
  /** log FORGET/BATCH_FORGET/INTERRUPT too (default true) */
  quiet?: string[];
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o40000;
let labSeq = 0;

export class Lab {
  readonly t: RealFuseTransport;
  readonly o: LabOptions;
  readonly log: string[] = [];
  readonly reqs: Req[] = [];
  readonly nodes = new Map<number, Node>();
  readonly backingDir: string;
  kernelInit: Req | undefined;
  private nextNodeid = 2;
  private nextFh = 1;
  /** fh -> {nodeid, backing id} */
  readonly fhs = new Map<number, { nodeid: number; id: number; dir: boolean }>();
  readonly backingIds: number[] = [];
  private loopDone: Promise<void>;
  private lastActivity = Date.now();
  private busy = 0;

  private constructor(t: RealFuseTransport, o: LabOptions, dir: string) {
    this.t = t;
    this.o = o;
    this.backingDir = dir;
    this.nodes.set(1, { nodeid: 1, name: '', parent: 1, mode: S_IFDIR | 0o755, path: dir, nlookup: 0 });
    this.loopDone = this.loop();
  }

  get mnt(): string {
    return this.t.mountpoint;
  }

  static async start(o: LabOptions = {}): Promise<Lab> {
    const dir = `/tmp/fpsim-research/${process.pid}-${labSeq++}`;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [name, content] of Object.entries(o.files ?? {})) writeFileSync(`${dir}/${name}`, content);
    for (const [d, files] of Object.entries(o.dirs ?? {})) {
      mkdirSync(`${dir}/${d}`);
      for (const [name, content] of Object.entries(files)) writeFileSync(`${dir}/${d}/${name}`, content);
    }
    const t = await RealFuseTransport.start({ defaultPermissions: o.defaultPermissions });
    const lab = new Lab(t, o, dir);
    live.add(lab);
    return lab;
  }

  /** the node for a name in a directory, created on first LOOKUP if the real file exists */
  private child(parent: number, name: string): Node | undefined {
    for (const n of this.nodes.values()) if (n.parent === parent && n.name === name && n.nodeid !== 1) return n;
    const p = this.nodes.get(parent);
    if (!p) return undefined;
    const path = `${p.path}/${name}`;
    let st;
    try {
      st = statSync(path);
    } catch {
      return undefined;
    }
    const n: Node = { nodeid: this.nextNodeid++, name, parent, mode: this.o.modes?.[name] ?? (st.isDirectory() ? S_IFDIR | 0o755 : S_IFREG | 0o644), path, nlookup: 0 };
    this.nodes.set(n.nodeid, n);
    return n;
  }

  attrOf(n: Node): AttrInit {
    let size = 0;
    let mtime = 0;
    try {
      const st = statSync(n.path);
      size = n.mode & S_IFDIR ? 0 : st.size;
      mtime = Math.floor(st.mtimeMs / 1000);
    } catch {
      // removed behind our back
    }
    return { ino: n.nodeid, size, mode: n.mode, nlink: n.mode & S_IFDIR ? 2 : 1, mtime };
  }

  get entryValid(): number {
    return this.o.entryValid ?? 86400;
  }
  get attrValid(): number {
    return this.o.attrValid ?? 86400;
  }

  entryFor(n: Node): Buffer {
    n.nlookup++;
    return entryOut(n.nodeid, this.entryValid, this.attrValid, this.attrOf(n));
  }

  note(s: string): void {
    this.log.push(`# ${s}`);
  }

  private async loop(): Promise<void> {
    for (;;) {
      let raw: Uint8Array;
      try {
        raw = await this.t.nextRequest();
      } catch {
        this.log.push('(device gone)');
        return;
      }
      this.busy++;
      this.lastActivity = Date.now();
      try {
        const r = decode(raw);
        this.reqs.push(r);
        if (r.op === 'LOOKUP' && typeof r.f.name === 'string' && r.f.name.startsWith('__mark__')) {
          this.log.push(`--- ${r.f.name.slice(8)}`);
          this.t.reply(replyBytes(r.unique, -E.ENOENT));
          continue;
        }
        if (r.op === 'LOOKUP' && typeof r.f.name === 'string' && r.f.name.startsWith('__res__')) {
          this.log.push(`  => ${r.f.name.slice(7)}`);
          this.t.reply(replyBytes(r.unique, -E.ENOENT));
          continue;
        }
        if (!(this.o.quiet ?? []).includes(r.op)) this.log.push(r.text);
        let rep: Reply | undefined;
        const h = this.o.handlers?.[r.op];
        if (h) rep = await h(r, this);
        if (rep === undefined) rep = await this.dflt(r);
        this.send(r, rep);
      } catch (e) {
        this.log.push(`!! server error ${(e as Error).stack}`);
      } finally {
        this.busy--;
        this.lastActivity = Date.now();
      }
    }
  }

  private send(r: Req, rep: Reply): void {
    if (rep === 'none') return;
    if (rep.error !== 0) {
      const name = Object.entries(E).find(([, v]) => v === -rep.error)?.[0] ?? String(rep.error);
      this.log.push(`    <- ${name}`);
    }
    this.t.reply(replyBytes(r.unique, rep.error, rep.error === 0 ? rep.body : undefined));
  }

  private async openDecision(kind: OpenKind): Promise<OpenDecision> {
    switch (kind) {
      case 'cached':
        return {};
      case 'direct':
        return { open_flags: FOPEN.DIRECT_IO };
      case 'passthrough':
        return { open_flags: FOPEN.PASSTHROUGH, backing: 'backing' };
      case 'passthrough+direct':
        return { open_flags: FOPEN.PASSTHROUGH | FOPEN.DIRECT_IO, backing: 'backing' };
    }
  }

  /** performs an open decision: returns the fuse_open_out bytes or an error */
  async doOpen(d: OpenDecision, n: Node, dir: boolean): Promise<{ error: number; body?: Buffer }> {
    if (d.error) return { error: d.error };
    const fh = d.fh ?? this.nextFh++;
    let id = 0;
    if (d.backing === 'backing') {
      id = await this.t.backingOpen(n.path, { oflags: dir ? 0o200000 : 2 });
      this.log.push(`    (server: BACKING_OPEN ${n.path.slice(this.backingDir.length) || '/'} -> ${id})`);
      if (id < 0) return { error: -E.EIO };
      this.backingIds.push(id);
    } else if (typeof d.backing === 'number') id = d.backing;
    this.fhs.set(fh, { nodeid: n.nodeid, id: d.backing === 'backing' && !d.closeIdAtOnce ? id : 0, dir });
    const body = openOut(fh, d.open_flags ?? 0, id, d.raw);
    if (d.closeIdAtOnce && id > 0) {
      // after the reply is on its way (the transport keeps order)
      setTimeout(() => void this.t.backingClose(id).then((r) => this.log.push(`    (server: BACKING_CLOSE ${id} -> ${r})`)), 0);
    }
    return { error: 0, body };
  }

  private readFile(path: string, off: number, size: number): Buffer {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(size);
      const n = readSync(fd, buf, 0, size, off);
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }

  private async dflt(r: Req): Promise<Reply> {
    const o = this.o;
    if ((o.enosys ?? []).includes(r.op)) return { error: -E.ENOSYS };
    const n = this.nodes.get(r.nodeid);
    switch (r.op) {
      case 'INIT': {
        this.kernelInit = r;
        const flags = o.initFlags ?? INIT.INIT_EXT | INIT.PASSTHROUGH;
        const b = Buffer.alloc(64);
        b.writeUInt32LE(7, 0);
        b.writeUInt32LE(o.minor ?? 40, 4);
        b.writeUInt32LE(o.maxReadahead ?? 0, 8);
        b.writeUInt32LE(Number(flags & 0xffffffffn), 12);
        b.writeUInt32LE(o.maxWrite ?? 131072, 20);
        b.writeUInt32LE(o.timeGran ?? 0, 24);
        b.writeUInt16LE(o.maxPages ?? 0, 28);
        b.writeUInt32LE(Number(flags >> 32n), 32);
        b.writeUInt32LE(o.maxStackDepth ?? 1, 36);
        return { error: 0, body: b };
      }
      case 'LOOKUP': {
        const c = this.child(r.nodeid, r.f.name as string);
        if (!c) return { error: -E.ENOENT };
        return { error: 0, body: this.entryFor(c) };
      }
      case 'FORGET':
        if (n) n.nlookup -= r.f.nlookup as number;
        return 'none';
      case 'BATCH_FORGET':
        return 'none';
      case 'INTERRUPT':
        return 'none';
      case 'GETATTR':
        if (!n) return { error: -E.ENOENT };
        return { error: 0, body: attrOut(this.attrValid, this.attrOf(n)) };
      case 'SETATTR': {
        if (!n) return { error: -E.ENOENT };
        const valid = String(r.f.valid);
        if (valid.split('|').includes('SIZE')) {
          const fd = openSync(n.path, 'r+');
          ftruncateSync(fd, r.f.size as number);
          closeSync(fd);
        }
        if (valid.split('|').includes('MODE')) n.mode = (n.mode & ~0o7777) | (parseInt(String(r.f.mode), 8) & 0o7777);
        return { error: 0, body: attrOut(this.attrValid, this.attrOf(n)) };
      }
      case 'OPEN': {
        if (!n) return { error: -E.ENOENT };
        const d = typeof o.open === 'function' ? await o.open(r, n, this) : await this.openDecision(o.open ?? 'cached');
        return this.doOpen(d, n, false);
      }
      case 'OPENDIR': {
        if (!n) return { error: -E.ENOENT };
        const d = o.opendir ? await o.opendir(r, n, this) : {};
        return this.doOpen(d, n, true);
      }
      case 'CREATE': {
        if (o.create === 'ENOSYS') return { error: -E.ENOSYS };
        const p = this.nodes.get(r.nodeid)!;
        const name = r.f.name as string;
        const path = `${p.path}/${name}`;
        const flags = String(r.f.flags);
        try {
          statSync(path);
          if (flags.includes('EXCL')) return { error: -E.EEXIST };
        } catch {
          writeFileSync(path, '');
        }
        const c = this.child(r.nodeid, name)!;
        let d: OpenDecision;
        if (typeof o.create === 'function') d = o.create(r, this);
        else if (o.create) d = await this.openDecision(o.create);
        else if (typeof o.open === 'function') d = await o.open(r, c, this);
        else d = await this.openDecision(o.open ?? 'cached');
        const op = await this.doOpen(d, c, false);
        if (op.error) return op;
        return { error: 0, body: Buffer.concat([this.entryFor(c), op.body!]) };
      }
      case 'MKNOD': {
        const p = this.nodes.get(r.nodeid)!;
        const path = `${p.path}/${r.f.name as string}`;
        try {
          statSync(path);
          return { error: -E.EEXIST };
        } catch {
          writeFileSync(path, '');
        }
        return { error: 0, body: this.entryFor(this.child(r.nodeid, r.f.name as string)!) };
      }
      case 'MKDIR': {
        const p = this.nodes.get(r.nodeid)!;
        const path = `${p.path}/${r.f.name as string}`;
        try {
          mkdirSync(path);
        } catch {
          return { error: -E.EEXIST };
        }
        return { error: 0, body: this.entryFor(this.child(r.nodeid, r.f.name as string)!) };
      }
      case 'UNLINK': case 'RMDIR': {
        const c = this.child(r.nodeid, r.f.name as string);
        if (!c) return { error: -E.ENOENT };
        rmSync(c.path, { recursive: true });
        c.name = `(deleted ${c.name})`;
        return { error: 0 };
      }
      case 'RENAME': case 'RENAME2': {
        const c = this.child(r.nodeid, r.f.old as string);
        if (!c) return { error: -E.ENOENT };
        const np = this.nodes.get(r.f.newdir as number)!;
        const to = `${np.path}/${r.f.new as string}`;
        const { renameSync } = await import('node:fs');
        renameSync(c.path, to);
        for (const x of this.nodes.values()) if (x.parent === np.nodeid && x.name === r.f.new) x.name = '(replaced)';
        c.name = r.f.new as string;
        c.parent = np.nodeid;
        c.path = to;
        return { error: 0 };
      }
      case 'READ': {
        if (!n) return { error: -E.ENOENT };
        return { error: 0, body: this.readFile(n.path, r.f.offset as number, r.f.size as number) };
      }
      case 'WRITE': {
        if (!n) return { error: -E.ENOENT };
        const fd = openSync(n.path, 'r+');
        writeSync(fd, r.data!, 0, r.data!.length, r.f.offset as number);
        closeSync(fd);
        const b = Buffer.alloc(8);
        b.writeUInt32LE(r.data!.length, 0);
        return { error: 0, body: b };
      }
      case 'FLUSH':
      case 'FSYNC':
      case 'FSYNCDIR':
        return { error: 0 };
      case 'RELEASE': case 'RELEASEDIR': {
        const fh = this.fhs.get(r.f.fh as number);
        if (fh && fh.id > 0) {
          const res = await this.t.backingClose(fh.id);
          this.log.push(`    (server: BACKING_CLOSE ${fh.id} -> ${res})`);
        }
        this.fhs.delete(r.f.fh as number);
        return { error: 0 };
      }
      case 'GETXATTR':
        return { error: o.getxattr ?? -E.ENOSYS };
      case 'STATFS': {
        const b = Buffer.alloc(80);
        b.writeBigUInt64LE(1000n, 0);
        b.writeBigUInt64LE(500n, 8);
        b.writeBigUInt64LE(500n, 16);
        b.writeBigUInt64LE(100n, 24);
        b.writeBigUInt64LE(50n, 32);
        b.writeUInt32LE(4096, 40);
        b.writeUInt32LE(255, 44);
        b.writeUInt32LE(4096, 48);
        return { error: 0, body: b };
      }
      case 'READDIR': case 'READDIRPLUS': {
        if (!n) return { error: -E.ENOENT };
        const { readdirSync } = await import('node:fs');
        const names = ['.', '..', ...readdirSync(n.path)];
        const off = r.f.offset as number;
        const out: Buffer[] = [];
        let total = 0;
        for (let i = off; i < names.length; i++) {
          const name = names[i]!;
          const nameB = Buffer.from(name);
          const dl = 24 + nameB.length;
          const padded = (dl + 7) & ~7;
          let entry: Buffer = Buffer.alloc(0);
          let ino = i + 1000;
          let type = 4;
          if (name !== '.' && name !== '..') {
            const c = this.child(n.nodeid, name)!;
            ino = c.nodeid;
            type = c.mode & S_IFDIR ? 4 : 8;
            if (r.op === 'READDIRPLUS') entry = this.entryFor(c);
          } else if (r.op === 'READDIRPLUS') entry = Buffer.alloc(128); // nodeid 0: no entry
          const d = Buffer.alloc(padded);
          d.writeBigUInt64LE(BigInt(ino), 0);
          d.writeBigUInt64LE(BigInt(i + 1), 8);
          d.writeUInt32LE(nameB.length, 16);
          d.writeUInt32LE(type, 20);
          nameB.copy(d, 24);
          const rec = Buffer.concat([entry, d]);
          if (total + rec.length > (r.f.size as number)) break;
          out.push(rec);
          total += rec.length;
        }
        return { error: 0, body: Buffer.concat(out) };
      }
      case 'DESTROY':
        return { error: 0 };
      case 'LSEEK': {
        if (!n) return { error: -E.ENOENT };
        const size = statSync(n.path).size;
        const off = r.f.offset as number;
        const w = r.f.whence;
        let res = off;
        if (w === 'DATA') res = off < size ? off : -1;
        else if (w === 'HOLE') res = off < size ? size : -1;
        else if (w === 'END') res = size + off;
        if (res < 0) return { error: -E.ENXIO };
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(res), 0);
        return { error: 0, body: b };
      }
      default:
        return { error: -E.ENOSYS };
    }
  }

  /** resolves once no request arrived for quietMs */
  async idle(quietMs = 100, timeoutMs = 5000): Promise<void> {
    const start = Date.now();
    for (;;) {
      const q = Date.now() - Math.max(this.lastActivity, start);
      if (this.busy === 0 && q >= quietMs) return;
      if (Date.now() - start > timeoutMs) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** runs a python3 script (with the PRELUDE) as a separate process; returns its printed lines */
  async py(script: string, timeoutMs = 15000): Promise<string[]> {
    const out = await runPy(PRELUDE + script, { MNT: this.mnt, BDIR: this.backingDir }, timeoutMs);
    for (const l of out) if (!l.startsWith('@')) this.log.push(`  (py) ${l}`);
    await this.idle();
    return out;
  }

  /** the log since the last call, and marks everything read */
  private logMark = 0;
  take(): string[] {
    const l = this.log.slice(this.logMark);
    this.logMark = this.log.length;
    return l;
  }

  async stop(): Promise<void> {
    live.delete(this);
    await this.t.stop();
    await this.loopDone;
    rmSync(this.backingDir, { recursive: true, force: true });
  }
}

const live = new Set<Lab>();
async function stopLive(): Promise<void> {
  await Promise.all([...live].map((l) => l.stop().catch(() => {})));
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    void stopLive().finally(() => process.exit(130));
  });
}

export function runPy(script: string, env: Record<string, string>, timeoutMs = 15000): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn('python3', ['-u', '-c', script], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      err += '\n(killed: timeout)';
    }, timeoutMs);
    child.once('close', () => {
      clearTimeout(timer);
      const lines = out.split('\n').filter((l) => l.trim() !== '');
      if (err.trim()) lines.push(...err.trim().split('\n').map((l) => `stderr: ${l}`));
      resolve(lines);
    });
  });
}

/** python helpers: mark(label) puts a marker in the request log; s(label, fn) marks, runs, prints */
export const PRELUDE = String.raw`
import os, sys, json, time, errno, fcntl, mmap, ctypes, struct, stat as _stat
MNT = os.environ['MNT']; BDIR = os.environ['BDIR']
def P(n): return MNT + '/' + n
def B(n): return BDIR + '/' + n
def mark(label):
    time.sleep(0.08)
    try: os.stat(MNT + '/__mark__' + label.replace('/', '_'))
    except OSError: pass
def res(text):
    text = text.replace('/', '|')[:200]
    print('@' + text, flush=True)
    try: os.stat(MNT + '/__res__' + text)
    except OSError: pass
def s(label, fn, q=False):
    if not q: mark(label)
    try:
        r = fn()
        res(repr(r) if not isinstance(r, bytes) else 'bytes' + repr(r[:48]) + ('...len=%d' % len(r) if len(r) > 48 else ''))
        return r
    except OSError as e:
        res(errno.errorcode.get(e.errno, str(e.errno)))
        return None
    except Exception as e:
        res('EXC ' + repr(e))
        return None
_libc = ctypes.CDLL(None, use_errno=True)
AT_STATX_DONT_SYNC = 0x4000; AT_STATX_FORCE_SYNC = 0x2000; AT_FDCWD = -100; AT_EMPTY_PATH = 0x1000
def statx(path, flags=0, mask=0x7ff, fd=AT_FDCWD):
    buf = ctypes.create_string_buffer(256)
    p = path.encode() if path is not None else b''
    if _libc.statx(fd, p, flags, mask, buf) != 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
    raw = buf.raw
    size = struct.unpack_from('<Q', raw, 40)[0]; mode = struct.unpack_from('<H', raw, 28)[0]
    msk = struct.unpack_from('<I', raw, 0)[0]; mt = struct.unpack_from('<q', raw, 112)[0]
    return {'size': size, 'mode': oct(mode), 'mask': hex(msk), 'mtime': mt}
def st(path):
    x = os.stat(path); return {'size': x.st_size, 'mode': oct(x.st_mode)}
def fst(fd):
    x = os.fstat(fd); return {'size': x.st_size, 'mode': oct(x.st_mode)}
def bsize(n): return os.stat(B(n)).st_size
def bdata(n):
    with open(B(n), 'rb') as f: return f.read()
`;

/** run an experiment: starts a lab, runs fn, stops it, returns the log text */
export async function experiment(title: string, o: LabOptions, fn: (lab: Lab) => Promise<void>): Promise<string> {
  const lab = await Lab.start(o);
  try {
    await lab.idle(150);
    await fn(lab);
    await lab.idle(150);
  } catch (e) {
    lab.log.push(`!! experiment error ${(e as Error).stack}`);
  } finally {
    await lab.stop();
  }
  const text = [`### ${title}`, '```', ...lab.log.filter((l) => !l.startsWith('INIT ')), '```', ''].join('\n');
  return text;
}

export { fstatSync };
