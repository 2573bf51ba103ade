// lib/idr.c: the id map, with idr_alloc_cyclic's "keep counting up" allocation.
import type { Idr, Ptr } from '../state.ts';

/** INT_MAX: idr_alloc_cyclic(.., start, end = 0, ..) means "up to INT_MAX". */
const ID_MAX = 0x7fffffff;

export function idr_init(): Idr {
  return { entries: {}, next: 0 };
}

/**
 * idr_alloc_cyclic(): the lowest free id >= max(start, cursor), wrapping to start;
 * the cursor then moves past it, so a just-freed id is not handed out again soon.
 */
export function idr_alloc_cyclic(idr: Idr, ptr: Ptr, start: number): number {
  let id = Math.max(start, idr.next);
  for (let tries = 0; tries < 2; tries++) {
    while (id <= ID_MAX && idr.entries[id] !== undefined) id++;
    if (id <= ID_MAX) break;
    id = start;
  }
  if (id > ID_MAX) return -28; // -ENOSPC
  idr.entries[id] = ptr;
  idr.next = id + 1;
  return id;
}

/** The mutant's allocator: the lowest free id, reused at once (plain idr_alloc). */
export function idr_alloc_lowest(idr: Idr, ptr: Ptr, start: number): number {
  let id = start;
  while (idr.entries[id] !== undefined) id++;
  idr.entries[id] = ptr;
  return id;
}

/** idr_find(): an RCU-safe lookup, NULL when absent. */
export function idr_find(idr: Idr, id: number): Ptr {
  return idr.entries[id] ?? 0;
}

/** idr_remove(): returns what was there, NULL when absent. */
export function idr_remove(idr: Idr, id: number): Ptr {
  const p = idr.entries[id];
  if (p === undefined) return 0;
  delete idr.entries[id];
  return p;
}

export function idr_ids(idr: Idr): number[] {
  return Object.keys(idr.entries)
    .map(Number)
    .sort((a, b) => a - b);
}
