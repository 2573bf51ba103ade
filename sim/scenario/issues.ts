// Zod's issues as rejections a person can act on: where (a JSON path), what was expected
// (the allowed values, the range, the type) and what was there instead. Zod's own messages
// for unions ("Invalid input") say neither, so unions are described from their branches.
import type { z } from 'zod';

type Issue = z.core.$ZodIssue;
type Path = readonly PropertyKey[];

export function jsonPath(path: Path): string {
  let s = '$';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(String(p)) ? `.${String(p)}` : `[${JSON.stringify(String(p))}]`;
  return s;
}

/** The value at `path` inside `root`, or undefined. */
function at(root: unknown, path: Path): unknown {
  let v = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k as string];
  }
  return v;
}

/** A value as a message shows it: short, one line. */
export function show(v: unknown): string {
  if (v === undefined) return 'nothing (the key is missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters ("${v.slice(0, 24)}...")` : JSON.stringify(v);
  if (typeof v === 'number' && !Number.isInteger(v)) return `${v} (not an integer)`;
  return String(v);
}

function list(values: readonly unknown[], max = 200): string {
  const shown = values.slice(0, max).map((x) => JSON.stringify(x));
  return `${shown.join(', ')}${values.length > max ? `, ... (${values.length} in all)` : ''}`;
}

const ZOD_DEFAULT = /^(Invalid input|Invalid option|Invalid discriminator|Too (big|small)|Unrecognized key|Invalid string|Invalid element|Invalid key)/;

function typeName(expected: string): string {
  switch (expected) {
    case 'int':
      return 'an integer';
    case 'number':
      return 'a number';
    case 'string':
      return 'a string';
    case 'boolean':
      return 'true or false';
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    case 'record':
      return 'an object';
    default:
      return expected;
  }
}

/** What one issue expected, without where (for a union's branches). */
function expectation(i: Issue): string {
  switch (i.code) {
    case 'invalid_type':
      return typeName(i.expected);
    case 'invalid_value':
      return i.values.length === 1 ? JSON.stringify(i.values[0]) : `one of ${list(i.values)}`;
    case 'invalid_format':
      return ZOD_DEFAULT.test(i.message) ? `a string of format ${i.format}` : i.message;
    case 'too_big':
      return `at most ${String(i.maximum)}`;
    case 'too_small':
      return `at least ${String(i.minimum)}`;
    default:
      return i.message;
  }
}

/** One issue as "what was expected, what was there" (the caller adds where). */
function describe(i: Issue, input: unknown, base: Path): { path: Path; text: string } {
  const path = [...base, ...i.path];
  const got = () => at(input, path);
  switch (i.code) {
    case 'invalid_union': {
      if ('discriminator' in i && i.discriminator) {
        const opts = (i as { options?: unknown[] }).options ?? [];
        return { path, text: `expected one of ${list(opts)}, got ${show(got())}` };
      }
      // a branch whose type matched: its own issue says what is wrong (e.g. out of range)
      const typed = i.errors.filter((b) => b.length > 0 && !(b[0]!.code === 'invalid_type' && b[0]!.path.length === 0));
      if (typed.length === 1) {
        const inner = typed[0]!.slice().sort((a, b) => b.path.length - a.path.length)[0]!;
        return describe(inner, input, path);
      }
      const want = ZOD_DEFAULT.test(i.message) ? [...new Set(i.errors.map((b) => (b[0] ? expectation(b[0]) : '?')))].join(' or ') : i.message;
      return { path, text: `expected ${want}, got ${show(got())}` };
    }
    case 'invalid_type':
      return { path, text: `expected ${typeName(i.expected)}, got ${show(got())}` };
    case 'invalid_value': {
      const v = got();
      const near = typeof v === 'string' ? closest(v, i.values.filter((x): x is string => typeof x === 'string')) : null;
      const hint = near ? ` (did you mean ${JSON.stringify(near)}?)` : '';
      return { path, text: `expected ${i.values.length === 1 ? JSON.stringify(i.values[0]) : `one of ${list(i.values)}`}, got ${show(v)}${hint}` };
    }
    case 'invalid_format':
      return { path, text: `expected ${expectation(i)}, got ${show(got())}` };
    case 'too_big':
    case 'too_small': {
      const origin = (i as { origin?: string }).origin;
      const bound = i.code === 'too_big' ? `at most ${String(i.maximum)}` : `at least ${String(i.minimum)}`;
      const unit = origin === 'array' ? ' items' : origin === 'string' ? ' characters' : '';
      const v = got();
      const have = Array.isArray(v) ? `${v.length} items` : typeof v === 'string' ? `${v.length} characters` : show(v);
      return { path, text: `expected ${ZOD_DEFAULT.test(i.message) ? `${bound}${unit}` : i.message}, got ${have}` };
    }
    case 'unrecognized_keys':
      return { path, text: `unknown key${i.keys.length > 1 ? 's' : ''} ${list(i.keys, 8)} (misspelled, or not allowed here)` };
    case 'invalid_key':
      return { path, text: `a key that is not allowed here: ${i.issues[0] ? describe(i.issues[0], input, path).text : i.message}` };
    case 'invalid_element':
      return { path, text: i.issues[0] ? describe(i.issues[0], input, path).text : i.message };
    default:
      return { path, text: i.message };
  }
}

