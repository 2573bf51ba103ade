// fpsim list: the built-in scenarios.
import type { Command } from 'commander';
import { loadScenario } from '../../sim/scenario/load.ts';
import { bold, dim } from '../narrate.ts';
import { builtinScenarios } from '../common.ts';

export function register(program: Command) {
program
  .command('list')
  .description('list the built-in scenarios')
  .option('--json', 'print [{"name", "file", "spec", "kernel", "description"}]')
  .action((o: { json?: boolean }) => {
    const all = builtinScenarios().map((file) => ({ file, s: loadScenario(file) }));
    if (o.json) {
      const out = all.map(({ file, s }) => ({ name: s.name, file, spec: s.spec ?? null, kernel: s.kernel, description: s.description }));
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    for (const { s } of all) console.log(`${bold(s.name.padEnd(40))} ${dim(s.spec ?? '')}\n    ${s.description}`);
  });
}
