// The context of one atomic step: the world, the running task, and the record of what changed.
// Every mutation of shared kernel state goes through here so that the trace sees it.
import type { Effect, EffectKind, StepRecord } from './effects.ts';
import type { HeapObj, HeapType, OpResult, Proc, Ptr, Task, World } from './state.ts';
import type { Violation, ViolationKind } from './lib/violation.ts';
import { errnoName } from './lib/errno.ts';
import type { MutantName } from './mutants.ts';
import { profileOf, type Profile } from './profile.ts';

/** Objects that lookups find under rcu_read_lock without a reference: freed only via RCU. */
const RCU_PUBLISHED = new Set<HeapType>(['fuse_backing']);

type ObjOf<T extends HeapType> = Extract<HeapObj, { type: T }>;

export class Ctx {
  readonly effects: Effect[] = [];
  readonly where: string[] = [];
  fn = '';
  /** read data returned by the op in progress (read(2)) */
  data: string | undefined;
  private doneRec: StepRecord['done'];
  readonly profile: Profile;
  /** the running task's process: fd table, creds, variables */
  readonly p: Proc;

  constructor(
    readonly w: World,
    readonly t: Task,
    readonly record: boolean,
  ) {
    this.profile = profileOf(w.profile);
    const p = w.procs[t.proc];
    if (!p) throw new Error(`task ${t.name} has no process ${t.proc}`);
    this.p = p;
  }

  enter(fn: string, pc: string) {
    this.fn = fn;
    if (this.record) this.where.push(pc === 'start' ? fn : `${fn}:${pc}`);
  }

  emit(k: EffectKind, text: string) {
    if (this.record) this.effects.push({ k, text });
  }

  mutant(id: MutantName): boolean {
    return this.w.mutants.length > 0 && this.w.mutants.includes(id);
  }

  violate(kind: ViolationKind, message: string, object?: string) {
    const v: Violation = { kind, message, step: this.w.step, task: this.t.name, fn: this.fn };
    if (object !== undefined) v.object = object;
    if (this.w.violations.some((x) => x.kind === kind && x.message === message)) return;
    this.w.violations.push(v);
    if (this.record) this.emit('note', `VIOLATION ${kind}: ${message}`);
  }

  // --- the heap: the model's KASAN -------------------------------------------------

  alloc<T extends HeapObj>(obj: Omit<T, 'ptr' | 'life'>): T {
    const ptr = this.w.nextPtr++;
    const o = { ...obj, ptr, life: 'live' } as T;
    this.w.heap[ptr] = o;
    if (this.record) this.emit('alloc', `alloc ${name(o)}`);
    return o;
  }

  /**
   * Dereference a pointer. Reading freed memory is a use-after-free (KASAN would report it);
   * the model goes on with the stale contents so the trace shows what happens next.
   */
  deref<T extends HeapType>(ptr: Ptr, type: T): ObjOf<T> {
    const o = this.w.heap[ptr];
    if (!o) throw new Error(`${this.fn}: wild pointer ${ptr} (model bug)`);
    if (o.type !== type) throw new Error(`${this.fn}: ${name(o)} is not a ${type} (model bug)`);
    if (o.life === 'freed') {
      this.violate('use-after-free', `${this.fn} dereferences ${name(o)}, which was already freed`, name(o));
    }
    return o as ObjOf<T>;
  }

  /** kfree(): immediate free. A second free is a double free. */
  kfree(ptr: Ptr) {
    const o = this.w.heap[ptr];
    if (!o) throw new Error(`kfree of wild pointer ${ptr}`);
    if (o.life === 'freed' || o.life === 'rcu-pending') {
      this.violate('double-free', `${this.fn} frees ${name(o)} a second time`, name(o));
      return;
    }
    o.life = 'freed';
    if (this.record) this.emit('free', `kfree ${name(o)}`);
    if (RCU_PUBLISHED.has(o.type)) {
      this.violate('rcu-early-free', `${name(o)} is found by RCU lookups but was freed without a grace period`, name(o));
    }
  }

  /** kfree_rcu(): memory stays valid until a grace period that starts after this call ends. */
  kfreeRcu(ptr: Ptr, what: 'kfree' | 'free_inode' = 'kfree') {
    const o = this.w.heap[ptr];
    if (!o) throw new Error(`kfree_rcu of wild pointer ${ptr}`);
    if (o.life !== 'live') {
      this.violate('double-free', `${this.fn} frees ${name(o)} a second time`, name(o));
      return;
    }
    o.life = 'rcu-pending';
    const rcu = this.w.rcu;
    // A callback queued while a grace period runs must wait for the next one: that one may
    // already have readers that saw the object before it became unreachable.
    const gp = rcu.current ? rcu.current.gp + 1 : rcu.completed + 1;
    rcu.callbacks.push({ ptr, gp, what });
    if (this.record) this.emit('rcu', `${what === 'kfree' ? 'kfree_rcu' : 'call_rcu'} ${name(o)}: freed after grace period ${gp}`);
  }

  // --- results --------------------------------------------------------------------

  opResult(index: number, op: string, v: number): OpResult {
    const r: OpResult = { op: index, name: op, ret: v < 0 ? errnoName(v) : v };
    if (this.data !== undefined) r.data = this.data;
    this.t.results.push(r);
    return r;
  }

  opDone(r: OpResult) {
    this.doneRec = { op: r.op, name: r.name, ret: r.ret };
    if (this.record) this.emit('note', `${r.name} returns ${r.ret}${r.data !== undefined ? ` ${JSON.stringify(r.data)}` : ''}`);
  }

  finish(): StepRecord {
    const rec: StepRecord = { step: this.w.step, task: this.t.name, where: this.where, effects: this.effects };
    if (this.doneRec) rec.done = this.doneRec;
    return rec;
  }

  // --- in-flight references, for the refcount-owner invariant ------------------------

  /** This task now holds a reference of its own to ptr (e.g. a lookup's get). */
  own(ptr: Ptr) {
    this.t.refs.push(ptr);
  }

  /** This task's reference to ptr was handed over or dropped. */
  disown(ptr: Ptr) {
    const i = this.t.refs.indexOf(ptr);
    if (i >= 0) this.t.refs.splice(i, 1);
  }
}

export function name(o: HeapObj): string {
  return `${o.type}#${o.ptr}`;
}

export function ptrName(w: World, p: Ptr): string {
  if (p === 0) return 'NULL';
  if (p < 0) return `ERR_PTR(-${errnoName(p)})`;
  const o = w.heap[p];
  return o ? name(o) : `?#${p}`;
}
