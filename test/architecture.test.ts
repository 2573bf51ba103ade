// The house's floors (docs/ARCHITECTURE.md), kept by a test: the import graph of the tree has
// no arrow running up a floor or out of sim/ into a driver, and no import circle except fs/fuse's
// own; the kernel's generic code names no filesystem. The checker itself is tested on graphs
// made to break each rule, so a rule that silently stopped working would fail here too.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { arrowsUp, circles, forbiddenCircles, importGraph, KERNEL_FLOORS, type Graph } from '../tools/imports.ts';

const ROOT = join(import.meta.dirname, '..');
const g = importGraph(ROOT);

describe('the import graph of the tree', () => {
  it('reads the whole tree (every floor of sim/ and the drivers)', () => {
    for (const f of ['sim/wire/uapi.ts', 'sim/kernel/exec.ts', 'sim/check/invariants.ts', 'sim/server/core.ts', 'sim/scenario/run.ts', 'sim/explore/explore.ts', 'cli/main.ts', 'properties/judge.ts', 'oracle/oracle.ts']) {
      expect(g.has(f), f).toBe(true);
    }
    expect([...g.values()].reduce((n, d) => n + d.length, 0)).toBeGreaterThan(400);
  });

  it('has no arrow from a floor of sim/ to a higher one, nor from sim/ to a driver', () => {
    expect(arrowsUp(g)).toEqual([]);
  });

  it('has no import circle outside sim/kernel/fuse/ (fs/fuse has its own, through fuse_i.h)', () => {
    expect(forbiddenCircles(g)).toEqual([]);
  });

  it("the kernel's generic code (VFS, mm, exit, kthreads) names no filesystem", () => {
    const generic = [...g.keys()].filter((f) => KERNEL_FLOORS[1]!.match.test(f));
    expect(generic.length).toBeGreaterThan(10);
    for (const f of generic) {
      const code = readFileSync(join(ROOT, f), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '');
      expect(code.match(/fuse|overlay|ovl_|shmem|tmpfs/i), f).toBeNull();
    }
  });
});

describe('the checker', () => {
  const graph = (edges: [string, string[]][]): Graph => new Map(edges);

  it('reports an arrow up a floor, from sim/ to a driver, and from generic kernel code to a filesystem', () => {
    const up = arrowsUp(
      graph([
        ['sim/kernel/state.ts', ['sim/server/state.ts']],
        ['sim/run.ts', ['properties/invariants.ts']],
        ['sim/kernel/vfs/file.ts', ['sim/kernel/fuse/file.ts']],
        ['sim/scenario/run.ts', ['sim/kernel/exec.ts', 'sim/check/deadlock.ts']],
      ]),
    );
    expect(up).toHaveLength(3);
    expect(up.join('\n')).toMatch(/state\.ts -> sim\/server\/state\.ts/);
    expect(up.join('\n')).toMatch(/imports a driver/);
    expect(up.join('\n')).toMatch(/vfs\/file\.ts -> sim\/kernel\/fuse\/file\.ts/);
  });

  it('finds circles, and allows only fs/fuse', () => {
    const c = graph([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['sim/kernel/fuse/dev.ts', ['sim/kernel/fuse/inode.ts']],
      ['sim/kernel/fuse/inode.ts', ['sim/kernel/fuse/dev.ts']],
    ]);
    expect(circles(c)).toHaveLength(2);
    expect(forbiddenCircles(c)).toEqual([['a.ts', 'b.ts', 'c.ts']]);
  });
});
