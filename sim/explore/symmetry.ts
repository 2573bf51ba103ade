// Symmetry reduction: interchangeable user tasks, one representative per orbit.
//
// Two user tasks are interchangeable when they run the same program as the same kind of
// process: same ops, same credentials, a process of their own. Swapping them (their names,
// processes, pids, the objects they allocated, their lock owners) maps every state to a state
// that behaves the same, step for step, with the tasks' roles swapped: an automorphism of the
// model. The explorer keeps the state it reached (so schedules and counterexamples stay real)
// but remembers it by the hash of its orbit's canonical representative, so a state whose
// mirror image was already seen is not explored again (TLC's symmetry sets; SPIN has none).
//
// The renaming must follow every place a task's identity sits, or two states that differ would
// be merged. This file makes identity recognisable by value, not by knowing every field:
//   - pointers: the explorer numbers task i's allocations from base*(i+1) (explore.ts), and
//     with symmetry on base is 2^32, so a number in a symmetric task's range is its pointer
//     wherever it appears (object keys, frame locals, fd tables): every other number the model
//     keeps (sizes, offsets, jiffies, 32-bit lock-owner hashes) is below 2^32, and the
//     scenario's own numbers are checked to be. The one object setup makes for each user (its
//     cred) is moved into the user's range first (relocateCreds).
//   - names: a string equal to a symmetric task's name or process name, or one of the forms
//     the model builds from them ("files:<proc>", "file#<ptr>"); any other string that
//     contains a symmetric task's name is refused with an error, never guessed at.
//   - the wire: a request in a connection's queues is hex bytes; its header's pid (1000 + task
//     index) and the lock_owner of FLUSH, READ, WRITE, SETATTR and RELEASE (a hash of the
//     process name, fuse_lock_owner_id) are renamed at their offsets in the wire structs; a
//     lock request (GETLK, SETLK, SETLKW) is refused. Decoded, a lock owner is a number equal
//     to a symmetric process's hash (below 2^32, unlike pointers) or its 0x text in the
//     server's owner table.
// Programs that take locks (lock, flock), and tasks some program names (wait, signal), are not
// treated as interchangeable (findSymmetry says why).
//
// The canonical representative: sort each group's tasks by a signature (the hash of the task
// and its process with the group's identities blurred), then try every order of the tasks whose
// signatures tie and keep the smallest hash. The number of orders giving that smallest hash is
// the state's stabiliser, so the orbit's size is |G| / that: the sum over representatives is
// the state count without symmetry (a test checks it), printed as the reduction.
import type { Task, World } from '../kernel/state.ts';
import { lock_owner_id_of } from '../kernel/fuse/file.ts';
import { fromHex, toHex } from '../kernel/fuse/hex.ts';
import { PID_BASE } from '../kernel/pid.ts';
import { FUSE_FLUSH_IN, FUSE_IN_HEADER, FUSE_READ_IN, FUSE_RELEASE_IN, FUSE_SETATTR_IN, FUSE_WRITE_IN, type Layout } from '../wire/structs.ts';
import { FUSE_OPCODE } from '../wire/uapi.ts';
import { feedDigest, renamedHash, taskView, xorInto, type Comp, type Comps, type Digest, type Slots } from './canon.ts';

/** The pointer numbering's base with symmetry on: task i allocates from SYM_BASE * (i + 1). */
export const SYM_BASE = 2 ** 32;

export interface Symmetry {
  /** interchangeable task indices, each group ascending */
  groups: number[][];
  /** per task index: in a group? */
  member: boolean[];
  names: string[];
  procs: string[];
  /** per task index: the lock-owner id the kernel sends for its process */
  owners: number[];
  /** |G|: the product of the groups' factorials */
  order: number;
  /** the members' names and process names: a string holding one of them names a member */
  watch: string[];
  /** every form of a member's identity as a whole string (names, "files:<proc>", lock owner ids as text) */
  known: Set<string>;
  /** the members' lock owner ids */
  ownerIds: Set<number>;
}

