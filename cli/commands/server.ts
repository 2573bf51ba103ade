// fpsim server [options] -- <server command...>: an unmodified FUSE server binary under the
// model kernel, against random programs of several user tasks (bridge/run.ts). Exit 0: every
// run passed; 1: a failure (shrunk program, schedule and a trace that replays without the
// server); 2: a bad command line.
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { InputError } from '../../sim/scenario/load.ts';
import { checkTraceTarget, writeTrace } from '../../sim/trace/write.ts';
import { describeServerProgram, serverCampaign, type ServerConfig } from '../../bridge/run.ts';
import { shutdownSyncServers } from '../../bridge/sync.ts';
import { buildPassthroughHpVariant, ensurePassthroughHp } from '../../bridge/libfuse.ts';
import { VARIANTS } from '../../bridge/variants.ts';
import { describePicks } from '../../properties/run-program.ts';
import { bold, dim } from '../narrate.ts';

interface Opts {
  runs: string;
  seed?: string;
  json?: boolean;
  passthroughHp?: boolean;
  variant?: string;
  tasks: string;
  timeout: string;
  quietMs: string;
  trace?: string;
  force?: boolean;
  realKernel?: boolean;
  serverFirst?: boolean;
}

function int(name: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v)) throw new InputError(`${name}: "${v}" is not a whole number`);
  const n = Number(v);
  if (n < min || n > max) throw new InputError(`${name}: ${n} is out of range (${min}..${max})`);
  return n;
}

const VARIANT_NAMES = VARIANTS.map((v) => v.name);

/** The server's argv: passthrough_hp (built, or a faulty variant) with the given options, or the command as given. */
function serverArgv(cmd: string[], o: Opts): string[] {
  if (o.variant !== undefined && !o.passthroughHp) throw new InputError('--variant only goes with --passthrough-hp');
  if (o.passthroughHp) {
    if (o.variant !== undefined && !VARIANT_NAMES.includes(o.variant)) throw new InputError(`--variant: unknown variant "${o.variant}" (known: ${VARIANT_NAMES.join(', ')})`);
    if (cmd.some((a) => a.includes('{dev}') || a.includes('{src}'))) throw new InputError('with --passthrough-hp the words after -- are passthrough_hp options (e.g. --single, --num-threads 4, --nopassthrough); it gets {src} and {dev} itself');
    const b = ensurePassthroughHp();
    if (!b.ok) throw new InputError(`--passthrough-hp: cannot build passthrough_hp: ${b.reason}`);
    const path = o.variant === undefined ? b.path : buildPassthroughHpVariant(o.variant, VARIANTS.find((v) => v.name === o.variant)!.edit);
    return [path, '--foreground', '--nosplice', ...cmd, '{src}', '{dev}'];
  }
  if (cmd.length === 0) throw new InputError('no server command: fpsim server [options] -- <server command...> ("{dev}" is its /dev/fuse, "{src}" a fresh directory per run), or --passthrough-hp');
  if (!cmd.some((a) => a.includes('{dev}'))) throw new InputError(`the server command must say where its /dev/fuse is: put {dev} where it takes the mountpoint (got: ${cmd.join(' ')})`);
  return cmd;
}

