// Builds the bridge's native pieces with gcc on first use (never at install
// time), into bridge/native/build/ (gitignored), like oracle/native/build.ts:
//   fpsim-bridge     the process that runs a FUSE server and relays it to Node
//   fpsim-preload.so the LD_PRELOAD shim inside the server that catches its
//                    /dev/fuse ioctls and opens
// A product is rebuilt when any of its sources (its .c and the shared header)
// is newer. Each compiles to a temporary name and is renamed into place, so
// concurrent test workers never run a half-written file.
// Run directly to prebuild: `npx tsx bridge/native/build.ts`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
export const BRIDGE_NATIVE_BUILD_DIR = join(HERE, 'build');

export type BridgeNative = 'fpsim-bridge' | 'fpsim-preload.so';

interface Recipe {
  source: string;
  flags: readonly string[];
  libs: readonly string[];
}

const COMMON = ['-O2', '-g', '-std=gnu11', '-Wall', '-Wextra'];
const HEADER = join(HERE, 'fpsim-bridge.h');
const RECIPES: Record<BridgeNative, Recipe> = {
  'fpsim-bridge': { source: join(HERE, 'fpsim-bridge.c'), flags: COMMON, libs: [] },
  // Interposes open/ioctl by name, so no fortify wrappers may redefine them.
  'fpsim-preload.so': {
    source: join(HERE, 'fpsim-preload.c'),
    flags: [...COMMON, '-shared', '-fPIC', '-U_FORTIFY_SOURCE', '-D_FORTIFY_SOURCE=0'],
    libs: ['-ldl', '-pthread'],
  },
};

export function bridgeNativePath(what: BridgeNative): string {
  return join(BRIDGE_NATIVE_BUILD_DIR, what);
}

function upToDate(what: BridgeNative): boolean {
  const out = bridgeNativePath(what);
  if (!existsSync(out)) return false;
  const built = statSync(out).mtimeMs;
  return [RECIPES[what].source, HEADER].every((src) => statSync(src).mtimeMs <= built);
}

let gccCache: boolean | undefined;
export function gccAvailable(): boolean {
  if (gccCache === undefined) {
    const r = spawnSync('gcc', ['--version'], { stdio: 'ignore' });
    gccCache = r.error === undefined && r.status === 0;
  }
  return gccCache;
}

/** The path of an up-to-date build of `what`, compiling it if needed. */
export function ensureBridgeNative(what: BridgeNative): string {
  const out = bridgeNativePath(what);
  if (upToDate(what)) return out;
  const recipe = RECIPES[what];
  if (!gccAvailable()) {
    throw new Error(`fpsim bridge: gcc is needed to build ${what} from ${recipe.source} but was not found on PATH`);
  }
  mkdirSync(BRIDGE_NATIVE_BUILD_DIR, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}-${Date.now()}`;
  const r = spawnSync('gcc', [...recipe.flags, '-o', tmp, recipe.source, ...recipe.libs], { encoding: 'utf8' });
  if (r.error !== undefined || r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`fpsim bridge: compiling ${what} failed:\n${r.error !== undefined ? r.error.message : r.stderr}`);
  }
  renameSync(tmp, out);
  return out;
}

/** Both products: the bridge and the shim it preloads into the server. */
export function ensureBridgeBuilt(): { bridge: string; preload: string } {
  return { bridge: ensureBridgeNative('fpsim-bridge'), preload: ensureBridgeNative('fpsim-preload.so') };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const built = ensureBridgeBuilt();
  console.log(`fpsim-bridge: ${built.bridge}\nfpsim-preload.so: ${built.preload}`);
}
