// A scripted FUSE server: libfuse's session loop and request handlers, in the same step
// machinery as the kernel so its ioctls interleave with user tasks. It talks to the kernel
// model only through encoded FUSE messages and the two ioctls (the wire is the contract).
import type { Ctx } from '../kernel/ctx.ts';
import { block, call, goto, kfunc, preempt, ret } from '../kernel/exec.ts';
import type { FuseConnObj, Ptr, World } from '../kernel/state.ts';
import { ERRNO, neg } from '../kernel/lib/errno.ts';
import { fuse_dev_read, fuse_dev_write } from '../kernel/fuse/dev.ts';
import { realInode, resolvePath } from '../kernel/vfs/super.ts';
import { decodeRequest, decodeRequestArg, encodeReply, encodeShortInitOut } from '../wire/messages.ts';
import { encode, FUSE_ATTR_OUT, FUSE_ENTRY_OUT, FUSE_OPEN_OUT, FUSE_WRITE_OUT, zeroValue } from '../wire/structs.ts';
import {
  FOPEN,
  FUSE_DEV_IOC_BACKING_CLOSE,
  FUSE_DEV_IOC_BACKING_OPEN,
  FUSE_INIT_FLAG,
  V15_UAPI,
  opcodeName,
  splitInitFlags,
} from '../wire/uapi.ts';
import type { FopenName, OpenPolicy } from './policy.ts';
import type { ServerState } from './state.ts';
import { lifecycleNext, type LifecycleEvent } from './lifecycle.ts';

export function serverOf(w: World, conn: Ptr): ServerState {
  const s = w.servers[conn];
  if (!s) throw new Error(`no server for fuse_conn#${conn}`);
  return s;
}

function lifecycle(c: Ctx, s: ServerState, ev: LifecycleEvent) {
  const next = lifecycleNext(s.lifecycle, ev);
  if (next === null) {
    c.emit('note', `server ${s.fs}: lifecycle ${s.lifecycle} ignores ${ev.type}`);
    return;
  }
  if (next !== s.lifecycle) c.emit('note', `server ${s.fs}: ${s.lifecycle} -> ${next}`);
  s.lifecycle = next;
}

/** The open-reply bits as the server's uapi spells them. */
function fopenBits(s: ServerState, names: readonly FopenName[]): number {
  let bits = 0;
  for (const n of names) {
    if (n === 'PASSTHROUGH') bits |= s.policy.uapi === 'v15' ? V15_UAPI.FOPEN_PASSTHROUGH : FOPEN.PASSTHROUGH;
    else bits |= FOPEN[n];
  }
  return bits;
}

function reply(c: Ctx, s: ServerState, unique: number, error: number, body: Uint8Array | null) {
  const fc = c.deref(s.conn, 'fuse_conn');
  const r = fuse_dev_write(c, fc, encodeReply(unique, error, body));
  if (r < 0) c.emit('note', `server ${s.fs}: write to /dev/fuse failed (${r})`);
  lifecycle(c, s, { type: 'REPLIED' });
}

/** What the server's backing file looks like (passthrough_hp stats it). */
function fileData(c: Ctx, s: ServerState, name: string): { data: string; mtime: number } | null {
  const f = s.policy.files[name];
  if (!f) return null;
  if (f.backing) {
    const r = resolvePath(c.w, f.backing);
    const real = r && realInode(c.w, r.sb, r.name);
    if (real) return { data: real.inode.data, mtime: real.inode.mtime };
    if (r && r.sb.kind === 'fuse') return { data: '', mtime: 0 };
    return null;
  }
  return { data: f.data ?? '', mtime: 0 };
}

function attrOut(nodeid: number, size: number, mtime: number) {
  const a = zeroValue(FUSE_ATTR_OUT);
  a.attr.ino = nodeid;
  a.attr.size = size;
  a.attr.mtime = mtime;
  a.attr.mode = 0o100644;
  a.attr.nlink = 1;
  return a;
}

interface LoopL {
  conn: Ptr;
  unique: number;
  opcode: number;
  nodeid: number;
  arg: unknown;
}

