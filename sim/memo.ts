// Memoizing a pure function of small inputs (the xstate machines' transitions).
export function memoized<A extends unknown[], R>(key: (...args: A) => string, f: (...args: A) => R): (...args: A) => R {
  const memo = new Map<string, R>();
  return (...args: A) => {
    const k = key(...args);
    const hit = memo.get(k);
    if (hit !== undefined || memo.has(k)) return hit!;
    const r = f(...args);
    memo.set(k, r);
    return r;
  };
}