/** Inside a task's op: which task and op it is, by name (" (task \"user\", op read)"). */
function opName(input: unknown, path: Path): string {
  const k = path.indexOf('tasks');
  if (k < 0 || typeof path[k + 1] !== 'number' || path[k + 2] !== 'ops' || typeof path[k + 3] !== 'number') return '';
  const task = at(input, path.slice(0, k + 2)) as { name?: unknown } | undefined;
  const op = at(input, path.slice(0, k + 4)) as { op?: unknown } | undefined;
  const tn = typeof task?.name === 'string' ? `task "${task.name.slice(0, 40)}"` : `task ${String(path[k + 1])}`;
  const on = typeof op?.op === 'string' ? `, op ${JSON.stringify(op.op.slice(0, 20))}` : '';
  return ` (${tn}${on})`;
}

/** The issues as lines "  at $.path: expected ..., got ..." (at most `max`, then a count). */
export function formatIssues(issues: readonly Issue[], input: unknown, base: Path = [], max = 8): string[] {
  const lines = issues.slice(0, max).map((i) => {
    const d = describe(i, input, base);
    return `  at ${jsonPath(d.path)}${opName(input, d.path)}: ${d.text}`;
  });
  if (issues.length > max) lines.push(`  ... and ${issues.length - max} more`);
  return lines;
}

/** The allowed value nearest to a misspelling (at most 2 edits, case aside), or null. */
function closest(v: string, options: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const o of options) {
    const d = editDistance(v.toUpperCase(), o.toUpperCase(), bestD);
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best;
}

function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap || a.length > 64 || b.length > 64) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur.push(Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** Where the JSON breaks (line and column), and whether the file simply stops early. */
export function jsonProblem(text: string, message: string): string {
  if (text.trim() === '') return ': the file is empty';
  const m = /position (\d+)/.exec(message);
  const pos = m ? Number(m[1]) : /end of (json )?input/i.test(message) ? text.length : errorPosition(text);
  if (pos < 0) return `: ${message}`;
  const before = text.slice(0, pos).split('\n');
  const where = `line ${before.length}, column ${before.at(-1)!.length + 1}`;
  const cut = pos >= text.trimEnd().length ? ' (the file is cut short: was it written completely?)' : '';
  return ` at ${where}${cut}: ${message.replace(/ in JSON at position \d+.*$/s, '')}`;
}

/**
 * Where JSON.parse fails when its message does not say (V8: "Unexpected token 'x', ...context...
 * is not valid JSON"): the shortest prefix that fails for a reason other than ending early
 * (every longer prefix fails too), found by bisection. -1 if none.
 */
function errorPosition(text: string): number {
  const failsInside = (k: number): boolean => {
    try {
      JSON.parse(text.slice(0, k));
      return false;
    } catch (e) {
      const msg = (e as Error).message;
      if (/end of (json )?input/i.test(msg)) return false;
      const p = /position (\d+)/.exec(msg);
      return p ? Number(p[1]) < k : true;
    }
  };
  if (!failsInside(text.length)) return -1;
  let lo = 0;
  let hi = text.length; // failsInside(hi)
  while (lo + 1 < hi) {
    const mid = (lo + hi) >>> 1;
    if (failsInside(mid)) hi = mid;
    else lo = mid;
  }
  return hi - 1;
}

/** JSON.parse, less a leading byte-order mark (editors write one; JSON.parse refuses it). */
export function parseJsonText(text: string): unknown {
  return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
}
