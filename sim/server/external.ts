// A real server process inside the model: the session loop of a FUSE server whose answers come
// from outside the world (an unmodified binary under `fpsim server`, through bridge/), or, on
// replay, from the transcript of such a run kept in the scenario. The loop reads a request with
// fuse_dev_read, hands its bytes to the peer and plays back what the server did, one step per
// message: a reply is written with fuse_dev_write; an ioctl the server made on its /dev/fuse is
// made here by the server's task, through the kernel model's own sys_ioctl (so CAP_SYS_ADMIN,
// the stacking depth, the file's kind, EBADF... are the model's checks), and its result goes
// back to the server, which then goes on.
//
// The peer answers synchronously (bridge/sync.ts blocks this thread until the real server is
// idle again), so the scheduler never sees this task waiting for the server: a run is one
// request at a time, the user tasks' interleaving is the model's, and a replay from the
// transcript takes exactly the same steps as the live run.
//
// Backing files. A BACKING_OPEN carries the server's real fd; the bridge describes its file
// (kind, inode, flags, content). The model's server opens the model file standing for that
// inode ("/<host>/i<ino>" on the plain filesystem `external.host` stands for the real
// filesystem: tmpfs and ext4 alike have s_stack_depth 0) with the same access mode, makes the
// ioctl with that fd and closes it again: the kernel keeps its own reference in the
// fuse_backing, as it does when passthrough_hp keeps its fd. A regular file's content is
// mirrored both ways at the request boundaries: before each request the model's copy (which
// passthrough writes change) is written to the real file, and after it the real file's
// content (which the server's own writes change) comes back as a `data` event.
//
// What the server gets wrong is said in the kernel's terms, as violations of kind "server"
// (so a trace keeps them): an OPEN reply naming a backing id it does not hold, or a second
// backing file for an inode, a BACKING_CLOSE of an id an unreleased open was given, ids left
// at DESTROY, ioctls refused because INIT never enabled passthrough; a crash, a hang or a
// reply fuse_dev_write refuses ends its session (its /dev/fuse closes: the connection aborts).
import type { Ctx } from '../kernel/ctx.ts';
import { block, call, entry, goto, kfunc, preempt, ret, tail } from '../kernel/exec.ts';
import type { Ptr, PlainSb } from '../kernel/state.ts';
import { errnoName, neg } from '../kernel/lib/errno.ts';
import { __fuse_get_dev, fuse_dev_read, fuse_dev_write } from '../kernel/fuse/dev.ts';
import { sys_open, sys_close } from '../kernel/vfs/open.ts';
import { sys_ioctl } from '../kernel/vfs/ioctl.ts';
import { O_APPEND, O_LARGEFILE, O_PATH } from '../kernel/vfs/fcntl.ts';
import { FOPEN_PASSTHROUGH, FUSE_DEV_IOC_BACKING_CLOSE, FUSE_DEV_IOC_BACKING_OPEN } from '../wire/uapi.ts';
import { fromHex } from '../kernel/fuse/hex.ts';
import { acceptRequest, NO_REPLY } from './core.ts';
import { devfd, lifecycle, serve, sessionLoopHead } from './loop.ts';
import type { ExternalEvent } from './policy.ts';
import { serverOf, type ServerState } from './state.ts';

export type { ExternalEvent } from './policy.ts';

/** A request as the peer gets it. */
export interface ExternalRequest {
  bytes: Uint8Array;
  /** its opcode's name and unique, for reports */
  name: string;
  unique: string;
  /** how many replies the server owes for it: 1, or 0 (FORGET, BATCH_FORGET, INTERRUPT) */
  owed: number;
}

/** The server behind an external mount, answering synchronously. */
export interface ExternalPeer {
  /**
   * Deliver a request; `mirrors` is the model's content of every mirrored backing file (by
   * model name). Returns what the server did until it was idle again or blocked in an ioctl
   * (then the last event is that ioctl, and answer() continues).
   */
  deliver(req: ExternalRequest, mirrors: Record<string, string>): ExternalEvent[];
  /** The result of the ioctl the last batch ended with. */
  answer(ret: number): ExternalEvent[];
}

