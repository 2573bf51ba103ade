// The spec's section 5 as code: one named predicate per invariant, each returning the
// problems it sees in a world (plain data). Checked after every atomic step.
import type { FileLockContext, FileLockObj, FuseBackingObj, FuseInodeObj, FuseFileObj, FileObj, World } from '../kernel/state.ts';
import { F_RDLCK, F_WRLCK } from '../wire/uapi.ts';
import { describeLock, FL_FLOCK, FL_POSIX } from '../kernel/vfs/locks.ts';
import type { StepRecord } from '../kernel/effects.ts';
import type { ViolationKind } from '../kernel/lib/violation.ts';
import { FILESYSTEM_MAX_STACK_DEPTH } from '../kernel/vfs/super.ts';
import { REFCOUNT_SATURATED } from '../kernel/lib/refcount.ts';

export interface Problem {
  object: string;
  message: string;
}

export interface Invariant {
  name: string;
  /** the spec's section 5 item */
  spec: string;
  kind: ViolationKind;
  /** ix: the world's objects by type, built once for all invariants (built here if absent) */
  check(w: World, ix?: HeapIndex): Problem[];
}

type Obj = World['heap'][number];
type Live<T extends Obj['type']> = Extract<Obj, { type: T }>[];

/** One pass over the heap: the live objects of each type, and the not-yet-freed inodes. */
export interface HeapIndex {
  fuse_backing: Live<'fuse_backing'>;
  fuse_conn: Live<'fuse_conn'>;
  fuse_inode: Live<'fuse_inode'>;
  fuse_file: Live<'fuse_file'>;
  /** inodes whose memory is still there (live, or waiting for their RCU free) */
  inodesNotFreed: Live<'fuse_inode'>;
  file_lock: Live<'file_lock'>;
  /** each live connection's backing ids as [id, fuse_backing ptr], made by idrEntries when first asked */
  idr?: Map<number, [string, number][]>;
}

/** Object.entries of a connection's id map, made once per index (four invariants read it). */
function idrEntries(ix: HeapIndex, fc: Live<'fuse_conn'>[number]): [string, number][] {
  ix.idr ??= new Map();
  let e = ix.idr.get(fc.ptr);
  if (!e) ix.idr.set(fc.ptr, (e = Object.entries(fc.idr.entries)));
  return e;
}

export function indexWorld(w: World): HeapIndex {
  const ix = emptyIndex();
  // Object.values, not for-in: the keys are integers, and for-in would make a string of each
  // (same objects, same ascending order)
  for (const o of Object.values(w.heap)) addToIndex(ix, o);
  return ix;
}

function emptyIndex(): HeapIndex {
  return { fuse_backing: [], fuse_conn: [], fuse_inode: [], fuse_file: [], inodesNotFreed: [], file_lock: [] };
}

function addToIndex(ix: HeapIndex, o: Obj) {
  if (o.type === 'fuse_inode' && o.life !== 'freed') ix.inodesNotFreed.push(o);
  if (o.life !== 'live') return;
  switch (o.type) {
    case 'fuse_backing':
    case 'fuse_conn':
    case 'fuse_inode':
    case 'fuse_file':
    case 'file_lock':
      (ix[o.type] as Obj[]).push(o);
  }
}

/**
 * indexWorld for one world run forward from its start, step after step (fpsim run: one
 * runScenario): the same index, without walking the whole heap after every step. A long
 * program's heap is mostly freed objects (they stay, for use-after-free detection), and the
 * index never holds a freed one. So this keeps the pointers of the objects not yet freed, in
 * ascending order: each call looks at the objects allocated since the last (pointers are
 * handed out in increasing order, w.nextPtr++, by Ctx.alloc and buildWorld only) and drops
 * the ones freed since (an object never comes back from freed). A different world, or one
 * whose nextPtr went back (an explorer's undo), starts it over from a full walk.
 * Not for the explorer: it undoes steps in place (a freed object becomes live again).
 * The tracker is created per run and holds only pointers between steps.
 */
