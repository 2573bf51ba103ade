#!/usr/bin/env node
// fpsim: run, list, check and explain FUSE passthrough scenarios against the kernel model.
// Each command lives in cli/commands/<name>.ts and registers itself here.
import { Command, CommanderError } from 'commander';
import { InputError } from '../sim/scenario/load.ts';
import { fpsimVersion } from './common.ts';
import * as run from './commands/run.ts';
import * as list from './commands/list.ts';
import * as checkScenarios from './commands/check-scenarios.ts';
import * as mutants from './commands/mutants.ts';
import * as tour from './commands/tour.ts';
import * as view from './commands/view.ts';
import * as replay from './commands/replay.ts';
import * as check from './commands/check.ts';
import * as oracle from './commands/oracle.ts';
import * as explore from './commands/explore.ts';

// `fpsim run x | head` closes the pipe early: that is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const COMMANDS: { register(p: Command): void }[] = [run, list, checkScenarios, mutants, replay, tour, view, check, explore, oracle];

const program = new Command('fpsim')
  .description('An executable, teachable model of Linux FUSE passthrough (v15, merged in 6.9)')
  .version(fpsimVersion(), '-V, --version', "print fpsim's version")
  .showHelpAfterError()
  .exitOverride();
for (const c of COMMANDS) c.register(program);

// no command: check every built-in scenario (what `npm start` runs); an unknown word is an
// unknown command, not an argument of the default
const argv = process.argv.length > 2 ? process.argv : [...process.argv, 'check-scenarios'];

try {
  await program.parseAsync(argv);
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
