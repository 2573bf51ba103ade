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
  .option('--json', 'print {"passed", "total", "failed", "ms", "scenarios": [{"name", "file", "passed", "outcomes", "violations", "problems"}]}')
  .action((o: { kernel?: string; json?: boolean }) => {
    checkOptions(o);
    let failed = 0;
    const files = builtinScenarios();
    const t0 = performance.now();
    const rows: { name: string; file: string; passed: boolean; outcomes: number; violations: string[]; problems: string[] }[] = [];
    for (const f of files) {
      const s = loadScenario(f);
      const r = runScenario(s, o.kernel ? { kernel: o.kernel, record: false } : { record: false });
      const checked = r.outcomes.filter((x) => x.expected !== null).length;
      if (o.json) {
        if (!r.passed) failed++;
        const problems = r.passed ? [] : formatVerdict(r).slice(0, -1).filter((l) => !l.includes('ok '));
        rows.push({ name: s.name, file: f, passed: r.passed, outcomes: checked, violations: r.violations.map((v) => v.kind), problems });
        continue;
      }
      if (r.passed) console.log(`${green('PASS')} ${s.name.padEnd(44)} ${dim(`${checked} outcomes, ${r.violations.length} expected violation(s)`)}`);
      else {
        failed++;
        console.log(`${red('FAIL')} ${s.name}`);
        for (const line of formatVerdict(r).slice(0, -1)) if (!line.includes('ok ')) console.log(`     ${line}`);
      }
    }
    const ms = Math.round(performance.now() - t0);
    process.exitCode = failed ? 1 : 0;
    if (o.json) {
      process.stdout.write(`${JSON.stringify({ passed: failed === 0, total: files.length, failed, kernel: o.kernel ?? null, ms, scenarios: rows }, null, 2)}\n`);
      return;
    }
    console.log(
      failed === 0
        ? green(bold(`\nall ${files.length} built-in scenarios pass (${ms} ms)`))
        : red(bold(`\n${failed} of ${files.length} built-in scenarios fail`)),
    );
    process.exitCode = failed ? 1 : 0;
  });
}
