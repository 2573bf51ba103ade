// What the viewer shows about objects: each object's fields over time, read back from the
// trace's effects (the same sentences `fpsim run` prints), so any trace can be viewed.
import type { Trace } from '../sim/trace/format.ts';

export interface FieldChange {
  step: number;
  field: string;
  to: string;
  how: string;
}

export interface ObjectHistory {
  name: string;
  type: string;
  allocStep: number | null;
  /** the step its memory was freed (kfree or the RCU callback) */
  freeStep: number | null;
  /** the step kfree_rcu/call_rcu queued its free */
  queuedStep: number | null;
  changes: FieldChange[];
}

const FIELD = /^(\w+#\d+)\.(\w+) (.+?) -> (.+?)(?: \((.+)\))?$/;
const ALLOC = /^alloc (\w+#\d+)$/;
const KFREE = /^kfree (\w+#\d+)$/;
const QUEUED = /^(?:kfree_rcu|call_rcu) (\w+#\d+):/;
const RCU_FREE = /^RCU callback frees (\w+#\d+)$/;

/** Objects worth a row: the ones the patch is about. */
const SHOWN = new Set(['fuse_backing', 'fuse_inode', 'fuse_file', 'fuse_conn', 'file']);

export function objectHistories(t: Trace): ObjectHistory[] {
  const byName = new Map<string, ObjectHistory>();
  const get = (name: string) => {
    let o = byName.get(name);
    if (!o) {
      o = { name, type: name.split('#')[0]!, allocStep: null, freeStep: null, queuedStep: null, changes: [] };
      byName.set(name, o);
    }
    return o;
  };
  for (const s of t.steps) {
    for (const e of s.effects) {
      let m: RegExpExecArray | null;
      if ((m = ALLOC.exec(e.text))) get(m[1]!).allocStep = s.step;
      else if ((m = KFREE.exec(e.text))) get(m[1]!).freeStep = s.step;
      else if ((m = QUEUED.exec(e.text))) get(m[1]!).queuedStep = s.step;
      else if ((m = RCU_FREE.exec(e.text))) get(m[1]!).freeStep = s.step;
      else if ((m = FIELD.exec(e.text))) get(m[1]!).changes.push({ step: s.step, field: m[2]!, to: m[4]!, how: m[5] ?? '' });
    }
  }
  return [...byName.values()].filter((o) => SHOWN.has(o.type)).sort((a, b) => (a.allocStep ?? 0) - (b.allocStep ?? 0));
}

/** An object's fields as they stood after `step`. */
export function fieldsAt(o: ObjectHistory, step: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const c of o.changes) if (c.step <= step) out[c.field] = c.to;
  return out;
}
