// Differential testing: each scenario runs on the model (runScenario under a kernel profile)
// and on the real kernel (./real-run.ts), and what a user and a server can observe is
// compared: every op's result or errno, the bytes read, the backing ids returned, the
// requests that reached each server (unmodelled ones dropped, and listed), what stat shows
// (stat's result is st_size) and what ended up in the plain files.
import { runScenario } from '../sim/scenario/run-scenario.ts';
import type { Scheduler } from '../sim/scenario/run.ts';
import { describeOp } from '../sim/scenario/run-scenario.ts';
import type { Scenario } from '../sim/scenario/schema.ts';
import { availability } from './transport.ts';
import { serverStates } from '../sim/server/state.ts';
import { expandBatchForgets, formatIgnored, IGNORED_REQUESTS, normalizeRequests, normalizeResult, row, skippedRow, type Row } from './compare.ts';
import { opKey, runReal, type OrderEntry, type RealRun } from './real-run.ts';

/** Ops only the model can do; a scenario using one is skipped. */
const MODEL_ONLY_OPS: Record<string, string> = {
  drop_inode: 'drop_inode evicts one inode (the kernel has only the global drop_caches)',
  serve: 'a second session loop',
  signal:
    'a signal ends an interruptible wait, and the real side runs one op at a time: the op it would interrupt never returns by itself, so the harness would wait for it forever',
};
/** Ops not run on the real side and not compared: model-only checks and orderings. */
const NOT_COMPARED = new Set(['assert', 'wait']);
const USER_OPS = new Set(['open', 'read', 'write', 'splice_read', 'splice_write', 'mmap', 'munmap', 'close', 'stat', 'abort', 'mount', 'ftruncate', 'truncate', 'chmod', 'statfs', 'fsync', 'fdatasync', 'fallocate', 'lseek', 'copy_file_range', 'sendfile', 'fstat', 'sleep', 'mread', 'mwrite', 'flock', 'lock', 'mknod', 'mkdir', 'unlink', 'rmdir', 'rename', 'opendir', 'getdents', 'readlink', 'symlink', 'drop_caches']);
// a server thread's ops go through the helper that holds its /dev/fuse (an "ioctl" without a
// "dev" is issued on that device with a NULL argument); a forked child's through the helper's child
const SERVER_OPS = new Set(['open', 'backing_open', 'backing_close', 'ioctl', 'close', 'abort', 'mount', 'open_dev_fuse', 'clone', 'capset', 'socket', 'pipe', 'init_reply', 'umount']);

/** Why the real side cannot run this scenario, or null. */
export function realSkipReason(s: Scenario): string | null {
  if (Array.isArray(s.schedule)) return 'it uses a schedule list (the real side runs ops one at a time)';
  if (s.schedule === 'round-robin') return 'it uses the round-robin schedule (the real side runs ops one at a time)';
  if (s.mutants.length) return `it switches on mutants (${s.mutants.join(', ')})`;
  if (s.kernel === 'v15') return 'it pins the v15 patch kernel (a uapi no released kernel has)';
  const procOf = (t: Scenario['tasks'][number]) => t.proc ?? t.name;
  for (const t of s.tasks) {
    const proc = procOf(t);
    const forked = t.fork !== undefined;
    const server = proc.startsWith('server:') || forked;
    if (forked && !t.fork!.startsWith('server:')) return `process ${proc} forks from ${t.fork}: the real side forks only a FUSE server's process (its helper)`;
    if (forked && s.tasks.filter((x) => procOf(x) === proc).length > 1) return `the forked process ${proc} has several threads: the real side's child of the helper is one`;
    for (const op of t.ops) {
      if (NOT_COMPARED.has(op.op)) continue;
      if (MODEL_ONLY_OPS[op.op]) return `op ${op.op}: ${MODEL_ONLY_OPS[op.op]}`;
      if (server ? !SERVER_OPS.has(op.op) : !USER_OPS.has(op.op)) return `op ${op.op} in a ${server ? 'server' : 'user'} thread`;
      if (op.op === 'umount' && (!op.lazy || proc !== `server:${op.fs}`)) {
        return `op umount${op.lazy ? '' : ' (not lazy)'} of /${op.fs} by ${proc}: the real side unmounts only lazily, a FUSE mount by its own server (the helper's umount2(MNT_DETACH))`;
      }
      if (op.op === 'capset' && !forked) {
        return `op capset in a thread of ${proc}: the real side's server threads are one process (the helper) with its session loop, which would lose the capability too`;
      }
      if (op.op === 'init_reply' && forked) return 'op init_reply in a forked process: the real side holds the INIT reply in the server itself';
      for (const k of ['fd', 'fd_in', 'fd_out', 'in_fd', 'out_fd'] as const) {
        const v = (op as Record<string, unknown>)[k];
        if (typeof v === 'number' && !server) return `op ${op.op} names ${k} ${v} by number (fd numbers differ)`;
      }
    }
  }
  return null;
}

