// Command-line values, parsed strictly and in one place: every number flag of every command
// goes through intArg (an integer written in decimal digits, within the flag's range, named
// in the message), and every output path through checkOutputFile/checkOutputDir before any
// work starts, so a typo costs nothing and a long run is never lost at the end.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { InputError } from '../sim/scenario/load.ts';

export interface IntRange {
  min: number;
  max: number;
  /** what the number is, for the message: "a seed", "a number of runs" */
  what?: string;
  /** why the bound is there, when it is not obvious */
  why?: string;
}

/** Parse `v` as an integer in [min, max]; the message names the flag and the range. */
export function parseInt_(flag: string, v: string, r: IntRange): number {
  const s = v.trim();
  const range = `${r.min} to ${r.max}`;
  const what = r.what ?? 'an integer';
  if (!/^[+-]?\d+$/.test(s)) throw new InputError(`${flag}: expected ${what} from ${range} (decimal digits only), got ${JSON.stringify(v)}`);
  const n = Number(s);
  // a number past 2^53 may have been rounded: compare the digits, not the double
  if (!Number.isSafeInteger(n) || n < r.min || n > r.max) {
    throw new InputError(`${flag}: ${s} is outside ${range}${r.why ? ` (${r.why})` : ''}`);
  }
  return n;
}

/** A commander argument parser for an integer flag (the error becomes exit 2 with the message). */
export function intArg(flag: string, r: IntRange) {
  return (v: string): number => {
    try {
      return parseInt_(flag, v, r);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
  };
}

/** An optional integer flag already read as a string (commands that parse after the fact). */
export function optInt(flag: string, v: string | undefined, r: IntRange): number | undefined {
  return v === undefined ? undefined : parseInt_(flag, v, r);
}

/** fast-check seeds are 32-bit: 0..2^32-1 each name a distinct campaign; nothing wraps. */
export const SEED: IntRange = { min: 0, max: 2 ** 32 - 1, what: 'a seed', why: 'fast-check seeds are 32-bit' };
/** A campaign's size: a billion programs is days of work; more is a typo. */
export const RUNS: IntRange = { min: 1, max: 1_000_000_000, what: 'a number of runs', why: 'bound the time with --max-seconds instead' };
/** A time budget in milliseconds: up to a day. */
export const MS: IntRange = { min: 0, max: 86_400_000, what: 'milliseconds', why: 'at most a day' };
/** A time budget in seconds: up to a week. */
export const SECONDS: IntRange = { min: 1, max: 7 * 86_400, what: 'seconds', why: 'at most a week' };

/** --workers: one thread per core at most (more only adds memory and switching). */
export function workersRange(): IntRange {
  const cores = availableParallelism();
  return { min: 1, max: cores, what: 'a number of worker threads', why: `this machine has ${cores} core${cores === 1 ? '' : 's'}` };
}

/** The file `file` (an output of `flag`) can be created: its directory exists and is writable. */
export function checkOutputFile(flag: string, file: string, opts: { force?: boolean; mayExist?: boolean } = {}) {
  if (file === '') throw new InputError(`${flag}: expected a file name, got ""`);
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) throw new InputError(`${flag} ${file}: cannot write: is a directory`);
    if (!opts.force && !opts.mayExist) throw new InputError(`${flag} ${file}: already exists (use --force to overwrite it)`);
  }
  checkWritableDir(flag, file, dirname(resolve(file)));
}

/** The directory `dir` (an output of `flag`) exists and is writable, or can be made. */
export function checkOutputDir(flag: string, dir: string) {
  if (dir === '') throw new InputError(`${flag}: expected a directory, got ""`);
  let d = resolve(dir);
  // the nearest existing ancestor must be a writable directory (the rest is made)
  while (!existsSync(d)) {
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  checkWritableDir(flag, dir, d);
}

function checkWritableDir(flag: string, target: string, dir: string) {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new InputError(`${flag} ${target}: cannot write: no directory ${dir}`);
  }
  if (!st.isDirectory()) throw new InputError(`${flag} ${target}: cannot write: ${dir} is not a directory`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new InputError(`${flag} ${target}: cannot write: the directory ${dir} is not writable`);
  }
}
