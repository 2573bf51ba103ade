// fpsim explore: every interleaving of a scenario's tasks, breadth-first.
//
// After the scenario's setup (run sequentially, exactly as runScenario does), every runnable
// task (user tasks, server threads, the server's session loop, the rcu_gp kthread) is a
// choice at every state. A state is a whole World (plain data); states are deduplicated by
// a 128-bit fingerprint of a canonical encoding (canon.ts, visited.ts: hash compaction, or
// bitstate), so the search ends on any finite model. Breadth-first, so the first
// trace found to a violation kind is a shortest one. Sleep sets, with footprints recorded
// by proxies (footprint.ts), skip interleavings that only reorder independent steps; see
// docs/explorer.md for why this loses no state and no shortest trace.
import v8 from 'node:v8';
import type { Scenario } from '../scenario/schema.ts';
import type { World } from '../kernel/state.ts';
import type { Violation } from '../kernel/lib/violation.ts';
import { stepTask, taskRunnable } from '../kernel/exec.ts';
import { startWorld, teardown, type RunOptions } from '../scenario/run.ts';
import { checkInvariants, checkStep } from '../check/invariants.ts';
import { deadlock, stuckTasks } from '../check/deadlock.ts';
import { buildFromComponents, sharedCopy, sameHash, componentValue, components, digestOf, fingerprint, fullKey, hex, makeComp, worldDigest, xorInto, Slots, type Comp, type Comps, type Digest, type WorldFrame } from './canon.ts';
import { BitState, FingerprintSet, collisionProbability, type Visited } from './visited.ts';
import { Recorder, independent, type Footprint } from './footprint.ts';
import { SYM_BASE, SymmetryContext, findSymmetry, relocateCreds, type Symmetry } from './symmetry.ts';

export interface Shard {
  /** 0-based */
  index: number;
  count: number;
}

export interface ExploreOptions {
  /** explore at most this many steps after setup (default: until nothing new is found) */
  depth?: number;
  mutants?: string[];
  kernel?: string;
  /** sleep-set reduction (default on) */
  por?: boolean;
  /** explore one part: states at the frontier depth are split by hash */
  shard?: Shard;
  /** the frontier depth where shards split (default: the first layer with >= 4 states per shard) */
  frontier?: number;
  /** stop (incomplete) beyond this many distinct states (default: sized to the heap, defaultMaxStates) */
  maxStates?: number;
  /** stop (incomplete) when the heap in use passes this many bytes (default: 80% of V8's heap limit) */
  heapLimitBytes?: number;
  /** return every visited state's hash (for merging shards and tests) */
  keepHashes?: boolean;
  /** bitstate hashing (SPIN's -DBITSTATE): a bit array of 2^bitstate bits instead of a fingerprint per state; may miss states */
  bitstate?: number;
  /** symmetry reduction over interchangeable user tasks (default on; symmetry.ts) */
  symmetry?: boolean;
  /** check every incremental hash and every undo against a full recomputation (slow) */
  paranoid?: boolean;
  /** called about every progressMs with the search's progress */
  onProgress?: (p: Progress) => void;
  progressMs?: number;
}

export interface Progress {
  depth: number;
  states: number;
  transitions: number;
  layer: number;
  ms: number;
}

/** Where a violation was seen. */
export type FindingAt = 'setup' | 'step' | 'state' | 'terminal' | 'teardown' | 'exception';

export interface Finding {
  kind: string;
  message: string;
  object?: string;
  task: string;
  fn: string;
  at: FindingAt;
  /** steps after setup in the shortest interleaving found */
  depth: number;
  /** the interleaving: the task of each step after setup */
  schedule: string[];
  /** how many transitions or states showed this kind */
  count: number;
}

