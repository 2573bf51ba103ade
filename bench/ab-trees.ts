// Two checkouts of fpsim in ONE process, their long-program runs interleaved, for a
// before/after comparison that a shared machine's load affects alike:
//   git worktree add /tmp/before <rev> && ln -s "$PWD/node_modules" /tmp/before/
//   npx tsx bench/ab-trees.ts /tmp/before "$PWD" [rounds, default 15]
// Each tree parses longProgram(4, 250) once (outside the timing: fpsim run parses its file
// once), runs every configuration once to warm up, then each round runs every configuration
// in both trees, alternating which goes first. Prints the CPU time (process.cpuUsage, user +
// system) of one runScenario: min and median per tree, steps per CPU-second at the min, and
// before/after ratios.
const [before, after] = process.argv.slice(2, 4);
const rounds = Number(process.argv[4] ?? 15);
if (!before || !after || !Number.isInteger(rounds) || rounds < 1) {
  console.error('usage: tsx bench/ab-trees.ts <fpsim checkout before> <fpsim checkout after> [rounds >= 1]');
  process.exit(2);
}
interface Tree {
  dir: string;
  run: (s: unknown, o: { check: boolean; record: boolean }) => { world: { step: number }; passed: boolean };
  scenario: unknown;
}
const trees: Tree[] = await Promise.all(
  [before, after].map(async (dir) => ({
    dir,
    run: (await import(`${dir}/sim/scenario/run-scenario.ts`)).runScenario,
    scenario: (await import(`${dir}/sim/scenario/schema.ts`)).ScenarioSchema.parse((await import(`${dir}/bench/workload.ts`)).longProgram(4, 250)),
  })),
);
const CONFIGS = [
  ['checks off, no trace', false, false],
  ['checks off, trace recorded', false, true],
  ['every invariant, no trace', true, false],
  ['every invariant, trace recorded', true, true],
] as const;
const ms = new Map<string, number[]>();
const steps = new Map<string, number>();
for (const t of trees) for (const [, check, record] of CONFIGS) t.run(t.scenario, { check, record });
for (let r = 0; r < rounds; r++) {
  for (const [label, check, record] of CONFIGS) {
    for (const t of r % 2 ? [...trees].reverse() : trees) {
      const a = process.cpuUsage();
      const res = t.run(t.scenario, { check, record });
      const b = process.cpuUsage(a);
      if (!res.passed) throw new Error(`${t.dir}: ${label}: the long program did not pass`);
      steps.set(`${t.dir} ${label}`, res.world.step);
      const k = `${t.dir} ${label}`;
      ms.set(k, [...(ms.get(k) ?? []), (b.user + b.system) / 1000]);
    }
  }
}
const min = (a: number[]) => Math.min(...a);
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
console.log(`${rounds} rounds; CPU ms of one run: min / median; steps per CPU-second at the min`);
for (const [label] of CONFIGS) {
  const [a, b] = trees.map((t) => ms.get(`${t.dir} ${label}`)!) as [number[], number[]];
  const [sa, sb] = trees.map((t) => steps.get(`${t.dir} ${label}`)!) as [number, number];
  console.log(
    JSON.stringify({
      configuration: label,
      steps: [sa, sb],
      before: { min: +min(a).toFixed(1), median: +median(a).toFixed(1), perSec: Math.round((sa / min(a)) * 1000) },
      after: { min: +min(b).toFixed(1), median: +median(b).toFixed(1), perSec: Math.round((sb / min(b)) * 1000) },
      speedup: { min: +(min(a) / min(b)).toFixed(2), median: +(median(a) / median(b)).toFixed(2) },
    }),
  );
}
