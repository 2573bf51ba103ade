// The oracle's comparison, as pure functions over plain data (no kernel needed, so it is
// tested on canned runs): what a user and a server can observe of one scenario, normalized
// the same way on both sides, compared row by row, printed as a conformance table.
import { constants } from 'node:os';
import { ERRNO } from '../sim/kernel/lib/errno.ts';

/**
 * Requests the model does not model, or models as unordered housekeeping: a real kernel sends
 * them at times of its own choosing (xattr probes, INTERRUPT for a killed waiter). They are
 * dropped from the compared request lists, and listed next to them. (FORGET, BATCH_FORGET and
 * the directory requests are compared: the model sends them when the kernel does.)
 */
export const IGNORED_REQUESTS: ReadonlySet<string> = new Set(['LISTXATTR', 'STATX', 'INTERRUPT', 'ACCESS', 'DESTROY']);

export interface NormalizedRequests {
  /** the requests compared, in order */
  kept: string[];
  /** the ones dropped, with how often each came */
  ignored: Record<string, number>;
}

export function normalizeRequests(seen: readonly string[]): NormalizedRequests {
  const kept: string[] = [];
  const ignored: Record<string, number> = {};
  for (const op of seen) {
    if (IGNORED_REQUESTS.has(op)) ignored[op] = (ignored[op] ?? 0) + 1;
    else kept.push(op);
  }
  return { kept, ignored };
}

/**
 * A BATCH_FORGET as the FORGETs it carries, in its order ("n0 BATCH_FORGET count=2 [n2x1 n3x3]"
 * becomes "n2 FORGET nlookup=1", "n3 FORGET nlookup=3"): whether the kernel batches forgets
 * depends on how far the server lags behind its evictions (fuse_read_forget), not on the
 * program, so both sides are compared forget by forget. seen and log are parallel.
 */
export function expandBatchForgets(seen: readonly string[], log: readonly string[]): { seen: string[]; log: string[] } {
  const out = { seen: [] as string[], log: [] as string[] };
  seen.forEach((op, i) => {
    const line = log[i] ?? '';
    const m = op === 'BATCH_FORGET' ? /\[([^\]]*)\]/.exec(line) : null;
    if (!m) {
      out.seen.push(op);
      out.log.push(line);
      return;
    }
    for (const one of (m[1] ?? '').split(' ').filter(Boolean)) {
      const f = /^n(\d+)x(\d+)$/.exec(one);
      out.seen.push('FORGET');
      out.log.push(f ? `n${f[1]} FORGET nlookup=${f[2]}` : one);
    }
  });
  return out;
}

export function formatIgnored(ignored: Record<string, number>): string {
  return Object.entries(ignored)
    .map(([op, n]) => (n > 1 ? `${op}x${n}` : op))
    .join(' ');
}

const errnoByNumber = new Map<number, string>();
for (const [name, n] of Object.entries(ERRNO)) errnoByNumber.set(n, name);
for (const [name, n] of Object.entries(constants.errno)) if (!errnoByNumber.has(n)) errnoByNumber.set(n, name);

/** The model's name for errno n (EOPNOTSUPP, not its alias ENOTSUP), else the system's. */
export function errnoNameOf(n: number): string {
  return errnoByNumber.get(Math.abs(n)) ?? `E#${Math.abs(n)}`;
}

/** Errno names both sides spell differently for one number (ENOTSUP is EOPNOTSUPP). */
export function canonicalErrno(name: string): string {
  const n = (ERRNO as Record<string, number>)[name] ?? (constants.errno as Record<string, number>)[name];
  return n === undefined ? name : errnoNameOf(n);
}

/** How an op's result is compared: its value, or only success (fds and mapping ids differ). */
export type ResultKind = 'value' | 'ok' | 'data' | 'value+data';

/** Which ops' return values are numbers that differ between the model and a real process. */
export function resultKind(op: string): ResultKind {
  // fds, mapping ids: numbers of each side's own choosing
  if (op === 'open' || op === 'mmap' || op === 'open_dev_fuse' || op === 'socket' || op === 'pipe') return 'ok';
  if (op === 'read' || op === 'mread') return 'data';
  if (op === 'lock') return 'value+data'; // F_GETLK reports the lock it found
  if (op === 'getdents') return 'value+data'; // how many entries, and their names
  if (op === 'readlink') return 'value+data'; // the target's length, and the target
  if (op === 'opendir') return 'ok'; // an fd
  return 'value';
}

