// The explorer's view of a world: components, their canonical text, and the state's hash.
//
// A World is plain data. The explorer cuts it into components (one per heap object,
// process, server, superblock and task, plus the RCU state) and keeps each as canonical
// JSON: keys sorted, so two worlds that differ only in the order keys were added are the
// same state (the model never depends on that order: where it iterates a map and order
// matters, it sorts). A state is its components; a child state shares its parent's
// unchanged component strings, so a stored state costs only what its step changed.
//
// The state's hash is the XOR of one 128-bit md5 per component (of "key=json"): a step
// that changes two components costs two small md5s, not a hash of the whole world.
// Pointers need no renaming: the explorer numbers each task's allocations in a range of
// its own (explore.ts, "allocation-order-independent numbering"), so interleavings that
// allocate the same objects in a different global order give them the same numbers.
import { createHash } from 'node:crypto';
import type { Task, World } from '../kernel/state.ts';

/** Canonical JSON: keys sorted. Plain data only (no undefined, no NaN, no holes). */
export function canonicalJSON(v: unknown): string {
  switch (typeof v) {
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`explore: ${v} in the world (not plain data)`);
      return String(v);
    case 'string':
      return JSON.stringify(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (v === null) return 'null';
      if (Array.isArray(v)) {
        let s = '[';
        for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + canonicalJSON(v[i]);
        return s + ']';
      }
      const keys = Object.keys(v);
      if (keys.length > 1) keys.sort();
      let s = '{';
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        s += (i ? ',' : '') + quote(k) + ':' + canonicalJSON((v as Record<string, unknown>)[k]);
      }
      return s + '}';
    }
    default:
      throw new Error(`explore: ${typeof v} in the world (not plain data)`);
  }
}

const quoted = new Map<string, string>();
function quote(k: string): string {
  let q = quoted.get(k);
  if (q === undefined) {
    q = JSON.stringify(k);
    if (quoted.size < 100_000) quoted.set(k, q);
  }
  return q;
}

/**
 * A component: a private copy of its value (never handed out: worlds are built from copies
 * of it) and the four 32-bit words of md5("key=" + its canonical JSON).
 */
export interface Comp {
  obj: unknown;
  h0: number;
  h1: number;
  h2: number;
  h3: number;
}

/** The hash of a component's canonical text; `obj` is filled in when the state is kept. */
export function makeComp(key: string, json: string, obj: unknown = null): Comp {
  const d = createHash('md5').update(key).update('=').update(json).digest();
  return { obj, h0: d.readInt32LE(0), h1: d.readInt32LE(4), h2: d.readInt32LE(8), h3: d.readInt32LE(12) };
}

export function sameHash(a: Digest, b: Digest): boolean {
  return a.h0 === b.h0 && a.h1 === b.h1 && a.h2 === b.h2 && a.h3 === b.h3;
}

/** The XOR of component hashes. */
export interface Digest {
  h0: number;
  h1: number;
  h2: number;
  h3: number;
}

export function digestOf(comps: Comps): Digest {
  const d = { h0: 0, h1: 0, h2: 0, h3: 0 };
  for (const c of comps) if (c) xorInto(d, c);
  return d;
}

export function xorInto(d: Digest, c: Digest) {
  d.h0 ^= c.h0;
  d.h1 ^= c.h1;
  d.h2 ^= c.h2;
  d.h3 ^= c.h3;
}

const buf = Buffer.alloc(16);
/** The state key: the digest, and the violation kinds recorded on the way (see explore.ts). */
export function stateKey(d: Digest, kinds: string): string {
  buf.writeInt32LE(d.h0, 0);
  buf.writeInt32LE(d.h1, 4);
  buf.writeInt32LE(d.h2, 8);
  buf.writeInt32LE(d.h3, 12);
  const s = buf.toString('base64');
  return kinds ? `${s}#${kinds}` : s;
}

/** A task as a component: everything but its program (ops never change). */
function taskView(t: Task): Omit<Task, 'ops'> {
  const { ops: _ops, ...rest } = t;
  return rest;
}

/** The object a component key names in a world, or undefined if it is not there. */
export function componentValue(w: World, key: string): unknown {
  if (key === 'rcu') return w.rcu;
  if (key === 'jiffies') return w.jiffies;
  const i = key.indexOf('/');
  const root = key.slice(0, i);
  const k = key.slice(i + 1);
  switch (root) {
    case 'heap':
      return w.heap[Number(k)];
    case 'sbs':
      return w.sbs[Number(k)];
    case 'procs':
      return w.procs[k];
    case 'servers':
      return w.servers[k];
    case 'tasks': {
      const t = w.tasks[Number(k)];
      return t && taskView(t);
    }
    default:
      throw new Error(`explore: no component ${key}`);
  }
}

