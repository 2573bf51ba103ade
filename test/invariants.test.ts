// Each invariant of sim/check/invariants.ts against a state broken by hand: start from a real
// world (a small scenario run without teardown: a passthrough file and a cached file open),
// corrupt one field, and check that the invariant reports it, and that the unbroken state
// reports nothing.
import { beforeEach, describe, expect, it } from 'vitest';
import { ScenarioSchema, type ScenarioInput } from '../sim/scenario/schema.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import type { FileObj, FuseBackingObj, FuseConnObj, FuseFileObj, FuseInodeObj, FuseSb, HeapObj, World } from '../sim/kernel/state.ts';
import { INVARIANTS, checkInvariants, heapTracker, indexWorld, idsUnique, ioModes, noDanglingPointers, refcountOwners, stackDepth, type Invariant } from '../sim/check/invariants.ts';
import { leakCheck } from '../sim/check/leak.ts';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../sim/scenario/load.ts';
import { roundRobin, runPhase, startWorld, teardown, type RunOptions } from '../sim/scenario/run.ts';
import { longProgram } from '../bench/workload.ts';
import type { HeapIndex } from '../sim/check/invariants.ts';

const SCENARIO: ScenarioInput = {
  name: 'invariants-fixture',
  filesystems: [
    { name: 'lower', type: 'plain', files: { a: 'backing data', b: 'other' } },
    {
      name: 'fuse',
      type: 'fuse',
      server: {
        files: {
          f: { backing: '/lower/a' }, // passthrough_hp: backing id 1, fi->fb set, iocachectr -1
          g: { backing: '/lower/b', open: { mode: 'reply', flags: [] } }, // cached: iocachectr 1
        },
      },
    },
  ],
  tasks: [
    {
      name: 't0',
      ops: [
        { op: 'open', path: '/fuse/f', save: 'f', expect: 'ok' },
        { op: 'open', path: '/fuse/g', save: 'g', expect: 'ok' },
      ],
    },
  ],
};

function world(teardown: boolean): World {
  const s = ScenarioSchema.parse({ ...SCENARIO, teardown });
  const r = runScenario(s, { record: false });
  expect(r.passed, 'the fixture scenario runs clean').toBe(true);
  return r.world;
}

const live = <T extends HeapObj['type']>(w: World, type: T) =>
  Object.values(w.heap).filter((o) => o.type === type && o.life === 'live') as Extract<HeapObj, { type: T }>[];

interface Fixture {
  w: World;
  fc: FuseConnObj;
  fb: FuseBackingObj;
  fi: FuseInodeObj;
  gi: FuseInodeObj;
  ff: FuseFileObj;
  gf: FuseFileObj;
}

function fixture(): Fixture {
  const w = world(false);
  const sb = w.sbs.find((s) => s.name === 'fuse') as FuseSb;
  const fc = w.heap[sb.conn] as FuseConnObj;
  const fi = w.heap[sb.inodes['f']!] as FuseInodeObj;
  const gi = w.heap[sb.inodes['g']!] as FuseInodeObj;
  const [fb] = live(w, 'fuse_backing');
  const ff = live(w, 'fuse_file').find((x) => x.inode === fi.ptr)!;
  const gf = live(w, 'fuse_file').find((x) => x.inode === gi.ptr)!;
  return { w, fc, fb: fb!, fi, gi, ff, gf };
}

/** A freed object of the given type, as a dangling pointer would find it. */
function freed(w: World, o: Omit<HeapObj, 'ptr' | 'life'>): number {
  const ptr = w.nextPtr++;
  w.heap[ptr] = { ...o, ptr, life: 'freed' } as HeapObj;
  return ptr;
}

const messages = (inv: Invariant, w: World) => inv.check(w).map((p) => p.message);

let x: Fixture;
beforeEach(() => {
  x = fixture();
});

describe('the fixture', () => {
  it('is what the tests assume: fb with count 2 (map + inode), iocachectr -1 and 1', () => {
    expect(x.fc.idr.entries[1]).toBe(x.fb.ptr);
    expect(x.fb.count).toBe(2);
    expect(x.fi.fb).toBe(x.fb.ptr);
    expect(x.fi.iocachectr).toBe(-1);
    expect(x.gi.iocachectr).toBe(1);
    expect(x.ff.iomode).toBe('IOM_UNCACHED');
    expect(x.gf.iomode).toBe('IOM_CACHED');
  });

  it('an unbroken state: no invariant reports anything', () => {
    for (const inv of INVARIANTS) expect(inv.check(x.w), inv.name).toEqual([]);
    checkInvariants(x.w);
    expect(x.w.violations).toEqual([]);
  });

  it('an unbroken teardown: nothing leaks', () => {
    const w = world(true);
    expect(w.violations).toEqual([]);
    leakCheck(w);
    expect(w.violations).toEqual([]);
  });
});

