// The explorer's view of a world: components, their canonical encoding, and the state's hash.
//
// A World is plain data. The explorer cuts it into components (one per heap object,
// process, server, superblock and task, plus the RCU state). A component's hash is a
// 128-bit MurmurHash3 (x86_128 mixing) of its canonical encoding: a stream of 32-bit
// words, type tag first, with object keys in sorted order, so two worlds that differ only
// in the order keys were added are the same state (the model never depends on that order:
// where it iterates a map and order matters, it sorts). The encoding is unambiguous (every
// string and container carries its length), and it is fed to the hash as the value is
// walked: no JSON text is built (that, and a crypto md5 per component, were a quarter of
// the explorer's time; issue 13). A state is its components; a child state shares its
// parent's unchanged components, so a stored state costs only what its step changed.
//
// The state's hash is the XOR of its components' hashes: a step that changes two
// components costs two small hashes, not a hash of the whole world.
// Pointers need no renaming: the explorer numbers each task's allocations in a range of
// its own (explore.ts, "allocation-order-independent numbering"), so interleavings that
// allocate the same objects in a different global order give them the same numbers.
import type { Task, World } from '../kernel/state.ts';

// --- a streaming 128-bit hash: MurmurHash3's x86_128 block mix, fed one word at a time ---

let a1 = 0;
let a2 = 0;
let a3 = 0;
let a4 = 0;
/** words waiting for a 4-word block, and how many */
let b0 = 0;
let b1 = 0;
let b2 = 0;
let nb = 0;
let words = 0;
const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;
const rotl = (x: number, r: number) => (x << r) | (x >>> (32 - r));

function block(k1: number, k2: number, k3: number, k4: number) {
  k1 = Math.imul(rotl(Math.imul(k1, C1), 15), C2);
  a1 = (Math.imul(rotl(a1 ^ k1, 19) + a2, 5) + 0x561ccd1b) | 0;
  k2 = Math.imul(rotl(Math.imul(k2, C2), 16), C3);
  a2 = (Math.imul(rotl(a2 ^ k2, 17) + a3, 5) + 0x0bcaa747) | 0;
  k3 = Math.imul(rotl(Math.imul(k3, C3), 17), C4);
  a3 = (Math.imul(rotl(a3 ^ k3, 15) + a4, 5) + 0x96cd1c35) | 0;
  k4 = Math.imul(rotl(Math.imul(k4, C4), 18), C1);
  a4 = (Math.imul(rotl(a4 ^ k4, 13) + a1, 5) + 0x32ac3b17) | 0;
}

function word(w: number) {
  words++;
  switch (nb) {
    case 0:
      b0 = w;
      nb = 1;
      return;
    case 1:
      b1 = w;
      nb = 2;
      return;
    case 2:
      b2 = w;
      nb = 3;
      return;
    default:
      block(b0, b1, b2, w);
      nb = 0;
  }
}

function fmix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function begin(seed: number) {
  a1 = a2 = a3 = a4 = seed;
  nb = 0;
  words = 0;
}

/** The hash of the words fed since begin() (the tail zero-padded; the word count tells it apart). */
function end<T extends Digest>(out: T): T {
  if (nb) {
    if (nb < 2) b1 = 0;
    if (nb < 3) b2 = 0;
    block(b0, b1, b2, 0);
  }
  let h1 = a1 ^ words;
  let h2 = a2 ^ words;
  let h3 = a3 ^ words;
  let h4 = a4 ^ words;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  out.h0 = h1;
  out.h1 = (h2 + h1) | 0;
  out.h2 = (h3 + h1) | 0;
  out.h3 = (h4 + h1) | 0;
  return out;
}

// type tags of the canonical encoding
const T_INT = 1;
const T_NUM = 2;
const T_STR = 3;
const T_FALSE = 4;
const T_TRUE = 5;
const T_NULL = 6;
const T_ARR = 7;
const T_OBJ = 8;
const f64 = new Float64Array(1);
const i32 = new Int32Array(f64.buffer);

