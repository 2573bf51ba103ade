#!/usr/bin/env node
// Launcher. An installed fpsim runs the compiled CLI (dist/, built by `npm pack`'s prepack:
// tools/build.ts), with only its runtime dependencies. A clone (the TypeScript sources next to
// this file) runs the sources through tsx, a devDependency, so it always runs the tree as it
// is, never an old dist/.
import { existsSync } from 'node:fs';
import module from 'node:module';

// Node 22.1+ caches compiled code between runs (a no-op where it does not exist: Node 20)
module.enableCompileCache?.();

const root = new URL('..', import.meta.url);
const source = new URL('cli/main.ts', root);
const compiled = new URL('dist/cli/main.js', root);

async function tsx() {
  try {
    return await import('tsx/esm/api');
  } catch {
    return null;
  }
}

const loader = existsSync(source) ? await tsx() : null;
if (loader) {
  loader.register();
  await import(source.href);
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  console.error(
    existsSync(source)
      ? 'fpsim: a clone without its devDependencies: run `npm ci` (tsx runs the sources), or `npm run build`'
      : `fpsim: ${compiled.pathname} is missing: this package was not built (npm pack builds it)`,
  );
  process.exit(2);
}
