// The scripted server's decisions, as pure functions over plain data: the server's state and
// a request's bytes in; encoded reply bytes and actions out ("open this backing path",
// "BACKING_OPEN fd", "BACKING_CLOSE id", "close fd"). Two adapters drive it:
//   - the model's (sim/server/server.ts): kfuncs that perform each action as a kernel call
//     inside the world, one step per label, so the server interleaves with user tasks;
//   - the real kernel's (oracle/real-server.ts): the same labels over RealFuseTransport.
// Nothing here touches a world, a file or a transport: what the server needs to know about
// its backing files comes through ServerEnv, so both adapters answer every request alike.
import { ERRNO, neg } from '../kernel/lib/errno.ts';
import { decodeRequest, decodeRequestArg, encodeCreateOut, type RequestArg, encodeDirentplus, encodeDirents, encodeReply, encodeShortInitOut, type Dirent, type Direntplus, type Wide } from '../wire/messages.ts';
import { formatDecodedRequest, formatRequest } from '../wire/format.ts';
import {
  encode,
  direntAlign,
  FUSE_ATTR_OUT,
  FUSE_COPY_FILE_RANGE_OUT,
  FUSE_DIRENT,
  FUSE_DIRENTPLUS,
  FUSE_ENTRY_OUT,
  FUSE_LSEEK_OUT,
  FUSE_LK_OUT,
  FUSE_OPEN_OUT,
  FUSE_STATFS_OUT,
  FUSE_WRITE_OUT,
  zeroValue,
  type FuseInitOut,
} from '../wire/structs.ts';
import { F_RDLCK, F_UNLCK, F_WRLCK, FALLOC_FL, FATTR, FOPEN, SEEK_HOLE, FUSE_INIT_FLAG, FUSE_LK_FLOCK, FUSE_OPCODE, FUSE_RELEASE_FLOCK_UNLOCK, FUSE_ROOT_ID, V15_UAPI, initFlagNames, joinInitFlags, opcodeName, splitInitFlags } from '../wire/uapi.ts';
import type { FopenName, OpenPolicy } from './policy.ts';
import type { ServerInode, ServerLock, ServerState } from './state.ts';
import { fromHex, toHex } from '../kernel/fuse/hex.ts';

/** What the server learns about the world outside it: its backing files, its saved values. */
export interface ServerEnv {
  /** passthrough_hp stats (and reads) the backing file: its data and mtime, or null if missing */
  backing(path: string): { data: string; mtime: number } | null;
  /** the server writes its backing file (a userspace write, not a FUSE request) */
  writeBacking(path: string, offset: number, data: string): void;
  /** the server truncates its backing file (passthrough_hp's ftruncate on SETATTR) */
  truncateBacking(path: string, size: number): void;
  /** values the server process saved ("$id" in an open policy names one) */
  vars: Readonly<Record<string, number>>;
}

/** A request as the server keeps it: plain data (the model keeps it in frame locals). */
export interface ServerRequest {
  unique: Wide;
  opcode: number;
  /** opcodeName(opcode) */
  name: string;
  nodeid: number;
  /** the decoded argument, byte arrays turned into strings; null for opcodes the server ignores */
  arg: Record<string, unknown> | null;
}

/** fsync, fallocate, lseek and copy_file_range's requests, answered by syncReply */
const SYNC_OPS = ['FSYNC', 'FSYNCDIR', 'FALLOCATE', 'LSEEK', 'COPY_FILE_RANGE', 'COPY_FILE_RANGE_64'];

/** Opcodes the server decodes; everything else is answered ENOSYS (or not at all). */
const DECODED = new Set(['INIT', 'LOOKUP', 'GETATTR', 'SETATTR', 'GETXATTR', 'OPEN', 'RELEASE', 'READ', 'WRITE', 'FLUSH', 'DESTROY', 'GETLK', 'SETLK', 'SETLKW', 'CREATE', 'MKNOD', 'MKDIR', 'UNLINK', 'RMDIR', 'RENAME', 'RENAME2', 'OPENDIR', 'READDIR', 'READDIRPLUS', 'RELEASEDIR', 'READLINK', 'SYMLINK']);
for (const n of SYNC_OPS) DECODED.add(n);

/** Requests the kernel expects no reply to. */
export const NO_REPLY = new Set<number>([FUSE_OPCODE.FORGET, FUSE_OPCODE.BATCH_FORGET]);

/**
 * How long the kernel may cache a LOOKUP's dentry and any attributes the server sends (s).
 * The model caches them until the inode is dropped (its fuse_lookup and fuse_getattr only ask
 * again after an invalidation); a real kernel asks again when this runs out, so the server
 * says "a day" and both agree on which requests reach it.
 */
export const CACHE_SECONDS = 86_400;

/** Reads one request from the device: decodes it and notes it in s.seen. */
export function acceptRequest(s: ServerState, bytes: Uint8Array): ServerRequest {
  const req = decodeRequest(bytes);
  const name = opcodeName(req.header.opcode);
  // decoded once, for the server and for the log line
  let decoded: RequestArg | null = null;
  try {
    decoded = decodeRequestArg(req.header.opcode, req.body);
  } catch (e) {
    if (DECODED.has(name)) throw e;
  }
  const arg = DECODED.has(name) ? plain(decoded!) : null;
  s.seen.push(name);
  const text = decoded ? formatDecodedRequest(req.header.opcode, decoded, req.body) : formatRequest(req.header.opcode, req.body);
  s.log.push(maskLine(s, `n${req.header.nodeid} ${text}`));
  if (name === 'INIT' && arg) {
    const a = arg as { major: number; minor: number; flags: number; flags2: number };
    const offered = (a.flags & Number(FUSE_INIT_FLAG.INIT_EXT)) !== 0 ? joinInitFlags(a.flags, a.flags2) : BigInt(a.flags);
    s.kernelInit = `${a.major}.${a.minor}${offered & FUSE_INIT_FLAG.PASSTHROUGH ? ' PASSTHROUGH' : ''}`;
    s.kernelInitRequest = { minor: a.minor, offered: initFlagNames(offered) };
  }
  return { unique: req.header.unique, opcode: req.header.opcode, name, nodeid: req.header.nodeid, arg };
}

