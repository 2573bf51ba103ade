// The growth family against SPIN (issue 13): bench/SPIN-GROWTH.md (npm run bench:spin-growth)
// carried into bench/RESULTS.md, as explore-cpu-section.ts does for the explorer's CPU
// numbers: bench/spin-growth.ts puts it in when it measures, bench/run.ts keeps it when it
// rewrites RESULTS.md, so neither file is edited by hand.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const SPIN_GROWTH_FILE = fileURLToPath(new URL('./SPIN-GROWTH.md', import.meta.url));
export const SPIN_GROWTH_HEADING = '## Versus SPIN on the growth family: 3, 4 and 5 tasks (bench/spin/growth.pml)';
/** the section goes before this one (or at the end) */
const BEFORE = '## Start-up';

/** The section's lines (none when SPIN-GROWTH.md was never written). */
export function spinGrowthSection(): string[] {
  if (!existsSync(SPIN_GROWTH_FILE)) return [];
  const body = readFileSync(SPIN_GROWTH_FILE, 'utf8').trimEnd().split('\n');
  const rest = body[0] === SPIN_GROWTH_HEADING ? body.slice(1) : body;
  return [SPIN_GROWTH_HEADING, ...rest, '', 'From bench/SPIN-GROWTH.md (`npm run bench:spin-growth`, bench/spin-growth.ts).', ''];
}

/** RESULTS.md's text with the section replaced (or put before the start-up section, or at the end). */
export function withSpinGrowthSection(results: string): string {
  const section = spinGrowthSection();
  if (!section.length) return results;
  const text = section.join('\n');
  const start = results.indexOf(`${SPIN_GROWTH_HEADING}\n`);
  if (start >= 0) {
    const next = results.indexOf('\n## ', start + SPIN_GROWTH_HEADING.length);
    const tail = next < 0 ? '' : results.slice(next + 1);
    return `${results.slice(0, start)}${text}${tail ? `\n${tail}` : ''}`;
  }
  const at = results.indexOf(BEFORE);
  if (at < 0) return `${results.trimEnd()}\n\n${text}`;
  return `${results.slice(0, at)}${text}\n${results.slice(at)}`;
}