export function register(program: Command) {
  program
    .command('server')
    .description('run an unmodified FUSE server binary under the model against random multi-task programs')
    .argument('[command...]', 'the server command after --: "{dev}" becomes its /dev/fuse, "{src}" a fresh source directory per run')
    .option('--runs <n>', 'random programs to run', '100')
    .option('--seed <n>', 'fast-check seed (default: from the clock, printed)')
    .option('--tasks <n>', 'at least this many user tasks per program', '3')
    .option('--passthrough-hp', "libfuse's passthrough_hp, built from the third-party tarball; the words after -- are its options")
    .option('--variant <name>', `a faulty passthrough_hp (${VARIANT_NAMES.join(', ')})`)
    .option('--timeout <ms>', 'how long the server may take over one request before it counts as hung', '5000')
    .option('--quiet-ms <ms>', 'how long the server must stay quiet after a reply to count as idle', '2')
    .option('--trace <file>', 'where a failure\'s trace goes (default fpsim-server-<seed>.trace.json)')
    .option('--force', 'let the trace replace an existing file')
    .option('--real-kernel', 'also run each program on this machine\'s kernel with the same binary (it mounts for real: "{dev}" becomes a mountpoint) and compare what every syscall returned')
    .option('--server-first', 'schedule the server\'s task whenever it can run (as a real server thread goes on after its reply), the user tasks randomly otherwise')
    .option('--json', 'print the result as JSON')
    .action(async (cmd: string[], o: Opts) => {
      const runs = int('--runs', o.runs, 1, 1_000_000);
      const minTasks = int('--tasks', o.tasks, 1, 8);
      const timeoutMs = int('--timeout', o.timeout, 1, 600_000);
      const quietMs = int('--quiet-ms', o.quietMs, 0, 10_000);
      const seed = o.seed === undefined ? Date.now() % 2 ** 31 : int('--seed', o.seed, 0, 2 ** 31 - 1);
      if (process.getuid?.() !== 0) throw new InputError('fpsim server needs root (the bridge hands the server its backing fds and the model makes them passthrough files)');
      const trace = resolve(o.trace ?? `fpsim-server-${seed}.trace.json`);
      checkTraceTarget(trace, o.force);
      const argv = serverArgv(cmd, o);
      const cfg: ServerConfig = { argv, timeoutMs, quietMs, ...(o.realKernel ? { realKernel: true } : {}) };
      let res;
      try {
        res = await serverCampaign(cfg, {
          runs,
          seed,
          minTasks,
          serverFirst: o.serverFirst ?? false,
          onRun: (n) => {
            if (!o.json && process.stderr.isTTY && n % 10 === 0) process.stderr.write(`\r${n}/${runs} runs`);
          },
        });
      } finally {
        shutdownSyncServers();
        if (!o.json && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      }
      const perSec = res.runs / (res.ms / 1000);
      if (res.failed?.trace) writeTrace(trace, res.failed.trace, { force: o.force ?? false });
      if (o.json) {
        console.log(
          JSON.stringify(
            {
              command: argv.join(' '),
              runs: res.runs,
              seed,
              ms: res.ms,
              runsPerSecond: Number(perSec.toFixed(2)),
              ...(o.realKernel ? { realKernelOpsCompared: res.compared, realKernelOpsNotCompared: res.unordered } : {}),
              passed: res.failed === null,
              ...(res.failed
                ? { failures: res.failed.failures, program: res.failed.program, lines: describeServerProgram(res.failed.program), results: res.failed.results, schedule: describePicks(res.failed.picks), trace: res.failed.trace ? trace : null }
                : {}),
            },
            null,
            2,
          ),
        );
      } else {
        console.log(`${bold('fpsim server')} ${dim(argv.join(' '))}`);
        console.log(`${res.runs} runs (seed ${seed}), ${perSec.toFixed(1)} runs/s${res.failed ? ` (with the shrinking)` : ''}`);
        if (o.realKernel) console.log(`real kernel: ${res.compared} syscall results compared${res.failed ? '' : ', all agree'}${res.unordered ? `; ${res.unordered} not compared (run after an op that overlapped a change of its name in the model, an order the real kernel cannot be made to follow)` : ''}`);
        if (!res.failed) console.log(`no violations: every invariant held at every step of every run`);
        else {
          console.log(bold(`FAILED${res.failed.shrinks ? ` (shrunk ${res.failed.shrinks} times)` : ''}:`));
          for (const f of res.failed.failures) console.log(`  [${f.kind}] ${f.message}`);
          if (res.failed.failures.length === 0) console.log('  (the shrunk program passed when run again: the server is not deterministic for it)');
          console.log(bold('program:'));
          for (const l of describeServerProgram(res.failed.program)) console.log(`  ${l}`);
          console.log(`${bold('schedule:')} ${describePicks(res.failed.picks)}`);
          console.log(bold('what the syscalls returned:'));
          for (const l of res.failed.results) console.log(`  ${l}`);
          if (res.failed.trace) console.log(`trace: ${trace} (fpsim replay ${trace}; fpsim view ${trace}: no server needed)`);
          console.log(dim(`again: --seed ${seed} --runs ${runs}`));
        }
      }
      if (res.failed) process.exitCode = 1;
    });
}
