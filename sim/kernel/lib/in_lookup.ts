// fs/dcache.c's in-lookup hash and the directory's i_rwsem, the part the step machine reads:
// whether a lookup of a name is still in progress (d_in_lookup), and who holds the directory
// lock. It sits at the base floor because tasks asleep in d_wait_lookup or on the lock are woken
// by it (exec.ts, waitSatisfied); what changes them is in sim/kernel/vfs/dcache.ts and
// sim/kernel/vfs/namespace.ts.
import type { SuperBlock, World } from '../state.ts';

/** A task that holds something in the VFS is still there: not done, not killed, inside a syscall. */
function live(w: World, name: string): boolean {
  const t = w.tasks.find((x) => x.name === name);
  return t !== undefined && !t.done && !t.killed && t.frames.length > 0;
}

/**
 * The tasks other than `me` that keep it from taking the directory's i_rwsem: for reading
 * (inode_lock_shared), a live writer; for writing (inode_lock), the readers too, every live
 * lookup_slow, which holds the lock for reading across its lookup and across a wait for
 * another's (d_wait_lookup).
 */
export function dir_lock_holders(w: World, sb: SuperBlock, me: string, write: boolean): string[] {
  const out: string[] = [];
  if (sb.dirLock !== undefined && sb.dirLock !== me && live(w, sb.dirLock)) out.push(sb.dirLock);
  if (!write) return out;
  for (const owner of Object.values(sb.inLookup ?? {})) if (owner !== me && live(w, owner)) out.push(owner);
  for (const t of w.tasks) if (t.name !== me && t.blocked?.on === 'in_lookup' && t.blocked.sb === sb.id && live(w, t.name)) out.push(t.name);
  return out;
}

/**
 * Is the lookup of `name` in progress? Its task may also have gone without d_lookup_done (a
 * task killed while it waited, whose frames were unwound): the kernel's error path ends the
 * in-lookup state then, so a lookup whose task is done, killed or out of the syscall is over.
 */
export function d_in_lookup(w: World, sb: SuperBlock, name: string): boolean {
  const owner = sb.inLookup?.[name];
  return owner !== undefined && live(w, owner);
}
