// The CLI as a function: main(argv, io) parses argv (without "node fpsim"), runs the command
// and returns its exit code (0 ok, 1 something broke, 2 bad input). cli/main.ts calls it for
// the process; tests and the fuzzer call it in-process with captured output.
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
import * as merge from './commands/merge.ts';
import * as server from './commands/server.ts';

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const COMMANDS: { register(p: Command): void }[] = [run, list, checkScenarios, mutants, replay, tour, view, check, explore, merge, oracle, server];

export function buildProgram(io?: CliIo): Command {
  const program = new Command('fpsim')
    .description('An executable, teachable model of Linux FUSE passthrough (v15, merged in 6.9)')
    .version(fpsimVersion(), '-V, --version', "print fpsim's version")
    .showHelpAfterError()
    .exitOverride();
  if (io) program.configureOutput({ writeOut: io.out, writeErr: io.err });
  for (const c of COMMANDS) c.register(program);
  if (io) for (const c of program.commands) c.configureOutput({ writeOut: io.out, writeErr: io.err });
  return program;
}

/**
 * Run the CLI. With `io`, what the commands print (console.log/error, process.stdout/stderr
 * writes) goes to it instead of the process's streams, for the time of the call: the commands
 * print through the usual globals, so the capture swaps them (one call at a time).
 */
export async function main(argv: string[], io?: CliIo): Promise<number> {
  // no command: check every built-in scenario (what `npm start` runs); an unknown word is an
  // unknown command, not an argument of the default
  const args = argv.length ? argv : ['check-scenarios'];
  const restore = io ? capture(io) : () => {};
  const savedExit = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram(io).parseAsync(args, { from: 'user' });
    const code = process.exitCode ?? 0;
    return typeof code === 'number' ? code : Number(code) || 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof InputError) {
      console.error(`fpsim: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    process.exitCode = io ? savedExit : process.exitCode;
    restore();
  }
}

function capture(io: CliIo): () => void {
  const log = console.log;
  const error = console.error;
  const warn = console.warn;
  const out = process.stdout.write;
  const err = process.stderr.write;
  const fmt = (xs: unknown[]) => `${xs.map((x) => (typeof x === 'string' ? x : String(x))).join(' ')}\n`;
  console.log = (...xs: unknown[]) => io.out(fmt(xs));
  console.error = (...xs: unknown[]) => io.err(fmt(xs));
  console.warn = (...xs: unknown[]) => io.err(fmt(xs));
  process.stdout.write = ((chunk: string | Uint8Array) => (io.out(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (io.err(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString()), true)) as typeof process.stderr.write;
  return () => {
    console.log = log;
    console.error = error;
    console.warn = warn;
    process.stdout.write = out;
    process.stderr.write = err;
  };
}
