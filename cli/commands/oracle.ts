// fpsim oracle [scenario...]: differential testing against the real Linux kernel. Each
// scenario runs on the model under a kernel profile and on this machine's kernel (through
// /dev/fuse, with the same server core), and what a user and a server can observe is compared.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InputError, loadScenario } from '../../sim/scenario/load.ts';
import type { Scenario } from '../../sim/scenario/schema.ts';
import { builtinScenarios, checkOptions, SCENARIO_DIR } from '../common.ts';
import { bold, green, red } from '../narrate.ts';
import { progressLine, wantColor } from '../progress.ts';
import { formatSummary, formatTable, summarize } from '../../oracle/compare.ts';
import { runOracle } from '../../oracle/oracle.ts';
import { stopAll } from '../../oracle/real-run.ts';
import { onStop } from '../lifecycle.ts';

/** A scenario file, or the name of a built-in one. */
function scenarioFile(arg: string): string {
  if (existsSync(arg)) return arg;
  const builtin = join(SCENARIO_DIR, arg.endsWith('.json') ? arg : `${arg}.json`);
  if (existsSync(builtin)) return builtin;
  throw new InputError(`${arg}: no such scenario file or built-in scenario (see fpsim list)`);
}

export function register(program: Command) {
  program
    .command('oracle')
    .description('run scenarios on the model and on the real kernel, and compare what users and servers observe')
    .argument('[scenario...]', 'scenario files or built-in names (default: every built-in scenario)')
    .option('--kernel <profile>', 'the model profile to compare with the running kernel', '6.18')
    .option('--json', 'print the rows and the summary as JSON')
    .option('--problems', 'print only the rows that disagree and the skipped scenarios')
    .option('-v, --verbose', 'narrate the real side (mounts, each op and its result) on stderr')
    .action(async (args: string[], o: { kernel: string; json?: boolean; problems?: boolean; verbose?: boolean }) => {
      checkOptions(o);
      const files = args.length ? args.map(scenarioFile) : builtinScenarios();
      const scenarios: Scenario[] = files.map((f) => loadScenario(f));
      // a signal, or the death of our parent, ends the helpers (and so every mount) before we go
      const unregister = onStop(stopAll);
      const line = progressLine({ off: o.verbose === true }); // --verbose narrates on stderr itself
      let n = 0;
      const { rows, unavailable } = await runOracle(scenarios, {
        kernel: o.kernel,
        ...(o.verbose ? { log: (l: string) => process.stderr.write(`  ${l}\n`) } : {}),
        onScenario: (name) => {
          n++;
          line.update(`[${n}/${scenarios.length}] ${name}`, true);
          if (o.verbose) process.stderr.write(`done: ${name}\n`);
        },
      });
      line.done();
      unregister();
      const summary = summarize(rows);
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ kernel: o.kernel, unavailable: unavailable ?? null, summary, rows }, null, 2)}\n`);
      } else {
        if (unavailable) console.log(`fpsim oracle: no real kernel to compare with (${unavailable}); every scenario is skipped`);
        const color = wantColor(process.stdout);
        for (const line of formatTable(rows, { onlyProblems: o.problems ?? false, color })) console.log(line);
        console.log('');
        const text = `model (profile ${o.kernel}) vs this kernel: ${formatSummary(summary)}`;
        console.log(summary.disagreements ? red(bold(text)) : green(bold(text)));
      }
      process.exitCode = summary.disagreements ? 1 : 0;
    });
}
