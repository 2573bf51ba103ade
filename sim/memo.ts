// Memoizing a pure function of small inputs (the xstate machines' transitions).
/**
 * Memoize a function of two arguments whose answer depends on a few primitive parts of
 * them (strings, numbers, booleans): one Map level per part, so a call builds no key string
 * (the machines are asked at every step of a long run).
 */
export function memoizedBy<X, Y, R>(parts: readonly ((x: X, y: Y) => string | number | boolean)[], f: (x: X, y: Y) => R): (x: X, y: Y) => R {
  const root = new Map<unknown, unknown>();
  const last = parts.length - 1;
  return (x, y) => {
    let m = root;
    for (let i = 0; i < last; i++) {
      const k = parts[i]!(x, y);
      let next = m.get(k) as Map<unknown, unknown> | undefined;
      if (!next) m.set(k, (next = new Map()));
      m = next;
    }
    const k = parts[last]!(x, y);
    const hit = m.get(k) as R | undefined;
    if (hit !== undefined || m.has(k)) return hit!;
    const r = f(x, y);
    m.set(k, r);
    return r;
  };
}
