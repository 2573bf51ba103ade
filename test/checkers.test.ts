// The checkers fire, with a message a kernel developer can act on: the kind of bug, the object
// (as the trace names it, e.g. "fuse_backing#7") and the function running when it happened.
// Each test builds a tiny world from a minimal scenario and drives the heap and refcount
// primitives through a Ctx on one of its tasks, as a modelled kernel function would.
import { describe as group, expect, it } from 'vitest';
import { ScenarioSchema } from '../sim/scenario/schema.ts';
import { buildWorld } from '../sim/scenario/build.ts';
import { Ctx } from '../sim/kernel/ctx.ts';
import type { CredObj, FuseBackingObj, World } from '../sim/kernel/state.ts';
import type { Violation } from '../sim/kernel/lib/violation.ts';
import { refcount_dec_and_test, refcount_inc, refcount_inc_not_zero, REFCOUNT_SATURATED } from '../sim/kernel/lib/refcount.ts';
import { rcu_read_lock, rcu_read_unlock } from '../sim/kernel/lib/rcu.ts';
import { fuse_free_inode } from '../sim/kernel/fuse/inode.ts';
import { rcu_gp_step } from '../sim/kernel/lib/rcu.ts';
import { leakCheck } from '../sim/check/leak.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';

/** A world with one plain fs and one user task, and a Ctx on that task inside function `fn`. */
function tiny(fn: string): { w: World; c: Ctx } {
  const s = ScenarioSchema.parse({
    name: 'tiny',
    filesystems: [{ name: 'lower', type: 'plain', files: { data: 'x' } }],
    tasks: [{ name: 'user', ops: [] }],
  });
  const { world, userTasks } = buildWorld(s);
  world.tasks.push(...userTasks);
  const c = new Ctx(world, userTasks[0]!, true);
  c.enter(fn, 'start');
  return { w: world, c };
}

function fb(c: Ctx, count = 1): FuseBackingObj {
  return c.alloc<FuseBackingObj>({ type: 'fuse_backing', file: 0, cred: 0, count });
}

function only(w: World, kind: Violation['kind']): Violation {
  const vs = w.violations.filter((v) => v.kind === kind);
  expect(vs, `violations: ${JSON.stringify(w.violations)}`).toHaveLength(1);
  return vs[0]!;
}