/** What the model keeps about an external server (plain data, in its ServerState). */
export interface ExternalState {
  /** events of the current batch not played yet */
  pending: ExternalEvent[];
  /** every batch so far, in order: the transcript a trace keeps */
  transcript: ExternalEvent[][];
  /** batches taken from the scenario's transcript (replay) */
  cursor: number;
  /** the model names of the backing files whose content is mirrored */
  mirrors: string[];
  /** why the server stopped serving (crash, hang, bad reply), or null */
  failure: string | null;
  /** the last request delivered: "OPEN unique=12 nodeid=..." */
  lastRequest: string;
  /** backing ids the server holds (BACKING_OPEN gave them, no BACKING_CLOSE took them back) */
  ids: number[];
  /** the server's open files: fh -> nodeid and the backing id its OPEN reply named (0: none) */
  fhs: Record<string, { nodeid: number; id: number }>;
  /** what the server did wrong, in the kernel's terms */
  findings: string[];
}

const live = new Map<string, ExternalPeer>();

/** The live server of mount `fs` for the runs that follow (a driver's, not the model's). */
export function attachExternalPeer(fs: string, peer: ExternalPeer): void {
  live.set(fs, peer);
}

export function detachExternalPeer(fs: string): void {
  live.delete(fs);
}

export function externalState(s: ServerState): ExternalState {
  const x = s as ServerState & { ext?: ExternalState };
  x.ext ??= { pending: [], transcript: [], cursor: 0, mirrors: [], failure: null, lastRequest: '', ids: [], fhs: {}, findings: [] };
  return x.ext;
}

/** The live peer, or one that plays the scenario's transcript back. */
function peerOf(s: ServerState): ExternalPeer {
  const p = live.get(s.fs);
  if (p) return p;
  const x = externalState(s);
  const next = (): ExternalEvent[] => {
    const t = s.policy.external?.transcript;
    if (!t) return [{ t: 'fail', message: `the server of /${s.fs} is a real process (${s.policy.external?.command ?? '?'}) and this scenario has no transcript of its answers: run it with fpsim server` }];
    const b = t[x.cursor++];
    return b ? structuredClone(b) : [{ t: 'fail', message: `the transcript of /${s.fs}'s server ends before ${x.lastRequest}: the run diverged from the recorded one` }];
  };
  return {
    deliver(req) {
      const b = next();
      const head = b[0];
      if (head?.t === 'request' && (head.name !== req.name || head.unique !== req.unique)) {
        return [{ t: 'fail', message: `the transcript of /${s.fs}'s server answers ${head.name} (unique ${head.unique}) here, but the model sent ${req.name} (unique ${req.unique}): a transcript replays only the schedule it was recorded under` }];
      }
      return b;
    },
    answer: next,
  };
}


function hostSb(c: Ctx, s: ServerState): PlainSb {
  const host = s.policy.external!.host;
  const sb = c.w.sbs.find((x) => x.name === host && x.kind === 'plain');
  if (!sb) throw new Error(`external server of /${s.fs}: no plain filesystem "${host}" for its backing files`);
  return sb as PlainSb;
}

/** Take a batch from the peer: record it, then play it. */
function take(c: Ctx, s: ServerState, batch: ExternalEvent[]) {
  const x = externalState(s);
  x.transcript.push(structuredClone(batch));
  x.pending = batch;
  const did = batch.filter((e) => e.t !== 'request').map((e) => (e.t === 'ioctl' ? `ioctl ${ioctlName(e.cmd)}` : e.t));
  if (c.record) c.emit('note', `server ${s.fs}: ${did.join(', ') || 'nothing (idle)'}`);
}

function ioctlName(cmd: number): string {
  return cmd === FUSE_DEV_IOC_BACKING_OPEN ? 'BACKING_OPEN' : cmd === FUSE_DEV_IOC_BACKING_CLOSE ? 'BACKING_CLOSE' : `0x${(cmd >>> 0).toString(16)}`;
}


interface LoopA {
  fs: string;
  conn: Ptr;
  dev: Ptr;
}

interface LoopL extends LoopA {
  /** the request being served (its opcode name and nodeid) */
  name: string;
  nodeid: number;
  /** the ioctl being answered (cmd), and the id a BACKING_CLOSE closes */
  cmd: number;
  closing: number;
  /** the ioctl's result */
  r: number;
}

