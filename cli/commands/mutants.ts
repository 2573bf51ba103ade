// fpsim mutants: run the model property against every seeded bug (mutation testing of the
// properties) and say which were killed, how fast, and how short the counterexample is;
// --list shows the catalogue.
import type { Command } from 'commander';
import { MUTANTS } from '../../sim/kernel/mutants.ts';
import { InputError } from '../../sim/scenario/load.ts';
import { runMutants, COUNTEREXAMPLE_DIR, type MutantResult } from '../../properties/mutants.ts';
import { bold, dim, green, red } from '../narrate.ts';
import { checkOptions } from '../common.ts';
import { MS, RUNS, SEED, intArg } from '../args.ts';
import { progressLine } from '../progress.ts';

function line(r: MutantResult): string {
  const mark = r.killed ? green('killed  ') : red(bold('SURVIVED'));
  const time = `${r.ms} ms`.padStart(9);
  const len = r.killed ? `${String(r.steps).padStart(4)} steps ${String(r.ops).padStart(2)} ops` : ' '.repeat(17);
  const how = r.killed ? dim(`  ${r.runs} run(s), via ${r.via}: ${r.failure?.kind}`) : dim(`  ${r.runs} program(s) tried`);
  return `${mark} ${r.id.padEnd(36)} ${time} ${len}${how}`;
}

export function register(program: Command) {
  program
    .command('mutants')
    .description('run the model property against every seeded bug: killed or survived, time to kill, counterexample length')
    .option('--list', 'only list the mutant catalogue')
    .option('--json', 'print {"total", "killed", "mutants": [{"id", "killed", "ms", "steps", ...}]}')
    .option('--seed <n>', 'fast-check seed', intArg('--seed', SEED), 1)
    .option('--runs <n>', 'at most this many programs per mutant', intArg('--runs', RUNS), 20000)
    .option('--time <ms>', 'at most this long searching per mutant', intArg('--time', { ...MS, min: 1 }), 30000)
    .option('--shrink <ms>', 'shrinking budget per kill (0: no shrinking)', intArg('--shrink', MS), 2000)
    .option('--kernel <profile>', 'kernel profile to run the programs on')
    .option('--mutant <name...>', 'only these mutants')
    .option('--no-library', 'random and hand-made race programs only, not the scenario library')
    .option('--save', `write each kill's counterexample to ${COUNTEREXAMPLE_DIR}/mutant-<id>.json (and .scenario.json)`)
    .action((o: { list?: boolean; json?: boolean; seed: number; runs: number; time: number; shrink: number; kernel?: string; mutant?: string[]; library: boolean; save?: boolean }) => {
      checkOptions(o);
      if (o.list) {
        if (o.json) process.stdout.write(`${JSON.stringify(Object.entries(MUTANTS).map(([id, m]) => ({ id, fn: m.fn, story: m.story })), null, 2)}\n`);
        else for (const [id, m] of Object.entries(MUTANTS)) console.log(`${bold(id.padEnd(36))} ${dim(m.fn)}\n    ${m.story}`);
        return;
      }
      if (o.mutant?.length === 0) throw new InputError('--mutant needs at least one name');
      const total = o.mutant?.length ?? Object.keys(MUTANTS).length;
      const bar = progressLine();
      let done = 0;
      bar.update(`mutants: 0/${total}`, true);
      const rep = runMutants({
        seed: o.seed,
        numRuns: o.runs,
        timeLimitMs: o.time,
        shrinkMs: o.shrink,
        kernel: o.kernel,
        only: o.mutant,
        library: o.library,
        saveDir: o.save ? COUNTEREXAMPLE_DIR : null,
        onResult: (r) => {
          bar.done();
          if (!o.json) console.log(line(r));
          bar.update(`mutants: ${++done}/${total} (last: ${r.id}, ${r.killed ? 'killed' : 'SURVIVED'})`, true);
        },
      });
      bar.done();
      if (o.json) {
        const out = {
          total: rep.total,
          killed: rep.killed,
          seed: rep.seed,
          mutants: rep.mutants.map((r) => ({
            id: r.id,
            killed: r.killed,
            ms: r.ms,
            steps: r.steps,
            ops: r.ops,
            runs: r.runs,
            via: r.via,
            failure: r.failure?.kind ?? null,
            ...(r.files ? { files: r.files } : {}),
          })),
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else {
        const k = rep.mutants.filter((r) => r.killed);
        const med = (xs: number[]) => {
          const s = [...xs].sort((a, b) => a - b);
          return s.length ? s[Math.floor((s.length - 1) / 2)]! : 0;
        };
        const ms = k.map((r) => r.ms);
        const steps = k.map((r) => r.steps ?? 0);
        console.log();
        console.log(
          (rep.killed === rep.total ? green : red)(bold(`${rep.killed} of ${rep.total} mutants killed`)) +
            (k.length ? dim(` (seed ${rep.seed}; time to kill median ${med(ms)} ms, worst ${Math.max(...ms)} ms; counterexample median ${med(steps)} steps, longest ${Math.max(...steps)})`) : ''),
        );
        for (const r of rep.mutants) if (r.files) console.log(dim(`  ${r.id}: ${r.files.scenario}`));
      }
      process.exitCode = rep.killed === rep.total ? 0 : 1;
    });
}
