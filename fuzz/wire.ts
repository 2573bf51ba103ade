// The server side of the wire, fuzzed: a world runs a small scenario (passthrough and
// direct-io files: INIT, LOOKUP, OPEN, READ, WRITE, GETATTR, FLUSH, RELEASE); at the first
// request of a chosen opcode the fuzzer takes the server's place, writes a byte-mutated copy
// of the reply the server would have sent to the model kernel's fuse_dev_write, and lets the
// world run on (the waiting syscall consumes what was accepted), then tears it down. The
// kernel's answer to a malformed reply is an errno (fuse_dev_do_write: EINVAL for a bad
// length, error value or body size, ENOENT for an unknown unique); anything thrown is a crash.
import { buildWorld } from '../sim/scenario/build.ts';
import { stepTask, taskRunnable } from '../sim/kernel/exec.ts';
import { Ctx } from '../sim/kernel/ctx.ts';
import { fuse_dev_write } from '../sim/kernel/fuse/dev.ts';
import { fromHex } from '../sim/kernel/fuse/hex.ts';
import type { FuseConnObj, World } from '../sim/kernel/state.ts';
import { ScenarioSchema, type Scenario } from '../sim/scenario/schema.ts';
import { initReply } from '../sim/server/core.ts';
import { teardown } from '../sim/scenario/run.ts';
import { serverOf } from '../sim/server/state.ts';
import { encodeReply } from '../sim/wire/messages.ts';
import { FUSE_OPCODE, opcodeName } from '../sim/wire/uapi.ts';

const WIRE_SCENARIO: Scenario = ScenarioSchema.parse({
  name: 'wire-fuzz',
  filesystems: [
    { name: 'lower', type: 'plain', files: { data: 'hello, backing file' } },
    {
      name: 'fuse',
      type: 'fuse',
      server: { files: { f: { backing: '/lower/data' }, g: { data: 'server data', open: { mode: 'reply', flags: ['DIRECT_IO'] } } } },
    },
  ],
  tasks: [
    {
      name: 'user',
      ops: [
        { op: 'open', path: '/fuse/f', mode: 'rw', save: 'pt' },
        { op: 'read', fd: '$pt', n: 5 },
        { op: 'open', path: '/fuse/g', mode: 'rw', save: 'dio' },
        { op: 'read', fd: '$dio', n: 6 },
        { op: 'write', fd: '$dio', data: 'xy', offset: 1 },
        { op: 'stat', path: '/fuse/g' },
        { op: 'close', fd: '$dio' },
        { op: 'close', fd: '$pt' },
      ],
    },
  ],
});

/** The opcodes the scenario sends, whose replies can be fuzzed. */
export const WIRE_OPCODES = ['INIT', 'LOOKUP', 'OPEN', 'READ', 'WRITE', 'GETATTR', 'FLUSH', 'RELEASE'] as const;
export type WireOpcode = (typeof WIRE_OPCODES)[number];

export type ByteMutation =
  | { k: 'flip'; pos: number; val: number }
  | { k: 'truncate'; len: number }
  | { k: 'extend'; bytes: number[] }
  | { k: 'len'; val: number }
  | { k: 'error'; val: number }
  | { k: 'unique'; val: number };

export function mutateBytes(valid: Uint8Array, muts: readonly ByteMutation[]): Uint8Array {
  let b = Uint8Array.from(valid);
  const dv = () => new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (const m of muts) {
    switch (m.k) {
      case 'flip':
        if (b.length) b[m.pos % b.length] = m.val & 0xff;
        break;
      case 'truncate':
        b = b.subarray(0, m.len % (b.length + 1)).slice();
        break;
      case 'extend':
        b = Uint8Array.from([...b, ...m.bytes]);
        break;
      case 'len':
        if (b.length >= 4) dv().setUint32(0, m.val >>> 0, true);
        break;
      case 'error':
        if (b.length >= 8) dv().setInt32(4, m.val | 0, true);
        break;
      case 'unique':
        if (b.length >= 16) dv().setBigUint64(8, BigInt.asUintN(64, BigInt(m.val)), true);
        break;
    }
  }
  return b;
}

const conns = (w: World): FuseConnObj[] => Object.values(w.heap).filter((o): o is FuseConnObj => (o as { type?: string }).type === 'fuse_conn');

interface Recorded {
  error: number;
  body: Uint8Array;
}

/** Step the world (sequential, users added after setup) with a hook before each step. */
function drive(hook: (w: World) => void, after: (w: World) => void): World {
  const { world: w, userTasks } = buildWorld(WIRE_SCENARIO);
  let added = false;
  for (let n = 0; n < 5_000; n++) {
    if (!added && w.tasks[0]!.done) {
      w.tasks.splice(1, 0, ...userTasks);
      added = true;
    }
    hook(w);
    const t = w.tasks.find((x) => taskRunnable(w, x));
    if (!t) break;
    stepTask(w, t.name, false);
    after(w);
  }
  return w;
}

let validReplies: Map<number, Recorded> | null = null;

/** The replies the scripted server sends in this scenario, by opcode (the first of each). */
function recordValidReplies(): Map<number, Recorded> {
  const out = new Map<number, Recorded>();
  const opOf = new Map<number, number>();
  drive(
    (w) => {
      for (const fc of conns(w)) for (const r of [...fc.pending, ...fc.processing]) opOf.set(r.unique, r.opcode);
    },
    (w) => {
      for (const fc of conns(w)) {
        for (const r of [...fc.pending, ...fc.processing]) opOf.set(r.unique, r.opcode);
        for (const a of fc.answered) {
          const op = opOf.get(a.unique);
          if (op !== undefined && !out.has(op)) out.set(op, { error: a.error, body: fromHex(a.body) });
        }
      }
    },
  );
  return out;
}

export interface WireOutcome {
  /** what fuse_dev_write returned: the length (accepted) or an errno name */
  ret: string;
  /** the opcode's request was never sent (an earlier reply changed the course) */
  notReached: boolean;
}

/**
 * One case: at the first `opcode` request, write `muts` applied to the valid reply; then run
 * on and tear down. Throws what the model throws (a crash).
 */
export function wireCase(opcode: WireOpcode, muts: readonly ByteMutation[]): WireOutcome {
  validReplies ??= recordValidReplies();
  const code = FUSE_OPCODE[opcode];
  let ret: string | null = null;
  const w = drive(
    (w) => {
      if (ret !== null) return;
      for (const fc of conns(w)) {
        const i = fc.pending.findIndex((r) => r.opcode === code);
        if (i < 0) continue;
        // the server reads it (fuse_dev_do_read: pending -> processing), then we answer
        const [req] = fc.pending.splice(i, 1);
        fc.processing.push(req!);
        const srvTask = w.tasks.find((t) => t.name === `fuse-daemon:${fc.name}`)!;
        const valid =
          code === FUSE_OPCODE.INIT
            ? initReply(serverOf(w, fc.name), req!.unique).bytes
            : encodeReply(req!.unique, validReplies!.get(code)?.error ?? 0, validReplies!.get(code)?.body ?? null);
        const r = fuse_dev_write(new Ctx(w, srvTask, false), fc, mutateBytes(valid, muts));
        ret = r >= 0 ? 'accepted' : errnoName(r);
        // the server must not answer it again: it never read it
        return;
      }
    },
    () => {},
  );
  teardown(w, { record: false });
  return { ret: ret ?? '(not reached)', notReached: ret === null };
}

function errnoName(r: number): string {
  return r === -22 ? 'EINVAL' : r === -2 ? 'ENOENT' : `errno ${-r}`;
}

export { opcodeName };
