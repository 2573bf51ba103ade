// Kernel threads of the model: the RCU grace-period kthread.
import { block, kfunc, preempt } from './exec.ts';
import { rcu_gp_step, rcuCanAdvance } from './lib/rcu.ts';
import { fuse_free_inode } from './fuse/inode.ts';

/** kernel/rcu/tree.c: rcu_gp_kthread, one grace-period transition per step. */
kfunc<object>('sys_rcu_gp_kthread', 'kernel/rcu/tree.c', {
  start(c) {
    if (!rcuCanAdvance(c.w)) return block({ on: 'rcu' }, 'start');
    rcu_gp_step(c, fuse_free_inode);
    return rcuCanAdvance(c.w) ? preempt('start') : block({ on: 'rcu' }, 'start');
  },
});

/** exit of a whole process at teardown: its creds go too (exit_creds). */
kfunc<object>('sys_exit_creds', 'kernel/cred.c', {
  start(c) {
    const cred = c.p.cred;
    c.p.cred = 0;
    const cr = c.deref(cred, 'cred');
    cr.usage--;
    if (cr.usage === 0) c.kfreeRcu(cred);
    return { k: 'ret', v: 0 };
  },
});