function str(s: string) {
  const n = s.length;
  word(n);
  let i = 0;
  for (; i + 1 < n; i += 2) word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < n) word(s.charCodeAt(i));
}

/**
 * Long strings (the server's log lines, up to a kilobyte for INIT) are fed as their own
 * 128-bit hash, computed once per distinct string: the same line sits in thousands of
 * states and is re-fed whenever its component changes. V8 keeps a string's own hash in
 * the string, so finding it again in the map costs no pass over its characters.
 */
const LONG = 24;
const T_LSTR = 9;
const longHash = new Map<string, Int32Array>();
function longStr(v: string) {
  let h = longHash.get(v);
  if (!h) {
    // the walk in progress is suspended: save it, hash the string alone, restore
    const s1 = a1, s2 = a2, s3 = a3, s4 = a4, c0 = b0, c1 = b1, c2 = b2, n = nb, wc = words;
    begin(0x2545f491);
    str(v);
    const d = end({ h0: 0, h1: 0, h2: 0, h3: 0 });
    h = Int32Array.of(d.h0, d.h1, d.h2, d.h3);
    if (longHash.size > 1_000_000) longHash.clear();
    longHash.set(v, h);
    a1 = s1; a2 = s2; a3 = s3; a4 = s4; b0 = c0; b1 = c1; b2 = c2; nb = n; words = wc;
  }
  word(T_LSTR);
  word(h[0]!);
  word(h[1]!);
  word(h[2]!);
  word(h[3]!);
}

/** Are the keys already in sorted order? (objects kept by the explorer are; most others too) */
function inOrder(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

/** Feed the canonical encoding of plain data (no undefined, no NaN, no holes, no functions). */
function feed(v: unknown) {
  switch (typeof v) {
    case 'number':
      feedNumber(v);
      return;
    case 'string':
      feedString(v);
      return;
    case 'boolean':
      word(v ? T_TRUE : T_FALSE);
      return;
    case 'object': {
      if (v === null) {
        word(T_NULL);
        return;
      }
      if (Array.isArray(v)) {
        const n = v.length;
        word(T_ARR);
        word(n);
        for (let i = 0; i < n; i++) {
          if (!(i in v)) throw new Error('explore: an array with a hole in the world (not plain data)');
          feed(v[i]);
        }
        return;
      }
      const keys = Object.keys(v);
      if (keys.length > 1 && !inOrder(keys)) keys.sort();
      word(T_OBJ);
      word(keys.length);
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        str(k);
        feed((v as Record<string, unknown>)[k]);
      }
      return;
    }
    default:
      throw new Error(`explore: ${typeof v} in the world (not plain data)`);
  }
}

/** A renaming of identities inside plain data (symmetry.ts's Renaming). */
export interface Renamer {
  num(v: number): number;
  str(s: string): string;
  /** a request's wire bytes, as hex (under the key "bytes") */
  request(hex: string): string;
}

function feedNumber(v: number) {
  if ((v | 0) === v) {
    word(T_INT);
    word(v);
    return;
  }
  if (!Number.isFinite(v)) throw new Error(`explore: ${v} in the world (not plain data)`);
  f64[0] = v === 0 ? 0 : v; // -0 is 0, as in JSON
  word(T_NUM);
  word(i32[0]!);
  word(i32[1]!);
}

function feedString(v: string) {
  if (v.length > LONG) longStr(v);
  else {
    word(T_STR);
    str(v);
  }
}

/**
 * feed(renamed value) without building the renamed value: numbers and strings go through the
 * renamer, object keys too (and are fed in the order of their new names). The same words as
 * feed() of the renamed copy, so the same hash.
 */
