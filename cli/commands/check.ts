// fpsim check: a campaign of the model property (random programs under random interleavings,
// invariants after every step, the leak check, no deadlock, the outcome properties), with
// throughput and coverage: which ops ran, which errnos came back (and which the kernel
// produced inside, like EBUSY and ETXTBSY that open(2) turns into EIO).
import type { Command } from 'commander';
import { runCampaign, specErrnoTable, type CampaignResult } from '../../properties/campaign.ts';
import { formatFailure, writeCounterexample } from '../../properties/report.ts';
import { bold, dim, green, red } from '../narrate.ts';
import { checkOptions } from '../common.ts';
import { MS, RUNS, SECONDS, SEED, intArg } from '../args.ts';
import { progressLine } from '../progress.ts';
import { writeFileSync } from 'node:fs';
import { checkOutputFile } from '../args.ts';
import { resolveShard } from '../shard.ts';
import { SHARD_FORMAT, type CheckShardFile } from '../shardfile.ts';

function progress(total: number) {
  const line = progressLine();
  return {
    tick(done: number, _total: number, ms: number) {
      const rate = done / (ms / 1000 || 1e-9);
      line.update(`  ${done}/${total} runs (${Math.round((100 * done) / total)}%), ${rate.toFixed(0)} runs/s`, done === total);
    },
    end: () => line.done(),
  };
}

const fmtCounts = (r: Record<string, number>) =>
  Object.entries(r)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(', ');

function jsonOf(r: CampaignResult, kernel: string, mutants: string[], files?: { trace: string | null; scenario: string }) {
  const c = r.coverage;
  return {
    runs: r.runs,
    requested: r.requested,
    stopped: r.timedOut ? 'time limit (--max-seconds)' : null,
    seed: r.seed,
    kernel,
    mutants,
    ms: Math.round(r.ms),
    runsPerSec: Math.round(r.runsPerSec),
    ops: r.ops,
    steps: r.steps,
    passed: !r.failed,
    failure: r.ctx ? { ...r.ctx.info.failures[0], origin: r.ctx.program.origin, seed: r.ctx.seed, path: r.ctx.path, ...(files ? { files } : {}) } : null,
    coverage: {
      ops: c.ops,
      returned: c.returned,
      internal: c.internal,
      specErrnos: specErrnoTable(c),
      functions: Object.keys(c.functions).length,
      labels: Object.keys(c.labels).length,
      unreachedLabels: r.unreachedLabels,
    },
  };
}

