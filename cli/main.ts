#!/usr/bin/env node
// fpsim: run, list and check FUSE passthrough scenarios against the kernel model.
import { Command, CommanderError } from 'commander';
import { readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario, InputError } from '../sim/scenario/load.ts';
import { runScenario, type ScenarioResult } from '../sim/scenario/run-scenario.ts';
import { formatState, formatStep, formatVerdict, bold, green, red, dim } from './narrate.ts';
import { PROFILE_NAMES } from '../sim/kernel/profile.ts';
import { MUTANTS, isMutantName } from '../sim/kernel/mutants.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const SCENARIO_DIR = join(here, '..', 'scenarios');

export function builtinScenarios(): string[] {
  return readdirSync(SCENARIO_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => join(SCENARIO_DIR, f));
}

function checkOptions(o: { kernel?: string; mutant?: string[] }) {
  if (o.kernel && !(PROFILE_NAMES as string[]).includes(o.kernel)) {
    throw new InputError(`--kernel: unknown profile "${o.kernel}" (known: ${PROFILE_NAMES.join(', ')})`);
  }
  for (const m of o.mutant ?? []) {
    if (!isMutantName(m)) throw new InputError(`--mutant: unknown mutant "${m}" (see fpsim mutants --list)`);
  }
}

function resultJson(r: ScenarioResult) {
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
    servers: Object.values(r.world.servers).map((s) => ({ fs: s.fs, lifecycle: s.lifecycle, seen: s.seen })),
  };
}

const program = new Command('fpsim')
  .description('An executable, teachable model of Linux FUSE passthrough (v15, merged in 6.9)')
  .showHelpAfterError()
  .exitOverride();

program
  .command('run')
  .description('run a scenario and narrate every step')
  .argument('<scenario>', 'a scenario JSON file')
  .option('--json', 'print the run as JSON')
  .option('--kernel <profile>', `kernel profile (${PROFILE_NAMES.join(', ')})`)
  .option('--mutant <name...>', 'switch on seeded bugs')
  .option('-q, --quiet', 'only the verdict')
  .action((file: string, o: { json?: boolean; kernel?: string; mutant?: string[]; quiet?: boolean }) => {
    checkOptions(o);
    const s = loadScenario(file);
    const opts: { kernel?: string; mutants?: string[] } = {};
    if (o.kernel) opts.kernel = o.kernel;
    if (o.mutant) opts.mutants = o.mutant;
    const r = runScenario(s, opts);
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
    process.exitCode = r.passed ? 0 : 1;
  });

program
  .command('list')
  .description('list the built-in scenarios')
  .action(() => {
    for (const f of builtinScenarios()) {
      const s = loadScenario(f);
      console.log(`${bold(s.name.padEnd(40))} ${dim(s.spec ?? '')}\n    ${s.description}`);
    }
  });

program
  .command('check-scenarios', { isDefault: true })
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

program
  .command('mutants')
  .description('list the seeded bugs (the mutant catalogue)')
  .option('--list', 'list them (the default for now)')
  .action(() => {
    for (const [id, m] of Object.entries(MUTANTS)) console.log(`${bold(id.padEnd(36))} ${dim(m.fn)}\n    ${m.story}`);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof InputError) {
    console.error(`fpsim: ${e.message}`);
    process.exitCode = 2;
  } else {
    throw e;
  }
}
