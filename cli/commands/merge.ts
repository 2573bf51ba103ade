// fpsim merge <shard files...>: combine the results of the shards of one `fpsim explore` or
// `fpsim check` job (each written with --result) into the result of the whole job.
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { checkOutputFile } from '../args.ts';
import { bold, dim, green, red, symmetryLine } from '../narrate.ts';
import { mergeShardFiles, type MergedCheck, type MergedExplore } from '../shardfile.ts';

export function register(program: Command) {
  program
    .command('merge')
    .description('combine the shard result files of one explore or check job (written with --result) into the whole result')
    .argument('<files...>', 'shard result files, one per shard (explore --result / check --result)')
    .option('--json', 'print the merged result as JSON')
    .option('--result <file>', 'also write the merged result there (JSON)')
    .action((files: string[], o: { json?: boolean; result?: string }) => {
      if (o.result !== undefined) checkOutputFile('--result', o.result, { mayExist: true });
      const m = mergeShardFiles(files);
      const { hashes: _h, ...rest } = m.command === 'explore' ? m.result : { hashes: undefined, ...m.result };
      const out = { command: m.command, job: m.job, shardCount: m.count, missing: m.missing, ...rest };
      if (o.result !== undefined) writeFileSync(o.result, `${JSON.stringify(out, null, 2)}\n`);
      if (o.json) process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      else if (m.command === 'explore') printExplore(m);
      else printCheck(m);
      // as the commands themselves: 1 for a violation or an incomplete job (a shard missing or cut short)
      const bad = m.command === 'explore' ? m.result.findings.length > 0 || !m.result.complete : m.result.failed || m.missing.length > 0;
      process.exitCode = bad ? 1 : 0;
    });
}

function printExplore(m: MergedExplore) {
  const r = m.result;
  console.log(bold(`merge: explore ${m.job.scenario}`) + dim(` (kernel ${m.job.kernel}${m.job.mutants.length ? `, mutants: ${m.job.mutants.join(', ')}` : ''}), ${m.count} shard(s)`));
  if (m.missing.length) console.log(red(`  shards missing: ${m.missing.map((i) => `${i}/${m.count}`).join(', ')}: the result is partial`));
  console.log(`${r.states} distinct states, ${r.transitions} transitions, max depth ${r.maxDepth}, ${r.terminals} terminal state(s)${r.complete ? ': every interleaving explored' : `: INCOMPLETE (${r.stopped?.message ?? 'a shard stopped early'})`}`);
  console.log(dim(`  frontier depth ${r.shard?.frontier ?? 'none'}; the shards explored ${r.overlap.toFixed(2)}x the distinct states (they meet below the frontier)`));
  console.log(dim(`  visited set: ${r.visited.note}`));
  console.log(dim(`  ${symmetryLine(r.symmetry, r.states)}`));
  if (!r.findings.length) {
    console.log(bold('no violations'));
    return;
  }
  console.log(bold(`${r.findings.length} violation kind(s), each with the shortest trace of any shard:`));
  for (const f of r.findings) {
    console.log(`  ${bold(f.kind)} after ${f.depth} steps (${f.fn ? `${f.fn}, ` : ''}task ${f.task}; seen ${f.count} time(s))`);
    console.log(`    ${f.message}`);
    console.log(dim(`    schedule: ${f.schedule.join(' ') || '(none)'}`));
  }
}

function printCheck(m: MergedCheck) {
  const r = m.result;
  console.log(bold(`merge: check seed ${m.job.seed}, ${m.job.runs} runs asked, kernel ${m.job.kernel}${m.job.mutants.length ? `, mutants ${m.job.mutants.join(' ')}` : ''}, ${m.count} shard(s)`));
  if (m.missing.length) console.log(red(`  shards missing: ${m.missing.map((i) => `${i}/${m.count}`).join(', ')}: the result is partial`));
  console.log(`  ${r.runs} of ${r.requested} runs, ${r.ops} ops, ${r.steps} atomic steps; longest shard ${(r.ms / 1000).toFixed(1)} s`);
  console.log(`  kernel and server functions reached: ${Object.keys(r.coverage.functions).length}; steps reached: ${Object.keys(r.coverage.labels).length}`);
  if (r.failure) {
    console.log(red(bold(`FAILED: ${r.failure.kind}: ${r.failure.message}`)));
    console.log(`  smallest counterexample: shard ${r.shardOfFailure}, ${r.failure.steps} steps, ${r.failure.ops} ops; replay with seed ${r.failure.seed}, path "${r.failure.path ?? ''}"`);
    if (r.failure.files) console.log(`  files: ${r.failure.files.scenario}${r.failure.files.trace ? `, ${r.failure.files.trace}` : ''}`);
  } else console.log(green(bold(`property held on all ${r.runs} runs`)));
}
