// fpsim explore <scenario>: every interleaving of the scenario's tasks, breadth-first, with
// every invariant checked in every state; each violation kind found is written out as a
// scenario whose schedule is a shortest interleaving to it (fpsim run re-executes it).
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { InputError, loadScenario } from '../../sim/scenario/load.ts';
import { PROFILE_NAMES } from '../../sim/kernel/profile.ts';
import { checkOptions } from '../common.ts';
import { checkOutputDir, checkOutputFile, optInt, workersRange } from '../args.ts';
import { bold, dim, symmetryLine } from '../narrate.ts';
import { progressLine } from '../progress.ts';
import { defaultMaxStates, explore, type ExploreOptions, type ExploreResult, type Progress, type StopReason } from '../../sim/explore/explore.ts';
import { exploreParallel } from '../../sim/explore/parallel.ts';
import { counterexample, counterexampleName, writeNew } from '../../sim/explore/counterexample.ts';
import { resolveShard } from '../shard.ts';
import { exploreShardFile } from '../shardfile.ts';

interface Opts {
  depth?: string;
  json?: boolean;
  shard?: string;
  workers?: string;
  out: string;
  write: boolean;
  kernel?: string;
  mutant?: string[];
  por: boolean;
  symmetry: boolean;
  frontier?: string;
  maxStates?: string;
  hashes?: string;
  paranoid?: boolean;
  bitstate?: boolean;
  bitstateBits?: string;
  result?: string;
}

const secs = (ms: number) => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

function progressText(p: Progress, who = ''): string {
  return `explore${who}: depth ${p.depth}, ${p.states} states, ${p.transitions} transitions, ${p.layer} in this layer, ${secs(p.ms)}`;
}