/**
 * A request as the oracle compares it: "n<nodeid> <formatRequest>", with what the kernel picks
 * for itself and no server can predict made comparable: a lock owner (a scrambled kernel
 * pointer) becomes o1, o2... in the order this server first saw each; a pid, and a time the
 * kernel stamps, becomes "set" (or stays 0).
 */
export function requestLine(s: ServerState, nodeid: number, opcode: number, body: Uint8Array): string {
  return maskLine(s, `n${nodeid} ${formatRequest(opcode, body)}`);
}

/** requestLine's owners, pids and times made comparable. */
function maskLine(s: ServerState, line: string): string {
  // (most lines name no owner, pid or time: the regexes need "owner=", "pid=" or "time")
  if (!line.includes('owner=') && !line.includes('pid=') && !line.includes('time')) return line;
  return line
    .replace(/\b(lock_owner|owner)=(0x[0-9a-f]+|\d+)/g, (_m, k: string, v: string) => {
      if (v === '0') return `${k}=0`;
      let i = s.owners.indexOf(v);
      if (i < 0) i = s.owners.push(v) - 1;
      return `${k}=o${i + 1}`;
    })
    .replace(/\b(pid|[acm]time|[acm]timensec)=(0x[0-9a-f]+|\d+)/g, (_m, k: string, v: string) => `${k}=${v === '0' ? '0' : 'set'}`);
}

/** u64 values too wide for a number (lock offsets up to OFFSET_MAX, 64-bit owners) become decimal strings. */
function noBigints(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'object' || v === null || v instanceof Uint8Array) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) out[k] = noBigints((v as Record<string, unknown>)[k]);
  return out;
}

/** Byte arrays become strings (and wide numbers strings) so a request stays plain data. */
function plain(arg: { op: string; arg?: unknown; data?: Uint8Array; name?: string; oldname?: string; newname?: string; target?: string }): Record<string, unknown> {
  const out: Record<string, unknown> = { ...(noBigints(arg.arg) as object) };
  if (arg.data) out['data'] = new TextDecoder().decode(arg.data);
  if (arg.name !== undefined) out['name'] = arg.name;
  if (arg.oldname !== undefined) out['oldname'] = arg.oldname;
  if (arg.newname !== undefined) out['newname'] = arg.newname;
  if (arg.target !== undefined) out['target'] = arg.target;
  return out;
}

/** OPEN and RELEASE may take several actions: they run as a job (see OPEN_STEPS, RELEASE_STEPS). */
export function isJob(opcode: number): 'open' | 'release' | null {
  if (opcode === FUSE_OPCODE.OPEN || opcode === FUSE_OPCODE.CREATE) return 'open';
  if (opcode === FUSE_OPCODE.RELEASE) return 'release';
  return null;
}

// ---------------------------------------------------------------------------
// One-reply requests.

/**
 * The INIT reply, from the policy; failed: the policy makes INIT fail; held: the policy holds
 * it (init.hold), kept in s.heldInit until releaseInit.
 */
export function initReply(s: ServerState, unique: Wide): { bytes: Uint8Array; failed: boolean; held: boolean } {
  const r = initReplyBytes(s, unique);
  if (!s.policy.init.hold) return { ...r, held: false };
  s.heldInit = { hex: toHex(r.bytes), failed: r.failed };
  return { ...r, held: true };
}

/** The held INIT reply, now to be written (null: none is held), and no longer held. */
export function releaseInit(s: ServerState): { bytes: Uint8Array; failed: boolean } | null {
  const h = s.heldInit;
  if (!h) return null;
  s.heldInit = null;
  return { bytes: fromHex(h.hex), failed: h.failed };
}

function initReplyBytes(s: ServerState, unique: Wide): { bytes: Uint8Array; failed: boolean } {
  const p = s.policy.init;
  if (p.errno) return { bytes: encodeReply(unique, neg(p.errno), null), failed: true };
  let flags = 0n;
  for (const f of p.flags) flags |= FUSE_INIT_FLAG[f as keyof typeof FUSE_INIT_FLAG];
  const out: FuseInitOut = {
    ...zeroValue_initOut(),
    major: p.major,
    minor: p.minor,
    ...splitInitFlags(flags),
    max_stack_depth: p.max_stack_depth,
    max_write: 131072,
  };
  return { bytes: encodeReply(unique, 0, encodeShortInitOut(out, p.size)), failed: false };
}

function zeroValue_initOut(): FuseInitOut {
  return { major: 0, minor: 0, max_readahead: 0, flags: 0, max_background: 0, congestion_threshold: 0, max_write: 0, time_gran: 0, max_pages: 0, map_alignment: 0, flags2: 0, max_stack_depth: 0 };
}

/** What the server's file looks like: its backing file (passthrough_hp stats it), or inline data. */
export function fileData(s: ServerState, env: ServerEnv, name: string): { data: string; mtime: number } | null {
  const f = s.policy.files[name];
  if (!f || f.absent) return null;
  return specData(env, f);
}

/** A file's data: its backing file's, or its own. */
function specData(env: ServerEnv, f: FileSpec): { data: string; mtime: number } | null {
  if (f.backing) return env.backing(f.backing);
  return { data: f.data ?? '', mtime: 0 };
}

type FileSpec = ServerState['policy']['files'][string];

