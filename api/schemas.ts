// JSON Schemas of fpsim's files, generated from the zod schemas the model validates with
// (never written by hand): schemas/scenario.schema.json and schemas/trace.schema.json, written
// by `npm run schemas` (tools/schemas.ts), shipped in the package, and kept equal to these by
// test/schemas.test.ts. A scenario file names its schema with "$schema", so that an editor
// checks and completes it.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ScenarioSchema } from '../sim/scenario/schema.ts';
import { TraceSchema } from '../sim/trace/format.ts';

/** The directory of the JSON Schema files (schemas/ in the tree; dist/schemas/ compiled, a copy). */
export const SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
export const SCENARIO_SCHEMA_FILE = 'scenario.schema.json';
export const TRACE_SCHEMA_FILE = 'trace.schema.json';
/** Absolute paths of the two files. */
export const SCENARIO_SCHEMA_PATH = join(SCHEMA_DIR, SCENARIO_SCHEMA_FILE);
export const TRACE_SCHEMA_PATH = join(SCHEMA_DIR, TRACE_SCHEMA_FILE);

type JsonSchema = Record<string, unknown>;

function generate(schema: z.ZodType, head: { title: string; description: string }): JsonSchema {
  // "input": what a file may say (fields with a default may be left out); refinements that
  // JSON Schema cannot say (a task named twice, a layer declared later) are checked by fpsim
  const body = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' }) as JsonSchema;
  const { $schema, ...rest } = body;
  return { $schema, ...head, ...rest };
}

/** The JSON Schema of a scenario file. */
export function scenarioJsonSchema(): JsonSchema {
  return generate(ScenarioSchema, {
    title: 'fpsim scenario',
    description:
      'A scenario of the fpsim model of Linux FUSE passthrough: filesystems (plain, overlay, fuse with a server policy), tasks and their syscalls with the outcome each must have, the schedule and the violations expected. Generated from sim/scenario/schema.ts; fpsim also checks what JSON Schema cannot say (names declared before use, no duplicates).',
  });
}

/** The JSON Schema of a trace file (fpsim run --trace, fpsim replay). */
export function traceJsonSchema(): JsonSchema {
  return generate(TraceSchema, {
    title: 'fpsim trace',
    description: 'One recorded run of an fpsim scenario: the scenario, kernel profile and mutants, every task picked and every step with its effects, the violations and the verdict. Generated from sim/trace/format.ts.',
  });
}

/** A schema file's text, as committed: two-space JSON and a final newline. */
export function schemaText(schema: JsonSchema): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
