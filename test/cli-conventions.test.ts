// The CLI's output conventions (cli/progress.ts): a progress line only on a terminal and
// not under CI, colour only on a terminal and never with NO_COLOR, and --json on every
// command that prints a result, with exactly one JSON value on stdout.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ROOT, runFpsim, type Run } from './cli-run.ts';
import { progressLine, underCI, wantColor, wantProgress } from '../cli/progress.ts';
import { testDir } from './tmp.ts';


function stream(isTTY: boolean) {
  const out: string[] = [];
  return { isTTY, columns: 60, write: (s: string) => out.push(s), out };
}

describe('cli/progress.ts', () => {
  it('draws a progress line only on a terminal, and not under CI', () => {
    expect(wantProgress(stream(true), {})).toBe(true);
    expect(wantProgress(stream(false), {})).toBe(false);
    for (const ci of ['true', '1', 'yes']) expect(wantProgress(stream(true), { CI: ci })).toBe(false);
    for (const ci of ['', '0', 'false']) expect(underCI({ CI: ci })).toBe(false);
  });

  it('colours only a terminal, and never with NO_COLOR set', () => {
    expect(wantColor(stream(true), {})).toBe(true);
    expect(wantColor(stream(true), { NO_COLOR: '1' })).toBe(false);
    expect(wantColor(stream(true), { NO_COLOR: '' })).toBe(true); // no-color.org: set and not empty
    expect(wantColor(stream(false), {})).toBe(false);
  });

  it('redraws one line in place, cut to the terminal width, and erases it when done', () => {
    const s = stream(true);
    const p = progressLine({ stream: s, env: {}, intervalMs: 0 });
    p.update('explore: depth 3');
    p.update('x'.repeat(200));
    p.done();
    expect(s.out[0]).toBe('\rexplore: depth 3\x1b[K');
    expect(s.out[1]!.length).toBeLessThan(70);
    expect(s.out.at(-1)).toBe('\r\x1b[K');
  });

  it('writes nothing at all when piped or under CI', () => {
    for (const [s, env] of [
      [stream(false), {}],
      [stream(true), { CI: 'true' }],
    ] as const) {
      const p = progressLine({ stream: s, env, intervalMs: 0 });
      p.update('something');
      p.done();
      expect(p.enabled).toBe(false);
      expect(s.out).toEqual([]);
    }
  });
});

/** fpsim as a terminal user runs it: neither NO_COLOR nor CI set unless a test sets them */
const fpsim = (args: string[], env: Record<string, string> = {}): Promise<Run> => runFpsim(args, { NO_COLOR: undefined, CI: undefined, ...env });

describe('fpsim commands', () => {
  it('every command that prints a result takes --json', async () => {
    const program = new Command('fpsim');
    for (const f of readdirSync(join(ROOT, 'cli', 'commands')).filter((n) => n.endsWith('.ts'))) {
      const m = (await import(join(ROOT, 'cli', 'commands', f))) as { register(p: Command): void };
      m.register(program);
    }
    const names = program.commands.map((c) => c.name());
    expect(names).toEqual(expect.arrayContaining(['run', 'list', 'check-scenarios', 'check', 'explore', 'mutants', 'oracle', 'replay', 'view', 'tour', 'explain']));
    const without = program.commands.filter((c) => !c.options.some((o) => o.long === '--json')).map((c) => c.name());
    expect(without).toEqual([]);
  });

  it('piped: results on stdout as one JSON value, no progress and no colour on stderr (check, explore, mutants, list, view)', async () => {
    const dir = testDir('fpsim-cli-');
    const trace = join(dir, 't.json');
    const race = join(ROOT, 'scenarios', 'race-lookup-vs-backing-close.json');
    const runs = [
      ['check', '--runs', '30', '--seed', '3', '--json'],
      ['explore', race, '--depth', '6', '--no-write', '--json'],
      ['mutants', '--mutant', 'no-flags-check', '--runs', '200', '--no-library', '--json'],
      ['mutants', '--list', '--json'],
      ['list', '--json'],
      ['explain', 'xchg', '--json'],
      ['run', join(ROOT, 'scenarios', 'passthrough-read.json'), '--json', '--trace', trace],
    ];
    const results = await Promise.all(runs.map((a) => fpsim(a)));
    results.forEach((r, i) => {
      const what = runs[i]!.join(' ');
      expect(() => JSON.parse(r.stdout), `${what}: ${r.stdout.slice(0, 200)}`).not.toThrow();
      expect(r.stdout, what).not.toContain('\x1b[');
      expect(r.stderr.replace(/^trace of .*\n/m, ''), what).toBe('');
    });
    const view = await fpsim(['view', trace, '-o', join(dir, 't.html'), '--json']);
    expect(JSON.parse(view.stdout)).toMatchObject({ out: join(dir, 't.html'), scenario: 'passthrough-read' });
    expect(view.stderr).toBe('');
  });

  it('check without --json prints its report and still no progress when piped; none under CI either', async () => {
    const plain = await fpsim(['check', '--runs', '20']);
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/property held on all 20 runs/);
    expect(plain.stderr).toBe('');
    expect(plain.stdout).not.toContain('\x1b[');
    const ci = await fpsim(['check', '--runs', '20'], { CI: 'true' });
    expect(ci.stderr).toBe('');
  });

  it('oracle --json is one JSON value too (here with the real kernel switched off)', async () => {
    const r = await fpsim(['oracle', 'passthrough-read', '--json'], { FPSIM_ORACLE: '0' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toHaveProperty('summary');
    expect(r.stderr).toBe('');
  });
});
