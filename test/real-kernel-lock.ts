// A lock across test files (vitest runs files in parallel) for tests that need the real-kernel
// helpers to themselves for a moment: a helper that starts sweeps the stale mounts of dead
// helpers, so a test that leaves a stale mount on purpose and looks at it must not overlap
// with another file starting helpers. mkdir is atomic; a lock whose owner died is taken over.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LOCK = join(tmpdir(), 'fpsim-real-kernel-tests.lock');

function ownerAlive(): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
  } catch {
    // no pid file yet: its owner made the directory and is writing it, unless that was long ago
    try {
      return Date.now() - statSync(LOCK).mtimeMs < 10_000;
    } catch {
      return false; // the lock itself is gone
    }
  }
  if (!pid) return true; // being written: assume alive
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Runs fn while holding the lock (waits for it up to timeoutMs). */
export async function withRealKernelLock<T>(fn: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (!ownerAlive()) {
        rmSync(LOCK, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${LOCK}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}
