// Mutation testing of the properties under a CI budget: every seeded bug of
// sim/kernel/mutants.ts must be killed (a violation, a deadlock or a bad outcome that the
// same program does not show without the bug). A survivor means the properties are too weak:
// add a generator, an outcome property or a hand-made program; never weaken the mutant.
import { describe, expect, it } from 'vitest';
import { MUTANT_NAMES } from '../sim/kernel/mutants.ts';
import { runMutants } from './mutants.ts';
import { envInt } from './property.ts';

const SEED = envInt('FPSIM_SEED', 1);

describe('every mutant is killed', () => {
  for (const id of MUTANT_NAMES) {
    it(id, () => {
      const rep = runMutants({ seed: SEED, only: [id], timeLimitMs: 20_000, shrinkMs: 300 });
      const r = rep.mutants[0]!;
      expect(r.killed, `${id} survived ${r.runs} programs (${r.ms} ms): the properties do not see this bug`).toBe(true);
      expect(r.steps).toBeGreaterThan(0);
    });
  }
});
