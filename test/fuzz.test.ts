// A fixed-seed slice of the fuzz campaign (npm run fuzz runs the long one, bench/records/fuzz.md):
// generated bad scenarios, traces, command lines and FUSE replies each end in exit 0, 1 or 2
// (the model kernel answers a reply with an errno), never with a stack trace, every rejection
// says where, and every input ends within a time bound.
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Fuzzer, type FuzzClass, type Outcome } from '../fuzz/harness.ts';
import { CLASSES, chunkInputs, runOne } from '../fuzz/campaign.ts';

const SEED = 20_251;
const PER_CLASS = 120;
const fz = new Fuzzer(join(tmpdir(), `fpsim-fuzz-test-${process.pid}`));
afterAll(() => fz.close());

describe('fuzz slice (fixed seed)', () => {
  for (const cls of CLASSES as FuzzClass[]) {
    it(`${PER_CLASS} generated bad ${cls} inputs: no crash, every rejection located, each under 10 s`, async () => {
      const inputs = chunkInputs(cls, SEED, 0).slice(0, PER_CLASS);
      const bad: Outcome[] = [];
      const kinds: Record<string, number> = {};
      for (const input of inputs) {
        const o = await runOne(fz, cls, input);
        kinds[o.kind] = (kinds[o.kind] ?? 0) + 1;
        if (o.kind === 'crash' || !o.located || o.ms > 10_000) bad.push({ ...o, detail: `${o.detail ?? ''}\ninput: ${JSON.stringify(input).slice(0, 500)}` });
      }
      expect(bad.map((o) => `${o.kind} (${Math.round(o.ms)} ms): ${o.detail}`)).toEqual([]);
      // the slice reaches the interesting outcomes, not only rejections
      if (cls === 'scenario' || cls === 'trace') expect(kinds['rejected']).toBeGreaterThan(PER_CLASS / 2);
    });
  }
});
