// Hand-made programs for what random search hits too rarely: the races of spec section 6,
// whose windows are a step or two wide, and conflicts that need three opens in one order.
// Each comes with the schedule that opens its window; the properties run it under that
// schedule (judging the outcomes it expects) and under random interleavings too. The
// scenario library (scenarios/*.json) joins them: its scenarios are hand-made programs as well.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ScenarioSchema, type Scenario, type ScenarioInput } from '../sim/scenario/schema.ts';
import { loadScenario } from '../sim/scenario/load.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { interleavingArb, type Program } from './program.ts';

export interface Targeted {
  name: string;
  /** what the program is after */
  why: string;
  scenario: Scenario;
}

const D = 'fuse-daemon:fuse';

const HAND_MADE: ScenarioInput[] = [
  {
    name: 'race-lookup-vs-backing-close',
    description:
      'spec 6: a server closes its backing id right after the OPEN reply (per_open, close_after_reply) while the opener is between idr_find and ' +
      'fuse_backing_get: the put drops the count to 0, and the lookup must treat the dying fuse_backing as absent (refcount_inc_not_zero), ' +
      'whose memory must stay valid until a grace period ends (kfree_rcu). The open fails with EIO.',
    spec: '6. Races: lookup against BACKING_CLOSE',
    filesystems: [
      { name: 'lower', type: 'plain', files: { a: 'backing data' } },
      { name: 'fuse', type: 'fuse', server: { files: { f: { backing: '/lower/a' } }, open: { mode: 'per_open', close_after_reply: true } } },
    ],
    tasks: [{ name: 't0', ops: [{ op: 'open', path: '/fuse/f', save: 'fd', expect: 'EIO' }] }],
    // t0: LOOKUP; server: LOOKUP; t0: OPEN; server: BACKING_OPEN, id + reply; t0: reply,
    // idr_find; server: BACKING_CLOSE removes the id, then puts (count 0); t0: get
    schedule: ['t0', D, 't0', D, D, 't0', 't0', D, D, 't0'],
  },
  {
    name: 'race-lookup-vs-ctl-backing-close',
    description:
      'spec 6: a server thread registers a backing file and closes the id while a user open replied with that id is between idr_find and ' +
      'fuse_backing_get. The open fails with EIO; nothing is resurrected or read after free.',
    spec: '6. Races: lookup against BACKING_CLOSE',
    filesystems: [
      { name: 'lower', type: 'plain', files: { a: 'backing data' } },
      { name: 'fuse', type: 'fuse', server: { files: { f: { backing: '/lower/a', open: { mode: 'reply', flags: ['PASSTHROUGH'], backing_id: '$id' } } } } },
    ],
    tasks: [
      { name: 't0', ops: [{ op: 'open', path: '/fuse/f', save: 'fd', expect: 'EIO' }] },
      {
        name: 'ctl',
        proc: 'server:fuse',
        ops: [
          { op: 'open', path: '/lower/a', save: 'bfd', expect: 'ok' },
          { op: 'backing_open', fd: '$bfd', save: 'id', expect: 1 },
          { op: 'backing_close', id: '$id', expect: 0 },
        ],
      },
    ],
    schedule: ['ctl', 'ctl', 'ctl', 't0', D, 't0', D, 't0', 't0', 'ctl', 'ctl', 't0'],
  },
  {
    name: 'race-cached-mmap-waits-then-passthrough',
    description:
      'spec 3 (cached io open waits while parallel direct writes are in flight) and 6: t0 has a parallel direct write in flight (an uncached ' +
      'reference without fb); t1 maps a direct-io file shared and waits in fuse_file_cached_io_open; meanwhile t2 opens the inode in ' +
      'passthrough mode and installs fi->fb. When t1 wakes, the inode has an fb: its cached open must be refused (ETXTBSY).',
    spec: '3. Cached io open',
    filesystems: [
      { name: 'lower', type: 'plain', files: { a: 'backing data' } },
      {
        name: 'fuse',
        type: 'fuse',
        server: {
          init: { flags: ['INIT_EXT', 'PASSTHROUGH', 'DIRECT_IO_ALLOW_MMAP'], max_stack_depth: 1 },
          files: {
            f: {
              backing: '/lower/a',
              open: {
                mode: 'sequence',
                replies: [
                  { mode: 'reply', flags: ['DIRECT_IO', 'PARALLEL_DIRECT_WRITES'] },
                  { mode: 'reply', flags: ['DIRECT_IO'] },
                  { mode: 'reply', flags: ['PASSTHROUGH'], backing_id: '$id' },
                ],
              },
            },
          },
        },
      },
    ],
    tasks: [
      {
        name: 'ctl',
        proc: 'server:fuse',
        ops: [
          { op: 'open', path: '/lower/a', save: 'bfd', expect: 'ok' },
          { op: 'backing_open', fd: '$bfd', save: 'id', expect: 1 },
        ],
      },
      { name: 't0', ops: [{ op: 'open', path: '/fuse/f', mode: 'rw', save: 'fd', expect: 'ok' }, { op: 'write', fd: '$fd', data: 'xy', expect: 2 }] },
      { name: 't1', ops: [{ op: 'open', path: '/fuse/f', mode: 'rw', save: 'fd', expect: 'ok' }, { op: 'mmap', fd: '$fd', shared: true, save: 'vma', expect: 'ETXTBSY' }] },
      { name: 't2', ops: [{ op: 'open', path: '/fuse/f', save: 'fd', expect: 'ok' }] },
    ],
    schedule: 'sequential',
  },
];

