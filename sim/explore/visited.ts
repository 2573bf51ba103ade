// The visited set: a fixed-size fingerprint per state (hash compaction), or one to three
// bits per state (bitstate hashing, as SPIN's -DBITSTATE), never the state itself.
//
// Hash compaction: a state is known by its 128-bit fingerprint (canon.ts) and nothing else,
// in an open-addressing table of typed arrays: 16 bytes of fingerprint and 4 of state id a
// slot, no object or string per state. Two different states with the same fingerprint would
// be taken for one (the second never explored): with n states and a uniform 128-bit hash,
// the chance that any two of them collide is at most n^2 / 2^129 (the birthday bound),
// printed with every result (collisionProbability).
//
// Bitstate: a bit array of 2^b bits; a state sets k bits (k = 3 hash functions taken from
// its fingerprint's words); a state whose k bits are all set already is taken as seen. It
// can lose states (a false "seen"), never invent any; it says how full the array got and the
// expected share of states lost, so a result is an under-approximation marked as such.
import type { Digest } from './canon.ts';

export interface Visited {
  /** the id of a state with this fingerprint seen before, or -1 after adding it with `id` */
  addOrGet(f: Digest, id: number): number;
  readonly size: number;
  /** every fingerprint kept (hash compaction only: a bit array cannot list its states) */
  fingerprints(): Digest[] | null;
  /** what the visited set says about its own exactness */
  note(): string;
  /** bytes the set holds */
  bytes(): number;
}

/** The birthday bound on a fingerprint collision among n states: n^2 / 2^129. */
export function collisionProbability(n: number): number {
  return (n * n) / 2 ** 129;
}

export class FingerprintSet implements Visited {
  private cap: number;
  private mask: number;
  private fp: Int32Array;
  private ids: Int32Array;
  size = 0;

  constructor(initial = 1 << 12) {
    let cap = 1 << 4;
    while (cap < initial) cap *= 2;
    this.cap = cap;
    this.mask = cap - 1;
    this.fp = new Int32Array(cap * 4);
    this.ids = new Int32Array(cap).fill(-1);
  }

  addOrGet(f: Digest, id: number): number {
    if (this.size * 2 >= this.cap) this.grow();
    const fp = this.fp;
    const ids = this.ids;
    for (let i = (f.h0 ^ f.h3) & this.mask; ; i = (i + 1) & this.mask) {
      const have = ids[i]!;
      if (have < 0) {
        const o = i * 4;
        fp[o] = f.h0;
        fp[o + 1] = f.h1;
        fp[o + 2] = f.h2;
        fp[o + 3] = f.h3;
        ids[i] = id;
        this.size++;
        return -1;
      }
      const o = i * 4;
      if (fp[o] === f.h0 && fp[o + 1] === f.h1 && fp[o + 2] === f.h2 && fp[o + 3] === f.h3) return have;
    }
  }

  /** the id kept for this fingerprint, or -1 */
  get(f: Digest): number {
    const fp = this.fp;
    const ids = this.ids;
    for (let i = (f.h0 ^ f.h3) & this.mask; ; i = (i + 1) & this.mask) {
      const have = ids[i]!;
      if (have < 0) return -1;
      const o = i * 4;
      if (fp[o] === f.h0 && fp[o + 1] === f.h1 && fp[o + 2] === f.h2 && fp[o + 3] === f.h3) return have;
    }
  }

  private grow() {
    const { fp, ids, cap } = this;
    this.cap = cap * 2;
    this.mask = this.cap - 1;
    this.fp = new Int32Array(this.cap * 4);
    this.ids = new Int32Array(this.cap).fill(-1);
    this.size = 0;
    for (let i = 0; i < cap; i++) {
      if (ids[i]! < 0) continue;
      const o = i * 4;
      this.addOrGet({ h0: fp[o]!, h1: fp[o + 1]!, h2: fp[o + 2]!, h3: fp[o + 3]! }, ids[i]!);
    }
  }

  fingerprints(): Digest[] {
    const out: { id: number; f: Digest }[] = [];
    for (let i = 0; i < this.cap; i++) {
      const id = this.ids[i]!;
      if (id < 0) continue;
      const o = i * 4;
      out.push({ id, f: { h0: this.fp[o]!, h1: this.fp[o + 1]!, h2: this.fp[o + 2]!, h3: this.fp[o + 3]! } });
    }
    // in the order the states were found (ids), not the table's
    return out.sort((a, b) => a.id - b.id).map((x) => x.f);
  }

  note(): string {
    return `hash compaction: a 128-bit fingerprint per state; P(any two of ${this.size} states collide) <= ${fmtP(collisionProbability(this.size))}`;
  }

  bytes(): number {
    return this.fp.byteLength + this.ids.byteLength;
  }
}

export class BitState implements Visited {
  private readonly bits: Uint8Array;
  private readonly mask: number;
  /** the state ids are not kept: same-layer arrivals are matched by the explorer's layer table */
  size = 0;
  private set = 0;

  constructor(readonly log2bits: number) {
    this.bits = new Uint8Array(2 ** Math.max(3, log2bits) / 8);
    this.mask = 2 ** Math.max(3, log2bits) - 1;
  }

  addOrGet(f: Digest, _id: number): number {
    // three hash functions: three of the fingerprint's words (independent bits of one hash)
    const m = this.mask;
    const i1 = (f.h0 >>> 0) & m;
    const i2 = (f.h1 >>> 0) & m;
    const i3 = (f.h2 >>> 0) & m;
    const b = this.bits;
    const had = (b[i1 >>> 3]! >> (i1 & 7)) & (b[i2 >>> 3]! >> (i2 & 7)) & (b[i3 >>> 3]! >> (i3 & 7)) & 1;
    if (had) return 0;
    for (const i of [i1, i2, i3]) {
      if (!((b[i >>> 3]! >> (i & 7)) & 1)) this.set++;
      b[i >>> 3]! |= 1 << (i & 7);
    }
    this.size++;
    return -1;
  }

  fingerprints(): null {
    return null;
  }

  /** the chance that a new state's three bits are all set already: (bits set / bits)^3 */
  lossRate(): number {
    return (this.set / (this.mask + 1)) ** 3;
  }

  note(): string {
    return `bitstate: 2^${this.log2bits} bits (${Math.round(this.bits.byteLength / 2 ** 20)} MB), 3 bits a state, ${((100 * this.set) / (this.mask + 1)).toFixed(2)}% set; a new state is taken as seen with probability ${fmtP(this.lossRate())} now: states may be missed (an under-approximation)`;
  }

  bytes(): number {
    return this.bits.byteLength;
  }
}

export function fmtP(p: number): string {
  if (p === 0) return '0';
  if (p >= 0.001) return p.toPrecision(2);
  return p.toExponential(1);
}