/** libfuse's session loop of the real server, as the model sees it from /dev/fuse. */
const ext_session_loop = kfunc<LoopA, LoopL>('ext_session_loop', 'libfuse lib/fuse_loop.c (a real server process)', {
  start(c, l) {
    const s = serverOf(c.w, l.fs);
    const fc = sessionLoopHead(c, s, l, () => leftIds(c, s, 'the end of the connection'));
    if ('k' in fc) return fc;
    const bytes = fuse_dev_read(c, fc, l.dev);
    if (typeof bytes === 'number') return ret(0);
    const req = acceptRequest(s, bytes);
    l.name = req.name;
    l.nodeid = req.nodeid;
    if (req.name === 'RELEASE') delete externalState(s).fhs[String((req.arg as { fh?: unknown } | null)?.fh ?? '')];
    if (req.name === 'DESTROY') leftIds(c, s, 'DESTROY');
    if (req.name !== 'FORGET') lifecycle(c, s, { type: 'REQUEST' });
    const x = externalState(s);
    x.lastRequest = `${req.name} (unique ${String(req.unique)}, nodeid ${req.nodeid})`;
    const sb = hostSb(c, s);
    const mirrors: Record<string, string> = {};
    for (const n of x.mirrors) if (sb.files[n]) mirrors[n] = sb.files[n]!.data;
    const owed = NO_REPLY.has(req.opcode) || req.name === 'INTERRUPT' ? 0 : 1;
    const batch = peerOf(s).deliver({ bytes, name: req.name, unique: String(req.unique), owed }, mirrors);
    // the transcript notes which request each batch answers (replay checks it)
    take(c, s, batch[0]?.t === 'request' ? batch : [{ t: 'request', name: req.name, unique: String(req.unique) }, ...batch]);
    return goto('event');
  },
  /** the next thing the server did */
  event(c, l) {
    const s = serverOf(c.w, l.fs);
    const x = externalState(s);
    const ev = x.pending.shift();
    if (!ev) {
      const fc = c.deref(l.conn, 'fuse_conn');
      return fc.pending.length > 0 || !fc.connected ? preempt('start') : block({ on: 'request', conn: l.conn }, 'start');
    }
    switch (ev.t) {
      case 'request':
        return goto('event');
      case 'data': {
        const f = hostSb(c, s).files[ev.name];
        if (f) {
          f.data = ev.data;
          f.mtime = ++c.w.clock;
          if (c.record) c.emit('field', `/${s.policy.external!.host}/${ev.name}: the server changed its content (${ev.data.length} bytes)`);
        }
        return goto('event');
      }
      case 'reply': {
        const fc = c.deref(l.conn, 'fuse_conn');
        const r = fuse_dev_write(c, fc, fromHex(ev.hex));
        if (r === neg('ENOENT')) {
          // no such request any more (interrupted, or ended by an abort): libfuse ignores that
          if (c.record) c.emit('note', `server ${s.fs}: its reply to ${x.lastRequest} found no request waiting (ENOENT)`);
          return goto('event');
        }
        if (r < 0) {
          x.failure = `the server's reply to ${x.lastRequest} was refused by fuse_dev_write with ${errnoName(r)}: ${ev.hex.slice(0, 96)}${ev.hex.length > 96 ? '...' : ''} (${ev.hex.length / 2} bytes)`;
          c.violate('server', x.failure);
          return goto('dead');
        }
        lifecycle(c, s, { type: 'REPLIED' });
        if (l.name === 'OPEN') openReplied(c, s, l.nodeid, fromHex(ev.hex));
        if (l.name === 'INIT') lifecycle(c, s, { type: fc.connError ? 'INIT_FAILED' : 'INIT_REPLIED', passthrough: fc.passthrough });
        return x.pending.length > 0 ? preempt('event') : goto('event');
      }
      case 'ioctl':
        l.cmd = ev.cmd;
        l.closing = ev.cmd === FUSE_DEV_IOC_BACKING_CLOSE && ev.arg.length >= 8 ? new DataView(fromHex(ev.arg).buffer).getInt32(0, true) : 0;
        return call(ext_ioctl, { fs: l.fs, cmd: ev.cmd, arg: ev.arg, file: ev.file ?? null }, 'answered', 'r');
      case 'fail':
        x.failure = ev.message;
        c.violate('server', ev.message);
        return goto('dead');
    }
  },
  answered(c, l) {
    const s = serverOf(c.w, l.fs);
    const x = externalState(s);
    if (l.cmd === FUSE_DEV_IOC_BACKING_OPEN && l.r > 0) x.ids.push(l.r);
    // fuse_backing_open/_close refuse (EPERM) on a connection without fc->passthrough: the
    // kernel offered FUSE_PASSTHROUGH in INIT and the server's reply did not take it
    if ((l.cmd === FUSE_DEV_IOC_BACKING_OPEN || l.cmd === FUSE_DEV_IOC_BACKING_CLOSE) && l.r === neg('EPERM') && !c.deref(l.conn, 'fuse_conn').passthrough && s.kernelInit.endsWith(' PASSTHROUGH')) {
      finding(c, x, `the server's ${ioctlName(l.cmd)} failed EPERM: passthrough was never enabled on this connection because its INIT reply did not ask for FUSE_PASSTHROUGH (the kernel offered it); fuse_backing_open refuses without fc->passthrough`);
    }
    if (l.cmd === FUSE_DEV_IOC_BACKING_CLOSE && l.r === 0) {
      x.ids = x.ids.filter((i) => i !== l.closing);
      // an open the server named this id in has not been released: BACKING_CLOSE removed the
      // id from fc->backing_files_map (fuse_backing_close), so an opener that had not yet
      // looked it up (fuse_passthrough_open, after the OPEN reply woke it) fails EIO; one
      // that had keeps its backing file through its own reference
      const users = Object.entries(x.fhs).filter(([, f]) => f.id === l.closing);
      if (users.length) {
        finding(c, x, `the server closed backing id ${l.closing} while the open${users.length > 1 ? 's' : ''} it named it in (fh ${users.map(([fh]) => fh).join(', ')}) ${users.length > 1 ? 'are' : 'is'} not released: fuse_backing_close removes the id, and an open that has not yet looked it up in fuse_passthrough_open fails EIO`);
      }
    }
    take(c, s, peerOf(s).answer(l.r));
    return goto('event');
  },
  /** the server is gone: its /dev/fuse closes with its process (fuse_dev_release) */
  dead(c) {
    return call(sys_close, { fd: devfd(c) }, 'end');
  },
  end() {
    return ret(0);
  },
});