/** Syscalls (a task's compiled ops, sim/scenario/build.ts) that carry identity the renaming does not follow. */
const NOT_SYMMETRIC: Record<string, string> = {
  fcntl: 'takes POSIX locks (the lock table keeps owners and pids the renaming does not follow)',
  flock: 'takes flock locks (owners and pids on the wire)',
};
/** Syscalls that name a task: the task named cannot be swapped with another (its name is in someone's program). */
const NAMES_TASK = new Set(['wait', 'signal']);

function stable(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

/** The largest number in plain data (the scenario's ops), to check it stays below the pointer ranges. */
function maxNumber(v: unknown): number {
  if (typeof v === 'number') return Math.abs(v);
  if (typeof v !== 'object' || v === null) return 0;
  let m = 0;
  for (const x of Object.values(v)) m = Math.max(m, maxNumber(x));
  return m;
}

/**
 * The groups of interchangeable user tasks of a world after setup, or why there are none. A
 * task qualifies when it is a user task with a process of its own, whose cred only that process
 * holds, and whose program takes no lock and names no task; tasks group when their programs,
 * their processes (but the name) and their creds (but the pointer) are equal.
 */
export function findSymmetry(w: World): { sym: Symmetry | null; why: string } {
  const byKey = new Map<string, number[]>();
  const refused: string[] = [];
  const procUsers = new Map<string, number>();
  for (const t of w.tasks) procUsers.set(t.proc, (procUsers.get(t.proc) ?? 0) + 1);
  const named = new Set<string>();
  for (const t of w.tasks) for (const o of t.ops as { sys: string; args?: { task?: unknown } }[]) if (NAMES_TASK.has(o.sys) && typeof o.args?.task === 'string') named.add(o.args.task);
  w.tasks.forEach((t, i) => {
    if (t.role !== 'user') return;
    const p = w.procs[t.proc];
    if (!p || procUsers.get(t.proc) !== 1) return;
    const bad = (t.ops as { sys: string }[]).find((o) => NOT_SYMMETRIC[o.sys]);
    if (bad) {
      refused.push(`${t.name} ${NOT_SYMMETRIC[bad.sys]}`);
      return;
    }
    if (named.has(t.name)) {
      refused.push(`${t.name} is named by a program (wait or signal)`);
      return;
    }
    if (maxNumber(t.ops) >= 2 ** 31) {
      refused.push(`${t.name}'s program has a number of 2^31 or more (pointers could not be told apart)`);
      return;
    }
    const cred = w.heap[p.cred];
    if (!cred || cred.type !== 'cred' || cred.usage !== 1 || t.cred !== undefined || t.frames.length || t.next !== 0) return;
    const { name: _n, cred: _c, ...procRest } = p;
    const { ptr: _p, ...credRest } = cred;
    const key = stable({ ops: t.ops, proc: procRest, cred: credRest, refs: t.refs, results: t.results, blocked: t.blocked, done: t.done });
    const g = byKey.get(key);
    if (g) g.push(i);
    else byKey.set(key, [i]);
  });
  const groups = [...byKey.values()].filter((g) => g.length > 1);
  if (!groups.length) {
    const why = refused.length ? `no interchangeable tasks: ${refused.join('; ')}` : 'no two user tasks run the same program with the same credentials';
    return { sym: null, why };
  }
  const member = w.tasks.map(() => false);
  for (const g of groups) for (const i of g) member[i] = true;
  const fact = (n: number): number => (n <= 1 ? 1 : n * fact(n - 1));
  const names = w.tasks.map((t) => t.name);
  const procs = w.tasks.map((t) => t.proc);
  // fuse_lock_owner_id of a member's process (what FLUSH, READ, WRITE... carry)
  const owners = procs.map((p, i) => (member[i] ? lock_owner_id_of(p) : 0));
  const members = names.map((_n, i) => i).filter((i) => member[i]);
  const known = new Set<string>();
  for (const i of members) for (const k of [names[i]!, procs[i]!, `files:${procs[i]}`, ...ownerTexts(owners[i]!)]) known.add(k);
  return {
    sym: {
      groups,
      member,
      names,
      procs,
      owners,
      order: groups.reduce((n, g) => n * fact(g.length), 1),
      watch: members.flatMap((i) => [names[i]!, procs[i]!]),
      known,
      ownerIds: new Set(members.map((i) => owners[i]!)),
    },
    why: '',
  };
}

/** A lock owner id as the server's owner table writes it (requestLine: hex, or decimal). */
const ownerTexts = (o: number) => [`0x${o.toString(16)}`, String(o)];

/**
 * Move each symmetric task's cred (made by setup, held by its process alone) to the top of the
 * task's pointer range, so that the renaming finds it by value like the task's own objects.
 */
export function relocateCreds(w: World, sym: Symmetry, base: number) {
  for (const g of sym.groups) {
    for (const i of g) {
      const p = w.procs[sym.procs[i]!]!;
      const to = base * (i + 2) - 1;
      const cred = w.heap[p.cred]!;
      delete w.heap[p.cred];
      cred.ptr = to;
      w.heap[to] = cred;
      p.cred = to;
    }
  }
}

// --- the renaming ------------------------------------------------------------------------

/** Where lock_owner sits in a request's body, by opcode (from the wire structs). */
const OWNER_AT = new Map<number, number>();
function offsetOf(layout: Layout, field: string): number {
  const f = layout.fields.find((x) => x.name === field);
  if (!f) throw new Error(`symmetry: ${layout.name} has no ${field}`);
  return f.offset;
}
OWNER_AT.set(FUSE_OPCODE.FLUSH, offsetOf(FUSE_FLUSH_IN, 'lock_owner'));
OWNER_AT.set(FUSE_OPCODE.READ, offsetOf(FUSE_READ_IN, 'lock_owner'));
OWNER_AT.set(FUSE_OPCODE.WRITE, offsetOf(FUSE_WRITE_IN, 'lock_owner'));
OWNER_AT.set(FUSE_OPCODE.SETATTR, offsetOf(FUSE_SETATTR_IN, 'lock_owner'));
OWNER_AT.set(FUSE_OPCODE.RELEASE, offsetOf(FUSE_RELEASE_IN, 'lock_owner'));
const LOCK_OPS = new Set<number>([FUSE_OPCODE.GETLK, FUSE_OPCODE.SETLK, FUSE_OPCODE.SETLKW]);
const HDR = FUSE_IN_HEADER.size;
const AT_OPCODE = offsetOf(FUSE_IN_HEADER, 'opcode');
const AT_PID = offsetOf(FUSE_IN_HEADER, 'pid');

/**
 * A renaming: task index -> task index (a permutation of each group, identity elsewhere; for a
 * signature, several tasks may map to one), with the tables it derives.
 */
export class Renaming {
  readonly map: Int32Array;
  private readonly names = new Map<string, string>();
  private readonly ownerNum = new Map<number, number>();
  private readonly ownerText = new Map<string, string>();
  private readonly pid = new Map<number, number>();
  private readonly seen = new Map<string, string>();
  private readonly bearsCache = new Map<string, boolean>();
  private readonly requests = new Map<string, string>();
  identity = true;

  constructor(
    private readonly sym: Symmetry,
    private readonly base: number,
    map: Int32Array,
    /** a small number naming this renaming in the components' caches */
    readonly id = 0,
  ) {
    this.map = map;
    for (let i = 0; i < map.length; i++) {
      const j = map[i]!;
      if (!sym.member[i] || i === j) continue;
      this.identity = false;
      this.names.set(sym.names[i]!, sym.names[j]!);
      this.names.set(sym.procs[i]!, sym.procs[j]!);
      this.names.set(`files:${sym.procs[i]}`, `files:${sym.procs[j]}`);
      const a = sym.owners[i]!;
      const b = sym.owners[j]!;
      this.ownerNum.set(a, b);
      ownerTexts(a).forEach((t, k) => this.ownerText.set(t, ownerTexts(b)[k]!));
      this.pid.set(PID_BASE + i, PID_BASE + j);
    }
  }

  /** The member whose pointer range holds v (explore.ts numbers task k's objects from base*(k+1)), or -1. */
  private memberOf(v: number): number {
    if (v < this.base * 2 || !Number.isInteger(v)) return -1;
    const k = Math.floor(v / this.base) - 1;
    return this.sym.member[k] ? k : -1;
  }

  /** A pointer written in a string: an object key of ten digits or more, or "file#<ptr>"; else null. */
  private static pointerIn(s: string): { v: number; file: boolean } | null {
    if (s.startsWith('file#') && /^file#\d+$/.test(s)) return { v: Number(s.slice(5)), file: true };
    if (s.length >= 10 && /^\d+$/.test(s)) return { v: Number(s), file: false };
    return null;
  }

  num(v: number): number {
    const k = this.memberOf(v);
    if (k >= 0) return v + this.base * (this.map[k]! - k);
    return this.ownerNum.get(v) ?? v;
  }

  str(s: string): string {
    const hit = this.seen.get(s);
    if (hit !== undefined) return hit;
    let out = this.names.get(s) ?? this.ownerText.get(s);
    if (out === undefined) {
      const p = Renaming.pointerIn(s);
      if (p) {
        const to = this.num(p.v);
        out = to === p.v ? s : p.file ? `file#${to}` : String(to);
      } else {
        if (!this.sym.known.has(s)) {
          for (const n of this.sym.watch) {
            // a task's name inside a longer string: the renaming cannot know what it means
            if (s.includes(n)) throw new Error(`symmetry: the world holds "${s.length > 80 ? s.slice(0, 80) + '…' : s}", which names task ${n}; the renaming does not follow it (run with --no-symmetry)`);
          }
        }
        out = s;
      }
    }
    if (this.seen.size > 100_000) this.seen.clear();
    this.seen.set(s, out);
    return out;
  }

  /** Does the value hold a member's identity (so its mirror images differ)? */
  bears(v: unknown, key = ''): boolean {
    switch (typeof v) {
      case 'number':
        return this.memberOf(v) >= 0 || this.sym.ownerIds.has(v);
      case 'string':
        return key === 'bytes' || this.strBears(v);
      case 'object': {
        if (v === null) return false;
        if (Array.isArray(v)) {
          for (let i = 0; i < v.length; i++) if (this.bears(v[i])) return true;
          return false;
        }
        for (const k in v) {
          if (this.strBears(k) || this.bears((v as Record<string, unknown>)[k], k)) return true;
        }
        return false;
      }
      default:
        return false;
    }
  }

  private strBears(s: string): boolean {
    let b = this.bearsCache.get(s);
    if (b === undefined) {
      const p = Renaming.pointerIn(s);
      b = this.sym.known.has(s) || this.sym.watch.some((n) => s.includes(n)) || (p !== null && this.memberOf(p.v) >= 0);
      if (this.bearsCache.size > 100_000) this.bearsCache.clear();
      this.bearsCache.set(s, b);
    }
    return b;
  }

  /** A component's key renamed. */
  key(k: string): string {
    if (k.startsWith('heap/')) return `heap/${this.num(Number(k.slice(5)))}`;
    if (k.startsWith('tasks/')) return `tasks/${this.map[Number(k.slice(6))]}`;
    if (k.startsWith('procs/')) return `procs/${this.str(k.slice(6))}`;
    return k;
  }

  /** A request on the wire as hex: its header's pid and its body's lock owner. */
  request(hex: string): string {
    let out = this.requests.get(hex);
    if (out === undefined) {
      out = this.renameRequest(hex);
      if (this.requests.size > 100_000) this.requests.clear();
      this.requests.set(hex, out);
    }
    return out;
  }

  private renameRequest(hex: string): string {
    const b = fromHex(hex);
    const dv = new DataView(b.buffer);
    const opcode = dv.getUint32(AT_OPCODE, true);
    if (LOCK_OPS.has(opcode)) throw new Error(`symmetry: a lock request (opcode ${opcode}) is in flight; the renaming does not follow lock owners in it (run with --no-symmetry)`);
    const pid = this.pid.get(dv.getUint32(AT_PID, true));
    if (pid !== undefined) dv.setUint32(AT_PID, pid, true);
    const at = OWNER_AT.get(opcode);
    if (at !== undefined && b.length >= HDR + at + 8 && dv.getUint32(HDR + at + 4, true) === 0) {
      const to = this.ownerNum.get(dv.getUint32(HDR + at, true));
      if (to !== undefined) dv.setUint32(HDR + at, to, true);
    }
    return toHex(b);
  }

  value(v: unknown, key = ''): unknown {
    switch (typeof v) {
      case 'number':
        return this.num(v);
      case 'string':
        return key === 'bytes' ? this.request(v) : this.str(v);
      case 'object': {
        if (v === null) return v;
        if (Array.isArray(v)) return v.map((x) => this.value(x));
        const o: Record<string, unknown> = {};
        for (const k of Object.keys(v)) o[this.str(k)] = this.value((v as Record<string, unknown>)[k], k);
        return o;
      }
      default:
        return v;
    }
  }

  /** The world with the tasks renamed: a new world (the given one is not changed). */
  world(w: World): World {
    const tasks: World['tasks'] = new Array(w.tasks.length);
    w.tasks.forEach((t, i) => {
      const { ops, ...rest } = t; // a program is the group's, and never changes
      tasks[this.map[i]!] = { ...(this.value(rest) as object), ops } as World['tasks'][number];
    });
    return {
      ...w,
      heap: this.value(w.heap) as World['heap'],
      rcu: this.value(w.rcu) as World['rcu'],
      sbs: this.value(w.sbs) as World['sbs'],
      procs: this.value(w.procs) as World['procs'],
      servers: this.value(w.servers) as World['servers'],
      tasks,
    };
  }
}

/** Compare two digests as unsigned 128-bit numbers. */
function cmp(a: Digest, b: Digest): number {
  return (a.h0 >>> 0) - (b.h0 >>> 0) || (a.h1 >>> 0) - (b.h1 >>> 0) || (a.h2 >>> 0) - (b.h2 >>> 0) || (a.h3 >>> 0) - (b.h3 >>> 0);
}

function permutations(xs: number[]): number[][] {
  if (xs.length <= 1) return [xs];
  const out: number[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

export interface Canonical {
  /** the hash of the orbit's representative */
  digest: Digest;
  /** the renaming that makes the representative (task index -> task index) */
  map: Int32Array;
  /** how many states the orbit holds */
  orbit: number;
}

/**
 * A component's value as hashed: a task's without its program (a world built from components
 * shares the component's object and puts the program back on it).
 */
function value(key: string, c: Comp): unknown {
  return key.startsWith('tasks/') ? taskView(c.obj as Task) : c.obj;
}

/** A symmetry and its renamings, made once per exploration (each keeps its caches). */
export class SymmetryContext {
  private readonly renamings = new Map<number | string, Renaming>();
  private readonly plain: Renaming;
  /** per member: the renaming that blurs its group for its signature (it to the group's first, the others to its second) */
  private readonly blurs: Renaming[] = [];
  /** per member: the slots of its task's and its process's components, and its signature in the state at hand */
  private readonly taskSlot: number[] = [];
  private readonly procSlot: number[] = [];
  private readonly sig: Digest[] = [];
  constructor(
    readonly sym: Symmetry,
    readonly base: number,
    private readonly n: number,
  ) {
    this.plain = this.renaming(this.identityMap());
    for (const g of sym.groups) {
      for (const i of g) {
        const blur = this.identityMap();
        for (const j of g) blur[j] = j === i ? g[0]! : g[1]!;
        this.blurs[i] = this.renaming(blur);
      }
    }
  }

  identityMap(): Int32Array {
    const m = new Int32Array(this.n);
    for (let k = 0; k < this.n; k++) m[k] = k;
    return m;
  }

  renaming(map: Int32Array): Renaming {
    // the map as a number in base n (n <= 15 tasks keeps it exact), else as text
    let k: number | string = 0;
    if (map.length <= 15) for (let i = map.length - 1; i >= 0; i--) k = (k as number) * map.length + map[i]!;
    else k = map.join(',');
    let r = this.renamings.get(k);
    if (!r) {
      r = new Renaming(this.sym, this.base, map, this.renamings.size);
      this.renamings.set(k, r);
    }
    return r;
  }

  /** Does the component (key, value) name no member? Cached on the component. */
  free(key: string, c: Comp): boolean {
    if (c.free === undefined) {
      let bears = false;
      if (key.startsWith('heap/')) bears = this.plain.bears(Number(key.slice(5)));
      else if (key.startsWith('tasks/')) bears = !!this.sym.member[Number(key.slice(6))];
      else if (key.startsWith('procs/')) bears = this.plain.bears(key.slice(6));
      c.free = !bears && !this.plain.bears(value(key, c));
    }
    return c.free;
  }

  /**
   * The canonical representative of a state's orbit: its hash, the renaming and the orbit's
   * size. The state is given as its components with their hashes (`digest`, their XOR, is used
   * as is when the renaming is the identity; a renaming rehashes only the components that name
   * a member, and keeps each such hash on the component for the states that share it).
   */
  canonical(comps: Comps, slots: Slots, digest: Digest): Canonical {
    const { sym } = this;
    // 1. each member's signature: its task and process, the group's identities blurred
    // (cached on the components: a step changes one task's, the others' are its parent's)
    if (!this.taskSlot.length) {
      for (const g of sym.groups) {
        for (const i of g) {
          this.taskSlot[i] = slots.slot(`tasks/${i}`);
          this.procSlot[i] = slots.slot(`procs/${sym.procs[i]}`);
        }
      }
    }
    const sig = this.sig;
    for (const g of sym.groups) {
      for (const i of g) {
        const blur = this.blurs[i]!;
        const tc = comps[this.taskSlot[i]!]!;
        const pc = comps[this.procSlot[i]!]!;
        tc.sig ??= feedDigest([blur.value(value(`tasks/${i}`, tc))]);
        pc.sig ??= feedDigest([blur.value(pc.obj)]);
        const t = tc.sig;
        const q = pc.sig;
        sig[i] = { h0: t.h0, h1: t.h1, h2: q.h0, h3: q.h1 };
      }
    }
    // 2. sort each group by signature; the runs of equal signatures are tried in every order
    const bySig = (a: number, b: number) => cmp(sig[a]!, sig[b]!) || a - b;
    const sorted = sym.groups.map((g) => [...g].sort(bySig));
    let tied = false;
    for (const order of sorted) for (let k = 1; k < order.length; k++) if (cmp(sig[order[k - 1]!]!, sig[order[k]!]!) === 0) tied = true;
    let candidates: number[][][];
    if (!tied) candidates = [sorted];
    else {
      const choices: number[][][] = sorted.map((order) => {
        const runs: number[][] = [];
        for (const i of order) {
          const last = runs[runs.length - 1];
          if (last && cmp(sig[last[0]!]!, sig[i]!) === 0) last.push(i);
          else runs.push([i]);
        }
        // every order of the group that keeps the runs in place
        let orders: number[][] = [[]];
        for (const run of runs) {
          const ps = permutations(run);
          orders = orders.flatMap((o) => ps.map((p) => [...o, ...p]));
        }
        return orders;
      });
      candidates = [[]];
      for (const c of choices) candidates = candidates.flatMap((pre) => c.map((o) => [...pre, o]));
    }
    let best: Canonical | null = null;
    let ties = 0;
    for (const cand of candidates) {
      // the task in the k-th sorted place of a group goes to the group's k-th index
      const map = this.identityMap();
      cand.forEach((order, gi) => order.forEach((from, k) => (map[from] = sym.groups[gi]![k]!)));
      const r = this.renaming(map);
      let d = digest;
      if (!r.identity) {
        d = { h0: 0, h1: 0, h2: 0, h3: 0 };
        for (let sl = 0; sl < comps.length; sl++) {
          const c = comps[sl];
          if (!c) continue;
          const key = slots.keys[sl]!;
          if (this.free(key, c)) {
            xorInto(d, c);
            continue;
          }
          // the component's hash under this renaming, kept on it (most are the parent's)
          const ren = (c.ren ??= new Map());
          let h = ren.get(r.id);
          if (!h) {
            h = renamedHash(r.key(key), value(key, c), r);
            ren.set(r.id, h);
          }
          xorInto(d, h);
        }
      }
      const o = best ? cmp(d, best.digest) : -1;
      if (o < 0) {
        best = { digest: d, map, orbit: 0 };
        ties = 1;
      } else if (o === 0) ties++;
    }
    best!.orbit = sym.order / ties;
    return best!;
  }
}