/** The hand-made programs, validated. */
export const TARGETED: Targeted[] = HAND_MADE.map((s) => {
  const scenario = ScenarioSchema.parse(s);
  return { name: scenario.name, why: scenario.description, scenario };
});

const here = dirname(fileURLToPath(import.meta.url));
export const LIBRARY_DIR = join(here, '..', 'scenarios');

/**
 * The scenario library as hand-made programs: those that switch on no mutant of their own and
 * pass on the model as it is (a scenario in the making is left out).
 */
export function libraryPrograms(dir = LIBRARY_DIR): Targeted[] {
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch {
    return [];
  }
  const out: Targeted[] = [];
  for (const f of files) {
    try {
      const scenario = loadScenario(join(dir, f));
      if (scenario.mutants.length) continue;
      if (!runScenario(scenario, { record: false }).passed) continue;
      out.push({ name: `library:${f.replace(/\.json$/, '')}`, why: scenario.description, scenario });
    } catch {
      // not a valid scenario (yet): not a program
    }
  }
  return out;
}

/**
 * A scenario without its expected outcomes and its model-state asserts: under another
 * interleaving they may differ (the invariants and the outcome properties still apply).
 */
export function withoutExpectations(s: Scenario): Scenario {
  return {
    ...s,
    schedule: 'sequential',
    expect: { violations: [] },
    tasks: s.tasks.map((t) => ({ ...t, ops: t.ops.filter((o) => o.op !== 'assert').map((o) => ({ ...o, expect: undefined })) })),
  };
}

/**
 * Hand-made programs: under their own schedule (judging what they expect), or under a
 * random interleaving (judged like a random program: invariants, deadlocks, outcomes).
 */
export function targetedArb(list: readonly Targeted[]): fc.Arbitrary<Program> {
  if (list.length === 0) throw new Error('targetedArb: no programs');
  const origin = (t: Targeted) => (t.name.startsWith('library:') ? t.name : `targeted:${t.name}`);
  const own = fc.constantFrom(...list).map((t): Program => ({ scenario: t.scenario, sched: [], origin: origin(t), own: true }));
  // a program that signals a task to end its wait works only where the signal finds it asleep:
  // under another interleaving the signal may come between its syscalls (the handler runs
  // there) and the wait never ends, the program's own deadlock: those run under their schedule
  const mixable = list.filter((t) => !t.scenario.tasks.some((x) => x.ops.some((o) => o.op === 'signal')));
  if (mixable.length === 0) return own;
  const mixed = fc.tuple(fc.constantFrom(...mixable), interleavingArb(120)).map(([t, sched]): Program => ({ scenario: withoutExpectations(t.scenario), sched, origin: origin(t) }));
  return fc.oneof(own, mixed);
}
