// fs/dcache.c, the part the model needs beyond its per-filesystem name maps: the in-lookup
// hash that makes concurrent lookups of one name share one ->lookup.
import type { Ctx } from '../ctx.ts';
import type { SuperBlock } from '../state.ts';
import { d_in_lookup } from '../lib/in_lookup.ts';

/**
 * d_alloc_parallel: lookup_slow's dentry for a name the dcache does not have. If another task
 * is already looking the name up (an in-lookup dentry for it is hashed), the caller must wait
 * for it (d_wait_lookup) and then look in the dcache again: "wait". Else the caller's new
 * dentry goes into the in-lookup hash and the caller calls ->lookup: "mine" (also when the
 * caller already holds it, coming back to its lookup after another wait).
 */
export function d_alloc_parallel(c: Ctx, sb: SuperBlock, name: string): 'mine' | 'wait' {
  const owner = sb.inLookup?.[name];
  if (owner === c.t.name) return 'mine';
  if (d_in_lookup(c.w, sb, name)) return 'wait';
  sb.inLookup = { ...sb.inLookup, [name]: c.t.name };
  return 'mine';
}

/** d_lookup_done: the lookup of `name` is over (hashed, negative, or dropped): its waiters wake. */
export function d_lookup_done(sb: SuperBlock, name: string) {
  if (sb.inLookup?.[name] === undefined) return;
  const { [name]: _done, ...rest } = sb.inLookup;
  if (Object.keys(rest).length) sb.inLookup = rest;
  else delete sb.inLookup;
}
