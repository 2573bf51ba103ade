// Kill tests for `fpsim oracle`: start it, send a signal at a chosen moment to the launcher
// (npx: the npm process in front), to the node process that runs fpsim, or to the whole
// process group, then check that nothing of that run is left: no process, no mount namespace
// (so no mount in it), no mount in the host's mount table, no directory under
// /tmp/fpsim-mounts. Everything of a run is recognised by a marker in its environment
// (FPSIM_KILLTEST), which every child inherits, so other fpsim runs on the machine are left
// out of the count. Used by test/kill.test.ts (a few trials) and bench/kill.ts (the record).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MOUNT_PARENT = '/tmp/fpsim-mounts';

export type KillTarget = 'launcher' | 'node' | 'group';

/** Short built-in scenarios for kill trials: one run of them takes a few seconds. */
export const KILL_SCENARIOS = [
  'passthrough-read',
  'backing-ids-cyclic',
  'open-reply-keep-cache-eio',
  'abort-passthrough-keeps-working',
  'backing-close-twice',
  'iomode-second-open-same-id',
  'stack-overlay-mount-over-fuse-depth-1-ok',
  'init-depth-1-enables',
];

export interface KillTrial {
  target: KillTarget;
  signal: NodeJS.Signals;
  /** when the signal was sent, after the start (ms) */
  atMs: number;
  /** what was running then: helpers and users of the run */
  helpersAtKill: number;
  /** helpers the run had started by the kill (one per FUSE mount of each scenario so far) */
  helpersSeen: number;
  usersAtKill: number;
  /** the oracle had already finished (nothing to kill): a trial that shows nothing */
  finishedFirst: boolean;
  /** how long until every process of the run was gone (ms after the signal) */
  goneMs: number;
  /** exit code or signal of the process we started */
  exit: string;
  leftovers: { processes: string[]; namespaces: string[]; mounts: string[]; dirs: string[] };
  ok: boolean;
}

interface ProcInfo {
  pid: number;
  comm: string;
  cmd: string;
  zombie: boolean;
  mntns: string;
}

function procInfo(pid: number): ProcInfo | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
    let mntns = '';
    try {
      mntns = readlinkSync(`/proc/${pid}/ns/mnt`);
    } catch {
      // a zombie has none
    }
    return { pid, comm, cmd, zombie: state === 'Z', mntns };
  } catch {
    return null;
  }
}

/** The live (non-zombie) processes whose environment has FPSIM_KILLTEST=marker. */
export function markedProcesses(marker: string): ProcInfo[] {
  const out: ProcInfo[] = [];
  const needle = `FPSIM_KILLTEST=${marker}\0`;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let env: string;
    try {
      env = readFileSync(`/proc/${d}/environ`, 'latin1');
    } catch {
      continue;
    }
    if (!env.includes(needle)) continue;
    const p = procInfo(Number(d));
    if (p && !p.zombie) out.push(p);
  }
  return out;
}

/** Processes (any) in one of these mount namespaces. */
function processesInNamespaces(ns: ReadonlySet<string>): string[] {
  const out: string[] = [];
  if (ns.size === 0) return out;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const n = readlinkSync(`/proc/${d}/ns/mnt`);
      if (ns.has(n)) out.push(`${d} in ${n}`);
    } catch {
      // gone, or a zombie
    }
  }
  return out;
}

/** Host mounts of fpsim (fuse.fpsim, or the helpers' tmpfs) whose helper is one of pids. */
export function hostMountsOf(pids: ReadonlySet<number>): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => {
      const f = l.split(' ');
      const mp = f[4] ?? '';
      const rest = l.split(' - ')[1]?.split(' ') ?? [];
      const fpsim = rest[0] === 'fuse.fpsim' || (rest[0] === 'tmpfs' && (rest[1] === 'fpsim' || rest[1] === 'fpsim-ns'));
      if (!fpsim) return false;
      const owner = Number(mp.slice(MOUNT_PARENT.length + 1).split('-')[0]);
      return mp.startsWith(`${MOUNT_PARENT}/`) ? pids.has(owner) : true;
    })
    .map((l) => l.split(' ')[4]!);
}

