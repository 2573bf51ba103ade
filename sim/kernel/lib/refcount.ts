// include/linux/refcount.h: refcount_t with the kernel's checked semantics.
// A bad operation (inc on 0, dec below 0) WARNs and saturates the counter, so the object
// is leaked rather than freed twice; the model records the warning as a violation.
import type { Ctx } from '../ctx.ts';
import { name } from '../ctx.ts';
import type { HeapObj } from '../state.ts';

/** REFCOUNT_SATURATED = INT_MIN / 2: far from 0 in both directions. */
export const REFCOUNT_SATURATED = -(2 ** 30);

type Counted = Extract<HeapObj, { count: number }>;

function change(c: Ctx, o: Counted, to: number, why: string) {
  if (c.record) c.emit('refcount', `${name(o)}.count ${fmt(o.count)} -> ${fmt(to)} (${why})`);
  o.count = to;
}

function fmt(n: number): string {
  return n === REFCOUNT_SATURATED ? 'SATURATED' : String(n);
}

function saturated(o: Counted): boolean {
  return o.count === REFCOUNT_SATURATED;
}

/** refcount_set() */
export function refcount_set(c: Ctx, o: Counted, v: number) {
  change(c, o, v, 'refcount_set');
}

/** refcount_inc(): incrementing from 0 means someone resurrects a dying object. */
export function refcount_inc(c: Ctx, o: Counted) {
  if (saturated(o)) return;
  if (o.count === 0) {
    c.violate('refcount-inc-from-zero', `refcount_t: addition on 0; use-after-free (${name(o)} in ${c.fn})`, name(o));
    change(c, o, REFCOUNT_SATURATED, 'refcount_inc on 0: saturated');
    return;
  }
  change(c, o, o.count + 1, 'refcount_inc');
}

/** refcount_inc_not_zero(): fails (returns false) on an object whose count reached 0. */
export function refcount_inc_not_zero(c: Ctx, o: Counted): boolean {
  if (saturated(o)) return true;
  if (o.count === 0) {
    if (c.record) c.emit('refcount', `${name(o)}.count is 0: refcount_inc_not_zero fails`);
    return false;
  }
  change(c, o, o.count + 1, 'refcount_inc_not_zero');
  return true;
}

/** refcount_dec_and_test(): true when this put dropped the last reference. */
export function refcount_dec_and_test(c: Ctx, o: Counted): boolean {
  if (saturated(o)) return false;
  if (o.count <= 0) {
    c.violate('refcount-underflow', `refcount_t: underflow; use-after-free (${name(o)} in ${c.fn})`, name(o));
    change(c, o, REFCOUNT_SATURATED, 'refcount_dec below 0: saturated');
    return false;
  }
  change(c, o, o.count - 1, 'refcount_dec_and_test');
  return o.count === 0;
}
