// Running one generated input: through the CLI in-process (main(argv, io), cli/app.ts) for
// scenarios, traces and command lines, through the model kernel for FUSE replies. Each input
// ends in an outcome class; a crash is anything thrown that is not a rejection (InputError
// and commander's errors become exit 2 inside main), an exit code other than 0/1/2, or a stack
// trace in what was printed. A rejection (exit 2) must say where: a JSON path, a line and
// column, the flag or the argument at fault.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../cli/app.ts';
import { builtinScenarios } from '../cli/common.ts';
import { loadScenario } from '../sim/scenario/load.ts';
import { recordTrace } from '../sim/trace/write.ts';
import { serializeTrace } from '../sim/trace/format.ts';
import { mutateJson, mutateText, type CliInput, type FileInput, type Json, type WireInput } from './inputs.ts';
import { wireCase } from './wire.ts';

export type FuzzClass = 'scenario' | 'trace' | 'cli' | 'wire';
export type OutcomeKind = 'ok' | 'failed' | 'rejected' | 'crash';

export interface Outcome {
  cls: FuzzClass;
  kind: OutcomeKind;
  exit: number;
  /** a rejection that says where (always true for the others) */
  located: boolean;
  ms: number;
  /** for a crash or an unlocated rejection: what was printed or thrown */
  detail?: string;
  /** for wire inputs: what fuse_dev_write answered */
  wire?: string;
}

const STACK = /^\s+at .+(:\d+:\d+\)?|\(native\)|<anonymous>\)?)$/m;
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Where a file rejection is located: a JSON path, a line and column, or what of the file is wrong. */
const FILE_LOCATED = /at \$|line \d+, column \d+|cannot read|not an fpsim trace|newer fpsim|the file is empty|at \$\.fpsimTrace|setup failed|\(step \d+\)|--from|--to|already exists|cannot write/;
const CLI_LOCATED = /cannot read|empty argument|unknown command|missing required argument|too many arguments|unknown option|required option|argument missing|--[a-z]/;

export class Fuzzer {
  readonly dir: string;
  private readonly scenarios: Json[];
  private readonly traces: Json[];
  private n = 0;