/** fuse_session_loop: read a request, handle it, repeat until the device says ENODEV. */
kfunc<LoopL>('fuse_session_loop', 'libfuse lib/fuse_loop.c', {
  start(c, l) {
    const s = serverOf(c.w, l.conn);
    const fc = c.deref(l.conn, 'fuse_conn');
    if (fc.pending.length === 0) {
      if (fc.connected) return block({ on: 'request', conn: l.conn }, 'start');
      lifecycle(c, s, { type: c.w.sbs[fc.sb]!.mounted ? 'ABORTED' : 'UNMOUNTED' });
      return ret(0); // read(2) on /dev/fuse: ENODEV, the loop ends
    }
    const bytes = fuse_dev_read(c, fc);
    if (typeof bytes === 'number') return ret(0);
    const req = decodeRequest(bytes);
    l.unique = req.header.unique;
    l.opcode = req.header.opcode;
    l.nodeid = req.header.nodeid;
    const name = opcodeName(l.opcode);
    const known = ['INIT', 'LOOKUP', 'GETATTR', 'OPEN', 'RELEASE', 'READ', 'WRITE', 'FLUSH', 'DESTROY'];
    l.arg = known.includes(name) ? plain(decodeRequestArg(l.opcode, req.body)) : null;
    s.seen.push(name);
    if (name !== 'FORGET') lifecycle(c, s, { type: 'REQUEST' });
    return goto(`op_${name}`);
  },
  op_INIT(c, l) {
    const s = serverOf(c.w, l.conn);
    const p = s.policy.init;
    if (p.errno) {
      reply(c, s, l.unique, neg(p.errno), null);
      lifecycle(c, s, { type: 'INIT_FAILED' });
      return again(c, l.conn);
    }
    let flags = 0n;
    for (const f of p.flags) flags |= FUSE_INIT_FLAG[f as keyof typeof FUSE_INIT_FLAG];
    const out = { ...zeroValue_initOut(), major: p.major, minor: p.minor, ...splitInitFlags(flags), max_stack_depth: p.max_stack_depth, max_write: 131072 };
    reply(c, s, l.unique, 0, encodeShortInitOut(out, p.size));
    const fc = c.deref(l.conn, 'fuse_conn');
    lifecycle(c, s, { type: fc.connError ? 'INIT_FAILED' : 'INIT_REPLIED', passthrough: fc.passthrough });
    return again(c, l.conn);
  },
  op_LOOKUP(c, l) {
    const s = serverOf(c.w, l.conn);
    const name = (l.arg as { name: string }).name;
    const d = fileData(c, s, name);
    if (!d) {
      reply(c, s, l.unique, neg('ENOENT'), null);
      return again(c, l.conn);
    }
    let ino = Object.values(s.inodes).find((i) => i.name === name);
    if (!ino) {
      ino = { name, nodeid: s.nextNodeid++, backingId: 0, fd: -1, nopen: 0, opened: 0 };
      s.inodes[ino.nodeid] = ino;
    }
    const e = zeroValue(FUSE_ENTRY_OUT);
    e.nodeid = ino.nodeid;
    e.attr = attrOut(ino.nodeid, d.data.length, d.mtime).attr;
    reply(c, s, l.unique, 0, encode(FUSE_ENTRY_OUT, e));
    return again(c, l.conn);
  },
  op_GETATTR(c, l) {
    const s = serverOf(c.w, l.conn);
    const ino = s.inodes[l.nodeid];
    const d = ino && fileData(c, s, ino.name);
    if (!ino || !d) reply(c, s, l.unique, neg('ENOENT'), null);
    else reply(c, s, l.unique, 0, encode(FUSE_ATTR_OUT, attrOut(l.nodeid, d.data.length, d.mtime)));
    return again(c, l.conn);
  },
  next(c, l) {
    return again(c, l.conn);
  },
  op_OPEN(c, l) {
    const flags = (l.arg as { flags: number }).flags;
    return call('srv_open', { conn: l.conn, unique: l.unique, nodeid: l.nodeid, write: (flags & 3) !== 0 }, 'next');
  },
  op_RELEASE(c, l) {
    return call('srv_release', { conn: l.conn, unique: l.unique, nodeid: l.nodeid, fh: (l.arg as { fh: number }).fh }, 'next');
  },
  op_READ(c, l) {
    const s = serverOf(c.w, l.conn);
    const a = l.arg as { offset: number; size: number };
    const ino = s.inodes[l.nodeid];
    const d = ino && fileData(c, s, ino.name);
    const data = (d?.data ?? '').slice(a.offset, a.offset + a.size);
    reply(c, s, l.unique, 0, new TextEncoder().encode(data));
    return again(c, l.conn);
  },
  op_WRITE(c, l) {
    const s = serverOf(c.w, l.conn);
    const a = l.arg as { offset: number; data: string };
    const ino = s.inodes[l.nodeid];
    const f = ino && s.policy.files[ino.name];
    // the server writes its backing file (or its inline data): a userspace write, not modelled as a syscall
    if (f?.backing) {
      const r = resolvePath(c.w, f.backing);
      const real = r && realInode(c.w, r.sb, r.name);
      if (real) {
        const old = real.inode.data;
        real.inode.data = old.slice(0, a.offset).padEnd(a.offset, '\0') + a.data + old.slice(a.offset + a.data.length);
        real.inode.mtime = ++c.w.clock;
      }
    } else if (f) {
      const old = f.data ?? '';
      f.data = old.slice(0, a.offset).padEnd(a.offset, '\0') + a.data + old.slice(a.offset + a.data.length);
    }
    const out = encode(FUSE_WRITE_OUT, { size: a.data.length, padding: 0 });
    reply(c, s, l.unique, 0, out);
    return again(c, l.conn);
  },
  op_FLUSH(c, l) {
    const s = serverOf(c.w, l.conn);
    reply(c, s, l.unique, s.policy.flush === 'ENOSYS' ? neg('ENOSYS') : 0, null);
    return again(c, l.conn);
  },
  op_FORGET(c, l) {
    return again(c, l.conn); // FORGET has no reply
  },
  op_DESTROY(c, l) {
    reply(c, serverOf(c.w, l.conn), l.unique, 0, null);
    return again(c, l.conn);
  },
  ...Object.fromEntries(
    ['GETXATTR', 'SETATTR', 'STATFS', 'OPENDIR', 'INTERRUPT'].map((n) => [
      `op_${n}`,
      (c: Ctx, l: LoopL) => {
        reply(c, serverOf(c.w, l.conn), l.unique, neg('ENOSYS'), null);
        return again(c, l.conn);
      },
    ]),
  ),
});

