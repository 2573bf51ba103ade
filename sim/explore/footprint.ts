// Footprints and undo: what one atomic step read and wrote, and how to take it back.
//
// The explorer runs a step on its parent state in place, through recording proxies, so no
// model code needs to know: every property read, write, delete, `in` test and key
// enumeration anywhere in the world is seen. Writes are logged with the old value, so the
// parent state comes back after each step (no copy per step), and accesses are named by
// their path from the world's root, cut to a resource:
//
//   heap/<ptr>/<field>     one field of one heap object (fuse_conn's idr, pending, lock...)
//   rcu/<field>/<key>      rcu/readers/<task>, rcu/callbacks/<i>, rcu/current/...
//   sbs/<id>/<field>, procs/<name>/<field>, servers/<conn>/<field>, tasks/<i>/<field>
//   clock, jiffies
//
// Anything deeper is attributed to that resource (a write to fc.idr.entries[3] writes
// heap/<fc>/idr). A read records every level it passes through (heap/<ptr>, then
// heap/<ptr>/idr), so replacing a whole container (rcu.callbacks = [...]) conflicts with
// every reader below it. Adding or deleting a key, or enumerating keys, touches <path>/#.
// Not recorded: w.step (counts steps), w.nextPtr (set by the explorer per task),
// w.violations (findings), w.profile and w.mutants (constant).
import type { World } from '../kernel/state.ts';

/** Resources a step read and wrote, as path ids (see pathName), while it runs. */
interface Recording {
  r: Set<number>;
  w: Set<number>;
}

/**
 * A finished step's footprint, kept in sleep sets: the path ids read and written, each sorted
 * ascending in a typed array (a node's sleep set keeps its siblings' footprints, so a state in
 * the queue costs their size: 4 bytes an id instead of a Set entry).
 */
export interface Footprint {
  r: Int32Array;
  w: Int32Array;
}

const sortedIds = (s: Set<number>) => Int32Array.from(s).sort();

/** Do two ascending id arrays share an id? */
function meet(a: Int32Array, b: Int32Array): boolean {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) return true;
    if (x < y) i++;
    else j++;
  }
  return false;
}

// --- resource paths, interned: a path id per (parent path id, key) ---------------------

const names: string[] = [''];
const roots: number[] = [0];
const childTable: Map<string, number>[] = [new Map()];

/** The id of path `parent/key`, made once. */
function child(parent: number, key: string): number {
  const m = childTable[parent]!;
  let id = m.get(key);
  if (id === undefined) {
    id = names.length;
    names.push(parent === 0 ? key : `${names[parent]}/${key}`);
    roots.push(parent === 0 ? id : roots[parent]!);
    childTable.push(new Map());
    m.set(key, id);
  }
  return id;
}

/** A resource's path, e.g. "heap/7/fb". */
export function pathName(id: number): string {
  return names[id] ?? `?${id}`;
}

/** Two steps commute when neither writes what the other reads or writes. */
export function independent(a: Footprint, b: Footprint): boolean {
  return !meet(a.w, b.r) && !meet(a.w, b.w) && !meet(b.w, a.r);
}

/** How deep each root's resources go (see the header). */
const DEPTH: Record<string, number> = { heap: 3, rcu: 3, sbs: 3, procs: 3, servers: 3, tasks: 3, clock: 1, jiffies: 1 };
const UNTRACKED = new Set(['step', 'nextPtr', 'violations', 'profile', 'mutants']);

type Undo = [target: Record<string, unknown>, key: string, had: boolean, old: unknown];

/** Where a proxied object sits: its path id, its depth below the root, its root's resource depth. */
interface Meta {
  path: number;
  depth: number;
  max: number;
  /** below resource level: every access is to `path` */
  inside: boolean;
  /** the path's keys resource (path/#), or path itself when inside */
  keys: number;
}

/** The recording in progress (steps run one at a time). */
let cur: Recorder | null = null;

function metaOf(t: object): Meta {
  const m = cur!.metas.get(t);
  if (!m) throw new Error('footprint: a proxy outlived its step (model code kept a world object across steps?)');
  return m;
}

