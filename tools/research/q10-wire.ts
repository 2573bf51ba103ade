// Q10: the kernel's INIT request, and OPEN replies with unknown FOPEN bits / a backing_id
// without FOPEN_PASSTHROUGH, with and without passthrough.
import { FOPEN, initNames, experiment, type OpenDecision } from './lab.ts';

const out: string[] = [];
let initText = '';
out.push(await experiment('the INIT request', { files: { a: 'A' } }, async (lab) => {
  const r = lab.kernelInit!;
  const f = r.f as { major: number; minor: number; max_readahead: number; flags: number; flags2: number };
  const all = BigInt(f.flags) | (BigInt(f.flags2) << 32n);
  const unusedNonZero = [...r.body.subarray(20)].some((b) => b !== 0);
  initText = [
    `INIT header: len=${40 + r.body.length} nodeid=${r.nodeid} uid=${r.uid} gid=${r.gid} pid=${r.pid} body=${r.body.length} bytes`,
    `major=${f.major} minor=${f.minor} max_readahead=${f.max_readahead}`,
    `flags=0x${f.flags.toString(16)} flags2=0x${f.flags2.toString(16)}`,
    `named: ${initNames(all)}`,
    `unused[11] non-zero: ${unusedNonZero}`,
  ].join('\n');
  for (const l of initText.split('\n')) lab.log.push(`# ${l}`);
}));

const script = String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('pread 4 @0', lambda: os.pread(fd, 4, 0) if fd is not None else None)
s('pwrite', lambda: os.pwrite(fd, b'w', 0) if fd is not None else None)
s('close', lambda: os.close(fd) if fd is not None else None)
mark('end')
`;
const cases: [string, (lab: Parameters<NonNullable<Parameters<typeof experiment>[1]['opendir']>>[2]) => Promise<OpenDecision> | OpenDecision][] = [];
for (const bit of [10, 20, 31]) {
  cases.push([`cached open_flags = 1<<${bit}`, () => ({ open_flags: 1 << bit })]);
  cases.push([`passthrough open_flags = FOPEN_PASSTHROUGH | 1<<${bit}`, () => ({ open_flags: FOPEN.PASSTHROUGH | (1 << bit), backing: 'backing' })]);
}
cases.push(['open_flags 0 with backing_id = 7 (no FOPEN_PASSTHROUGH; "padding" non-zero)', () => ({ open_flags: 0, backing: 7 })]);
cases.push(['open_flags 0 with a VALID backing_id (no FOPEN_PASSTHROUGH)', async (lab) => {
  const id = await lab.t.backingOpen(`${lab.backingDir}/a`);
  lab.log.push(`    (server: BACKING_OPEN /a -> ${id})`);
  return { open_flags: 0, backing: id };
}]);
cases.push(['open_flags FOPEN_PASSTHROUGH|FOPEN_KEEP_CACHE', () => ({ open_flags: FOPEN.PASSTHROUGH | FOPEN.KEEP_CACHE, backing: 'backing' })]);
cases.push(['open_flags FOPEN_PASSTHROUGH|FOPEN_NONSEEKABLE|FOPEN_STREAM', () => ({ open_flags: FOPEN.PASSTHROUGH | FOPEN.NONSEEKABLE | FOPEN.STREAM, backing: 'backing' })]);
cases.push(['open_flags FOPEN_PASSTHROUGH|FOPEN_CACHE_DIR', () => ({ open_flags: FOPEN.PASSTHROUGH | FOPEN.CACHE_DIR, backing: 'backing' })]);
cases.push(['reply body 24 bytes (8 trailing junk bytes)', () => { const b = Buffer.alloc(24); b.writeBigUInt64LE(9n, 0); b.writeUInt32LE(0, 8); return { raw: b }; }]);
cases.push(['reply body 8 bytes (short)', () => { const b = Buffer.alloc(8); b.writeBigUInt64LE(9n, 0); return { raw: b }; }]);
for (const [name, fn] of cases) {
  out.push(await experiment(`OPEN reply: ${name}`, { files: { a: 'ABCDEFGH' }, open: (_r, _n, lab) => fn(lab) }, async (lab) => {
    await lab.py(script);
    if (lab.t.replyErrors.length) lab.note(`replies refused by /dev/fuse: ${JSON.stringify(lab.t.replyErrors.map((e) => ({ errno: e.errno, unique: String(e.unique) })))}`);
  }));
}
console.log(out.join('\n'));
