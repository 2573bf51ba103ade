// The step function: advances one task by one atomic step.
//
// A kernel function is a table of labelled steps. A step runs without preemption and says
// where to go next: on at once (goto, call, tail, ret: no preemption point), or at a
// preemption point (yield: the scheduler may now run another task), or to sleep (block).
// Frames are plain data, so a world between two steps can be cloned, hashed and resumed.
//
// Kernel functions call each other through typed handles: `kfunc` returns a KFunc<A>, and
// `call(fn, args, ...)` checks args against A, the function's arguments (its frame's
// locals are A plus whatever it keeps across steps). A frame names its function by the
// handle's name, so the world stays plain data.
import type { Task, WaitCond, World } from './state.ts';
import type { StepRecord } from './effects.ts';
import { Ctx } from './ctx.ts';
import { rcuCanAdvance } from './lib/rcu.ts';
import { d_in_lookup, dir_lock_holders } from './lib/in_lookup.ts';

export type Next =
  | { k: 'goto'; pc: string }
  | { k: 'yield'; pc: string }
  | { k: 'call'; fn: string; args: object; ret: string; into: string | null }
  | { k: 'tail'; fn: string; args: object }
  | { k: 'ret'; v: number }
  | { k: 'block'; on: WaitCond; pc: string };

export type StepFn<L> = (c: Ctx, l: L) => Next;

/** A modelled function: its steps, and (as a type only) the arguments a call must give it. */
export interface KFunc<A extends object = object> {
  readonly name: string;
  /** the kernel (or libfuse) source it mirrors, e.g. "fs/fuse/backing.c" */
  readonly src: string;
  readonly steps: Readonly<Record<string, StepFn<any>>>;
  /** never set: carries A for call() */
  readonly __args?: (a: A) => void;
}

const registry = new Map<string, KFunc>();

/**
 * Define a modelled function. A is what callers pass; L (A plus the locals it keeps across
 * steps) is its frame. `start` is its entry step.
 */
export function kfunc<A extends object, L extends A = A>(
  name: string,
  src: string,
  steps: { start: StepFn<L> } & Record<string, StepFn<L>>,
): KFunc<A> {
  if (registry.has(name)) throw new Error(`kfunc ${name} defined twice`);
  const f: KFunc<A> = { name, src, steps };
  registry.set(name, f as KFunc);
  return f;
}

export function lookupKFunc(name: string): KFunc | undefined {
  return registry.get(name);
}

// --- entry points -----------------------------------------------------------------------

/**
 * The model's syscall table: what an op of a task's program starts. An op names its entry
 * ("open", "ioctl", "abort", ...), and the entry is whichever kernel function serves it:
 * the VFS's for syscalls, a filesystem's for its own control files (fuse's abort file), the
 * harness's for mounting and model-only checks.
 */
const entries = new Map<string, KFunc>();

export function entry<A extends object>(op: string, fn: KFunc<A>): KFunc<A> {
  if (entries.has(op)) throw new Error(`entry ${op} defined twice`);
  entries.set(op, fn as KFunc);
  return fn;
}

export function entryOf(op: string): KFunc | undefined {
  return entries.get(op);
}

// --- control transfers --------------------------------------------------------------------

export const goto = (pc: string): Next => ({ k: 'goto', pc });
/** A preemption point: the step ends here and the next one starts at pc. */
export const preempt = (pc: string): Next => ({ k: 'yield', pc });
/** Call fn; its return value goes into the local `into` and this function goes on at `ret`. */
export function call<A extends object>(fn: KFunc<A>, args: NoInfer<A>, ret: string, into: string | null = null): Next {
  return { k: 'call', fn: fn.name, args, ret, into };
}
/** A tail call: fn takes this function's place and returns straight to its caller. */
export function tail<A extends object>(fn: KFunc<A>, args: NoInfer<A>): Next {
  return { k: 'tail', fn: fn.name, args };
}
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
      for (const a of fc.answered) if (a.unique === on.unique) return true;
      return !isPending(fc, on.unique);
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
    case 'fud': {
      // wait_event_interruptible: the condition, or a signal (the waiter's own task is not
      // known here: every task waiting on this file is woken by its own signal, see taskRunnable)
      const f = w.heap[on.file];
      return !f || f.type !== 'file' || f.life !== 'live' || !f.devSyncInit;
    }
    case 'task': {
      const t = w.tasks.find((x) => x.name === on.task);
      return !t || t.done || t.results.length >= on.ops;
    }
    case 'in_lookup': {
      const sb = w.sbs[on.sb];
      return !sb || !d_in_lookup(w, sb, on.name);
    }
    case 'i_rwsem': {
      const sb = w.sbs[on.sb];
      return !sb || dir_lock_holders(w, sb, on.task, on.write).length === 0;
    }
    case 'file_lock': {
      // fs/locks.c: list_empty(&fl->c.flc_blocked_member), or a fatal signal (interruptible)
      const fl = w.heap[on.fl];
      if (!fl || fl.type !== 'file_lock' || fl.life !== 'live' || fl.blocker === 0) return true;
      return w.tasks.some((t) => t.name === on.task && t.killed);
    }
    case 'folio': {
      // folio_lock: the task that locked the folio for ->read_folio unlocked it
      const fi = w.heap[on.inode];
      if (!fi || fi.type !== 'fuse_inode' || fi.life !== 'live') return true;
      return !(fi.locked ?? []).includes(on.index);
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
  for (const r of fc.pending) if (r.unique === unique) return true;
  for (const r of fc.processing) if (r.unique === unique) return true;
  return false;
}

