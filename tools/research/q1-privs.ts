// Q1: GETXATTR("security.capability") around writes (file_remove_privs), per open kind and
// per GETXATTR answer. Prints markdown to stdout.
import { E, experiment, type OpenKind } from './lab.ts';

const script = String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('fstat', lambda: fst(fd))
s('pwrite 2B @0', lambda: os.pwrite(fd, b'XY', 0))
s('pwrite again @2', lambda: os.pwrite(fd, b'ZW', 2))
s('write 1B', lambda: os.write(fd, b'w'))
def spl():
    r, w = os.pipe(); os.write(w, b'SP'); n = os.splice(r, fd, 2, offset_dst=4); os.close(r); os.close(w); return n
s('splice pipe->file 2B @4', spl)
def mm():
    m = mmap.mmap(fd, 4096 if os.fstat(fd).st_size >= 4096 else os.fstat(fd).st_size); m[0:2] = b'MM'; m.flush(); m.close(); return 'ok'
s('mmap store+msync+munmap', mm)
s('ftruncate 20', lambda: os.ftruncate(fd, 20))
s('close', lambda: os.close(fd))
fd2 = s('open O_WRONLY|O_TRUNC', lambda: os.open(P('a'), os.O_WRONLY | os.O_TRUNC))
s('pwrite after reopen', lambda: os.pwrite(fd2, b'AB', 0))
s('close', lambda: os.close(fd2))
s('truncate(path) 5', lambda: os.truncate(P('a'), 5))
s('stat', lambda: st(P('a')))
mark('end')
`;

const out: string[] = [];
for (const kind of ['cached', 'direct', 'passthrough'] as OpenKind[]) {
  for (const [gx, gxv] of [['ENOSYS', -E.ENOSYS], ['ENODATA', -E.ENODATA]] as const) {
    out.push(await experiment(`open ${kind}, GETXATTR answered ${gx}`, { files: { a: 'hello world, some data\n' }, open: kind, getxattr: gxv }, async (lab) => {
      await lab.py(script);
    }));
  }
}
// a setuid file: what remove_privs does after GETXATTR
out.push(await experiment('setuid file (mode 04755), cached open, GETXATTR ENODATA', {
  files: { a: 'hello world\n' }, getxattr: -E.ENODATA,
  handlers: { LOOKUP: (r, lab) => { if (r.f.name === 'a') { const c = [...lab.nodes.values()].find((n) => n.name === 'a'); if (c) c.mode = 0o104755; } return undefined; } },
}, async (lab) => {
  // make the node setuid before the lookup answer is built
  await lab.py(String.raw`
fd = s('open O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('fstat', lambda: fst(fd))
s('pwrite', lambda: os.pwrite(fd, b'XY', 0))
s('fstat', lambda: fst(fd))
s('pwrite again', lambda: os.pwrite(fd, b'XY', 0))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
console.log(out.join('\n'));
