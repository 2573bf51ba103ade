// fpsim as its users get it: `npm pack` (its prepack compiles dist/: tools/build.ts), then
// `npm install <tarball>` in a directory of their own. Used by test/package.test.ts and the
// start-up bench (bench/startup.ts). Install scripts never run (--ignore-scripts), and only
// the npm registry is asked for fpsim's runtime dependencies.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });

/** `npm pack` of this tree into dir; returns the tarball's path. */
export function pack(dir: string): string {
  mkdirSync(dir, { recursive: true });
  npm(['pack', '--pack-destination', dir], ROOT);
  const tgz = readdirSync(dir).filter((f) => /^fpsim-.*\.tgz$/.test(f));
  if (tgz.length !== 1) throw new Error(`npm pack: expected one fpsim-*.tgz in ${dir}, found ${tgz.join(', ') || 'none'}`);
  return join(dir, tgz[0]!);
}

/**
 * A new project in dir with the tarball installed, as a user's `npm install`: with
 * `omitDev`, `npm install --omit=dev`; `extra` are more packages to install with it.
 */
export function installInto(dir: string, tgz: string, o: { omitDev?: boolean; extra?: string[]; packageJson?: boolean } = {}): void {
  mkdirSync(dir, { recursive: true });
  if (o.packageJson !== false) writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'fpsim-user', private: true, type: 'module' }, null, 2)}\n`);
  npm(['install', '--ignore-scripts', ...(o.omitDev ? ['--omit=dev'] : []), tgz, ...(o.extra ?? [])], dir);
}
