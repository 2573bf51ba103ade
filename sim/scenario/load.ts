// Reading a scenario file: JSON errors and schema errors name the file, the place and what
// was expected; nothing runs on bad input.
import { readFileSync } from 'node:fs';
import { ScenarioSchema, type Scenario } from './schema.ts';
import { formatIssues, jsonPath, jsonProblem, parseJsonText } from './issues.ts';

export { jsonPath };

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export function parseScenario(text: string, file: string): Scenario {
  let json: unknown;
  try {
    json = parseJsonText(text);
  } catch (e) {
    throw new InputError(`${file}: not valid JSON${jsonProblem(text, (e as Error).message)}`);
  }
  // a trace file (fpsimTrace) holds its scenario: run that, on the trace's kernel and mutants
  let at: PropertyKey[] = [];
  if (typeof json === 'object' && json !== null && !Array.isArray(json) && 'fpsimTrace' in json) {
    const t = json as { scenario?: unknown; kernel?: unknown; mutants?: unknown };
    if (typeof t.scenario !== 'object' || t.scenario === null) throw new InputError(`${file}: a trace without a scenario (at $.scenario)`);
    json = {
      ...(t.scenario as object),
      ...(t.kernel !== undefined ? { kernel: t.kernel } : {}),
      ...(t.mutants !== undefined ? { mutants: t.mutants } : {}),
    };
    at = ['scenario'];
  }
  const r = ScenarioSchema.safeParse(json);
  if (!r.success) {
    // paths are where the file has it (a trace holds its scenario at $.scenario)
    const lines = formatIssues(r.error.issues, at.length ? { scenario: json } : json, at);
    throw new InputError(`${file}: not a valid fpsim scenario:\n${lines.join('\n')}`);
  }
  // "$schema" is for editors, relative to the file: not part of the scenario
  const { $schema: _editor, ...scenario } = r.data;
  return scenario;
}

export function loadScenario(file: string): Scenario {
  if (file.trim() === '') throw new InputError(`expected a scenario file, got an empty argument ""`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (code ?? (e as Error).message);
    throw new InputError(`${file}: cannot read: ${why}`);
  }
  return parseScenario(text, file);
}
