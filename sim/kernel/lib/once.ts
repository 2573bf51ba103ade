// include/asm-generic/rwonce.h and atomic xchg() on pointer fields, made visible in the trace.
import type { Ctx } from '../ctx.ts';
import { name, ptrName } from '../ctx.ts';
import type { HeapObj, Ptr } from '../state.ts';

type PtrField<O> = { [K in keyof O]: O[K] extends Ptr ? K : never }[keyof O] & string;

/** READ_ONCE(o->field) */
export function READ_ONCE<O extends HeapObj>(_c: Ctx, o: O, field: PtrField<O>): Ptr {
  return o[field] as Ptr;
}

/** xchg(&o->field, v): store and return the old value in one atomic operation. */
export function xchg<O extends HeapObj>(c: Ctx, o: O, field: PtrField<O>, v: Ptr): Ptr {
  const old = o[field] as Ptr;
  (o as unknown as Record<string, unknown>)[field] = v;
  if (c.record) c.emit('ptr', `${name(o)}.${field} ${ptrName(c.w, old)} -> ${ptrName(c.w, v)} (xchg)`);
  return old;
}

/** A plain store (WRITE_ONCE or an ordinary assignment): the old value is not returned. */
export function store<O extends HeapObj>(c: Ctx, o: O, field: PtrField<O>, v: Ptr) {
  const old = o[field] as Ptr;
  (o as unknown as Record<string, unknown>)[field] = v;
  if (c.record) c.emit('ptr', `${name(o)}.${field} ${ptrName(c.w, old)} -> ${ptrName(c.w, v)} (store)`);
}

/** Set a non-pointer field and say so. */
export function setField<O extends HeapObj, K extends keyof O & string>(c: Ctx, o: O, field: K, v: O[K]) {
  const old = o[field];
  if (old === v) return;
  o[field] = v;
  if (c.record) c.emit('field', `${name(o)}.${field} ${String(old)} -> ${String(v)}`);
}
