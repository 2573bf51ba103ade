// The server's connection lifecycle as an xstate machine: the part of fpsim people want
// to see as a diagram. It is used as a pure function (transition), so the world keeps only
// the state's name: plain data, like everything else in it.
import { createMachine, transition } from 'xstate';
import { memoizedBy } from '../memo.ts';

export type LifecycleEvent =
  | { type: 'INIT_REPLIED'; passthrough: boolean }
  | { type: 'INIT_FAILED' }
  | { type: 'REQUEST' }
  | { type: 'REPLIED' }
  | { type: 'ABORTED' }
  | { type: 'UNMOUNTED' };

export const lifecycleMachine = createMachine({
  id: 'fuseServer',
  types: {} as { events: LifecycleEvent },
  initial: 'awaitingInit',
  states: {
    awaitingInit: {
      on: {
        // INIT itself is read and answered here
        REQUEST: {},
        REPLIED: {},
        INIT_REPLIED: 'running',
        INIT_FAILED: 'unmounted',
        ABORTED: 'aborted',
        UNMOUNTED: 'unmounted',
      },
    },
    running: {
      initial: 'idle',
      states: {
        idle: { on: { REQUEST: 'handling' } },
        handling: { on: { REPLIED: 'idle' } },
      },
      on: {
        ABORTED: '#aborted',
        UNMOUNTED: '#unmounted',
      },
    },
    aborted: { id: 'aborted', type: 'final' },
    unmounted: { id: 'unmounted', type: 'final' },
  },
});

const initial = lifecycleMachine.resolveState({ value: 'awaitingInit' });

function valueToString(v: unknown): string {
  if (typeof v === 'string') return v;
  const [k, sub] = Object.entries(v as Record<string, unknown>)[0]!;
  return `${k}.${valueToString(sub)}`;
}

function stringToValue(s: string): string | Record<string, unknown> {
  const i = s.indexOf('.');
  return i < 0 ? s : { [s.slice(0, i)]: stringToValue(s.slice(i + 1)) };
}

export const LIFECYCLE_INITIAL = valueToString(initial.value);

/**
 * The next lifecycle state; null when the event is not allowed in this state. The machine is
 * a pure function of (state, event type), so each answer is computed once.
 */
export const lifecycleNext: (state: string, ev: LifecycleEvent) => string | null = memoizedBy(
  [(state) => state, (_state, ev) => ev.type],
  (state, ev) => lifecycleNextUncached(state, ev),
);

function lifecycleNextUncached(state: string, ev: LifecycleEvent): string | null {
  const snap = lifecycleMachine.resolveState({ value: stringToValue(state) as never });
  if (!snap.can(ev)) return null;
  const [next] = transition(lifecycleMachine, snap, ev);
  return valueToString(next.value);
}