export function heapTracker(): (w: World) => HeapIndex {
  let world: World | null = null;
  let scanned = 0; // every pointer below this one has been looked at
  let notFreed: number[] = [];
  return (w) => {
    const heap = w.heap;
    if (w !== world || w.nextPtr < scanned) {
      world = w;
      notFreed = Object.keys(heap).map(Number);
      scanned = Math.max(w.nextPtr, (notFreed.at(-1) ?? 0) + 1);
    }
    for (; scanned < w.nextPtr; scanned++) if (heap[scanned]) notFreed.push(scanned);
    const ix = emptyIndex();
    let kept = 0;
    for (const p of notFreed) {
      const o = heap[p];
      if (!o || o.life === 'freed') continue;
      notFreed[kept++] = p;
      addToIndex(ix, o);
    }
    notFreed.length = kept;
    return ix;
  };
}

function live<T extends keyof Omit<HeapIndex, 'inodesNotFreed'>>(ix: HeapIndex, type: T): HeapIndex[T] {
  return ix[type];
}

const n = (o: { type: string; ptr: number }) => `${o.type}#${o.ptr}`;

/** Every reference an fb's count stands for: the id map, an inode's fb, a task in flight. */
export function backingOwners(w: World, fb: FuseBackingObj, ix: HeapIndex = indexWorld(w)): { map: number; inodes: number; inflight: number } {
  let map = 0;
  for (const fc of live(ix, 'fuse_conn')) for (const p of Object.values(fc.idr.entries)) if (p === fb.ptr) map++;
  let inodes = 0;
  for (const o of ix.inodesNotFreed) if (o.fb === fb.ptr) inodes++;
  let inflight = 0;
  for (const t of w.tasks) for (const r of t.refs) if (r === fb.ptr) inflight++;
  return { map, inodes, inflight };
}

export const refcountOwners: Invariant = {
  name: 'refcount-owners',
  spec: '5.1 fb.count = [in the map] + [an inode points to it] + in-flight references',
  kind: 'refcount-owners',
  check(w, ix = indexWorld(w)) {
    const out: Problem[] = [];
    const fbs = live(ix, 'fuse_backing');
    if (fbs.length === 0) return out;
    // backingOwners of every fb in one pass over the owners
    const byFb = new Map<number, { map: number; inodes: number; inflight: number }>();
    for (const fb of fbs) byFb.set(fb.ptr, { map: 0, inodes: 0, inflight: 0 });
    for (const fc of live(ix, 'fuse_conn')) {
      for (const [, p] of idrEntries(ix, fc)) {
        const o = byFb.get(p);
        if (o) o.map++;
      }
    }
    for (const fi of ix.inodesNotFreed) {
      const o = byFb.get(fi.fb);
      if (o) o.inodes++;
    }
    for (const t of w.tasks) {
      for (const r of t.refs) {
        const o = byFb.get(r);
        if (o) o.inflight++;
      }
    }
    for (const fb of fbs) {
      if (fb.count === REFCOUNT_SATURATED) continue; // already reported when it saturated
      const o = byFb.get(fb.ptr)!;
      const owners = o.map + o.inodes + o.inflight;
      if (fb.count !== owners) {
        out.push({
          object: n(fb),
          message: `${n(fb)}.count is ${fb.count} but it has ${owners} owner(s): map ${o.map}, inode ${o.inodes}, in flight ${o.inflight}`,
        });
      }
    }
    return out;
  },
};

export const noDanglingPointers: Invariant = {
  name: 'no-dangling-pointers',
  spec: '5.2 no use of freed memory: nothing reachable points to a freed object',
  kind: 'use-after-free',
  check(w, ix = indexWorld(w)) {
    const out: Problem[] = [];
    const dead = (p: number) => p > 0 && w.heap[p]?.life === 'freed';
    for (const fc of live(ix, 'fuse_conn')) {
      for (const [id, p] of idrEntries(ix, fc)) {
        if (dead(p)) out.push({ object: `fuse_backing#${p}`, message: `${n(fc)} backing id ${id} points to freed fuse_backing#${p}` });
      }
    }
    for (const fi of live(ix, 'fuse_inode')) {
      if (dead(fi.fb)) out.push({ object: `fuse_backing#${fi.fb}`, message: `${n(fi)}.fb points to freed fuse_backing#${fi.fb}` });
    }
    for (const ff of live(ix, 'fuse_file')) {
      if (dead(ff.passthrough)) out.push({ object: `file#${ff.passthrough}`, message: `${n(ff)}.passthrough points to freed file#${ff.passthrough}` });
    }
    for (const fb of live(ix, 'fuse_backing')) {
      if (dead(fb.file)) out.push({ object: `file#${fb.file}`, message: `${n(fb)}.file points to freed file#${fb.file}` });
    }
    return out;
  },
};

