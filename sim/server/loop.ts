// What every server's session loop in the model does alike, the scripted one (server.ts) and a
// real server's (external.ts): libfuse's fuse_session_loop reading /dev/fuse, and the
// connection lifecycle it walks.
import type { Ctx } from '../kernel/ctx.ts';
import { block, ret, tail, type KFunc, type Next } from '../kernel/exec.ts';
import { neg } from '../kernel/lib/errno.ts';
import { __fuse_get_dev } from '../kernel/fuse/dev.ts';
import type { FuseConnObj, Ptr } from '../kernel/state.ts';
import { lifecycleNext, type LifecycleEvent } from './lifecycle.ts';
import { serverStates, type ServerState } from './state.ts';

/** The server process's /dev/fuse fd ($devfd), -1 if it has none. */
export const devfd = (c: Ctx) => c.p.vars['devfd'] ?? -1;

/** Walk the server's connection lifecycle (sim/server/lifecycle.ts), narrating a change. */
export function lifecycle(c: Ctx, s: ServerState, ev: LifecycleEvent) {
  const next = lifecycleNext(s.lifecycle, ev);
  if (next === null) {
    if (c.record) c.emit('note', `server ${s.fs}: lifecycle ${s.lifecycle} ignores ${ev.type}`);
    return;
  }
  if (next !== s.lifecycle) c.emit('note', `server ${s.fs}: ${s.lifecycle} -> ${next}`);
  s.lifecycle = next;
}

/**
 * The head of fuse_session_loop, before read(2) on /dev/fuse: the loop ends when the server
 * closed the fd it reads (read: EBADF) or the connection is gone with nothing left to read
 * (ENODEV; `atEnd` runs then); it sleeps while there is no request. Otherwise the connection,
 * with a request to read.
 */
export function sessionLoopHead(c: Ctx, s: ServerState, l: { conn: Ptr; dev: Ptr }, atEnd?: () => void): Next | FuseConnObj {
  if (c.p.fds[devfd(c)] !== l.dev) {
    if (c.record) c.emit('note', `server ${s.fs}: its /dev/fuse fd is closed; the session loop ends`);
    lifecycle(c, s, { type: 'ABORTED' });
    return ret(0);
  }
  const fc = c.deref(l.conn, 'fuse_conn');
  if (fc.pending.length > 0) return fc;
  if (fc.connected) return block({ on: 'request', conn: l.conn }, 'start');
  lifecycle(c, s, { type: c.w.sbs[fc.sb]!.mounted ? 'ABORTED' : 'UNMOUNTED' });
  atEnd?.();
  return ret(0);
}

/** What a session loop is started with: the mount it serves, its connection, its /dev/fuse file. */
export interface LoopArgs {
  fs: string;
  conn: Ptr;
  dev: Ptr;
}

/**
 * The start of a server's "serve" op: find the connection behind the process's /dev/fuse fd
 * (fuse_get_dev of the file the mount attached; EBADF without one), then run its session loop.
 */
export function serve(c: Ctx, loop: KFunc<LoopArgs>): Next {
  const s = serverStates(c.w).find((x) => x.proc === c.p.name);
  const dev = c.p.fds[devfd(c)];
  const fc = s && dev !== undefined ? __fuse_get_dev(c, dev) : null;
  if (!s || !fc || dev === undefined) return ret(neg('EBADF'));
  s.conn = fc.ptr;
  return tail(loop, { fs: s.fs, conn: fc.ptr, dev });
}
