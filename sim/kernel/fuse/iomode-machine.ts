// The inode io mode as an xstate machine: the legal ways fi->iocachectr may move. Every
// change of the counter in iomode.ts is checked against it (a ghost check), and the docs'
// diagram is generated from it.
import { createMachine, transition } from 'xstate';
import { memoizedBy } from '../../memo.ts';

export type IoModeEvent =
  | { type: 'CACHED_OPEN'; to: number }
  | { type: 'CACHED_RELEASE'; to: number }
  | { type: 'UNCACHED_START'; to: number }
  | { type: 'UNCACHED_END'; to: number };

export const ioModeMachine = createMachine({
  id: 'inodeIoMode',
  types: {} as { events: IoModeEvent },
  initial: 'neutral',
  states: {
    // iocachectr == 0: no open file has chosen a mode
    neutral: {
      on: { CACHED_OPEN: 'cached', UNCACHED_START: 'uncached' },
    },
    // iocachectr > 0: page cache users; passthrough opens get ETXTBSY
    cached: {
      on: {
        CACHED_OPEN: 'cached',
        CACHED_RELEASE: [{ guard: ({ event }) => event.to === 0, target: 'neutral' }, { target: 'cached' }],
      },
    },
    // iocachectr < 0: passthrough files and parallel direct writes; cached opens wait or get ETXTBSY
    uncached: {
      on: {
        UNCACHED_START: 'uncached',
        UNCACHED_END: [{ guard: ({ event }) => event.to === 0, target: 'neutral' }, { target: 'uncached' }],
      },
    },
  },
});

export type IoModeState = 'neutral' | 'cached' | 'uncached';

export function ioModeOf(ctr: number): IoModeState {
  return ctr === 0 ? 'neutral' : ctr > 0 ? 'cached' : 'uncached';
}

/**
 * The state after ev, or null when the machine does not allow ev from the counter's state.
 * The answer depends only on the state, the event and whether the counter reaches 0: memoized.
 */
export const ioModeNext: (ctr: number, ev: IoModeEvent) => IoModeState | null = memoizedBy(
  [(ctr) => ioModeOf(ctr), (_ctr, ev) => ev.type, (_ctr, ev) => ev.to === 0],
  (ctr, ev) => ioModeNextUncached(ctr, ev),
);

function ioModeNextUncached(ctr: number, ev: IoModeEvent): IoModeState | null {
  const snap = ioModeMachine.resolveState({ value: ioModeOf(ctr) });
  if (!snap.can(ev)) return null;
  const [next] = transition(ioModeMachine, snap, ev);
  return next.value as IoModeState;
}
