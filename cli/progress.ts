// Output conventions every command keeps:
//   - a long command (check, explore, mutants, oracle, the real-server runs) shows one progress
//     line on stderr, redrawn in place, only when stderr is a terminal and CI is not set; piped,
//     redirected or under CI it prints no progress at all (a log gets results, not redraws);
//   - colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org);
//   - every command that prints a result takes --json (stdout is then exactly one JSON value).
type Stream = { isTTY?: boolean; columns?: number; write(s: string): unknown };
type Env = Record<string, string | undefined>;

/** CI is set (as CI services and .ci/run set it), to anything but "", "0" or "false". */
export function underCI(env: Env = process.env): boolean {
  const v = env['CI'];
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

/** Whether to draw a progress line on this stream (stderr by default). */
export function wantProgress(stream: Stream = process.stderr, env: Env = process.env): boolean {
  return stream.isTTY === true && !underCI(env);
}

/** Whether to colour what goes to this stream (stdout by default). */
export function wantColor(stream: Stream = process.stdout, env: Env = process.env): boolean {
  const no = env['NO_COLOR'];
  return stream.isTTY === true && (no === undefined || no === '');
}

export interface ProgressLine {
  /** false when nothing will be drawn (not a terminal, or CI) */
  readonly enabled: boolean;
  /** redraw the line (at most every intervalMs, unless forced) */
  update(text: string, force?: boolean): void;
  /** erase the line: call before printing results */
  done(): void;
}

/** `off`: no line whatever the stream (a command that narrates on stderr itself, e.g. --verbose). */
export function progressLine(o: { stream?: Stream; env?: Env; intervalMs?: number; off?: boolean } = {}): ProgressLine {
  const stream = o.stream ?? process.stderr;
  const enabled = !o.off && wantProgress(stream, o.env ?? process.env);
  const interval = o.intervalMs ?? 100;
  let last = -Infinity;
  let shown = false;
  return {
    enabled,
    update(text, force = false) {
      if (!enabled) return;
      const now = performance.now();
      if (!force && now - last < interval) return;
      last = now;
      const width = Math.max(20, (stream.columns || 100) - 1);
      stream.write(`\r${text.length > width ? `${text.slice(0, width - 1)}…` : text}\x1b[K`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
