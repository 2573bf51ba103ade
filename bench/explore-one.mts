// One growth-family exploration in its own process, measured in CPU time (process.cpuUsage:
// user + system of this process, which on a shared machine moves far less than wall time).
// usage: tsx bench/explore-one.mts <fpsim checkout> <tasks> <por 1|0> [<symmetry 1|0>, default 0]
// The checkout may be an older fpsim (a "before" tree): only fields every version has are read
// (one without symmetry reduction ignores the option and explores every state).
const [root, n, por, symmetry] = [process.argv[2]!, Number(process.argv[3]), process.argv[4] === '1', process.argv[5] === '1'];
const { explore } = await import(`${root}/sim/explore/explore.ts`);
const { growthScenario } = await import(`${root}/bench/harness.ts`);
const s = growthScenario(n);
const c0 = process.cpuUsage();
const r = explore(s, { por, symmetry, maxStates: 100_000_000 });
const c = process.cpuUsage(c0);
const cpu = (c.user + c.system) / 1e6;
process.stdout.write(
  `${JSON.stringify({
    n,
    por,
    states: r.states,
    transitions: r.transitions,
    pruned: r.pruned,
    maxDepth: r.maxDepth,
    complete: r.complete,
    findings: r.findings.length,
    cpu,
    wall: r.ms / 1000,
    heapMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
    rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    visited: r.visited ? { bytes: r.visited.bytes, p: r.visited.p } : null,
    symmetry: r.symmetry ? { on: r.symmetry.on, order: r.symmetry.order, represented: r.symmetry.represented } : null,
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  })}\n`,
);
