// Run the fpsim CLI as a child process, as a user would (tsx, from the repository root).
import { execFile } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `fpsim <args>`; env adds to this process's environment, and a key set to undefined is removed. */
export function runFpsim(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  const e: Record<string, string | undefined> = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete e[k];
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'cli', 'main.ts'), ...args], { cwd: ROOT, env: e, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}
