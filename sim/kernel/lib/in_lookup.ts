// fs/dcache.c's in-lookup hash, the part the step machine reads: whether a lookup of a name is
// still in progress (d_in_lookup). It sits at the base floor because a task asleep in
// d_wait_lookup is woken by it (exec.ts, waitSatisfied); d_alloc_parallel and d_lookup_done,
// which change it, are in sim/kernel/vfs/dcache.ts.
import type { SuperBlock, World } from '../state.ts';

/**
 * Is the lookup of `name` in progress? Its task may also have gone without d_lookup_done (a
 * task killed while it waited, whose frames were unwound): the kernel's error path ends the
 * in-lookup state then, so a lookup whose task is done, killed or out of the syscall is over.
 */
export function d_in_lookup(w: World, sb: SuperBlock, name: string): boolean {
  const owner = sb.inLookup?.[name];
  if (owner === undefined) return false;
  const t = w.tasks.find((x) => x.name === owner);
  return t !== undefined && !t.done && !t.killed && t.frames.length > 0;
}