/** The file an inode is: its name's, or (unlinked, still open) the one it had. */
function specOf(s: ServerState, ino: ServerInode): FileSpec | undefined {
  const f = ino.name === '' ? undefined : s.policy.files[ino.name];
  return f && !f.absent ? f : ino.gone;
}

/** An inode's data (null: no such file). */
function inodeData(s: ServerState, env: ServerEnv, ino: ServerInode | undefined): { data: string; mtime: number } | null {
  const f = ino && specOf(s, ino);
  return f ? specData(env, f) : null;
}

/** The server's inode for a name, made (a new nodeid) at its first mention. */
function inodeFor(s: ServerState, name: string): ServerInode {
  let ino = Object.values(s.inodes).find((i) => i.name === name);
  if (!ino) {
    ino = { name, nodeid: s.nextNodeid++, backingId: 0, fd: -1, nopen: 0, opened: 0, mode: s.policy.files[name]?.mode ?? 0o100644 };
    s.inodes[ino.nodeid] = ino;
  }
  return ino;
}

/** A LOOKUP reply (fuse_entry_out) for a name that exists. */
function entryOut(s: ServerState, env: ServerEnv, name: string) {
  const ino = inodeFor(s, name);
  const d = inodeData(s, env, ino) ?? { data: '', mtime: 0 };
  const e = zeroValue(FUSE_ENTRY_OUT);
  e.nodeid = ino.nodeid;
  e.entry_valid = s.policy.entry_valid;
  e.attr_valid = s.policy.attr_valid;
  e.attr = attrOut(s, ino.nodeid, (ino.mode & 0o170000) === 0o040000 ? 0 : d.data.length, d.mtime).attr;
  return e;
}

/** The names in the server's (only) directory, in the order they came. */
function dirNames(s: ServerState): string[] {
  return Object.entries(s.policy.files)
    .filter(([, f]) => !f.absent)
    .map(([n]) => n);
}

/** An unlinked name's inode keeps its file (an open file still reads it); the name goes. */
function removeName(s: ServerState, name: string) {
  const ino = Object.values(s.inodes).find((i) => i.name === name);
  if (ino) {
    ino.gone = s.policy.files[name];
    ino.name = '';
  }
  delete s.policy.files[name];
}

function attrOut(s: ServerState, nodeid: number, size: number, mtime: number) {
  const a = zeroValue(FUSE_ATTR_OUT);
  a.attr_valid = s.policy.attr_valid;
  a.attr.ino = nodeid;
  a.attr.size = size;
  a.attr.mtime = mtime;
  a.attr.mode = s.inodes[nodeid]?.mode ?? 0o100644;
  a.attr.nlink = 1;
  return a;
}

/** The root directory (stat of the mount asks for it: the kernel's root has expired attributes). */
function rootAttrOut(s: ServerState) {
  const a = zeroValue(FUSE_ATTR_OUT);
  a.attr_valid = s.policy.attr_valid;
  a.attr.ino = FUSE_ROOT_ID;
  a.attr.mode = 0o40755;
  a.attr.nlink = 2;
  return a;
}

/**
 * The reply to a request that needs no action, or null when the kernel expects none
 * (FORGET). OPEN and RELEASE are jobs: see isJob.
 */
