// Memoizing a pure function of small inputs (the xstate machines' transitions).
export function memoized<A extends unknown[], R>(key: (...args: A) => string, f: (...args: A) => R): (...args: A) => R {
  const memo = new Map<string, R>();
  return (...args: A) => {
    const k = key(...args);
    if (memo.has(k)) return memo.get(k)!;
    const r = f(...args);
    memo.set(k, r);
    return r;
  };
}
