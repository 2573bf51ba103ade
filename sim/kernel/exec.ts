// The step function: advances one task by one atomic step.
//
// A kernel function is a table of labelled steps. A step runs without preemption and says
// where to go next: on at once (goto, call, ret: no preemption point), or at a preemption
// point (yield: the scheduler may now run another task), or to sleep (block). Frames are
// plain data, so a world between two steps can be cloned, hashed and resumed.
import type { Frame, Task, WaitCond, World } from './state.ts';
import type { StepRecord } from './effects.ts';
import { Ctx } from './ctx.ts';
import { rcuCanAdvance } from './lib/rcu.ts';

export type Next =
  | { k: 'goto'; pc: string }
  | { k: 'yield'; pc: string }
  | { k: 'call'; fn: string; args: Record<string, unknown>; ret: string; into: string | null }
  | { k: 'ret'; v: number }
  | { k: 'block'; on: WaitCond; pc: string };

export type StepFn<L> = (c: Ctx, l: L) => Next;

export interface KFunc {
  name: string;
  /** the kernel (or libfuse) source it mirrors, e.g. "fs/fuse/backing.c" */
  src: string;
  steps: Record<string, StepFn<any>>;
}

const registry = new Map<string, KFunc>();

/** Define a modelled function. `start` is its entry step. */
export function kfunc<L extends object>(
  name: string,
  src: string,
  steps: { start: StepFn<L> } & Record<string, StepFn<L>>,
): KFunc {
  if (registry.has(name)) throw new Error(`kfunc ${name} defined twice`);
  const f: KFunc = { name, src, steps };
  registry.set(name, f);
  return f;
}

export function lookupKFunc(name: string): KFunc | undefined {
  return registry.get(name);
}

export const goto = (pc: string): Next => ({ k: 'goto', pc });
/** A preemption point: the step ends here and the next one starts at pc. */
export const preempt = (pc: string): Next => ({ k: 'yield', pc });
export const call = (fn: string, args: Record<string, unknown>, ret: string, into: string | null = null): Next => ({
  k: 'call',
  fn,
  args,
  ret,
  into,
});
export const ret = (v: number): Next => ({ k: 'ret', v });
export const block = (on: WaitCond, pc: string): Next => ({ k: 'block', on, pc });

/** An op of a task's program: a syscall (user) or a server action, with its arguments. */
export interface Op {
  sys: string;
  args: Record<string, unknown>;
  /** save the result under this name in task.vars (e.g. a backing id or an fd) */
  save?: string;
}

/** How many control transfers one atomic step may make before we call it a livelock. */
const MAX_TRANSFERS = 10_000;

export function waitSatisfied(w: World, on: WaitCond): boolean {
  switch (on.on) {
    case 'answer': {
      const fc = w.heap[on.conn];
      if (!fc || fc.type !== 'fuse_conn') return true;
      return fc.answered.some((a) => a.unique === on.unique) || !isPending(fc, on.unique);
    }
    case 'request': {
      const fc = w.heap[on.conn];
      if (!fc || fc.type !== 'fuse_conn') return true;
      return fc.pending.length > 0 || !fc.connected;
    }
    case 'initialized': {
      const fc = w.heap[on.conn];
      if (!fc || fc.type !== 'fuse_conn') return true;
      return fc.initialized || !fc.connected;
    }
    case 'rcu':
      return rcuCanAdvance(w);
    case 'task': {
      const t = w.tasks.find((x) => x.name === on.task);
      return !t || t.done || t.results.length >= on.ops;
    }
    case 'iocache': {
      // fs/fuse/iomode.c: fuse_is_io_cache_wait() no longer true
      const fi = w.heap[on.inode];
      if (!fi || fi.type !== 'fuse_inode') return true;
      return !(fi.iocachectr < 0 && fi.fb === 0);
    }
  }
}

function isPending(fc: { pending: { unique: number }[]; processing: { unique: number }[] }, unique: number) {
  return fc.pending.some((r) => r.unique === unique) || fc.processing.some((r) => r.unique === unique);
}

export function taskRunnable(w: World, t: Task): boolean {
  if (t.done) return false;
  if (t.blocked && !waitSatisfied(w, t.blocked)) return false;
  return t.frames.length > 0 || t.next < t.ops.length;
}

/** Advance task `name` by one atomic step. The caller checks taskRunnable first. */
export function stepTask(w: World, name: string, record: boolean): StepRecord {
  const t = w.tasks.find((x) => x.name === name);
  if (!t) throw new Error(`no task ${name}`);
  w.step++;
  const c = new Ctx(w, t, record);
  t.blocked = null;
  if (t.frames.length === 0) startOp(c, t);
  for (let i = 0; i < MAX_TRANSFERS; i++) {
    const f = t.frames[t.frames.length - 1]!;
    const kf = registry.get(f.fn);
    if (!kf) throw new Error(`unknown kernel function ${f.fn}`);
    const s = kf.steps[f.pc];
    if (!s) throw new Error(`${f.fn} has no step ${f.pc}`);
    c.enter(f.fn, f.pc);
    const n = s(c, f.l);
    switch (n.k) {
      case 'goto':
        f.pc = n.pc;
        continue;
      case 'yield':
        f.pc = n.pc;
        return c.finish();
      case 'block':
        f.pc = n.pc;
        t.blocked = n.on;
        return c.finish();
      case 'call': {
        f.pc = n.ret;
        const callee: Frame = { fn: n.fn, pc: 'start', l: { ...n.args }, into: n.into, ret: n.ret };
        t.frames.push(callee);
        continue;
      }
      case 'ret': {
        t.frames.pop();
        const caller = t.frames[t.frames.length - 1];
        if (!caller) {
          finishOp(c, t, n.v);
          return c.finish();
        }
        if (f.into) caller.l[f.into] = n.v;
        continue;
      }
    }
  }
  throw new Error(`task ${name} made ${MAX_TRANSFERS} transfers in one step: a loop without a preemption point`);
}

function startOp(c: Ctx, t: Task) {
  const op = t.ops[t.next] as Op;
  const l: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(op.args)) l[k] = resolveArg(c, v);
  t.frames.push({ fn: `sys_${op.sys}`, pc: 'start', l, into: null, ret: null });
}

/** "$name" arguments name a value an earlier op saved in this process; -1 if never saved. */
function resolveArg(c: Ctx, v: unknown): unknown {
  if (typeof v !== 'string' || !v.startsWith('$')) return v;
  const saved = c.p.vars[v.slice(1)];
  if (saved === undefined) {
    c.emit('note', `${v} was never saved (its op failed?): using -1`);
    return -1;
  }
  return saved;
}

function finishOp(c: Ctx, t: Task, v: number) {
  const op = t.ops[t.next] as Op;
  const r = c.opResult(t.next, op.sys, v);
  if (op.save && v >= 0) c.p.vars[op.save] = v;
  t.next++;
  if (t.next >= t.ops.length) t.done = true;
  c.opDone(r);
}
