// A finding as a scenario file: the explored scenario with `schedule` set to the shortest
// interleaving, which `fpsim run` re-executes step for step.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ScenarioSchema, type Scenario } from '../scenario/schema.ts';
import { runScenario } from '../scenario/run-scenario.ts';
import type { Finding } from './explore.ts';

export interface Counterexample {
  /** the scenario file's contents */
  scenario: Record<string, unknown>;
  /** the violation kinds the scenario shows when run (its expect.violations) */
  kinds: string[];
  /** did the run show the finding's kind? */
  reproduced: boolean;
}

/**
 * The scenario (as written in its file when `raw` is given, else as parsed) with the
 * finding's schedule, the mutants and kernel it was explored with, and no per-op
 * expectations (they describe the original schedule). The expected violations are the
 * ones a run of it shows, so `fpsim run` passes exactly when it reproduces them.
 */
export function counterexample(s: Scenario, raw: unknown, f: Finding, opts: { mutants?: string[]; kernel?: string }): Counterexample {
  const base = structuredClone((raw && typeof raw === 'object' ? raw : s) as Record<string, unknown>);
  delete base['$schema']; // relative to the original file, not to where this one goes
  const tasks = (base['tasks'] as { ops: Record<string, unknown>[] }[]).map((t) => ({
    ...t,
    ops: t.ops.map(({ expect: _e, ...op }) => op),
  }));
  const mutants = opts.mutants ?? s.mutants;
  const where = f.at === 'teardown' ? ' (at teardown, after it)' : f.at === 'terminal' ? ' (when nothing can run after it)' : '';
  const out: Record<string, unknown> = {
    name: `${s.name}.${f.kind}`,
    description:
      `fpsim explore: a shortest interleaving (${f.depth} steps after setup) to ${f.kind}${where}: ${f.message}` +
      (s.description ? `\n\nThe explored scenario: ${s.description}` : ''),
    ...(base['spec'] !== undefined ? { spec: base['spec'] } : {}),
    kernel: opts.kernel ?? s.kernel,
    mutants,
    filesystems: base['filesystems'],
    tasks,
    schedule: f.schedule,
    teardown: s.teardown,
    expect: { violations: [] as string[] },
  };
  let kinds: string[] = [];
  try {
    const r = runScenario(ScenarioSchema.parse(out), { record: false });
    kinds = [...new Set(r.violations.map((v) => v.kind))].sort();
    // the run numbers heap objects in allocation order (the explorer per task): say it as the run does
    const same = r.violations.find((v) => v.kind === f.kind);
    if (same) out['description'] = (out['description'] as string).replace(f.message, same.message);
  } catch {
    kinds = [];
  }
  (out['expect'] as { violations: string[] }).violations = kinds;
  return { scenario: out, kinds, reproduced: kinds.includes(f.kind) };
}

/** Write `name`.json in dir, or name-2.json, name-3.json...: never over an existing file. */
export function writeNew(dir: string, name: string, content: string): string {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; ; i++) {
    const path = join(dir, `${name}${i === 1 ? '' : `-${i}`}.json`);
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw e;
    }
    try {
      writeSync(fd, content);
    } finally {
      closeSync(fd);
    }
    return path;
  }
}

/** A file name for a finding: scenario, mutants, kind. */
export function counterexampleName(s: Scenario, mutants: string[], kind: string): string {
  const slug = (x: string) => x.replace(/[^\w.-]+/g, '_');
  return [slug(s.name), ...(mutants.length ? [slug(mutants.join('+'))] : []), slug(kind)].join('--');
}
