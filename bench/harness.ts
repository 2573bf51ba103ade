// The benchmark measurements, callable on tiny inputs from a test.
import { ScenarioSchema } from '../sim/scenario/schema.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { longProgram } from './workload.ts';

export interface StepRate {
  label: string;
  steps: number;
  ms: number;
  stepsPerSec: number;
  passed: boolean;
}

/** Simulated atomic steps per second for one configuration (best of `repeat`). */
export function stepRate(label: string, users: number, rounds: number, check: boolean, record: boolean, repeat: number): StepRate {
  const s = ScenarioSchema.parse(longProgram(users, rounds));
  let best = Infinity;
  let steps = 0;
  let passed = true;
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const r = runScenario(s, { check, record });
    const ms = performance.now() - t0;
    steps = r.world.step;
    passed &&= r.passed;
    best = Math.min(best, ms);
  }
  return { label, steps, ms: best, stepsPerSec: Math.round((steps / best) * 1000), passed };
}

export function stepRates(users: number, rounds: number, repeat: number): StepRate[] {
  return [
    stepRate('checks off, no trace', users, rounds, false, false, repeat),
    stepRate('checks off, trace recorded', users, rounds, false, true, repeat),
    stepRate('invariants checked every step, no trace', users, rounds, true, false, repeat),
    stepRate('invariants checked every step, trace recorded', users, rounds, true, true, repeat),
  ];
}
