// Printing a run for people: each step (task, kernel functions, what changed) and the final
// state (connections, id maps, inodes, backing objects, RCU).
import type { StepRecord } from '../sim/kernel/effects.ts';
import type { World, FuseBackingObj } from '../sim/kernel/state.ts';
import type { ScenarioResult } from '../sim/scenario/run-scenario.ts';
import { idr_ids } from '../sim/kernel/lib/idr.ts';
import { wantColor } from './progress.ts';
import type { ExploreResult } from '../sim/explore/explore.ts';

const useColor = wantColor(process.stdout);
const paint = (code: number) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
export const bold = paint(1);
export const dim = paint(2);
export const red = paint(31);
export const green = paint(32);
export const yellow = paint(33);
export const cyan = paint(36);

export function formatStep(rec: StepRecord, phase: string): string[] {
  const head = `${dim(`[${String(rec.step).padStart(3)}]`)} ${phase === 'run' ? '' : dim(`${phase} `)}${cyan(rec.task)}  ${rec.where.join(dim(' > '))}`;
  const lines = [head];
  for (const e of rec.effects) {
    const text = e.text.startsWith('VIOLATION') ? red(bold(e.text)) : e.k === 'note' ? dim(e.text) : e.text;
    lines.push(`        ${text}`);
  }
  return lines;
}

export function formatState(w: World): string[] {
  const out: string[] = [];
  for (const sb of w.sbs) {
    if (sb.kind !== 'fuse') {
      out.push(`/${sb.name} (${sb.kind}${sb.mounted ? '' : ', unmounted'}) s_stack_depth=${sb.s_stack_depth}`);
      continue;
    }
    const fc = w.heap[sb.conn];
    if (!fc || fc.type !== 'fuse_conn') {
      out.push(`/${sb.name} (fuse, not mounted)`);
      continue;
    }
    out.push(
      `/${sb.name} (fuse) fuse_conn#${fc.ptr}${fc.life === 'live' ? '' : ` [${fc.life}]`}: passthrough=${fc.passthrough ? 1 : 0} max_stack_depth=${fc.maxStackDepth} s_stack_depth=${sb.s_stack_depth} connected=${fc.connected ? 1 : 0}`,
    );
    const ids = idr_ids(fc.idr);
    out.push(`    backing_files_map: ${ids.length ? ids.map((id) => `${id} -> fuse_backing#${fc.idr.entries[id]}`).join(', ') : '(empty)'}`);
    for (const [name, p] of Object.entries(sb.inodes)) {
      const fi = w.heap[p];
      if (fi?.type !== 'fuse_inode') continue;
      out.push(`    inode ${name} (fuse_inode#${fi.ptr}): fb=${fi.fb ? `fuse_backing#${fi.fb}` : 'NULL'} iocachectr=${fi.iocachectr} size=${fi.size}`);
    }
  }
  const fbs = Object.values(w.heap).filter((o): o is FuseBackingObj => o.type === 'fuse_backing');
  for (const fb of fbs) out.push(`fuse_backing#${fb.ptr}: count=${fb.count} file=file#${fb.file} [${fb.life}]`);
  const readers = Object.keys(w.rcu.readers);
  out.push(
    `RCU: grace periods completed ${w.rcu.completed}${w.rcu.current ? `, #${w.rcu.current.gp} in progress` : ''}; readers: ${readers.length ? readers.join(', ') : 'none'}; callbacks pending: ${w.rcu.callbacks.length}`,
  );
  return out;
}

export function formatVerdict(r: ScenarioResult): string[] {
  const out: string[] = [];
  for (const o of r.outcomes) {
    if (o.expected === null && o.ok) continue;
    const mark = o.ok ? green('ok ') : red('BAD');
    out.push(`${mark} ${o.task}[${o.op}] ${o.what}: ${o.actual}${o.expected !== null ? dim(` (expected ${o.expected})`) : ''}`);
  }
  for (const v of r.violations) {
    const expected = !r.unexpectedViolations.includes(v);
    out.push(`${expected ? yellow('expected violation') : red(bold('VIOLATION'))} ${v.kind} at step ${v.step} in ${v.task}${v.fn ? ` (${v.fn})` : ''}: ${v.message}`);
  }
  for (const k of r.missingViolations) out.push(`${red('MISSING')} expected a ${k} violation, none was reported`);
  for (const p of r.serverProblems) out.push(`${red('BAD')} ${p}`);
  out.push(r.passed ? green(bold(`PASS ${r.name}`)) : red(bold(`FAIL ${r.name}`)));
  return out;
}

/** What symmetry reduction did: the groups, and how many states the representatives stand for. */
export function symmetryLine(y: ExploreResult['symmetry'] | undefined, states: number): string {
  if (!y || !y.on) return `symmetry: ${y?.why ?? 'not recorded'}`;
  const groups = y.groups.map((g) => g.join(' ~ ')).join('; ');
  const rep = y.represented === null ? 'how many states they stand for is not known (the shards overlapped)' : `they stand for ${y.represented} states (reduction ${(y.represented / Math.max(1, states)).toFixed(2)}x)`;
  return `symmetry: ${groups} interchangeable (${y.order} renamings); each state explored is one of its orbit; ${rep}`;
}
