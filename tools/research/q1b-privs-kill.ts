import { E, experiment } from './lab.ts';
const sc = String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('fstat', lambda: fst(fd))
s('pwrite', lambda: os.pwrite(fd, b'XY', 0))
s('fstat', lambda: fst(fd))
s('pwrite again', lambda: os.pwrite(fd, b'XY', 0))
s('close', lambda: os.close(fd))
mark('end')
`;
const out: string[] = [];
for (const kind of ['cached', 'passthrough', 'direct'] as const) {
out.push(await experiment(`setuid file (mode 0104755), ${kind} open, GETXATTR ENODATA`, { files: { a: 'hello world\n' }, getxattr: -E.ENODATA, modes: { a: 0o104755 }, open: kind }, async (lab) => { await lab.py(sc); }));
}
const cap = (r: any) => { if (r.f.size === 0) { const b = Buffer.alloc(8); b.writeUInt32LE(20, 0); return { error: 0, body: b }; } return { error: -E.ERANGE }; };
for (const kind of ['cached', 'passthrough'] as const) {
out.push(await experiment(`file with a security.capability xattr (GETXATTR size 0 answered 20), ${kind} open`, { files: { a: 'hello world\n' }, open: kind, handlers: { GETXATTR: cap } }, async (lab) => { await lab.py(sc); }));
}
console.log(out.join('\n'));