export function register(program: Command) {
  program
    .command('explore')
    .description('explore every interleaving of a scenario\'s tasks; write a shortest trace to each violation kind found')
    .argument('<scenario>', 'a scenario JSON file')
    .option('--depth <n>', 'explore at most n steps after setup')
    .option('--json', 'print the result as JSON')
    .option('--shard <i/n>', 'explore shard i of n (states split by fingerprint at the frontier depth); default: from JOB_COMPLETION_INDEX and FPSIM_SHARD_COUNT when set (a Kubernetes Indexed Job)')
    .option('--result <file>', 'write the result as a shard file for fpsim merge (JSON, with every state\'s fingerprint)')
    .option('--workers <k>', 'k shards in k worker threads, merged')
    .option('--out <dir>', 'where to write the traces found (never over an existing file)', 'out/explore')
    .option('--no-write', 'do not write trace files')
    .option('--kernel <profile>', `kernel profile (${PROFILE_NAMES.join(', ')})`)
    .option('--mutant <name...>', 'switch on seeded bugs')
    .option('--no-por', 'no sleep-set reduction (every interleaving step by step)')
    .option('--no-symmetry', 'no symmetry reduction (interchangeable tasks\' mirror-image states explored too)')
    .option('--frontier <d>', 'the depth at which shards split (default: the first layer with 4 states per shard)')
    .option('--max-states <n>', `stop after this many distinct states (default: what fits in the heap, here ${defaultMaxStates()})`)
    .option('--hashes <file>', 'write the visited states\' hashes, one a line (to check a union of shards)')
    .option('--bitstate', 'bitstate hashing (as SPIN\'s -DBITSTATE): 3 bits a state in a bit array instead of a 128-bit fingerprint; may miss states')
    .option('--bitstate-bits <b>', 'the bit array has 2^b bits (default 30: 128 MB); implies --bitstate')
    .option('--paranoid', 'check every incremental hash and every undo against a full recomputation (slow)')
    .action(async (file: string, o: Opts) => {
      checkOptions(o);
      const depth = optInt('--depth', o.depth, { min: 0, max: 1_000_000, what: 'a depth' });
      const workers = optInt('--workers', o.workers, workersRange());
      const frontier = optInt('--frontier', o.frontier, { min: 0, max: 1_000_000, what: 'a depth' });
      const maxStates = optInt('--max-states', o.maxStates, { min: 1, max: 1_000_000_000, what: 'a number of states' });
      const bitsLog2 = optInt('--bitstate-bits', o.bitstateBits, { min: 10, max: 36, what: 'a power of two (2^b bits)' });
      const shard = resolveShard(o.shard);
      if (shard && workers !== undefined && workers > 1) throw new InputError('--shard and --workers do not go together: --workers k runs shards 0/k .. k-1/k');
      // where the results go is checked before the work, not after it
      if (o.hashes !== undefined) checkOutputFile('--hashes', o.hashes, { mayExist: true });
      if (o.result !== undefined) checkOutputFile('--result', o.result, { mayExist: true });
      if (o.write) checkOutputDir('--out', o.out);
      const s = loadScenario(file);
      let raw: unknown = null;
      try {
        raw = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        raw = null;
      }
      const line = progressLine();
      const eo: ExploreOptions = { por: o.por, symmetry: o.symmetry, keepHashes: o.hashes !== undefined || o.result !== undefined, progressMs: 500 };
      if (depth !== undefined) eo.depth = depth;
      if (frontier !== undefined) eo.frontier = frontier;
      if (maxStates !== undefined) eo.maxStates = maxStates;
      if (o.kernel) eo.kernel = o.kernel;
      if (o.mutant) eo.mutants = o.mutant;
      if (o.paranoid) eo.paranoid = true;
      if (o.bitstate || bitsLog2 !== undefined) eo.bitstate = bitsLog2 ?? 30;
      let r: ExploreResult & { overlap?: number };
      if (workers !== undefined && workers > 1) {
        try {
          r = await exploreParallel(s, { ...eo, keepHashes: true, onProgress: (i, p) => line.update(progressText(p, ` [worker ${i}]`), true) }, workers);
        } catch (e) {
          const stop = (e as { stop?: StopReason }).stop;
          if (!stop) throw e;
          line.done();
          console.error(`fpsim explore: every worker ran out of memory: no result\n  ${stop.message}\n  ${stop.hint}`);
          process.exitCode = 1;
          return;
        }
      } else {
        if (shard) eo.shard = shard;
        eo.onProgress = (p) => line.update(progressText(p), true);
        r = explore(s, eo);
      }
      line.done();
      if (o.hashes !== undefined) writeFileSync(o.hashes, (r.hashes ?? []).join('\n') + '\n');
      if (o.result !== undefined) writeFileSync(o.result, `${JSON.stringify(exploreShardFile(file, r, eo))}\n`);
      const written: { kind: string; file: string | null; reproduced: boolean; kinds: string[] }[] = [];
      for (const f of r.findings) {
        const ce = counterexample(s, raw, f, { mutants: r.mutants, kernel: r.kernel });
        const path = o.write ? writeNew(o.out, counterexampleName(s, r.mutants, f.kind), `${JSON.stringify(ce.scenario, null, 2)}\n`) : null;
        written.push({ kind: f.kind, file: path, reproduced: ce.reproduced, kinds: ce.kinds });
      }
      if (o.json) {
        const { hashes: _h, ...rest } = r;
        const out = { ...rest, findings: r.findings.map((f, i) => ({ ...f, file: written[i]!.file, reproduced: written[i]!.reproduced })) };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else {
        print(r, written);
      }
      // a violation, or a search cut short by memory (not by the user's own bound), is exit 1
      process.exitCode = r.findings.length || r.stopped?.reason === 'memory' || r.stopped?.reason === 'worker-memory' ? 1 : 0;
    });
}

function print(r: ExploreResult & { overlap?: number }, written: { kind: string; file: string | null; reproduced: boolean }[]) {
  console.log(bold(`explore ${r.scenario}`) + dim(` (kernel ${r.kernel}${r.mutants.length ? `, mutants: ${r.mutants.join(', ')}` : ''})`));
  console.log(dim(`tasks: ${r.tasks.join(', ')}`));
  const how = r.complete ? 'every interleaving explored' : `BOUNDED: not every interleaving was explored (${r.stopped?.message ?? 'depth or state limit'})`;
  console.log(
    `${r.states} distinct states, ${r.transitions} transitions${r.por ? ` (${r.pruned} skipped by sleep sets)` : ''}, max depth ${r.maxDepth}, ${r.terminals} terminal state(s): ${how}`,
  );
  const sh = r.shard ? `, ${r.shard.count > 1 && r.overlap !== undefined ? `${r.shard.count} workers, overlap ${r.overlap.toFixed(2)}x` : `shard ${r.shard.index}/${r.shard.count}`}, frontier depth ${r.shard.frontier ?? 'none (too few states: the whole space)'}` : '';
  console.log(`${secs(r.ms)}, ${r.statesPerSec} states/s${sh}`);
  console.log(dim(`visited set: ${r.visited.note} (${Math.round(r.visited.bytes / 2 ** 10)} KB)`));
  console.log(dim(symmetryLine(r.symmetry, r.states)));
  if (r.stopped) console.log(dim(`  ${r.stopped.hint}`));
  if (!r.findings.length) {
    console.log(bold('no violations') + (r.complete ? ' in any interleaving' : ' within the bound'));
    return;
  }
  console.log(bold(`${r.findings.length} violation kind(s):`));
  r.findings.forEach((f, i) => {
    const w = written[i]!;
    const at = f.at === 'teardown' ? ', at teardown' : f.at === 'terminal' ? ', nothing can run' : f.at === 'setup' ? ', in setup' : '';
    console.log(`  ${bold(f.kind)} after ${f.depth} steps${at} (${f.fn ? `${f.fn}, ` : ''}task ${f.task}; seen ${f.count} time(s))`);
    console.log(`    ${f.message}`);
    console.log(dim(`    schedule: ${f.schedule.join(' ') || '(none: right after setup)'}`));
    if (w.file) console.log(`    written to ${w.file}${w.reproduced ? '' : ' (a run of it did NOT show this kind)'}: fpsim run ${w.file}`);
  });
}