export function register(program: Command) {
  program
    .command('check')
    .description('run a campaign of the model property and report throughput and coverage')
    .option('--runs <n>', 'programs to run', intArg('--runs', RUNS), 1000)
    .option('--max-seconds <s>', 'stop after this long (the runs done so far are the result)', intArg('--max-seconds', SECONDS))
    .option('--seed <n>', 'fast-check seed (0 to 2^32-1)', intArg('--seed', SEED), 1)
    .option('--kernel <profile>', 'kernel profile')
    .option('--mutant <name...>', 'switch on seeded bugs (a failure then counts only if the program passes without them)')
    .option('--shrink <ms>', 'shrinking budget if the property fails', intArg('--shrink', MS), 10000)
    .option('--json', 'print the summary as JSON')
    .option('--shard <i/n>', 'run only programs i, i+n, i+2n, ... of the campaign (n shards with one seed run it all); default: from JOB_COMPLETION_INDEX and FPSIM_SHARD_COUNT when set (a Kubernetes Indexed Job)')
    .option('--result <file>', 'write the result as a shard file for fpsim merge (JSON)')
    .action((o: { runs: number; maxSeconds?: number; seed: number; kernel?: string; mutant?: string[]; shrink: number; json?: boolean; shard?: string; result?: string }) => {
      checkOptions(o);
      const shard = resolveShard(o.shard);
      if (o.result !== undefined) checkOutputFile('--result', o.result, { mayExist: true });
      // random programs run on 6.9 unless --kernel says otherwise; hand-made ones on their own
      const kernel = o.kernel ?? '6.9';
      const mutants = o.mutant ?? [];
      const bar = progress(shard ? Math.ceil((o.runs - shard.index) / shard.count) : o.runs);
      const r = runCampaign({ ...(shard ? { shard } : {}), runs: o.runs, seed: o.seed, kernel: o.kernel, mutants, shrinkMs: o.shrink, onProgress: bar.tick, ...(o.maxSeconds !== undefined ? { timeLimitMs: o.maxSeconds * 1000 } : {}) });
      bar.end();
      let files: { trace: string | null; scenario: string } | undefined;
      if (r.ctx) {
        const kind = r.ctx.info.failures[0]?.kind.replace(/[^\w-]+/g, '-') ?? 'failure';
        files = writeCounterexample(r.ctx, `check-${kind}-seed${o.seed}${mutants.length ? `-${mutants.join('+')}` : ''}`);
      }
      if (o.result !== undefined) {
        const f0 = r.ctx?.info.failures[0];
        const sf: CheckShardFile = {
          format: SHARD_FORMAT,
          command: 'check',
          job: { seed: o.seed, runs: o.runs, kernel, mutants },
          shard: shard ?? { index: 0, count: 1 },
          result: {
            runs: r.runs,
            requested: r.requested,
            timedOut: r.timedOut,
            ms: Math.round(r.ms),
            ops: r.ops,
            steps: r.steps,
            failed: r.failed,
            failure: r.ctx && f0 ? { kind: f0.kind, message: f0.message, steps: r.ctx.info.steps, ops: r.ctx.info.ops, seed: r.ctx.seed, path: r.ctx.path, ...(files ? { files } : {}) } : null,
            coverage: r.coverage,
          },
        };
        writeFileSync(o.result, `${JSON.stringify(sf)}\n`);
      }
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...jsonOf(r, kernel, mutants, files), ...(shard ? { shard } : {}) }, null, 2)}\n`);
      } else {
        const c = r.coverage;
        console.log(bold(`fpsim check: ${r.runs} runs, seed ${o.seed}, kernel ${kernel}${mutants.length ? `, mutants ${mutants.join(' ')}` : ''}${shard ? `, shard ${shard.index}/${shard.count} (programs ${shard.index}, ${shard.index + shard.count}, ... of ${o.runs})` : ''}`));
        console.log(`  ${(r.ms / 1000).toFixed(1)} s, ${r.runsPerSec.toFixed(0)} runs/s; ${r.ops} commands (ops) and ${r.steps} atomic steps executed`);
        console.log(bold('\ncoverage'));
        for (const [op, x] of Object.entries(c.ops).sort()) {
          console.log(`  ${op.padEnd(14)} ok ${String(x.ok).padStart(6)}${Object.keys(x.errnos).length ? dim(`   ${fmtCounts(x.errnos)}`) : ''}`);
        }
        console.log(`  errnos returned by ops: ${fmtCounts(c.returned)}`);
        console.log(`  errnos produced inside the kernel: ${fmtCounts(c.internal)}`);
        console.log('  spec section 3 errnos (returned / internal):');
        for (const e of specErrnoTable(c)) {
          console.log(`    ${(e.seen ? green('seen    ') : red(bold('MISSING '))) + e.errno.padEnd(11)} ${String(e.returned).padStart(6)} / ${e.internal}`);
        }
        const nl = Object.keys(c.labels).length;
        console.log(`  kernel and server functions reached: ${Object.keys(c.functions).length}; their steps reached: ${nl} of ${nl + r.unreachedLabels.length}`);
        if (r.unreachedLabels.length) console.log(dim(`    never reached: ${r.unreachedLabels.join(', ')}`));
        if (Object.keys(c.violations).length) console.log(`  violations seen: ${fmtCounts(c.violations)}`);
        console.log();
        if (r.ctx) {
          console.log(red(formatFailure(r.ctx, files)));
        } else {
          console.log(green(bold(`property held on all ${r.runs} runs`)));
          if (r.timedOut) console.log(dim(`(stopped by --max-seconds after ${r.runs} of ${r.requested} runs)`));
        }
      }
      process.exitCode = r.failed ? 1 : 0;
    });
}