  constructor(dir: string) {
    this.dir = dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'rel'), { recursive: true });
    const files = builtinScenarios();
    this.scenarios = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Json);
    // real traces: a passthrough run, a race with a violation under a mutant, a stacked mount
    const pick = (name: string) => files.find((f) => f.endsWith(`/${name}.json`)) ?? files[0]!;
    const recs = [
      recordTrace(loadScenario(pick('passthrough-read'))).trace,
      recordTrace(loadScenario(pick('abort-passthrough-keeps-working'))).trace,
      recordTrace(loadScenario(pick('backing-ids-cyclic')), { mutants: ['id-reused-at-once'] }).trace,
      recordTrace(loadScenario(pick('stack-overlay-mount-over-fuse-depth-1-ok'))).trace,
    ];
    this.traces = recs.map((t) => JSON.parse(serializeTrace(t)) as Json);
    writeFileSync(join(dir, 'valid-scenario.json'), readFileSync(pick('passthrough-read')));
    writeFileSync(join(dir, 'valid-trace.json'), serializeTrace(recs[0]!));
  }

  private tmp(ext: string): string {
    return join(this.dir, `in-${this.n++}.${ext}`);
  }

  private async cli(cls: FuzzClass, argv: string[], located: RegExp, cleanup: string[]): Promise<Outcome> {
    let out = '';
    let err = '';
    const t0 = performance.now();
    let exit: number;
    let thrown: unknown = null;
    try {
      exit = await main(argv, { out: (s) => void (out.length < 200_000 && (out += s)), err: (s) => void (err.length < 200_000 && (err += s)) });
    } catch (e) {
      thrown = e;
      exit = -1;
    }
    const ms = performance.now() - t0;
    for (const f of cleanup) rmSync(f, { recursive: true, force: true });
    if (thrown !== null) return { cls, kind: 'crash', exit, located: false, ms, detail: `${(thrown as Error)?.stack ?? String(thrown)}\nargv: ${JSON.stringify(argv)}` };
    if (![0, 1, 2].includes(exit)) return { cls, kind: 'crash', exit, located: false, ms, detail: `exit ${exit}\n${err.slice(0, 2000)}` };
    if (STACK.test(err) || STACK.test(out)) return { cls, kind: 'crash', exit, located: false, ms, detail: `a stack trace was printed:\n${err.slice(0, 3000)}${out.slice(0, 1000)}` };
    if (exit === 2) {
      // a file rejection: where in the file; a command line's: the flag or argument at fault
      // and what was expected: never zod's bare "Invalid input"
      const ok = !/Invalid input/.test(err) && (located.test(err) || (cls === 'cli' && argv.some((a) => a.length >= 3 && err.includes(a))));
      return { cls, kind: 'rejected', exit, located: ok, ms, ...(ok ? {} : { detail: `${err.slice(0, 1500)}\nargv: ${JSON.stringify(argv)}` }) };
    }
    return { cls, kind: exit === 0 ? 'ok' : 'failed', exit, located: true, ms };
  }

  async scenario(inp: FileInput): Promise<Outcome> {
    const base = this.scenarios[inp.base % this.scenarios.length]!;
    const text = mutateText(JSON.stringify(mutateJson(base, inp.muts), null, 1), inp.text);
    const file = this.tmp('json');
    writeFileSync(file, text);
    const trace = this.tmp('trace.json');
    const argv =
      inp.cmd < 70 ? ['run', file, '-q'] : inp.cmd < 80 ? ['run', file, '--json'] : inp.cmd < 90 ? ['explore', file, '--max-states', '200', '--no-write', '--json'] : ['run', file, '--trace', trace, '--force', '-q'];
    return this.cli('scenario', argv, FILE_LOCATED, [file, trace]);
  }

  async trace(inp: FileInput): Promise<Outcome> {
    const base = this.traces[inp.base % this.traces.length]!;
    const text = mutateText(JSON.stringify(mutateJson(base, inp.muts)), inp.text);
    const file = this.tmp('json');
    writeFileSync(file, text);
    const html = this.tmp('html');
    const argv = inp.cmd < 80 ? ['replay', file, '--json'] : inp.cmd < 90 ? ['replay', file] : ['view', file, '-o', html, '--force'];
    return this.cli('trace', argv, FILE_LOCATED, [file, html]);
  }

  async cliVector(inp: CliInput): Promise<Outcome> {
    const made: string[] = [];
    // a relative output path would land in the working directory (the repository): outputs
    // go to the fuzzer's directory whatever the vector says
    const OUTPUT_FLAGS = new Set(['-o', '--out', '--trace', '--hashes']);
    const argv = inp.argv.map((a, i) => {
      if (i > 0 && OUTPUT_FLAGS.has(inp.argv[i - 1]!) && !a.startsWith('/') && !a.startsWith('@') && !a.startsWith('-')) return join(this.dir, 'rel', a);
      if (a === '@SCENARIO') return join(this.dir, 'valid-scenario.json');
      if (a === '@TRACE') return join(this.dir, 'valid-trace.json');
      if (a === '@TMPDIR') return this.dir;
      if (a === '@TMPFILE') {
        const f = this.tmp('out');
        made.push(f);
        return f;
      }
      return a;
    });
    // bound the work a valid vector asks for (the fuzzed values are still parsed: every
    // occurrence of a flag goes through its parser)
    const cmd = argv[0];
    if (cmd === 'check') argv.push('--runs', '2', '--max-seconds', '1');
    if (cmd === 'mutants') argv.push('--list');
    if (cmd === 'explore') argv.push('--max-states', '200', '--no-write', '--depth', '20');
    made.push(join(ROOT, 'out', 'counterexamples'));
    return this.cli('cli', argv, CLI_LOCATED, made.slice(0, -1));
  }

  wire(inp: WireInput): Outcome {
    const t0 = performance.now();
    try {
      const r = wireCase(inp.opcode, inp.muts);
      return { cls: 'wire', kind: 'ok', exit: 0, located: true, ms: performance.now() - t0, wire: `${inp.opcode}: ${r.ret}` };
    } catch (e) {
      return { cls: 'wire', kind: 'crash', exit: -1, located: false, ms: performance.now() - t0, detail: `${(e as Error)?.stack ?? String(e)}\ninput: ${JSON.stringify(inp)}` };
    }
  }

  close() {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
