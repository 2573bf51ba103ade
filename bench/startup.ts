// npm run bench:startup: how long `fpsim list` takes to start and finish, before and after
// fpsim was compiled at pack time. Writes bench/STARTUP.md and its section of bench/RESULTS.md
// (commit both).
//   before: the launcher runs cli/main.ts through tsx's loader (what every fpsim did; what a
//           clone still does): `node bin/fpsim.js list` in this tree
//   after:  the packed tarball installed with `npm install --omit=dev` into an empty project:
//           `node node_modules/.bin/fpsim list` (the launcher, then dist/cli/main.js)
// plus the compiled CLI without the launcher, and `node -e 0` (Node's own start) for scale.
// The configurations take turns, run after run, so that the shared machine's load falls on
// all of them alike; the median of each is reported.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, installInto, pack } from '../tools/pack.ts';
import { RESULTS_FILE, STARTUP, writeSection } from './sections.ts';

const RUNS = Number(process.env['FPSIM_STARTUP_RUNS'] ?? 21);
const log = (m: string) => console.error(`bench:startup: ${m}`);

const tmp = mkdtempSync(join(tmpdir(), 'fpsim-startup-'));
log('npm pack; npm install --omit=dev');
const tgz = pack(join(tmp, 'tarball'));
const app = join(tmp, 'app');
installInto(app, tgz, { omitDev: true });

interface Config {
  label: string;
  cwd: string;
  args: string[];
}
const configs: Config[] = [
  { label: 'before: tsx loader, TypeScript sources (`node bin/fpsim.js list` in a clone)', cwd: ROOT, args: [join(ROOT, 'bin', 'fpsim.js'), 'list'] },
  { label: 'after: installed package, compiled (`npx fpsim list` = `node node_modules/.bin/fpsim list`)', cwd: app, args: [join(app, 'node_modules', '.bin', 'fpsim'), 'list'] },
  { label: 'after, without the launcher (`node node_modules/fpsim/dist/cli/main.js list`)', cwd: app, args: [join(app, 'node_modules', 'fpsim', 'dist', 'cli', 'main.js'), 'list'] },
  { label: "Node's own start (`node -e 0`)", cwd: app, args: ['-e', '0'] },
];

function once(c: Config): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, c.args, { cwd: c.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${c.args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const loadBefore = loadavg()[0]!;
for (const c of configs) once(c); // warm: the disk cache, tsx's transform cache
const times: number[][] = configs.map(() => []);
for (let i = 0; i < RUNS; i++) {
  configs.forEach((c, k) => times[k]!.push(once(c)));
  log(`round ${i + 1}/${RUNS}`);
}
const loadAfter = loadavg()[0]!;
rmSync(tmp, { recursive: true, force: true });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const med = times.map(median);
const fmt = (ms: number) => `${Math.round(ms)} ms`;
const lines = [
  '# fpsim start-up',
  '',
  `Produced by \`npm run bench:startup\` (bench/startup.ts) on ${new Date().toISOString().slice(0, 10)}: ${cpus()[0]?.model ?? 'unknown cpu'}, ${cpus().length} cores, Node ${process.version}. ` +
    `The wall time of \`fpsim list\` (every module loaded, the 88 built-in scenarios read and validated, the list printed to a pipe), ${RUNS} runs of each, taking turns; median, min and max. ` +
    `The machine is shared: its 1-minute load average was ${loadBefore.toFixed(1)} before and ${loadAfter.toFixed(1)} after, on ${cpus().length} cores.`,
  '',
  '| how fpsim runs | median | min | max | vs before |',
  '|---|---:|---:|---:|---:|',
  ...configs.map((c, k) => `| ${c.label} | ${fmt(med[k]!)} | ${fmt(Math.min(...times[k]!))} | ${fmt(Math.max(...times[k]!))} | ${(med[k]! / med[0]!).toFixed(2)}x |`),
  '',
  `Compiling at pack time (tools/build.ts: tsc with rewriteRelativeImportExtensions into dist/) takes ${fmt(med[0]! - med[1]!)} off every start: ` +
    `the installed fpsim starts in ${((100 * med[1]!) / med[0]!).toFixed(0)}% of the time the tsx loader took, and needs neither tsx nor TypeScript installed. ` +
    `What is left is loading the modules (the model, zod, xstate, commander, fast-check) and validating every scenario. ` +
    (Math.abs(med[1]! - med[2]!) < 0.1 * med[2]!
      ? `The launcher's own cost is within this machine's noise (the two medians differ by ${fmt(med[1]! - med[2]!)}).`
      : `The launcher itself costs ${fmt(med[1]! - med[2]!)}.`),
  '',
];
writeSection(STARTUP, lines);
console.log(lines.join('\n'));
log(`wrote ${STARTUP.file} and its section of ${RESULTS_FILE}`);
