// The scenario's model-only ops: "assert", a check of kernel state at a point in a task's
// program (a failed assertion is an 'outcome' violation), and "wait", an ordering.
import { block, entry, kfunc, ret } from '../kernel/exec.ts';
import { resolvePath } from '../kernel/vfs/namei.ts';
import { idr_ids } from '../kernel/lib/idr.ts';
import type { Ctx } from '../kernel/ctx.ts';
import type { FuseConnObj } from '../kernel/state.ts';

export interface AssertArgs {
  inode?: string;
  fb?: 'null' | 'set' | number;
  iocachectr?: number;
  fs?: string;
  backing_ids?: number[];
  id?: number;
  count?: number;
  passthrough?: boolean;
  max_stack_depth?: number;
}

function fail(c: Ctx, what: string) {
  c.violate('outcome', `assert: ${what}`);
}

function connOf(c: Ctx, fs: string): FuseConnObj | null {
  const sb = c.w.sbs.find((s) => s.name === fs);
  return sb && sb.kind === 'fuse' ? (c.w.heap[sb.conn] as FuseConnObj) : null;
}

entry(
  'assert',
  kfunc<AssertArgs>('sys_assert', 'fpsim (model-only check)', {
    start(c, a) {
      if (a.inode !== undefined) {
        const r = resolvePath(c.w, a.inode);
        const p = r && r.sb.kind === 'fuse' ? r.sb.inodes[r.name] : undefined;
        if (p === undefined) fail(c, `${a.inode} has no FUSE inode in the cache`);
        else {
          const fi = c.w.heap[p]!;
          if (fi.type !== 'fuse_inode') throw new Error('model bug');
          if (a.fb !== undefined) {
            const fc = r!.sb.kind === 'fuse' ? (c.w.heap[r!.sb.conn] as FuseConnObj) : null;
            const idOf = fc ? idr_ids(fc.idr).find((id) => fc.idr.entries[id] === fi.fb) : undefined;
            const ok = a.fb === 'null' ? fi.fb === 0 : a.fb === 'set' ? fi.fb !== 0 : fi.fb !== 0 && idOf === a.fb;
            if (!ok) fail(c, `${a.inode}: fi->fb is ${fi.fb ? `fuse_backing#${fi.fb}${idOf ? ` (id ${idOf})` : ''}` : 'NULL'}, expected ${a.fb}`);
          }
          if (a.iocachectr !== undefined && fi.iocachectr !== a.iocachectr) {
            fail(c, `${a.inode}: iocachectr is ${fi.iocachectr}, expected ${a.iocachectr}`);
          }
        }
      }
      if (a.fs !== undefined) {
        const fc = connOf(c, a.fs);
        if (!fc) fail(c, `${a.fs} is not a FUSE mount`);
        else {
          const ids = idr_ids(fc.idr);
          if (a.backing_ids && JSON.stringify(ids) !== JSON.stringify(a.backing_ids)) {
            fail(c, `${a.fs}: backing ids are [${ids.join(', ')}], expected [${a.backing_ids.join(', ')}]`);
          }
          if (a.id !== undefined && a.count !== undefined) {
            const fb = fc.idr.entries[a.id];
            const o = fb ? c.w.heap[fb] : undefined;
            const count = o && o.type === 'fuse_backing' ? o.count : undefined;
            if (count !== a.count) fail(c, `${a.fs}: backing id ${a.id} has count ${count ?? '(no such id)'}, expected ${a.count}`);
          }
          if (a.passthrough !== undefined && fc.passthrough !== a.passthrough) {
            fail(c, `${a.fs}: fc->passthrough is ${fc.passthrough}, expected ${a.passthrough}`);
          }
          if (a.max_stack_depth !== undefined && fc.maxStackDepth !== a.max_stack_depth) {
            fail(c, `${a.fs}: fc->max_stack_depth is ${fc.maxStackDepth}, expected ${a.max_stack_depth}`);
          }
        }
      }
      return ret(0);
    },
  }),
);

/** The scenario's "wait" op: sleep until another task has finished `ops` of its ops. */
entry(
  'wait',
  kfunc<{ task: string; ops: number }>('sys_wait', 'fpsim (model-only ordering)', {
    start(c, l) {
      const t = c.w.tasks.find((x) => x.name === l.task);
      if (!t || t.done || t.results.length >= l.ops) return ret(0);
      return block({ on: 'task', task: l.task, ops: l.ops }, 'start');
    },
  }),
);
