// The scripted server against the real kernel: the shared server core (sim/server/core.ts)
// driven over RealFuseTransport. The in-model adapter (sim/server/server.ts) performs the
// core's actions as kernel calls inside the world; this one performs them through the native
// helper: "open this backing path" is openFile, "BACKING_OPEN fd" is backingOpenFd,
// "BACKING_CLOSE id" is backingClose, "close fd" is closeFile. Requests are handled one at a
// time, in order, like the model's single session loop.
import { closeSync, openSync, readFileSync, statSync, truncateSync, writeSync } from 'node:fs';
import {
  acceptRequest,
  initReply,
  openJob,
  OPEN_STEPS,
  releaseInit,
  releaseJob,
  RELEASE_STEPS,
  isJob,
  newServerState,
  simpleReply,
  type Action,
  type Out,
  type ServerEnv,
} from '../sim/server/core.ts';
import { LIFECYCLE_INITIAL, lifecycleNext, type LifecycleEvent } from '../sim/server/lifecycle.ts';
import { ServerPolicySchema, type ServerPolicy } from '../sim/server/policy.ts';
import type { ServerState } from '../sim/server/state.ts';
import { decodeRequest, encodeReply } from '../sim/wire/messages.ts';
import { FUSE_OPCODE } from '../sim/wire/uapi.ts';
import type { RealFuseTransport } from './transport.ts';

const O_RDONLY = 0;
const O_RDWR = 2;

/** How the server sees its backing files on the real side. */
export interface RealServerEnv {
  /** the real path of a backing path named in the policy (default: the path itself) */
  resolve?: (path: string) => string;
  /** the backing file's data and mtime (default: read the resolved path) */
  backing?: (path: string) => { data: string; mtime: number } | null;
  /** write the backing file (default: pwrite the resolved path) */
  writeBacking?: (path: string, offset: number, data: string) => void;
  /** truncate the backing file (default: truncate the resolved path) */
  truncateBacking?: (path: string, size: number) => void;
}

export interface RealServerOptions {
  /** the mount's name (for notes) */
  fs?: string;
  /** values the server process saved ("$id" in an open policy); the caller may change them */
  vars?: Record<string, number>;
  env?: RealServerEnv;
  /** called with each of the core's notes */
  onNote?: (text: string) => void;
}

export class RealServer {
  readonly state: ServerState;
  /** resolves once INIT has been answered (whatever the answer), or held (policy init.hold) */
  readonly init: Promise<void>;
  /** resolves when the device is gone (unmounted, aborted) or the transport closed */
  readonly done: Promise<void>;
  readonly vars: Record<string, number>;
  /** problems the server met (a request it could not decode, an action that threw) */
  readonly errors: string[] = [];
  /** the kernel's INIT request (fuse_init_in), once it arrived */
  kernelInit: { major: number; minor: number; flags: number; flags2: number } | undefined;
  private readonly t: RealFuseTransport;
  private readonly env: ServerEnv;
  /** a backing path as the policy names it -> the path the helper opens */
  private readonly resolve: (path: string) => string;
  private readonly onNote: (text: string) => void;
  private resolveInit!: () => void;
  private busy = 0;
  private lastActivity = Date.now();

  constructor(t: RealFuseTransport, policy: ServerPolicy | unknown, opts: RealServerOptions = {}) {
    this.t = t;
    const parsed = ServerPolicySchema.parse(structuredClone(policy));
    this.state = newServerState(opts.fs ?? 'fuse', `server:${opts.fs ?? 'fuse'}`, parsed, LIFECYCLE_INITIAL);
    this.vars = opts.vars ?? {};
    this.onNote = opts.onNote ?? (() => {});
    this.resolve = opts.env?.resolve ?? ((p: string) => p);
    this.env = realEnv(opts.env ?? {}, this.resolve, this.vars);
    this.init = new Promise<void>((r) => (this.resolveInit = r));
    this.done = this.loop();
  }

  /** The opcode names of the requests seen so far, in order. */
  get seen(): readonly string[] {
    return this.state.seen;
  }

  /** How many requests with this opcode (number or name) arrived so far. */
  count(op: number | string): number {
    const name = typeof op === 'number' ? Object.entries(FUSE_OPCODE).find(([, v]) => v === op)?.[0] : op;
    return this.state.seen.filter((n) => n === name).length;
  }

