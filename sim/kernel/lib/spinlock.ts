// include/linux/spinlock.h: the model's locks only check use (no sleeping inside, no
// recursion, unlock by the owner); atomic steps already exclude each other.
import type { Ctx } from '../ctx.ts';
import type { SpinLock } from '../state.ts';

export function spin_lock(c: Ctx, lock: SpinLock, what: string) {
  if (lock.owner !== null) {
    c.violate('lock-misuse', `${c.fn}: spin_lock(${what}) while held by ${lock.owner}`);
  }
  lock.owner = c.t.name;
  if (c.record) c.emit('lock', `spin_lock(${what})`);
}

export function spin_unlock(c: Ctx, lock: SpinLock, what: string) {
  if (lock.owner !== c.t.name) {
    c.violate('lock-misuse', `${c.fn}: spin_unlock(${what}) by ${c.t.name}, owner ${lock.owner ?? 'none'}`);
  }
  lock.owner = null;
  if (c.record) c.emit('lock', `spin_unlock(${what})`);
}
