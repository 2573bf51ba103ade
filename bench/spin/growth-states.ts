// bench/spin/growth-states.ts: are bench/spin/growth.pml's states fpsim's, one by one?
//
//   npx tsx bench/spin/growth-states.ts <tasks>     (2 or 3; 4 takes minutes and gigabytes)
//
// fpsim's side: every state of growthScenario(n), breadth-first without reduction, with the
// explorer's pointer numbering (each task allocates in a range of its own), each world mapped
// to the Promela model's variables (promelaView below). The map must be one-to-one: else the
// model forgets something fpsim tells apart. SPIN's side: pan built with -DDUMP prints every
// state it reaches in the same form (bench/spin/growth-dump.h). The two sets must be equal
// (SPIN does not print its initial state: it is the one state no step reaches here).
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { growthScenario, SPIN_DIR } from '../harness.ts';
import { initialWorld } from '../../sim/explore/explore.ts';
import { stepTask, taskRunnable } from '../../sim/kernel/exec.ts';
import { clonePlain, fullKey } from '../../sim/explore/canon.ts';
import type { World } from '../../sim/kernel/state.ts';

/** the world, read as plain data */
type Any = any;

/** fpsim's states of growthScenario(n), breadth-first, every transition (no reduction). */
export function fpsimWorlds(n: number): { worlds: World[]; transitions: number; base: number } {
  const w0 = initialWorld(growthScenario(n));
  const names = w0.tasks.map((t) => t.name);
  const base = Math.max(1000, 10 ** Math.ceil(Math.log10(w0.nextPtr + 1)));
  const seen = new Set<string>([fullKey(w0, '')]);
  const worlds: World[] = [w0];
  let layer: { w: World; allocs: number[] }[] = [{ w: w0, allocs: names.map(() => 0) }];
  let transitions = 0;
  while (layer.length) {
    const next: typeof layer = [];
    for (const st of layer) {
      for (let i = 0; i < names.length; i++) {
        if (!taskRunnable(st.w, st.w.tasks[i]!)) continue;
        transitions++;
        const w = clonePlain(st.w);
        w.nextPtr = base * (i + 1) + st.allocs[i]!;
        stepTask(w, names[i]!, false);
        if (w.violations.length) throw new Error(`growth-states: a violation at a step of ${names[i]}: ${w.violations[0]!.message}`);
        const allocs = st.allocs.slice();
        allocs[i] = w.nextPtr - base * (i + 1);
        const k = fullKey(w, '');
        if (seen.has(k)) continue;
        seen.add(k);
        worlds.push(w);
        next.push({ w, allocs });
      }
    }
    layer = next;
  }
  return { worlds, transitions, base };
}

const LIFE: Record<string, number> = { live: 1, 'rcu-pending': 2, freed: 3 };

/** A world as growth.pml's variables, in growth-dump.h's format (base: the explorer's pointer range per task). */
export function promelaView(w: World, users: number, base: number): string {
  const W = w as Any;
  const idx = (name: string) => w.tasks.findIndex((t) => t.name === name);
  const ctl = W.tasks[idx('ctl')];
  const daemon = W.tasks[idx('fuse-daemon:fuse')];
  const rcuT = W.tasks[idx('rcu_gp')];
  const heap = Object.values(W.heap) as Any[];
  const fc = heap.find((o) => o.type === 'fuse_conn');
  const fb = heap.find((o) => o.type === 'fuse_backing');
  const cred = fb ? W.heap[fb.cred] : undefined;
  const sb = W.sbs.find((s: Any) => s && s.conn === fc.ptr);
  const srv = W.servers.fuse;
  let ctlPc: number;
  if (ctl.done) ctlPc = 5;
  else if (ctl.frames.length) ctlPc = ctl.frames[1].fn === 'fuse_backing_open' ? 2 : 4;
  else ctlPc = ctl.next === 0 ? 0 : ctl.next === 1 ? 1 : 3;
  const life = (o: Any) => (o ? LIFE[o.life]! : 0);
  const fi = sb.inodes.f !== undefined ? W.heap[sb.inodes.f] : null;
  const ownerTask = fi ? Math.floor(sb.inodes.f / base) - 1 : -1;
  const owner = fi ? Number(/^user(\d+)$/.exec(W.tasks[ownerTask].name)![1]) : 0;
  const uq = (u: number) => (u - 2) / 2; // the kernel's unique 4, 6, ... is the model's request 1, 2, ...
  const g = [
    ctlPc, fb?.count ?? 0, life(fb), cred?.usage ?? 0, life(cred), fc.idr.entries[1] ? 1 : 0, W.rcu.current ? 1 : 0, W.rcu.completed, rcuT.blocked ? 1 : 0,
    uq(fc.nextUnique) - 1, uq(daemon.frames[0].l.req.unique), daemon.blocked ? 1 : 0, srv.log.length - 1, srv.inodes[2] ? 1 : 0, srv.inodes[2]?.opened ?? 0, srv.inodes[2]?.nopen ?? 0,
    fi ? 1 : 0, owner, fi?.icount ?? 0, fi?.nlookup ?? 0, fi?.fb ? 1 : 0, fi?.iocachectr ?? 0, !fi || fi.lru === undefined ? 0 : fi.referenced ? 2 : 1, sb.walkers ?? 0,
    sb.inLookup?.f ? Number(/^user(\d+)$/.exec(sb.inLookup.f)![1]) : 0,
  ];
  const log = srv.log.slice(1).map((s: string) => (s.includes(' LOOKUP') ? 1 : s.includes(' OPEN') ? 2 : 10 + Number(/fh=(\d+)/.exec(s)![1])));
  const us: string[] = [];
  for (let u = 1; u <= users; u++) {
    const ti = idx(`user${u}`);
    const t = W.tasks[ti];
    const fr = t.frames as Any[];
    const top = fr[fr.length - 1];
    let pc = -1;
    if (t.done) pc = t.results[0].ret === 'EIO' ? 10 : 9;
    else if (!fr.length) pc = 0;
    else if (top.fn === 'fuse_lookup') pc = t.blocked?.on === 'in_lookup' ? 11 : 1;
    else if (top.fn === 'fuse_open') pc = ({ reply: 2, finish: 3, released: 8 } as Record<string, number>)[top.pc] ?? -1;
    else if (top.fn === 'fuse_passthrough_open') pc = ({ get: 4, unlock: 5, open_backing: 6 } as Record<string, number>)[top.pc] ?? -1;
    else if (top.fn === 'fuse_file_passthrough_open' && top.pc === 'uncached') pc = 7;
    const pto = fr.find((f) => f.fn === 'fuse_passthrough_open' || (f.fn === 'fuse_file_passthrough_open' && f.pc === 'uncached'));
    const uf = fr.find((f) => f.fn === 'fuse_lookup' || f.fn === 'fuse_open');
    const uniq = uf && uf.l.unique !== undefined ? uq(uf.l.unique) : 0;
    const ans = uf ? fc.answered.find((a: Any) => a.unique === uf.l.unique) : undefined;
    const rq = fc.pending.some((r: Any) => r.waiter === t.name) ? 1 : ans ? 2 : 0;
    let fh = 0;
    let bid = 0;
    const mine = heap.find((o) => o.type === 'fuse_file' && Math.floor(o.ptr / base) - 1 === ti);
    if (mine) fh = mine.fh;
    if (ans && pc === 2) {
      // the OPEN reply not taken yet: fuse_open_out's fh (u64) and backing_id (s32 at 12)
      const b = Uint8Array.from((ans.body as string).match(/../g)!.map((x) => parseInt(x, 16)));
      const dv = new DataView(b.buffer);
      fh = Number(dv.getBigUint64(0, true));
      bid = dv.getInt32(12, true);
    }
    const fo = fr.find((f) => f.fn === 'fuse_open');
    if (fo && fo.l.backingId !== undefined) bid = fo.l.backingId;
    if (pc === 9) bid = srv.fhs[fh]?.backingId ?? 0;
    us.push([pc, pto && pto.l.fb ? 1 : 0, uniq, rq, fh, bid, W.rcu.readers[t.name] ? 1 : 0, W.rcu.current?.waitingFor.includes(t.name) ? 1 : 0].join(','));
  }
  return `${g.join(',')}|${log.join(',')}|${us.join(';')}`;
}