export function simpleReply(s: ServerState, env: ServerEnv, req: ServerRequest): Uint8Array | null {
  const u = req.unique;
  switch (req.name) {
    case 'LOOKUP': {
      const name = (req.arg as { name: string }).name;
      const d = req.nodeid === FUSE_ROOT_ID ? fileData(s, env, name) : null;
      if (!d) {
        if (s.policy.lookup_missing === 'ENOENT') return encodeReply(u, neg('ENOENT'), null);
        // passthrough_hp's sfs_lookup: ENOENT as a negative entry (nodeid 0) with the timeout
        const e = zeroValue(FUSE_ENTRY_OUT);
        e.entry_valid = s.policy.entry_valid;
        e.attr_valid = s.policy.attr_valid;
        return encodeReply(u, 0, encode(FUSE_ENTRY_OUT, e));
      }
      return encodeReply(u, 0, encode(FUSE_ENTRY_OUT, entryOut(s, env, name)));
    }
    case 'SYMLINK': {
      // passthrough_hp's sfs_symlink (symlinkat): a new name holding the target (EEXIST if taken)
      const a = req.arg as { name: string; target: string };
      if (req.nodeid !== FUSE_ROOT_ID) return encodeReply(u, neg('EACCES'), null);
      if (fileData(s, env, a.name)) return encodeReply(u, neg('EEXIST'), null);
      makeName(s, a.name, 0o120777);
      s.policy.files[a.name] = { ...s.policy.files[a.name], data: a.target };
      return encodeReply(u, 0, encode(FUSE_ENTRY_OUT, entryOut(s, env, a.name)));
    }
    case 'READLINK': {
      // passthrough_hp's sfs_readlink (readlinkat): a symbolic link's target, which is what the
      // scripted server keeps as its data (a file whose mode says S_IFLNK); anything else EINVAL
      const ino = s.inodes[req.nodeid];
      const d = inodeData(s, env, ino);
      if (!ino || !d) return encodeReply(u, neg('ENOENT'), null);
      if ((ino.mode & 0o170000) !== 0o120000) return encodeReply(u, neg('EINVAL'), null);
      return encodeReply(u, 0, new TextEncoder().encode(d.data));
    }
    case 'GETATTR': {
      if (req.nodeid === FUSE_ROOT_ID) return encodeReply(u, 0, encode(FUSE_ATTR_OUT, rootAttrOut(s)));
      const ino = s.inodes[req.nodeid];
      const d = inodeData(s, env, ino);
      if (!ino || !d) return encodeReply(u, neg('ENOENT'), null);
      return encodeReply(u, 0, encode(FUSE_ATTR_OUT, attrOut(s, req.nodeid, (ino.mode & 0o170000) === 0o040000 ? 0 : d.data.length, d.mtime)));
    }
    case 'MKNOD':
    case 'MKDIR': {
      // passthrough_hp's mknod/mkdir: a new name (EEXIST if taken), its entry in the reply
      const a = req.arg as { mode: number; name: string };
      if (req.nodeid !== FUSE_ROOT_ID) return encodeReply(u, neg('EACCES'), null);
      if (fileData(s, env, a.name)) return encodeReply(u, neg('EEXIST'), null);
      let mode = req.name === 'MKDIR' ? 0o040000 | (a.mode & 0o7777) : a.mode;
      if (req.name === 'MKNOD' && s.policy.mknod === 'regular') mode = 0o100000 | (a.mode & 0o7777);
      makeName(s, a.name, mode);
      return encodeReply(u, 0, encode(FUSE_ENTRY_OUT, entryOut(s, env, a.name)));
    }
    case 'UNLINK':
    case 'RMDIR': {
      const name = (req.arg as { name: string }).name;
      const f = req.nodeid === FUSE_ROOT_ID ? s.policy.files[name] : undefined;
      if (!f || f.absent) return encodeReply(u, neg('ENOENT'), null);
      const dir = ((f.mode ?? 0o100644) & 0o170000) === 0o040000;
      if (req.name === 'UNLINK' && dir) return encodeReply(u, neg('EISDIR'), null);
      if (req.name === 'RMDIR' && !dir) return encodeReply(u, neg('ENOTDIR'), null);
      removeName(s, name);
      return encodeReply(u, 0, null);
    }
    case 'RENAME':
    case 'RENAME2':
      return renameReply(s, req);
    case 'OPENDIR': {
      const p = s.policy.opendir;
      if (p.mode === 'error') return encodeReply(u, neg(p.errno), null);
      const id = typeof p.backing_id === 'number' ? p.backing_id : (env.vars[p.backing_id.slice(1)] ?? -1);
      const fh = s.nextFh++;
      s.fhs[fh] = { nodeid: req.nodeid, backingId: 0, fd: -1 };
      return encodeReply(u, 0, encode(FUSE_OPEN_OUT, { fh, open_flags: fopenBits(s, p.flags), backing_id: id }));
    }
    case 'READDIR':
    case 'READDIRPLUS':
      return readdirReply(s, env, req);
    case 'RELEASEDIR':
      delete s.fhs[(req.arg as { fh: number }).fh];
      return encodeReply(u, 0, null);
    case 'SETATTR': {
      // passthrough_hp's sfs_setattr: apply what is asked (its backing file truncated, the mode
      // kept), then reply the attributes as they now are; the policy may refuse instead
      if (s.policy.setattr !== 'ok') return encodeReply(u, neg(s.policy.setattr), null);
      const a = req.arg as { valid: number; size: number; mode: number };
      if (req.nodeid === FUSE_ROOT_ID) return encodeReply(u, 0, encode(FUSE_ATTR_OUT, rootAttrOut(s)));
      const ino = s.inodes[req.nodeid];
      const f = ino && specOf(s, ino);
      if (!ino || !f) return encodeReply(u, neg('ENOENT'), null);
      if (a.valid & FATTR.SIZE) {
        if (f.backing) env.truncateBacking(f.backing, a.size);
        else f.data = (f.data ?? '').slice(0, a.size).padEnd(a.size, '\0');
      }
      if (a.valid & FATTR.MODE) ino.mode = a.mode;
      const d = inodeData(s, env, ino) ?? { data: '', mtime: 0 };
      return encodeReply(u, 0, encode(FUSE_ATTR_OUT, attrOut(s, req.nodeid, d.data.length, d.mtime)));
    }
    case 'GETXATTR':
      // no file of the model's servers has extended attributes: ENODATA, or no xattr support
      // at all (libfuse's answer for a filesystem without getxattr: ENOSYS)
      return encodeReply(u, neg(s.policy.getxattr), null);
    case 'READ': {
      const a = req.arg as { offset: number; size: number };
      const d = inodeData(s, env, s.inodes[req.nodeid]);
      const data = (d?.data ?? '').slice(a.offset, a.offset + a.size);
      return encodeReply(u, 0, new TextEncoder().encode(data));
    }
    case 'WRITE': {
      const a = req.arg as { offset: number; data: string };
      const ino = s.inodes[req.nodeid];
      const f = ino && specOf(s, ino);
      if (f?.backing) env.writeBacking(f.backing, a.offset, a.data);
      else if (f) f.data = splice(f.data ?? '', a.offset, a.data);
      return encodeReply(u, 0, encode(FUSE_WRITE_OUT, { size: a.data.length, padding: 0 }));
    }
    case 'FLUSH':
      if (s.policy.locks === 'table') dropLocks(s, req.nodeid, String((req.arg as { lock_owner: number | string }).lock_owner), false);
      return encodeReply(u, s.policy.flush === 'ENOSYS' ? neg('ENOSYS') : 0, null);
    case 'GETLK':
    case 'SETLK':
    case 'SETLKW':
      return lockReply(s, req);
    case 'DESTROY':
      return encodeReply(u, 0, null);
    case 'STATFS': {
      // libfuse's default statfs: an empty filesystem with 255-byte names (overlayfs statfs's
      // each layer when it mounts, and fails if that fails)
      if (s.policy.statfs !== 'ok') return encodeReply(u, neg(s.policy.statfs), null);
      const st = zeroValue(FUSE_STATFS_OUT);
      st.st.bsize = 512;
      st.st.namelen = 255;
      return encodeReply(u, 0, encode(FUSE_STATFS_OUT, st));
    }
    case 'FSYNC':
    case 'FSYNCDIR':
    case 'FALLOCATE':
    case 'LSEEK':
    case 'COPY_FILE_RANGE':
    case 'COPY_FILE_RANGE_64':
      return syncReply(s, env, req);
    default:
      if (NO_REPLY.has(req.opcode)) return null;
      return encodeReply(u, neg('ENOSYS'), null);
  }
}