const at = (m: Meta, k: string) => (m.inside ? m.path : child(m.path, k));

/** One handler for every proxied object: what it needs to know comes from metas. */
const handler: ProxyHandler<Record<string, unknown>> = {
  get(t, k) {
    const x = Reflect.get(t, k);
    if (typeof k !== 'string' || typeof x === 'function') return x; // array methods come back through the traps
    const m = metaOf(t);
    const rec = cur!;
    if (m.inside) return typeof x === 'object' && x !== null ? rec.node(x, m.path, m.depth + 1, m.max) : x;
    const id = child(m.path, k);
    rec.fp.r.add(id);
    return typeof x === 'object' && x !== null ? rec.node(x, id, m.depth + 1, m.max) : x;
  },
  set(t, k, x) {
    if (typeof k !== 'string') return Reflect.set(t, k, x);
    const m = metaOf(t);
    const rec = cur!;
    rec.willWrite(t, k, at(m, k), m.keys, m.inside, x);
    return Reflect.set(t, k, rec.unwrapTop(x));
  },
  deleteProperty(t, k) {
    if (typeof k !== 'string') return Reflect.deleteProperty(t, k);
    const m = metaOf(t);
    cur!.willWrite(t, k, at(m, k), m.keys, m.inside);
    return Reflect.deleteProperty(t, k);
  },
  defineProperty(t, k, d) {
    if (typeof k !== 'string') return Reflect.defineProperty(t, k, d);
    const m = metaOf(t);
    const rec = cur!;
    rec.willWrite(t, k, at(m, k), m.keys, m.inside);
    if ('value' in d) d = { ...d, value: rec.unwrapTop(d.value) };
    return Reflect.defineProperty(t, k, d);
  },
  has(t, k) {
    if (typeof k === 'string') cur!.fp.r.add(at(metaOf(t), k));
    return Reflect.has(t, k);
  },
  ownKeys(t) {
    cur!.fp.r.add(metaOf(t).keys);
    return Reflect.ownKeys(t);
  },
  getOwnPropertyDescriptor(t, k) {
    if (typeof k === 'string') cur!.fp.r.add(at(metaOf(t), k));
    return Reflect.getOwnPropertyDescriptor(t, k);
  },
};

/**
 * One recording session (one step). `wrap(world)` gives the proxy to run the step on;
 * afterwards `finish()` puts plain objects back wherever the step stored a proxy, and
 * `undo()` restores the world as it was. One session at a time.
 */
export class Recorder {
  readonly fp: Recording = { r: new Set(), w: new Set() };
  readonly metas = new Map<object, Meta>();
  private readonly proxyOf = new Map<object, object>();
  private readonly targetOf = new Map<object, object>();
  /** fresh objects the step stored into the world: unwrapped by finish() */
  private readonly stored: object[] = [];
  private readonly log: Undo[] = [];

  wrap(w: World): World {
    cur = this;
    const rec = this;
    const root: ProxyHandler<World> = {
      get(t, k) {
        const v = Reflect.get(t, k);
        if (typeof k !== 'string' || UNTRACKED.has(k)) return v;
        const id = child(0, k);
        rec.fp.r.add(id);
        return typeof v === 'object' && v !== null ? rec.node(v, id, 1, DEPTH[k] ?? 1) : v;
      },
      set(t, k, v) {
        if (typeof k === 'string') {
          if (!UNTRACKED.has(k)) rec.fp.w.add(child(0, k));
          rec.log.push([t as unknown as Record<string, unknown>, k, true, Reflect.get(t, k)]);
        }
        return Reflect.set(t, k, rec.unwrapTop(v));
      },
    };
    return new Proxy(w, root);
  }

  /** The proxy of an object found at path `path` (depth levels below the root, resources at max). */
  node(v: object, path: number, depth: number, max: number): unknown {
    if (this.targetOf.has(v)) return v; // already a proxy (stored during this step)
    let p = this.proxyOf.get(v);
    if (p) return p;
    const inside = depth >= max;
    this.metas.set(v, { path, depth, max, inside, keys: inside ? path : child(path, '#') });
    p = new Proxy(v as Record<string, unknown>, handler);
    this.proxyOf.set(v, p);
    this.targetOf.set(p, v);
    return p;
  }

