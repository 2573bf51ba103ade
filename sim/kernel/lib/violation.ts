// Violations are values: checkers record them, drivers decide what to do.
export type ViolationKind =
  | 'use-after-free'
  | 'double-free'
  | 'leak'
  | 'refcount-inc-from-zero'
  | 'refcount-underflow'
  | 'refcount-owners'
  | 'rcu-early-free'
  | 'rcu-unbalanced'
  | 'lock-misuse'
  | 'iomode'
  | 'stack-depth'
  | 'idr'
  | 'warn-on'
  | 'deadlock'
  | 'file-lock'
  | 'outcome'
  /** a real FUSE server (fpsim server) broke the protocol or crashed, hung, exited */
  | 'server';

export interface Violation {
  kind: ViolationKind;
  /** A sentence a kernel developer would write in a bug report. */
  message: string;
  /** The object concerned, as the trace names it (e.g. "fuse_backing#7"). */
  object?: string;
  step: number;
  task: string;
  /** The kernel function executing when it was found. */
  fn: string;
}
