// The library API (api/index.ts, `import ... from 'fpsim'`), in-process from the sources;
// test/package.test.ts runs it from the installed tarball. docs/api.md shows the example
// project's test file as it is.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  InputError,
  assertCampaign,
  builtinScenarios,
  explore,
  loadScenarios,
  parseTrace,
  readTrace,
  renderTraceHtml,
  replayTrace,
  runCampaign,
  runScenario,
  serializeTrace,
  validateScenario,
  verdict,
  writeTrace,
  VERSION,
} from '../api/index.ts';
import { testDir } from './tmp.ts';

const ROOT = join(import.meta.dirname, '..');
const EXAMPLE = join(ROOT, 'examples', 'server-ci');

describe('fpsim as a library', () => {
  it('loads a directory of scenarios, and says which file is wrong and where', () => {
    const mine = loadScenarios(join(EXAMPLE, 'scenarios'));
    expect(mine.map((m) => m.scenario.name)).toEqual(['direct-io-file-reads-server', 'per-open-read-write', 'two-readers-one-inode']);
    expect(builtinScenarios().length).toBeGreaterThan(50);
    const dir = testDir('fpsim-api-');
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ name: 'x', filesystems: [], tasks: [{ name: 't', ops: [{ op: 'open' }] }] }));
    expect(() => loadScenarios(dir)).toThrow(InputError);
    expect(() => loadScenarios(dir)).toThrow(/bad\.json.*\n.*\$\.filesystems/);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('validateScenario: the scenario, or every issue with its JSON path', () => {
    const raw = JSON.parse(readFileSync(join(EXAMPLE, 'scenarios', 'per-open-read-write.json'), 'utf8')) as Record<string, unknown>;
    const ok = validateScenario(raw);
    expect(ok.ok && ok.scenario.name).toBe('per-open-read-write');
    expect(ok.ok && '$schema' in ok.scenario).toBe(false);
    const bad = validateScenario({ ...raw, kernel: '5.4', tasks: [] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.path).sort()).toEqual(['$.kernel', '$.tasks']);
  });

  it('runScenario: outcomes, violations, a trace that replays, writes, reads back and renders', () => {
    const [s] = loadScenarios(join(EXAMPLE, 'scenarios', 'per-open-read-write.json'));
    const r = runScenario(s!.scenario, { trace: true });
    expect(r.passed, verdict(r)).toBe(true);
    expect(r.outcomes.filter((o) => o.expected !== null)).toHaveLength(6);
    expect(r.violations).toEqual([]);
    expect(verdict(r)).toMatch(/^PASS per-open-read-write$/m);
    const t = r.trace!;
    expect(replayTrace(t).divergence).toBeNull();
    const file = join(testDir('fpsim-api-'), 't.json');
    writeTrace(file, t);
    expect(readTrace(file)).toEqual(parseTrace(serializeTrace(t), 'x'));
    expect(renderTraceHtml(t)).toContain('per-open-read-write');
    // a seeded bug breaks it, and the verdict says so
    const race = builtinScenarios().find((b) => b.scenario.name === 'race-lookup-vs-backing-close')!.scenario;
    const bug = runScenario(race, { mutants: ['get-without-not-zero'] });
    expect(bug.passed).toBe(false);
    expect(verdict(bug)).toMatch(/VIOLATION refcount-inc-from-zero/);
  });

  it('explore: every interleaving of a scenario', () => {
    const [s] = loadScenarios(join(EXAMPLE, 'scenarios', 'direct-io-file-reads-server.json'));
    const r = explore(s!.scenario);
    expect(r.complete).toBe(true);
    expect(r.findings).toEqual([]);
  });

  it('runCampaign over your own scenarios: same seed, same runs; a seeded bug is found and reported', () => {
    const mine = loadScenarios(join(EXAMPLE, 'scenarios')).map((m) => m.scenario);
    const a = runCampaign({ runs: 60, seed: 5, scenarios: mine, random: false });
    const b = runCampaign({ runs: 60, seed: 5, scenarios: mine, random: false });
    expect(a.failed).toBe(false);
    expect(a.report).toBeNull();
    expect(a.runs).toBe(60);
    expect(a.steps).toBe(b.steps);
    // only the user's scenarios ran: every op is one they have
    expect(Object.keys(a.coverage.ops).sort()).toEqual(['close', 'open', 'read', 'write']);
    const dir = testDir('fpsim-api-');
    let thrown: Error | null = null;
    try {
      assertCampaign({ runs: 300, seed: 5, scenarios: mine, mutants: ['extra-put-same-fb'], shrinkMs: 2000, counterexampleDir: dir });
    } catch (e) {
      thrown = e as Error;
    }
    expect(thrown?.message).toMatch(/Property "model" failed .*mutants: extra-put-same-fb/);
    expect(thrown?.message).toContain(dir);
  });

  it('docs/api.md shows the example project\'s test file as it is', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'api.md'), 'utf8');
    expect(doc).toContain(readFileSync(join(EXAMPLE, 'test', 'fpsim.test.ts'), 'utf8').trimEnd());
    expect(doc).toContain(readFileSync(join(EXAMPLE, 'README.md'), 'utf8').trimEnd());
  });
});
