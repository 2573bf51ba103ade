// fs/fuse/dev.c: forgets wait on their own list (fuse_queue_forget) and fuse_dev_do_read serves
// them by fiq->forget_batch, not in the order they were queued among the requests. The model
// keeps them in fc.pending, told apart by opcode; these tests drive fuse_dev_read directly on a
// mounted connection, as the server's read(2) would, and read back what it hands out.
import { describe, expect, it } from 'vitest';
import { ScenarioSchema } from '../sim/scenario/schema.ts';
import { startWorld } from '../sim/scenario/run.ts';
import { Ctx } from '../sim/kernel/ctx.ts';
import type { FuseConnObj, World } from '../sim/kernel/state.ts';
import { fuse_dev_read, fuse_queue_forget, fuse_queue_request } from '../sim/kernel/fuse/dev.ts';
import { decodeRequest } from '../sim/wire/messages.ts';
import { FUSE_OPCODE } from '../sim/wire/uapi.ts';

function mounted(): { w: World; c: Ctx; fc: FuseConnObj } {
  const s = ScenarioSchema.parse({
    name: 'forget-list',
    filesystems: [{ name: 'fuse', type: 'fuse', server: { files: { f: { data: 'x' } } } }],
    tasks: [{ name: 'user', ops: [] }],
  });
  const w = startWorld(s, { record: false });
  const user = w.tasks.find((t) => t.name === 'user')!;
  const c = new Ctx(w, user, true);
  c.enter('test', 'start');
  const fc = Object.values(w.heap).find((o): o is FuseConnObj => o.type === 'fuse_conn')!;
  expect(fc.pending).toEqual([]);
  return { w, c, fc };
}

/** Read until nothing is left: "R<unique>" for a request, "F<nodeid>" / "B<count>" for forgets (with their unique). */
function drain(c: Ctx, fc: FuseConnObj): { order: string[]; uniques: number[] } {
  const order: string[] = [];
  const uniques: number[] = [];
  for (;;) {
    const r = fuse_dev_read(c, fc);
    if (typeof r === 'number') break;
    const q = decodeRequest(r);
    uniques.push(Number(q.header.unique));
    if (q.header.opcode === FUSE_OPCODE.FORGET) order.push(`F${q.header.nodeid}`);
    else if (q.header.opcode === FUSE_OPCODE.BATCH_FORGET) order.push(`B${new DataView(q.body.buffer, q.body.byteOffset).getUint32(0, true)}`);
    else order.push('R');
  }
  return { order, uniques };
}

describe('the forget list (fuse_queue_forget, fuse_dev_do_read)', () => {
  it('with requests waiting too, the first eight reads take requests, then sixteen take forgets (forget_batch)', () => {
    const { c, fc } = mounted();
    fc.minor = 15; // before 7.16: one FORGET per read, so the count shows
    for (let i = 0; i < 20; i++) fuse_queue_forget(c, fc, 100 + i, 1);
    for (let i = 0; i < 10; i++) fuse_queue_request(c, fc, FUSE_OPCODE.GETATTR, 1, new Uint8Array(16), false);
    const { order, uniques } = drain(c, fc);
    const F = (from: number, n: number) => Array.from({ length: n }, (_, i) => `F${from + i}`);
    expect(order).toEqual([...Array(8).fill('R'), ...F(100, 16), 'R', 'R', ...F(116, 4)]);
    // a forget takes its unique when it is read: after those of the requests queued before it was read
    expect(uniques.slice(0, 8)).toEqual([2, 4, 6, 8, 10, 12, 14, 16].map((u) => u + uniques[0]! - 2));
    expect(new Set(uniques).size).toBe(uniques.length);
    expect(uniques[8]).toBe(uniques[0]! + 20); // the first forget read numbered after all ten requests
    expect(fc.processing.map((r) => r.opcode)).toEqual(Array(10).fill(FUSE_OPCODE.GETATTR)); // forgets need no answer
  });

  it('with nothing else pending, forgets go at once, several as one BATCH_FORGET (7.16 on), in the order queued', () => {
    const { c, fc } = mounted();
    fuse_queue_forget(c, fc, 7, 2);
    expect(drain(c, fc).order).toEqual(['F7']);
    fuse_queue_forget(c, fc, 8, 1);
    fuse_queue_forget(c, fc, 9, 3);
    fuse_queue_request(c, fc, FUSE_OPCODE.GETATTR, 1, new Uint8Array(16), false);
    // a request is waiting: forget_batch starts at 0, so the request goes first, then the batch
    expect(drain(c, fc).order).toEqual(['R', 'B2']);
  });

  it('a forget on a dead connection is dropped', () => {
    const { c, fc } = mounted();
    fc.connected = false;
    fuse_queue_forget(c, fc, 7, 1);
    expect(fc.pending).toEqual([]);
  });
});
