// Shard result files (`fpsim explore --result`, `fpsim check --result`) and their merge
// (`fpsim merge`): each shard of a job writes one JSON file; merging them gives what one
// unsharded run gives (explore: the union of the states by fingerprint, every violation kind
// with its shortest trace; check: the runs, coverage and the smallest counterexample).
import { readFileSync } from 'node:fs';
import { InputError } from '../sim/scenario/load.ts';
import type { ExploreOptions, ExploreResult } from '../sim/explore/explore.ts';
import { merge as mergeExplore, type ParallelResult } from '../sim/explore/parallel.ts';
import type { Coverage } from '../properties/coverage.ts';

export const SHARD_FORMAT = 'fpsim-shard/1';

/** What must be equal in every shard of one job (else their results do not add up). */
interface ExploreJob {
  scenario: string;
  kernel: string;
  mutants: string[];
  por: boolean;
  /** symmetry reduction asked for (shards must agree: their fingerprints are of representatives or of states) */
  symmetry: boolean;
  depth: number | null;
  frontier: number | null;
  bitstate: number | null;
}

export interface ExploreShardFile {
  format: typeof SHARD_FORMAT;
  command: 'explore';
  job: ExploreJob;
  shard: { index: number; count: number };
  result: ExploreResult;
}

export function exploreShardFile(scenarioFile: string, r: ExploreResult, o: ExploreOptions): ExploreShardFile {
  return {
    format: SHARD_FORMAT,
    command: 'explore',
    job: { scenario: scenarioFile, kernel: r.kernel, mutants: r.mutants, por: r.por, symmetry: o.symmetry ?? true, depth: o.depth ?? null, frontier: o.frontier ?? null, bitstate: o.bitstate ?? null },
    // the shard asked for (--shard or the environment); --workers k merged its k shards: the whole job
    shard: o.shard && o.shard.count > 1 ? { index: o.shard.index, count: o.shard.count } : { index: 0, count: 1 },
    result: r,
  };
}

export interface CheckJob {
  seed: number;
  runs: number;
  kernel: string;
  mutants: string[];
}

/** A check shard's result: the counts, the coverage, and its failure (if any) with its size. */
export interface CheckShardResult {
  runs: number;
  requested: number;
  timedOut: boolean;
  ms: number;
  ops: number;
  steps: number;
  failed: boolean;
  /** the shrunk counterexample: what failed, its size (steps, ops), how to replay it */
  failure: { kind: string; message: string; steps: number; ops: number; seed: number; path: string | null; files?: { trace: string | null; scenario: string } } | null;
  coverage: Coverage;
}

export interface CheckShardFile {
  format: typeof SHARD_FORMAT;
  command: 'check';
  job: CheckJob;
  shard: { index: number; count: number };
  result: CheckShardResult;
}

export type ShardFile = ExploreShardFile | CheckShardFile;

/** Read and check one shard file (bad input: a located InputError). */
export function readShardFile(path: string): ShardFile {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InputError(`${path}: not a readable JSON shard file (${(e as Error).message})`);
  }
  const f = v as Partial<ShardFile>;
  if (!f || typeof f !== 'object' || f.format !== SHARD_FORMAT) throw new InputError(`${path}: not an fpsim shard file (no "format": "${SHARD_FORMAT}"; write one with explore --result or check --result)`);
  if (f.command !== 'explore' && f.command !== 'check') throw new InputError(`${path}: unknown command ${JSON.stringify(f.command)}`);
  const sh = f.shard;
  if (!sh || !Number.isInteger(sh.index) || !Number.isInteger(sh.count) || sh.index < 0 || sh.index >= sh.count) throw new InputError(`${path}: bad "shard" ${JSON.stringify(sh)}`);
  if (!f.result || typeof f.result !== 'object' || !f.job) throw new InputError(`${path}: no "result" or "job"`);
  if (f.command === 'explore' && !Array.isArray((f.result as ExploreResult).hashes)) throw new InputError(`${path}: an explore shard without its states' fingerprints ("hashes"): it cannot be merged`);
  return f as ShardFile;
}

