// A minimal hand-rolled FUSE server over RealFuseTransport: a root directory
// holding one regular file "f". It answers INIT, LOOKUP, GETATTR, OPEN (as
// the caller decides, e.g. FOPEN_PASSTHROUGH with a backing id), READ and
// WRITE (from an in-memory copy), RELEASE, FLUSH; ENOSYS for the rest. Used
// by the probe and the oracle tests; not a model of anything.
import type { RealFuseTransport } from './transport.ts';
import {
  InitFlag,
  Op,
  S_IFDIR,
  S_IFREG,
  isNoReply,
  opName,
  parseInitIn,
  parseName,
  parseOpenIn,
  parseReadIn,
  parseRequest,
  parseWriteIn,
  replyAttr,
  replyData,
  replyEmpty,
  replyEntry,
  replyError,
  replyInit,
  replyOpen,
  replyWrite,
  type Attr,
  type InitIn,
} from './wire.ts';

export const ROOT_ID = 1n;
export const FILE_ID = 2n;
export const FILE_NAME = 'f';

const ENOENT = 2;
const ENOSYS = 38;

export type OpenDecision = { openFlags: number; backingId?: number } | { error: number };

export interface MiniServerOptions {
  /** INIT reply flags (default FUSE_PASSTHROUGH); INIT_EXT is added when needed */
  initFlags?: bigint;
  /** fuse_init_out.max_stack_depth (default 1) */
  maxStackDepth?: number;
  /** fuse_init_out.minor (default 40, Linux 6.9) */
  minor?: number;
  /** content of "f" as the server sees it (default "SERVER--DATA-456") */
  content?: Buffer;
  /** decides each OPEN of "f"; n counts OPENs from 0 (default: plain open) */
  onOpen?: (n: number) => OpenDecision;
}

export interface LoggedRequest {
  op: string;
  opcode: number;
  nodeid: bigint;
  unique: bigint;
}

export class MiniServer {
  readonly log: LoggedRequest[] = [];
  /** the kernel's INIT request, once it has been answered */
  readonly init: Promise<InitIn>;
  /** resolves when the transport closes */
  readonly done: Promise<void>;
  content: Buffer;
  /** decides each OPEN of "f" (n counts OPENs from 0); replaceable at any time */
  onOpen: (n: number) => OpenDecision;
  private opens = 0;
  private resolveInit!: (i: InitIn) => void;
  private readonly t: RealFuseTransport;
  private readonly opts: MiniServerOptions;

  constructor(t: RealFuseTransport, opts: MiniServerOptions = {}) {
    this.t = t;
    this.opts = opts;
    this.content = Buffer.from(opts.content ?? Buffer.from('SERVER--DATA-456'));
    this.onOpen = opts.onOpen ?? (() => ({ openFlags: 0 }));
    this.init = new Promise<InitIn>((r) => (this.resolveInit = r));
    this.done = this.loop();
  }

  /** How many requests with this opcode arrived so far. */
  count(opcode: number): number {
    return this.log.filter((r) => r.opcode === opcode).length;
  }

  private async loop(): Promise<void> {
    for (;;) {
      let bytes: Uint8Array;
      try {
        bytes = await this.t.nextRequest();
      } catch {
        return; // transport closed
      }
      try {
        this.handle(bytes);
      } catch (e) {
        // a malformed request must not kill the server; answer EIO if possible
        process.stderr.write(`MiniServer: ${(e as Error).message}\n`);
        try {
          this.t.reply(replyError(parseRequest(bytes).header.unique, 5));
        } catch {
          // not even a header: nothing to answer
        }
      }
    }
  }

  private attr(nodeid: bigint): Attr | undefined {
    if (nodeid === ROOT_ID) return { ino: ROOT_ID, size: 0n, mode: S_IFDIR | 0o755, nlink: 2 };
    if (nodeid === FILE_ID) return { ino: FILE_ID, size: BigInt(this.content.length), mode: S_IFREG | 0o644 };
    return undefined;
  }

  private handle(bytes: Uint8Array): void {
    const { header: h, body } = parseRequest(bytes);
    this.log.push({ op: opName(h.opcode), opcode: h.opcode, nodeid: h.nodeid, unique: h.unique });
    if (isNoReply(h.opcode)) return;
    const u = h.unique;
    const reply = (b: Uint8Array) => this.t.reply(b);
    switch (h.opcode) {
      case Op.INIT: {
        const init = parseInitIn(body);
        reply(
          replyInit(u, {
            minor: this.opts.minor,
            maxReadahead: init.maxReadahead,
            flags: this.opts.initFlags ?? InitFlag.PASSTHROUGH,
            maxStackDepth: this.opts.maxStackDepth ?? 1,
          }),
        );
        this.resolveInit(init);
        return;
      }
      case Op.LOOKUP: {
        if (h.nodeid === ROOT_ID && parseName(body) === FILE_NAME) reply(replyEntry(u, FILE_ID, this.attr(FILE_ID)!));
        else reply(replyError(u, ENOENT));
        return;
      }
      case Op.GETATTR: {
        const a = this.attr(h.nodeid);
        reply(a ? replyAttr(u, a) : replyError(u, ENOENT));
        return;
      }
      case Op.OPEN: {
        parseOpenIn(body);
        const d = this.onOpen(this.opens++);
        if ('error' in d) reply(replyError(u, d.error));
        else reply(replyOpen(u, BigInt(this.opens), d.openFlags, d.backingId ?? 0));
        return;
      }
      case Op.READ: {
        const r = parseReadIn(body);
        const off = Number(r.offset);
        reply(replyData(u, this.content.subarray(Math.min(off, this.content.length), off + r.size)));
        return;
      }
      case Op.WRITE: {
        const w = parseWriteIn(body);
        const end = Number(w.offset) + w.data.length;
        if (end > this.content.length) this.content = Buffer.concat([this.content, Buffer.alloc(end - this.content.length)]);
        w.data.copy(this.content, Number(w.offset));
        reply(replyWrite(u, w.data.length));
        return;
      }
      case Op.RELEASE:
      case Op.FLUSH:
      case Op.DESTROY:
        reply(replyEmpty(u));
        return;
      default:
        reply(replyError(u, ENOSYS));
    }
  }
}
