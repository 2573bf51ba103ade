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

/** Does a task other than `me` hold the directory's i_rwsem for writing? */
export function dir_write_locked(w: World, sb: SuperBlock, me: string): boolean {
  return sb.dirLock !== undefined && sb.dirLock !== me && live(w, sb.dirLock);
}

/**
 * Does a task other than `me` hold it for reading? lookup_slow holds it (inode_lock_shared)
 * across its lookup and across a wait for another's (d_wait_lookup).
 */
export function dir_read_locked(w: World, sb: SuperBlock, me: string): boolean {
  for (const owner of Object.values(sb.inLookup ?? {})) if (owner !== me && live(w, owner)) return true;
  for (const t of w.tasks) if (t.name !== me && t.blocked?.on === 'in_lookup' && t.blocked.sb === sb.id && live(w, t.name)) return true;
  return false;
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
