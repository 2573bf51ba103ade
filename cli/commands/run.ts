// fpsim run <scenario>: narrate every step and judge the outcomes.
import type { Command } from 'commander';
import { InputError, loadScenario } from '../../sim/scenario/load.ts';
import { runScenario, type ScenarioResult } from '../../sim/scenario/run-scenario.ts';
import { formatState, formatStep, formatVerdict, bold, dim } from '../narrate.ts';
import { PROFILE_NAMES } from '../../sim/kernel/profile.ts';
import { checkOptions } from '../common.ts';
import { serverStates } from '../../sim/server/state.ts';
import { checkTraceTarget, recordTrace, writeTrace } from '../../sim/trace/write.ts';

export function resultJson(r: ScenarioResult) {
  return {
    name: r.name,
    passed: r.passed,
    kernel: r.world.profile,
    mutants: r.world.mutants,
    steps: r.steps.map((s) => ({ phase: s.phase, ...s.rec })),
    outcomes: r.outcomes,
    violations: r.violations,
    missingViolations: r.missingViolations,
    serverProblems: r.serverProblems,
    servers: serverStates(r.world).map((s) => ({ fs: s.fs, lifecycle: s.lifecycle, seen: s.seen })),
  };
}

export function register(program: Command) {
program
  .command('run')
  .description('run a scenario and narrate every step')
  .argument('<scenario>', 'a scenario JSON file')
  .option('--json', 'print the run as JSON')
  .option('--kernel <profile>', `kernel profile (${PROFILE_NAMES.join(', ')})`)
  .option('--mutant <name...>', 'switch on seeded bugs')
  .option('-q, --quiet', 'only the verdict')
  .option('--trace <file>', 'also record the run as a trace file, for fpsim replay')
  .option('--force', 'let --trace replace an existing file')
  .action((file: string, o: { json?: boolean; kernel?: string; mutant?: string[]; quiet?: boolean; trace?: string; force?: boolean }) => {
    checkOptions(o);
    if (o.force && o.trace === undefined) throw new InputError('--force only goes with --trace <file>');
    const s = loadScenario(file);
    if (o.trace !== undefined) checkTraceTarget(o.trace, o.force);
    const opts: { kernel?: string; mutants?: string[] } = {};
    if (o.kernel) opts.kernel = o.kernel;
    if (o.mutant) opts.mutants = o.mutant;
    let r: ScenarioResult;
    let traced = '';
    if (o.trace !== undefined) {
      const rec = recordTrace(s, opts);
      writeTrace(o.trace, rec.trace, { force: o.force ?? false });
      r = rec.result;
      traced = `trace of ${rec.trace.steps.length} steps written to ${o.trace} (fpsim replay ${o.trace})`;
    } else {
      r = runScenario(s, opts);
    }
    if (o.json) {
      process.stdout.write(`${JSON.stringify(resultJson(r), null, 2)}\n`);
    } else {
      console.log(bold(`${s.name}`) + dim(` (kernel ${r.world.profile}${r.world.mutants.length ? `, mutants: ${r.world.mutants.join(', ')}` : ''})`));
      if (s.description) console.log(dim(s.description));
      if (!o.quiet) {
        for (const st of r.steps) for (const line of formatStep(st.rec, st.phase)) console.log(line);
        console.log(bold('\nfinal state'));
        for (const line of formatState(r.world)) console.log(`  ${line}`);
        console.log();
      }
      for (const line of formatVerdict(r)) console.log(line);
    }
    // stdout stays pure JSON with --json
    if (traced) (o.json ? console.error : console.log)(o.json ? traced : dim(traced));
    process.exitCode = r.passed ? 0 : 1;
  });
}
