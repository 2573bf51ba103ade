// kernel/rcu: read-side sections per task, grace periods, and deferred callbacks.
//
// A grace period waits for every reader that was inside a read-side section when it
// started; readers that enter later cannot have seen an object unpublished before that.
// Callbacks queued by kfree_rcu() run only after the grace period they were assigned.
import type { Ctx } from '../ctx.ts';
import type { World } from '../state.ts';

/** rcu_read_lock() */
export function rcu_read_lock(c: Ctx) {
  const r = c.w.rcu.readers;
  const n = (r[c.t.name] ?? 0) + 1;
  r[c.t.name] = n;
  if (c.record) c.emit('rcu', n === 1 ? 'rcu_read_lock: enters a read-side section' : `rcu_read_lock (nested ${n})`);
}

/** rcu_read_unlock() */
export function rcu_read_unlock(c: Ctx) {
  const rcu = c.w.rcu;
  const n = rcu.readers[c.t.name] ?? 0;
  if (n <= 0) {
    c.violate('rcu-unbalanced', `rcu_read_unlock without rcu_read_lock in ${c.fn}`);
    return;
  }
  if (n === 1) {
    delete rcu.readers[c.t.name];
    if (rcu.current) rcu.current.waitingFor = rcu.current.waitingFor.filter((x) => x !== c.t.name);
    if (c.record) c.emit('rcu', 'rcu_read_unlock: leaves the read-side section');
  } else {
    rcu.readers[c.t.name] = n - 1;
  }
}

/** Is there grace-period work the RCU machinery can do now? */
export function rcuCanAdvance(w: World): boolean {
  const rcu = w.rcu;
  if (rcu.current) return rcu.current.waitingFor.length === 0;
  return rcu.callbacks.some((cb) => cb.gp > rcu.completed);
}

/**
 * One step of the grace-period kthread: start a grace period (snapshotting the readers it
 * must wait for), or end the one in progress once they have all left, running its callbacks.
 */
export function rcu_gp_step(c: Ctx, freeInode: (c: Ctx, ptr: number) => void) {
  const rcu = c.w.rcu;
  if (!rcu.current) {
    const gp = rcu.completed + 1;
    const waitingFor = Object.keys(rcu.readers).sort();
    rcu.current = { gp, waitingFor };
    if (c.record) c.emit('rcu', `grace period ${gp} starts${waitingFor.length ? `, waits for ${waitingFor.join(', ')}` : ''}`);
    return;
  }
  if (rcu.current.waitingFor.length > 0) return;
  const gp = rcu.current.gp;
  rcu.completed = gp;
  rcu.current = null;
  if (c.record) c.emit('rcu', `grace period ${gp} ends`);
  const ready = rcu.callbacks.filter((cb) => cb.gp <= gp);
  rcu.callbacks = rcu.callbacks.filter((cb) => cb.gp > gp);
  for (const cb of ready) {
    const o = c.w.heap[cb.ptr]!;
    if (cb.what === 'free_inode') {
      // fs/inode.c: i_callback -> ->free_inode, which may put further objects
      freeInode(c, cb.ptr);
    }
    o.life = 'freed';
    if (c.record) c.emit('free', `RCU callback frees ${o.type}#${o.ptr}`);
  }
}