// ---------------------------------------------------------------------------
// FSYNC(DIR), FALLOCATE, LSEEK, COPY_FILE_RANGE(_64), per the policy's knobs.

/** The server's file behind a nodeid: its policy entry and current data, or null. */
function fileOf(s: ServerState, env: ServerEnv, nodeid: number) {
  const ino = s.inodes[nodeid];
  const f = ino && s.policy.files[ino.name];
  const d = ino && fileData(s, env, ino.name);
  if (!ino || !f || !d) return null;
  return { f, data: d.data };
}

/** Write `data` at `offset` of the server's file (its backing file, or its inline data). */
function writeFile(env: ServerEnv, f: ServerState['policy']['files'][string], offset: number, data: string) {
  if (f.backing) env.writeBacking(f.backing, offset, data);
  else f.data = splice(f.data ?? '', offset, data);
}

function syncReply(s: ServerState, env: ServerEnv, req: ServerRequest): Uint8Array {
  const u = req.unique;
  const p = s.policy;
  const knob = req.name === 'FSYNC' || req.name === 'FSYNCDIR' ? p.fsync : req.name === 'FALLOCATE' ? p.fallocate : req.name === 'LSEEK' ? p.lseek : req.name === 'COPY_FILE_RANGE_64' ? (p.copy_file_range_64 ?? p.copy_file_range) : p.copy_file_range;
  if (knob !== 'ok') return encodeReply(u, neg(knob), null);
  if (req.name === 'FSYNC' || req.name === 'FSYNCDIR') return encodeReply(u, 0, null);
  const file = fileOf(s, env, req.nodeid);
  if (!file) return encodeReply(u, neg('ENOENT'), null);
  switch (req.name) {
    case 'FALLOCATE': {
      // passthrough_hp: fallocate(2) on its fd, which the model's files do as below
      const a = req.arg as { offset: number; length: number; mode: number };
      const size = file.data.length;
      const end = a.offset + a.length;
      if (a.mode & (FALLOC_FL.PUNCH_HOLE | FALLOC_FL.ZERO_RANGE)) {
        const to = a.mode & FALLOC_FL.KEEP_SIZE ? Math.min(end, size) : end;
        if (to > a.offset) writeFile(env, file.f, a.offset, '\0'.repeat(to - a.offset));
      } else if (!(a.mode & FALLOC_FL.KEEP_SIZE) && end > size) {
        writeFile(env, file.f, size, '\0'.repeat(end - size));
      }
      return encodeReply(u, 0, null);
    }
    case 'LSEEK': {
      // lseek(2) on a file without holes: data up to the end, the one hole after it
      // (a negative loff_t arrives as a huge u64, a decimal string here: ENXIO as well)
      const a = req.arg as { offset: number | string; whence: number };
      const size = file.data.length;
      const off = Number(a.offset);
      if (off >= size) return encodeReply(u, neg('ENXIO'), null);
      return encodeReply(u, 0, encode(FUSE_LSEEK_OUT, { offset: a.whence === SEEK_HOLE ? size : off }));
    }
    default: {
      // copy_file_range(2) between the two files: what the source has in the range
      const a = req.arg as { off_in: number; nodeid_out: number; off_out: number; len: number };
      const out = fileOf(s, env, a.nodeid_out);
      if (!out) return encodeReply(u, neg('ENOENT'), null);
      const data = file.data.slice(a.off_in, a.off_in + a.len);
      if (data.length) writeFile(env, out.f, a.off_out, data);
      if (req.name === 'COPY_FILE_RANGE_64') return encodeReply(u, 0, encode(FUSE_COPY_FILE_RANGE_OUT, { bytes_copied: data.length }));
      return encodeReply(u, 0, encode(FUSE_WRITE_OUT, { size: data.length, padding: 0 }));
    }
  }
}

// Names: CREATE, MKNOD, MKDIR, RENAME(2), and the directory's listing.

/** A new name with this mode; a name the policy declared absent takes its backing and open policy. */
function makeName(s: ServerState, name: string, mode: number) {
  const { absent: _a, ...declared } = s.policy.files[name] ?? {};
  s.policy.files[name] = { ...declared, mode };
  const ino = Object.values(s.inodes).find((i) => i.name === name);
  if (ino) ino.mode = mode;
}

/**
 * RENAME / RENAME2 (passthrough_hp's renameat2): the old name takes the new one (a replaced
 * file's inode keeps its data while open); RENAME_NOREPLACE onto an existing name is EEXIST,
 * RENAME_EXCHANGE swaps two names; the policy's rename2 may refuse RENAME2 altogether.
 */
function renameReply(s: ServerState, req: ServerRequest): Uint8Array {
  const u = req.unique;
  const a = req.arg as { newdir: number; flags?: number; oldname: string; newname: string };
  if (req.name === 'RENAME2' && s.policy.rename2 !== 'ok') return encodeReply(u, neg(s.policy.rename2), null);
  const flags = a.flags ?? 0;
  const from = s.policy.files[a.oldname];
  const to = s.policy.files[a.newname];
  const live = (f: FileSpec | undefined) => f !== undefined && !f.absent;
  if (req.nodeid !== FUSE_ROOT_ID || a.newdir !== FUSE_ROOT_ID || !live(from)) return encodeReply(u, neg('ENOENT'), null);
  if (flags & 1 && live(to)) return encodeReply(u, neg('EEXIST'), null);
  if (flags & 2 && !live(to)) return encodeReply(u, neg('ENOENT'), null);
  if (a.oldname === a.newname) return encodeReply(u, 0, null);
  const fromIno = Object.values(s.inodes).find((i) => i.name === a.oldname);
  const toIno = Object.values(s.inodes).find((i) => i.name === a.newname);
  if (flags & 2) {
    s.policy.files[a.oldname] = to!;
    s.policy.files[a.newname] = from!;
    if (toIno) toIno.name = a.oldname;
  } else {
    if (live(to)) removeName(s, a.newname);
    delete s.policy.files[a.oldname];
    s.policy.files[a.newname] = from!;
  }
  if (fromIno) fromIno.name = a.newname;
  return encodeReply(u, 0, null);
}

