// My FUSE server's configurations (scenarios/*.json), checked on the fpsim model of the
// kernel's FUSE passthrough in every CI run: each scenario as written, every interleaving of
// one of them, and a property campaign over all of them with a fixed seed.
import { describe, expect, it } from 'vitest';
import { assertCampaign, explore, loadScenarios, runScenario, verdict } from 'fpsim';

const mine = loadScenarios('scenarios');
const LONG = 120_000; // ms: an exhaustive search and a campaign take seconds, vitest allows 5 by default

describe('my server on the fpsim kernel model', () => {
  for (const { file, scenario } of mine) {
    it(`${scenario.name} (${file})`, () => {
      const r = runScenario(scenario);
      expect(r.passed, verdict(r)).toBe(true);
    });
  }

  it('two-readers-one-inode: no violation in any interleaving', () => {
    const s = mine.find((m) => m.scenario.name === 'two-readers-one-inode')!.scenario;
    const r = explore(s);
    expect(r.complete).toBe(true);
    expect(r.findings).toEqual([]);
  }, LONG);

  it('property campaign: my scenarios under random interleavings, and random programs (seed 1)', () => {
    const r = assertCampaign({ runs: 200, seed: 1, scenarios: mine.map((m) => m.scenario), counterexampleDir: 'out/counterexamples' });
    expect(r.runs).toBe(200);
  }, LONG);
});
