// A real FUSE server as a synchronous peer: the model's step function is synchronous, so the
// in-model session loop of an external server (sim/server/external.ts) must get the server's
// answer to a request within the step that delivered it. ServerProcess is asynchronous (its
// events come from Node's event loop), so it lives in a worker thread (bridge/sync-worker.ts)
// and this thread sleeps in Atomics.wait until the worker has the answer, then takes it with
// receiveMessageOnPort. One call at a time; the server is started afresh per run.
//
// The bridge is spawned by the worker's thread: its PR_SET_PDEATHSIG follows that thread, so
// stop() (or the worker's end) takes the bridge and the server down; if Node dies, the bridge
// sees its stdin close.
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

export interface SyncFile {
  /** the bridge's handle on its copy of the fd (closed once the model has its answer) */
  handle: number;
  kind: string;
  mode: number;
  dev: number;
  /** st_ino as a decimal string */
  ino: string;
  size: number;
  /** F_GETFL */
  flags: number;
  accmode: string;
  fsName: string;
  /** readlink of the fd */
  path: string;
  /** a regular file's content (latin1), read through the bridge's copy at the ioctl */
  data?: string;
}

export type SyncEvent =
  | { t: 'msg'; bytes: Uint8Array }
  | { t: 'ioctl'; chan: number; cmd: number; arg: Uint8Array; file?: SyncFile }
  | { t: 'exit'; code: number | null; signal: string | null; stderrTail: string }
  | { t: 'timeout' };

export type SyncCall =
  | { op: 'start'; argv: string[]; cwd?: string; stderrFile?: string; noAslr?: boolean; orphanTree?: string }
  | { op: 'deliver'; bytes: Uint8Array; owed: number; quietMs: number; timeoutMs: number }
  | { op: 'answer'; chan: number; ret: number; closeHandle?: number; owed: number; quietMs: number; timeoutMs: number }
  | { op: 'stop' };

export type SyncReply = { ok: true; events?: SyncEvent[]; bridgePid?: number; serverPid?: number } | { ok: false; error: string };

const HERE = dirname(fileURLToPath(import.meta.url));

/** The worker thread and its port, made on first use and shared by every server in turn. */
class Channel {
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly flag: Int32Array;
  constructor() {
    const ch = new MessageChannel();
    this.port = ch.port1;
    this.flag = new Int32Array(new SharedArrayBuffer(4));
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const entry = new URL(`./sync-worker${ext}`, import.meta.url).href;
    this.worker = new Worker(join(HERE, 'worker-boot.mjs'), { workerData: { entry, port: ch.port2, flag: this.flag }, transferList: [ch.port2] });
    this.worker.unref();
  }

  private seq = 0;

  /**
   * One call: post it, sleep until the worker flips the flag, take the answer with this call's
   * number (an answer that comes late, after its call gave up, is dropped when seen).
   */
  call(m: SyncCall, timeoutMs: number): SyncReply {
    const id = ++this.seq;
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ ...m, id });
    // the worker answers within its own timeouts; this one only guards a dead worker
    const deadline = Date.now() + timeoutMs + 10_000;
    for (;;) {
      for (let got = receiveMessageOnPort(this.port); got; got = receiveMessageOnPort(this.port)) {
        const r = got.message as SyncReply & { id: number };
        if (r.id === id) return r;
      }
      if (Date.now() > deadline) return { ok: false, error: `the bridge worker did not answer ${m.op} within ${timeoutMs + 10_000} ms` };
      // the flag is set once the answer is posted; until it arrives, short sleeps
      Atomics.wait(this.flag, 0, 0, Atomics.load(this.flag, 0) === 0 ? 1000 : 1);
    }
  }
}

let channel: Channel | null = null;

/** Ends the shared worker thread (servers still running are killed with it). */
export function shutdownSyncServers(): void {
  if (!channel) return;
  void channel.worker.terminate();
  channel.port.close();
  channel = null;
}

export class SyncServer {
  private stopped = false;
  bridgePid = 0;
  serverPid = 0;

  private constructor(private readonly ch: Channel) {}

  /** Starts the server ("{dev}" in argv becomes its device); throws with the bridge's reason. */
  static start(
    argv: string[],
    opts: {
      cwd?: string;
      stderrFile?: string;
      timeoutMs?: number;
      /** no address randomisation (default on) */
      noAslr?: boolean;
      /** a fpsim-srv-* directory the bridge removes if this process dies without stopping it */
      orphanTree?: string;
    } = {},
  ): SyncServer {
    channel ??= new Channel();
    const s = new SyncServer(channel);
    const r = s.call({ op: 'start', argv, noAslr: opts.noAslr ?? true, ...(opts.cwd ? { cwd: opts.cwd } : {}), ...(opts.stderrFile ? { stderrFile: opts.stderrFile } : {}), ...(opts.orphanTree ? { orphanTree: opts.orphanTree } : {}) }, opts.timeoutMs ?? 30_000);
    if (!r.ok) {
      s.stop();
      throw new Error(`cannot start the server: ${r.error}`);
    }
    s.bridgePid = r.bridgePid ?? 0;
    s.serverPid = r.serverPid ?? 0;
    return s;
  }

  private call(m: SyncCall, timeoutMs: number): SyncReply {
    if (this.stopped) return { ok: false, error: 'the server was stopped' };
    return this.ch.call(m, timeoutMs);
  }

  /** One request in, events out until the server is idle (see sync-worker.ts gather). */
  deliver(bytes: Uint8Array, owed: number, quietMs: number, timeoutMs: number): SyncEvent[] {
    const r = this.call({ op: 'deliver', bytes, owed, quietMs, timeoutMs }, timeoutMs);
    if (!r.ok) throw new Error(r.error);
    return r.events ?? [];
  }

  /** Wake the thread blocked in ioctl `chan` with `ret`; events until idle again. */
  answer(chan: number, ret: number, closeHandle: number | undefined, owed: number, quietMs: number, timeoutMs: number): SyncEvent[] {
    const r = this.call({ op: 'answer', chan, ret, ...(closeHandle !== undefined ? { closeHandle } : {}), owed, quietMs, timeoutMs }, timeoutMs);
    if (!r.ok) throw new Error(r.error);
    return r.events ?? [];
  }

  /** Kills the server and its bridge (the worker stays for the next server). Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.ch.call({ op: 'stop' }, 10_000);
    this.stopped = true;
  }
}
