// fpsim explore on tiny inputs: the seeded races found with their shortest traces, the
// reference scenarios clean, sleep sets losing no state, shards adding up to the whole,
// the same counts every time, and the counterexample files re-running as they should.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadScenario } from '../sim/scenario/load.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { ScenarioSchema } from '../sim/scenario/schema.ts';
import { explore, initialWorld } from '../sim/explore/explore.ts';
import { exploreParallel, merge } from '../sim/explore/parallel.ts';
import { counterexample, writeNew } from '../sim/explore/counterexample.ts';
import { components, digestOf, stateKey, Slots } from '../sim/explore/canon.ts';
import { exploreRate, growthScenario } from '../bench/harness.ts';
import { testDir } from './tmp.ts';

const REF = (f: string) => join(import.meta.dirname, '..', 'bench', 'reference', f);
const lookupVsClose = loadScenario(REF('lookup-vs-backing-close.json'));
const twoOpens = loadScenario(REF('two-opens-vs-release.json'));
const abortVsOpen = loadScenario(REF('abort-vs-open.json'));

/** the shortest interleaving to the race: the lookup finds the fb, the close drops it, the lookup goes on */
const RACE = ['ctl', 'ctl', 'ctl', 'user', 'fuse-daemon:fuse', 'user', 'fuse-daemon:fuse', 'user', 'user', 'ctl', 'ctl', 'user'];

describe('fpsim explore finds the seeded races with a shortest trace', () => {
  it('free-without-grace-period: the lookup reads the freed fuse_backing (use-after-free, 12 steps)', () => {
    const r = explore(lookupVsClose, { mutants: ['free-without-grace-period'] });
    expect(r.complete).toBe(true);
    const uaf = r.findings.find((f) => f.kind === 'use-after-free')!;
    expect(uaf.depth).toBe(12);
    expect(uaf.schedule).toEqual(RACE);
    expect(uaf.fn).toBe('fuse_passthrough_open');
    // the free itself is flagged as soon as the close drops the last reference
    expect(r.findings.find((f) => f.kind === 'rcu-early-free')!.depth).toBe(5);
  });

  it('get-without-not-zero: the lookup resurrects the dying fuse_backing (inc-from-zero, 12 steps)', () => {
    const r = explore(lookupVsClose, { mutants: ['get-without-not-zero'] });
    const inc = r.findings.find((f) => f.kind === 'refcount-inc-from-zero')!;
    expect(inc.depth).toBe(12);
    expect(inc.schedule).toEqual(RACE);
  });

  it('writes a scenario that fpsim run re-executes to the same violation', () => {
    const r = explore(lookupVsClose, { mutants: ['free-without-grace-period'] });
    const f = r.findings.find((x) => x.kind === 'use-after-free')!;
    const raw = JSON.parse(readFileSync(REF('lookup-vs-backing-close.json'), 'utf8'));
    const ce = counterexample(lookupVsClose, raw, f, { mutants: r.mutants, kernel: r.kernel });
    expect(ce.reproduced).toBe(true);
    const s = ScenarioSchema.parse(ce.scenario);
    expect(s.schedule).toEqual(RACE);
    expect(s.mutants).toEqual(['free-without-grace-period']);
    const run = runScenario(s, { record: false });
    expect(run.passed).toBe(true); // its expected violations are the ones it shows
    expect(run.violations.map((v) => v.kind)).toContain('use-after-free');
  });
});

describe('fpsim explore proves the reference scenarios clean', () => {
  for (const [name, s] of [
    ['lookup vs BACKING_CLOSE', lookupVsClose],
    ['two opens with different backing ids vs a release', twoOpens],
    ['abort vs open', abortVsOpen],
  ] as const) {
    it(`${name}: every interleaving explored, no violation`, () => {
      const r = explore(s);
      expect(r.complete).toBe(true);
      expect(r.findings).toEqual([]);
      expect(r.terminals).toBeGreaterThan(0);
    });
  }
});

/**
 * The explorer's counts on bench/reference, pinned: a change to the model or the explorer that
 * adds or loses a state, a transition or a finding's depth shows here (issue 9 kept them
 * through the f_op restructuring; issue 13 keeps them through the compact world).
 */
