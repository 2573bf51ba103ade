// fpsim list: the built-in scenarios.
import type { Command } from 'commander';
import { loadScenario } from '../../sim/scenario/load.ts';
import { bold, dim } from '../narrate.ts';
import { builtinScenarios } from '../common.ts';

export function register(program: Command) {
program
  .command('list')
  .description('list the built-in scenarios')
  .action(() => {
    for (const f of builtinScenarios()) {
      const s = loadScenario(f);
      console.log(`${bold(s.name.padEnd(40))} ${dim(s.spec ?? '')}\n    ${s.description}`);
    }
  });
}
