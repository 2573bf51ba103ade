// Kill tests (a short version of bench/kill.ts, whose 60+ trials are in bench/records/kill.md):
// SIGKILL to the npx launcher of `fpsim oracle` and to its whole process group while helpers
// and mounts are live leaves no process, mount namespace, host mount or directory (the node
// process itself: test/oracle.test.ts).
import { describe, expect, it } from 'vitest';
import { availability } from '../oracle/transport.ts';
import { KILL_SCENARIOS, killTrial } from '../oracle/killtest.ts';
import { withRealKernelLock } from './real-kernel-lock.ts';

const avail = availability();

describe.skipIf(!avail.ok)('SIGKILL during fpsim oracle leaves nothing', () => {
  for (const target of ['launcher', 'group'] as const) {
    it(`to the ${target}`, async () => {
      const r = await withRealKernelLock(() => killTrial(target, 0, KILL_SCENARIOS, 'SIGKILL', 0, { afterHelpers: 400 }));
      expect(r.finishedFirst).toBe(false);
      // the kill came while the run was making mounts (a helper may be between scenarios at that instant)
      expect(r.helpersSeen).toBeGreaterThan(0);
      expect(r.leftovers).toEqual({ processes: [], namespaces: [], mounts: [], dirs: [] });
      expect(r.goneMs).toBeGreaterThanOrEqual(0);
    });
  }
});
