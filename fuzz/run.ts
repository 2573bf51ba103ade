// npm run fuzz: a long fuzz campaign of generated bad inputs (scenarios, traces, command lines,
// FUSE replies; fuzz/inputs.ts), in worker threads, with a watchdog: an input that does not end
// within HANG_MS is a hang (its worker is replaced and the chunk goes on after it). Writes the
// counts by class and outcome to bench/records/fuzz.md.
//   npx tsx fuzz/run.ts [--total 100000] [--seed 1] [--workers 2] [--out bench/records/fuzz.md]
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { CHUNK, CLASSES, emptyTally, merge, type Job, type Tally } from './campaign.ts';

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : dflt;
};
const total = Number(arg('--total', '100000'));
const seed = Number(arg('--seed', '1'));
const workers = Math.min(Number(arg('--workers', String(availableParallelism()))), availableParallelism());
const out = arg('--out', new URL('../bench/records/fuzz.md', import.meta.url).pathname);
const HANG_MS = 60_000;

const perClass = Math.ceil(total / CLASSES.length / CHUNK) * CHUNK;
const jobs: Job[] = [];
for (let chunk = 0; chunk < perClass / CHUNK; chunk++) for (const cls of CLASSES) jobs.push({ cls, seed, chunk, from: 0, to: CHUNK });

let tally = emptyTally();
const t0 = Date.now();
let lastLog = t0;

