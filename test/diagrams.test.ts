import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { diagramsMarkdown } from '../tools/diagrams.ts';
import { ioModeNext } from '../sim/kernel/fuse/iomode-machine.ts';
import { lifecycleNext, LIFECYCLE_INITIAL } from '../sim/server/lifecycle.ts';

describe('state diagrams', () => {
  it('docs/diagrams.md is generated from the machines (run `npm run docs` after changing them)', () => {
    const committed = readFileSync(new URL('../docs/diagrams.md', import.meta.url), 'utf8');
    expect(committed).toBe(diagramsMarkdown());
  });

  it('the io-mode machine forbids mixing cached and uncached users', () => {
    expect(ioModeNext(0, { type: 'CACHED_OPEN', to: 1 })).toBe('cached');
    expect(ioModeNext(1, { type: 'CACHED_RELEASE', to: 0 })).toBe('neutral');
    expect(ioModeNext(-1, { type: 'CACHED_OPEN', to: 0 })).toBeNull();
    expect(ioModeNext(2, { type: 'UNCACHED_START', to: 1 })).toBeNull();
    expect(ioModeNext(-2, { type: 'UNCACHED_END', to: -1 })).toBe('uncached');
  });

  it('the server lifecycle answers INIT before anything and ends on abort', () => {
    expect(LIFECYCLE_INITIAL).toBe('awaitingInit');
    const running = lifecycleNext('awaitingInit', { type: 'INIT_REPLIED', passthrough: true });
    expect(running).toBe('running.idle');
    expect(lifecycleNext('running.idle', { type: 'ABORTED' })).toBe('aborted');
    expect(lifecycleNext('aborted', { type: 'REQUEST' })).toBeNull();
  });
});
