#!/usr/bin/env node
// Launcher: run the TypeScript CLI through tsx's loader so `fpsim` works without a build step.
import { register } from 'tsx/esm/api';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
register();
const here = dirname(fileURLToPath(import.meta.url));
await import(join(here, '..', 'cli', 'main.ts'));
