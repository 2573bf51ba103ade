// The sections of bench/RESULTS.md that a bench script of their own measures: each is a file
// (STARTUP.md, EXPLORE-CPU.md, SPIN-GROWTH.md) set under a heading of RESULTS.md. The script
// that measures writes its file and puts the section in; bench/run.ts carries every section
// over when it rewrites RESULTS.md, so neither file is edited by hand.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const RESULTS_FILE = fileURLToPath(new URL('./RESULTS.md', import.meta.url));

export interface CarriedSection {
  /** the file the bench script writes */
  file: string;
  heading: string;
  /** where a section not yet in RESULTS.md goes: before this heading (null: at the end) */
  before: string | null;
  /** the command and script that measure it, for the line under it */
  from: string;
}

const at = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url));

export const STARTUP: CarriedSection = {
  file: at('STARTUP.md'),
  heading: '## Start-up: `fpsim list`, before and after compiling at pack time',
  before: null,
  from: '`npm run bench:startup`, bench/startup.ts',
};
export const EXPLORE_CPU: CarriedSection = {
  file: at('EXPLORE-CPU.md'),
  heading: '## The explorer before and after issue 13, in CPU time',
  before: '## Side by side with SPIN',
  from: '`npm run bench:explore`, bench/explore-cpu.ts',
};
export const SPIN_GROWTH: CarriedSection = {
  file: at('SPIN-GROWTH.md'),
  heading: '## Versus SPIN on the growth family: 3, 4 and 5 tasks (bench/spin/growth.pml)',
  before: '## Start-up',
  from: '`npm run bench:spin-growth`, bench/spin-growth.ts',
};

/** The section's lines (none when its file was never written); the file's own title gives way to the heading. */
export function sectionLines(s: CarriedSection): string[] {
  if (!existsSync(s.file)) return [];
  const body = readFileSync(s.file, 'utf8').trimEnd().split('\n');
  const rest = body[0]?.startsWith('#') ? body.slice(1) : body;
  const name = s.file.slice(s.file.lastIndexOf('/') + 1);
  return [s.heading, ...rest, '', `From bench/${name} (${s.from}).`, ''];
}

/** RESULTS.md's text with the section replaced, or put where it goes. */
export function withSection(results: string, s: CarriedSection): string {
  const section = sectionLines(s);
  if (!section.length) return results;
  const text = section.join('\n');
  const start = results.indexOf(`${s.heading}\n`);
  if (start >= 0) {
    const next = results.indexOf('\n## ', start + s.heading.length);
    const tail = next < 0 ? '' : results.slice(next + 1);
    return `${results.slice(0, start)}${text}${tail ? `\n${tail}` : ''}`;
  }
  const where = s.before === null ? -1 : results.indexOf(s.before);
  if (where < 0) return `${results.trimEnd()}\n\n${text}`;
  return `${results.slice(0, where)}${text}\n${results.slice(where)}`;
}

/** Write the measured file and put its section into RESULTS.md. */
export function writeSection(s: CarriedSection, lines: string[]) {
  writeFileSync(s.file, `${lines.join('\n')}\n`);
  writeFileSync(RESULTS_FILE, withSection(readFileSync(RESULTS_FILE, 'utf8'), s));
}

/**
 * The sections of the old RESULTS.md this script does not write (measured by hand or by a
 * script of their own, e.g. the architecture change's before/after, fpsim server's runs) are
 * kept: each goes back after the section it followed, or at the end. Nothing written there by
 * someone else is lost when the file is made anew.
 */
export function keepOtherSections(old: string, made: string): string {
  const split = (t: string) => t.split(/\n(?=## )/);
  // a section is known by its heading up to any parenthesis (which may carry the run's parameters)
  const heading = (sec: string) => sec.slice(0, sec.indexOf('\n') < 0 ? sec.length : sec.indexOf('\n')).split(' (')[0]!;
  const parts = split(made);
  const have = new Set(parts.map(heading));
  const oldParts = split(old).filter((sec) => sec.startsWith('## '));
  let after = '';
  for (const sec of oldParts) {
    const h = heading(sec);
    if (have.has(h)) {
      after = h;
      continue;
    }
    const at = parts.findIndex((x) => heading(x) === after);
    parts.splice(at < 0 ? parts.length : at + 1, 0, sec.trimEnd() + '\n');
    have.add(h);
    after = h;
  }
  return parts.map((x) => x.trimEnd()).join('\n\n') + '\n';
}
