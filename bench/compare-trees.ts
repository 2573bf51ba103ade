// CPU time of the step and explorer workloads of bench/harness.ts in another checkout of fpsim,
// for before/after comparisons across commits on a shared machine:
//   git worktree add /tmp/before <rev> && ln -s "$PWD/node_modules" /tmp/before/
//   for i in 1 2 3; do for d in /tmp/before "$PWD"; do (cd $d && npx tsx "$OLDPWD/bench/compare-trees.ts" $d 3); done; done
// prints one JSON line per tree: best CPU ms of `reps` repetitions, the steps or states, per second;
// "parse" is the zod parse of the long program that each stepRate call makes before its run (part
// of the off/trace/on CPU times, not of stepRate's own ms).
const dir = process.argv[2];
const reps = Number(process.argv[3] ?? 3);
if (!dir || !Number.isInteger(reps) || reps < 1) {
  console.error('usage: tsx bench/compare-trees.ts <fpsim checkout> [repetitions >= 1]');
  process.exit(2);
}
const h = await import(`${dir}/bench/harness.ts`);
const schema = await import(`${dir}/sim/scenario/schema.ts`);
const workload = await import(`${dir}/bench/workload.ts`);
function cpu(f: () => void): number {
  const a = process.cpuUsage();
  f();
  const b = process.cpuUsage(a);
  return (b.user + b.system) / 1000;
}
const best: Record<string, number> = {};
const count: Record<string, number> = {};
const add = (k: string, ms: number, n: number) => {
  best[k] = Math.min(best[k] ?? Infinity, ms);
  count[k] = n;
};
h.stepRate('warm-up', 4, 50, false, false, 1);
h.stepRate('warm-up', 4, 50, true, false, 1);
const g3 = h.growthScenario(3);
for (let i = 0; i < reps; i++) {
  for (const [k, checks, trace] of [['off', false, false], ['trace', false, true], ['on', true, false]] as const) {
    let steps = 0;
    add(k, cpu(() => { steps = h.stepRate(k, 4, 250, checks, trace, 1).steps; }), steps);
  }
  // the zod parse of the scenario that each stepRate call above makes before it runs (inside the
  // CPU time of off/trace/on; fpsim run parses its scenario file once too): measured alone
  add('parse', cpu(() => schema.ScenarioSchema.parse(workload.longProgram(4, 250))), 1);
  let states = 0;
  add('g3', cpu(() => { states = h.exploreRate('growth-3', g3, {}, 1).states; }), states);
}
console.log(dir, JSON.stringify(Object.fromEntries(Object.keys(best).map((k) => [k, { ms: Math.round(best[k]!), n: count[k], perSec: Math.round((count[k]! / best[k]!) * 1000) }]))));
