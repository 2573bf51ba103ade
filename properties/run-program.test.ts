// The model property: every run of a random program under a random interleaving reports no
// violation (the invariants after every atomic step, the leak check after teardown), never
// deadlocks, and returns only what the syscalls may return. Fixed seeds: CI runs the same
// programs every time (FPSIM_SEED and FPSIM_RUNS run other or longer campaigns locally).
// A failure prints the shrunk program, the interleaving, seed and path, and writes
// out/counterexamples/<name>.json (a trace) and <name>.scenario.json (fpsim run it).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { assertModel, envInt, modelArb } from './property.ts';
import { runProgram } from './run-program.ts';
import { loadScenario } from '../sim/scenario/load.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { readTrace } from '../sim/trace/read.ts';
import { replayTrace } from '../sim/trace/replay.ts';
import { TARGETED } from './targeted.ts';

const SEED = envInt('FPSIM_SEED', 20240309);
const RUNS = envInt('FPSIM_RUNS', 1500);

describe('model property: no violation, no deadlock, only allowed outcomes', () => {
  it(`kernel 6.9: ${RUNS} programs`, () => {
    assertModel({ name: 'model-6.9', seed: SEED, numRuns: RUNS, kernel: '6.9', shrinkMs: 20_000 });
  });

  for (const kernel of ['6.18', 'v15']) {
    it(`kernel ${kernel}: ${Math.ceil(RUNS / 4)} programs`, () => {
      assertModel({ name: `model-${kernel}`, seed: SEED + 1, numRuns: Math.ceil(RUNS / 4), kernel, shrinkMs: 20_000 });
    });
  }

  it('the hand-made race programs pass under their own schedules', () => {
    for (const t of TARGETED) {
      const r = runProgram({ scenario: t.scenario, sched: [], origin: t.name, own: true });
      expect(r.failures, t.name).toEqual([]);
    }
  });
});

describe('the model is deterministic', () => {
  it('same program and schedule: byte-identical step records, outcomes and violations', () => {
    fc.assert(
      fc.property(modelArb(), (p) => {
        const a = runProgram(p, { record: true });
        const b = runProgram(p, { record: true });
        const bytes = (r: typeof a) => JSON.stringify({ steps: r.result?.steps, outcomes: r.result?.outcomes, violations: r.result?.violations, picks: r.picks });
        return bytes(a) === bytes(b) && a.steps === b.steps;
      }),
      { seed: SEED, numRuns: Math.ceil(RUNS / 8) },
    );
  });
});

describe('a failing property reports a counterexample that fpsim can run again', () => {
  it('under a seeded bug: the report, the trace and the scenario file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fpsim-ce-'));
    const err = console.error;
    console.error = () => {}; // the report is expected here: keep the test output quiet
    let thrown: Error | null = null;
    try {
      assertModel({ name: 'mutant-store-instead-of-xchg', seed: SEED, numRuns: 500, mutants: ['store-instead-of-xchg'], requireBaselinePass: true, shrinkMs: 5000, dir });
    } catch (e) {
      thrown = e as Error;
    }
    try {
      expect(thrown).not.toBeNull();
      const text = thrown!.message;
      expect(text).toMatch(/refcount-owners|leak/);
      expect(text).toMatch(/Shrunk program/);
      expect(text).toMatch(/Interleaving:/);
      expect(text).toMatch(/seed \d+, path "[\d:]*"/);
      const files = [...text.matchAll(/(\S+\.json)\b/g)].map((m) => m[1]!);
      const tracePath = files.find((f) => !f.endsWith('.scenario.json'))!;
      const scenarioPath = files.find((f) => f.endsWith('.scenario.json'))!;
      // the scenario file is a scenario by itself, and fails again (with the mutant it names)
      const s = loadScenario(scenarioPath);
      expect(s.mutants).toEqual(['store-instead-of-xchg']);
      expect(runScenario(s).passed).toBe(false);
      expect(runScenario(s, { mutants: [] }).passed).toBe(true);
      // the trace replays step for step
      const trace = readTrace(tracePath);
      expect(JSON.parse(readFileSync(tracePath, 'utf8')).fpsimTrace).toBe(1);
      expect(replayTrace(trace).divergence).toBeNull();
      // a second failure never overwrites: it gets a suffix
      expect(() =>
        assertModel({ name: 'mutant-store-instead-of-xchg', seed: SEED, numRuns: 500, mutants: ['store-instead-of-xchg'], requireBaselinePass: true, shrinkMs: 0, endOnFailure: true, dir }),
      ).toThrow(/mutant-store-instead-of-xchg-1\.json/);
    } finally {
      console.error = err;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
