// fpsim server's throughput: libfuse's passthrough_hp under the model, random programs of >= 3
// user tasks, in the four configurations issue 11 asks for (one thread or four, passthrough or
// not). Each run starts the server afresh. `npm run bench:server` prints the table;
// `-- --write` also puts it into bench/RESULTS.md (its section is replaced). BENCH_SERVER_RUNS
// sets the runs per configuration (default 1000); a configuration with a failure exits 1.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePassthroughHp } from '../bridge/libfuse.ts';
import { serverCampaign } from '../bridge/run.ts';
import { shutdownSyncServers } from '../bridge/sync.ts';

const RUNS = Number(process.env['BENCH_SERVER_RUNS'] ?? 1000);
const SEED = Number(process.env['BENCH_SERVER_SEED'] ?? 11);
const CONFIGS: { name: string; opts: string[] }[] = [
  { name: '--single', opts: ['--single'] },
  { name: '--num-threads 4', opts: ['--num-threads', '4'] },
  { name: '--single --nopassthrough', opts: ['--single', '--nopassthrough'] },
  { name: '--num-threads 4 --nopassthrough', opts: ['--num-threads', '4', '--nopassthrough'] },
];

const b = ensurePassthroughHp();
if (!b.ok) {
  console.log(`bench:server skipped: ${b.reason}`);
  process.exit(0);
}
const rows: string[] = [];
let failed = false;
const load0 = loadavg()[0]!.toFixed(1);
try {
  for (const c of CONFIGS) {
    const argv = [b.path, '--foreground', '--nosplice', ...c.opts, '{src}', '{dev}'];
    const r = await serverCampaign({ argv, timeoutMs: 5000, quietMs: 2 }, { runs: RUNS, seed: SEED });
    const row = `| passthrough_hp ${c.name} | ${r.runs} | ${(r.ms / 1000).toFixed(1)} | ${(r.runs / (r.ms / 1000)).toFixed(1)} | ${r.failed ? `FAILED: ${r.failed.failures.map((f) => f.message).join('; ')}` : '0'} |`;
    console.log(row);
    rows.push(row);
    if (r.failed) failed = true;
  }
} finally {
  shutdownSyncServers();
}
const section = [
  '## fpsim server: libfuse passthrough_hp under the model (bench/server.ts)',
  '',
  `Produced by \`npm run bench:server\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (1-minute load ${load0} at the start), Node ${process.version}, seed ${SEED}.`,
  'Each run: a fresh source tree and a fresh server process, a random program of 3-4 user tasks (open, create, read/write at offsets, fstat, stat, ftruncate, fsync, unlink, rename, mkdir, rmdir, a listing, close, on two files and two new names) under a random interleaving, every invariant checked after every step, teardown and the leak check; fast-check draws the programs.',
  '',
  '| server | runs | seconds | runs/s | violations |',
  '|---|---:|---:|---:|---|',
  ...rows,
  '',
].join('\n');
if (process.argv.includes('--write')) {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf('## fpsim server:');
  let out: string;
  if (start < 0) out = `${text.trimEnd()}\n\n${section}`;
  else {
    const next = text.indexOf('\n## ', start + 1);
    out = text.slice(0, start) + section + (next < 0 ? '' : text.slice(next + 1));
  }
  writeFileSync(file, out.endsWith('\n') ? out : `${out}\n`);
}
process.exit(failed ? 1 : 0);