export interface ExploreResult {
  scenario: string;
  kernel: string;
  mutants: string[];
  /** the tasks that interleave, in the world's order */
  tasks: string[];
  states: number;
  transitions: number;
  /** transitions skipped because they were in the state's sleep set */
  pruned: number;
  /** transitions executed before the shard frontier (repeated by every shard) */
  prefixTransitions: number;
  maxDepth: number;
  terminals: number;
  /** true when every reachable state was explored (no depth or state limit hit) */
  complete: boolean;
  /** why an incomplete exploration stopped, and how to go further; null when complete */
  stopped: StopReason | null;
  ms: number;
  statesPerSec: number;
  por: boolean;
  shard?: Shard & { frontier: number | null };
  /** one per violation kind: the first found, which is a shortest one */
  findings: Finding[];
  /** how states were remembered: a 128-bit fingerprint each (hash compaction) or bits (bitstate) */
  visited: VisitedInfo;
  symmetry: SymmetryInfo;
  hashes?: string[];
}

export interface SymmetryInfo {
  /** were states merged with their mirror images? */
  on: boolean;
  /** the interchangeable tasks, by group */
  groups: string[][];
  /** |G|, the number of renamings */
  order: number;
  /** the states the explored representatives stand for (the state count without symmetry); null when merged shards overlapped */
  represented: number | null;
  /** why symmetry is off, when it is */
  why: string;
}

export interface VisitedInfo {
  mode: 'fingerprint' | 'bitstate';
  /** the bound on the chance that two states were taken for one (fingerprint), or the chance a new state is now lost (bitstate) */
  p: number;
  bytes: number;
  note: string;
}

export interface StopReason {
  reason: 'depth' | 'max-states' | 'memory' | 'worker-memory' | 'shards-missing';
  message: string;
  hint: string;
}

/**
 * Bytes a visited state costs, about (its key, its parent link, its share of a layer's nodes,
 * measured: ~5 KB at the widest layer of a 6-task scenario).
 */
const BYTES_PER_STATE = 5000;

/**
 * The heap this thread may use before explore stops: 75% of V8's old-generation limit
 * (heap_size_limit less the young generation's ~48 MB; a worker's is its resourceLimits), so
 * the search stops with a result well before V8's last-resort collections fail.
 */
export function defaultHeapLimitBytes(): number {
  const limit = v8.getHeapStatistics().heap_size_limit;
  return Math.floor(0.75 * Math.max(limit / 2, limit - 48 * 2 ** 20));
}

/** The default state budget: what fits in the heap, at most 5 million. */
export function defaultMaxStates(): number {
  return Math.max(10_000, Math.min(5_000_000, Math.floor(defaultHeapLimitBytes() / BYTES_PER_STATE)));
}

const HINT_MORE = 'to go further: raise --max-states, give node more heap (NODE_OPTIONS=--max-old-space-size=MB), or split the space with --shard i/n (one process each) or --workers k';

/** A state waiting to be expanded. */
interface Node {
  comps: Comps;
  /** the XOR of the components' hashes */
  digest: Digest;
  /** the state's fingerprint: digest and the violation kinds on the way */
  fp: Digest;
  /** what the state is remembered by: fp, or with symmetry its orbit representative's */
  key: Digest;
  /** with symmetry: the renaming (task index -> task index) that makes the representative */
  map: Int32Array | null;
  id: number;
  depth: number;
  /** w.clock: not part of the state's identity (it only counts), but the model reads it */
  clock: number;
  /** per task: how many objects it has allocated (its next pointer is base + this) */
  allocs: number[];
  /** violation kinds recorded by steps on the way here (part of the state: see docs) */
  kinds: string;
  /** sleep set: task index -> the footprint of that task's step in this state */
  sleep: Map<number, Footprint> | null;
}

const noSleep = new Map<number, Footprint>();

const checked: RunOptions = { record: false, check: checkStep };

/** The world after setup, with the scenario's tasks added: what runScenario runs from. */
export function initialWorld(s: Scenario, opts: { mutants?: string[]; kernel?: string } = {}): World {
  return startWorld({ ...s, mutants: opts.mutants ?? s.mutants, kernel: opts.kernel ?? s.kernel }, checked);
}

