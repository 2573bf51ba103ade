// Tests that need a program from outside npm (Chromium, SPIN and gcc, ...): where it is
// missing they are skipped with the reason in their title and a line on the console, except
// under CI (CI set, as .ci/run runs): .ci/run installs every one of them from Debian, so there
// a missing program is a failure of the setup, not a skip. test/oracle*.test.ts skip on their
// own where the kernel cannot do the real thing (no /dev/fuse, no root, no passthrough): no
// package installs a kernel.
import { execFileSync } from 'node:child_process';
import { underCI } from '../cli/progress.ts';

export function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface Need {
  /** skip the test (the program is missing and this is not CI) */
  skip: boolean;
  /** the test's title: with the reason it is skipped, if it is */
  title: string;
  /** call first thing in the test: under CI, a missing program fails here, saying what to install */
  check(): void;
}

/** `missing`: the programs that are not there; `install`: the Debian packages that bring them. */
export function need(title: string, missing: string[], install: string): Need {
  const why = missing.length ? `${missing.join(', ')} not installed (apt-get install ${install})` : '';
  const skip = missing.length > 0 && !underCI();
  if (skip) console.warn(`skipped: ${title}: ${why}`);
  return {
    skip,
    title: skip ? `${title} (skipped: ${why})` : title,
    check() {
      if (missing.length) throw new Error(`${why}: under CI .ci/run installs it, so this is a setup failure, not a skip`);
    },
  };
}
