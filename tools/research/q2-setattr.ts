// Q2: SETATTR from ftruncate, truncate, chmod, fchmod, utimes; what the kernel believes after.
import { attrOut, experiment, type OpenKind } from './lab.ts';

const script = String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('ftruncate(fd, 5)', lambda: os.ftruncate(fd, 5))
s('backing size', lambda: bsize('a'), q=True)
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('stat', lambda: st(P('a')))
s('pread 100 @0', lambda: os.pread(fd, 100, 0))
s('ftruncate(fd, 40) (grow)', lambda: os.ftruncate(fd, 40))
s('backing size', lambda: bsize('a'), q=True)
s('stat', lambda: st(P('a')))
s('truncate(path, 3)', lambda: os.truncate(P('a'), 3))
s('stat', lambda: st(P('a')))
s('chmod(path, 0600)', lambda: os.chmod(P('a'), 0o600))
s('stat', lambda: st(P('a')))
s('fchmod(fd, 0640)', lambda: os.fchmod(fd, 0o640))
s('chown(path, 1, 2)', lambda: os.chown(P('a'), 1, 2))
s('utime(path, (1000, 2000))', lambda: os.utime(P('a'), (1000, 2000)))
s('utime(path) now', lambda: os.utime(P('a')))
s('futimens(fd, mtime only)', lambda: os.utime(fd, ns=(0, 5_000_000_000)))
s('stat', lambda: st(P('a')))
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('close', lambda: os.close(fd))
mark('end')
`;

const out: string[] = [];
for (const kind of ['cached', 'passthrough'] as OpenKind[]) {
  out.push(await experiment(`${kind} open; server applies SETATTR and answers the new attributes`, { files: { a: 'hello world, twenty-four\n' }, open: kind }, async (lab) => {
    await lab.py(script);
  }));
}
out.push(await experiment('passthrough open; server IGNORES SETATTR (answers the old attributes, leaves the backing file alone)', {
  files: { a: 'hello world, twenty-four\n' }, open: 'passthrough',
  handlers: { SETATTR: (r, lab) => ({ error: 0, body: attrOut(86400, lab.attrOf(lab.nodes.get(r.nodeid)!)) }) },
}, async (lab) => {
  await lab.py(String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('ftruncate(fd, 5)', lambda: os.ftruncate(fd, 5))
s('backing size', lambda: bsize('a'), q=True)
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('stat', lambda: st(P('a')))
s('pread 100 @0', lambda: os.pread(fd, 100, 0))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
out.push(await experiment('cached open; server IGNORES SETATTR (answers the old attributes)', {
  files: { a: 'hello world, twenty-four\n' }, open: 'cached',
  handlers: { SETATTR: (r, lab) => ({ error: 0, body: attrOut(86400, lab.attrOf(lab.nodes.get(r.nodeid)!)) }) },
}, async (lab) => {
  await lab.py(String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('ftruncate(fd, 5)', lambda: os.ftruncate(fd, 5))
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('stat', lambda: st(P('a')))
s('pread 100 @0', lambda: os.pread(fd, 100, 0))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
out.push(await experiment('SETATTR answered ENOSYS (cached open)', { files: { a: 'hello world, twenty-four\n' }, enosys: ['SETATTR'] }, async (lab) => {
  await lab.py(String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('ftruncate(fd, 5)', lambda: os.ftruncate(fd, 5))
s('ftruncate(fd, 5) again', lambda: os.ftruncate(fd, 5))
s('chmod', lambda: os.chmod(P('a'), 0o600))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
console.log(out.join('\n'));