/** Waits a pending signal ends (wait_event_interruptible and friends): the sleeper returns -EINTR. */
const INTERRUPTIBLE = new Set<WaitCond['on']>(['fud']);

export function taskRunnable(w: World, t: Task): boolean {
  if (t.done) return false;
  if (t.blocked && !waitSatisfied(w, t.blocked) && !(t.sigpending && INTERRUPTIBLE.has(t.blocked.on))) return false;
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
      case 'block': {
        f.pc = n.pc;
        t.blocked = n.on;
        const rec = c.finish();
        rec.blocked = n.on.on;
        return rec;
      }
      case 'call':
        f.pc = n.ret;
        t.frames.push({ fn: n.fn, pc: 'start', l: { ...n.args }, into: n.into, ret: n.ret });
        continue;
      case 'tail':
        t.frames[t.frames.length - 1] = { fn: n.fn, pc: 'start', l: { ...n.args }, into: f.into, ret: f.ret };
        continue;
      case 'ret': {
        t.frames.pop();
        const caller = t.frames[t.frames.length - 1];
        if (!caller) {
          if (t.taskWork?.length) {
            // on the way back to userspace: the task_work queued during the syscall runs next,
            // in a step of its own (a preemption point: another CPU may act in between)
            t.frames.push({ fn: task_work_run.name, pc: 'start', l: { v: n.v }, into: null, ret: null });
            return c.finish();
          }
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

/**
 * task_work_add(current, work): fn(args) runs on the way back to userspace, after the syscall
 * that queued it (fput's __fput and the mount's last mntput run so in the kernel).
 */
export function task_work_add<A extends object>(c: Ctx, fn: KFunc<A>, args: A) {
  (c.t.taskWork ??= []).push({ fn: fn.name, args: { ...args } as Record<string, unknown> });
  if (c.record) c.emit('note', `${c.t.name}: task_work_add(${fn.name})`);
}

/** kernel/task_work.c: task_work_run: each queued work in turn; then the syscall returns v. */
const task_work_run = kfunc<{ v: number }>('task_work_run', 'kernel/task_work.c', {
  start(c, l) {
    const work = c.t.taskWork?.shift();
    if (!work) {
      delete c.t.taskWork;
      return ret(l.v);
    }
    return { k: 'call', fn: work.fn, args: work.args, ret: 'start', into: null };
  },
});

function startOp(c: Ctx, t: Task) {
  const op = t.ops[t.next] as Op;
  const fn = entries.get(op.sys);
  if (!fn) throw new Error(`no entry point for op ${op.sys} (model bug)`);
  const l: Record<string, unknown> = {};
  for (const k of Object.keys(op.args)) l[k] = resolveArg(c, op.args[k]);
  t.frames.push({ fn: fn.name, pc: 'start', l, into: null, ret: null });
}

/** "$name" arguments name a value an earlier op saved in this process; -1 if never saved. */
function resolveArg(c: Ctx, v: unknown): unknown {
  if (typeof v !== 'string' || !v.startsWith('$')) return v;
  const saved = c.p.vars[v.slice(1)];
  if (saved === undefined) {
    if (c.record) c.emit('note', `${v} was never saved (its op failed?): using -1`);
    return -1;
  }
  return saved;
}

function finishOp(c: Ctx, t: Task, v: number) {
  // back in userspace: a pending signal's handler runs now
  delete t.sigpending;
  const op = t.ops[t.next] as Op;
  if (t.killed) {
    // SIGKILL: the syscall unwound, but nothing returns to userspace, and the process is gone
    if (c.record) c.emit('note', `${op.sys} ends (${v}) in a killed task: no result, no more ops`);
    t.next = t.ops.length;
    t.done = true;
    return;
  }
  const r = c.opResult(t.next, op.sys, v);
  if (op.save && v >= 0) c.p.vars[op.save] = v;
  t.next++;
  if (t.next >= t.ops.length) t.done = true;
  c.opDone(r);
}