/**
 * Why the real side cannot follow the model's order, or null: one fpsim-user process runs a
 * scenario process's ops one at a time, so while one thread sleeps in a lock wait no other
 * thread of its process can run an op there (the model's threads can).
 */
export function threadRunsWhileSiblingSleeps(s: Scenario, order: readonly OrderEntry[]): string | null {
  const procOf = new Map(s.tasks.map((t) => [t.name, t.proc ?? t.name]));
  const asleep = new Map<string, string>(); // process -> the task asleep in it
  for (const e of order) {
    const [task, i] = e;
    const proc = procOf.get(task)!;
    if (e[2] === 'start') {
      asleep.set(proc, task);
      continue;
    }
    const sleeper = asleep.get(proc);
    if (sleeper === task) asleep.delete(proc);
    else if (sleeper !== undefined && !NOT_COMPARED.has(s.tasks.find((t) => t.name === task)!.ops[i]!.op)) {
      return `${task}[${i}] runs while ${sleeper}, a thread of the same process ${proc}, sleeps in a lock wait: the real side runs a process's ops one at a time (one fpsim-user per process)`;
    }
  }
  return null;
}

/**
 * What the model shows: the same shape as a real run, plus the order its ops finished in, with
 * the points where an op fell asleep in a lock wait (OrderEntry 'start').
 */
export interface ModelRun extends RealRun {
  order: OrderEntry[];
}

/**
 * The scheduler of a nondeterministic scenario's second model run: a FUSE server's session
 * loop whenever it can run (the server is always quick to read what the kernel queued), else
 * the first runnable task, as the sequential scheduler does.
 */
export const serverEager: Scheduler = (_w, r) => (r.find((t) => t.role === 'daemon' && t.name.startsWith('fuse-daemon:')) ?? r[0]!).name;

/** The model's run, stopped before teardown (as the real side is observed); scheduler: instead of the scenario's own. */
export function modelRun(s: Scenario, kernel: string, scheduler?: Scheduler): ModelRun {
  const order: OrderEntry[] = [];
  const finished = new Map<string, number>();
  const blocked: Record<string, boolean> = {};
  const r = runScenario({ ...s, teardown: false }, {
    kernel,
    record: false,
    check: false,
    ...(scheduler ? { scheduler } : {}),
    onStep: (rec, phase) => {
      if (phase !== 'run' || !s.tasks.some((t) => t.name === rec.task)) return;
      if (rec.done) {
        order.push([rec.task, rec.done.op]);
        finished.set(rec.task, (finished.get(rec.task) ?? 0) + 1);
      } else if (rec.blocked === 'file_lock') {
        // ops of a task finish in order: the one in progress is the next
        const op = finished.get(rec.task) ?? 0;
        const key = opKey(rec.task, op);
        if (!blocked[key]) order.push([rec.task, op, 'start']);
        blocked[key] = true;
      }
    },
  });
  const w = r.world;
  const out: ModelRun = { order, results: {}, seen: {}, log: {}, backingOpens: {}, kernelInit: {}, files: {}, blocked, errors: [] };
  for (const t of s.tasks) {
    const task = w.tasks.find((x) => x.name === t.name);
    for (const res of task?.results ?? []) out.results[opKey(t.name, res.op)] = { ret: res.ret, ...(res.data !== undefined ? { data: res.data } : {}) };
    // ops that never finished still run on the real side, last; but not an op asleep in a
    // lock wait (started already, it stays asleep there too), nor the ops after it
    const asleep = t.ops.findIndex((_, i) => blocked[opKey(t.name, i)] && !order.some((e) => e.length === 2 && e[0] === t.name && e[1] === i));
    t.ops.forEach((_, i) => {
      if (asleep >= 0 && i >= asleep) return;
      if (!order.some((e) => e.length === 2 && e[0] === t.name && e[1] === i)) order.push([t.name, i]);
    });
  }
  for (const srv of serverStates(w)) {
    out.seen[srv.fs] = [...srv.seen];
    out.log[srv.fs] = [...srv.log];
    out.backingOpens[srv.fs] = [...srv.backingOpens];
    out.kernelInit[srv.fs] = srv.kernelInit;
  }
  for (const sb of w.sbs) {
    if (sb.kind !== 'plain') continue;
    for (const [n, ino] of Object.entries(sb.files)) if (ino.kind === 'reg') out.files[`/${sb.name}/${n}`] = ino.data;
  }
  for (const v of w.violations) out.errors.push(`model violation ${v.kind}: ${v.message}`);
  return out;
}