  /** Record a write of t[k] (resource `id`) and log what it overwrites. */
  willWrite(t: Record<string, unknown>, k: string, id: number, keys: number, inside: boolean, x?: unknown) {
    const fp = this.fp;
    fp.w.add(id);
    const had = Object.hasOwn(t, k);
    if (Array.isArray(t)) {
      const len = t.length;
      if (k === 'length') {
        // shrinking drops elements without a trap of their own
        const to = typeof x === 'number' ? x : len;
        for (let i = to; i < len; i++) this.log.push([t, String(i), Object.hasOwn(t, String(i)), t[i]]);
      } else {
        this.log.push([t, 'length', true, len]);
        if (!had && !inside) fp.w.add(this.lengthOf(keys));
      }
    }
    if (!had && !inside) fp.w.add(keys);
    this.log.push([t, k, had, had ? t[k] : undefined]);
  }

  /** The length resource next to a keys resource (path/#  ->  path/length). */
  private lengthOf(keys: number): number {
    const name = pathName(keys);
    const parent = name.slice(0, -2);
    let id = 0;
    for (const seg of parent.split('/')) id = child(id, seg);
    return child(id, 'length');
  }

  /** Store plain objects, not proxies; remember fresh objects (they may hold proxies). */
  unwrapTop(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    const t = this.targetOf.get(v);
    if (t) return t;
    this.stored.push(v);
    return v;
  }

  /** After the step: no proxy may stay in the world. */
  finish() {
    for (const o of this.stored) this.unwrapDeep(o, 0);
    if (cur === this) cur = null;
  }

  private unwrapDeep(o: object, guard: number) {
    if (guard > 200) throw new Error('footprint: unwrapping a cyclic world');
    const rec = o as Record<string, unknown>;
    for (const k in rec) {
      const v = rec[k];
      if (typeof v !== 'object' || v === null) continue;
      const t = this.targetOf.get(v);
      if (t) rec[k] = t;
      else this.unwrapDeep(v, guard + 1);
    }
  }

  /** The step's footprint, compact (after finish()). */
  footprint(): Footprint {
    return { r: sortedIds(this.fp.r), w: sortedIds(this.fp.w) };
  }

  /** The objects this step wrote to, with the keys written (before undo: a kept state's copy shares the rest, canon.ts sharedCopy). */
  written(): Map<object, Set<string>> {
    const out = new Map<object, Set<string>>();
    for (const [t, k] of this.log) {
      let ks = out.get(t);
      if (!ks) out.set(t, (ks = new Set()));
      ks.add(k);
    }
    return out;
  }

  /** Take the step back: every logged write, newest first. */
  undo() {
    if (cur === this) cur = null;
    const log = this.log;
    for (let i = log.length - 1; i >= 0; i--) {
      const [t, k, had, old] = log[i]!;
      if (had) t[k] = old;
      else delete t[k];
    }
    log.length = 0;
  }

  /** The components (heap/<ptr>, rcu, sbs/<i>, procs/<name>, tasks/<i>, servers/<k>) the step wrote. */
  writtenComponents(): Set<string> {
    const out = new Set<string>();
    for (const id of this.fp.w) {
      const n = names[id]!;
      const i = n.indexOf('/');
      if (i < 0) {
        out.add(n); // a whole root: clock, jiffies, or (never in practice) heap itself
        continue;
      }
      const root = n.slice(0, i);
      if (root === 'rcu') {
        out.add('rcu');
        continue;
      }
      const j = n.indexOf('/', i + 1);
      const key = j < 0 ? n.slice(i + 1) : n.slice(i + 1, j);
      if (key === '#' || key === 'length') continue; // the keys themselves: the new or deleted key is written too
      out.add(`${root}/${key}`);
    }
    return out;
  }
}
