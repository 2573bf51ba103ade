// fpsim check-scenarios (the default command): every built-in scenario, summarised.
import type { Command } from 'commander';
import { loadScenario } from '../../sim/scenario/load.ts';
import { runScenario } from '../../sim/scenario/run-scenario.ts';
import { formatVerdict, bold, green, red, dim } from '../narrate.ts';
import { builtinScenarios, checkOptions } from '../common.ts';

export function register(program: Command) {
program
  .command('check-scenarios')
  .description('run every built-in scenario and summarise (the default)')
  .option('--kernel <profile>', 'run them all under this kernel profile instead of their own')
  .action((o: { kernel?: string }) => {
    checkOptions(o);
    let failed = 0;
    const files = builtinScenarios();
    const t0 = performance.now();
    for (const f of files) {
      const s = loadScenario(f);
      const r = runScenario(s, o.kernel ? { kernel: o.kernel, record: false } : { record: false });
      const checked = r.outcomes.filter((x) => x.expected !== null).length;
      if (r.passed) console.log(`${green('PASS')} ${s.name.padEnd(44)} ${dim(`${checked} outcomes, ${r.violations.length} expected violation(s)`)}`);
      else {
        failed++;
        console.log(`${red('FAIL')} ${s.name}`);
        for (const line of formatVerdict(r).slice(0, -1)) if (!line.includes('ok ')) console.log(`     ${line}`);
      }
    }
    const ms = Math.round(performance.now() - t0);
    console.log(
      failed === 0
        ? green(bold(`\nall ${files.length} built-in scenarios pass (${ms} ms)`))
        : red(bold(`\n${failed} of ${files.length} built-in scenarios fail`)),
    );
    process.exitCode = failed ? 1 : 0;
  });
}