describe('the explorer counts on bench/reference are pinned', () => {
  const PINNED: [string, string[], boolean, { states: number; transitions: number; pruned: number; maxDepth: number; terminals: number; findings: string[] }][] = [
    ['abort-vs-open.json', [], true, { states: 48, transitions: 47, pruned: 18, maxDepth: 13, terminals: 6, findings: [] }],
    ['abort-vs-open.json', [], false, { states: 48, transitions: 65, pruned: 0, maxDepth: 13, terminals: 6, findings: [] }],
    ['abort-vs-open.json', ['free-without-grace-period'], true, { states: 48, transitions: 47, pruned: 18, maxDepth: 13, terminals: 6, findings: ['rcu-early-free@8'] }],
    ['lookup-vs-backing-close.json', [], true, { states: 119, transitions: 147, pruned: 57, maxDepth: 16, terminals: 2, findings: [] }],
    ['lookup-vs-backing-close.json', [], false, { states: 119, transitions: 204, pruned: 0, maxDepth: 16, terminals: 2, findings: [] }],
    ['lookup-vs-backing-close.json', ['free-without-grace-period'], true, { states: 133, transitions: 163, pruned: 61, maxDepth: 17, terminals: 3, findings: ['rcu-early-free@5', 'use-after-free@12'] }],
    ['lookup-vs-backing-close.json', ['get-without-not-zero'], true, { states: 135, transitions: 165, pruned: 60, maxDepth: 17, terminals: 4, findings: ['refcount-inc-from-zero@12', 'use-after-free@16', 'double-free@17'] }],
    ['two-opens-vs-release.json', [], true, { states: 778, transitions: 1025, pruned: 370, maxDepth: 34, terminals: 16, findings: [] }],
    ['two-opens-vs-release.json', [], false, { states: 778, transitions: 1395, pruned: 0, maxDepth: 34, terminals: 16, findings: [] }],
    // every seeded mutant the explorer finds on bench/reference, at its shortest depth (issue 13)
    ['abort-vs-open.json', ['free-without-grace-period'], false, { states: 48, transitions: 65, pruned: 0, maxDepth: 13, terminals: 6, findings: ['rcu-early-free@8'] }],
    ['two-opens-vs-release.json', ['free-without-grace-period'], true, { states: 778, transitions: 1025, pruned: 370, maxDepth: 34, terminals: 16, findings: ['rcu-early-free@17'] }],
    ['two-opens-vs-release.json', ['missing-put-on-ebusy'], true, { states: 600, transitions: 837, pruned: 183, maxDepth: 32, terminals: 11, findings: ['leak@25'] }],
    ['abort-vs-open.json', ['store-instead-of-xchg'], true, { states: 48, transitions: 47, pruned: 18, maxDepth: 13, terminals: 6, findings: ['refcount-owners@13', 'warn-on@13'] }],
    ['lookup-vs-backing-close.json', ['store-instead-of-xchg'], true, { states: 119, transitions: 147, pruned: 57, maxDepth: 16, terminals: 2, findings: ['leak@15', 'refcount-owners@15'] }],
    ['two-opens-vs-release.json', ['store-instead-of-xchg'], true, { states: 642, transitions: 843, pruned: 335, maxDepth: 32, terminals: 11, findings: ['refcount-owners@14', 'leak@26'] }],
    ['two-opens-vs-release.json', ['id-reused-at-once'], true, { states: 778, transitions: 1025, pruned: 370, maxDepth: 34, terminals: 16, findings: ['idr@20'] }],
    ['abort-vs-open.json', ['passthrough-release-no-fput'], true, { states: 48, transitions: 47, pruned: 18, maxDepth: 13, terminals: 6, findings: ['leak@13'] }],
    ['lookup-vs-backing-close.json', ['passthrough-release-no-fput'], true, { states: 119, transitions: 147, pruned: 57, maxDepth: 16, terminals: 2, findings: ['leak@15'] }],
    ['abort-vs-open.json', ['files-free-skips-map'], true, { states: 48, transitions: 47, pruned: 18, maxDepth: 13, terminals: 6, findings: ['leak@8', 'refcount-owners@8'] }],
  ];
  for (const [file, mutants, por, want] of PINNED) {
    it(`${file}${mutants.length ? ` --mutant ${mutants.join(',')}` : ''}${por ? '' : ' --no-por'}`, () => {
      const r = explore(loadScenario(REF(file)), { mutants, por });
      expect({ states: r.states, transitions: r.transitions, pruned: r.pruned, maxDepth: r.maxDepth, terminals: r.terminals, findings: r.findings.map((f) => `${f.kind}@${f.depth}`) }).toEqual(want);
    });
  }
  // growth-3: distinct states and transitions, with and without sleep sets, and the mutants
  // that show on it at their shortest depth (the compact states of issue 13 keep them all)
  const GROWTH3: [string[], boolean, [number, number, number, number, number], string[]][] = [
    // (6926 states, 11827/16679 transitions and 28 terminals before the dentry LRU: the
    // DCACHE_LRU_LIST and DCACHE_REFERENCED bits of /fuse/f, which drop_caches' FORGET order
    // depends on, now tell apart states that were one; every finding depth is unchanged.
    // 7326 states, 12299/17355 transitions, max depth 26 and 36 terminals before
    // d_alloc_parallel: a user's lookup of f now waits for the other's LOOKUP instead of
    // sending its own, as the kernel does; again every finding depth is unchanged)
    [[], true, [3746, 6255, 2642, 24, 18], []],
    [[], false, [3746, 8897, 0, 24, 18], []],
    [['free-without-grace-period'], true, [4726, 7831, 3212, 24, 26], ['rcu-early-free@5', 'use-after-free@12']],
    [['get-without-not-zero'], true, [4758, 7835, 3218, 25, 38], ['refcount-inc-from-zero@12', 'use-after-free@16', 'double-free@23']],
    [['store-instead-of-xchg'], true, [3746, 6255, 2642, 24, 18], ['leak@21', 'refcount-owners@21']],
  ];
  for (const [mutants, por, counts, findings] of GROWTH3) {
    it(`the growth family at 3 tasks${mutants.length ? ` --mutant ${mutants.join(',')}` : ''}${por ? '' : ' --no-por'}`, () => {
      const r = explore(growthScenario(3), { mutants, por, symmetry: false });
      expect([r.states, r.transitions, r.pruned, r.maxDepth, r.terminals]).toEqual(counts);
      expect(r.findings.map((f) => `${f.kind}@${f.depth}`)).toEqual(findings);
    });
  }
});

