// The JSON Schemas (schemas/*.json) are generated from the zod schemas and must stay so: the
// committed files are exactly what `npm run schemas` writes, every built-in scenario names its
// schema and validates against it with a real JSON Schema validator, and the JSON Schema and
// zod agree on random scenarios, recorded traces and a few broken files.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Validator } from '@cfworker/json-schema';
import { expectedFiles, SCENARIO_SCHEMA_REF } from '../tools/schemas.ts';
import { SCENARIO_SCHEMA_PATH, TRACE_SCHEMA_PATH, scenarioJsonSchema, traceJsonSchema } from '../api/schemas.ts';
import { builtinScenarios } from '../cli/common.ts';
import { loadScenario, parseScenario } from '../sim/scenario/load.ts';
import { ScenarioSchema } from '../sim/scenario/schema.ts';
import { TraceSchema } from '../sim/trace/format.ts';
import { recordTrace } from '../sim/trace/write.ts';
import { programSeedArb, resolveProgram } from '../properties/program.ts';

const json = (p: string) => JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
const scenarioValidator = new Validator(json(SCENARIO_SCHEMA_PATH) as never, '2020-12', false);
const traceValidator = new Validator(json(TRACE_SCHEMA_PATH) as never, '2020-12', false);
const errors = (v: Validator, x: unknown) =>
  v
    .validate(x)
    .errors.map((e) => `${e.instanceLocation}: ${e.error}`)
    .slice(0, 5);

describe('JSON Schemas', () => {
  it('the committed files are what `npm run schemas` writes (schemas/*.json, "$schema" in scenarios/*.json)', () => {
    const files = expectedFiles();
    expect(files.length).toBeGreaterThan(50);
    for (const f of files) expect(readFileSync(f.path, 'utf8') === f.text, `${f.path} is out of date: run npm run schemas`).toBe(true);
  });

  it('are generated from zod, 2020-12, with a title', () => {
    for (const s of [scenarioJsonSchema(), traceJsonSchema()]) {
      expect(s['$schema']).toBe('https://json-schema.org/draft/2020-12/schema');
      expect(typeof s['title']).toBe('string');
      expect(s['additionalProperties']).toBe(false);
    }
    const props = scenarioJsonSchema()['properties'] as Record<string, unknown>;
    expect(Object.keys(props)).toEqual(expect.arrayContaining(['$schema', 'name', 'filesystems', 'tasks', 'schedule', 'expect']));
  });

  it('every built-in scenario names the schema and validates against it (and against zod)', () => {
    const files = builtinScenarios();
    expect(files.length).toBeGreaterThan(50);
    for (const f of files) {
      const raw = json(f);
      expect(raw['$schema'], f).toBe(SCENARIO_SCHEMA_REF);
      expect(errors(scenarioValidator, raw), f).toEqual([]);
      expect(ScenarioSchema.safeParse(raw).success, f).toBe(true);
    }
  });

  it('"$schema" is for editors: accepted, and not part of the loaded scenario', () => {
    const s = loadScenario('scenarios/passthrough-read.json');
    expect('$schema' in s).toBe(false);
    const text = JSON.stringify({ $schema: 'x.json', name: 'n', filesystems: [{ name: 'l', type: 'plain' }], tasks: [{ name: 't', ops: [] }] });
    expect('$schema' in parseScenario(text, 'x')).toBe(false);
  });

  it('agrees with zod on random scenarios (the property suites\' programs)', () => {
    fc.assert(
      fc.property(programSeedArb, (seed) => {
        const input = resolveProgram(seed);
        expect(ScenarioSchema.safeParse(input).success).toBe(true);
        expect(errors(scenarioValidator, input)).toEqual([]);
      }),
      { seed: 7, numRuns: 150 },
    );
  });

  it('rejects what zod rejects: an unknown key, an unknown op, a bad errno, a missing field', () => {
    const good = json('scenarios/passthrough-read.json');
    const broken: [string, (s: any) => void][] = [
      ['unknown key', (s) => (s.colour = 'red')],
      ['unknown op', (s) => (s.tasks[0].ops[0].op = 'fsync')],
      ['bad errno', (s) => (s.tasks[0].ops[0].expect = 'EWHATEVER')],
      ['no tasks', (s) => delete s.tasks],
      ['bad kernel', (s) => (s.kernel = '5.4')],
      ['bad filesystem type', (s) => (s.filesystems[0].type = 'ext4')],
    ];
    for (const [what, edit] of broken) {
      const s = structuredClone(good);
      edit(s);
      expect(ScenarioSchema.safeParse(s).success, what).toBe(false);
      expect(scenarioValidator.validate(s).valid, what).toBe(false);
    }
  });

  it('every recorded trace validates against the trace schema (and zod)', () => {
    for (const f of ['passthrough-read', 'race-lookup-vs-backing-close', 'stack-fuse-over-overlay-depth-2', 'iomode-passthrough-while-cached-eio']) {
      const { trace } = recordTrace(loadScenario(`scenarios/${f}.json`));
      const roundTrip = JSON.parse(JSON.stringify(trace)) as unknown;
      expect(TraceSchema.safeParse(roundTrip).success, f).toBe(true);
      expect(errors(traceValidator, roundTrip), f).toEqual([]);
      const bad = { ...(roundTrip as object), fpsimTrace: 2 };
      expect(traceValidator.validate(bad).valid).toBe(false);
    }
  });
});
