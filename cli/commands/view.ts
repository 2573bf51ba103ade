// fpsim view <trace.json> -o trace.html: a self-contained page for a trace.
import type { Command } from 'commander';
import { basename } from 'node:path';
import { readTrace } from '../../sim/trace/read.ts';
import { atomicWrite, checkTraceTarget } from '../../sim/trace/write.ts';
import { traceHtml } from '../../view/html.ts';

export function register(program: Command) {
  program
    .command('view')
    .description('write a self-contained HTML view of a trace (timeline, objects, violations)')
    .argument('<trace>', 'a trace file (fpsim run --trace)')
    .requiredOption('-o, --out <file.html>', 'where to write the page')
    .option('--force', 'overwrite the output file')
    .option('--json', 'print {"trace", "out", "scenario", "steps", "violations"}')
    .action((file: string, o: { out: string; force?: boolean; json?: boolean }) => {
      const t = readTrace(file);
      checkTraceTarget(o.out, !!o.force);
      atomicWrite(o.out, traceHtml(t, `fpsim: ${t.scenario.name} (${basename(file)})`), { force: !!o.force });
      if (o.json) {
        const out = { trace: file, out: o.out, scenario: t.scenario.name, steps: t.steps.length, violations: t.violations.map((v) => v.kind) };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
      } else console.error(`wrote ${o.out}`);
    });
}