describe('the reduction and the hashing lose nothing', () => {
  it('sleep sets skip transitions but reach exactly the states of the full search', () => {
    for (const [s, mutants] of [
      [lookupVsClose, []],
      [lookupVsClose, ['get-without-not-zero']],
      [abortVsOpen, []],
    ] as const) {
      const full = explore(s, { por: false, keepHashes: true, mutants: [...mutants] });
      const por = explore(s, { keepHashes: true, mutants: [...mutants] });
      expect(por.pruned).toBeGreaterThan(0);
      expect(por.transitions).toBeLessThan(full.transitions);
      expect(new Set(por.hashes)).toEqual(new Set(full.hashes));
      expect(por.findings.map((f) => [f.kind, f.depth])).toEqual(full.findings.map((f) => [f.kind, f.depth]));
    }
  });

  it('hash compaction: one 128-bit fingerprint per state, the collision bound printed', () => {
    const r = explore(twoOpens, { keepHashes: true });
    expect(r.visited.mode).toBe('fingerprint');
    expect(new Set(r.hashes).size).toBe(r.states);
    expect(r.hashes!.every((h) => /^[0-9a-f]{32}$/.test(h))).toBe(true);
    expect(r.visited.p).toBeCloseTo((r.states * r.states) / 2 ** 129, 40);
    expect(r.visited.note).toMatch(/P\(any two of 778 states collide\) <= 8\.9e-34/);
  });

  it('bitstate: a large array finds every state; a tiny one misses some, never invents any', () => {
    const exact = explore(twoOpens, { keepHashes: true });
    const big = explore(twoOpens, { bitstate: 24, keepHashes: true });
    expect(big.visited.mode).toBe('bitstate');
    expect(big.states).toBe(exact.states);
    expect(big.transitions).toBe(exact.transitions);
    const tiny = explore(twoOpens, { bitstate: 10, keepHashes: true });
    expect(tiny.states).toBeLessThan(exact.states);
    const all = new Set(exact.hashes);
    for (const h of tiny.hashes!) expect(all.has(h)).toBe(true);
    expect(tiny.visited.note).toMatch(/states may be missed/);
    // the seeded race is still found with its shortest trace when the bits suffice
    const race = explore(lookupVsClose, { bitstate: 20, mutants: ['free-without-grace-period'] });
    expect(race.findings.map((f) => `${f.kind}@${f.depth}`)).toEqual(['rcu-early-free@5', 'use-after-free@12']);
  });

  it('incremental hashes and undo agree with a full recomputation (--paranoid)', () => {
    const r = explore(lookupVsClose, { paranoid: true, mutants: ['free-without-grace-period'] });
    expect(r.states).toBeGreaterThan(100);
  });

  it('the same scenario gives the same counts every time', () => {
    const a = explore(twoOpens);
    const b = explore(twoOpens);
    expect([b.states, b.transitions, b.pruned, b.maxDepth, b.terminals]).toEqual([a.states, a.transitions, a.pruned, a.maxDepth, a.terminals]);
  });

  it('worlds that differ only in allocation order are one state', () => {
    // two users each open a plain file (one step, one struct file each): in either order the
    // explorer numbers each task's allocations on its own, so both orders end in one state
    const s = ScenarioSchema.parse({
      name: 'two-local-opens',
      filesystems: [{ name: 'lower', type: 'plain', files: { a: 'x' } }],
      tasks: [
        { name: 'u1', ops: [{ op: 'open', path: '/lower/a' }] },
        { name: 'u2', ops: [{ op: 'open', path: '/lower/a' }] },
      ],
    });
    const r = explore(s, { por: false, symmetry: false }); // (with symmetry, "u1 done" and "u2 done" are one state)
    expect(r.states).toBe(4); // before, u1 done, u2 done, both done
    expect(r.transitions).toBe(4);
    expect(r.findings).toEqual([]);
    // and the canonical form does not depend on key order either
    const w = initialWorld(lookupVsClose);
    expect(stateKey(digestOf(components(w, new Slots())), '')).toBe(stateKey(digestOf(components(structuredClone(w), new Slots())), ''));
  });
});

