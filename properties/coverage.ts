// Coverage of a property campaign: which ops ran and what they returned, which errnos the
// kernel functions produced on the way (internal ones included: EBUSY and ETXTBSY never reach
// open(2), they become EIO), which kernel functions and steps were reached.
import type { ScenarioResult } from '../sim/scenario/run-scenario.ts';
import type { Scenario } from '../sim/scenario/schema.ts';
import { errnoName } from '../sim/kernel/lib/errno.ts';

/** The errnos spec section 3 names: a campaign should see every one of them. */
export const SPEC_ERRNOS = ['EPERM', 'EINVAL', 'EBADF', 'EOPNOTSUPP', 'ELOOP', 'ENOENT', 'EBUSY', 'ETXTBSY', 'EIO', 'ENODEV'] as const;

export interface Coverage {
  runs: number;
  /** op name -> { ok: successes, errnos: errno -> count } */
  ops: Record<string, { ok: number; errnos: Record<string, number> }>;
  /** errno -> times an op returned it to its caller (user-visible) */
  returned: Record<string, number>;
  /** errno -> times a kernel function produced it inside an op (seen in the step records) */
  internal: Record<string, number>;
  /** kernel (and server) functions entered, with how many steps ran in each */
  functions: Record<string, number>;
  /** "function:label" steps reached */
  labels: Record<string, number>;
  /** violation kind -> count (mutant runs) */
  violations: Record<string, number>;
}

export function emptyCoverage(): Coverage {
  return { runs: 0, ops: {}, returned: {}, internal: {}, functions: {}, labels: {}, violations: {} };
}

const bump = (r: Record<string, number>, k: string, n = 1) => {
  r[k] = (r[k] ?? 0) + n;
};

/** Notes in which the model names an errno a kernel function returned inside an op. */
const INTERNAL_PATTERNS: RegExp[] = [
  /failed to open file in requested io mode \(err (-\d+)\)/, // fuse_file_io_open: EBUSY, ETXTBSY, EINVAL, ENOENT, ...
  /BACKING_OPEN failed \((-\d+)\)/, // a server's own ioctl (passthrough_hp)
  /write to \/dev\/fuse failed \((-\d+)\)/,
];

/** Add one run to the coverage (the run must have been recorded for the internal errnos). */
export function addRun(cov: Coverage, s: Scenario, r: ScenarioResult) {
  cov.runs++;
  for (const t of s.tasks) {
    const task = r.world.tasks.find((x) => x.name === t.name);
    if (!task) continue;
    for (const res of task.results) {
      const name = t.ops[res.op]?.op ?? res.name;
      const o = (cov.ops[name] ??= { ok: 0, errnos: {} });
      if (typeof res.ret === 'number') o.ok++;
      else {
        bump(o.errnos, res.ret);
        bump(cov.returned, res.ret);
      }
    }
  }
  for (const { rec } of r.steps) {
    for (const w of rec.where) {
      bump(cov.labels, w);
      const fn = w.split(':')[0]!;
      if (!w.includes(':') || fn === w) bump(cov.functions, fn);
    }
    for (const e of rec.effects) {
      if (e.k !== 'note') continue;
      for (const re of INTERNAL_PATTERNS) {
        const m = re.exec(e.text);
        if (m) bump(cov.internal, errnoName(Number(m[1])));
      }
    }
  }
  for (const v of r.violations) bump(cov.violations, v.kind);
}

/** The spec's errnos, each with its user-visible and internal counts. */
export function specErrnoTable(cov: Coverage): { errno: string; returned: number; internal: number; seen: boolean }[] {
  return SPEC_ERRNOS.map((e) => {
    const returned = cov.returned[e] ?? 0;
    const internal = cov.internal[e] ?? 0;
    return { errno: e, returned, internal, seen: returned + internal > 0 };
  });
}
