// Judging a run of a program: the violations the invariants and checkers recorded (less
// the one known kernel weakness, below), and what the syscalls returned (./outcomes.ts).
import type { World } from '../sim/kernel/state.ts';
import type { ScenarioResult } from '../sim/scenario/run-scenario.ts';
import { profileOf } from '../sim/kernel/profile.ts';
import type { Program } from './program.ts';
import type { Failure } from './failure.ts';
import { outcomeProblems } from './outcomes.ts';
import { FUSE_DEV_FOPS } from '../sim/kernel/fuse/dev.ts';
import { serverTask } from '../sim/scenario/build.ts';
import { dir_lock_holders } from '../sim/kernel/lib/in_lookup.ts';

/**
 * The objects a known kernel weakness leaks, not a model bug: a server that registers its own
 * /dev/fuse as a backing file (accepted by 6.9's read_iter/write_iter check) and never closes
 * the id makes a cycle, fc -> backing_files_map -> fb -> /dev/fuse file -> fc, since only the
 * device file's release drops the device's reference on fc, and only fc's last put frees the
 * map (scenarios/backing-open-dev-fuse-6.9-cycle-leaks.json). Everything held by such a
 * connection's map is stranded with it.
 */
export function devFuseCycle(w: World): Set<string> {
  const roots: number[] = [];
  for (const o of Object.values(w.heap)) {
    if (o.type !== 'fuse_backing' || o.life === 'freed') continue;
    const f = w.heap[o.file];
    if (!f || f.type !== 'file' || f.f_op !== FUSE_DEV_FOPS || f.private_data === 0) continue;
    const fc = w.heap[f.private_data];
    if (fc && fc.type === 'fuse_conn' && Object.values(fc.idr.entries).includes(o.ptr)) roots.push(fc.ptr);
  }
  return reachable(w, roots);
}

/** Everything reachable from `roots` through the objects' pointers (what they keep alive). */
function reachable(w: World, roots: number[]): Set<string> {
  const seen = new Set<number>();
  const todo = [...roots];
  const fuseConnOfSb = (sb: number) => {
    const s = w.sbs[sb];
    return s && s.kind === 'fuse' ? [s.conn, ...Object.values(s.inodes)] : [];
  };
  while (todo.length) {
    const p = todo.pop()!;
    if (p <= 0 || seen.has(p)) continue;
    const o = w.heap[p];
    if (!o) continue;
    seen.add(p);
    switch (o.type) {
      case 'fuse_conn':
        todo.push(...Object.values(o.idr.entries), o.devFile, ...fuseConnOfSb(o.sb));
        break;
      case 'fuse_backing':
        todo.push(o.file, o.cred);
        break;
      case 'file':
        // an open file pins its fuse_file and keeps its mount (and so its connection) busy
        todo.push(o.cred, o.private_data, ...fuseConnOfSb(o.sb));
        break;
      case 'fuse_file':
        todo.push(o.inode, o.passthrough, o.cred);
        break;
      case 'fuse_inode':
        todo.push(o.fb);
        break;
      case 'cred':
        break;
    }
  }
  return new Set([...seen].map((p) => `${w.heap[p]!.type}#${p}`));
}

/**
 * A task that waits for a connection caught in the 6.9 /dev/fuse cycle once its server closed
 * its fd: the device file lives on in the connection's own backing map, so the connection is
 * never aborted, and nobody reads it any more. The real kernel hangs there too. So does a task
 * that waits for a connection whose server is itself stuck so (a FUSE server whose files live
 * on a FUSE mount caught in the cycle: its OPEN waits for the lower mount's LOOKUP forever).
 */
function waitsOnCycle(w: World, task: string | undefined, cycle: Set<string>, seen = new Set<string>()): boolean {
  if (task === undefined || seen.has(task)) return false;
  seen.add(task);
  const t = w.tasks.find((x) => x.name === task);
  const b = t?.blocked;
  // a task asleep behind another's lookup (d_wait_lookup) or directory lock (i_rwsem) hangs
  // exactly when the task it waits behind does
  if (b?.on === 'in_lookup') return waitsOnCycle(w, w.sbs[b.sb]?.inLookup?.[b.name], cycle, seen);
  if (b?.on === 'i_rwsem') {
    const sb = w.sbs[b.sb];
    return !!sb && dir_lock_holders(w, sb, task, b.write).some((h) => waitsOnCycle(w, h, cycle, seen));
  }
  if (!b || (b.on !== 'answer' && b.on !== 'initialized')) return false;
  if (cycle.has(`fuse_conn#${b.conn}`)) return true;
  const fc = w.heap[b.conn];
  const sb = fc?.type === 'fuse_conn' ? w.sbs[fc.sb] : undefined;
  return !!sb && waitsOnCycle(w, serverTask(sb.name), cycle, seen);
}

/** What the property checks after a run (the invariants were checked after every step). */
export function judgeRun(p: Program, r: ScenarioResult): Failure[] {
  const out: Failure[] = [];
  const cycle = devFuseCycle(r.world);
  // violations: the invariants after every step, the checkers inside the kernel functions,
  // deadlocks (every task of the program, and teardown, must finish: sim/check/deadlock.ts)
  // and the leak check after teardown
  for (const v of r.violations) {
    if (p.own && !r.unexpectedViolations.includes(v)) continue; // a hand-made program expected it
    if (v.kind === 'leak' && v.object !== undefined && cycle.has(v.object)) continue; // the known 6.9 cycle
    if (v.kind === 'deadlock' && waitsOnCycle(r.world, v.task, cycle)) continue; // its connection can never end
    out.push({ kind: v.kind, message: v.message, task: v.task, step: v.step });
  }
  out.push(...outcomeProblems(p.scenario, r, profileOf(r.world.profile)));
  if (p.own) {
    for (const o of r.outcomes) {
      if (!o.ok) out.push({ kind: 'outcome:expected', message: `${o.task}[${o.op}] ${o.what}: ${o.actual}, expected ${o.expected}`, task: o.task, op: { task: o.task, index: o.op } });
    }
    for (const k of r.missingViolations) out.push({ kind: 'outcome:expected', message: `expected a ${k} violation, none was reported` });
    for (const s of r.serverProblems) out.push({ kind: 'outcome:expected', message: s });
  }
  return out;
}