describe('symmetry reduction: interchangeable users, one state per orbit', () => {
  // growth-3: user1 and user2 run the same program; growth-4: user1..user3
  const GROWTH3_SYM: [string[], boolean, number, number, string[]][] = [
    // mutants, por, states explored, the no-symmetry count they stand for, findings
    [[], true, 1877, 3746, []],
    [[], false, 1877, 3746, []],
    [['free-without-grace-period'], true, 2367, 4726, ['rcu-early-free@5', 'use-after-free@12']],
    [['get-without-not-zero'], true, 2383, 4758, ['refcount-inc-from-zero@12', 'use-after-free@16', 'double-free@23']],
    [['store-instead-of-xchg'], true, 1877, 3746, ['leak@21', 'refcount-owners@21']],
  ];
  for (const [mutants, por, states, represented, findings] of GROWTH3_SYM) {
    it(`growth-3${mutants.length ? ` --mutant ${mutants.join(',')}` : ''}${por ? '' : ' --no-por'}: the representatives stand for exactly the states of the search without symmetry, and find the same violations at the same depth`, () => {
      const r = explore(growthScenario(3), { mutants, por });
      expect(r.symmetry).toMatchObject({ on: true, groups: [['user1', 'user2']], order: 2 });
      expect([r.states, r.symmetry.represented]).toEqual([states, represented]);
      expect(r.findings.map((f) => `${f.kind}@${f.depth}`)).toEqual(findings);
      // the same counts without symmetry (pinned above): the orbits add up to them
      const plain = explore(growthScenario(3), { mutants, por, symmetry: false });
      expect(plain.states).toBe(represented);
      expect(plain.findings.map((f) => `${f.kind}@${f.depth}`)).toEqual(findings);
    });
  }

  // the built-in scenarios whose users are interchangeable: creates, unlinks (the directory
  // lock), reads through one backing file; the renaming follows their pids, lock owners (FLUSH)
  // and objects, so the orbits add up exactly
  for (const [file, paranoid, states, represented] of [
    ['dir-lock-two-creators-one-name.json', true, 29, 57],
    ['dir-lock-two-unlinks-one-name.json', true, 45, 89],
    ['three-readers-one-backing.json', true, 1113, 6465],
  ] as const) {
    it(`scenarios/${file}: ${states} representatives stand for the ${represented} states of the search without symmetry`, () => {
      const s = loadScenario(join(import.meta.dirname, '..', 'scenarios', file));
      const r = explore(s, { paranoid });
      expect(r.symmetry.on).toBe(true);
      expect([r.states, r.symmetry.represented]).toEqual([states, represented]);
      expect(explore(s, { symmetry: false }).states).toBe(represented);
    }, 120_000);
  }

  it('a counterexample found with symmetry is a real schedule: fpsim run shows the violation', () => {
    const s = growthScenario(3);
    const r = explore(s, { mutants: ['free-without-grace-period'] });
    const f = r.findings.find((x) => x.kind === 'use-after-free')!;
    const ce = counterexample(s, JSON.parse(JSON.stringify(s)), f, { mutants: r.mutants, kernel: r.kernel });
    expect(ce.reproduced).toBe(true);
  });

  it('--paranoid: every representative\'s incremental hash equals its full hash', () => {
    const r = explore(growthScenario(3), { paranoid: true, maxStates: 1500 });
    expect(r.symmetry.on).toBe(true);
    expect(r.states).toBe(1500);
  });

  it('shards split the representatives: their union is the unsharded run\'s', () => {
    const all = explore(growthScenario(3), { keepHashes: true });
    const parts = [0, 1].map((index) => explore(growthScenario(3), { keepHashes: true, shard: { index, count: 2 }, frontier: 8 }));
    expect(new Set(parts.flatMap((p) => p.hashes!))).toEqual(new Set(all.hashes));
    const merged = merge(parts, 1);
    expect(merged.states).toBe(all.states);
    expect(merged.symmetry.on).toBe(true);
  });

  it('--workers with symmetry: the worker threads\' representatives are the unsharded run\'s', async () => {
    const all = explore(growthScenario(3), { keepHashes: true });
    const r = await exploreParallel(growthScenario(3), { frontier: 8 }, 2);
    expect(new Set(r.hashes)).toEqual(new Set(all.hashes));
    expect(r.symmetry.on).toBe(true);
  });

  it('--no-symmetry, and scenarios without interchangeable tasks, say why symmetry is off', () => {
    expect(explore(growthScenario(3), { symmetry: false, maxStates: 10 }).symmetry).toMatchObject({ on: false, why: 'off (--no-symmetry)', represented: 10 });
    expect(explore(lookupVsClose).symmetry).toMatchObject({ on: false, why: 'no two user tasks run the same program with the same credentials' });
    // a program that takes locks is not interchangeable: the lock table's owners and pids are not renamed
    const raw = JSON.parse(JSON.stringify(growthScenario(3))) as { tasks: { ops: unknown[] }[] };
    for (const t of raw.tasks.slice(1)) t.ops.push({ op: 'flock', fd: 3, type: 'ex' });
    const locking = ScenarioSchema.parse(raw);
    const why = explore(locking, { maxStates: 10 }).symmetry.why;
    expect(why).toMatch(/^no interchangeable tasks: user1 takes flock locks/);
  });
});

