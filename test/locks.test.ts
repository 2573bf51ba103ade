// File locks across the drivers: how the oracle replays a lock wait (the order's 'start'
// entries, the threads it cannot follow, F_GETLK's data), and the deadlock rule's exception
// for the program's own lock deadlocks (teardown kills the sleepers, nothing is stuck).
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadScenario } from '../sim/scenario/load.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { modelRun, threadRunsWhileSiblingSleeps } from '../oracle/oracle.ts';
import { normalizeResult } from '../oracle/compare.ts';
import { posixLockCycle, stuckTasks } from '../sim/check/deadlock.ts';
import { FL_FLOCK, FL_POSIX } from '../sim/kernel/vfs/locks.ts';
import type { FileLockObj, Task, World } from '../sim/kernel/state.ts';

const scenario = (name: string) => loadScenario(join(import.meta.dirname, '..', 'scenarios', `${name}.json`));

describe('the oracle and lock waits', () => {
  it("marks where an op fell asleep in a lock wait, before the release that ends it, and where it returned", () => {
    const m = modelRun(scenario('lock-posix-conflict-release-on-any-close'), '6.18');
    const at = (e: unknown[]) => m.order.findIndex((x) => JSON.stringify(x) === JSON.stringify(e));
    const start = at(['B', 5, 'start']);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(at(['A', 3])).toBeGreaterThan(start); // A's close wakes B
    expect(at(['B', 5])).toBeGreaterThan(at(['A', 3]));
    expect(m.blocked).toEqual({ 'B#5': true });
  });

  it('leaves an op that never returns (and what follows it) out of the ops run to their end', () => {
    const m = modelRun(scenario('flock-cycle-sleeps-forever'), '6.18');
    expect(m.order.filter((e) => e[2] === 'start').map((e) => `${e[0]}#${e[1]}`).sort()).toEqual(['A#4', 'B#4']);
    expect(m.order.some((e) => e.length === 2 && e[1] === 4)).toBe(false);
    expect(m.results['A#4']).toBeUndefined();
  });

  it('cannot follow a thread running while a sibling sleeps, and says so', () => {
    const race = scenario('lock-close-race-ebadf');
    expect(threadRunsWhileSiblingSleeps(race, modelRun(race, '6.18').order)).toMatch(/t2\[1\] runs while t1/);
    const plain = scenario('lock-posix-deadlock-edeadlk');
    expect(threadRunsWhileSiblingSleeps(plain, modelRun(plain, '6.18').order)).toBeNull();
  });

  it("compares F_GETLK's lock, not only its return value", () => {
    expect(normalizeResult('lock', 0, 'wr start=0 len=10 pid=A')).toBe('0 "wr start=0 len=10 pid=A"');
    expect(normalizeResult('lock', 0)).toBe('0');
    expect(normalizeResult('lock', -11)).toBe('EAGAIN');
  });
});

describe('the deadlock rule and file locks', () => {
  it("a flock cycle is the program's deadlock: no violation, the sleepers killed at teardown, their calls return nothing", () => {
    const r = runScenario(scenario('flock-cycle-sleeps-forever'), { record: false });
    expect(r.violations).toEqual([]);
    expect(r.world.tasks.filter((t) => t.killed).map((t) => t.name).sort()).toEqual(['A', 'B']);
    expect(r.passed).toBe(true);
  });
});

describe('posixLockCycle', () => {
  // two held locks (A's and B's) and two requests, each waiting behind the other's lock
  const lock = (ptr: number, owner: string, flags: number, blocker = 0): FileLockObj => ({
    type: 'file_lock', ptr, life: 'live', flags, ltype: 1, owner, pid: 0, file: 0, start: 0, end: 0, blocker, blocked: [], listed: blocker === 0,
  });
  const task = (name: string, proc: string, fl: number): Task => ({
    name, role: 'user', ops: [{}], next: 0, frames: [], blocked: { on: 'file_lock', fl, task: name }, done: false, proc, results: [], refs: [],
  });
  const world = (flags: number): World =>
    ({
      heap: { 1: lock(1, 'files:A', flags), 2: lock(2, 'files:B', flags), 3: lock(3, 'files:A', flags, 2), 4: lock(4, 'files:B', flags, 1) },
      tasks: [task('a', 'A', 3), task('b', 'B', 4)],
    }) as unknown as World;

  it('finds a cycle of POSIX waits: the kernel should have refused it, so its tasks are stuck', () => {
    const w = world(FL_POSIX);
    expect([...posixLockCycle(w)].sort()).toEqual(['a', 'b']);
    expect(stuckTasks(w)).toEqual(['a', 'b']);
  });

  it('a flock cycle is not the kernel\'s: nothing stuck', () => {
    const w = world(FL_FLOCK);
    expect(posixLockCycle(w).size).toBe(0);
    expect(stuckTasks(w)).toEqual([]);
  });
});