function feedRenamed(v: unknown, r: Renamer, key: string) {
  switch (typeof v) {
    case 'number':
      feedNumber(r.num(v));
      return;
    case 'string':
      feedString(key === 'bytes' ? r.request(v) : r.str(v));
      return;
    case 'object': {
      if (v === null || !Array.isArray(v)) break;
      const n = v.length;
      word(T_ARR);
      word(n);
      for (let i = 0; i < n; i++) feedRenamed(v[i], r, '');
      return;
    }
    default:
      feed(v);
      return;
  }
  if (v === null) {
    word(T_NULL);
    return;
  }
  const keys = Object.keys(v);
  const names = keys.map((k) => r.str(k));
  let order: number[] | null = null;
  if (names.length > 1 && !inOrder(names)) {
    order = names.map((_n, i) => i);
    order.sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
  }
  word(T_OBJ);
  word(keys.length);
  for (let j = 0; j < keys.length; j++) {
    const i = order ? order[j]! : j;
    str(names[i]!);
    feedRenamed((v as Record<string, unknown>)[keys[i]!], r, keys[i]!);
  }
}

/** makeComp(key, the value renamed by r): the component's hash in a mirror image (symmetry.ts). */
export function renamedHash(key: string, value: unknown, r: Renamer): Digest {
  begin(0x5f3759df);
  str(key);
  feedRenamed(value, r, '');
  return end({ h0: 0, h1: 0, h2: 0, h3: 0 });
}

/**
 * A component: a private copy of its value (never handed out: worlds are built from copies
 * of it) and the four 32-bit words of its 128-bit hash.
 */
export interface Comp {
  obj: unknown;
  /** symmetry.ts: the component names no interchangeable task (its hash is its mirror images' too); computed once */
  free?: boolean;
  /** symmetry.ts: the component's hash under each renaming tried (by the renaming's id) */
  ren?: Map<number, Digest>;
  /** symmetry.ts: the member's signature part this component gives (a task's or a process's) */
  sig?: Digest;
  h0: number;
  h1: number;
  h2: number;
  h3: number;
}

/** The hash of a component (its key and its value's canonical encoding); `obj` is filled in when the state is kept. */
export function makeComp(key: string, value: unknown, obj: unknown = null): Comp {
  begin(0x5f3759df);
  str(key);
  feed(value);
  return end({ obj, h0: 0, h1: 0, h2: 0, h3: 0 });
}

const kindsHash = new Map<string, Digest>();
/**
 * The state's fingerprint: the XOR of its components' hashes and, when steps on the way
 * recorded violations, the hash of their kinds (part of the state: see explore.ts).
 */