  /**
   * Resolves once no request is being handled and none has arrived for `quietMs`, counted
   * from now at the earliest: a request the kernel queued just before the call (the RELEASE
   * of a close(2) that just returned) may still be on its way through the helper.
   */
  async idle(quietMs = 15, timeoutMs = 5_000): Promise<boolean> {
    const start = Date.now();
    const deadline = start + timeoutMs;
    for (;;) {
      const quiet = Date.now() - Math.max(this.lastActivity, start);
      if (this.busy === 0 && quiet >= quietMs) return true;
      if (Date.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, Math.max(2, quietMs - quiet)));
    }
  }

  private lifecycle(ev: LifecycleEvent): void {
    const next = lifecycleNext(this.state.lifecycle, ev);
    if (next !== null) this.state.lifecycle = next;
  }

  private async loop(): Promise<void> {
    for (;;) {
      let bytes: Uint8Array;
      try {
        bytes = await this.t.nextRequest();
      } catch {
        this.lifecycle({ type: this.t.helperAlive ? 'ABORTED' : 'UNMOUNTED' });
        this.resolveInit();
        return; // device gone or transport closed
      }
      this.busy++;
      this.lastActivity = Date.now();
      try {
        await this.handle(bytes);
      } catch (e) {
        // a malformed request must not kill the server; answer EIO if possible
        this.errors.push((e as Error).message);
        try {
          this.t.reply(encodeReply(decodeRequest(bytes).header.unique, -5, null));
        } catch {
          // not even a header: nothing to answer
        }
      } finally {
        this.busy--;
        this.lastActivity = Date.now();
      }
    }
  }

  private reply(bytes: Uint8Array): void {
    this.t.reply(bytes);
    this.lifecycle({ type: 'REPLIED' });
  }

  private async handle(bytes: Uint8Array): Promise<void> {
    const s = this.state;
    const req = acceptRequest(s, bytes);
    if (req.name !== 'FORGET') this.lifecycle({ type: 'REQUEST' });
    if (req.name === 'INIT') {
      this.kernelInit = req.arg as RealServer['kernelInit'];
      const r = initReply(s, req.unique);
      // a held reply waits for releaseInit (a server thread's "init_reply")
      if (!r.held) {
        this.reply(r.bytes);
        this.lifecycle(r.failed ? { type: 'INIT_FAILED' } : { type: 'INIT_REPLIED', passthrough: true });
      }
      this.resolveInit();
      return;
    }
    const job = isJob(req.opcode);
    if (job === 'open') await this.run(OPEN_STEPS, openJob(req));
    else if (job === 'release') await this.run(RELEASE_STEPS, releaseJob(req));
    else {
      const out = simpleReply(s, this.env, req);
      if (out) this.reply(out);
    }
  }

  /** A job's steps, from "start" until it is done: the same labels the model steps through. */
  private async run<J extends object>(steps: Record<string, (s: ServerState, j: J, e: ServerEnv) => Out>, job: J): Promise<void> {
    let label = 'start';
    for (let i = 0; i < 64; i++) {
      const step = steps[label];
      if (!step) throw new Error(`server job has no step ${label}`);
      const out = step(this.state, job, this.env);
      switch (out.k) {
        case 'reply':
          if (out.note) this.onNote(out.note);
          this.reply(out.bytes);
          if (out.next === null) return;
          label = out.next;
          break;
        case 'goto':
          if (out.note) this.onNote(out.note);
          label = out.next;
          break;
        case 'done':
          return;
        case 'act':
          (job as Record<string, unknown>)[out.into] = await this.perform(out.act);
          label = out.next;
          break;
      }
    }
    throw new Error('server job did not finish in 64 steps');
  }

  /**
   * A server thread writes the INIT reply the policy held back (init.hold): 0, or -ENOENT when
   * none is held (the same as the model's "init_reply").
   */
  releaseInit(): number {
    const r = releaseInit(this.state);
    if (!r) return -2;
    this.reply(r.bytes);
    this.lifecycle(r.failed ? { type: 'INIT_FAILED' } : { type: 'INIT_REPLIED', passthrough: true });
    return 0;
  }

  private perform(a: Action): Promise<number> {
    switch (a.k) {
      case 'open':
        return this.t.openFile(this.resolve(a.path), a.write ? O_RDWR : O_RDONLY);
      case 'backing_open':
        return this.t.backingOpenFd(a.fd);
      case 'backing_close':
        return this.t.backingClose(a.id);
      case 'close':
        return this.t.closeFile(a.fd);
    }
  }

}

/** The default real environment: backing paths are files this process may read and write. */
function realEnv(e: RealServerEnv, resolve: (p: string) => string, vars: Record<string, number>): ServerEnv {
  return {
    vars,
    backing:
      e.backing ??
      ((path) => {
        try {
          const real = resolve(path);
          const st = statSync(real);
          return { data: readFileSync(real, 'latin1'), mtime: Math.floor(st.mtimeMs / 1000) };
        } catch {
          return null;
        }
      }),
    truncateBacking: e.truncateBacking ?? ((path, size) => truncateSync(resolve(path), size)),
    writeBacking:
      e.writeBacking ??
      ((path, offset, data) => {
        const fd = openSync(resolve(path), 'r+');
        try {
          writeSync(fd, Buffer.from(data, 'latin1'), 0, data.length, offset);
        } finally {
          closeSync(fd);
        }
      }),
  };
}