describe('5.1 refcount-owners', () => {
  it('fb count one too high', () => {
    x.fb.count++;
    expect(messages(refcountOwners, x.w)).toEqual([expect.stringMatching(/count is 3 but it has 2 owner\(s\): map 1, inode 1, in flight 0/)]);
  });

  it('fb count one too low', () => {
    x.fb.count--;
    expect(messages(refcountOwners, x.w)).toEqual([expect.stringMatching(/count is 1 but it has 2 owner/)]);
  });

  it('a reference in flight is an owner: count + 1 with a task holding it is fine', () => {
    x.fb.count++;
    x.w.tasks[0]!.refs.push(x.fb.ptr);
    expect(refcountOwners.check(x.w)).toEqual([]);
  });

  it('the inode letting go of its fb without a put', () => {
    x.fi.fb = 0;
    expect(messages(refcountOwners, x.w)).toEqual([expect.stringMatching(/count is 2 but it has 1 owner\(s\): map 1, inode 0/)]);
  });
});

describe('5.2 no-dangling-pointers', () => {
  it("an inode's fb pointing to a freed fuse_backing", () => {
    x.fi.fb = freed(x.w, { type: 'fuse_backing', file: x.fb.file, cred: x.fb.cred, count: 0 } as Omit<FuseBackingObj, 'ptr' | 'life'>);
    expect(messages(noDanglingPointers, x.w)).toEqual([expect.stringMatching(/fuse_inode#\d+\.fb points to freed fuse_backing#\d+/)]);
  });

  it('a backing id whose fuse_backing was freed', () => {
    x.fb.life = 'freed';
    const m = messages(noDanglingPointers, x.w);
    expect(m).toContainEqual(expect.stringMatching(/backing id 1 points to freed fuse_backing/));
    expect(m).toContainEqual(expect.stringMatching(/\.fb points to freed fuse_backing/));
  });

  it("a fuse_file's per-open backing file freed under it", () => {
    (x.w.heap[x.ff.passthrough] as FileObj).life = 'freed';
    expect(messages(noDanglingPointers, x.w)).toEqual([expect.stringMatching(/fuse_file#\d+\.passthrough points to freed file#\d+/)]);
  });

  it("a fuse_backing's file freed under it", () => {
    (x.w.heap[x.fb.file] as FileObj).life = 'freed';
    expect(messages(noDanglingPointers, x.w)).toEqual([expect.stringMatching(/fuse_backing#\d+\.file points to freed file#\d+/)]);
  });
});

describe('5.4 io-modes', () => {
  it('iocachectr inconsistent with the files of the inode', () => {
    x.fi.iocachectr = -2;
    expect(messages(ioModes, x.w)).toEqual([expect.stringMatching(/iocachectr is -2, but it has 0 cached and 1 uncached users/)]);
  });

  it('a cached counter off by one', () => {
    x.gi.iocachectr = 2;
    expect(messages(ioModes, x.w)).toEqual([expect.stringMatching(/iocachectr is 2, but it has 1 cached and 0 uncached users/)]);
  });

  it('fb set while iocachectr >= 0', () => {
    x.gi.fb = x.fb.ptr; // the cached inode (iocachectr 1) gets an fb
    expect(messages(ioModes, x.w)).toContainEqual(expect.stringMatching(/\.fb is set while iocachectr is 1 \(not uncached\)/));
  });

  it('cached and uncached users of one inode at once', () => {
    x.gf.inode = x.fi.ptr; // the cached file now belongs to the passthrough inode
    x.gi.iocachectr = 0;
    expect(messages(ioModes, x.w)).toContainEqual(expect.stringMatching(/has 1 cached and 1 uncached users at once/));
  });

  it('a passthrough file of an inode without fb', () => {
    x.fi.fb = 0;
    expect(messages(ioModes, x.w)).toEqual([expect.stringMatching(/passes through but fuse_inode#\d+\.fb is NULL/)]);
  });

  it('a passthrough file using another backing file than the inode', () => {
    (x.w.heap[x.ff.passthrough] as FileObj).name = 'b';
    expect(messages(ioModes, x.w)).toEqual([expect.stringMatching(/passes through to b, not to the inode's backing file a/)]);
  });
});

describe('5.5 stack-depth', () => {
  it('a backing file from a too-deep superblock', () => {
    x.w.sbs.find((s) => s.name === 'lower')!.s_stack_depth = 1; // = max_stack_depth 1
    expect(messages(stackDepth, x.w)).toEqual([expect.stringMatching(/backed by a file on \/lower with s_stack_depth 1 >= max_stack_depth 1/)]);
  });

  it('passthrough on with max_stack_depth out of 1..2', () => {
    x.fc.maxStackDepth = 3;
    expect(messages(stackDepth, x.w)).toEqual([expect.stringMatching(/has passthrough with max_stack_depth 3/)]);
    x.fc.maxStackDepth = 0;
    expect(messages(stackDepth, x.w)).toContainEqual(expect.stringMatching(/has passthrough with max_stack_depth 0/));
  });

  it('a mounted stack deeper than FILESYSTEM_MAX_STACK_DEPTH', () => {
    x.fc.maxStackDepth = 3; // keep the fb check quiet: only the sb is wrong below
    x.w.sbs.find((s) => s.name === 'fuse')!.s_stack_depth = 3;
    expect(messages(stackDepth, x.w)).toContainEqual(expect.stringMatching(/\/fuse has s_stack_depth 3 > 2/));
  });
});

describe('5.6 ids-unique', () => {
  it('a duplicate id: one fuse_backing behind two ids', () => {
    x.fc.idr.entries[5] = x.fb.ptr;
    expect(messages(idsUnique, x.w)).toEqual([expect.stringMatching(/fuse_backing#\d+ is behind ids 1 and 5/)]);
  });

  it('an id <= 0', () => {
    delete x.fc.idr.entries[1];
    x.fc.idr.entries[0] = x.fb.ptr;
    expect(messages(idsUnique, x.w)).toEqual([expect.stringMatching(/has backing id 0 <= 0/)]);
  });
});

describe('checkInvariants and leakCheck', () => {
  it('records each problem once, as a violation of the invariant kind', () => {
    x.fb.count++;
    checkInvariants(x.w, 't0', 'test');
    checkInvariants(x.w, 't0', 'test');
    expect(x.w.violations).toHaveLength(1);
    expect(x.w.violations[0]).toMatchObject({ kind: 'refcount-owners', object: `fuse_backing#${x.fb.ptr}`, task: 't0', fn: 'test' });
  });

  it('an object still allocated after teardown is a leak', () => {
    const w = world(true);
    const cred = Object.values(w.heap).find((o) => o.type === 'cred')!;
    cred.life = 'live';
    leakCheck(w);
    expect(w.violations).toEqual([expect.objectContaining({ kind: 'leak', object: `cred#${cred.ptr}` })]);
  });
});

describe('heapTracker (the incremental index fpsim run checks with)', () => {
  const LISTS = ['fuse_backing', 'fuse_conn', 'fuse_inode', 'fuse_file', 'inodesNotFreed', 'file_lock'] as const;
  const ptrs = (ix: HeapIndex) => JSON.stringify(LISTS.map((k) => [k, ix[k].map((o) => o.ptr)]));
  /** Run a scenario with both indexes after every step; the first step where they differ. */
  function compare(s: ReturnType<typeof loadScenario>): { steps: number; differs: string | null } {
    const track = heapTracker();
    let steps = 0;
    let differs: string | null = null;
    const ro: RunOptions = {
      record: false,
      check: (w) => {
        steps++;
        const a = track(w);
        const b = indexWorld(w);
        if (differs === null && (ptrs(a) !== ptrs(b) || LISTS.some((k) => (a[k] as HeapObj[]).some((o, i) => o !== b[k][i])))) {
          differs = `step ${w.step}: tracker ${ptrs(a)}, walk ${ptrs(b)}`;
        }
      },
    };
    const w = startWorld(s, ro);
    runPhase(w, roundRobin(), 'run', ro);
    teardown(w, ro);
    return { steps, differs };
  }

  it('gives the same index as a walk of the heap, after every step of every built-in scenario', () => {
    const dir = fileURLToPath(new URL('../scenarios', import.meta.url));
    let steps = 0;
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
      const r = compare(loadScenario(join(dir, f)));
      expect(r.differs, f).toBeNull();
      steps += r.steps;
    }
    expect(steps).toBeGreaterThan(5000);
  });

  it('gives the same index on a long program (objects allocated and freed by the thousand)', () => {
    const r = compare(ScenarioSchema.parse(longProgram(3, 40)));
    expect(r.differs).toBeNull();
    expect(r.steps).toBeGreaterThan(1000);
  });

  it('starts over on another world, and sees a free', () => {
    const track = heapTracker();
    const w = world(false);
    expect(ptrs(track(w))).toBe(ptrs(indexWorld(w)));
    const fb = Object.values(w.heap).find((o) => o.type === 'fuse_backing' && o.life === 'live')!;
    fb.life = 'freed';
    expect(track(w).fuse_backing.map((o) => o.ptr)).not.toContain(fb.ptr);
    expect(ptrs(track(w))).toBe(ptrs(indexWorld(w)));
    const w2 = world(true);
    expect(ptrs(track(w2))).toBe(ptrs(indexWorld(w2)));
  });
});