/** Which shard owns a state: its fingerprint's last word, mod the count. */
export function shardOf(fp: Digest, count: number): number {
  return (fp.h3 >>> 0) % count;
}

type Note = Pick<Violation, 'message' | 'task' | 'fn' | 'object'> & { kind: string };

export function explore(s: Scenario, opts: ExploreOptions = {}): ExploreResult {
  const t0 = performance.now();
  const por = opts.por ?? true;
  const maxDepth = opts.depth ?? Infinity;
  const maxStates = opts.maxStates ?? defaultMaxStates();
  const heapLimit = opts.heapLimitBytes ?? defaultHeapLimitBytes();
  let stopped: StopReason | null = null;
  let sinceHeapCheck = 0;
  /** every 64 expansions: is the heap past its budget? then stop with what we have */
  const outOfHeap = (): boolean => {
    if (stopped) return true;
    if (++sinceHeapCheck < 64) return false;
    sinceHeapCheck = 0;
    const used = process.memoryUsage().heapUsed;
    if (used <= heapLimit) return false;
    stopped = {
      reason: 'memory',
      message: `stopped at ${visited.size} states: the heap in use (${mb(used)} MB) passed its budget (${mb(heapLimit)} MB, 75% of the heap limit)`,
      hint: HINT_MORE,
    };
    return true;
  };
  const paranoid = opts.paranoid ?? false;
  const slots = new Slots();
  const w0 = initialWorld(s, opts);
  const taskNames = w0.tasks.map((t) => t.name);
  const nTasks = taskNames.length;
  const frame: WorldFrame = { profile: w0.profile, mutants: w0.mutants, ops: w0.tasks.map((t) => t.ops) };
  const found = (opts.symmetry ?? true) ? findSymmetry(w0) : { sym: null, why: 'off (--no-symmetry)' };
  const sym: Symmetry | null = found.sym;
  // Allocation-order-independent numbering: task i allocates base*(i+1), base*(i+1)+1, ...
  // (with symmetry, base 2^32: a number in a task's range is recognisably its pointer)
  const base = sym ? SYM_BASE : Math.max(1000, 10 ** Math.ceil(Math.log10(w0.nextPtr + 1)));
  if (sym) relocateCreds(w0, sym, base);
  let represented = 0;
  const symCtx = sym ? new SymmetryContext(sym, base, nTasks) : null;
  /** what a state is remembered by: its fingerprint, or its orbit representative's */
  const keyOf = (w: World, comps: Comps, digest: Digest, fp: Digest, kinds: string): { key: Digest; map: Int32Array | null; orbit: number } => {
    if (!symCtx) return { key: fp, map: null, orbit: 1 };
    const c = symCtx.canonical(comps, slots, digest);
    if (paranoid) {
      const full = worldDigest(symCtx.renaming(c.map).world(w));
      if (!sameHash(full, c.digest)) throw new Error('explore --paranoid: the representative\'s incremental hash differs from its full hash');
    }
    return { key: fingerprint(c.digest, kinds), map: c.map, orbit: c.orbit };
  };
  const afterAll = base * (nTasks + 1);

  const findings = new Map<string, Finding>();
  const parent: number[] = [];
  const via: number[] = [];
  const visited: Visited = opts.bitstate !== undefined ? new BitState(opts.bitstate) : new FingerprintSet();
  /** bitstate: the next layer's states by fingerprint (the bits give no id to meet a same-layer arrival by) */
  let nextIndex = opts.bitstate !== undefined ? new FingerprintSet() : null;
  const hashes: string[] | null = opts.keepHashes ? [] : null;
  let transitions = 0;
  let pruned = 0;
  let prefixTransitions = 0;
  let terminals = 0;
  let maxSeen = 0;
  let complete = true;

  const scheduleOf = (id: number): string[] => {
    const out: string[] = [];
    for (let i = id; i > 0; i = parent[i]!) out.push(taskNames[via[i]!]!);
    return out.reverse();
  };
  const note = (v: Note, at: FindingAt, depth: number, schedule: () => string[]) => {
    const f = findings.get(v.kind);
    if (f && f.depth <= depth) {
      f.count++;
      return;
    }
    const nf: Finding = { kind: v.kind, message: v.message, task: v.task, fn: v.fn, at, depth, schedule: schedule(), count: (f?.count ?? 0) + 1 };
    if (v.object !== undefined) nf.object = v.object;
    findings.set(v.kind, nf);
  };

  // setup's own violations (a mutant may break the mounts already)
  for (const v of w0.violations) note(v, 'setup', 0, () => []);
  w0.violations = [];
  checkInvariants(w0);
  for (const v of w0.violations) note(v, 'state', 0, () => []);
  w0.violations = [];

  const comps0 = components(w0, slots);
  const digest0 = digestOf(comps0);
  const fp0 = fingerprint(digest0, '');
  const k0 = keyOf(w0, comps0, digest0, fp0, '');
  represented += k0.orbit;
  visited.addOrGet(k0.key, 0);
  nextIndex?.addOrGet(k0.key, 0);
  hashes?.push(hex(k0.key));
  parent.push(0);
  via.push(-1);
  const root: Node = { comps: comps0, digest: digest0, fp: fp0, key: k0.key, map: k0.map, id: 0, depth: 0, clock: w0.clock, allocs: new Array(nTasks).fill(0), kinds: '', sleep: por ? noSleep : null };
  let layer = new Map<number, Node>([[0, root]]);

  let frontier: number | null = null;
  const shard = opts.shard && opts.shard.count > 1 ? opts.shard : undefined;
  let lastProgress = t0;
  const progressMs = opts.progressMs ?? 1000;

  const terminal = (node: Node, shared: World) => {
    let w = shared;
    terminals++;
    const stuck = stuckTasks(w);
    if (stuck.length) {
      for (const t of stuck) note(deadlock(w, t), 'terminal', node.depth, () => scheduleOf(node.id));
      return;
    }
    // teardown runs on a private copy (the expansion's world shares the stored states' objects)
    w = buildFromComponents(node.comps, slots, frame, node.clock, node.depth, true);
    w.nextPtr = afterAll;
    try {
      for (const t of teardown(w, checked).stuck) w.violations.push(deadlock(w, t));
    } catch (e) {
      note({ kind: 'exception', message: `teardown: ${(e as Error).message}`, task: 'teardown', fn: '' }, 'exception', node.depth, () => scheduleOf(node.id));
      return;
    }
    for (const v of w.violations) note(v, 'teardown', node.depth, () => scheduleOf(node.id));
  };

  const expand = (node: Node, next: Map<number, Node>, inPrefix: boolean) => {
    const w = buildFromComponents(node.comps, slots, frame, node.clock, node.depth, false);
    const enabled: number[] = [];
    for (let i = 0; i < nTasks; i++) if (taskRunnable(w, w.tasks[i]!)) enabled.push(i);
    if (enabled.length === 0) {
      terminal(node, w);
      return;
    }
    if (node.depth >= maxDepth) {
      complete = false;
      stopped ??= { reason: 'depth', message: `stopped at depth ${maxDepth} (--depth)`, hint: 'to go further: a larger --depth, or none' };
      return;
    }
    const sleep = node.sleep;
    const done: { i: number; fp: Footprint }[] = [];
    for (const i of enabled) {
      if (sleep && sleep.has(i)) {
        pruned++;
        continue;
      }
      const name = taskNames[i]!;
      const myBase = base * (i + 1);
      w.nextPtr = myBase + node.allocs[i]!;
      transitions++;
      if (inPrefix) prefixTransitions++;
      const rec = new Recorder();
      try {
        const pw = rec.wrap(w);
        taskRunnable(pw, pw.tasks[i]!); // what made it runnable is read too
        stepTask(pw, name, false);
        rec.finish();
      } catch (e) {
        rec.undo();
        w.violations = [];
        note({ kind: 'exception', message: (e as Error).message, task: name, fn: '' }, 'exception', node.depth + 1, () => [...scheduleOf(node.id), name]);
        continue;
      }
      const allocated = w.nextPtr - myBase;
      if (allocated >= base) throw new Error(`explore: task ${name} allocated ${allocated} objects, more than the numbering allows`);
      let kinds = node.kinds;
      if (w.violations.length) {
        const ks = new Set(kinds ? kinds.split(',') : []);
        for (const v of w.violations) {
          note(v, 'step', node.depth + 1, () => [...scheduleOf(node.id), name]);
          ks.add(v.kind);
        }
        kinds = [...ks].sort().join(',');
        w.violations = [];
      }
      // the new state: only the components the step wrote can have changed
      const digest: Digest = { ...node.digest };
      const changes: [number, Comp | undefined, unknown][] = [];
      let full = false;
      for (const ck of rec.writtenComponents()) {
        if (ck === 'clock') continue;
        if (ck !== 'rcu' && ck !== 'jiffies' && !ck.includes('/')) {
          full = true;
          continue;
        }
        const sl = slots.slot(ck);
        const old = node.comps[sl];
        const v = componentValue(w, ck);
        if (v === undefined) {
          if (old) {
            xorInto(digest, old);
            changes.push([sl, undefined, undefined]);
          }
          continue;
        }
        const c = makeComp(ck, v);
        if (old && sameHash(old, c)) continue; // written back as it was
        if (old) xorInto(digest, old);
        xorInto(digest, c);
        changes.push([sl, c, v]);
      }
      let comps: Comps | null = null;
      if (full) {
        comps = components(w, slots);
        const d = digestOf(comps);
        Object.assign(digest, d);
      }
      const fp = fingerprint(digest, kinds);
      if (paranoid) {
        const k2 = fullKey(w, kinds);
        if (k2 !== hex(fp)) throw new Error(`explore --paranoid: incremental hash differs after ${name} at depth ${node.depth}`);
      }
      let childSleep: Map<number, Footprint> | null = null;
      if (sleep) {
        const foot = rec.footprint();
        childSleep = new Map();
        for (const [t, tfp] of sleep) if (independent(tfp, foot)) childSleep.set(t, tfp);
        for (const d of done) if (independent(d.fp, foot)) childSleep.set(d.i, d.fp);
        done.push({ i, fp: foot });
      }
      const id = parent.length;
      /** the child's components, the parent's with the changed ones in: a changed one holds the live value until the state is kept */
      const childComps = (): Comps => {
        const cs = node.comps.slice();
        for (const [sl, c, v] of changes) {
          if (c) c.obj = v;
          cs[sl] = c;
        }
        return cs;
      };
      // live: comps holds live values (full: components() made copies already)
      const live = !comps;
      // (the symmetry's renamings rehash only the components that name a task)
      if (symCtx && !comps) comps = childComps();
      const ck = keyOf(w, comps ?? node.comps, digest, fp, kinds);
      const key = ck.key;
      let seen = visited.addOrGet(key, id);
      if (nextIndex) {
        // bitstate: a new state goes into the next layer's table; a "seen" one is this layer's
        // arrival if the table has it, else seen in an earlier layer (or lost to a bit collision)
        if (seen === -1) nextIndex.addOrGet(key, id);
        else seen = nextIndex.get(key) >= 0 ? nextIndex.get(key) : -2;
      }
      if (seen !== -1) {
        // another arrival in the same layer: the state keeps only what both may skip. With
        // symmetry the arrival may be the kept state's mirror image: this state is
        // sigma(other) with sigma = map^-1 . other.map, so other's task t stands for sigma(t) here
        const other = next.get(seen);
        if (other && other.sleep && childSleep) {
          if (ck.map && other.map) {
            const inv = new Int32Array(nTasks);
            for (let t = 0; t < nTasks; t++) inv[ck.map[t]!] = t;
            for (const t of other.sleep.keys()) if (!childSleep.has(inv[other.map[t]!]!)) other.sleep.delete(t);
          } else {
            for (const t of other.sleep.keys()) if (!childSleep.has(t)) other.sleep.delete(t);
          }
        }
      } else {
        represented += ck.orbit;
        parent.push(node.id);
        via.push(i);
        hashes?.push(hex(key));
        const allocs = node.allocs.slice();
        allocs[i] = allocated;
        checkInvariants(w, name, '');
        for (const v of w.violations) note(v, 'state', node.depth + 1, () => scheduleOf(id));
        w.violations = [];
        if (live) {
          // the world is about to be undone: the kept state takes copies of what the step changed
          comps ??= childComps();
          const written = rec.written();
          for (const [sl, c, v] of changes) if (c) c.obj = sharedCopy(v, node.comps[sl]?.obj, written);
        }
        next.set(id, { comps: comps!, digest, fp, key, map: ck.map, id, depth: node.depth + 1, clock: w.clock, allocs, kinds, sleep: childSleep });
      }
      rec.undo();
      w.violations = [];
      if (paranoid && fullKey(w, node.kinds) !== hex(node.fp)) throw new Error(`explore --paranoid: undo of ${name} at depth ${node.depth} did not restore the state`);
      if (visited.size >= maxStates) break;
    }
  };

  for (let depth = 0; layer.size > 0; depth++) {
    if (shard && frontier === null && (opts.frontier !== undefined ? depth >= opts.frontier : layer.size >= 4 * shard.count)) {
      frontier = depth;
      for (const [k, n] of [...layer]) if (shardOf(n.key, shard.count) !== shard.index) layer.delete(k);
    }
    maxSeen = Math.max(maxSeen, depth);
    const next = new Map<number, Node>();
    if (nextIndex && depth > 0) nextIndex = new FingerprintSet();
    const inPrefix = shard !== undefined && frontier === null;
    for (const node of layer.values()) {
      expand(node, next, inPrefix);
      if (opts.onProgress) {
        const now = performance.now();
        if (now - lastProgress >= progressMs) {
          lastProgress = now;
          opts.onProgress({ depth, states: visited.size, transitions, layer: layer.size, ms: now - t0 });
        }
      }
      if (visited.size >= maxStates || outOfHeap()) break;
    }
    if (visited.size >= maxStates && !stopped) {
      stopped = { reason: 'max-states', message: `stopped at the state budget, ${maxStates} states (--max-states)`, hint: HINT_MORE };
    }
    if (stopped && stopped.reason !== 'depth') {
      complete = false;
      break;
    }
    layer = next;
  }

  const ms = performance.now() - t0;
  const result: ExploreResult = {
    scenario: s.name,
    kernel: w0.profile,
    mutants: w0.mutants,
    tasks: taskNames.filter((n) => n !== 'setup'),
    states: visited.size,
    transitions,
    pruned,
    prefixTransitions,
    maxDepth: maxSeen,
    terminals,
    complete,
    stopped: complete ? null : stopped,
    ms,
    statesPerSec: Math.round((visited.size / ms) * 1000),
    por,
    findings: [...findings.values()].sort((a, b) => a.depth - b.depth || a.kind.localeCompare(b.kind)),
    visited: {
      mode: visited instanceof BitState ? 'bitstate' : 'fingerprint',
      p: visited instanceof BitState ? visited.lossRate() : collisionProbability(visited.size),
      bytes: visited.bytes(),
      note: visited.note(),
    },
    symmetry: {
      on: sym !== null,
      groups: sym ? sym.groups.map((g) => g.map((i) => taskNames[i]!)) : [],
      order: sym ? sym.order : 1,
      represented,
      why: found.why,
    },
  };
  if (shard) result.shard = { ...shard, frontier };
  if (!complete && !result.stopped) result.stopped = { reason: 'depth', message: 'stopped at the depth bound', hint: 'to go further: a larger --depth, or none' };
  if (hashes) result.hashes = hashes;
  return result;
}

const mb = (b: number) => Math.round(b / 2 ** 20);
