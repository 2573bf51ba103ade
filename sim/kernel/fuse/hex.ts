// Messages are kept in the state as hex strings: plain data that clones and prints.
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** The bytes of a hex string, in an ArrayBuffer of their own (callers may use .buffer). */
export function fromHex(s: string): Uint8Array {
  // written straight into the result: Buffer.from(s, 'hex') would fill a pooled buffer to copy
  // (what Buffer.from does with a string that is not all hex: the bytes before the first bad pair)
  const out = new Uint8Array(s.length >>> 1);
  const n = Buffer.from(out.buffer).write(s, 'hex');
  return n === out.length ? out : out.slice(0, n);
}