/**
 * One op's outcome as both sides print it: "ok" for an fd or a mapping, "5 \"hello\"" for a
 * read, the number otherwise (with its data when it has some: F_GETLK's lock), or the errno
 * name.
 */
export function normalizeResult(op: string, ret: number | string, data?: string): string {
  if (typeof ret === 'string') return canonicalErrno(ret);
  if (ret < 0) return errnoNameOf(ret);
  switch (resultKind(op)) {
    case 'ok':
      return 'ok';
    case 'data':
      return `${ret} ${JSON.stringify(data ?? '')}`;
    case 'value':
      return String(ret);
    case 'value+data':
      return data === undefined ? String(ret) : `${ret} ${JSON.stringify(data)}`;
  }
}

export interface Row {
  scenario: string;
  observable: string;
  model: string;
  kernel: string;
  /** null: not compared (skipped) */
  agree: boolean | null;
  /** requests dropped as unmodelled, a skip reason, ... */
  note?: string;
}

export function row(scenario: string, observable: string, model: string, kernel: string, note?: string): Row {
  const r: Row = { scenario, observable, model, kernel, agree: model === kernel };
  if (note) r.note = note;
  return r;
}

export function skippedRow(scenario: string, reason: string): Row {
  return { scenario, observable: '(scenario)', model: '', kernel: '', agree: null, note: `skipped: ${reason}` };
}

export interface Summary {
  scenarios: number;
  run: number;
  skipped: number;
  observables: number;
  agreements: number;
  disagreements: number;
  /** scenarios with at least one disagreement */
  failing: string[];
}

export function summarize(rows: readonly Row[]): Summary {
  const names = [...new Set(rows.map((r) => r.scenario))];
  const skipped = names.filter((n) => rows.filter((r) => r.scenario === n).every((r) => r.agree === null));
  const compared = rows.filter((r) => r.agree !== null);
  const failing = [...new Set(compared.filter((r) => !r.agree).map((r) => r.scenario))];
  return {
    scenarios: names.length,
    run: names.length - skipped.length,
    skipped: skipped.length,
    observables: compared.length,
    agreements: compared.filter((r) => r.agree).length,
    disagreements: compared.filter((r) => !r.agree).length,
    failing,
  };
}

export interface TableOptions {
  /** print only rows that disagree (and skipped scenarios) */
  onlyProblems?: boolean;
  /** cut cells to this width (0: never) */
  width?: number;
  color?: boolean;
}

/** The conformance table: scenario | observable | model | kernel | agree? */
export function formatTable(rows: readonly Row[], opts: TableOptions = {}): string[] {
  const width = opts.width ?? 48;
  const cut = (s: string) => (width > 0 && s.length > width ? `${s.slice(0, width - 1)}…` : s);
  const paint = (code: number, s: string) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const shown = opts.onlyProblems ? rows.filter((r) => r.agree !== true) : rows;
  const cells = shown.map((r) => [
    r.scenario,
    cut(r.observable),
    cut(r.model),
    cut(r.kernel),
    r.agree === null ? 'skip' : r.agree ? 'yes' : 'NO',
    r.note ?? '',
  ]);
  const head = ['scenario', 'observable', 'model', 'kernel', 'agree?', 'note'];
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => (i === c.length - 1 ? x : x.padEnd(w[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(head), line(w.map((n) => '-'.repeat(Math.min(n, 60))))];
  let last = '';
  for (const c of cells) {
    const shownName = c[0] === last ? '' : c[0]!;
    last = c[0]!;
    const text = line([shownName, ...c.slice(1)]);
    out.push(c[4] === 'NO' ? paint(31, text) : c[4] === 'skip' ? paint(2, text) : text);
  }
  return out;
}

export function formatSummary(s: Summary): string {
  return (
    `${s.scenarios} scenarios: ${s.run} run, ${s.skipped} skipped; ` +
    `${s.observables} observables, ${s.agreements} agree, ${s.disagreements} disagree` +
    (s.failing.length ? ` (in ${s.failing.join(', ')})` : '')
  );
}