/**
 * Component keys numbered in the order an exploration first meets them: a state's
 * components are an array by that number (a child copies 8 bytes per component, not a map),
 * and a world is built back in that order (the processes in their original order).
 */
export class Slots {
  private readonly index = new Map<string, number>();
  readonly keys: string[] = [];
  /** the key's root (its first letter code, 'r' for rcu) and the part after the slash */
  readonly code: number[] = [];
  readonly sub: string[] = [];

  slot(key: string): number {
    let n = this.index.get(key);
    if (n === undefined) {
      n = this.keys.length;
      this.index.set(key, n);
      this.keys.push(key);
      const i = key.indexOf('/');
      // sbs and servers share an 's': tell them apart by the second letter
      this.code.push(key.startsWith('servers/') ? 83 : key.charCodeAt(0));
      this.sub.push(i < 0 ? '' : key.slice(i + 1));
    }
    return n;
  }
}

/** A state's components, by slot (undefined: not in this world). */
export type Comps = (Comp | undefined)[];

/** Every component of a world. */
export function components(w: World, slots: Slots): Comps {
  const m: Comps = [];
  const add = (key: string, v: unknown) => {
    m[slots.slot(key)] = makeComp(key, canonicalJSON(v), sortedCopy(v));
  };
  for (const k of Object.keys(w.heap)) add(`heap/${k}`, w.heap[Number(k)]);
  add('rcu', w.rcu);
  add('jiffies', w.jiffies);
  w.sbs.forEach((sb, i) => add(`sbs/${i}`, sb));
  for (const k of Object.keys(w.procs)) add(`procs/${k}`, w.procs[k]);
  for (const k of Object.keys(w.servers)) add(`servers/${k}`, w.servers[k]);
  w.tasks.forEach((t, i) => add(`tasks/${i}`, taskView(t)));
  return m;
}

/** What a world has besides its components: constant, or kept by the explorer itself. */
export interface WorldFrame {
  profile: string;
  mutants: string[];
  /** the tasks' programs, by task index */
  ops: unknown[][];
}

/**
 * A world made from components. With copy false the world shares the components' objects:
 * the explorer then undoes every step it takes on it (footprint.ts), so they come back as
 * they were (--paranoid checks that). With copy true the world is a private deep copy.
 */
export function buildFromComponents(comps: Comps, slots: Slots, frame: WorldFrame, clock: number, step: number, copy: boolean): World {
  const heap: World['heap'] = {};
  const sbs: World['sbs'] = [];
  const procs: World['procs'] = {};
  const servers: World['servers'] = {};
  const tasks: World['tasks'] = [];
  let rcu = null as unknown as World['rcu'];
  let jiffies = 0;
  for (let i = 0; i < comps.length; i++) {
    const c = comps[i];
    if (!c) continue;
    const v = (copy ? clonePlain(c.obj) : c.obj) as never;
    const k = slots.sub[i]!;
    switch (slots.code[i]) {
      case 104: // heap
        heap[k as unknown as number] = v;
        break;
      case 114: // rcu
        rcu = v;
        break;
      case 106: // jiffies
        jiffies = v;
        break;
      case 115: // sbs
        sbs[Number(k)] = v;
        break;
      case 83: // servers
        servers[k] = v;
        break;
      case 112: // procs
        procs[k] = v;
        break;
      case 116: {
        // tasks: the component is the task without its program
        const t = v as Task;
        t.ops = frame.ops[Number(k)]!;
        tasks[Number(k)] = t;
        break;
      }
    }
  }
  return { profile: frame.profile, mutants: frame.mutants, step, clock, jiffies, heap, nextPtr: 0, rcu, sbs, procs, tasks, servers, violations: [] };
}

/** md5 of a whole world's canonical components, the slow way (tests and --paranoid). */
export function fullKey(w: World, kinds: string): string {
  return stateKey(digestOf(components(w, new Slots())), kinds);
}

/** A deep copy of plain data (faster than structuredClone or a JSON round trip). */
export function clonePlain<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const n = v.length;
    const a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = clonePlain(v[i]);
    return a as T;
  }
  const o: Record<string, unknown> = {};
  for (const k in v) o[k] = clonePlain((v as Record<string, unknown>)[k]);
  return o as T;
}

/**
 * A deep copy with every object's keys in sorted order: the one representative of all
 * worlds that differ only in the order keys were added (so a state's footprints do not
 * depend on which interleaving reached it first).
 */
export function sortedCopy<T>(v: T): T {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const n = v.length;
    const a = new Array(n);
    for (let i = 0; i < n; i++) a[i] = sortedCopy(v[i]);
    return a as T;
  }
  const keys = Object.keys(v);
  if (keys.length > 1) keys.sort();
  const o: Record<string, unknown> = {};
  for (const k of keys) o[k] = sortedCopy((v as Record<string, unknown>)[k]);
  return o as T;
}
