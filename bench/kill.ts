// npm run kill-test: SIGKILL `fpsim oracle` at random moments, N times each to the launcher
// (the npm process of `npx fpsim`), to the node process that runs fpsim, and to the whole
// process group, and check after each that nothing of the run is left (oracle/killtest.ts:
// no process, no mount namespace, no host mount, no directory). Writes bench/records/kill.md.
//   npx tsx bench/kill.ts [trials-per-target=20] [seed=1]
import { writeFileSync } from 'node:fs';
import { availability } from '../oracle/transport.ts';
import { KILL_SCENARIOS, killTrial, type KillTarget, type KillTrial } from '../oracle/killtest.ts';
import { withRealKernelLock } from '../test/real-kernel-lock.ts';

const n = Number(process.argv[2] ?? 20);
const seed = Number(process.argv[3] ?? 1);
const avail = availability();
if (!avail.ok) {
  console.error(`kill test: no real kernel (${avail.reason})`);
  process.exit(1);
}

// a small deterministic PRNG (mulberry32): the moments are reproducible from the seed
function rng(s: number) {
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand = rng(seed);

const targets: KillTarget[] = ['launcher', 'node', 'group'];
const trials: KillTrial[] = [];
const t0 = Date.now();
// interleave the targets, so a slow or busy moment of the machine hits all three alike
for (let i = 0; i < n; i++) {
  for (const target of targets) {
    // one trial in three at a moment from the launcher's start (npm, tsx, loading the model:
    // 0.5 to 5 s), two in three at a moment after the run's first helper appeared (0 to 1.5 s
    // later: mounts, servers and user processes running)
    const early = i % 3 === 0;
    const ms = Math.round(early ? 500 + rand() * 4500 : rand() * 1500);
    const r = await withRealKernelLock(() => killTrial(target, ms, KILL_SCENARIOS, 'SIGKILL', trials.length, early ? {} : { afterHelpers: ms }));
    trials.push(r);
    console.log(
      `${String(trials.length).padStart(3)} ${target.padEnd(8)} at ${String(r.atMs).padStart(4)} ms: ${r.finishedFirst ? 'finished first' : `${r.helpersAtKill} helper(s), ${r.usersAtKill} user(s) running`}; all gone after ${r.goneMs} ms; ${r.ok ? 'nothing left' : `LEFT: ${JSON.stringify(r.leftovers)}`}`,
    );
  }
}
const secs = ((Date.now() - t0) / 1000).toFixed(0);

const rows = targets.map((t) => {
  const ts = trials.filter((r) => r.target === t);
  const mid = ts.filter((r) => !r.finishedFirst);
  const withMounts = mid.filter((r) => r.helpersAtKill > 0);
  const bad = ts.filter((r) => !r.ok);
  const gone = ts.map((r) => r.goneMs).filter((x) => x >= 0);
  return `| ${t} | ${ts.length} | ${mid.length} | ${withMounts.length} | ${ts.length - mid.length} | ${bad.length} | ${Math.max(...gone)} |`;
});
const failed = trials.filter((r) => !r.ok);
const md = [
  '# Kill tests of `fpsim oracle`',
  '',
  `\`npx tsx bench/kill.ts ${n} ${seed}\`: ${trials.length} trials, ${secs} s, ${new Date().toISOString().slice(0, 10)}, Linux ${readKernel()}.`,
  '',
  `Each trial starts \`npx --no-install fpsim oracle\` on ${KILL_SCENARIOS.length} short built-in scenarios (${KILL_SCENARIOS.join(', ')}),`,
  'sends SIGKILL at a random moment (seeded: one trial in three 0.5 to 5 s after the start, two in three 0 to 1.5 s after',
  'the run\'s first helper appeared) to the target, and then checks, for',
  'everything of that run (recognised by a marker in the environment every child inherits):',
  'no process left, no process in a mount namespace the run made (so no mount in it), no fpsim mount',
  'in the host mount table, no directory under /tmp/fpsim-mounts (oracle/killtest.ts).',
  '',
  '- launcher: the PID a shell gets for `npx fpsim oracle &` (npm exec)',
  '- node: the node process running bin/fpsim.js (the CLI, in-process through tsx)',
  '- group: the whole process group (npm, node, every helper and user process at once)',
  '',
  '| target | trials | killed mid-run | with helpers (mounts) running | run had already finished | trials with leftovers | slowest until all gone (ms) |',
  '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows,
  '',
  failed.length ? `**${failed.length} trial(s) left something:**\n\n${failed.map((r) => `- ${r.target} at ${r.atMs} ms: ${JSON.stringify(r.leftovers)}`).join('\n')}` : '**Nothing was left by any trial.**',
  '',
  '## Every trial',
  '',
  '| # | target | at (ms) | helpers | users | finished first | gone after (ms) | exit | left |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...trials.map((r, i) => `| ${i + 1} | ${r.target} | ${r.atMs} | ${r.helpersAtKill} | ${r.usersAtKill} | ${r.finishedFirst ? 'yes' : 'no'} | ${r.goneMs} | ${r.exit} | ${r.ok ? 'nothing' : 'YES'} |`),
  '',
].join('\n');
writeFileSync(new URL('./records/kill.md', import.meta.url), md);
console.log(`\nwrote bench/records/kill.md: ${failed.length} trial(s) with leftovers of ${trials.length}`);
process.exit(failed.length ? 1 : 0);

function readKernel(): string {
  try {
    return (process.report?.getReport() as { header?: { osRelease?: string } } | undefined)?.header?.osRelease ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