/**
 * An OPEN reply (struct fuse_open_out: u64 fh, u32 open_flags, s32 backing_id): one that asks
 * for passthrough must name a backing id the server holds (fuse_passthrough_open looks it up
 * in fc->backing_files_map and fails the open with EIO when it is not there), and the same
 * backing file as every other open of the inode (fuse_inode_uncached_io_start refuses a
 * second fuse_backing for one inode: the open fails EIO).
 */
function openReplied(c: Ctx, s: ServerState, nodeid: number, bytes: Uint8Array) {
  if (bytes.length < 32) return;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getInt32(4, true) !== 0) return;
  const fh = dv.getBigUint64(16, true).toString();
  const flags = dv.getUint32(24, true);
  const id = flags & FOPEN_PASSTHROUGH ? dv.getInt32(28, true) : 0;
  const x = externalState(s);
  if (id !== 0 && !x.ids.includes(id)) {
    finding(c, x, `the OPEN reply for nodeid ${nodeid} names backing id ${id}, which the server ${x.transcript.length ? 'closed or never opened' : 'does not hold'}: fuse_passthrough_open finds no fuse_backing under it and the open fails EIO`);
  }
  const other = Object.values(x.fhs).find((f) => f.nodeid === nodeid && f.id !== 0 && id !== 0 && f.id !== id);
  if (other) {
    finding(c, x, `the OPEN reply for nodeid ${nodeid} names backing id ${id} while another open of that inode uses backing id ${other.id}: two backing files for one inode (fuse_inode_uncached_io_start refuses a second fuse_backing; the open fails EIO)`);
  }
  x.fhs[fh] = { nodeid, id };
}

/** A server mistake: kept, and reported as a violation of kind "server" (traces keep it). */
function finding(c: Ctx, x: ExternalState, message: string) {
  x.findings.push(message);
  c.violate('server', message);
}

