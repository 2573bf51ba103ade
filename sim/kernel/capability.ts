// kernel/capability.c: capable(), asked of the calling task's own creds at each call, and
// capset(2), which changes only the calling task's (a sibling thread or a forked child keeps
// what it had).
import type { Ctx } from './ctx.ts';
import { entry, kfunc, ret } from './exec.ts';
import { commit_creds, current_cred, prepare_creds } from './cred.ts';

/** The capabilities the model knows. */
export type Capability = 'CAP_SYS_ADMIN';

/** capable(cap): ns_capable(&init_user_ns, cap) of current_cred(). */
export function capable(c: Ctx, _cap: Capability): boolean {
  return c.deref(current_cred(c), 'cred').capSysAdmin;
}

/**
 * capset(2) on the calling thread (pid 0): CAP_SYS_ADMIN raised in or dropped from the
 * effective set, which stays within the permitted set (cap_capset): prepare_creds, change,
 * commit_creds. Raising it again works only because the model's tasks never drop it from the
 * permitted set.
 */
export const sys_capset = entry(
  'capset',
  kfunc<{ cap_sys_admin: boolean }>('sys_capset', 'kernel/capability.c', {
    start(c, l) {
      const n = prepare_creds(c);
      c.deref(n, 'cred').capSysAdmin = l.cap_sys_admin;
      commit_creds(c, n);
      return ret(0);
    },
  }),
);