group('heap checker (the model\'s KASAN, sim/kernel/ctx.ts)', () => {
  it('a dereference of freed memory is a use-after-free naming the object and the function', () => {
    const { w, c } = tiny('fuse_backing_close');
    const cred = c.alloc<CredObj>({ type: 'cred', usage: 1, uid: 0, capSysAdmin: true });
    c.kfree(cred.ptr);
    expect(w.violations).toEqual([]);
    c.enter('fuse_passthrough_open', 'get');
    c.deref(cred.ptr, 'cred');
    const v = only(w, 'use-after-free');
    expect(v.object).toBe(`cred#${cred.ptr}`);
    expect(v.fn).toBe('fuse_passthrough_open');
    expect(v.task).toBe('user');
    expect(v.message).toBe(`fuse_passthrough_open dereferences cred#${cred.ptr}, which was already freed`);
  });

  it('a dereference of live or RCU-pending memory is fine (kfree_rcu keeps it valid for readers)', () => {
    const { w, c } = tiny('fuse_backing_put');
    const b = fb(c);
    c.deref(b.ptr, 'fuse_backing');
    c.kfreeRcu(b.ptr);
    expect(w.heap[b.ptr]!.life).toBe('rcu-pending');
    c.deref(b.ptr, 'fuse_backing');
    expect(w.violations).toEqual([]);
  });

  it('a grace period ends only after the readers that were inside; then the memory is freed and a dereference is a use-after-free', () => {
    const { w, c } = tiny('fuse_passthrough_open');
    const b = fb(c);
    rcu_read_lock(c);
    c.kfreeRcu(b.ptr);
    rcu_gp_step(c, fuse_free_inode); // grace period 1 starts, waits for "user"
    rcu_gp_step(c, fuse_free_inode); // cannot end: the reader is inside
    expect(w.heap[b.ptr]!.life).toBe('rcu-pending');
    rcu_read_unlock(c);
    rcu_gp_step(c, fuse_free_inode); // ends, runs the callback
    expect(w.heap[b.ptr]!.life).toBe('freed');
    c.deref(b.ptr, 'fuse_backing');
    expect(only(w, 'use-after-free').message).toContain(`fuse_backing#${b.ptr}`);
  });

  it('a second kfree is a double free naming the object and the function', () => {
    const { w, c } = tiny('fuse_backing_free');
    const cred = c.alloc<CredObj>({ type: 'cred', usage: 1, uid: 0, capSysAdmin: true });
    c.kfree(cred.ptr);
    c.kfree(cred.ptr);
    const v = only(w, 'double-free');
    expect(v.object).toBe(`cred#${cred.ptr}`);
    expect(v.fn).toBe('fuse_backing_free');
    expect(v.message).toBe(`fuse_backing_free frees cred#${cred.ptr} a second time`);
  });

  it('kfree_rcu of an object already queued for RCU is a double free too', () => {
    const { w, c } = tiny('fuse_backing_put');
    const b = fb(c);
    c.kfreeRcu(b.ptr);
    c.kfreeRcu(b.ptr);
    expect(only(w, 'double-free').message).toBe(`fuse_backing_put frees fuse_backing#${b.ptr} a second time`);
  });

  it('kfree (no grace period) of an object RCU lookups can find is an rcu-early-free', () => {
    const { w, c } = tiny('fuse_backing_free');
    const b = fb(c);
    c.kfree(b.ptr);
    const v = only(w, 'rcu-early-free');
    expect(v.object).toBe(`fuse_backing#${b.ptr}`);
    expect(v.fn).toBe('fuse_backing_free');
    expect(v.message).toContain(`fuse_backing#${b.ptr}`);
  });
});

