// Random programs against a real FUSE server under the model (`fpsim server`): each run starts
// the server afresh on a fresh temporary source tree (stateless re-execution), mounts it in
// the model as /fuse (its backing files stand on the plain filesystem /host), runs a program
// of several user tasks under a random interleaving with every invariant checked after every
// step (runScenario: the same step function, checkers and teardown as every other driver),
// and judges it: the model's violations, the server's failures (crash, hang, refused reply)
// and its mistakes in kernel terms (sim/server/external.ts findings). fast-check draws the
// programs and shrinks a failing one, program and interleaving both.
//
// What the programs do: open (r, rw, w) of the tree's two files and of two names the tree
// does not have, create (O_CREAT, with or without O_EXCL), read and write at an offset
// (pread/pwrite), fstat, stat, ftruncate, fsync, unlink, a listing of the root (opendir,
// getdents, close), rename, mkdir and rmdir, and close: the requests a real server meets first
// (LOOKUP, OPEN, CREATE with FOPEN_PASSTHROUGH and its BACKING_OPEN, READ/WRITE when not
// passed through, GETATTR, SETATTR, FSYNC, UNLINK, RENAME, MKDIR, RMDIR,
// OPENDIR/READDIR(PLUS)/RELEASEDIR, FLUSH, RELEASE, FORGET).
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ScenarioSchema, type Scenario, type ScenarioInput } from '../sim/scenario/schema.ts';
import { runScenario, type ScenarioResult } from '../sim/scenario/run-scenario.ts';
import type { Scheduler } from '../sim/scenario/run.ts';
import { attachExternalPeer, detachExternalPeer, externalState } from '../sim/server/external.ts';
import { serverOf } from '../sim/server/state.ts';
import { errnoName } from '../sim/kernel/lib/errno.ts';
import type { Trace } from '../sim/trace/format.ts';
import { traceOf } from '../sim/trace/write.ts';
import { LivePeer } from './peer.ts';
import { runOnRealKernel, type RealOp } from './real-kernel.ts';
import type { Task, World } from '../sim/kernel/state.ts';
import { SyncServer } from './sync.ts';

export const FUSE_FS = 'fuse';
export const HOST_FS = 'host';
/** the server's tree: what each run's fresh source directory holds */
export const TREE: Record<string, string> = { f0: 'hello, real server\n', f1: 'second file of the tree\n' };
/** the names a program uses: the tree's two files, and two it creates (or fails to open) */
export const NAMES = ['f0', 'f1', 'g0', 'g1'];
/** the directory a program makes and removes (mkdir, rmdir) */
const DIR = 'd0';
const DATA = ['abc', 'XYZXYZ', 'more data here', '0123456789'];

export type ProgOp =
  | { k: 'open'; file: number; mode: 'r' | 'rw' | 'w' }
  | { k: 'read'; fd: number; off: number; n: number }
  | { k: 'write'; fd: number; off: number; data: number }
  | { k: 'fstat'; fd: number }
  | { k: 'stat'; file: number }
  | { k: 'ftruncate'; fd: number; size: number }
  | { k: 'close'; fd: number }
  | { k: 'create'; file: number; excl: boolean }
  | { k: 'fsync'; fd: number }
  | { k: 'unlink'; file: number }
  | { k: 'readdir' }
  | { k: 'rename'; file: number; to: number }
  | { k: 'mkdir' }
  | { k: 'rmdir' };

/** A program: each user task's ops, and the interleaving (an index into the runnable tasks per step). */
export interface ServerProgram {
  tasks: ProgOp[][];
  sched: number[];
}

