#!/usr/bin/env node
// fpsim: run, list, check and explain FUSE passthrough scenarios against the kernel model.
// Each command lives in cli/commands/<name>.ts and registers itself in cli/app.ts; this file
// runs it for the process.
import { main } from './app.ts';
import { installProcessGuards } from './lifecycle.ts';

installProcessGuards();

// `fpsim run x | head` closes the pipe early: that is not an error
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
