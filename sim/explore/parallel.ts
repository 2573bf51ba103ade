// --workers k: k shards of one exploration in k worker threads, merged.
//
// Every shard explores the same prefix (up to the frontier depth) and then only the
// frontier states whose hash is its own (explore.ts, shardOf), so the shards' state sets
// together are exactly the unsharded one. Shards may meet the same state below the
// frontier (each explores it): the merged count is the union of their hash sets.
import { Worker } from 'node:worker_threads';
import type { Scenario } from '../scenario/schema.ts';
import type { ExploreOptions, ExploreResult, Finding, Progress } from './explore.ts';

export interface ParallelResult extends ExploreResult {
  /** each shard's own result (without its hashes) */
  shards: Omit<ExploreResult, 'hashes' | 'findings'>[];
  /** states explored by the shards together (with repeats) over distinct states */
  overlap: number;
}

export function exploreParallel(
  s: Scenario,
  opts: Omit<ExploreOptions, 'shard' | 'onProgress'> & { onProgress?: (shard: number, p: Progress) => void },
  workers: number,
): Promise<ParallelResult> {
  const t0 = performance.now();
  const { onProgress, ...plain } = opts;
  const jobs = Array.from({ length: workers }, (_, index) => {
    const job = { scenario: s, opts: { ...plain, shard: { index, count: workers } } };
    // compiled (dist/, an installed fpsim): worker.js; from the sources: worker.ts through tsx
    const entry = new URL(import.meta.url.endsWith('.ts') ? './worker.ts' : './worker.js', import.meta.url).href;
    const w = new Worker(new URL('./worker-boot.mjs', import.meta.url), { workerData: { entry, job } });
    return new Promise<ExploreResult>((resolve, reject) => {
      w.on('message', (m: { type: 'progress'; progress: Progress } | { type: 'done'; result: ExploreResult }) => {
        if (m.type === 'progress') onProgress?.(index, m.progress);
        else resolve(m.result);
      });
      w.on('error', reject);
      w.on('exit', (code) => {
        if (code !== 0) reject(new Error(`explore worker ${index} exited with code ${code}`));
      });
    });
  });
  return Promise.all(jobs).then((rs) => merge(rs, performance.now() - t0));
}

/** Merge shard results: the union of states, the shortest finding of each kind. */
export function merge(rs: ExploreResult[], ms: number): ParallelResult {
  const all = new Set<string>();
  let explored = 0;
  for (const r of rs) {
    for (const h of r.hashes ?? []) all.add(h);
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
  return {
    scenario: first.scenario,
    kernel: first.kernel,
    mutants: first.mutants,
    tasks: first.tasks,
    states: all.size,
    transitions,
    pruned: rs.reduce((a, r) => a + r.pruned, 0),
    prefixTransitions: prefix,
    maxDepth: Math.max(...rs.map((r) => r.maxDepth)),
    terminals: rs.reduce((a, r) => a + r.terminals, 0),
    complete: rs.every((r) => r.complete),
    ms,
    statesPerSec: Math.round((all.size / ms) * 1000),
    por: first.por,
    shard: { index: 0, count: rs.length, frontier: first.shard?.frontier ?? null },
    findings: [...findings.values()].sort((a, b) => a.depth - b.depth || a.kind.localeCompare(b.kind)),
    hashes: [...all],
    shards: rs.map(({ hashes: _h, findings: _f, ...rest }) => rest),
    overlap: all.size ? explored / all.size : 1,
  };
}
