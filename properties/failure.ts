// What the property objects to after a run: a violation, a deadlock, a bad outcome, a crash.
/** Something the property objects to: a violation, a deadlock, a bad outcome, a crash. */
export interface Failure {
  /** a violation kind (leak, use-after-free, iomode, ...), "deadlock", "outcome:<property>", "crash" */
  kind: string;
  message: string;
  task?: string;
  step?: number;
  /** the op concerned, for outcome properties: task and index */
  op?: { task: string; index: number };
}