const opArb: fc.Arbitrary<ProgOp> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('open' as const), file: fc.nat(NAMES.length - 1), mode: fc.constantFrom('r' as const, 'rw' as const, 'w' as const) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('read' as const), fd: fc.nat(3), off: fc.nat(24), n: fc.constantFrom(4, 16, 4096) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant('write' as const), fd: fc.nat(3), off: fc.nat(24), data: fc.nat(DATA.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('fstat' as const), fd: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('stat' as const), file: fc.nat(NAMES.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('ftruncate' as const), fd: fc.nat(3), size: fc.nat(30) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('close' as const), fd: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('create' as const), file: fc.nat(NAMES.length - 1), excl: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('fsync' as const), fd: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('unlink' as const), file: fc.nat(NAMES.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('readdir' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rename' as const), file: fc.nat(NAMES.length - 1), to: fc.nat(NAMES.length - 1) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('mkdir' as const) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('rmdir' as const) }) },
);

/** ≥ minTasks user tasks of 1..maxOps ops each, and an interleaving. */
export function programArb(minTasks = 3, maxTasks = 4, maxOps = 6): fc.Arbitrary<ServerProgram> {
  return fc.record({
    tasks: fc.array(fc.array(opArb, { minLength: 1, maxLength: maxOps }), { minLength: minTasks, maxLength: maxTasks }),
    sched: fc.array(fc.nat(7), { maxLength: 120 }),
  });
}

/** The program as a scenario: /host (plain, the server's backing fs), /fuse (the real server). */
export function toScenario(p: ServerProgram, command: string): Scenario {
  const tasks = p.tasks.map((ops, ti) => {
    const opens = ops.filter((o) => o.k === 'open' || o.k === 'create').length;
    let k = 0;
    let dirs = 0;
    const out: Record<string, unknown>[] = [];
    const at = (file: number) => `/${FUSE_FS}/${NAMES[file % NAMES.length]}`;
    for (const o of ops) {
      const fd = (i: number) => `$fd${i % Math.max(1, opens)}`;
      switch (o.k) {
        case 'open':
          out.push({ op: 'open', path: at(o.file), mode: o.mode, save: `fd${k++}` });
          break;
        case 'create':
          out.push({ op: 'open', path: at(o.file), mode: 'rw', flags: o.excl ? ['O_CREAT', 'O_EXCL'] : ['O_CREAT'], perm: 0o644, save: `fd${k++}` });
          break;
        case 'stat':
          out.push({ op: 'stat', path: at(o.file) });
          break;
        case 'unlink':
          out.push({ op: 'unlink', path: at(o.file) });
          break;
        case 'rename':
          out.push({ op: 'rename', path: at(o.file), to: at(o.to) });
          break;
        case 'mkdir':
        case 'rmdir':
          out.push({ op: o.k, path: `/${FUSE_FS}/${DIR}` });
          break;
        case 'readdir': {
          const d = `dir${dirs++}`;
          out.push({ op: 'opendir', path: `/${FUSE_FS}`, save: d }, { op: 'getdents', fd: `$${d}` }, { op: 'close', fd: `$${d}` });
          break;
        }
        default:
          if (opens === 0) {
            out.push({ op: 'stat', path: `/${FUSE_FS}/f${ti % 2}` });
            break;
          }
          if (o.k === 'read') out.push({ op: 'read', fd: fd(o.fd), offset: o.off, n: o.n });
          else if (o.k === 'write') out.push({ op: 'write', fd: fd(o.fd), offset: o.off, data: DATA[o.data]! });
          else if (o.k === 'fstat') out.push({ op: 'fstat', fd: fd(o.fd) });
          else if (o.k === 'ftruncate') out.push({ op: 'ftruncate', fd: fd(o.fd), size: o.size });
          else if (o.k === 'fsync') out.push({ op: 'fsync', fd: fd(o.fd) });
          else out.push({ op: 'close', fd: fd(o.fd) });
      }
    }
    return { name: `t${ti}`, ops: out };
  });
  const input: ScenarioInput = {
    name: 'real-server program',
    description: `random program against a real server: ${command}`,
    kernel: '6.18',
    filesystems: [
      { name: HOST_FS, type: 'plain', files: {} },
      { name: FUSE_FS, type: 'fuse', server: { files: {}, external: { command, host: HOST_FS } } },
    ],
    tasks,
  } as unknown as ScenarioInput;
  return ScenarioSchema.parse(input);
}

export interface ServerConfig {
  /** the server's argv: "{src}" becomes the run's source directory, "{dev}" its device */
  argv: string[];
  timeoutMs: number;
  quietMs: number;
  /** where the runs' source trees are made (default: the system's temporary directory) */
  tmpRoot?: string;
  /** also run each program on this machine's kernel with the same binary and compare (bridge/real-kernel.ts) */
  realKernel?: boolean;
}

export interface Failure {
  kind: string;
  message: string;
}

export interface RunOutcome {
  failures: Failure[];
  result: ScenarioResult | null;
  picks: string[];
  /** the trace of the run (record: true): its scenario holds the server's transcript */
  trace?: Trace;
  /** what each user task's syscalls returned: "t0: open 3, read 19 \"hello\", close 0" */
  results: string[];
  /** with realKernel: the ops whose results were compared with the real kernel's */
  compared?: number;
  /** with realKernel: the ops not compared, from the first that overlapped a change of its name (comparableUntil) */
  unordered?: number;
}

/** The user ops in the order they finished (looked at before every pick, and at the end). */
function completions(w: World, d: Done, now: number) {
  for (const t of w.tasks) {
    if (t.role !== 'user') continue;
    const had = d.seen.get(t.name) ?? 0;
    for (let k = had; k < t.results.length; k++) {
      d.order.push({ task: t.name, index: t.results[k]!.op });
      d.finished.set(`${t.name}#${t.results[k]!.op}`, now);
    }
    d.seen.set(t.name, t.results.length);
  }
}

/** What the scheduler keeps of a run for the real-kernel comparison. */
interface Done {
  seen: Map<string, number>;
  order: RealOp[];
  serverFirst?: boolean;
  /** hold back ops the real kernel could not be made to order (exclusive): the program's scenario */
  exclusive?: Scenario | undefined;
  /** "task#index" -> the pick at which the op took its first step, and the pick before which it had finished */
  started: Map<string, number>;
  finished: Map<string, number>;
}

function interleaving(sched: readonly number[], picks: string[], order?: Done): Scheduler {
  let i = 0;
  return (w, r) => {
    if (order) completions(w, order, picks.length);
    const eager = order?.serverFirst ? r.find((t) => t.role === 'daemon' && t.proc.startsWith('server:')) : undefined;
    if (order?.exclusive) r = exclusive(w, r, order.exclusive);
    const name = eager ? eager.name : i < sched.length ? r[sched[i++]! % r.length]!.name : r[0]!.name;
    if (order) {
      const t = w.tasks.find((x) => x.name === name);
      if (t && t.role === 'user' && t.frames.length === 0 && !t.done) order.started.set(`${name}#${t.next}`, picks.length);
    }
    picks.push(name);
    return name;
  };
}

/** Whether an op changes the directory's names or reads all of them (see exclusive). */
function namespaceOp(op: PathOp): boolean {
  return changesNames(op) || op.op === 'getdents';
}

/**
 * For a comparison with the real kernel: the runnable tasks, less those that would start an
 * op while it cannot be ordered against another. An op that changes the directory's names
 * (unlink, open(O_CREAT)) or lists them (getdents) starts only when no other user op is in
 * flight, and no user op starts while it is. The real kernel runs the ops one at a time in the
 * order the model finished them, which is then an order the model's run could have taken.
 * Everything else still interleaves freely; without --real-kernel nothing is held back.
 */
function exclusive(w: World, r: Task[], s: Scenario): Task[] {
  const opOf = (t: Task) => s.tasks.find((x) => x.name === t.name)?.ops[t.next] as PathOp | undefined;
  const users = w.tasks.filter((t) => t.role === 'user');
  const busy = users.filter((t) => t.frames.length > 0);
  const nsBusy = busy.some((t) => { const o = opOf(t); return o !== undefined && namespaceOp(o); });
  const ok = r.filter((t) => {
    if (t.role !== 'user' || t.frames.length > 0 || t.done) return true;
    const next = opOf(t);
    if (!next) return true;
    if (nsBusy) return false;
    return !namespaceOp(next) || busy.length === 0;
  });
  return ok.length ? ok : r;
}

type PathOp = { op: string; path?: string; to?: string; flags?: string[] };

/** The names an op of a program walks to (its paths' last parts), or reads all of (a listing: "*"). */
function namesOf(op: PathOp): string[] {
  if (op.op === 'getdents' || op.op === 'opendir') return ['*'];
  return [op.path, op.to].filter((p): p is string => p !== undefined).map((p) => p.slice(p.lastIndexOf('/') + 1));
}

/** Whether an op changes which names the directory has: unlink, rename, mkdir, rmdir, or an open that may create. */
function changesNames(op: PathOp): boolean {
  return ['unlink', 'rename', 'mkdir', 'rmdir'].includes(op.op) || (op.op === 'open' && (op.flags ?? []).includes('O_CREAT'));
}

/**
 * Where the real kernel can no longer follow the model's run: the real kernel runs the ops one
 * at a time in the order the model finished them, which is an order the model's run could have
 * taken only while no op that changes the directory's names overlapped in time with another op
 * on the same name (or a listing). An open(O_CREAT) that looked its name up before an unlink
 * finished and opened afterwards found the old file in the model, and creates a new one when
 * run after the unlink. The comparison stops at the first op (in the order finished) of such
 * a pair; the ops after it are run but not compared.
 */
function comparableUntil(s: Scenario, order: RealOp[], started: Map<string, number>, finishedAt: Map<string, number>): number {
  const op = (x: RealOp) => s.tasks.find((t) => t.name === x.task)!.ops[x.index] as PathOp;
  const span = (x: RealOp) => [started.get(`${x.task}#${x.index}`) ?? 0, finishedAt.get(`${x.task}#${x.index}`) ?? Infinity] as const;
  const clash = (a: RealOp, b: RealOp) => {
    if (a.task === b.task) return false;
    const [as, ae] = span(a);
    const [bs, be] = span(b);
    if (!(as < be && bs < ae)) return false;
    const [oa, ob] = [op(a), op(b)];
    if (!changesNames(oa) && !changesNames(ob)) return false;
    const na = namesOf(oa);
    const nb = namesOf(ob);
    return na.some((n) => n === '*' || nb.includes(n) || nb.includes('*'));
  };
  for (let i = 0; i < order.length; i++) for (let j = 0; j < order.length; j++) if (i !== j && clash(order[i]!, order[j]!)) return i;
  return order.length;
}

/**
 * One run: a fresh source tree and server, the program under its interleaving, judged.
 * serverFirst: the server's task runs whenever it can (as on a real kernel, where the server
 * thread goes on right after its write(2) while the task it woke still has to be scheduled).
 */
export function runServerProgram(p: ServerProgram, cfg: ServerConfig, o: { record?: boolean; serverFirst?: boolean } = {}): RunOutcome {
  const command = cfg.argv.join(' ');
  const scenario = toScenario(p, command);
  const src = mkdtempSync(join(cfg.tmpRoot ?? tmpdir(), 'fpsim-srv-'));
  let server: SyncServer | null = null;
  const picks: string[] = [];
  try {
    for (const [n, d] of Object.entries(TREE)) writeFileSync(join(src, n), d);
    server = SyncServer.start(cfg.argv.map((a) => a.replaceAll('{src}', src)), { orphanTree: src });
    attachExternalPeer(FUSE_FS, new LivePeer(server, { timeoutMs: cfg.timeoutMs, quietMs: cfg.quietMs }));
    const schedule: string[] = [];
    const done: Done = { seen: new Map(), order: [], serverFirst: o.serverFirst ?? false, exclusive: cfg.realKernel ? scenario : undefined, started: new Map(), finished: new Map() };
    const sched = interleaving(p.sched, picks, done);
    const r = runScenario(scenario, { record: o.record ?? false, scheduler: sched, ...(o.record ? { onPick: (t: string) => schedule.push(t) } : {}) });
    const failures: Failure[] = r.violations.map((v) => ({ kind: v.kind, message: `${v.task ? `${v.task}: ` : ''}${v.message}` }));
    // the server's failures and mistakes are violations of kind "server" (sim/server/external.ts)
    const x = externalState(serverOf(r.world, FUSE_FS));
    completions(r.world, done, picks.length);
    let compared: number | undefined;
    let unordered: number | undefined;
    if (cfg.realKernel) {
      server.stop();
      // the model's tree is done with: gone now, not after the (long) real-kernel run, so a
      // kill during that run leaves nothing of the model's behind
      rmSync(src, { recursive: true, force: true });
      const c = compareWithRealKernel(scenario, r, cfg, done);
      failures.push(...c.failures);
      compared = c.compared;
      unordered = c.unordered;
    }
    const results = r.world.tasks
      .filter((t) => t.role === 'user')
      .map((t) => `${t.name}: ${t.results.map((x) => `${x.name} ${typeof x.ret === "number" && x.ret < 0 ? errnoName(x.ret) : x.ret}${x.data !== undefined ? ` ${JSON.stringify(x.data.length > 24 ? `${x.data.slice(0, 24)}...` : x.data)}` : ''}`).join(', ') || '(nothing finished)'}`);
    const out: RunOutcome = { failures, result: r, picks, results, ...(compared !== undefined ? { compared, unordered: unordered ?? 0 } : {}) };
    if (o.record) {
      // the trace's scenario carries the server's answers: replay and view need no server
      const traced = structuredClone(scenario);
      const fs = traced.filesystems.find((f) => f.name === FUSE_FS);
      if (fs && fs.type === 'fuse' && fs.server.external) fs.server.external.transcript = x.transcript;
      out.trace = traceOf(traced, r, schedule);
    }
    return out;
  } catch (e) {
    return { failures: [{ kind: 'crash', message: (e as Error).message }], result: null, picks, results: [] };
  } finally {
    detachExternalPeer(FUSE_FS);
    server?.stop();
    rmSync(src, { recursive: true, force: true });
  }
}

/** The model's results against the real kernel's, op by op; a disagreement is a failure. */
function compareWithRealKernel(s: Scenario, r: ScenarioResult, cfg: ServerConfig, done: Done): { failures: Failure[]; compared: number; unordered: number } {
  const order = done.order;
  const until = comparableUntil(s, order, done.started, done.finished);
  const real = runOnRealKernel(s, cfg.argv, order, { tree: TREE, fs: FUSE_FS, ...(cfg.tmpRoot ? { tmpRoot: cfg.tmpRoot } : {}), timeoutMs: cfg.timeoutMs });
  const out: Failure[] = real.errors.map((e) => ({ kind: 'real-kernel', message: e }));
  let compared = 0;
  for (const { task, index } of order.slice(0, until)) {
    const t = r.world.tasks.find((x) => x.name === task)!;
    const m = t.results.find((x) => x.op === index)!;
    const op = s.tasks.find((x) => x.name === task)!.ops[index]!;
    let model: { ret: number | string; data?: string } = { ret: (op.op === 'open' || op.op === 'opendir') && typeof m.ret === 'number' && m.ret >= 0 ? 'ok' : m.ret, ...(m.data !== undefined ? { data: m.data } : {}) };
    if (op.op === 'getdents' && typeof m.ret === 'number' && m.ret >= 0) {
      // the real side reads the directory through Node, which leaves out "." and ".."
      const names = (m.data ?? '').split(' ').filter((n) => n !== '' && n !== '.' && n !== '..');
      model = { ret: names.length, data: names.join(' ') };
    }
    const k = real.results[`${task}#${index}`];
    if (!k) continue;
    compared++;
    if (model.ret !== k.ret || (model.data ?? null) !== (k.data ?? null)) {
      out.push({ kind: 'real-kernel', message: `${task}[${index}] ${op.op}: the model returned ${JSON.stringify(model)}, the real kernel ${JSON.stringify(k)}` });
    }
  }
  return { failures: out, compared, unordered: order.length - until };
}

/** One program as lines a person reads. */
export function describeServerProgram(p: ServerProgram, command = 'server'): string[] {
  const s = toScenario(p, command);
  return s.tasks.map((t) => `${t.name}: ${t.ops.map((o) => JSON.stringify(o).replace(/"(\w+)":/g, '$1:')).join('; ')}`);
}

export interface CampaignResult {
  runs: number;
  seed: number;
  ms: number;
  /** with realKernel: ops compared with the real kernel over all runs (shrinking included) */
  compared: number;
  /** with realKernel: ops run on the real kernel but not compared (overlapping a change of their name) */
  unordered: number;
  failed: null | { program: ServerProgram; failures: Failure[]; picks: string[]; results: string[]; trace?: Trace; shrinks: number };
}

/**
 * fast-check over random programs; the first failure is shrunk and run once more, recorded.
 * A run is synchronous (the model's steps wait for the server); between runs the event loop
 * gets a turn, so a signal (Ctrl-C) stops the campaign there, with no server or tree left.
 */
export async function serverCampaign(cfg: ServerConfig, o: { runs: number; seed: number; minTasks?: number; serverFirst?: boolean; onRun?: (n: number) => void }): Promise<CampaignResult> {
  const t0 = Date.now();
  let n = 0;
  let compared = 0;
  let unordered = 0;
  const res = await fc.check(
    fc.asyncProperty(programArb(o.minTasks ?? 3), async (p) => {
      await new Promise((r) => setImmediate(r));
      n++;
      o.onRun?.(n);
      const r = runServerProgram(p, cfg, { serverFirst: o.serverFirst ?? false });
      compared += r.compared ?? 0;
      unordered += r.unordered ?? 0;
      return r.failures.length === 0;
    }),
    { numRuns: o.runs, seed: o.seed, endOnFailure: false },
  );
  if (!res.failed || !res.counterexample) return { runs: res.numRuns, seed: o.seed, ms: Date.now() - t0, compared, unordered, failed: null };
  const program = res.counterexample[0];
  const again = runServerProgram(program, cfg, { record: true, serverFirst: o.serverFirst ?? false });
  return {
    runs: res.numRuns,
    seed: o.seed,
    ms: Date.now() - t0,
    compared,
    unordered,
    failed: { program, failures: again.failures, picks: again.picks, results: again.results, ...(again.trace ? { trace: again.trace } : {}), shrinks: res.numShrinks },
  };
}
