// fpsim mutants: the catalogue of seeded bugs.
import type { Command } from 'commander';
import { MUTANTS } from '../../sim/kernel/mutants.ts';
import { bold, dim } from '../narrate.ts';

export function register(program: Command) {
program
  .command('mutants')
  .description('list the seeded bugs (the mutant catalogue)')
  .option('--list', 'list them (the default for now)')
  .action(() => {
    for (const [id, m] of Object.entries(MUTANTS)) console.log(`${bold(id.padEnd(36))} ${dim(m.fn)}\n    ${m.story}`);
  });
}
