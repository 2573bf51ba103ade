// --workers k: k shards of one exploration in k worker threads, merged.
//
// Every shard explores the same prefix (up to the frontier depth) and then only the
// frontier states whose hash is its own (explore.ts, shardOf), so the shards' state sets
// together are exactly the unsharded one. Shards may meet the same state below the
// frontier (each explores it): the merged count is the union of their hash sets.
//
// Memory: the workers share the process's heap budget. Each gets resourceLimits of its share
// of V8's heap limit, and its own explore() watches that heap (defaultHeapLimitBytes in a
// worker is 80% of its limit), so a shard that runs short stops with a partial result. A
// worker V8 kills anyway (ERR_WORKER_OUT_OF_MEMORY) becomes an incomplete shard, not a crash.
import v8 from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Scenario } from '../scenario/schema.ts';
import type { ExploreOptions, ExploreResult, Finding, Progress, StopReason, VisitedInfo } from './explore.ts';
import { collisionProbability } from './visited.ts';

export interface ParallelResult extends ExploreResult {
  /** each shard's own result (without its hashes) */
  shards: Omit<ExploreResult, 'hashes' | 'findings'>[];
  /** states explored by the shards together (with repeats) over distinct states */
  overlap: number;
}

/** Each worker's old-generation limit: its share of this process's heap limit (MB, at least 64). */
export function workerHeapMb(workers: number): number {
  const total = v8.getHeapStatistics().heap_size_limit / 2 ** 20;
  return Math.max(64, Math.floor((total * 0.9) / workers));
}

export function exploreParallel(
  s: Scenario,
  opts: Omit<ExploreOptions, 'shard' | 'onProgress'> & { onProgress?: (shard: number, p: Progress) => void },
  workers: number,
): Promise<ParallelResult> {
  const t0 = performance.now();
  const { onProgress, ...plain } = opts;
  const heapMb = workerHeapMb(workers);
  // the state budget is the whole exploration's: each shard gets its part
  const perShard = plain.maxStates !== undefined ? { maxStates: Math.max(1, Math.ceil(plain.maxStates / workers)) } : {};
  const jobs = Array.from({ length: workers }, (_, index) => {
    const job = { scenario: s, opts: { ...plain, ...perShard, shard: { index, count: workers } } };
    // compiled (dist/, an installed fpsim): worker.js; from the sources: worker.ts through tsx
    const entry = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;
    const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: { entry, job }, resourceLimits: { maxOldGenerationSizeMb: heapMb } });
    return new Promise<ExploreResult | StopReason>((resolve, reject) => {
      let settled = false;
      const settle = (v: ExploreResult | StopReason | Error) => {
        if (settled) return;
        settled = true;
        if (v instanceof Error) reject(v);
        else resolve(v);
      };
      w.on('message', (m: { type: 'progress'; progress: Progress } | { type: 'done'; result: ExploreResult }) => {
        if (m.type === 'progress') onProgress?.(index, m.progress);
        else settle(m.result);
      });
      w.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ERR_WORKER_OUT_OF_MEMORY') {
          settle({
            reason: 'worker-memory',
            message: `worker ${index} ran out of its ${heapMb} MB heap and was stopped: its shard is missing from the result`,
            hint: 'to go further: fewer --workers (more heap each), a smaller --max-states, or NODE_OPTIONS=--max-old-space-size=MB',
          });
        } else settle(e);
      });
      w.on('exit', (code) => {
        if (code !== 0) settle(new Error(`explore worker ${index} exited with code ${code}`));
      });
    });
  });
  return Promise.all(jobs).then((rs) => merge(rs, performance.now() - t0, workers));
}

const isStop = (r: ExploreResult | StopReason): r is StopReason => 'reason' in r && !('states' in r);

/** Merge shard results: the union of states, the shortest finding of each kind; a shard lost to OOM makes it incomplete. */
export function merge(all: (ExploreResult | StopReason)[], ms: number, count = all.length): ParallelResult {
  const rs = all.filter((r): r is ExploreResult => !isStop(r));
  const lost = all.filter(isStop);
  if (rs.length === 0) {
    const l = lost[0]!;
    throw Object.assign(new Error(l.message), { stop: l });
  }
  const hashes = new Set<string>();
  let explored = 0;
  for (const r of rs) {
    for (const h of r.hashes ?? []) hashes.add(h);
    explored += r.states;
  }
  const findings = new Map<string, Finding>();
  for (const r of rs) {
    for (const f of r.findings) {
      const g = findings.get(f.kind);
      if (!g) findings.set(f.kind, { ...f });
      else if (f.depth < g.depth) findings.set(f.kind, { ...f, count: g.count + f.count });
      else g.count += f.count;
    }
  }
  const first = rs[0]!;
  const prefix = first.prefixTransitions;
  const transitions = rs.reduce((a, r) => a + r.transitions, 0) - prefix * (rs.length - 1);
  const complete = lost.length === 0 && rs.every((r) => r.complete);
  const stopped = lost[0] ?? rs.find((r) => r.stopped)?.stopped ?? null;
  const bits = rs.find((r) => r.visited?.mode === 'bitstate');
  const visited: VisitedInfo = bits
    ? { ...bits.visited, p: Math.max(...rs.map((r) => r.visited.p)), bytes: rs.reduce((a, r) => a + r.visited.bytes, 0) }
    : { mode: 'fingerprint', p: collisionProbability(hashes.size), bytes: rs.reduce((a, r) => a + r.visited.bytes, 0), note: `hash compaction: a 128-bit fingerprint per state; P(any two of ${hashes.size} states collide) <= ${collisionProbability(hashes.size).toExponential(1)}` };
  return {
    scenario: first.scenario,
    kernel: first.kernel,
    mutants: first.mutants,
    tasks: first.tasks,
    states: hashes.size,
    transitions,
    pruned: rs.reduce((a, r) => a + r.pruned, 0),
    prefixTransitions: prefix,
    maxDepth: Math.max(...rs.map((r) => r.maxDepth)),
    terminals: rs.reduce((a, r) => a + r.terminals, 0),
    complete,
    stopped: complete ? null : stopped,
    ms,
    statesPerSec: Math.round((hashes.size / ms) * 1000),
    por: first.por,
    shard: { index: 0, count, frontier: first.shard?.frontier ?? null },
    findings: [...findings.values()].sort((a, b) => a.depth - b.depth || a.kind.localeCompare(b.kind)),
    visited,
    // the shards' representatives stand for their orbits; a state two shards both explored is
    // counted once by its hash but twice in the sum, so the sum is exact only without overlap
    symmetry: { ...(first.symmetry ?? { on: false, groups: [], order: 1, why: 'not recorded' }), represented: explored === hashes.size ? rs.reduce((a, r) => a + (r.symmetry?.represented ?? r.states), 0) : null },
    hashes: [...hashes],
    shards: rs.map(({ hashes: _h, findings: _f, ...rest }) => rest),
    overlap: hashes.size ? explored / hashes.size : 1,
  };
}