/** The log lines of the requests compared (those normalizeRequests keeps), less the opcode's prefix nodeid of INIT. */
function keptLines(log: readonly string[]): string[] {
  return log.filter((l) => !IGNORED_REQUESTS.has(l.split(' ')[1] ?? ''));
}

/** The rows of one scenario: model and kernel side by side. */
export function compareRuns(s: Scenario, model: ModelRun, real: RealRun): Row[] {
  const rows: Row[] = [];
  const fmt = (op: string, r: { ret: number | string; data?: string } | undefined) =>
    r === undefined ? '(did not finish)' : typeof r.ret === 'string' && r.ret.startsWith('(') ? r.ret : normalizeResult(op, r.ret, r.data);
  for (const t of s.tasks) {
    t.ops.forEach((op, i) => {
      if (NOT_COMPARED.has(op.op)) return;
      const k = opKey(t.name, i);
      rows.push(row(s.name, `${t.name}[${i}] ${describeOp(op)}`, fmt(op.op, model.results[k]), fmt(op.op, real.results[k])));
      if (model.blocked?.[k]) rows.push(row(s.name, `${t.name}[${i}] sleeps in a lock wait`, 'yes', real.blocked?.[k] ? 'yes' : 'no'));
    });
  }
  for (const f of s.filesystems) {
    if (f.type !== 'fuse') continue;
    rows.push(row(s.name, `INIT the kernel sent /${f.name}`, model.kernelInit[f.name] || '(none)', real.kernelInit[f.name] || '(none)'));
    // a BATCH_FORGET counts as the FORGETs it carries (whether forgets batch is timing)
    const mx = expandBatchForgets(model.seen[f.name] ?? [], model.log[f.name] ?? []);
    const kx = expandBatchForgets(real.seen[f.name] ?? [], real.log[f.name] ?? []);
    const m = normalizeRequests(mx.seen);
    const k = normalizeRequests(kx.seen);
    const ignored = [
      Object.keys(m.ignored).length ? `model also: ${formatIgnored(m.ignored)}` : '',
      Object.keys(k.ignored).length ? `kernel also: ${formatIgnored(k.ignored)}` : '',
    ]
      .filter(Boolean)
      .join('; ');
    rows.push(row(s.name, `requests at /${f.name}`, m.kept.join(' '), k.kept.join(' '), ignored || undefined));
    // each request's fields, in order (when both sides sent the same opcodes: else the row
    // above already disagrees)
    if (m.kept.join(' ') === k.kept.join(' ')) {
      const ml = keptLines(mx.log);
      const kl = keptLines(kx.log);
      ml.forEach((line, i) => rows.push(row(s.name, `request ${i + 1} at /${f.name}`, line, kl[i] ?? '(none)')));
    }
    const mb = model.backingOpens[f.name] ?? [];
    const kb = real.backingOpens[f.name] ?? [];
    if (mb.length || kb.length) {
      const show = (ids: number[]) => ids.map((id) => (id < 0 ? normalizeResult('backing_open', id) : String(id))).join(' ');
      rows.push(row(s.name, `backing ids the server /${f.name} got`, show(mb), show(kb)));
    }
  }
  for (const f of s.filesystems) {
    if (f.type !== 'plain') continue;
    for (const [n, v] of Object.entries(f.files)) {
      if (typeof v !== 'string') continue;
      const path = `/${f.name}/${n}`;
      const m = model.files[path] ?? '(missing)';
      const k = real.files[path] ?? '(missing)';
      // unchanged files say nothing new: only a write (on either side) makes a row
      if (m !== v || k !== v) rows.push(row(s.name, `content of ${path}`, JSON.stringify(m), JSON.stringify(k)));
    }
  }
  for (const e of real.errors) rows.push({ scenario: s.name, observable: '(harness)', model: '', kernel: e, agree: false });
  return rows;
}