/** Backing ids the server still holds when the connection goes: it never closed them. */
function leftIds(c: Ctx, s: ServerState, when: string) {
  const x = externalState(s);
  if (x.ids.length && !x.findings.some((f) => f.startsWith('backing ids'))) {
    finding(c, x, `backing ids ${x.ids.join(', ')} are still in fc->backing_files_map at ${when}: the server never closed them (BACKING_CLOSE); the kernel frees them only with the connection (fuse_backing_files_free)`);
  }
}

interface IoctlA {
  fs: string;
  cmd: number;
  /** the ioctl argument's bytes (hex) */
  arg: string;
  file: Extract<ExternalEvent, { t: 'ioctl' }>['file'] | null;
}

interface IoctlL extends IoctlA {
  fd: number;
  r: number;
  flags: number;
  padding: number | string;
}

/** The open flags of the model's fd for the server's file: its access mode, as F_GETFL said. */
function openFlagsOf(flags: number): number {
  if (flags & O_PATH) return O_PATH;
  return (flags & 3) | O_LARGEFILE | (flags & O_APPEND);
}

/** An ioctl the real server made on its /dev/fuse, made by the model's server task. */
const ext_ioctl = kfunc<IoctlA, IoctlL>('ext_ioctl', 'the real server\'s ioctl(2) on /dev/fuse', {
  start(c, l) {
    const s = serverOf(c.w, l.fs);
    const arg = fromHex(l.arg);
    const dv = new DataView(arg.buffer, arg.byteOffset, arg.byteLength);
    if (l.cmd === FUSE_DEV_IOC_BACKING_CLOSE) {
      if (arg.length < 4) return ret(neg('EFAULT'));
      return tail(sys_ioctl, { dev: devfd(c), cmd: l.cmd, id: dv.getInt32(0, true) });
    }
    if (l.cmd !== FUSE_DEV_IOC_BACKING_OPEN) {
      if (c.record) c.emit('note', `server ${s.fs}: ioctl ${ioctlName(l.cmd)} is not modelled for a real server: ENOTTY`);
      return ret(neg('ENOTTY'));
    }
    // struct fuse_backing_map: s32 fd, u32 flags, u64 padding
    if (arg.length < 16) return ret(neg('EFAULT'));
    l.flags = dv.getUint32(4, true);
    const pad = dv.getBigUint64(8, true);
    l.padding = pad <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(pad) : pad.toString();
    if (!l.file) {
      // not an open fd in the server: the kernel's fget fails (EBADF); no model fd is that either
      return tail(sys_ioctl, { dev: devfd(c), cmd: l.cmd, fd: -1, flags: l.flags, padding: l.padding });
    }
    const sb = hostSb(c, s);
    const name = `i${l.file.ino}`;
    const kind = l.file.kind === 'blk' || l.file.kind === 'unknown' ? 'chr' : l.file.kind;
    let f = sb.files[name];
    if (!f) {
      f = { kind, data: '', mtime: ++c.w.clock, atime: 0 };
      sb.files[name] = f;
      if (c.record) c.emit('field', `/${sb.name}/${name}: stands for the server's ${l.file.kind} ${l.file.path} on ${l.file.fsName}`);
    }
    if (l.file.data !== undefined) {
      f.data = l.file.data;
      const x = externalState(s);
      if (!x.mirrors.includes(name)) x.mirrors.push(name);
    }
    return call(sys_open, { path: `/${sb.name}/${name}`, flags: openFlagsOf(l.file.flags) }, 'opened', 'fd');
  },
  opened(c, l) {
    if (l.fd < 0) {
      if (c.record) c.emit('note', `the model could not open the server's backing file: ${errnoName(l.fd)}`);
      return ret(l.fd);
    }
    return call(sys_ioctl, { dev: devfd(c), cmd: l.cmd, fd: l.fd, flags: l.flags, padding: l.padding }, 'close', 'r');
  },
  close(_c, l) {
    return call(sys_close, { fd: l.fd }, 'done');
  },
  done(_c, l) {
    return ret(l.r);
  },
});

/** The op "serve_external" of a real server's task: find the connection, run the loop. */
entry(
  'serve_external',
  kfunc<object>('sys_serve_external', 'libfuse lib/fuse_loop.c (a real server process)', {
    start(c) {
      return serve(c, ext_session_loop);
    },
  }),
);

