// Shared by the CLI's commands.
import { readdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../sim/scenario/load.ts';
import { PROFILE_NAMES } from '../sim/kernel/profile.ts';
import { isMutantName } from '../sim/kernel/mutants.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const SCENARIO_DIR = join(here, '..', 'scenarios');

/** fpsim's version, from its package.json: one floor up from cli/ in the tree, two from dist/cli/. */
export function fpsimVersion(): string {
  for (const p of [join(here, '..', 'package.json'), join(here, '..', '..', 'package.json')]) {
    try {
      const j = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (j.name === 'fpsim' && j.version) return j.version;
    } catch {
      // not here
    }
  }
  return 'unknown';
}

export function builtinScenarios(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(SCENARIO_DIR, f));
}

/** --kernel and --mutant values, checked before anything runs. */
export function checkOptions(o: { kernel?: string; mutant?: string[] }) {
  if (o.kernel !== undefined && !(PROFILE_NAMES as string[]).includes(o.kernel)) {
    throw new InputError(`--kernel: ${o.kernel === '' ? 'an empty profile name' : `unknown profile "${o.kernel}"`} (known: ${PROFILE_NAMES.join(', ')})`);
  }
  for (const m of o.mutant ?? []) {
    if (!isMutantName(m)) throw new InputError(`--mutant: unknown mutant "${m}" (see fpsim mutants --list)`);
  }
}
