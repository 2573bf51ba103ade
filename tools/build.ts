// npm run build (and `npm pack`'s prepack): the runtime compiled to JavaScript in dist/, so an
// installed fpsim needs neither tsx nor TypeScript, plus the files the compiled code reads at
// run time, at the same places relative to it as in the tree:
//   dist/scenarios/*.json          the built-in scenarios (cli/common.ts, properties/targeted.ts)
//   dist/schemas/*.json            their $schema ("../schemas/scenario.schema.json")
//   dist/oracle/native/*.c         the oracle's helpers, compiled with gcc on first use
//   dist/sim/explore/worker-boot.mjs   the explorer's worker threads (--workers)
// tsc (tsconfig.build.json) rewrites every relative "./x.ts" import to "./x.js" and writes the
// .d.ts files next to the .js. `npx tsx tools/build.ts [outDir]` builds elsewhere (the start-up
// bench does). Nothing here runs at install time.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Files copied as they are: [directory in the tree, which names]. */
export const ASSETS: [string, RegExp][] = [
  ['scenarios', /\.json$/],
  ['schemas', /\.schema\.json$/],
  ['oracle/native', /\.c$/],
  ['sim/explore', /\.mjs$/],
  // fpsim server: the bridge's C sources (built by gcc on first use) and its worker thread's boot file
  ['bridge/native', /\.[ch]$/],
  ['bridge', /\.mjs$/],
];

export function build(outDir = join(ROOT, 'dist'), log: (m: string) => void = () => {}): string {
  const out = resolve(outDir);
  rmSync(out, { recursive: true, force: true });
  const tsc = join(dirname(createRequire(join(ROOT, 'package.json')).resolve('typescript/package.json')), 'bin', 'tsc');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
  log(`tsc: ${relative(ROOT, out) || out} in ${Math.round(performance.now() - t0)} ms`);
  for (const [dir, match] of ASSETS) {
    const from = join(ROOT, dir);
    if (!existsSync(from)) throw new Error(`build: ${dir}/ is missing`);
    const names = readdirSync(from).filter((n) => match.test(n));
    if (!names.length) throw new Error(`build: nothing in ${dir}/ matches ${match}`);
    mkdirSync(join(out, dir), { recursive: true });
    for (const n of names) copyFileSync(join(from, n), join(out, dir, n));
    log(`copied ${names.length} file(s) from ${dir}/`);
  }
  // what tsc wrote must import only what ships: no ".ts" specifier left behind
  const left: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, n.name);
      if (n.isDirectory()) walk(p);
      else if (n.name.endsWith('.js') && /\bfrom\s*['"]\.{1,2}\/[^'"]+\.ts['"]|\bimport\s*\(\s*['"]\.{1,2}\/[^'"]+\.ts['"]/.test(readFileSync(p, 'utf8'))) left.push(relative(out, p));
    }
  };
  walk(out);
  if (left.length) throw new Error(`build: .ts imports left in ${left.join(', ')}`);
  return out;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  build(process.argv[2], (m) => console.error(`build: ${m}`));
}