/** SPIN's states of growth.pml with USERS = n-1, as pan -DDUMP prints them (its initial state is not printed). */
export function spinStates(n: number): Set<string> {
  const dir = mkdtempSync(join(tmpdir(), 'fpsim-spin-dump-'));
  try {
    for (const f of ['growth.pml', 'growth-dump.h']) copyFileSync(join(SPIN_DIR, f), join(dir, f));
    execFileSync('spin', ['-o2', `-DUSERS=${n - 1}`, '-DDUMP', '-a', 'growth.pml'], { cwd: dir, stdio: 'pipe' });
    execFileSync('gcc', ['-O2', '-DSAFETY', '-DNOREDUCE', '-DPRINTF', `-DUSERS=${n - 1}`, '-include', 'growth-dump.h', '-o', 'pan', 'pan.c'], { cwd: dir, stdio: 'pipe' });
    const out = execFileSync('./pan', ['-w20', '-m1000'], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 30 });
    return new Set(out.split('\n').filter((l) => l.startsWith('S ')).map((l) => l.slice(2)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Comparison {
  fpsimStates: number;
  /** distinct Promela views of fpsim's states: fewer than fpsimStates means the model forgets something */
  views: number;
  /** SPIN's states that some step reaches */
  spinReached: number;
  onlyFpsim: string[];
  onlySpin: string[];
}

export function compareGrowthStates(n: number): Comparison {
  const { worlds, base } = fpsimWorlds(n);
  const views = worlds.map((w) => promelaView(w, n - 1, base));
  const fp = new Set(views.slice(1));
  const sp = spinStates(n);
  return {
    fpsimStates: worlds.length,
    views: new Set(views).size,
    spinReached: sp.size,
    onlyFpsim: [...fp].filter((v) => !sp.has(v)),
    onlySpin: [...sp].filter((v) => !fp.has(v)),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const n = Number(process.argv[2] ?? 3);
  if (!Number.isInteger(n) || n < 2 || n > 4) {
    console.error(`growth-states: tasks must be 2, 3 or 4, not ${JSON.stringify(process.argv[2])}`);
    process.exit(2);
  }
  const c = compareGrowthStates(n);
  console.log(`${n} tasks: fpsim ${c.fpsimStates} states, ${c.views} distinct Promela views; SPIN ${c.spinReached} states reached by a step (+ its initial state)`);
  for (const v of c.onlyFpsim.slice(0, 10)) console.log(`only fpsim: ${v}`);
  for (const v of c.onlySpin.slice(0, 10)) console.log(`only SPIN:  ${v}`);
  const same = c.views === c.fpsimStates && c.onlyFpsim.length === 0 && c.onlySpin.length === 0 && c.spinReached + 1 === c.fpsimStates;
  console.log(same ? 'the same states, one by one' : 'the state sets differ');
  process.exit(same ? 0 : 1);
}
