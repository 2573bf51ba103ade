// The start-up section of bench/RESULTS.md: bench/STARTUP.md (npm run bench:startup) under a
// heading of RESULTS.md. bench/startup.ts puts it into RESULTS.md when it measures, and
// bench/run.ts carries it over when it rewrites RESULTS.md, so neither file is edited by hand.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const STARTUP_FILE = fileURLToPath(new URL('./STARTUP.md', import.meta.url));
export const RESULTS_FILE = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const HEADING = '## Start-up: `fpsim list`, before and after compiling at pack time';

/** The section's lines (none when STARTUP.md was never written). */
export function startupSection(): string[] {
  if (!existsSync(STARTUP_FILE)) return [];
  const body = readFileSync(STARTUP_FILE, 'utf8').trimEnd().split('\n');
  // STARTUP.md's own title goes: the section has its heading
  const rest = body[0]?.startsWith('# ') ? body.slice(1) : body;
  return [HEADING, ...rest, '', 'From bench/STARTUP.md (`npm run bench:startup`, bench/startup.ts).', ''];
}

/** RESULTS.md's text with the section replaced (or added at the end). */
export function withStartupSection(results: string): string {
  const section = startupSection();
  const start = results.indexOf(`${HEADING}\n`);
  if (start < 0) return section.length ? `${results.trimEnd()}\n\n${section.join('\n')}` : results;
  const next = results.indexOf('\n## ', start + HEADING.length);
  const tail = next < 0 ? '' : results.slice(next + 1);
  return `${results.slice(0, start)}${section.join('\n')}${tail ? `\n${tail}` : ''}`;
}
