// The trace file: one run, recorded so that `fpsim replay` can re-execute it step for step.
//
//   { "fpsimTrace": 1,            the format version (see TRACE_VERSION)
//     "scenario": { ... },        the scenario, as parsed (defaults filled in)
//     "kernel": "6.9",            the kernel profile and mutants the run used
//     "mutants": [ ... ],
//     "schedule": [ "task", ... ] the task picked for every atomic step, all phases, in order
//     "steps": [ { "step", "phase", "task", "where", "effects", "done"? }, ... ]
//     "violations": [ ... ],
//     "passed": true }
//
// The schedule is what replay follows; the steps are what it checks against. Steps are
// numbered from 1 without gaps, so step k is steps[k - 1] and schedule[k - 1].
import { z } from 'zod';
import type { Effect, EffectKind, StepRecord } from '../kernel/effects.ts';
import type { Violation, ViolationKind } from '../kernel/lib/violation.ts';
import { ScenarioSchema } from '../scenario/schema.ts';
import { MUTANT_NAMES } from '../kernel/mutants.ts';
import { PROFILE_NAMES } from '../kernel/profile.ts';
import type { Phase } from '../scenario/run.ts';

/** The version this fpsim writes and reads. Bump it when a trace's meaning changes. */
export const TRACE_VERSION = 1;

const EFFECT_KINDS = ['refcount', 'ptr', 'field', 'idr', 'alloc', 'free', 'rcu', 'lock', 'wire', 'fd', 'note'] as const satisfies readonly EffectKind[];
const VIOLATION_KINDS = [
  'use-after-free',
  'double-free',
  'leak',
  'refcount-inc-from-zero',
  'refcount-underflow',
  'refcount-owners',
  'rcu-early-free',
  'rcu-unbalanced',
  'lock-misuse',
  'iomode',
  'stack-depth',
  'idr',
  'warn-on',
  'deadlock',
  'file-lock',
  'outcome',
] as const satisfies readonly ViolationKind[];
const PHASES = ['setup', 'run', 'teardown'] as const satisfies readonly Phase[];

// A kind added to the model but not here fails to compile: traces must be able to hold it.
type Missing<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : Exclude<All, Listed>;
const _effectKindsComplete: Missing<EffectKind, (typeof EFFECT_KINDS)[number]> = true;
const _violationKindsComplete: Missing<ViolationKind, (typeof VIOLATION_KINDS)[number]> = true;
const _phasesComplete: Missing<Phase, (typeof PHASES)[number]> = true;
void _effectKindsComplete, _violationKindsComplete, _phasesComplete;

const EffectSchema = z.object({ k: z.enum(EFFECT_KINDS), text: z.string() }).strict();

export const TraceStepSchema = z
  .object({
    step: z.number().int().min(1),
    phase: z.enum(PHASES),
    task: z.string(),
    where: z.array(z.string()),
    effects: z.array(EffectSchema),
    done: z.object({ op: z.number().int().min(0), name: z.string(), ret: z.union([z.number(), z.string()]) }).strict().optional(),
  })
  .strict();

export const ViolationSchema = z
  .object({
    kind: z.enum(VIOLATION_KINDS),
    message: z.string(),
    object: z.string().optional(),
    step: z.number().int().min(0),
    task: z.string(),
    fn: z.string(),
  })
  .strict();

export const TraceSchema = z
  .object({
    fpsimTrace: z.literal(TRACE_VERSION),
    scenario: ScenarioSchema,
    kernel: z.enum(PROFILE_NAMES as [string, ...string[]]),
    mutants: z.array(z.enum(MUTANT_NAMES as [string, ...string[]])),
    schedule: z.array(z.string()),
    steps: z.array(TraceStepSchema),
    violations: z.array(ViolationSchema),
    passed: z.boolean(),
  })
  .strict()
  .superRefine((t, ctx) => {
    t.steps.forEach((s, i) => {
      if (s.step !== i + 1) ctx.addIssue({ code: 'custom', path: ['steps', i, 'step'], message: `expected ${i + 1}: steps are numbered from 1 without gaps` });
    });
  });

export type Trace = z.infer<typeof TraceSchema>;
export type TraceStep = z.infer<typeof TraceStepSchema>;

/** A step as a trace holds it: fixed key order, so equal runs give equal bytes. */
export function traceStep(rec: StepRecord, phase: Phase): TraceStep {
  const s: TraceStep = {
    step: rec.step,
    phase,
    task: rec.task,
    where: [...rec.where],
    effects: rec.effects.map((e: Effect) => ({ k: e.k, text: e.text })),
  };
  if (rec.done) s.done = { op: rec.done.op, name: rec.done.name, ret: rec.done.ret };
  return s;
}

/** A violation as a trace holds it (fixed key order). */
export function traceViolation(v: Violation): Violation {
  const object = v.object !== undefined ? { object: v.object } : {};
  return { kind: v.kind, message: v.message, ...object, step: v.step, task: v.task, fn: v.fn };
}

/**
 * The file's text: the scenario pretty-printed, one step (and one violation) per line, the
 * schedule on one line. Easy to read, to diff and to edit by hand; deterministic.
 */
export function serializeTrace(t: Trace): string {
  const indent = (s: string) => s.replace(/\n/g, '\n  ');
  const list = (xs: unknown[]) => (xs.length ? `[\n${xs.map((x) => `    ${JSON.stringify(x)}`).join(',\n')}\n  ]` : '[]');
  return [
    '{',
    `  "fpsimTrace": ${JSON.stringify(t.fpsimTrace)},`,
    `  "scenario": ${indent(JSON.stringify(t.scenario, null, 2))},`,
    `  "kernel": ${JSON.stringify(t.kernel)},`,
    `  "mutants": ${JSON.stringify(t.mutants)},`,
    `  "schedule": ${JSON.stringify(t.schedule)},`,
    `  "steps": ${list(t.steps)},`,
    `  "violations": ${list(t.violations)},`,
    `  "passed": ${JSON.stringify(t.passed)}`,
    '}',
    '',
  ].join('\n');
}
