// kernel/cred.c: credentials, refcounted; the last put frees them after a grace period.
// Creds belong to tasks (task->cred): a process's threads start out sharing one cred object
// (the model keeps it in Proc.cred), and a task that changes its own (commit_creds, after
// capset(2) or setuid(2)) gets a new object its siblings do not see (Task.cred).
import type { Ctx } from './ctx.ts';
import { name } from './ctx.ts';
import type { CredObj, Ptr } from './state.ts';

/** current_cred(): the running task's creds (its own if it changed them, else its process's). */
export function current_cred(c: Ctx): Ptr {
  return c.t.cred || c.p.cred;
}

/** prepare_creds(): a copy of the current task's credentials, usage 1. */
export function prepare_creds(c: Ctx): Ptr {
  const cur = c.deref(current_cred(c), 'cred');
  const n = c.alloc<CredObj>({ type: 'cred', usage: 1, uid: cur.uid, capSysAdmin: cur.capSysAdmin });
  return n.ptr;
}

/**
 * commit_creds(new): the running task's creds become `new` (the caller's reference moves to
 * the task). The task's own previous creds are put; the process's shared ones stay with the
 * process, which its other threads still use.
 */
export function commit_creds(c: Ctx, n: Ptr) {
  const old = c.t.cred;
  c.t.cred = n;
  if (c.record) c.emit('field', `${c.t.name}: task->cred -> cred#${n}`);
  if (old) put_cred(c, old);
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