export function fingerprint(d: Digest, kinds: string): Digest {
  if (!kinds) return { h0: d.h0, h1: d.h1, h2: d.h2, h3: d.h3 };
  let k = kindsHash.get(kinds);
  if (!k) {
    begin(0x1b873593);
    str('#kinds');
    str(kinds);
    k = end({ h0: 0, h1: 0, h2: 0, h3: 0 });
    kindsHash.set(kinds, k);
  }
  return { h0: d.h0 ^ k.h0, h1: d.h1 ^ k.h1, h2: d.h2 ^ k.h2, h3: d.h3 ^ k.h3 };
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

/** A state's fingerprint as text (32 hex digits): for --hashes, shard merges and tests. */
export function stateKey(d: Digest, kinds: string): string {
  return hex(fingerprint(d, kinds));
}

export function hex(f: Digest): string {
  const h = (x: number) => (x >>> 0).toString(16).padStart(8, '0');
  return h(f.h0) + h(f.h1) + h(f.h2) + h(f.h3);
}

/** A task as a component: everything but its program (ops never change). */
export function taskView(t: Task): Omit<Task, 'ops'> {
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

/** Each component of a world, as its key and its value, in one order (the one rule for what a component is). */
function eachComponent(w: World, add: (key: string, v: unknown) => void) {
  for (const k of Object.keys(w.heap)) add(`heap/${k}`, w.heap[Number(k)]);
  add('rcu', w.rcu);
  add('jiffies', w.jiffies);
  w.sbs.forEach((sb, i) => add(`sbs/${i}`, sb));
  for (const k of Object.keys(w.procs)) add(`procs/${k}`, w.procs[k]);
  for (const k of Object.keys(w.servers)) add(`servers/${k}`, w.servers[k]);
  w.tasks.forEach((t, i) => add(`tasks/${i}`, taskView(t)));
}

/** Every component of a world. */
export function components(w: World, slots: Slots): Comps {
  const m: Comps = [];
  eachComponent(w, (key, v) => {
    m[slots.slot(key)] = makeComp(key, v, sortedCopy(v));
  });
  return m;
}

/**
 * The state's hash of a whole world, as digestOf(components(w)) gives it, without copying or
 * keeping the components (symmetry.ts: the hash of a renamed world).
 */
export function worldDigest(w: World): Digest {
  const d: Digest = { h0: 0, h1: 0, h2: 0, h3: 0 };
  eachComponent(w, (key, v) => xorInto(d, makeComp(key, v)));
  return d;
}

/** The hash of a few values (a symmetry signature). */
export function feedDigest(values: unknown[]): Digest {
  begin(0x68e31da4);
  feed(values);
  return end({ h0: 0, h1: 0, h2: 0, h3: 0 });
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

/** The hash of a whole world's components, the slow way (tests and --paranoid). */
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
 * sortedCopy, sharing what the step did not change. `parent` is the component's value in the
 * parent state, `written` the step's write targets with the keys written. An object reached
 * from the component's root through keys the step did not replace, with nothing written at or
 * below it, is the parent state's own object in the same place: the copy keeps it. A child
 * state then costs what its step changed, not a copy of each changed component (the server's
 * state with its policy, a connection with its queues). Sound because the explorer changes a
 * kept object only inside a step, through the recorder, and undoes it; and because only an
 * object in its old place is shared, no object comes to sit in two components (a fresh or
 * moved object is copied, as sortedCopy does).
 */
export function sharedCopy<T>(v: T, parent: unknown, written: Map<object, Set<string>>): T {
  const clean = new Map<object, boolean>();
  const isClean = (x: object): boolean => {
    let c = clean.get(x);
    if (c !== undefined) return c;
    c = !written.has(x);
    if (c) {
      if (Array.isArray(x)) {
        for (let i = 0; i < x.length && c; i++) {
          const e = x[i] as unknown;
          if (typeof e === 'object' && e !== null && !isClean(e)) c = false;
        }
      } else {
        for (const k in x) {
          const e = (x as Record<string, unknown>)[k];
          if (typeof e === 'object' && e !== null && !isClean(e)) {
            c = false;
            break;
          }
        }
      }
    }
    clean.set(x, c);
    return c;
  };
  /** an object's copy with sorted keys; a value stays shared when inPlace(key) says it is where the parent had it */
  const copyObject = (x: Record<string, unknown>, inPlace: (k: string) => boolean): Record<string, unknown> => {
    const keys = Object.keys(x);
    if (keys.length > 1) keys.sort();
    const o: Record<string, unknown> = {};
    for (const k of keys) o[k] = copy(x[k], inPlace(k));
    return o;
  };
  /** inPlace: x is where the parent state had it (every key on the way unreplaced) */
  const copy = (x: unknown, inPlace: boolean): unknown => {
    if (typeof x !== 'object' || x === null) return x;
    if (inPlace && isClean(x)) return x;
    const ks = inPlace ? written.get(x) : undefined;
    if (Array.isArray(x)) {
      const n = x.length;
      const a = new Array(n);
      for (let i = 0; i < n; i++) a[i] = copy(x[i], inPlace && !ks?.has(String(i)));
      return a;
    }
    return copyObject(x as Record<string, unknown>, (k) => inPlace && !ks?.has(k));
  };
  if (v === parent || typeof v !== 'object' || v === null || typeof parent !== 'object' || parent === null || Array.isArray(v)) return copy(v, v === parent) as T;
  // a view of the parent's object (a task without its program): its keys are the parent's places
  const p = parent as Record<string, unknown>;
  const pk = written.get(p);
  return copyObject(v as Record<string, unknown>, (k) => (v as Record<string, unknown>)[k] === p[k] && !pk?.has(k)) as T;
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
