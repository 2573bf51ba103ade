import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { SPIN_DIR, growthScenario, runSpin, stepRates } from '../bench/harness.ts';
import { compareGrowthStates } from '../bench/spin/growth-states.ts';
import { loadScenario } from '../sim/scenario/load.ts';
import { explore } from '../sim/explore/explore.ts';
import { need, onPath } from './needs.ts';
import { keepOtherSections } from '../bench/sections.ts';

describe('bench harness', () => {
  it('npm run bench keeps the sections of RESULTS.md it does not write, each after the one it followed', () => {
    const old = '# r\n\nold intro\n\n## A (4 users)\n\nold a\n\n## By hand\n\nmine\n\n## B\n\nold b\n\n## Also by hand\n\nmine too\n';
    const made = '# r\n\nnew intro\n\n## A (8 users)\n\nnew a\n\n## B\n\nnew b\n';
    expect(keepOtherSections(old, made)).toBe('# r\n\nnew intro\n\n## A (8 users)\n\nnew a\n\n## By hand\n\nmine\n\n## B\n\nnew b\n\n## Also by hand\n\nmine too\n');
  });

  it('runs on a tiny input and measures every configuration', () => {
    const rates = stepRates(2, 2, 1);
    expect(rates.map((r) => r.label)).toHaveLength(4);
    for (const r of rates) {
      expect(r.passed).toBe(true);
      expect(r.steps).toBeGreaterThan(20);
      expect(r.stepsPerSec).toBeGreaterThan(0);
    }
    // the same program takes the same number of steps whatever is measured
    expect(new Set(rates.map((r) => r.steps)).size).toBe(1);
  });
});

// SPIN on the Promela model of bench/spin/lookup-close-release.json (what `npm run bench`
// puts side by side with fpsim explore): the same state count, and each seeded bug found by
// both. Needs spin and gcc (.ci/run installs them).
const spinNeed = need('SPIN and fpsim explore agree on lookup vs BACKING_CLOSE vs release, with and without the seeded bugs', ['spin', 'gcc'].filter((c) => !onPath(c)), 'spin gcc');

describe('bench: SPIN side by side', () => {
  it.skipIf(spinNeed.skip)(spinNeed.title, () => {
    spinNeed.check();
    const s = loadScenario(join(SPIN_DIR, 'lookup-close-release.json'));
    const clean = runSpin('lookup_close_release.pml', [], 1, ['-w16']);
    const fp = explore(s, {});
    expect(clean.errors).toBe(0);
    expect(fp.findings).toEqual([]);
    expect(fp.complete).toBe(true);
    expect(clean.states).toBe(fp.states);
    for (const [define, mutant, kind] of [
      ['FREE_WITHOUT_GRACE_PERIOD', 'free-without-grace-period', 'use-after-free'],
      ['GET_WITHOUT_NOT_ZERO', 'get-without-not-zero', 'refcount-inc-from-zero'],
    ] as const) {
      const sp = runSpin('lookup_close_release.pml', [define], 1);
      expect(sp.errors, define).toBe(1);
      const f = explore(s, { mutants: [mutant] }).findings.find((x) => x.kind === kind);
      expect(f, mutant).toBeDefined();
      // the violation at the same depth in both (SPIN counts the init step too)
      expect(sp.violatedAt, define).toBe(f!.depth);
    }
  }, 300_000);
});

// bench/spin/growth.pml, the growth family in Promela (what `npm run bench:spin-growth` times
// against fpsim explore): the same states as fpsim's exhaustive search, counted at 2 and 3
// tasks, and compared one by one at 2 (bench/spin/growth-states.ts; run it by hand on 3).
const growthNeed = need('SPIN on bench/spin/growth.pml counts the states fpsim explore --no-por counts at 2 and 3 tasks', ['spin', 'gcc'].filter((c) => !onPath(c)), 'spin gcc');

describe('bench: SPIN on the growth family', () => {
  it.skipIf(growthNeed.skip)(growthNeed.title, () => {
    growthNeed.check();
    for (const n of [2, 3]) {
      const sp = runSpin('growth.pml', [`USERS=${n - 1}`], 1, ['-w16', '-m1000'], { spinFlags: ['-o2'], gccFlags: ['-DNOREDUCE'] });
      const fp = explore(growthScenario(n), { por: false, symmetry: false });
      expect(fp.complete, `${n} tasks`).toBe(true);
      expect(fp.findings, `${n} tasks`).toEqual([]);
      expect(sp.errors, `${n} tasks`).toBe(0);
      expect(sp.states, `${n} tasks: states`).toBe(fp.states);
      // SPIN's stored + matched counts the initial state once more
      expect(sp.transitions, `${n} tasks: transitions`).toBe(fp.transitions + 1);
    }
    const c = compareGrowthStates(2);
    expect(c.views, 'the Promela view of fpsim\'s states forgets nothing').toBe(c.fpsimStates);
    expect(c.onlyFpsim).toEqual([]);
    expect(c.onlySpin).toEqual([]);
    expect(c.spinReached + 1).toBe(c.fpsimStates);
  }, 300_000);
});
