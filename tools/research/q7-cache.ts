// Q7: page cache and attribute caching: repeated reads, readahead, reads past the cached size,
// attr_valid 0, entry_valid 0, stat after a passthrough write, a stale GETATTR size, and
// FUSE_WRITEBACK_CACHE.
import { attrOut, INIT, experiment } from './lab.ts';

const big = 'x'.repeat(20000);
const out: string[] = [];
for (const ra of [0, 131072]) {
  out.push(await experiment(`cached reads of a 20000-byte file, INIT max_readahead=${ra}`, { files: { a: big, b: big }, maxReadahead: ra }, async (lab) => {
    await lab.py(String.raw`
fd = s('open', lambda: os.open(P('a'), os.O_RDONLY))
s('pread 20000 @0', lambda: len(os.pread(fd, 20000, 0)))
s('pread 20000 @0 again', lambda: len(os.pread(fd, 20000, 0)))
s('close', lambda: os.close(fd))
fd = s('reopen (no KEEP_CACHE)', lambda: os.open(P('a'), os.O_RDONLY))
s('pread 100 @0', lambda: len(os.pread(fd, 100, 0)))
s('close', lambda: os.close(fd))
fd = s('open b', lambda: os.open(P('b'), os.O_RDONLY))
s('sequential read(4096) x5', lambda: [len(os.read(fd, 4096)) for i in range(5)])
s('close', lambda: os.close(fd))
mark('end')
`);
  }));
}
const growScript = String.raw`
fd = s('open', lambda: os.open(P('a'), os.O_RDONLY))
s('stat', lambda: st(P('a')))
s('pread 100 @0', lambda: os.pread(fd, 100, 0))
def grow():
    with open(B('a'), 'ab') as f: f.write(b'-MORE-DATA')
    return bsize('a')
s('server side: the backing file grows to 20 bytes', grow, q=True)
s('stat', lambda: st(P('a')))
s('pread 100 @0', lambda: os.pread(fd, 100, 0))
s('pread 100 @0 again', lambda: os.pread(fd, 100, 0))
s('close', lambda: os.close(fd))
fd = s('open again', lambda: os.open(P('a'), os.O_RDONLY))
s('pread 100 @0', lambda: os.pread(fd, 100, 0))
s('close', lambda: os.close(fd))
mark('end')
`;
for (const av of [86400, 0]) {
  for (const kind of ['cached', 'passthrough'] as const) {
    out.push(await experiment(`${kind}, attr_valid=${av}: the server's file grows behind the kernel`, { files: { a: '0123456789' }, attrValid: av, open: kind }, async (lab) => {
      await lab.py(growScript);
    }));
  }
}
out.push(await experiment('entry_valid 0 (attr_valid 86400): open twice, stat twice', { files: { a: 'A' }, entryValid: 0 }, async (lab) => {
  await lab.py(String.raw`
s('stat', lambda: st(P('a')))
s('stat', lambda: st(P('a')))
fd = s('open', lambda: os.open(P('a'), os.O_RDONLY))
s('close', lambda: os.close(fd))
fd = s('open', lambda: os.open(P('a'), os.O_RDONLY))
s('fstat', lambda: fst(fd))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
const ptWrite = String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('pwrite 6 bytes @10 (extends 10 -> 16)', lambda: os.pwrite(fd, b'EXTEND', 10))
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('stat', lambda: st(P('a')))
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('stat again', lambda: st(P('a')))
s('pread 100 @0', lambda: os.pread(fd, 100, 0))
s('lseek END', lambda: os.lseek(fd, 0, os.SEEK_END))
s('close', lambda: os.close(fd))
mark('end')
`;
out.push(await experiment('passthrough write past EOF, then stat (server GETATTR answers the backing size)', { files: { a: '0123456789' }, open: 'passthrough' }, async (lab) => {
  await lab.py(ptWrite);
}));
out.push(await experiment('passthrough write past EOF, server GETATTR answers a STALE size (5)', {
  files: { a: '0123456789' }, open: 'passthrough',
  handlers: { GETATTR: (r, lab) => ({ error: 0, body: attrOut(86400, { ...lab.attrOf(lab.nodes.get(r.nodeid)!), size: r.nodeid === 1 ? 0 : 5 }) }) },
}, async (lab) => {
  await lab.py(ptWrite);
}));
out.push(await experiment('cached write past EOF, server GETATTR answers a STALE size (5)', {
  files: { a: '0123456789' }, open: 'cached',
  handlers: { GETATTR: (r, lab) => ({ error: 0, body: attrOut(86400, { ...lab.attrOf(lab.nodes.get(r.nodeid)!), size: r.nodeid === 1 ? 0 : 5 }) }) },
}, async (lab) => {
  await lab.py(ptWrite);
}));
// writeback cache
const wbScript = String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('pwrite "XY" @2 (partial page)', lambda: os.pwrite(fd, b'XY', 2))
s('backing', lambda: bdata('a'), q=True)
s('fstat', lambda: fst(fd))
s('pwrite 4096 bytes @4096 (whole page past EOF)', lambda: os.pwrite(fd, b'P' * 4096, 4096))
s('fsync', lambda: os.fsync(fd))
s('backing size', lambda: bsize('a'), q=True)
s('pwrite "Z" @0', lambda: os.pwrite(fd, b'Z', 0))
s('stat', lambda: st(P('a')))
s('close', lambda: os.close(fd))
s('backing', lambda: bdata('a')[:12], q=True)
fd = s('open O_RDWR again', lambda: os.open(P('a'), os.O_RDWR))
s('pwrite "Q" @1', lambda: os.pwrite(fd, b'Q', 1))
s('ftruncate 3', lambda: os.ftruncate(fd, 3))
s('chmod 0600', lambda: os.chmod(P('a'), 0o600))
s('close', lambda: os.close(fd))
mark('end')
`;
out.push(await experiment('FUSE_WRITEBACK_CACHE (passthrough thus off), cached opens, GETXATTR ENOSYS', {
  files: { a: '0123456789' }, initFlags: INIT.INIT_EXT | INIT.PASSTHROUGH | INIT.WRITEBACK_CACHE,
}, async (lab) => {
  const id = await lab.t.backingOpen(`${lab.backingDir}/a`);
  lab.note(`BACKING_OPEN with WRITEBACK_CACHE negotiated -> ${id}`);
  await lab.py(wbScript);
}));
console.log(out.join('\n'));