export interface OracleOptions {
  kernel: string;
  log?: (line: string) => void;
  /** told each scenario's rows as soon as it is done */
  onScenario?: (name: string, rows: Row[]) => void;
}

/** Every scenario against the model and the real kernel. */
export async function runOracle(scenarios: Scenario[], opts: OracleOptions): Promise<{ rows: Row[]; unavailable?: string }> {
  const avail = availability();
  const rows: Row[] = [];
  const emit = (name: string, rs: Row[]) => {
    rows.push(...rs);
    opts.onScenario?.(name, rs);
  };
  if (!avail.ok) {
    for (const s of scenarios) emit(s.name, [skippedRow(s.name, `no real kernel to compare with: ${avail.reason}`)]);
    return { rows, unavailable: avail.reason };
  }
  for (const s of scenarios) {
    const reason = realSkipReason(s);
    if (reason) {
      emit(s.name, [skippedRow(s.name, reason)]);
      continue;
    }
    let model: ModelRun;
    try {
      model = modelRun(s, opts.kernel);
    } catch (e) {
      emit(s.name, [skippedRow(s.name, `the model cannot run it under ${opts.kernel}: ${(e as Error).message}`)]);
      continue;
    }
    const threads = threadRunsWhileSiblingSleeps(s, model.order);
    if (threads) {
      emit(s.name, [skippedRow(s.name, threads)]);
      continue;
    }
    let real: RealRun;
    try {
      real = await runReal(s, { order: model.order, ...(opts.log ? { log: opts.log } : {}) });
    } catch (e) {
      emit(s.name, [{ scenario: s.name, observable: '(harness)', model: '', kernel: `error: ${(e as Error).message}`, agree: false }]);
      continue;
    }
    emit(s.name, s.nondeterministic ? compareNondeterministic(s, model, real, opts.kernel) : compareRuns(s, model, real));
  }
  return { rows };
}

/**
 * A scenario with a race the kernel resolves either way (its "nondeterministic" reason): the
 * kernel's run must match, as a whole, one of two model runs: the scenario's own schedule (user
 * tasks first) or the server-eager one (the FUSE servers first whenever they can run). The rows
 * of the one that matches are reported, each with a note saying which interleaving it is; if
 * neither matches, the scenario's own, with its disagreements.
 */
export function compareNondeterministic(s: Scenario, model: ModelRun, real: RealRun, kernel: string): Row[] {
  const own = compareRuns(s, model, real);
  const alt = compareRuns(s, modelRun(s, kernel, serverEager), real);
  const allAgree = (rows: Row[]) => rows.every((r) => r.agree !== false);
  // the rows the race decides: their model value differs between the two runs (or one lacks them)
  const value = (rows: Row[]) => new Map(rows.map((r) => [r.observable, r.model]));
  const [ov, av] = [value(own), value(alt)];
  const raced = (r: Row) => ov.get(r.observable) !== av.get(r.observable);
  const note = (rows: Row[], which: string) =>
    rows.map((r) => (raced(r) ? { ...r, note: [r.note, `${which}; nondeterministic: ${s.nondeterministic}`].filter(Boolean).join('; ') } : r));
  if (allAgree(own)) return note(own, 'as the model with user tasks first');
  if (allAgree(alt)) return note(alt, 'as the model with the servers first');
  return note(own, 'neither the model with user tasks first nor with the servers first');
}