/** DT_* of a mode */
function dtype(mode: number): number {
  return (mode >>> 12) & 0o17;
}

/**
 * READDIR / READDIRPLUS (passthrough_hp's readdir): ".", "..", then the names, from the
 * request's offset (entry i's off is i + 1), as many whole records as fit its size. A
 * READDIRPLUS entry carries its LOOKUP reply ("." and ".." none: nodeid 0), which the kernel
 * counts as a lookup. Only the root has entries: the model's directories below it are empty.
 */
function readdirReply(s: ServerState, env: ServerEnv, req: ServerRequest): Uint8Array {
  const a = req.arg as { offset: number; size: number };
  const plus = req.name === 'READDIRPLUS';
  const names = ['.', '..', ...(req.nodeid === FUSE_ROOT_ID ? dirNames(s) : [])];
  const dirents: Dirent[] = [];
  const plusList: Direntplus[] = [];
  let used = 0;
  for (let i = a.offset; i < names.length; i++) {
    const name = names[i]!;
    const len = direntAlign((plus ? FUSE_DIRENTPLUS.size : FUSE_DIRENT.size) + new TextEncoder().encode(name).length);
    if (used + len > a.size) break;
    used += len;
    const dot = name === '.' || name === '..';
    const ino = dot ? null : inodeFor(s, name);
    const dirent: Dirent = { ino: ino ? ino.nodeid : FUSE_ROOT_ID, off: i + 1, type: dtype(ino ? ino.mode : 0o040755), name };
    if (!plus) dirents.push(dirent);
    else plusList.push({ entry: dot ? zeroValue(FUSE_ENTRY_OUT) : entryOut(s, env, name), dirent });
  }
  return encodeReply(req.unique, 0, plus ? encodeDirentplus(plusList) : encodeDirents(dirents));
}

// ---------------------------------------------------------------------------
// Locks (GETLK, SETLK, SETLKW), per the policy's `locks`.

interface LkArg {
  owner: number | string;
  lk: { start: number | string; end: number | string; type: number; pid: number };
  lk_flags: number;
}