group('leak checker (kmemleak at quiescence, sim/check/leak.ts)', () => {
  it('an object never freed is a leak, named with its count', () => {
    const { w, c } = tiny('fuse_backing_open');
    const b = fb(c, 1);
    const before = w.violations.length;
    leakCheck(w);
    const leaks = w.violations.slice(before).filter((v) => v.object === `fuse_backing#${b.ptr}`);
    expect(leaks).toHaveLength(1);
    expect(leaks[0]!.kind).toBe('leak');
    expect(leaks[0]!.fn).toBe('kmemleak');
    expect(leaks[0]!.message).toBe(`kmemleak: fuse_backing#${b.ptr} (count 1) is never freed after teardown`);
  });

  it('an object still waiting for its RCU callback after teardown is reported as such', () => {
    const { w, c } = tiny('fuse_backing_put');
    const b = fb(c, 0);
    c.kfreeRcu(b.ptr);
    leakCheck(w);
    const v = w.violations.find((x) => x.object === `fuse_backing#${b.ptr}`)!;
    expect(v.kind).toBe('leak');
    expect(v.message).toBe(`kmemleak: fuse_backing#${b.ptr} (count 0) is still waiting for its RCU callback after teardown`);
  });

  it('a freed object is not a leak', () => {
    const { w, c } = tiny('x');
    const cred = c.alloc<CredObj>({ type: 'cred', usage: 1, uid: 0, capSysAdmin: true });
    c.kfree(cred.ptr);
    leakCheck(w);
    expect(w.violations.filter((v) => v.object === `cred#${cred.ptr}`)).toEqual([]);
  });

  it('in a whole run: a release that forgets fput of the per-open backing file leaks it (mutant passthrough-release-no-fput)', () => {
    const s = ScenarioSchema.parse({
      name: 'leak',
      mutants: ['passthrough-release-no-fput'],
      filesystems: [
        { name: 'lower', type: 'plain', files: { data: 'hello' } },
        { name: 'fuse', type: 'fuse', server: { files: { f: { backing: '/lower/data' } } } },
      ],
      tasks: [{ name: 'user', ops: [{ op: 'open', path: '/fuse/f', save: 'fd' }, { op: 'close', fd: '$fd' }] }],
    });
    const r = runScenario(s, { record: false });
    const leaks = r.violations.filter((v) => v.kind === 'leak');
    expect(leaks.length).toBeGreaterThan(0);
    expect(leaks.some((v) => /^kmemleak: file#\d+ \(f_count 1\) is never freed after teardown$/.test(v.message))).toBe(true);
    expect(r.passed).toBe(false);
  });
});

group('refcount_t checker (sim/kernel/lib/refcount.ts)', () => {
  it('refcount_inc on 0 is reported (resurrecting a dying object) and saturates', () => {
    const { w, c } = tiny('fuse_backing_get');
    const b = fb(c, 0);
    refcount_inc(c, b);
    const v = only(w, 'refcount-inc-from-zero');
    expect(v.object).toBe(`fuse_backing#${b.ptr}`);
    expect(v.fn).toBe('fuse_backing_get');
    expect(v.message).toBe(`refcount_t: addition on 0; use-after-free (fuse_backing#${b.ptr} in fuse_backing_get)`);
    expect(b.count).toBe(REFCOUNT_SATURATED);
    // saturated: further operations neither report nor free
    refcount_inc(c, b);
    expect(refcount_dec_and_test(c, b)).toBe(false);
    expect(w.violations).toHaveLength(1);
  });

  it('refcount_inc_not_zero on 0 fails quietly (that is its job), and succeeds on 1', () => {
    const { w, c } = tiny('fuse_backing_get');
    const dead = fb(c, 0);
    const live = fb(c, 1);
    expect(refcount_inc_not_zero(c, dead)).toBe(false);
    expect(dead.count).toBe(0);
    expect(refcount_inc_not_zero(c, live)).toBe(true);
    expect(live.count).toBe(2);
    expect(w.violations).toEqual([]);
  });

  it('a dec below 0 is an underflow naming the object and the function, and saturates', () => {
    const { w, c } = tiny('fuse_backing_put');
    const b = fb(c, 1);
    expect(refcount_dec_and_test(c, b)).toBe(true);
    expect(w.violations).toEqual([]);
    expect(refcount_dec_and_test(c, b)).toBe(false);
    const v = only(w, 'refcount-underflow');
    expect(v.object).toBe(`fuse_backing#${b.ptr}`);
    expect(v.fn).toBe('fuse_backing_put');
    expect(v.message).toBe(`refcount_t: underflow; use-after-free (fuse_backing#${b.ptr} in fuse_backing_put)`);
    expect(b.count).toBe(REFCOUNT_SATURATED);
  });

  it('in a whole run: an extra put of the same fb (mutant extra-put-same-fb) is caught', () => {
    const s = ScenarioSchema.parse({
      name: 'extra-put',
      mutants: ['extra-put-same-fb'],
      filesystems: [
        { name: 'lower', type: 'plain', files: { data: 'hello' } },
        { name: 'fuse', type: 'fuse', server: { files: { f: { backing: '/lower/data' } } } },
      ],
      tasks: [{ name: 'user', ops: [{ op: 'open', path: '/fuse/f', save: 'a' }, { op: 'open', path: '/fuse/f', save: 'b' }, { op: 'close', fd: '$a' }, { op: 'close', fd: '$b' }] }],
    });
    const r = runScenario(s, { record: true });
    const kinds = new Set(r.violations.map((v) => v.kind));
    expect(kinds.has('refcount-owners')).toBe(true);
    const owners = r.violations.find((v) => v.kind === 'refcount-owners')!;
    expect(owners.message).toMatch(/^refcount-owners: fuse_backing#\d+\.count is 1 but it has 2 owner\(s\)/);
    // found right after the step of the second open (the step's last function, when recorded)
    expect(owners.task).toBe('user');
    expect(owners.fn).toBe('sys_open:opened');
  });
});
