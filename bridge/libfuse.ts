// libfuse's passthrough_hp, built from the third-party tarball at test time.
//
// The tarball (libfuse at a pinned commit; see ../shared/third_party/README.md)
// is other people's code: it is never copied into this repository, only
// unpacked and built in a cache directory:
//   $FPSIM_CACHE_DIR, else $XDG_CACHE_HOME/fpsim, else ~/.cache/fpsim
//     libfuse-<tarball sha256>/src/build/example/passthrough_hp
//     passthrough_hp-<variant>-<sha256 of the edited source>/passthrough_hp
// Each is built once. Builds go to a temporary directory that is renamed into
// place, so a reader never sees half a build; a lock file keeps concurrent
// vitest workers from all building the same thing (a stale lock, whose owner
// died, is taken over; if two builds race anyway, the first rename wins and
// the other is discarded).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const LIBFUSE_TARBALL_NAME = 'libfuse-3.19.0-rc0.tar.gz';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export type BuildResult = { ok: true; path: string; /** set when this call built it */ buildMs?: number } | { ok: false; reason: string };

/** Where builds are cached. */
export function cacheDir(): string {
  const env = process.env.FPSIM_CACHE_DIR;
  if (env) return env;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg ? xdg : join(homedir(), '.cache'), 'fpsim');
}

/**
 * The repository roots to look for ../shared/third_party/ from: this checkout
 * and, when it is a git worktree (a `.git` file pointing into the main
 * checkout's .git/worktrees/), the main checkout, which is where shared/ sits.
 */
function repoRoots(): string[] {
  const roots = [REPO_ROOT];
  try {
    const dotgit = join(REPO_ROOT, '.git');
    if (statSync(dotgit).isFile()) {
      const gitdir = /^gitdir:\s*(.+)$/m.exec(readFileSync(dotgit, 'utf8'))?.[1]?.trim();
      if (gitdir !== undefined) {
        const gd = resolve(REPO_ROOT, gitdir);
        const common = resolve(gd, readFileSync(join(gd, 'commondir'), 'utf8').trim());
        roots.push(dirname(common));
      }
    }
  } catch {
    // not a worktree (or an unusual layout): only this checkout
  }
  return roots;
}

/** The tarball: $FPSIM_LIBFUSE_TARBALL, else ../shared/third_party/ of the repo root. */
export function libfuseTarball(): { path: string } | { missing: string } {
  const env = process.env.FPSIM_LIBFUSE_TARBALL;
  if (env) return existsSync(env) ? { path: env } : { missing: `FPSIM_LIBFUSE_TARBALL=${env} does not exist` };
  const tried = repoRoots().map((r) => join(r, '..', 'shared', 'third_party', LIBFUSE_TARBALL_NAME));
  const found = tried.find((p) => existsSync(p));
  return found !== undefined
    ? { path: found }
    : { missing: `libfuse tarball not found (looked for ${tried.join(', ')}; set FPSIM_LIBFUSE_TARBALL)` };
}

const TOOLS: [cmd: string, why: string][] = [
  ['meson', 'meson (apt-get install meson)'],
  ['ninja', 'ninja (apt-get install ninja-build)'],
  ['cc', 'a C compiler, cc (apt-get install gcc)'],
  ['g++', 'g++ (apt-get install g++)'],
  ['tar', 'tar'],
];

