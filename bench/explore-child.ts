// One growth-family exploration in a child process of its own (bench/explore-one.mts), so its
// CPU time is its own: what bench:explore and bench:spin-growth measure fpsim by.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

const here = fileURLToPath(new URL('.', import.meta.url));

/** What explore-one.mts prints (older checkouts print no `visited`). */
export interface ExploreChild {
  n: number;
  por: boolean;
  states: number;
  transitions: number;
  pruned: number;
  maxDepth: number;
  complete: boolean;
  findings: number;
  cpu: number;
  wall: number;
  heapMB: number;
  rssMB: number;
  visited: { bytes: number; p: number } | null;
  /** older checkouts print none */
  symmetry?: { on: boolean; order: number; represented: number } | null;
  peakRssMB?: number;
}

/** explore(growthScenario(n), { por, symmetry }) in the fpsim checkout at `root`, with `heapMB` of heap (default 6 GiB). */
export function exploreChild(root: string, n: number, por: boolean, symmetry = false, heapMB = 6144): ExploreChild {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(here, 'explore-one.mts'), root, String(n), por ? '1' : '0', symmetry ? '1' : '0'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    env: { ...process.env, NODE_OPTIONS: `--max-old-space-size=${heapMB}` },
  });
  return JSON.parse(out.trim().split('\n').pop()!) as ExploreChild;
}
