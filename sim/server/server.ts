// The scripted server inside the model: libfuse's session loop and request handlers, in the
// same step machinery as the kernel so its ioctls interleave with user tasks. What it answers
// is decided by the shared server core (./core.ts); this file is the in-model adapter: it
// reads and writes /dev/fuse through the kernel model (the wire is the contract) and performs
// the core's actions as kernel calls (open, the backing ioctls, close) inside the world. The
// real-kernel adapter over the same core is oracle/real-server.ts.
import type { Ctx } from '../kernel/ctx.ts';
import { block, call, entry, goto, kfunc, preempt, ret, type Next } from '../kernel/exec.ts';
import type { Ptr } from '../kernel/state.ts';
import { neg } from '../kernel/lib/errno.ts';
import { __fuse_get_dev, fuse_dev_read, fuse_dev_write } from '../kernel/fuse/dev.ts';
import { resolvePath } from '../kernel/vfs/namei.ts';
import { s_type } from '../kernel/vfs/fs.ts';
import { sys_open, sys_close } from '../kernel/vfs/open.ts';
import { sys_ioctl } from '../kernel/vfs/ioctl.ts';
import { O_LARGEFILE, O_RDONLY, O_RDWR } from '../kernel/vfs/fcntl.ts';
import { FUSE_DEV_IOC_BACKING_CLOSE, FUSE_DEV_IOC_BACKING_OPEN } from '../wire/uapi.ts';
import {
  acceptRequest,
  initReply,
  openJob,
  OPEN_STEPS,
  releaseInit,
  releaseJob,
  RELEASE_STEPS,
  simpleReply,
  type OpenJob,
  type Out,
  type ReleaseJob,
  type ServerEnv,
  type ServerRequest,
} from './core.ts';
import { serverOf, serverStates, type ServerState } from './state.ts';
import { devfd, lifecycle, serve, sessionLoopHead } from './loop.ts';


/** write(2) of a reply on /dev/fuse. */
function reply(c: Ctx, s: ServerState, bytes: Uint8Array) {
  const fc = c.deref(s.conn, 'fuse_conn');
  const r = fuse_dev_write(c, fc, bytes);
  if (r < 0) c.emit('note', `server ${s.fs}: write to /dev/fuse failed (${r})`);
  lifecycle(c, s, { type: 'REPLIED' });
}

/** The server's view of the world: its backing files are inodes of the model. */
function env(c: Ctx): ServerEnv {
  return {
    backing(path) {
      const r = resolvePath(c.w, path);
      return r ? s_type(r.sb).peek(c.w, r.sb, r.name) : null;
    },
    writeBacking(path, offset, data) {
      // a userspace write, not modelled as a syscall
      const r = resolvePath(c.w, path);
      if (r) s_type(r.sb).poke?.(c.w, r.sb, r.name, offset, data);
    },
    truncateBacking(path, size) {
      // a userspace truncate, not modelled as a syscall
      const r = resolvePath(c.w, path);
      if (r) s_type(r.sb).pokeSize?.(c.w, r.sb, r.name, size);
    },
    vars: c.p.vars,
  };
}

interface LoopA {
  /** the mount served (the server's key in world.servers) */
  fs: string;
  conn: Ptr;
  /** the /dev/fuse file the loop reads (its $devfd when it started) */
  dev: Ptr;
}

interface LoopL extends LoopA {
  req: ServerRequest;
}

