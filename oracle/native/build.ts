// Builds the oracle's native helpers with gcc on first use (never at install
// time), into oracle/native/build/ (gitignored). A binary is rebuilt when its
// C source is newer. Run directly to prebuild: `npx tsx oracle/native/build.ts`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type NativeTool = 'fpsim-fuse-helper' | 'fpsim-user';
export const NATIVE_TOOLS: readonly NativeTool[] = ['fpsim-fuse-helper', 'fpsim-user'];

const HERE = dirname(fileURLToPath(import.meta.url));
export const NATIVE_SOURCE_DIR = HERE;
export const NATIVE_BUILD_DIR = join(HERE, 'build');

const CFLAGS = ['-O2', '-g', '-std=gnu11', '-Wall', '-Wextra'];

export function sourcePath(tool: NativeTool): string {
  return join(NATIVE_SOURCE_DIR, `${tool}.c`);
}

export function binaryPath(tool: NativeTool): string {
  return join(NATIVE_BUILD_DIR, tool);
}

/** True when the binary exists and is at least as new as its source. */
export function isUpToDate(tool: NativeTool): boolean {
  const bin = binaryPath(tool);
  if (!existsSync(bin)) return false;
  return statSync(bin).mtimeMs >= statSync(sourcePath(tool)).mtimeMs;
}

let gccCache: boolean | undefined;
export function gccAvailable(): boolean {
  if (gccCache === undefined) {
    const r = spawnSync('gcc', ['--version'], { stdio: 'ignore' });
    gccCache = r.error === undefined && r.status === 0;
  }
  return gccCache;
}

/**
 * Returns the path of an up-to-date binary, compiling it if needed. Compiles
 * to a temporary name and renames, so concurrent test workers never see a
 * half-written binary.
 */
export function ensureBuilt(tool: NativeTool): string {
  const bin = binaryPath(tool);
  if (isUpToDate(tool)) return bin;
  if (!gccAvailable()) {
    throw new Error(
      `fpsim oracle: gcc is needed to build ${tool} from ${sourcePath(tool)} but was not found on PATH ` +
        `(install it, e.g. apt-get install gcc)`,
    );
  }
  mkdirSync(NATIVE_BUILD_DIR, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}-${Date.now()}`;
  const r = spawnSync('gcc', [...CFLAGS, '-o', tmp, sourcePath(tool)], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    rmSync(tmp, { force: true });
    const why = r.error !== undefined ? r.error.message : r.stderr;
    throw new Error(`fpsim oracle: compiling ${tool} failed:\n${why}`);
  }
  renameSync(tmp, bin);
  return bin;
}

export function ensureAllBuilt(): Record<NativeTool, string> {
  return { 'fpsim-fuse-helper': ensureBuilt('fpsim-fuse-helper'), 'fpsim-user': ensureBuilt('fpsim-user') };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [tool, path] of Object.entries(ensureAllBuilt())) console.log(`${tool}: ${path}`);
}
