// Recording a run as a trace, and writing it to a file atomically: the text goes to a temp
// file in the same directory, is fsynced, then takes the file's name in one step (link(2),
// which refuses to replace an existing file, or rename(2) with --force). A reader never sees
// half a trace, and a failed write leaves nothing behind.
import { accessSync, closeSync, constants, existsSync, fsyncSync, linkSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../scenario/load.ts';
import type { Scenario } from '../scenario/schema.ts';
import { runScenario, type ScenarioResult } from '../scenario/run-scenario.ts';
import { TRACE_VERSION, serializeTrace, traceStep, traceViolation, type Trace } from './format.ts';

export interface RecordOptions {
  kernel?: string;
  mutants?: string[];
}

/** Run a scenario with every step recorded, and the exact schedule (every task picked). */
export function recordTrace(s: Scenario, opts: RecordOptions = {}): { trace: Trace; result: ScenarioResult } {
  const scenario = structuredClone(s);
  const schedule: string[] = [];
  const result = runScenario(s, { ...opts, record: true, onPick: (task) => schedule.push(task) });
  return { trace: traceOf(scenario, result, schedule), result };
}

/** The trace of a recorded run: its scenario (as given), every step, the exact schedule. */
export function traceOf(scenario: Scenario, result: ScenarioResult, schedule: string[]): Trace {
  return {
    fpsimTrace: TRACE_VERSION,
    scenario,
    kernel: result.world.profile,
    mutants: [...result.world.mutants],
    schedule,
    steps: result.steps.map((st) => traceStep(st.rec, st.phase)),
    violations: result.violations.map(traceViolation),
    passed: result.passed,
  };
}

function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOENT':
      return 'no such directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return err.code ?? err.message;
  }
}

const exists = (file: string) => new InputError(`${file}: already exists (use --force to overwrite it)`);

/** Fail early, before anything runs, if the trace could not be written there. */
export function checkTraceTarget(file: string, force = false) {
  if (existsSync(file)) {
    if (!force) throw exists(file);
    if (statSync(file).isDirectory()) throw new InputError(`${file}: cannot write: is a directory`);
  }
  const dir = dirname(file);
  if (!existsSync(dir)) throw new InputError(`${file}: cannot write: no directory ${dir}`);
  if (!statSync(dir).isDirectory()) throw new InputError(`${file}: cannot write: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new InputError(`${file}: cannot write: the directory ${dir} is not writable`);
  }
}

let tmpSeq = 0;

/** Write a trace to `file`; an existing file is replaced only with force. */
export function writeTrace(file: string, trace: Trace, opts: { force?: boolean } = {}) {
  atomicWrite(file, serializeTrace(trace), opts);
}

/**
 * Write `text` to `file` atomically (temp file in the same directory, fsync, then link or
 * rename): never a half-written file, and an existing file is replaced only with force.
 */
export function atomicWrite(file: string, text: string, opts: { force?: boolean } = {}) {
  const force = opts.force ?? false;
  checkTraceTarget(file, force);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${tmpSeq++}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o644);
    const buf = Buffer.from(text, 'utf8');
    for (let off = 0; off < buf.length; ) off += writeSync(fd, buf, off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (force) renameSync(tmp, file);
    else {
      try {
        linkSync(tmp, file); // fails with EEXIST rather than replace a file written meanwhile
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw exists(file);
        // file systems without hard links: check, then rename
        if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EMLINK'].includes(code ?? '')) throw e;
        if (existsSync(file)) throw exists(file);
        renameSync(tmp, file);
      }
    }
    syncDir(dirname(file));
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    if (e instanceof InputError) throw e;
    throw new InputError(`${file}: cannot write: ${why(e)}`);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/** Make the new name durable (best effort: not every platform can open a directory). */
function syncDir(dir: string) {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // nothing to do
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
