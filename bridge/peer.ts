// The live peer of an external server in the model (sim/server/external.ts): a real server
// process behind bridge/sync.ts. It turns the bridge's events into the model's ExternalEvents,
// says what went wrong in terms of the request that was being served (crash, hang, exit), and
// mirrors the content of regular backing files between the model and the real files at the
// request boundaries (see sim/server/external.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import type { ExternalEvent, ExternalPeer, ExternalRequest } from '../sim/server/external.ts';
import { toHex } from '../sim/kernel/fuse/hex.ts';
import type { SyncEvent, SyncServer } from './sync.ts';

export interface LivePeerOptions {
  /** how long the server may take over one request (then it is reported hung) */
  timeoutMs: number;
  /** how long the server must stay quiet after its reply before it counts as idle */
  quietMs: number;
}

export class LivePeer implements ExternalPeer {
  private owed = 0;
  private req: ExternalRequest | null = null;
  private chan = -1;
  private handle: number | undefined;
  /** model name -> the real file it mirrors */
  private readonly real = new Map<string, string>();
  /** model name -> the content both sides had at the last boundary */
  private readonly known = new Map<string, string>();
  /** set once the server is gone: every later request fails at once */
  private dead: string | null = null;

  constructor(
    private readonly server: SyncServer,
    private readonly o: LivePeerOptions,
  ) {}

  private what(): string {
    return this.req ? `${this.req.name} (unique ${this.req.unique})` : 'no request';
  }

  deliver(req: ExternalRequest, mirrors: Record<string, string>): ExternalEvent[] {
    if (this.dead) return [{ t: 'fail', message: this.dead }];
    // the model's side of each mirrored file (passthrough writes) reaches the real file first
    for (const [name, data] of Object.entries(mirrors)) {
      const path = this.real.get(name);
      if (path !== undefined && this.known.get(name) !== data) {
        writeFileSync(path, data, 'latin1');
        this.known.set(name, data);
      }
    }
    this.req = req;
    this.owed = req.owed;
    return this.convert(() => this.server.deliver(req.bytes, req.owed, this.o.quietMs, this.o.timeoutMs));
  }

  answer(ret: number): ExternalEvent[] {
    if (this.dead) return [{ t: 'fail', message: this.dead }];
    const h = this.handle;
    this.handle = undefined;
    return this.convert(() => this.server.answer(this.chan, ret, h, this.owed, this.o.quietMs, this.o.timeoutMs));
  }

  private convert(get: () => SyncEvent[]): ExternalEvent[] {
    let evs: SyncEvent[];
    try {
      evs = get();
    } catch (e) {
      return this.fail(`the bridge failed while the server served ${this.what()}: ${(e as Error).message}`);
    }
    const out: ExternalEvent[] = [];
    for (const ev of evs) {
      switch (ev.t) {
        case 'msg': {
          const unique = ev.bytes.length >= 16 ? new DataView(ev.bytes.buffer, ev.bytes.byteOffset).getBigUint64(8, true) : 0n;
          if (unique !== 0n && this.owed > 0) this.owed--;
          out.push({ t: 'reply', hex: toHex(ev.bytes) });
          break;
        }
        case 'ioctl': {
          this.chan = ev.chan;
          const e: ExternalEvent = { t: 'ioctl', cmd: ev.cmd, arg: toHex(ev.arg) };
          if (ev.file) {
            const f = ev.file;
            this.handle = f.handle;
            e.file = { kind: f.kind as never, ino: f.ino, flags: f.flags, fsName: f.fsName, path: f.path, ...(f.data !== undefined ? { data: f.data } : {}) };
            if (f.data !== undefined) {
              this.real.set(`i${f.ino}`, f.path);
              this.known.set(`i${f.ino}`, f.data);
            }
          }
          out.push(e);
          break;
        }
        case 'exit':
          out.push(...this.fail(`the server exited (${ev.signal ? `killed by ${ev.signal}` : `code ${ev.code}`}) while serving ${this.what()}${this.owed ? ', before replying' : ''}; its last output:\n${ev.stderrTail.trimEnd() || '(none)'}`));
          break;
        case 'timeout':
          out.push(...this.fail(`the server did not reply to ${this.what()} within ${this.o.timeoutMs} ms (hung?)`));
          break;
      }
    }
    // the server's own writes to its files (WRITE, SETATTR's truncate) reach the model's copy
    const data: ExternalEvent[] = [];
    for (const [name, path] of this.real) {
      let now: string;
      try {
        now = readFileSync(path, 'latin1');
      } catch {
        continue;
      }
      if (now !== this.known.get(name)) {
        this.known.set(name, now);
        data.push({ t: 'data', name, data: now });
      }
    }
    return [...data, ...out];
  }

  private fail(message: string): ExternalEvent[] {
    this.dead = message;
    return [{ t: 'fail', message }];
  }
}
