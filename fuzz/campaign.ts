// A fuzz campaign: `total` inputs, a quarter of each class, in chunks whose inputs are drawn by
// fast-check from a seed (the same seed gives the same inputs), counted by class and outcome.
import fc from 'fast-check';
import { cliInputArb, fileInputArb, wireInputArb } from './inputs.ts';
import type { Fuzzer, FuzzClass, Outcome } from './harness.ts';

export const CLASSES: FuzzClass[] = ['scenario', 'trace', 'cli', 'wire'];
export const CHUNK = 250;

export interface Job {
  cls: FuzzClass;
  seed: number;
  chunk: number;
  /** inputs of the chunk to run: from..to-1 */
  from: number;
  to: number;
}

/** The inputs of one chunk. */
export function chunkInputs(cls: FuzzClass, seed: number, chunk: number): unknown[] {
  const s = (seed * 1_000_003 + CLASSES.indexOf(cls) * 7_919 + chunk * 104_729) | 0;
  const arb: fc.Arbitrary<unknown> = cls === 'cli' ? cliInputArb : cls === 'wire' ? wireInputArb : fileInputArb;
  return fc.sample(arb, { seed: s, numRuns: CHUNK });
}

export async function runOne(fz: Fuzzer, cls: FuzzClass, input: unknown): Promise<Outcome> {
  switch (cls) {
    case 'scenario':
      return fz.scenario(input as Parameters<Fuzzer['scenario']>[0]);
    case 'trace':
      return fz.trace(input as Parameters<Fuzzer['trace']>[0]);
    case 'cli':
      return fz.cliVector(input as Parameters<Fuzzer['cliVector']>[0]);
    case 'wire':
      return fz.wire(input as Parameters<Fuzzer['wire']>[0]);
  }
}

export interface Tally {
  inputs: number;
  byClass: Record<string, Record<string, number>>;
  /** wire: what fuse_dev_write answered, by opcode */
  wire: Record<string, number>;
  /** the slowest input per class (ms) */
  slowest: Record<string, number>;
  crashes: { cls: string; chunk: number; index: number; detail: string }[];
  unlocated: { cls: string; chunk: number; index: number; detail: string }[];
  hangs: { cls: string; chunk: number; index: number }[];
}

export function emptyTally(): Tally {
  return { inputs: 0, byClass: {}, wire: {}, slowest: {}, crashes: [], unlocated: [], hangs: [] };
}

export function add(t: Tally, o: Outcome, chunk: number, index: number) {
  t.inputs++;
  const c = (t.byClass[o.cls] ??= {});
  const kind = o.kind === 'rejected' && !o.located ? 'rejected-unlocated' : o.kind;
  c[kind] = (c[kind] ?? 0) + 1;
  if (o.wire) t.wire[o.wire] = (t.wire[o.wire] ?? 0) + 1;
  t.slowest[o.cls] = Math.max(t.slowest[o.cls] ?? 0, Math.round(o.ms));
  if (o.kind === 'crash' && t.crashes.length < 50) t.crashes.push({ cls: o.cls, chunk, index, detail: o.detail ?? '' });
  if (o.kind === 'rejected' && !o.located && t.unlocated.length < 50) t.unlocated.push({ cls: o.cls, chunk, index, detail: o.detail ?? '' });
}

export function merge(a: Tally, b: Tally): Tally {
  const out = emptyTally();
  out.inputs = a.inputs + b.inputs;
  for (const t of [a, b]) {
    for (const [cls, kinds] of Object.entries(t.byClass)) for (const [k, n] of Object.entries(kinds)) (out.byClass[cls] ??= {})[k] = ((out.byClass[cls] ??= {})[k] ?? 0) + n;
    for (const [k, n] of Object.entries(t.wire)) out.wire[k] = (out.wire[k] ?? 0) + n;
    for (const [k, n] of Object.entries(t.slowest)) out.slowest[k] = Math.max(out.slowest[k] ?? 0, n);
    out.crashes.push(...t.crashes);
    out.unlocated.push(...t.unlocated);
    out.hangs.push(...t.hangs);
  }
  return out;
}
