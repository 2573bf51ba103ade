// The explorer's before/after section of bench/RESULTS.md: bench/EXPLORE-CPU.md (npm run
// bench:explore) carried into RESULTS.md, as startup-section.ts does for the start-up
// numbers: bench/explore-cpu.ts puts it in when it measures, bench/run.ts keeps it when it
// rewrites RESULTS.md, so neither file is edited by hand.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const EXPLORE_CPU_FILE = fileURLToPath(new URL('./EXPLORE-CPU.md', import.meta.url));
export const EXPLORE_CPU_HEADING = '## The explorer before and after issue 13, in CPU time';
/** the section goes before this one (or at the end) */
const BEFORE = '## Side by side with SPIN';

/** The section's lines (none when EXPLORE-CPU.md was never written). */
export function exploreCpuSection(): string[] {
  if (!existsSync(EXPLORE_CPU_FILE)) return [];
  const body = readFileSync(EXPLORE_CPU_FILE, 'utf8').trimEnd().split('\n');
  const rest = body[0] === EXPLORE_CPU_HEADING ? body.slice(1) : body;
  return [EXPLORE_CPU_HEADING, ...rest, '', 'From bench/EXPLORE-CPU.md (`npm run bench:explore`, bench/explore-cpu.ts).', ''];
}

/** RESULTS.md's text with the section replaced (or put before the SPIN section, or at the end). */
export function withExploreCpuSection(results: string): string {
  const section = exploreCpuSection();
  if (!section.length) return results;
  const text = section.join('\n');
  const start = results.indexOf(`${EXPLORE_CPU_HEADING}\n`);
  if (start >= 0) {
    const next = results.indexOf('\n## ', start + EXPLORE_CPU_HEADING.length);
    const tail = next < 0 ? '' : results.slice(next + 1);
    return `${results.slice(0, start)}${text}${tail ? `\n${tail}` : ''}`;
  }
  const at = results.indexOf(`${BEFORE}`);
  if (at < 0) return `${results.trimEnd()}\n\n${text}`;
  return `${results.slice(0, at)}${text}\n${results.slice(at)}`;
}