/** The parallel direct writes in flight, by inode (each holds an uncached reference). */
function dioWriters(w: World): Map<number, number> {
  const k = new Map<number, number>();
  for (const t of w.tasks) {
    for (const f of t.frames) {
      if (f.fn !== 'fuse_file_write_iter' || f.l['shared'] !== true) continue;
      const file = w.heap[f.l['file'] as number] as FileObj | undefined;
      const ff = file && (w.heap[file.private_data] as FuseFileObj | undefined);
      if (ff && f.pc !== 'start' && f.pc !== 'dio_lock') k.set(ff.inode, (k.get(ff.inode) ?? 0) + 1);
    }
  }
  return k;
}

export const ioModes: Invariant = {
  name: 'io-modes',
  spec: '5.4 iocachectr counts cached (>0) or uncached (<0) users, never both; fb set => iocachectr < 0; one fb per inode, shared by its passthrough files',
  kind: 'iomode',
  check(w, ix = indexWorld(w)) {
    const out: Problem[] = [];
    const inodes = live(ix, 'fuse_inode');
    if (inodes.length === 0) return out;
    // each inode's files (in heap order) and direct writers, in one pass each
    const filesOf = new Map<number, FuseFileObj[]>();
    for (const f of live(ix, 'fuse_file')) {
      const l = filesOf.get(f.inode);
      if (l) l.push(f);
      else filesOf.set(f.inode, [f]);
    }
    const dio = dioWriters(w);
    for (const fi of inodes) {
      const mine = filesOf.get(fi.ptr) ?? [];
      let cached = 0;
      let uncached = dio.get(fi.ptr) ?? 0;
      for (const f of mine) {
        if (f.iomode === 'IOM_CACHED') cached++;
        else if (f.iomode === 'IOM_UNCACHED') uncached++;
      }
      if (cached > 0 && uncached > 0) out.push({ object: n(fi), message: `${n(fi)} has ${cached} cached and ${uncached} uncached users at once` });
      const expected = cached - uncached;
      if (fi.iocachectr !== expected) {
        out.push({ object: n(fi), message: `${n(fi)}.iocachectr is ${fi.iocachectr}, but it has ${cached} cached and ${uncached} uncached users` });
      }
      if (fi.fb !== 0 && fi.iocachectr >= 0) out.push({ object: n(fi), message: `${n(fi)}.fb is set while iocachectr is ${fi.iocachectr} (not uncached)` });
      const fb = fi.fb ? (w.heap[fi.fb] as FuseBackingObj) : null;
      for (const ff of mine) {
        // fuse_passthrough_open sets ff->passthrough before uncached mode is taken
        if (!ff.passthrough || ff.iomode !== 'IOM_UNCACHED') continue;
        if (!fb) {
          out.push({ object: n(ff), message: `${n(ff)} passes through but ${n(fi)}.fb is NULL` });
          continue;
        }
        const bf = w.heap[ff.passthrough] as FileObj;
        const real = w.heap[fb.file] as FileObj;
        if (bf && real && (bf.realSb !== real.realSb || bf.name !== real.name)) {
          out.push({ object: n(ff), message: `${n(ff)} passes through to ${bf.name}, not to the inode's backing file ${real.name}` });
        }
      }
    }
    return out;
  },
};

