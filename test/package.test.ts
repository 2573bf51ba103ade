// fpsim where its users put it (slow: npm pack compiles the model, npm install asks the npm
// registry for the runtime dependencies). The tarball installed with `npm install --omit=dev`
// into an empty project runs `fpsim --version`, `fpsim list`, `fpsim run`, `fpsim explore
// --workers 2` and the library; then the example project (examples/server-ci) is set up and
// run exactly as its README says, line by line, and its own vitest suite passes. No network
// is no skip: an unreachable registry fails here, loudly.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, installInto, pack } from '../tools/pack.ts';

const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const tmp = mkdtempSync(join(tmpdir(), 'fpsim-pack-'));
let tgz = '';
const app = join(tmp, 'app');

/** Run a command in dir; its output, or a failure with everything it printed. */
function sh(dir: string, cmd: string, args: string[], env: Record<string, string> = {}, ok: number[] = [0]): string {
  const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1', ...env }, maxBuffer: 64 << 20 });
  if (r.status === null || !ok.includes(r.status)) throw new Error(`${cmd} ${args.join(' ')} (in ${dir}) exited ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

beforeAll(() => {
  tgz = pack(join(tmp, 'tarball'));
  installInto(app, tgz, { omitDev: true });
}, 600_000);

afterAll(() => rmSync(tmp, { recursive: true, force: true }), 120_000); // node_modules of two projects: slow on a busy disk

describe('the packed tarball (slow: npm pack, npm install --omit=dev)', () => {
  it('ships the compiled model, the data it reads, the schemas and the example; no sources, tests or tools', () => {
    const files = execFileSync('tar', ['tzf', tgz], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((f) => f.replace(/^package\//, ''));
    for (const f of [
      'bin/fpsim.js',
      'dist/cli/main.js',
      'dist/api/index.js',
      'dist/api/index.d.ts',
      'dist/scenarios/passthrough-read.json',
      'dist/oracle/native/fpsim-fuse-helper.c',
      'dist/oracle/native/fpsim-user.c',
      'dist/sim/explore/worker-boot.mjs',
      'dist/sim/explore/worker.js',
      'schemas/scenario.schema.json',
      'schemas/trace.schema.json',
      'dist/schemas/scenario.schema.json',
      'docs/api.md',
      'examples/server-ci/README.md',
      'examples/server-ci/test/fpsim.test.ts',
      'README.md',
      'package.json',
    ]) {
      expect(files, f).toContain(f);
    }
    const wrong = files.filter((f) => (f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.startsWith('examples/')) || /^(test|bench|tools|\.ci|node_modules|sim|cli|properties|oracle|teach|view|api)\//.test(f) || f.includes('/build/'));
    expect(wrong).toEqual([]);
  });

  it('installs only the runtime dependencies: no tsx, TypeScript or vitest', () => {
    const mods = readdirSync(join(app, 'node_modules'));
    expect(mods).toContain('fpsim');
    for (const dev of ['tsx', 'typescript', 'vitest', 'esbuild', '@fast-check']) expect(mods, dev).not.toContain(dev);
  });

  it('npx fpsim --version, list, run', () => {
    expect(sh(app, 'npx', ['fpsim', '--version']).trim()).toBe(version);
    const list = sh(app, 'npx', ['fpsim', 'list']);
    expect(list).toMatch(/^passthrough-read\s/m);
    expect(JSON.parse(sh(app, 'npx', ['fpsim', 'list', '--json'])).length).toBeGreaterThan(50);
    const run = sh(app, 'npx', ['fpsim', 'run', 'node_modules/fpsim/dist/scenarios/passthrough-read.json']);
    expect(run).toMatch(/^PASS passthrough-read$/m);
  });

  it('npx fpsim explore --workers 2 (worker threads run the compiled explorer)', () => {
    const out = JSON.parse(sh(app, 'npx', ['fpsim', 'explore', 'node_modules/fpsim/dist/scenarios/race-lookup-vs-backing-close.json', '--workers', '2', '--no-write', '--json'], {}, [0, 1])) as { complete: boolean; states: number; findings: { kind: string }[] };
    expect(out.complete).toBe(true);
    // other interleavings of this race break its asserts (exit 1): found, through both workers
    expect(out.findings.map((f) => f.kind)).toContain('outcome');
    expect(out.states).toBeGreaterThan(100);
  });

  it('import "fpsim": load, run with a trace, replay, render; the schema paths exist', () => {
    const code = `
      import { builtinScenarios, runScenario, replayTrace, renderTraceHtml, SCENARIO_SCHEMA_PATH, TRACE_SCHEMA_PATH, VERSION } from 'fpsim';
      import { existsSync } from 'node:fs';
      const [first] = builtinScenarios().filter((s) => s.scenario.name === 'passthrough-read');
      const r = runScenario(first.scenario, { trace: true });
      const rp = replayTrace(r.trace);
      console.log(JSON.stringify({ passed: r.passed, replayed: rp.divergence === null, html: renderTraceHtml(r.trace).startsWith('<!doctype html>'), schemas: existsSync(SCENARIO_SCHEMA_PATH) && existsSync(TRACE_SCHEMA_PATH), VERSION }));
    `;
    const out = JSON.parse(sh(app, process.execPath, ['--input-type=module', '-e', code])) as Record<string, unknown>;
    expect(out).toEqual({ passed: true, replayed: true, html: true, schemas: true, VERSION: version });
  });

  it('its types: a TypeScript project typechecks against the installed .d.ts (strict, no @types/node)', () => {
    writeFileSync(
      join(app, 'use.ts'),
      [
        "import { loadScenarios, runScenario, runCampaign, explore, verdict, validateScenario, type Scenario, type ScenarioRun, type CampaignRun } from 'fpsim';",
        "const mine: Scenario[] = loadScenarios('node_modules/fpsim/examples/server-ci/scenarios').map((m) => m.scenario);",
        'const r: ScenarioRun = runScenario(mine[0]!, { trace: true });',
        'const c: CampaignRun = runCampaign({ runs: 10, seed: 1, scenarios: mine });',
        'const states: number = explore(mine[0]!).states;',
        'const v = validateScenario({});',
        "export const out = [verdict(r), c.failed, states, r.trace?.steps.length, v.ok ? v.scenario.name : v.issues[0]?.path];",
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, types: [], skipLibCheck: false }, files: ['use.ts'] }),
    );
    sh(app, process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', '.']);
  });

  it('the example project, set up and run as its README says (its own vitest suite, a property campaign)', () => {
    const ex = join(tmp, 'server-ci');
    cpSync(join(ROOT, 'examples', 'server-ci'), ex, { recursive: true, filter: (src) => !/node_modules|[/\\]out$/.test(src) });
    // the README installs ./fpsim-<version>.tgz: the tarball `npm pack` made
    renameSync(tgz, join(ex, `fpsim-${version}.tgz`));
    tgz = join(ex, `fpsim-${version}.tgz`);
    const readme = readFileSync(join(ex, 'README.md'), 'utf8').trimEnd().split('\n');
    expect(readme).toHaveLength(5);
    // the copy of the example starts from the README too: its scenarios and tests come from the package
    rmSync(join(ex, 'scenarios'), { recursive: true });
    rmSync(join(ex, 'test'), { recursive: true });
    const outputs: string[] = [];
    for (const line of readme) {
      outputs.push(sh(ex, 'bash', ['-c', `set -euo pipefail; ${line}`], { npm_config_ignore_scripts: 'true', npm_config_audit: 'false', npm_config_fund: 'false' }));
    }
    expect(existsSync(join(ex, 'scenarios', 'per-open-read-write.json'))).toBe(true);
    const vitest = outputs[2]!;
    expect(vitest).toMatch(/Tests\s+\d+ passed \(\d+\)/);
    expect(vitest).not.toMatch(/skipped|failed/);
    expect(Number(/Tests\s+(\d+) passed/.exec(vitest)![1])).toBeGreaterThanOrEqual(5);
    expect(outputs[3]).toMatch(/^PASS per-open-read-write$/m);
    expect(outputs[4]).toMatch(/no violations in any interleaving/);
  });
}, 900_000);
