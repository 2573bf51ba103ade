// What a step changed, for the narrated trace and for replay's divergence check.
export type EffectKind =
  | 'refcount' // a refcount_t changed
  | 'ptr' // a pointer field changed (READ_ONCE/WRITE_ONCE/xchg/plain store)
  | 'field' // another field changed (iocachectr, iomode, passthrough, ...)
  | 'idr' // an id was allocated or removed
  | 'alloc'
  | 'free'
  | 'rcu' // read-side sections, grace periods, callbacks
  | 'lock'
  | 'wire' // a FUSE message crossed /dev/fuse
  | 'fd' // a task's fd table changed
  | 'note'; // something worth saying that changes nothing

export interface Effect {
  k: EffectKind;
  text: string;
}

export interface StepRecord {
  step: number;
  task: string;
  /** the kernel (or server) functions run in this atomic step, as "function:label" */
  where: string[];
  effects: Effect[];
  /** the step ended with the task asleep: what it waits for (WaitCond's "on") */
  blocked?: string;
  /** an op that finished in this step: its index, name and result */
  done?: { op: number; name: string; ret: number | string };
}
