// kernel/cred.c: credentials, refcounted; the last put frees them after a grace period.
import type { Ctx } from './ctx.ts';
import { name } from './ctx.ts';
import type { CredObj, Ptr } from './state.ts';

/** prepare_creds(): a copy of the current task's credentials, usage 1. */
export function prepare_creds(c: Ctx): Ptr {
  const cur = c.deref(c.p.cred, 'cred');
  const n = c.alloc<CredObj>({ type: 'cred', usage: 1, uid: cur.uid, capSysAdmin: cur.capSysAdmin });
  return n.ptr;
}

/** get_cred() */
export function get_cred(c: Ctx, p: Ptr): Ptr {
  const cr = c.deref(p, 'cred');
  cr.usage++;
  return p;
}

/** put_cred(): the last put frees the creds after a grace period (__put_cred uses call_rcu). */
export function put_cred(c: Ctx, p: Ptr) {
  if (p === 0) return;
  const cr = c.deref(p, 'cred');
  if (cr.usage <= 0) {
    c.violate('refcount-underflow', `put_cred on ${name(cr)} with usage ${cr.usage}`, name(cr));
    return;
  }
  cr.usage--;
  if (cr.usage === 0) c.kfreeRcu(p);
}
