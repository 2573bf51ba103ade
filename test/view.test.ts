import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadScenario } from '../sim/scenario/load.ts';
import { recordTrace } from '../sim/trace/write.ts';
import { objectHistories, fieldsAt } from '../view/objects.ts';
import { traceHtml } from '../view/html.ts';
import { atomicWrite } from '../sim/trace/write.ts';
import { need } from './needs.ts';
import { testDir } from './tmp.ts';

const race = () => recordTrace(loadScenario('scenarios/race-lookup-vs-backing-close-get-without-not-zero.json')).trace;

function chromium(): string | null {
  for (const c of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) if (existsSync(c)) return c;
  return null;
}
const browser = chromium();
const needChromium = need('renders in headless Chromium: timeline, objects and the violation', browser ? [] : ['chromium'], 'chromium');

const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

describe('trace viewer', () => {
  it('follows each object through the trace', () => {
    const t = race();
    const objs = objectHistories(t);
    const fb = objs.find((o) => o.type === 'fuse_backing')!;
    expect(fb).toBeDefined();
    const inc = fb.changes.find((c) => c.how.includes('refcount_inc on 0'))!;
    expect(inc.to).toBe('SATURATED');
    expect(fieldsAt(fb, inc.step - 1)['count']).toBe('0');
    expect(fb.freeStep).not.toBeNull();
  });

  it('writes one self-contained page (no external assets)', () => {
    const html = traceHtml(race(), 'race');
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('refcount-inc-from-zero');
  });

  it.skipIf(needChromium.skip)(needChromium.title, () => {
    needChromium.check();
    const dir = testDir('fpsim-view-');
    const page = join(dir, 'race.html');
    const t = race();
    atomicWrite(page, traceHtml(t, 'race'));
    const profile = testDir('fpsim-chrome-');
    const dom = execFileSync(browser!, [...FLAGS, `--user-data-dir=${profile}`, '--virtual-time-budget=2000', '--dump-dom', `file://${page}`], {
      encoding: 'utf8',
      timeout: 60_000,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    expect(dom).toContain('data-ready="yes"');
    // one timeline row per step, one lane per task
    expect(dom.match(/class="step[^"]*" data-step=/g)?.length).toBe(t.steps.length);
    expect(dom).toMatch(/class="step bad" data-step="\d+"/);
    // the selected step is the first violation, and the object panel shows the fuse_backing
    expect(dom).toContain('refcount-inc-from-zero');
    expect(dom).toMatch(/<td>fuse_backing#\d+<\/td>/);
    expect(dom).toContain('count=SATURATED');
    mkdirSync('out', { recursive: true });
    const shot = join(process.cwd(), 'out', 'viewer.png');
    execFileSync(browser!, [...FLAGS, `--user-data-dir=${profile}`, '--window-size=1400,900', '--virtual-time-budget=2000', `--screenshot=${shot}`, `file://${page}`], {
      timeout: 60_000,
      stdio: 'ignore',
    });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe('PNG');
  });
});