export const stackDepth: Invariant = {
  name: 'stack-depth',
  spec: '5.5 passthrough on => 1 <= max_stack_depth <= 2; backing files come from shallower filesystems; no stack deeper than 2',
  kind: 'stack-depth',
  check(w, ix = indexWorld(w)) {
    const out: Problem[] = [];
    for (const fc of live(ix, 'fuse_conn')) {
      if (fc.passthrough && (fc.maxStackDepth < 1 || fc.maxStackDepth > FILESYSTEM_MAX_STACK_DEPTH)) {
        out.push({ object: n(fc), message: `${n(fc)} has passthrough with max_stack_depth ${fc.maxStackDepth}` });
      }
      const sb = w.sbs[fc.sb]!;
      const fbs = new Set<number>();
      for (const [, p] of idrEntries(ix, fc)) fbs.add(p);
      if (sb.kind === 'fuse') for (const p of Object.values(sb.inodes)) {
        const fi = w.heap[p] as FuseInodeObj;
        if (fi.fb) fbs.add(fi.fb);
      }
      for (const p of fbs) {
        const fb = w.heap[p] as FuseBackingObj;
        if (fb.life !== 'live') continue;
        const file = w.heap[fb.file] as FileObj;
        const depth = w.sbs[file.sb]!.s_stack_depth;
        if (depth >= fc.maxStackDepth) {
          out.push({ object: n(fb), message: `${n(fb)} is backed by a file on /${w.sbs[file.sb]!.name} with s_stack_depth ${depth} >= max_stack_depth ${fc.maxStackDepth}` });
        }
      }
    }
    for (const sb of w.sbs) {
      if (sb.mounted && sb.s_stack_depth > FILESYSTEM_MAX_STACK_DEPTH) {
        out.push({ object: `sb:${sb.name}`, message: `/${sb.name} has s_stack_depth ${sb.s_stack_depth} > ${FILESYSTEM_MAX_STACK_DEPTH}` });
      }
    }
    return out;
  },
};

export const idsUnique: Invariant = {
  name: 'ids-unique',
  spec: '5.6 ids are positive and unique among live entries',
  kind: 'idr',
  check(w, ix = indexWorld(w)) {
    const out: Problem[] = [];
    for (const fc of live(ix, 'fuse_conn')) {
      const seen = new Map<number, number>();
      for (const [k, p] of idrEntries(ix, fc)) {
        const id = Number(k);
        if (id <= 0) out.push({ object: n(fc), message: `${n(fc)} has backing id ${id} <= 0` });
        const dup = seen.get(p);
        if (dup !== undefined) out.push({ object: `fuse_backing#${p}`, message: `fuse_backing#${p} is behind ids ${dup} and ${id}` });
        seen.set(p, id);
      }
    }
    return out;
  },
};

/** Every inode's lock context in the world: tmpfs and overlay names, FUSE inodes. */
function lockContexts(w: World, ix: HeapIndex): { what: string; ctx: FileLockContext }[] {
  const out: { what: string; ctx: FileLockContext }[] = [];
  for (const sb of w.sbs) {
    if (sb.kind === 'plain') for (const [name, ino] of Object.entries(sb.files)) if (ino.flctx) out.push({ what: `/${sb.name}/${name}`, ctx: ino.flctx });
    if (sb.kind === 'overlay') for (const [name, ctx] of Object.entries(sb.flctx ?? {})) out.push({ what: `/${sb.name}/${name}`, ctx });
  }
  for (const fi of ix.inodesNotFreed) if (fi.flctx) out.push({ what: n(fi), ctx: fi.flctx });
  return out;
}