/** fuse_session_loop: read a request, handle it, repeat until the device says ENODEV. */
const fuse_session_loop = kfunc<LoopA, LoopL>('fuse_session_loop', 'libfuse lib/fuse_loop.c', {
  start(c, l) {
    const s = serverOf(c.w, l.fs);
    const fc = sessionLoopHead(c, s, l);
    if ('k' in fc) return fc;
    const bytes = fuse_dev_read(c, fc, l.dev);
    if (typeof bytes === 'number') return ret(0);
    l.req = acceptRequest(s, bytes);
    if (l.req.name !== 'FORGET' && l.req.name !== 'BATCH_FORGET') lifecycle(c, s, { type: 'REQUEST' });
    return goto(`op_${l.req.name}`);
  },
  op_INIT(c, l) {
    const s = serverOf(c.w, l.fs);
    const r = initReply(s, l.req.unique);
    if (r.held) {
      if (c.record) c.emit('note', `server ${s.fs}: holds its INIT reply (until a server thread's init_reply)`);
      return again(c, l.conn);
    }
    reply(c, s, r.bytes);
    const fc = c.deref(l.conn, 'fuse_conn');
    if (r.failed) lifecycle(c, s, { type: 'INIT_FAILED' });
    else lifecycle(c, s, { type: fc.connError ? 'INIT_FAILED' : 'INIT_REPLIED', passthrough: fc.passthrough });
    return again(c, l.conn);
  },
  next(c, l) {
    return again(c, l.conn);
  },
  op_OPEN(_c, l) {
    return call(srv_open, { fs: l.fs, ...openJob(l.req) }, 'next');
  },
  op_CREATE(_c, l) {
    return call(srv_open, { fs: l.fs, ...openJob(l.req) }, 'next');
  },
  op_RELEASE(_c, l) {
    return call(srv_release, { fs: l.fs, ...releaseJob(l.req) }, 'next');
  },
  // every other request gets one reply (or none: FORGET)
  ...Object.fromEntries(
    [
      ...['LOOKUP', 'GETATTR', 'READ', 'WRITE', 'FLUSH', 'FORGET', 'BATCH_FORGET', 'DESTROY', 'GETXATTR', 'SETATTR', 'STATFS', 'INTERRUPT', 'GETLK', 'SETLK', 'SETLKW'],
      ...['MKNOD', 'MKDIR', 'UNLINK', 'RMDIR', 'RENAME', 'RENAME2', 'OPENDIR', 'READDIR', 'READDIRPLUS', 'RELEASEDIR', 'READLINK', 'SYMLINK'],
      // fsync, fallocate, lseek, copy_file_range: answered by policy
      ...['FSYNC', 'FSYNCDIR', 'FALLOCATE', 'LSEEK', 'COPY_FILE_RANGE', 'COPY_FILE_RANGE_64'],
    ].map((n) => [
      `op_${n}`,
      (c: Ctx, l: LoopL) => {
        const s = serverOf(c.w, l.fs);
        const bytes = simpleReply(s, env(c), l.req);
        if (bytes) reply(c, s, bytes);
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

/** The server's /dev/fuse fd, which its ioctls go to. */

/**
 * One core output as the model's next move: a reply is written at once (more work after it
 * waits for the next step: a preemption point), an action is a call into the kernel model.
 */
function perform(c: Ctx, s: ServerState, out: Out): Next {
  switch (out.k) {
    case 'reply':
      if (out.note) c.emit('note', out.note);
      reply(c, s, out.bytes);
      return out.next ? preempt(out.next) : ret(0);
    case 'goto':
      if (out.note) c.emit('note', out.note);
      return goto(out.next);
    case 'done':
      return ret(0);
    case 'act': {
      const a = out.act;
      switch (a.k) {
        case 'open':
          return call(sys_open, { path: a.path, flags: (a.write ? O_RDWR : O_RDONLY) | O_LARGEFILE }, out.next, out.into);
        case 'backing_open':
          return call(sys_ioctl, { dev: devfd(c), cmd: FUSE_DEV_IOC_BACKING_OPEN, fd: a.fd, flags: 0, padding: 0 }, out.next, out.into);
        case 'backing_close':
          return call(sys_ioctl, { dev: devfd(c), cmd: FUSE_DEV_IOC_BACKING_CLOSE, id: a.id }, out.next, out.into);
        case 'close':
          return call(sys_close, { fd: a.fd }, out.next, out.into);
      }
    }
  }
}

type Job<J> = J & { fs: string };

/** A kfunc whose labels are the core job's steps. */
function jobSteps<J>(steps: Record<string, (s: ServerState, j: J, e: ServerEnv) => Out>) {
  const out: Record<string, (c: Ctx, l: Job<J>) => Next> = {};
  for (const [label, step] of Object.entries(steps)) {
    out[label] = (c, l) => {
      const s = serverOf(c.w, l.fs);
      return perform(c, s, step(s, l, env(c)));
    };
  }
  return out as { start: (c: Ctx, l: Job<J>) => Next } & typeof out;
}

/** passthrough_hp's sfs_open / do_passthrough_open, and the scripted alternatives. */
const srv_open = kfunc<Job<OpenJob>>('srv_open', 'libfuse example/passthrough_hp.cc', jobSteps(OPEN_STEPS));

/** passthrough_hp's sfs_release: the last release of an inode closes its backing id. */
const srv_release = kfunc<Job<ReleaseJob>>('srv_release', 'libfuse example/passthrough_hp.cc', jobSteps(RELEASE_STEPS));

/**
 * The server's program op "serve": find the connection behind its /dev/fuse fd (fuse_get_dev
 * of the file the mount attached), then run the session loop.
 */
entry(
  'serve',
  kfunc<object>('sys_serve', 'libfuse lib/fuse_loop.c', {
    start(c) {
      return serve(c, fuse_session_loop);
    },
  }),
);

/**
 * A server thread's op "init_reply": write the INIT reply the server held back (policy
 * init.hold) to /dev/fuse; process_init_reply runs in this thread. 0, or ENOENT when no INIT
 * reply is held (none arrived yet, or it was already sent).
 */
entry(
  'init_reply',
  kfunc<object>('srv_init_reply', 'libfuse lib/fuse_lowlevel.c', {
    start(c) {
      const s = serverStates(c.w).find((x) => x.proc === c.p.name);
      const r = s && s.conn ? releaseInit(s) : null;
      if (!s || !r) return ret(neg('ENOENT'));
      reply(c, s, r.bytes);
      const fc = c.deref(s.conn, 'fuse_conn');
      if (r.failed) lifecycle(c, s, { type: 'INIT_FAILED' });
      else lifecycle(c, s, { type: fc.connError ? 'INIT_FAILED' : 'INIT_REPLIED', passthrough: fc.passthrough });
      return ret(0);
    },
  }),
);