describe('shards', () => {
  it('the union of the shards\' states is exactly the unsharded run\'s', () => {
    const all = explore(twoOpens, { keepHashes: true });
    for (const count of [2, 3]) {
      const parts = Array.from({ length: count }, (_, index) => explore(twoOpens, { keepHashes: true, shard: { index, count }, frontier: 6 }));
      for (const p of parts) expect(p.shard!.frontier).toBe(6);
      const union = new Set(parts.flatMap((p) => p.hashes!));
      expect(union).toEqual(new Set(all.hashes));
      // each shard alone sees less than the whole
      for (const p of parts) expect(p.states).toBeLessThan(all.states);
      const merged = merge(parts, 1);
      expect(merged.states).toBe(all.states);
      expect(merged.findings).toEqual([]);
    }
  });

  it('a shard of a mutant run still finds the race, and the merge keeps the shortest', () => {
    const parts = [0, 1].map((index) => explore(lookupVsClose, { keepHashes: true, shard: { index, count: 2 }, frontier: 3, mutants: ['free-without-grace-period'] }));
    const merged = merge(parts, 1);
    expect(merged.findings.find((f) => f.kind === 'use-after-free')!.depth).toBe(12);
  });

  it('--workers: worker threads, merged, give the whole state set', async () => {
    const all = explore(lookupVsClose, { keepHashes: true });
    const r = await exploreParallel(lookupVsClose, { frontier: 3 }, 2);
    expect(new Set(r.hashes)).toEqual(new Set(all.hashes));
    expect(r.shards).toHaveLength(2);
  });
});

describe('counterexample files', () => {
  it('never overwrite: a second file gets a suffix', () => {
    const dir = testDir('fpsim-explore-');
    const a = writeNew(dir, 'x', '1');
    const b = writeNew(dir, 'x', '2');
    expect(a).toMatch(/x\.json$/);
    expect(b).toMatch(/x-2\.json$/);
    expect(readdirSync(dir).sort()).toEqual(['x-2.json', 'x.json']);
    expect(readFileSync(a, 'utf8')).toBe('1');
  });
});

describe('bench harness: the explorer part', () => {
  it('measures a tiny exploration', () => {
    const r = exploreRate('abort vs open', abortVsOpen, {}, 2);
    expect(r.states).toBe(explore(abortVsOpen).states);
    expect(r.statesPerSec).toBeGreaterThan(0);
    expect(r.complete).toBe(true);
    expect(r.findings).toEqual([]);
  });

  it('builds the growth family', () => {
    const s = growthScenario(3);
    expect(s.tasks.map((t) => t.name)).toEqual(['ctl', 'user1', 'user2']);
    const r = explore(growthScenario(2));
    expect(r.states).toBe(explore(lookupVsClose).states);
  });
});