function startWorker(): Promise<void> {
  return new Promise((resolveAll) => {
    const entry = new URL('./worker.ts', import.meta.url).href;
    const w = new Worker(new URL('../sim/explore/worker-boot.mjs', import.meta.url), { workerData: { entry } });
    let job: Job | undefined;
    let current = -1;
    let lastBeat = Date.now();
    const next = () => {
      job = jobs.shift();
      if (!job) {
        clearInterval(watchdog);
        w.postMessage({ stop: true });
        return;
      }
      lastBeat = Date.now();
      w.postMessage({ job });
    };
    const watchdog = setInterval(() => {
      if (job && Date.now() - lastBeat > HANG_MS) {
        // a hang: count it, replace the worker, go on after the input
        clearInterval(watchdog);
        tally.hangs.push({ cls: job.cls, chunk: job.chunk, index: current });
        tally.inputs++;
        const c = (tally.byClass[job.cls] ??= {});
        c['hang'] = (c['hang'] ?? 0) + 1;
        if (current + 1 < job.to) jobs.unshift({ ...job, from: current + 1 });
        job = undefined;
        void w.terminate();
        void startWorker().then(resolveAll);
      }
    }, 1000);
    w.on('message', (m: { type: 'ready' } | { type: 'start'; index: number } | { type: 'done'; tally: Tally }) => {
      if (m.type === 'ready') next();
      else if (m.type === 'start') {
        current = m.index;
        lastBeat = Date.now();
      } else {
        tally = merge(tally, m.tally);
        if (Date.now() - lastLog > 10_000) {
          lastLog = Date.now();
          console.error(`fuzz: ${tally.inputs} inputs, ${tally.crashes.length} crashes, ${tally.hangs.length} hangs, ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        }
        next();
      }
    });
    w.on('error', (e) => {
      // a worker that dies (not a hang) is a crash of the current input
      clearInterval(watchdog);
      if (job) {
        tally.crashes.push({ cls: job.cls, chunk: job.chunk, index: current, detail: `worker died: ${e.stack ?? e.message}` });
        tally.inputs++;
        if (current + 1 < job.to) jobs.unshift({ ...job, from: current + 1 });
      }
      void startWorker().then(resolveAll);
    });
    w.on('exit', () => {
      if (!job) resolveAll();
    });
  });
}

await Promise.all(Array.from({ length: workers }, () => startWorker()));
const secs = (Date.now() - t0) / 1000;
writeFileSync(out, report(tally, secs));
console.log(`fuzz: ${tally.inputs} inputs in ${secs.toFixed(0)} s: ${tally.crashes.length} crashes, ${tally.hangs.length} hangs, ${tally.unlocated.length} unlocated rejections; wrote ${out}`);
process.exit(tally.crashes.length || tally.hangs.length || tally.unlocated.length ? 1 : 0);

function report(t: Tally, secs: number): string {
  const kinds = ['ok', 'failed', 'rejected', 'rejected-unlocated', 'crash', 'hang'];
  const sum = (cls: string) => Object.values(t.byClass[cls] ?? {}).reduce((a, b) => a + b, 0);
  const lines = [
    '# Fuzz campaign',
    '',
    `\`npm run fuzz -- --total ${total} --seed ${seed}\`: ${t.inputs} generated bad inputs, seed ${seed}, ${workers} worker thread(s), ${secs.toFixed(0)} s (${Math.round(t.inputs / secs)} inputs/s), ${new Date().toISOString().slice(0, 10)}.`,
    '',
    'Each input ends in one class: **ok** (exit 0), **failed** (exit 1: it ran and something broke, e.g. an expectation of a',
    'mutated scenario), **rejected** (exit 2 with a message that says where: a JSON path, a line and column, the flag or the',
    'argument, and what was expected: zod\'s bare "Invalid input" counts as unlocated), **rejected-unlocated** (exit 2 without that), **crash** (anything thrown that is not a rejection, an exit code',
    `other than 0/1/2, or a stack trace printed), **hang** (no end within ${HANG_MS / 1000} s: the watchdog replaces the worker).`,
    'Scenarios and traces are mutations of the built-in scenarios and of four recorded traces (wrong types, missing and extra',
    'keys, out-of-range numbers, bad references, reserved names, huge strings, deep nesting, broken bytes), run through',
    '`fpsim run`/`explore` and `fpsim replay`/`view` in-process; command lines are random vectors of commands, flags and',
    'values; wire inputs are byte mutations of the scripted server\'s valid replies (INIT, LOOKUP, OPEN, READ, WRITE,',
    'GETATTR, FLUSH, RELEASE) written to the model kernel\'s fuse_dev_write, the world then run on and torn down.',
    '',
    `| class | inputs | ${kinds.join(' | ')} | slowest input (ms) |`,
    `| --- | --- | ${kinds.map(() => '---').join(' | ')} | --- |`,
    ...CLASSES.map((c) => `| ${c} | ${sum(c)} | ${kinds.map((k) => t.byClass[c]?.[k] ?? 0).join(' | ')} | ${t.slowest[c] ?? 0} |`),
    `| **all** | **${t.inputs}** | ${kinds.map((k) => `**${CLASSES.reduce((a, c) => a + (t.byClass[c]?.[k] ?? 0), 0)}**`).join(' | ')} | |`,
    '',
    '## What the kernel answered to the fuzzed replies (fuse_dev_write)',
    '',
    '| opcode: answer | inputs |',
    '| --- | --- |',
    ...Object.entries(t.wire)
      .sort()
      .map(([k, n]) => `| ${k} | ${n} |`),
    '',
    `## Crashes: ${t.crashes.length}`,
    '',
    ...t.crashes.slice(0, 10).map((c) => `- ${c.cls} chunk ${c.chunk} input ${c.index}:\n\n\`\`\`\n${c.detail.slice(0, 3000)}\n\`\`\``),
    '',
    `## Hangs: ${t.hangs.length}`,
    '',
    ...t.hangs.map((h) => `- ${h.cls} chunk ${h.chunk} input ${h.index}`),
    '',
    `## Rejections that do not say where: ${t.unlocated.length}`,
    '',
    ...t.unlocated.slice(0, 10).map((c) => `- ${c.cls} chunk ${c.chunk} input ${c.index}:\n\n\`\`\`\n${c.detail.slice(0, 1500)}\n\`\`\``),
    '',
  ];
  return lines.join('\n');
}
