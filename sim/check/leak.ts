// kmemleak, at quiescence: once the world is torn down (every process exited, every mount
// gone, every RCU callback run), nothing may be left allocated.
import type { FileObj, FuseBackingObj, HeapObj, World } from '../kernel/state.ts';

const n = (o: HeapObj) => `${o.type}#${o.ptr}`;

export function leakCheck(w: World) {
  for (const o of Object.values(w.heap)) {
    if (o.life === 'freed') continue;
    const what = o.life === 'rcu-pending' ? 'still waiting for its RCU callback' : 'never freed';
    const extra = o.type === 'fuse_backing' ? ` (count ${(o as FuseBackingObj).count})` : o.type === 'file' ? ` (f_count ${(o as FileObj).count})` : '';
    w.violations.push({ kind: 'leak', message: `kmemleak: ${n(o)}${extra} is ${what} after teardown`, object: n(o), step: w.step, task: 'teardown', fn: 'kmemleak' });
  }
}
