// How the fpsim process ends when it is told to, or when it is left alone: a signal (SIGINT,
// SIGTERM, SIGHUP) runs the registered stop hooks (the oracle ends its helpers, and so its
// mounts) and exits with 128 + the signal's number; a parent that dies (the npm or shell in
// front of `npx fpsim`, SIGKILLed) is noticed within a quarter second by watching
// process.ppid, and ends fpsim the same way (as SIGHUP), so no fpsim is left running as an
// orphan. Installed by cli/main.ts for the process only: in-process callers (tests, the
// fuzzer) keep their own.
import { constants } from 'node:os';

type Hook = () => Promise<void>;
const hooks = new Set<Hook>();
let stopping = false;

/** Run `fn` before the process stops on a signal or on its parent's death; returns an unregister. */
export function onStop(fn: Hook): () => void {
  hooks.add(fn);
  return () => hooks.delete(fn);
}

async function stop(signo: number, why: string) {
  if (stopping) return;
  stopping = true;
  if (process.env['FPSIM_DEBUG_STOP']) process.stderr.write(`fpsim: stopping: ${why}\n`);
  const all = Promise.all([...hooks].map((h) => h().catch(() => {})));
  // a hook that hangs must not keep us: 5 s, then go anyway
  await Promise.race([all, new Promise((r) => setTimeout(r, 5_000).unref())]);
  process.exit(128 + signo);
}

export function installProcessGuards(pollMs = 250) {
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => void stop(constants.signals[sig], sig));
  }
  const parent = process.ppid;
  // ppid 1: started by init (or its parent already gone): nothing to watch
  if (parent > 1) {
    setInterval(() => {
      if (process.ppid !== parent) void stop(constants.signals.SIGHUP, `parent ${parent} died`);
    }, pollMs).unref();
  }
}