function dirsOf(pids: ReadonlySet<number>): string[] {
  if (!existsSync(MOUNT_PARENT)) return [];
  return readdirSync(MOUNT_PARENT).filter((n) => pids.has(Number(n.split('-')[0])));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One trial: `fpsim oracle <scenarios>` through npx, `signal` to `target` after `atMs`.
 * The host's own mount namespace is never counted as a leftover.
 */
export async function killTrial(
  target: KillTarget,
  atMs: number,
  scenarios: string[],
  signal: NodeJS.Signals = 'SIGKILL',
  n = 0,
  opts: { afterHelpers?: number } = {},
): Promise<KillTrial> {
  const marker = `${process.pid}-${n}-${Date.now()}`;
  const hostNs = readlinkSync('/proc/self/ns/mnt');
  const child = spawn('npx', ['--no-install', 'fpsim', 'oracle', ...scenarios], {
    cwd: ROOT,
    env: { ...process.env, FPSIM_KILLTEST: marker, NO_COLOR: '1' },
    stdio: 'ignore',
    detached: target === 'group', // its own process group, so the group is exactly this run
  });
  let exit = '';
  const exited = new Promise<void>((r) =>
    child.once('exit', (code, sig) => {
      exit = sig ? sig : `code ${code}`;
      r();
    }),
  );
  const helpers = new Set<number>();
  const namespaces = new Set<string>();
  const t0 = Date.now();
  let finishedFirst = false;
  let last: ProcInfo[] = [];
  // watch the run until the moment comes (atMs after the start, or, with afterHelpers, the
  // first poll at least that long after its first helper appeared that finds a helper running:
  // a scenario's helpers may be gone by then, and the next scenario's not yet there),
  // remembering every helper and namespace it made
  let firstHelper = 0;
  let helpersNow = 0;
  const due = () =>
    opts.afterHelpers !== undefined ? firstHelper > 0 && helpersNow > 0 && Date.now() - firstHelper >= opts.afterHelpers : Date.now() - t0 >= atMs;
  // the poll that finds the moment is the one the kill acts on (no second look at /proc in
  // between, in which a short-lived helper could end)
  for (;;) {
    if (opts.afterHelpers === undefined && due()) {
      last = markedProcesses(marker);
      break;
    }
    if (Date.now() - t0 >= 60_000) break;
    last = markedProcesses(marker);
    helpersNow = 0;
    for (const p of last) {
      if (p.comm.startsWith('fpsim-fuse-help')) {
        helpers.add(p.pid);
        helpersNow++;
      }
      if (p.mntns && p.mntns !== hostNs) namespaces.add(p.mntns);
    }
    if (helpers.size && !firstHelper) firstHelper = Date.now();
    if (child.exitCode !== null || child.signalCode !== null) {
      finishedFirst = true;
      break;
    }
    if (opts.afterHelpers !== undefined && due()) break;
    await sleep(opts.afterHelpers !== undefined && firstHelper ? 5 : 25);
  }
  const helpersAtKill = last.filter((p) => p.comm.startsWith('fpsim-fuse-help')).length;
  const usersAtKill = last.filter((p) => p.comm.startsWith('fpsim-user')).length;
  const tKill = Date.now();
  atMs = tKill - t0;
  if (!finishedFirst) {
    try {
      if (target === 'launcher') process.kill(child.pid!, signal);
      else if (target === 'group') process.kill(-child.pid!, signal);
      else {
        const node = last.find((p) => p.cmd.includes('bin/fpsim.js'));
        if (node) process.kill(node.pid, signal);
        else process.kill(child.pid!, signal); // not started yet: the launcher is all there is
      }
    } catch {
      // already gone
    }
  }
  // every process of the run gone (bounded wait)
  let goneMs = -1;
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    const ps = markedProcesses(marker);
    for (const p of ps) {
      if (p.comm.startsWith('fpsim-fuse-help')) helpers.add(p.pid);
      if (p.mntns && p.mntns !== hostNs) namespaces.add(p.mntns);
    }
    if (ps.length === 0) {
      goneMs = Date.now() - tKill;
      break;
    }
    await sleep(25);
  }
  await Promise.race([exited, sleep(2_000)]);
  const processes = markedProcesses(marker).map((p) => `${p.pid} ${p.comm}: ${p.cmd.slice(0, 80)}`);
  const leftovers = { processes, namespaces: processesInNamespaces(namespaces), mounts: hostMountsOf(helpers), dirs: dirsOf(helpers) };
  // if anything is left, end it so the next trial starts clean (and say so in the result)
  for (const p of markedProcesses(marker)) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const ok = !leftovers.processes.length && !leftovers.namespaces.length && !leftovers.mounts.length && !leftovers.dirs.length;
  return { target, signal, atMs, helpersAtKill, helpersSeen: helpers.size, usersAtKill, finishedFirst, goneMs, exit, leftovers, ok };
}