export const fileLocks: Invariant = {
  name: 'file-locks',
  spec: "fs/locks.c: an inode's locks never conflict across owners; one owner's POSIX ranges are sorted, apart and merged; a waiting request hangs behind one live lock or request",
  kind: 'file-lock',
  check(w, ix = indexWorld(w)) {
    const out: Problem[] = [];
    const listedIn = new Map<number, number>();
    const lock = (p: number) => w.heap[p] as FileLockObj | undefined;
    for (const { what, ctx } of lockContexts(w, ix)) {
      for (const [kind, list, flag] of [
        ['POSIX', ctx.flc_posix, FL_POSIX],
        ['FLOCK', ctx.flc_flock, FL_FLOCK],
      ] as const) {
        const locks: FileLockObj[] = [];
        for (const p of list) {
          const fl = lock(p);
          listedIn.set(p, (listedIn.get(p) ?? 0) + 1);
          if (!fl || fl.type !== 'file_lock' || fl.life !== 'live') {
            out.push({ object: `file_lock#${p}`, message: `${what}'s ${kind} list holds file_lock#${p}, which is ${fl ? fl.life : 'no object'}` });
            continue;
          }
          if (!(fl.flags & flag) || !fl.listed || (fl.ltype !== F_RDLCK && fl.ltype !== F_WRLCK)) {
            out.push({ object: n(fl), message: `${what}'s ${kind} list holds ${describeLock(fl)}${fl.listed ? '' : ' (not marked listed)'}` });
          }
          if (w.heap[fl.file]?.life === 'freed') out.push({ object: n(fl), message: `${describeLock(fl)} on ${what} outlives its file#${fl.file}` });
          locks.push(fl);
        }
        for (let i = 0; i < locks.length; i++) {
          for (let j = i + 1; j < locks.length; j++) {
            const a = locks[i]!;
            const b = locks[j]!;
            const write = a.ltype === F_WRLCK || b.ltype === F_WRLCK;
            if (flag === FL_FLOCK) {
              if (a.file === b.file) out.push({ object: n(b), message: `${what}: two flock locks of file#${a.file}: ${describeLock(a)}, ${describeLock(b)}` });
              else if (write) out.push({ object: n(b), message: `${what}: conflicting flock locks ${describeLock(a)} and ${describeLock(b)}` });
              continue;
            }
            const overlap = a.end >= b.start && b.end >= a.start;
            if (a.owner !== b.owner) {
              if (overlap && write) out.push({ object: n(b), message: `${what}: conflicting POSIX locks ${describeLock(a)} and ${describeLock(b)}` });
              continue;
            }
            if (j !== i + 1 && locks.slice(i + 1, j).some((m) => m.owner !== a.owner)) {
              out.push({ object: n(b), message: `${what}: the POSIX locks of ${a.owner} are not together on the list` });
            }
            if (overlap) out.push({ object: n(b), message: `${what}: ${a.owner}'s POSIX locks overlap: ${describeLock(a)}, ${describeLock(b)}` });
            else if (j === i + 1 && a.start > b.start) out.push({ object: n(b), message: `${what}: ${a.owner}'s POSIX locks are out of order: ${describeLock(a)} before ${describeLock(b)}` });
            else if (a.ltype === b.ltype && (a.end === b.start - 1 || b.end === a.start - 1)) {
              out.push({ object: n(b), message: `${what}: ${a.owner}'s POSIX locks touch but were not merged: ${describeLock(a)}, ${describeLock(b)}` });
            }
          }
        }
      }
    }
    for (const fl of ix.file_lock) {
      const times = listedIn.get(fl.ptr) ?? 0;
      if (fl.listed ? times !== 1 : times !== 0) out.push({ object: n(fl), message: `${describeLock(fl)} is on ${times} inode list(s)${fl.listed ? '' : ' though not a lock held'}` });
      if (fl.blocker) {
        const b = lock(fl.blocker);
        if (!b || b.life !== 'live' || !b.blocked.includes(fl.ptr)) out.push({ object: n(fl), message: `${describeLock(fl)} waits behind file_lock#${fl.blocker}, which does not list it` });
      }
      for (const q of fl.blocked) {
        if (lock(q)?.blocker !== fl.ptr) out.push({ object: n(fl), message: `${describeLock(fl)} lists waiter file_lock#${q}, which does not wait behind it` });
      }
    }
    return out;
  },
};

export const INVARIANTS: Invariant[] = [refcountOwners, noDanglingPointers, ioModes, stackDepth, idsUnique, fileLocks];

/** Check every invariant; record each new problem once as a violation. */
export function checkInvariants(w: World, task = '', fn = '', ix: HeapIndex = indexWorld(w)) {
  for (const inv of INVARIANTS) {
    for (const p of inv.check(w, ix)) {
      const message = `${inv.name}: ${p.message}`;
      if (w.violations.some((v) => v.kind === inv.kind && v.object === p.object && v.message.startsWith(`${inv.name}:`))) continue;
      w.violations.push({ kind: inv.kind, message, object: p.object, step: w.step, task, fn });
    }
  }
}

/** The check every driver runs after each atomic step: every invariant, named after the step. */
export function checkStep(w: World, rec: StepRecord) {
  checkInvariants(w, rec.task, rec.where.at(-1) ?? '');
}

/**
 * checkStep for one world run forward from its start (runScenario): the same checks, with the
 * heap indexed incrementally (heapTracker). One per run.
 */
export function stepChecker(): (w: World, rec: StepRecord) => void {
  const index = heapTracker();
  return (w, rec) => checkInvariants(w, rec.task, rec.where.at(-1) ?? '', index(w));
}
