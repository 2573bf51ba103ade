// fpsim replay <trace>: run a recorded trace again under its recorded schedule, check that
// every step does exactly what it did then, show the steps like `fpsim run`, and stop at the
// first violation to explain it in kernel terms.
import type { Command } from 'commander';
import { intArg } from '../args.ts';
import { createInterface } from 'node:readline';
import { InputError } from '../../sim/scenario/load.ts';
import type { Violation } from '../../sim/kernel/lib/violation.ts';
import { readTrace, stepRange } from '../../sim/trace/read.ts';
import { replayTrace } from '../../sim/trace/replay.ts';
import { explainViolation } from '../../sim/trace/explain.ts';
import { formatStep, formatVerdict, bold, dim, red, green, yellow } from '../narrate.ts';

const STEP = { min: 1, max: Number.MAX_SAFE_INTEGER, what: 'a step number' };

/** Wait for Enter on a terminal; false when the user types q or closes stdin. */
function pager() {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  let closed = false;
  rl.on('close', () => (closed = true));
  return {
    next(): Promise<boolean> {
      if (closed) return Promise.resolve(false);
      return new Promise((resolve) => {
        const onClose = () => resolve(false);
        rl.once('close', onClose);
        rl.question(dim('  -- Enter: next step, q: stop -- '), (a) => {
          rl.off('close', onClose);
          resolve(a.trim().toLowerCase() !== 'q');
        });
      });
    },
    close: () => rl.close(),
  };
}

function wrap(text: string, width = 92, indent = '    '): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && line.length + 1 + word.length > width) {
      out.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(indent + line);
  return out;
}

function explainLines(vs: Violation[], expected: (v: Violation) => boolean): string[] {
  const out: string[] = [];
  const kinds = new Set<string>();
  for (const v of vs) {
    const head = expected(v) ? yellow(`expected violation ${v.kind}`) : red(bold(`VIOLATION ${v.kind}`));
    out.push(`${head} at step ${v.step} in ${v.task}${v.fn ? ` (${v.fn})` : ''}: ${v.message}`);
    if (kinds.has(v.kind)) continue;
    kinds.add(v.kind);
    const e = explainViolation(v);
    out.push(`  ${bold('the kernel would say:')} ${e.report}`);
    out.push(...wrap(e.text));
  }
  return out;
}

export function register(program: Command) {
  program
    .command('replay')
    .description('re-execute a recorded trace, check it does the same, and explain its first violation')
    .argument('<trace>', 'a trace file (written by fpsim run <scenario> --trace <file>)')
    .option('--from <n>', 'show the steps from step n', intArg('--from', STEP))
    .option('--to <n>', 'show the steps up to step n', intArg('--to', STEP))
    .option('--step', 'wait for Enter between steps (needs a terminal)')
    .option('--json', 'print the replay as JSON')
    .action(async (file: string, o: { from?: number; to?: number; step?: boolean; json?: boolean }) => {
      if (o.step && o.json) throw new InputError('--step and --json do not go together');
      if (o.step && !process.stdin.isTTY) throw new InputError('--step waits for Enter between steps, but stdin is not a terminal: run it in one, or drop --step');
      const t = readTrace(file);
      const range = stepRange(t, file, o.from, o.to);
      const rp = replayTrace(t);
      const total = t.steps.length;

      // show the range, up to the first violation in it or the divergence, whichever comes first
      const first = rp.violations.filter((v) => v.step >= range.from && v.step <= range.to).sort((a, b) => a.step - b.step)[0];
      let stop = range.to;
      if (first) stop = Math.min(stop, first.step);
      if (rp.divergence) stop = Math.min(stop, rp.divergence.step);
      const shown = rp.steps.filter((s) => s.step >= range.from && s.step <= stop);
      const atStop = first && first.step <= stop ? rp.violations.filter((v) => v.step === first.step) : [];
      const expectedKinds = new Set(t.scenario.expect.violations);
      const expected = (v: Violation) => expectedKinds.has(v.kind);
      const passed = !rp.divergence && rp.result !== null && rp.result.passed;
      process.exitCode = passed ? 0 : 1;

      if (o.json) {
        const out = {
          trace: file,
          scenario: t.scenario.name,
          kernel: t.kernel,
          mutants: t.mutants,
          recordedSteps: total,
          from: range.from,
          to: range.to,
          steps: shown,
          stoppedAtViolation: atStop.length ? atStop[0]!.step : null,
          explained: atStop.map((v) => ({ ...v, expected: expected(v), explanation: explainViolation(v) })),
          divergence: rp.divergence,
          violations: rp.violations,
          passed: rp.result ? rp.result.passed : null,
        };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }

      const part = range.from === 1 && range.to === total ? '' : `, showing steps ${range.from} to ${range.to}`;
      const mutants = t.mutants.length ? `, mutants: ${t.mutants.join(', ')}` : '';
      console.log(`${bold(`replay ${t.scenario.name}`)}${dim(` (kernel ${t.kernel}${mutants}) from ${file}: ${total} steps recorded${part}`)}`);
      const page = o.step ? pager() : null;
      try {
        for (const [i, st] of shown.entries()) {
          if (page && i > 0 && !(await page.next())) break;
          for (const line of formatStep(st, st.phase)) console.log(line);
        }
      } finally {
        page?.close();
      }
      console.log();
      if (atStop.length) {
        for (const line of explainLines(atStop, expected)) console.log(line);
        const rest = total - stop;
        if (rest > 0) console.log(dim(`(stopped at the first violation, step ${stop}; ${rest} more step(s) ${rp.divergence ? 'recorded' : 'replayed and matched'})`));
        console.log();
      }
      if (rp.divergence) {
        console.log(red(bold(`DIVERGED ${rp.divergence.message}`)));
        console.log(dim('the model no longer does what it did when the trace was recorded (or the trace was edited)'));
        return;
      }
      console.log(green(`replay matches the trace: all ${total} steps (task, kernel functions, effects) and the verdict`));
      if (rp.result) for (const line of formatVerdict(rp.result)) console.log(line);
    });
}
