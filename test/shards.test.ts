// Scale-out (issue 13): n shards of one job as n local processes, each writing its result
// file, merged by `fpsim merge`, give what the unsharded run gives: explore the same states
// (by fingerprint), findings and shortest traces; check the same runs, steps and coverage.
// One shard takes its index from a Kubernetes Indexed Job's environment.
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../sim/scenario/load.ts';
import { explore } from '../sim/explore/explore.ts';
import { runCampaign } from '../properties/campaign.ts';
import { mergeShardFiles, readShardFile } from '../cli/shardfile.ts';
import { shardFromEnv } from '../cli/shard.ts';
import { InputError } from '../sim/scenario/load.ts';
import { ROOT, runFpsim, type Run } from './cli-run.ts';
import { testDir } from './tmp.ts';
import { growthScenario } from '../bench/harness.ts';

const REF = join(ROOT, 'bench', 'reference', 'lookup-vs-backing-close.json');

const fpsim = (args: string[], env: Record<string, string> = {}): Promise<Run> => runFpsim(args, { NO_COLOR: '1', ...env });

describe('shards as processes, merged', () => {
  it('explore: 3 shards (one from JOB_COMPLETION_INDEX) merge to the unsharded state set and shortest findings', async () => {
    const dir = testDir('fpsim-shards-');
    const common = ['explore', REF, '--mutant', 'free-without-grace-period', '--frontier', '3', '--no-write'];
    const runs = await Promise.all([
      fpsim([...common, '--shard', '0/3', '--result', join(dir, 's0.json')]),
      fpsim([...common, '--shard', '1/3', '--result', join(dir, 's1.json')]),
      fpsim([...common, '--result', join(dir, 's2.json')], { JOB_COMPLETION_INDEX: '2', FPSIM_SHARD_COUNT: '3' }),
    ]);
    for (const r of runs) expect([0, 1], r.stderr).toContain(r.code); // 1: this shard's part holds a violation
    expect(runs.some((r) => r.code === 1)).toBe(true);
    expect(readShardFile(join(dir, 's2.json')).shard).toEqual({ index: 2, count: 3 });
    const m = mergeShardFiles([0, 1, 2].map((i) => join(dir, `s${i}.json`)));
    const all = explore(loadScenario(REF), { mutants: ['free-without-grace-period'], keepHashes: true });
    expect(m.command).toBe('explore');
    if (m.command !== 'explore') return;
    expect(m.missing).toEqual([]);
    expect(m.result.complete).toBe(true);
    expect(new Set(m.result.hashes)).toEqual(new Set(all.hashes));
    expect(m.result.states).toBe(all.states);
    expect(m.result.findings.map((f) => [f.kind, f.depth])).toEqual(all.findings.map((f) => [f.kind, f.depth]));
    expect(m.result.findings.find((f) => f.kind === 'use-after-free')!.schedule).toHaveLength(12);
    // the merge command itself: the same numbers, exit 1 (a violation), a missing shard said so
    const cli = await fpsim(['merge', join(dir, 's0.json'), join(dir, 's1.json'), join(dir, 's2.json'), '--json']);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ command: 'explore', shardCount: 3, missing: [], states: all.states });
    const part = await fpsim(['merge', join(dir, 's0.json'), join(dir, 's2.json')]);
    expect(part.code).toBe(1);
    expect(part.stdout).toMatch(/shards missing: 1\/3/);
  }, 120_000);

  it('explore with symmetry: the line says what was merged; --no-symmetry turns it off; shards of one job must agree on it', async () => {
    const dir = testDir('fpsim-sym-');
    const file = join(dir, 'growth-3.json');
    writeFileSync(file, JSON.stringify(growthScenario(3)));
    const on = await fpsim(['explore', file, '--no-write']);
    expect(on.code, on.stderr).toBe(0);
    expect(on.stdout).toMatch(/^1877 distinct states/m);
    expect(on.stdout).toContain('symmetry: user1 ~ user2 interchangeable (2 renamings); each state explored is one of its orbit; they stand for 3746 states (reduction 2.00x)');
    const off = await fpsim(['explore', file, '--no-write', '--no-symmetry']);
    expect(off.stdout).toMatch(/^3746 distinct states/m);
    expect(off.stdout).toContain('symmetry: off (--no-symmetry)');
    const [a, b] = await Promise.all([
      fpsim(['explore', file, '--no-write', '--shard', '0/2', '--frontier', '8', '--result', join(dir, 'a.json')]),
      fpsim(['explore', file, '--no-write', '--shard', '1/2', '--frontier', '8', '--no-symmetry', '--result', join(dir, 'b.json')]),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const mixed = await fpsim(['merge', join(dir, 'a.json'), join(dir, 'b.json')]);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toMatch(/a shard of another job .*"symmetry":false/);
  }, 120_000);

  it('check: 3 shards split the runs by index; merged, they are the unsharded campaign', async () => {
    const dir = testDir('fpsim-shards-');
    const runs = await Promise.all([0, 1, 2].map((i) => fpsim(['check', '--runs', '24', '--seed', '11', '--shard', `${i}/3`, '--result', join(dir, `c${i}.json`)])));
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const m = mergeShardFiles([0, 1, 2].map((i) => join(dir, `c${i}.json`)));
    const one = runCampaign({ runs: 24, seed: 11 });
    expect(m.command).toBe('check');
    if (m.command !== 'check') return;
    expect([m.result.runs, m.result.ops, m.result.steps, m.result.failed]).toEqual([one.runs, one.ops, one.steps, one.failed]);
    expect(m.result.coverage).toEqual(one.coverage);
  }, 120_000);

  it('check merge keeps the smallest counterexample of any shard, and sums the rest', () => {
    const dir = testDir('fpsim-shards-');
    const cov = (n: number) => ({ runs: n, ops: { open: { ok: n, errnos: { EIO: 1 } } }, returned: { EIO: 1 }, internal: {}, functions: { fuse_open: n }, labels: {}, violations: {} });
    const file = (index: number, failure: { steps: number; ops: number } | null) => {
      const path = join(dir, `c${index}.json`);
      const f = failure ? { kind: 'leak', message: `shard ${index}`, seed: 5, path: `${index}:0`, ...failure } : null;
      writeFileSync(path, JSON.stringify({ format: 'fpsim-shard/1', command: 'check', job: { seed: 5, runs: 9, kernel: '6.9', mutants: ['m'] }, shard: { index, count: 3 }, result: { runs: 3, requested: 3, timedOut: false, ms: 10, ops: 7, steps: 40, failed: !!f, failure: f, coverage: cov(3) } }));
      return path;
    };
    const m = mergeShardFiles([file(0, { steps: 30, ops: 4 }), file(1, null), file(2, { steps: 12, ops: 6 })]);
    if (m.command !== 'check') throw new Error('not a check merge');
    expect(m.result.failure?.message).toBe('shard 2');
    expect(m.result.shardOfFailure).toBe(2);
    expect([m.result.runs, m.result.ops, m.result.steps]).toEqual([9, 21, 120]);
    expect(m.result.coverage.ops['open']).toEqual({ ok: 9, errnos: { EIO: 3 } });
    expect(m.result.coverage.functions).toEqual({ fuse_open: 9 });
    // another job's file is refused, a shard twice too
    const other = join(dir, 'other.json');
    writeFileSync(other, JSON.stringify({ format: 'fpsim-shard/1', command: 'check', job: { seed: 6, runs: 9, kernel: '6.9', mutants: ['m'] }, shard: { index: 1, count: 3 }, result: {} }));
    expect(() => mergeShardFiles([join(dir, 'c0.json'), other])).toThrow(/another job/);
    expect(() => mergeShardFiles([join(dir, 'c0.json'), join(dir, 'c0.json')])).toThrow(/again/);
  });

  it('bad shard input is a located error, not a stack trace', async () => {
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '0' })).toThrow(InputError);
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '3', FPSIM_SHARD_COUNT: '3' })).toThrow(/expected i\/n/);
    expect(shardFromEnv({})).toBeUndefined();
    const dir = testDir('fpsim-shards-');
    writeFileSync(join(dir, 'x.json'), '{"format":"something else"}');
    const r = await fpsim(['merge', join(dir, 'x.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/x\.json: not an fpsim shard file/);
  }, 60_000);
});
