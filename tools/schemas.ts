// npm run schemas: write schemas/scenario.schema.json and schemas/trace.schema.json from the
// zod schemas (api/schemas.ts), and give every built-in scenario (scenarios/*.json) a
// "$schema" naming the first, as its first key, leaving the rest of the file as it is.
// `--check` writes nothing and exits 1 if anything would change (test/schemas.test.ts runs
// the same comparison).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIO_SCHEMA_FILE, TRACE_SCHEMA_FILE, scenarioJsonSchema, schemaText, traceJsonSchema } from '../api/schemas.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const SCENARIO_SCHEMA_REF = `../schemas/${SCENARIO_SCHEMA_FILE}`;

/** A scenario file's text with "$schema" first (replacing one already there). */
export function withSchemaRef(text: string, ref = SCENARIO_SCHEMA_REF): string {
  const line = `  "$schema": ${JSON.stringify(ref)},\n`;
  const body = text.replace(/^\{\n {2}"\$schema": "[^"\n]*",\n/, '{\n');
  if (!body.startsWith('{\n')) throw new Error('a scenario file should start with "{" and a newline');
  return `{\n${line}${body.slice(2)}`;
}

/** Every file this script writes, with the text it should have. */
export function expectedFiles(root = ROOT): { path: string; text: string }[] {
  const out = [
    { path: join(root, 'schemas', SCENARIO_SCHEMA_FILE), text: schemaText(scenarioJsonSchema()) },
    { path: join(root, 'schemas', TRACE_SCHEMA_FILE), text: schemaText(traceJsonSchema()) },
  ];
  const dir = join(root, 'scenarios');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const path = join(dir, f);
    out.push({ path, text: withSchemaRef(readFileSync(path, 'utf8')) });
  }
  return out;
}

function current(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const check = process.argv.includes('--check');
  let changed = 0;
  for (const { path, text } of expectedFiles()) {
    if (current(path) === text) continue;
    changed++;
    if (check) console.error(`out of date: ${path.slice(ROOT.length + 1)}`);
    else writeFileSync(path, text);
  }
  if (check && changed) {
    console.error('run `npm run schemas`');
    process.exitCode = 1;
  } else console.error(`${changed} file(s) ${check ? 'out of date' : 'written'}`);
}
