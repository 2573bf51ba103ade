// The import graph of the tree and the rules its floors keep (docs/ARCHITECTURE.md):
//   - each floor of sim/ imports only its own floor and the floors below it, and nothing
//     outside sim/ (the drivers: properties, cli, oracle, teach, view, bench, tools, test);
//   - inside the kernel, generic code (the VFS, mm, exit, the kthreads) names no filesystem;
//   - no import circle anywhere, except among sim/kernel/fuse/ (the kernel has one there too,
//     through fs/fuse/fuse_i.h).
// `npx tsx tools/imports.ts [root]` prints the graph's problems (none: exit 0); the same
// check runs as a test (test/architecture.test.ts).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** sim/'s floors, lowest first: a file may import from its own floor and those below. */
export const FLOORS: { name: string; match: RegExp }[] = [
  { name: 'wire (uapi, byte-exact structs)', match: /^sim\/(wire\/|memo\.ts$)/ },
  { name: 'kernel', match: /^sim\/kernel\// },
  { name: 'check (invariants, leaks, deadlock)', match: /^sim\/check\// },
  { name: 'server (the scripted server)', match: /^sim\/server\// },
  { name: 'scenario (build, run, judge)', match: /^sim\/scenario\// },
  { name: 'trace, explore', match: /^sim\/(trace|explore)\// },
];

/** Inside the kernel: generic code below the filesystems, which are below the kernel's init. */
export const KERNEL_FLOORS: { name: string; match: RegExp }[] = [
  { name: 'kernel base (state, step machine, lib, creds)', match: /^sim\/kernel\/((?!index\.ts|exit\.ts|fork\.ts|kthreads\.ts)[^/]+\.ts|lib\/.*)$/ },
  { name: 'generic (vfs, mm, exit, fork, kthreads)', match: /^sim\/kernel\/(vfs\/.*|mm\/(?!shmem\.ts)[^/]+\.ts|exit\.ts|fork\.ts|kthreads\.ts)$/ },
  { name: 'filesystems and drivers (fuse, overlayfs, tmpfs, sockets, char devices)', match: /^sim\/kernel\/(fuse\/.*|overlayfs\/.*|mm\/shmem\.ts|net\/.*|drivers\/.*)$/ },
  { name: 'init', match: /^sim\/kernel\/index\.ts$/ },
];

/** Where an import circle is allowed: fs/fuse's own (fuse_i.h). */
const CIRCLE_ALLOWED = /^sim\/kernel\/fuse\//;

const SOURCE_DIRS = ['api', 'sim', 'properties', 'cli', 'oracle', 'teach', 'view', 'bench', 'tools', 'test', 'bridge'];

export type Graph = Map<string, string[]>;

/** Every relative import of every .ts file (import, import type, export from, import()). */
export function importGraph(root: string): Graph {
  const files: string[] = [];
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(join(root, dir));
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(dir, n);
      if (n === 'node_modules' || n.startsWith('.')) continue;
      if (statSync(join(root, p)).isDirectory()) walk(p);
      else if (n.endsWith('.ts')) files.push(p);
    }
  };
  for (const d of SOURCE_DIRS) walk(d);
  const g: Graph = new Map();
  const re = /(?:\bfrom\s*|\bimport\s*\(?\s*)(['"])(\.{1,2}\/[^'"]+)\1/g;
  for (const f of files) {
    const text = readFileSync(join(root, f), 'utf8');
    const out = new Set<string>();
    for (const m of text.matchAll(re)) out.add(normalize(join(dirname(f), m[2]!)));
    g.set(f, [...out].sort());
  }
  return g;
}

function floorOf(floors: { match: RegExp }[], f: string): number {
  return floors.findIndex((x) => x.match.test(f));
}

/** Imports that run up a floor, or out of sim/ into a driver. */
export function arrowsUp(g: Graph): string[] {
  const out: string[] = [];
  for (const [f, deps] of g) {
    if (!f.startsWith('sim/')) continue;
    const ff = floorOf(FLOORS, f);
    const kf = floorOf(KERNEL_FLOORS, f);
    for (const d of deps) {
      if (!d.startsWith('sim/')) {
        out.push(`${f} -> ${d}: sim/ imports a driver`);
        continue;
      }
      const df = floorOf(FLOORS, d);
      if (df > ff) out.push(`${f} -> ${d}: floor "${FLOORS[ff]?.name}" imports the higher floor "${FLOORS[df]?.name}"`);
      const dk = floorOf(KERNEL_FLOORS, d);
      if (kf >= 0 && dk > kf) out.push(`${f} -> ${d}: kernel "${KERNEL_FLOORS[kf]?.name}" imports "${KERNEL_FLOORS[dk]?.name}"`);
    }
  }
  return out;
}

/** Strongly connected components of more than one file (Tarjan). */
export function circles(g: Graph): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!g.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1) out.push(c.sort());
    }
  };
  for (const v of [...g.keys()].sort()) if (!idx.has(v)) visit(v);
  return out;
}

/** Circles outside the one the kernel has itself. */
export function forbiddenCircles(g: Graph): string[][] {
  return circles(g).filter((c) => !c.every((f) => CIRCLE_ALLOWED.test(f)));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..');
  const g = importGraph(root);
  const up = arrowsUp(g);
  const all = circles(g);
  const bad = all.filter((c) => !c.every((f) => CIRCLE_ALLOWED.test(f)));
  const edges = [...g.values()].reduce((n, d) => n + d.length, 0);
  console.log(`${g.size} files, ${edges} imports under ${relative(process.cwd(), root) || '.'}`);
  for (const a of up) console.log(`arrow up: ${a}`);
  for (const c of bad) console.log(`circle of ${c.length}: ${c.join(' ')}`);
  for (const c of all.filter((x) => !bad.includes(x))) console.log(`allowed circle of ${c.length}: ${c.join(' ')}`);
  process.exitCode = up.length || bad.length ? 1 : 0;
}
