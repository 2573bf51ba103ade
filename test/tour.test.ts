import { describe, expect, it } from 'vitest';
import { LESSONS, findLesson, runLesson } from '../teach/lessons.ts';

describe('the tour', () => {
  it('covers the topics the patch needs explained', () => {
    for (const t of ['stack-depth', 'backing-id', 'inc-not-zero', 'rcu', 'xchg', 'iomode', 'close-abort']) {
      expect(findLesson(t), t).toBeDefined();
    }
  });

  for (const l of LESSONS) {
    it(`${l.id}: every claim holds in the model`, () => {
      const o = runLesson(l);
      for (const c of o.claims) expect(c.holds, c.text).toBe(true);
      expect(l.question.length).toBeGreaterThan(20);
      expect(l.answer.length).toBeGreaterThan(20);
    });
  }

  it('the inc_not_zero lesson shows a use-after-free only under the mutant', () => {
    const o = runLesson(findLesson('inc-not-zero')!);
    const [merged, mutant] = o.runs;
    expect(merged!.violations).toEqual([]);
    expect(mutant!.violations.map((v) => v.kind)).toContain('use-after-free');
    expect(mutant!.world.mutants).toEqual(['get-without-not-zero']);
  });

  it('the rcu lesson shows the early free only under the mutant', () => {
    const o = runLesson(findLesson('rcu')!);
    expect(o.runs[0]!.violations).toEqual([]);
    expect(o.runs[1]!.violations.map((v) => v.kind)).toEqual(expect.arrayContaining(['use-after-free', 'rcu-early-free']));
  });
});

describe('fpsim tour --all (the CLI, non-interactive)', () => {
  it('runs every lesson end to end and shows every answer', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = execFileSync('npx', ['tsx', 'cli/main.ts', 'tour', '--all', '--answers'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 120_000,
    });
    for (const l of LESSONS) expect(out).toContain(l.title);
    expect(out.match(/^Answer:/gm)?.length).toBe(LESSONS.length);
    expect(out).not.toContain('NOT SHOWN');
  }, 120_000);
});