function missingTool(): string | undefined {
  for (const [cmd, why] of TOOLS) {
    const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
    if (r.error !== undefined || r.status !== 0) return `${why} is not on PATH`;
  }
  return undefined;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs build() under `${target}.lock` unless `done()` is already true (or
 * becomes true while waiting for another process's build).
 */
function buildOnce(target: string, done: () => boolean, build: () => void, timeoutMs = 20 * 60_000): void {
  if (done()) return;
  mkdirSync(dirname(target), { recursive: true });
  const lock = `${target}.lock`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (done()) return;
    let owner = 0;
    try {
      owner = Number(readFileSync(lock, 'utf8').trim());
    } catch {
      continue; // removed meanwhile: try again
    }
    if (owner > 0 && !pidAlive(owner)) {
      rmSync(lock, { force: true }); // its builder died
      continue;
    }
    if (Date.now() > deadline) throw new Error(`fpsim: timed out waiting for ${lock} (held by pid ${owner})`);
    sleepSync(250);
  }
  try {
    if (!done()) {
      removeDeadBuilders(target);
      build();
    }
  } finally {
    rmSync(lock, { force: true });
  }
}

/** Temporary build directories (`<target>.tmp-<pid>-<time>`) left by builders that died. */
function removeDeadBuilders(target: string): void {
  const prefix = `${basename(target)}.tmp-`;
  for (const name of readdirSync(dirname(target))) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (pid > 0 && pid !== process.pid && !pidAlive(pid)) rmSync(join(dirname(target), name), { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], cwd: string, log: string[]): void {
  log.push(`$ (cd ${cwd} && ${cmd} ${args.join(' ')})`);
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  log.push(r.stdout ?? '', r.stderr ?? '');
  if (r.error !== undefined || r.status !== 0) {
    const tail = log.join('\n').split('\n').slice(-40).join('\n');
    throw new Error(`fpsim: ${cmd} failed (${r.error?.message ?? `exit ${r.status}`}):\n${tail}`);
  }
}

/** Renames tmp to final unless another builder got there first (then drops tmp). */
function publish(tmp: string, final: string): void {
  try {
    renameSync(tmp, final);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    rmSync(tmp, { recursive: true, force: true });
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
  }
}

interface BaseBuild {
  key: string;
  /** the unpacked, built source tree: <cache>/libfuse-<key>/src */
  src: string;
  bin: string;
}

function baseBuild(tarball: string): BaseBuild {
  const key = sha256(readFileSync(tarball)).slice(0, 16);
  const root = join(cacheDir(), `libfuse-${key}`);
  const src = join(root, 'src');
  return { key, src, bin: join(src, 'build', 'example', 'passthrough_hp') };
}

/**
 * Why passthrough_hp cannot be built here (no tarball, a missing tool), or
 * undefined if it can (or already is). Cheap: builds nothing.
 */
export function passthroughHpUnavailable(): string | undefined {
  const tb = libfuseTarball();
  if ('missing' in tb) return tb.missing;
  if (existsSync(baseBuild(tb.path).bin)) return undefined;
  return missingTool();
}

/**
 * The path of passthrough_hp built from the libfuse tarball, building it on
 * first use (about 30-50 s). `{ ok: false }` says why it cannot be built here
 * (no tarball, no meson/ninja/compiler), so tests can skip; a build that
 * starts and fails throws, with the end of its log.
 */
export function ensurePassthroughHp(): BuildResult {
  const tb = libfuseTarball();
  if ('missing' in tb) return { ok: false, reason: tb.missing };
  const base = baseBuild(tb.path);
  if (existsSync(base.bin)) return { ok: true, path: base.bin };
  const tool = missingTool();
  if (tool !== undefined) return { ok: false, reason: tool };
  const root = dirname(base.src);
  const t0 = Date.now();
  let built = false;
  buildOnce(
    root,
    () => existsSync(base.bin),
    () => {
      const tmp = `${root}.tmp-${process.pid}-${Date.now()}`;
      const log: string[] = [];
      try {
        mkdirSync(tmp, { recursive: true });
        run('tar', ['-xzf', tb.path, '-C', tmp], tmp, log);
        // The tarball holds one top directory (libfuse/); call it src/.
        const top = readdirSync(tmp).filter((n) => existsSync(join(tmp, n, 'meson.build')));
        if (top.length !== 1) throw new Error(`fpsim: expected one libfuse source directory in ${tb.path}, found ${top.length}`);
        renameSync(join(tmp, top[0]!), join(tmp, 'src'));
        const src = join(tmp, 'src');
        run('meson', ['setup', 'build', '-Dexamples=true', '-Dtests=false', '-Dutils=false'], src, log);
        // Only what we use: the library and this one example.
        run('ninja', ['-C', 'build', 'example/passthrough_hp'], src, log);
        writeFileSync(join(tmp, 'build.log'), log.join('\n'));
        publish(tmp, root);
        built = true;
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
    },
  );
  if (!existsSync(base.bin)) throw new Error(`fpsim: libfuse build finished but ${base.bin} is missing`);
  return built ? { ok: true, path: base.bin, buildMs: Date.now() - t0 } : { ok: true, path: base.bin };
}

/** The compile command meson recorded for example/passthrough_hp.cc, as argv (run in build/). */
function exampleCompileArgv(src: string): string[] {
  const db = JSON.parse(readFileSync(join(src, 'build', 'compile_commands.json'), 'utf8')) as {
    file: string;
    command: string;
  }[];
  const entry = db.find((e) => e.file.replace(/\\/g, '/').endsWith('example/passthrough_hp.cc'));
  if (entry === undefined) throw new Error('fpsim: passthrough_hp.cc is not in compile_commands.json');
  if (/["'\\]/.test(entry.command)) throw new Error(`fpsim: cannot split quoted compile command: ${entry.command}`);
  return entry.command.split(/\s+/).filter((s) => s !== '');
}

/**
 * Builds passthrough_hp from an edited copy of example/passthrough_hp.cc and
 * returns the binary's path. `edit` gets the pristine source and returns the
 * new one (see bridge/variants.ts; it should throw if its anchor text is not
 * there). Only that one file is compiled, with the exact flags meson used,
 * and linked against the base build's libfuse; the result is cached by the
 * edited text, so an unchanged variant is built once.
 */
export function buildPassthroughHpVariant(name: string, edit: (source: string) => string): string {
  const baseResult = ensurePassthroughHp();
  if (!baseResult.ok) throw new Error(`fpsim: cannot build variant ${name}: ${baseResult.reason}`);
  const tb = libfuseTarball();
  if ('missing' in tb) throw new Error(tb.missing);
  const base = baseBuild(tb.path);
  const original = readFileSync(join(base.src, 'example', 'passthrough_hp.cc'), 'utf8');
  const edited = edit(original);
  if (edited === original) throw new Error(`fpsim: variant ${name}: the edit changed nothing`);
  const safe = name.replace(/[^A-Za-z0-9_.-]/g, '_');
  const dir = join(cacheDir(), `passthrough_hp-${safe}-${sha256(`${base.key}\n${edited}`).slice(0, 16)}`);
  const bin = join(dir, 'passthrough_hp');
  buildOnce(
    dir,
    () => existsSync(bin),
    () => {
      const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
      const log: string[] = [];
      try {
        mkdirSync(tmp, { recursive: true });
        const source = join(tmp, 'passthrough_hp.cc');
        const obj = join(tmp, 'passthrough_hp.o');
        writeFileSync(source, edited);
        const buildDir = join(base.src, 'build');
        // meson's command, minus its dependency-file outputs (they would land in
        // the base build tree), compiling our copy into our directory. Its -I
        // flags are relative to build/ and still find libfuse's headers and
        // example/ (passthrough_helpers.h, cxxopts.hpp).
        const argv = exampleCompileArgv(base.src);
        const out: string[] = [];
        for (let i = 0; i < argv.length; i++) {
          const a = argv[i]!;
          if (a === '-MD') continue;
          if (a === '-MQ' || a === '-MF') {
            i++;
            continue;
          }
          if (a === '-o') {
            out.push('-o', obj);
            i++;
            continue;
          }
          if (a === '-c') {
            out.push('-c', source);
            i++;
            continue;
          }
          out.push(a);
        }
        const lib = readdirSync(join(buildDir, 'lib')).find((n) => /^libfuse3\.so\.\d+\.\d+\.\d+$/.test(n));
        if (lib === undefined) throw new Error(`fpsim: no libfuse3.so.X.Y.Z in ${join(buildDir, 'lib')}`);
        const [cxx, ...cflags] = out;
        run(cxx!, cflags, buildDir, log);
        run(
          cxx!,
          [
            '-o',
            join(tmp, 'passthrough_hp'),
            obj,
            '-Wl,--as-needed',
            '-Wl,--no-undefined',
            `-Wl,-rpath,${join(buildDir, 'lib')}`,
            join(buildDir, 'lib', lib),
            '-pthread',
            '-ldl',
            '-lrt',
          ],
          tmp,
          log,
        );
        rmSync(obj);
        writeFileSync(join(tmp, 'build.log'), log.join('\n'));
        publish(tmp, dir);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
    },
  );
  if (!existsSync(bin)) throw new Error(`fpsim: variant ${name} build finished but ${bin} is missing`);
  return bin;
}
