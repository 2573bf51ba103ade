import { describe, expect, it } from 'vitest';
import { stepRates } from '../bench/harness.ts';

describe('bench harness', () => {
  it('runs on a tiny input and measures every configuration', () => {
    const rates = stepRates(2, 2, 1);
    expect(rates.map((r) => r.label)).toHaveLength(4);
    for (const r of rates) {
      expect(r.passed).toBe(true);
      expect(r.steps).toBeGreaterThan(20);
      expect(r.stepsPerSec).toBeGreaterThan(0);
    }
    // the same program takes the same number of steps whatever is measured
    expect(new Set(rates.map((r) => r.steps)).size).toBe(1);
  });
});
