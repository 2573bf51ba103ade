// Kernel threads of the model: the RCU grace-period kthread.
import { block, entry, kfunc, preempt } from './exec.ts';
import type { Ctx } from './ctx.ts';
import { rcu_gp_step, rcuCanAdvance } from './lib/rcu.ts';
import { s_type } from './vfs/fs.ts';

/** fs/inode.c: i_callback: an inode freed with call_rcu goes through its sb's ->free_inode. */
function i_callback(c: Ctx, ptr: number) {
  const inode = c.w.heap[ptr] as { sb?: number } | undefined;
  const sb = inode?.sb === undefined ? undefined : c.w.sbs[inode.sb];
  if (sb) s_type(sb).freeInode?.(c, ptr);
}

/** kernel/rcu/tree.c: rcu_gp_kthread, one grace-period transition per step. */
entry(
  'rcu_gp_kthread',
  kfunc<object>('rcu_gp_kthread', 'kernel/rcu/tree.c', {
    start(c) {
      if (!rcuCanAdvance(c.w)) return block({ on: 'rcu' }, 'start');
      rcu_gp_step(c, i_callback);
      return rcuCanAdvance(c.w) ? preempt('start') : block({ on: 'rcu' }, 'start');
    },
  }),
);
