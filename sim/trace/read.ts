// Reading a trace file. Every problem is one InputError that names the file and says what is
// wrong and where: bad JSON, a missing or newer version, a schema error (JSON path and what
// was expected), a task in the schedule the scenario does not have, a step range outside it.
import { readFileSync } from 'node:fs';
import { InputError } from '../scenario/load.ts';
import { formatIssues, jsonProblem, parseJsonText } from '../scenario/issues.ts';
import type { Scenario } from '../scenario/schema.ts';
import { buildWorld } from '../scenario/build.ts';
import { exitTaskName, umountTaskName } from '../scenario/run.ts';
import { TRACE_VERSION, TraceSchema, type Trace } from './format.ts';

export function parseTrace(text: string, file: string): Trace {
  let json: unknown;
  try {
    json = parseJsonText(text);
  } catch (e) {
    throw new InputError(`${file}: not valid JSON${jsonProblem(text, (e as Error).message)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new InputError(`${file}: not an fpsim trace: expected a JSON object with "fpsimTrace": ${TRACE_VERSION}`);
  }
  if (!('fpsimTrace' in json)) {
    const hint = 'tasks' in json && 'filesystems' in json ? ' (this looks like a scenario: fpsim run it, with --trace to record one)' : '';
    throw new InputError(`${file}: not an fpsim trace: no "fpsimTrace" version field${hint}`);
  }
  const version = (json as { fpsimTrace: unknown }).fpsimTrace;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new InputError(`${file}: at $.fpsimTrace: the trace version must be a whole number from 1, not ${JSON.stringify(version)}`);
  }
  if (version > TRACE_VERSION) {
    throw new InputError(`${file}: written by a newer fpsim (version ${version}); this fpsim reads version ${TRACE_VERSION}`);
  }
  const r = TraceSchema.safeParse(json);
  if (!r.success) {
    throw new InputError(`${file}: not a valid fpsim trace:\n${formatIssues(r.error.issues, json).join('\n')}`);
  }
  const t = r.data;
  const known = knownTaskNames(t.scenario);
  const bad = t.schedule.findIndex((n) => !known.has(n));
  if (bad >= 0) {
    const tasks = t.scenario.tasks.map((x) => x.name).join(', ');
    throw new InputError(`${file}: at $.schedule[${bad}] (step ${bad + 1}): no task "${t.schedule[bad]}" in scenario ${t.scenario.name} (its tasks: ${tasks}; and the kernel's, servers' and teardown's)`);
  }
  return t;
}

export function readTrace(file: string): Trace {
  if (file.trim() === '') throw new InputError(`expected a trace file, got an empty argument ""`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? (e as Error).message);
    throw new InputError(`${file}: cannot read: ${why}`);
  }
  return parseTrace(text, file);
}

/** Every task a run of this scenario can have: setup, servers, RCU, users, teardown. */
export function knownTaskNames(s: Scenario): Set<string> {
  const { world, userTasks } = buildWorld(s);
  const names = new Set<string>([...world.tasks, ...userTasks].map((t) => t.name));
  for (const p of Object.keys(world.procs)) names.add(exitTaskName(p));
  // forked processes are made at setup (copy_process), and exit at teardown like the others
  for (const t of s.tasks) if (t.fork !== undefined) names.add(exitTaskName(t.proc ?? t.name));
  for (const sb of world.sbs) if (sb.kind !== 'plain') names.add(umountTaskName(sb.name));
  return names;
}

export interface StepRange {
  from: number;
  to: number;
}

/** --from / --to against the trace's steps (1-based, inclusive); defaults: all of them. */
export function stepRange(t: Trace, file: string, from?: number, to?: number): StepRange {
  const n = t.steps.length;
  const range = n ? `the trace has steps 1 to ${n}` : 'the trace has no steps';
  const f = from ?? 1;
  const l = to ?? n;
  if (from !== undefined && (from < 1 || from > n)) throw new InputError(`${file}: --from ${from} is outside the trace: ${range}`);
  if (to !== undefined && (to < 1 || to > n)) throw new InputError(`${file}: --to ${to} is outside the trace: ${range}`);
  if (f > l) throw new InputError(`${file}: --from ${f} is after --to ${l}`);
  return { from: f, to: l };
}