/** Which shards of 0..count-1 are missing, and that all files are one job's. */
function checkJob(files: { path: string; f: ShardFile }[]): { count: number; missing: number[] } {
  const first = files[0]!;
  const job = JSON.stringify(first.f.job);
  const count = first.f.shard.count;
  const seen = new Map<number, string>();
  for (const { path, f } of files) {
    if (f.command !== first.f.command) throw new InputError(`${path}: a ${f.command} shard, but ${first.path} is a ${first.f.command} shard`);
    if (JSON.stringify(f.job) !== job) throw new InputError(`${path}: a shard of another job than ${first.path} (${JSON.stringify(f.job)} vs ${job})`);
    if (f.shard.count !== count) throw new InputError(`${path}: shard ${f.shard.index}/${f.shard.count}, but ${first.path} is one of ${count}`);
    const dup = seen.get(f.shard.index);
    if (dup) throw new InputError(`${path}: shard ${f.shard.index}/${count} again (also ${dup})`);
    seen.set(f.shard.index, path);
  }
  const missing: number[] = [];
  for (let i = 0; i < count; i++) if (!seen.has(i)) missing.push(i);
  return { count, missing };
}

export interface MergedExplore {
  command: 'explore';
  job: ExploreJob;
  count: number;
  missing: number[];
  result: ParallelResult;
}

export interface MergedCheck {
  command: 'check';
  job: CheckJob;
  count: number;
  missing: number[];
  result: CheckShardResult & { shardOfFailure: number | null };
}

export function mergeShardFiles(paths: string[]): MergedExplore | MergedCheck {
  if (!paths.length) throw new InputError('merge: no shard files given');
  const files = paths.map((path) => ({ path, f: readShardFile(path) }));
  const { count, missing } = checkJob(files);
  const first = files[0]!.f;
  if (first.command === 'explore') {
    const rs = files.map((x) => (x.f as ExploreShardFile).result);
    const result = mergeExplore(rs, Math.max(...rs.map((r) => r.ms)), count);
    if (missing.length) {
      result.complete = false;
      result.stopped = { reason: 'shards-missing', message: `shards missing: ${missing.map((i) => `${i}/${count}`).join(', ')}`, hint: 'merge every shard of the job (fpsim merge shard-*.json)' };
    }
    return { command: 'explore', job: first.job, count, missing, result };
  }
  const rs = files.map((x) => ({ index: x.f.shard.index, r: (x.f as CheckShardFile).result }));
  const cov: Coverage = { runs: 0, ops: {}, returned: {}, internal: {}, functions: {}, labels: {}, violations: {} };
  const add = (to: Record<string, number>, from: Record<string, number>) => {
    for (const [k, n] of Object.entries(from)) to[k] = (to[k] ?? 0) + n;
  };
  for (const { r } of rs) {
    const c = r.coverage;
    cov.runs += c.runs;
    for (const [op, x] of Object.entries(c.ops)) {
      const o = (cov.ops[op] ??= { ok: 0, errnos: {} });
      o.ok += x.ok;
      add(o.errnos, x.errnos);
    }
    add(cov.returned, c.returned);
    add(cov.internal, c.internal);
    add(cov.functions, c.functions);
    add(cov.labels, c.labels);
    add(cov.violations, c.violations);
  }
  // the smallest counterexample of all shards: fewest steps, then fewest ops, then the lowest shard
  let best: { index: number; r: CheckShardResult } | null = null;
  for (const x of rs) {
    const f = x.r.failure;
    if (!f) continue;
    const b = best?.r.failure;
    if (!b || f.steps < b.steps || (f.steps === b.steps && (f.ops < b.ops || (f.ops === b.ops && x.index < best!.index)))) best = x;
  }
  const sum = (k: 'runs' | 'requested' | 'ops' | 'steps') => rs.reduce((a, x) => a + x.r[k], 0);
  return {
    command: 'check',
    job: first.job as CheckJob,
    count,
    missing,
    result: {
      runs: sum('runs'),
      requested: sum('requested'),
      timedOut: rs.some((x) => x.r.timedOut),
      ms: Math.max(...rs.map((x) => x.r.ms)),
      ops: sum('ops'),
      steps: sum('steps'),
      failed: rs.some((x) => x.r.failed),
      failure: best?.r.failure ?? null,
      shardOfFailure: best?.index ?? null,
      coverage: cov,
    },
  };
}