/** Back to reading /dev/fuse: at once if a request waits, else sleep until one comes. */
function again(c: Ctx, conn: Ptr) {
  const fc = c.deref(conn, 'fuse_conn');
  return fc.pending.length > 0 || !fc.connected ? preempt('start') : block({ on: 'request', conn }, 'start');
}

function zeroValue_initOut() {
  return { major: 0, minor: 0, max_readahead: 0, flags: 0, max_background: 0, congestion_threshold: 0, max_write: 0, time_gran: 0, max_pages: 0, map_alignment: 0, flags2: 0, max_stack_depth: 0 };
}

/** Requests are kept in frame locals: turn byte arrays into strings so they stay plain data. */
function plain(arg: { op: string; arg?: unknown; data?: Uint8Array; name?: string }): unknown {
  const out: Record<string, unknown> = { ...(arg.arg as object) };
  if (arg.data) out['data'] = new TextDecoder().decode(arg.data);
  if (arg.name !== undefined) out['name'] = arg.name;
  return out;
}

function openPolicyFor(s: ServerState, nodeid: number): OpenPolicy {
  const ino = s.inodes[nodeid];
  return (ino && s.policy.files[ino.name]?.open) ?? s.policy.open;
}

interface SrvOpenL {
  conn: Ptr;
  unique: number;
  nodeid: number;
  write: boolean;
  fd: number;
  id: number;
  r: number;
}

/** passthrough_hp's sfs_open / do_passthrough_open, and the scripted alternatives. */
kfunc<SrvOpenL>('srv_open', 'libfuse example/passthrough_hp.cc', {
  start(c, l) {
    const s = serverOf(c.w, l.conn);
    const ino = s.inodes[l.nodeid];
    if (!ino) {
      reply(c, s, l.unique, neg('ENOENT'), null);
      return ret(0);
    }
    const p0 = openPolicyFor(s, l.nodeid);
    ino.opened++;
    const pol = p0.mode === 'sequence' ? p0.replies[Math.min(ino.opened, p0.replies.length) - 1]! : p0;
    l.fd = -1;
    l.id = 0;
    switch (pol.mode) {
      case 'error':
        reply(c, s, l.unique, -ERRNO[pol.errno], null);
        return ret(0);
      case 'reply': {
        const id = typeof pol.backing_id === 'number' ? pol.backing_id : (c.p.vars[pol.backing_id.slice(1)] ?? -1);
        return replyOpen(c, s, l, fopenBits(s, pol.flags), id);
      }
      case 'passthrough_hp':
        if (ino.backingId) {
          l.id = ino.backingId;
          return goto('reply_pt');
        }
        return goto('open_backing');
      case 'per_open':
        return goto('open_backing');
    }
  },
  open_backing(c, l) {
    const s = serverOf(c.w, l.conn);
    const ino = s.inodes[l.nodeid]!;
    const path = s.policy.files[ino.name]?.backing;
    if (!path) return replyOpen(c, s, l, 0, 0); // nothing to pass through to: a plain open
    return call('sys_open', { path, write: l.write, opath: false }, 'got_fd', 'fd');
  },
  got_fd(c, l) {
    const s = serverOf(c.w, l.conn);
    if (l.fd < 0) {
      reply(c, s, l.unique, l.fd, null);
      return ret(0);
    }
    return call('sys_fuse_ioctl', { cmd: FUSE_DEV_IOC_BACKING_OPEN, fd: l.fd, flags: 0, padding: 0 }, 'got_id', 'id');
  },
  got_id(c, l) {
    const s = serverOf(c.w, l.conn);
    if (l.id < 0) {
      // passthrough_hp: "fuse_passthrough_open failed ..., disabling rw passthrough"
      c.emit('note', `server ${s.fs}: BACKING_OPEN failed (${l.id}); this open is not passthrough`);
      return replyOpen(c, s, l, 0, 0);
    }
    const pol = openPolicyFor(s, l.nodeid);
    if (pol.mode === 'passthrough_hp') {
      const ino = s.inodes[l.nodeid]!;
      ino.backingId = l.id;
      ino.fd = l.fd;
    }
    return goto('reply_pt');
  },
  reply_pt(c, l) {
    const s = serverOf(c.w, l.conn);
    const pol = openPolicyFor(s, l.nodeid);
    const extra = pol.mode === 'per_open' ? pol.flags.filter((f) => f !== 'PASSTHROUGH') : [];
    return replyOpen(c, s, l, fopenBits(s, ['PASSTHROUGH', ...extra]), l.id);
  },
  after_reply(c, l) {
    const s = serverOf(c.w, l.conn);
    const pol = openPolicyFor(s, l.nodeid);
    if (pol.mode === 'per_open' && pol.close_after_reply && l.id > 0) {
      return call('sys_fuse_ioctl', { cmd: FUSE_DEV_IOC_BACKING_CLOSE, id: l.id }, 'closed', 'r');
    }
    return ret(0);
  },
  closed(c, l) {
    if (l.fd >= 0) return call('sys_close', { fd: l.fd }, 'done', 'r');
    return ret(0);
  },
  done() {
    return ret(0);
  },
});