/** A u64 as the wire wants it: a number while safe, else a bigint. */
function wide(v: bigint): Wide {
  return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function lkOut(u: Wide, lk: { start: Wide; end: Wide; type: number; pid: number }): Uint8Array {
  return encodeReply(u, 0, encode(FUSE_LK_OUT, { lk }));
}

/** The reply to a lock request. */
function lockReply(s: ServerState, req: ServerRequest): Uint8Array {
  const u = req.unique;
  const a = req.arg as unknown as LkArg;
  const start = BigInt(a.lk.start);
  const end = BigInt(a.lk.end);
  const pol = s.policy.locks;
  const getlk = req.name === 'GETLK';
  switch (pol) {
    case 'grant':
      return getlk ? lkOut(u, { start: wide(start), end: wide(end), type: F_UNLCK, pid: 0 }) : encodeReply(u, 0, null);
    case 'conflict':
      if (getlk) return lkOut(u, { start: wide(start), end: wide(end), type: F_WRLCK, pid: 0 });
      return encodeReply(u, a.lk.type === F_UNLCK ? 0 : neg('EAGAIN'), null);
    case 'table':
      return tableReply(s, req.nodeid, u, getlk, { owner: String(a.owner), start, end, type: a.lk.type, pid: a.lk.pid, flock: (a.lk_flags & FUSE_LK_FLOCK) !== 0 });
    default:
      return encodeReply(u, neg(pol), null);
  }
}

interface LockReq {
  owner: string;
  start: bigint;
  end: bigint;
  type: number;
  pid: number;
  flock: boolean;
}

const overlaps = (l: ServerLock, r: LockReq) => BigInt(l.end) >= r.start && r.end >= BigInt(l.start);
const conflicts = (l: ServerLock, r: LockReq) => l.flock === r.flock && l.owner !== r.owner && overlaps(l, r) && (l.type === F_WRLCK || r.type === F_WRLCK);

/** The server's own lock table: see ServerPolicySchema's `locks`. */
function tableReply(s: ServerState, nodeid: number, u: Wide, getlk: boolean, r: LockReq): Uint8Array {
  const table = ((s.locks ??= {})[nodeid] ??= []);
  if (getlk) {
    const c = table.find((l) => !l.flock && conflicts(l, r));
    if (!c) return lkOut(u, { start: wide(r.start), end: wide(r.end), type: F_UNLCK, pid: 0 });
    return lkOut(u, { start: wide(BigInt(c.start)), end: wide(BigInt(c.end)), type: c.type, pid: c.pid });
  }
  if (r.type !== F_UNLCK && table.some((l) => conflicts(l, r))) return encodeReply(u, neg('EAGAIN'), null);
  // the owner's locks of this kind lose the range (flock: the whole lock), then the new one is added
  const kept: ServerLock[] = [];
  for (const l of table) {
    if (l.flock !== r.flock || l.owner !== r.owner || (!r.flock && !overlaps(l, r))) {
      kept.push(l);
      continue;
    }
    if (r.flock) continue;
    if (BigInt(l.start) < r.start) kept.push({ ...l, end: (r.start - 1n).toString() });
    if (BigInt(l.end) > r.end) kept.push({ ...l, start: (r.end + 1n).toString() });
  }
  if (r.type === F_RDLCK || r.type === F_WRLCK) kept.push({ owner: r.owner, start: r.start.toString(), end: r.end.toString(), type: r.type, pid: r.pid, flock: r.flock });
  s.locks[nodeid] = kept;
  return encodeReply(u, 0, null);
}

/** FLUSH (POSIX) or RELEASE with FUSE_RELEASE_FLOCK_UNLOCK (flock): the owner's locks on the inode go. */
function dropLocks(s: ServerState, nodeid: number, owner: string, flock: boolean) {
  const table = s.locks?.[nodeid];
  if (table) s.locks![nodeid] = table.filter((l) => l.flock !== flock || l.owner !== owner);
}

/** `data` written at `offset` into `old` (holes read as NULs). */
export function splice(old: string, offset: number, data: string): string {
  return old.slice(0, offset).padEnd(offset, '\0') + data + old.slice(offset + data.length);
}

// ---------------------------------------------------------------------------
// Jobs: OPEN and RELEASE, as labelled steps. Each step returns one output; an adapter performs
// it and goes on at `next` (with an action's result stored in the job's `into` field).

export type Action =
  | { k: 'open'; path: string; write: boolean }
  | { k: 'backing_open'; fd: number }
  | { k: 'backing_close'; id: number }
  | { k: 'close'; fd: number };

export type Out =
  /** write this reply; `next` is more work after it (the model makes that a preemption point) */
  | { k: 'reply'; bytes: Uint8Array; next: string | null; note?: string }
  /** perform the action, store its result (>= 0 or -errno) in job[into], go on at next */
  | { k: 'act'; act: Action; into: 'fd' | 'id' | 'r'; next: string }
  | { k: 'goto'; next: string; note?: string }
  | { k: 'done' };

export interface OpenJob {
  unique: Wide;
  nodeid: number;
  /** CREATE: the name to make (in the root) and its mode; the reply then carries its entry */
  create?: { name: string; mode: number };
  write: boolean;
  /** the server's fd on the backing file, -1 when none */
  fd: number;
  /** the backing id of this open, 0 when none (a negative errno right after a failed BACKING_OPEN) */
  id: number;
  r: number;
}

export interface ReleaseJob {
  unique: Wide;
  nodeid: number;
  fh: number;
  /** release_flags, and lock_owner (decimal) */
  releaseFlags: number;
  lockOwner: string;
  id: number;
  fd: number;
  r: number;
}

export function openJob(req: ServerRequest): OpenJob {
  const a = req.arg as { flags: number; mode?: number; name?: string };
  const j: OpenJob = { unique: req.unique, nodeid: req.nodeid, write: (a.flags & 3) !== 0, fd: -1, id: 0, r: 0 };
  if (req.name === 'CREATE') j.create = { name: a.name ?? '', mode: a.mode ?? 0o100644 };
  return j;
}

export function releaseJob(req: ServerRequest): ReleaseJob {
  const a = req.arg as { fh: number; release_flags: number; lock_owner: number | string };
  return { unique: req.unique, nodeid: req.nodeid, fh: a.fh, releaseFlags: a.release_flags, lockOwner: String(a.lock_owner), id: 0, fd: -1, r: 0 };
}

export function openPolicyFor(s: ServerState, nodeid: number): OpenPolicy {
  const ino = s.inodes[nodeid];
  return (ino && s.policy.files[ino.name]?.open) ?? s.policy.open;
}

/** The open-reply bits as the server's uapi spells them. */
export function fopenBits(s: ServerState, names: readonly FopenName[]): number {
  let bits = 0;
  for (const n of names) {
    if (n === 'PASSTHROUGH') bits |= s.policy.uapi === 'v15' ? V15_UAPI.FOPEN_PASSTHROUGH : FOPEN.PASSTHROUGH;
    else if (n.startsWith('bit')) bits |= 2 ** Number(n.slice(3));
    else bits |= FOPEN[n as keyof typeof FOPEN];
  }
  return bits >>> 0;
}

type Step<J> = (s: ServerState, j: J, env: ServerEnv) => Out;

/** passthrough_hp's sfs_open / do_passthrough_open, and the scripted alternatives. */
export const OPEN_STEPS: Record<'start' | 'open_backing' | 'got_fd' | 'got_id' | 'reply_pt' | 'after_reply' | 'closed' | 'done', Step<OpenJob>> = {
  start(s, j, env) {
    if (j.create) {
      // passthrough_hp's sfs_create: the name is made (EEXIST if taken; the policy may refuse
      // CREATE), then opened like an OPEN of its inode; the reply carries entry and open
      const { name, mode } = j.create;
      if (j.nodeid !== FUSE_ROOT_ID) return { k: 'reply', bytes: encodeReply(j.unique, neg('EACCES'), null), next: null };
      if (s.policy.create !== 'ok') return { k: 'reply', bytes: encodeReply(j.unique, neg(s.policy.create), null), next: null };
      if (fileData(s, env, name)) return { k: 'reply', bytes: encodeReply(j.unique, neg('EEXIST'), null), next: null };
      makeName(s, name, mode);
      j.nodeid = inodeFor(s, name).nodeid;
    }
    const ino = s.inodes[j.nodeid];
    if (!ino) return { k: 'reply', bytes: encodeReply(j.unique, neg('ENOENT'), null), next: null };
    const p0 = openPolicyFor(s, j.nodeid);
    ino.opened++;
    const pol = p0.mode === 'sequence' ? p0.replies[Math.min(ino.opened, p0.replies.length) - 1]! : p0;
    j.fd = -1;
    j.id = 0;
    switch (pol.mode) {
      case 'error':
        return { k: 'reply', bytes: encodeReply(j.unique, -ERRNO[pol.errno], null), next: null };
      case 'reply': {
        const id = typeof pol.backing_id === 'number' ? pol.backing_id : (env.vars[pol.backing_id.slice(1)] ?? -1);
        return replyOpen(s, env, j, fopenBits(s, pol.flags), id);
      }
      case 'passthrough_hp':
        if (ino.backingId) {
          j.id = ino.backingId;
          return { k: 'goto', next: 'reply_pt' };
        }
        return { k: 'goto', next: 'open_backing' };
      case 'per_open':
        return { k: 'goto', next: 'open_backing' };
    }
  },
  open_backing(s, j, env) {
    const ino = s.inodes[j.nodeid]!;
    const path = s.policy.files[ino.name]?.backing;
    if (!path) return replyOpen(s, env, j, 0, 0); // nothing to pass through to: a plain open
    return { k: 'act', act: { k: 'open', path, write: j.write }, into: 'fd', next: 'got_fd' };
  },
  got_fd(_s, j) {
    if (j.fd < 0) return { k: 'reply', bytes: encodeReply(j.unique, j.fd, null), next: null };
    return { k: 'act', act: { k: 'backing_open', fd: j.fd }, into: 'id', next: 'got_id' };
  },
  got_id(s, j, env) {
    s.backingOpens.push(j.id);
    if (j.id < 0) {
      // passthrough_hp: "fuse_passthrough_open failed ..., disabling rw passthrough"
      const out = replyOpen(s, env, j, 0, 0);
      if (out.k === 'reply') out.note = `server ${s.fs}: BACKING_OPEN failed (${j.id}); this open is not passthrough`;
      return out;
    }
    const pol = openPolicyFor(s, j.nodeid);
    if (pol.mode === 'passthrough_hp') {
      const ino = s.inodes[j.nodeid]!;
      ino.backingId = j.id;
      ino.fd = j.fd;
    }
    return { k: 'goto', next: 'reply_pt' };
  },
  reply_pt(s, j, env) {
    const pol = openPolicyFor(s, j.nodeid);
    const extra = pol.mode === 'per_open' ? pol.flags.filter((f) => f !== 'PASSTHROUGH') : [];
    return replyOpen(s, env, j, fopenBits(s, ['PASSTHROUGH', ...extra]), j.id);
  },
  after_reply(s, j) {
    const pol = openPolicyFor(s, j.nodeid);
    if (pol.mode === 'per_open' && pol.close_after_reply && j.id > 0) {
      return { k: 'act', act: { k: 'backing_close', id: j.id }, into: 'r', next: 'closed' };
    }
    return { k: 'done' };
  },
  closed(_s, j) {
    if (j.fd >= 0) return { k: 'act', act: { k: 'close', fd: j.fd }, into: 'r', next: 'done' };
    return { k: 'done' };
  },
  done() {
    return { k: 'done' };
  },
};

function replyOpen(s: ServerState, env: ServerEnv, j: OpenJob, openFlags: number, backingId: number): Out {
  const fh = s.nextFh++;
  s.fhs[fh] = { nodeid: j.nodeid, backingId, fd: j.fd };
  const ino: ServerInode | undefined = s.inodes[j.nodeid];
  if (ino) ino.nopen++;
  const open = { fh, open_flags: openFlags >>> 0, backing_id: backingId };
  const bytes = j.create ? encodeReply(j.unique, 0, encodeCreateOut(entryOut(s, env, j.create.name), open)) : encodeReply(j.unique, 0, encode(FUSE_OPEN_OUT, open));
  const pol = openPolicyFor(s, j.nodeid);
  // only a server that closes the id right after replying has more to do
  const more = pol.mode === 'per_open' && pol.close_after_reply && backingId > 0;
  return { k: 'reply', bytes, next: more ? 'after_reply' : null };
}

/** passthrough_hp's sfs_release: the last release of an inode closes its backing id. */
export const RELEASE_STEPS: Record<'start' | 'close_id' | 'close_fd' | 'done', Step<ReleaseJob>> = {
  start(s, j) {
    const ino = s.inodes[j.nodeid];
    const open = s.fhs[j.fh];
    delete s.fhs[j.fh];
    if (s.policy.locks === 'table' && j.releaseFlags & FUSE_RELEASE_FLOCK_UNLOCK) dropLocks(s, j.nodeid, j.lockOwner, true);
    const bytes = encodeReply(j.unique, 0, null);
    j.id = 0;
    j.fd = -1;
    if (!ino) return { k: 'reply', bytes, next: null };
    ino.nopen--;
    const pol = openPolicyFor(s, j.nodeid);
    if (pol.mode === 'passthrough_hp' && ino.nopen === 0 && ino.backingId) {
      j.id = ino.backingId;
      j.fd = ino.fd;
      ino.backingId = 0;
      ino.fd = -1;
    } else if (pol.mode === 'per_open' && !pol.close_after_reply && open && open.backingId > 0) {
      j.id = open.backingId;
      j.fd = open.fd;
    }
    return { k: 'reply', bytes, next: j.id > 0 ? 'close_id' : null };
  },
  close_id(_s, j) {
    return { k: 'act', act: { k: 'backing_close', id: j.id }, into: 'r', next: 'close_fd' };
  },
  close_fd(_s, j) {
    if (j.fd >= 0) return { k: 'act', act: { k: 'close', fd: j.fd }, into: 'r', next: 'done' };
    return { k: 'done' };
  },
  done() {
    return { k: 'done' };
  },
};

/** A fresh server state for a mount (the model keys it by connection, the oracle by mount). */
export function newServerState(fs: string, proc: string, policy: ServerState['policy'], lifecycle: string): ServerState {
  return { fs, conn: 0, proc, lifecycle, policy, inodes: {}, nextNodeid: 2, fhs: {}, nextFh: 1, seen: [], log: [], owners: [], backingOpens: [], kernelInit: '', kernelInitRequest: null, heldInit: null };
}