function replyOpen(c: Ctx, s: ServerState, l: SrvOpenL, openFlags: number, backingId: number) {
  const fh = s.nextFh++;
  s.fhs[fh] = { nodeid: l.nodeid, backingId, fd: l.fd };
  const ino = s.inodes[l.nodeid];
  if (ino) ino.nopen++;
  const out = encode(FUSE_OPEN_OUT, { fh, open_flags: openFlags >>> 0, backing_id: backingId });
  reply(c, s, l.unique, 0, out);
  const pol = openPolicyFor(s, l.nodeid);
  // only a server that closes the id right after replying has more to do
  return pol.mode === 'per_open' && pol.close_after_reply && backingId > 0 ? preempt('after_reply') : ret(0);
}

interface SrvReleaseL {
  conn: Ptr;
  unique: number;
  nodeid: number;
  fh: number;
  r: number;
  id: number;
  fd: number;
}

/** passthrough_hp's sfs_release: the last release of an inode closes its backing id. */
kfunc<SrvReleaseL>('srv_release', 'libfuse example/passthrough_hp.cc', {
  start(c, l) {
    const s = serverOf(c.w, l.conn);
    const ino = s.inodes[l.nodeid];
    const open = s.fhs[l.fh];
    delete s.fhs[l.fh];
    reply(c, s, l.unique, 0, null);
    l.id = 0;
    l.fd = -1;
    if (!ino) return ret(0);
    ino.nopen--;
    const pol = openPolicyFor(s, l.nodeid);
    if (pol.mode === 'passthrough_hp' && ino.nopen === 0 && ino.backingId) {
      l.id = ino.backingId;
      l.fd = ino.fd;
      ino.backingId = 0;
      ino.fd = -1;
    } else if (pol.mode === 'per_open' && !pol.close_after_reply && open && open.backingId > 0) {
      l.id = open.backingId;
      l.fd = open.fd;
    }
    if (l.id > 0) return preempt('close_id');
    return ret(0);
  },
  close_id(c, l) {
    return call('sys_fuse_ioctl', { cmd: FUSE_DEV_IOC_BACKING_CLOSE, id: l.id }, 'close_fd', 'r');
  },
  close_fd(c, l) {
    if (l.fd >= 0) return call('sys_close', { fd: l.fd }, 'done', 'r');
    return ret(0);
  },
  done() {
    return ret(0);
  },
});

/** The server's program op "serve": run the session loop. */
kfunc<{ conn: Ptr; r: number }>('sys_serve', 'libfuse lib/fuse_loop.c', {
  start(c, l) {
    const s = Object.values(c.w.servers).find((x) => x.proc === c.p.name);
    if (!s) return ret(neg('EBADF'));
    l.conn = s.conn;
    return call('fuse_session_loop', { conn: s.conn }, 'done', 'r');
  },
  done(_c, l) {
    return ret(l.r);
  },
});

export type { FuseConnObj };
