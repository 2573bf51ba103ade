// Q5: CREATE (passthrough reply, ENOSYS fallback), O_EXCL, mknod, mkdir, unlink of an open
// passthrough file, rename/renameat2, and directories (OPENDIR/READDIR(PLUS)/RELEASEDIR,
// an OPENDIR reply with FOPEN_PASSTHROUGH).
import { E, FOPEN, INIT, experiment } from './lab.ts';

const renameHelpers = String.raw`
def renameat2(a, b, flags):
    r = _libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), flags)
    if r != 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
    return r
`;
const out: string[] = [];
out.push(await experiment('CREATE answered with FOPEN_PASSTHROUGH + backing id (server creates the backing file)', { files: { a: 'A' }, open: 'passthrough' }, async (lab) => {
  await lab.py(String.raw`
fd = s('open(n, O_CREAT|O_RDWR, 0640)', lambda: os.open(P('n'), os.O_CREAT | os.O_RDWR, 0o640))
s('pwrite "hello" @0', lambda: os.pwrite(fd, b'hello', 0))
s('backing file n', lambda: bdata('n'), q=True)
s('pread 10 @0', lambda: os.pread(fd, 10, 0))
s('fstat', lambda: fst(fd))
s('close', lambda: os.close(fd))
fd = s('open(n, O_CREAT|O_RDWR) existing (dentry cached)', lambda: os.open(P('n'), os.O_CREAT | os.O_RDWR, 0o640))
s('close', lambda: os.close(fd))
s('open(n, O_CREAT|O_EXCL) existing (dentry cached)', lambda: os.open(P('n'), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o640))
s('open(a, O_CREAT|O_EXCL) existing, never looked up', lambda: os.open(P('a'), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o640))
fd = s('open(b, O_CREAT|O_EXCL|O_WRONLY) new', lambda: os.open(P('b'), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
out.push(await experiment('CREATE answered ENOSYS (cached opens)', { files: { a: 'A' }, create: 'ENOSYS' }, async (lab) => {
  await lab.py(String.raw`
fd = s('open(n, O_CREAT|O_RDWR, 0640)', lambda: os.open(P('n'), os.O_CREAT | os.O_RDWR, 0o640))
s('close', lambda: os.close(fd))
fd = s('open(m, O_CREAT|O_EXCL|O_RDWR, 0600)', lambda: os.open(P('m'), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
out.push(await experiment('CREATE answered ENOSYS, OPEN answered passthrough: MKNOD + OPEN', { files: { a: 'A' }, create: 'ENOSYS', open: 'passthrough' }, async (lab) => {
  await lab.py(String.raw`
fd = s('open(n, O_CREAT|O_RDWR, 0640)', lambda: os.open(P('n'), os.O_CREAT | os.O_RDWR, 0o640))
s('pwrite', lambda: os.pwrite(fd, b'hi', 0))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
out.push(await experiment('mknod, mkdir, rmdir, unlink of an open passthrough file, rename, renameat2', { files: { a: 'AAAA', c: 'C' }, open: 'passthrough' }, async (lab) => {
  await lab.py(renameHelpers + String.raw`
s('mknod(f, S_IFREG|0644)', lambda: os.mknod(P('f'), 0o100644))
s('mknod(p, S_IFIFO|0644)', lambda: os.mknod(P('p'), 0o10644))
s('mkdir(d, 0750)', lambda: os.mkdir(P('d'), 0o750))
s('mkdir(d) again', lambda: os.mkdir(P('d'), 0o750))
s('rmdir(d)', lambda: os.rmdir(P('d')))
fd = s('open(a, O_RDWR) passthrough', lambda: os.open(P('a'), os.O_RDWR))
s('unlink(a) while open', lambda: os.unlink(P('a')))
s('backing file a still exists?', lambda: os.path.exists(B('a')), q=True)
s('pread after unlink', lambda: os.pread(fd, 10, 0))
s('pwrite after unlink', lambda: os.pwrite(fd, b'zz', 0))
s('fstat after unlink', lambda: fst(fd))
s('stat(a) after unlink', lambda: st(P('a')))
s('close', lambda: os.close(fd))
s('rename(c, c2)', lambda: os.rename(P('c'), P('c2')))
s('rename(f, c2) over an existing name', lambda: os.rename(P('f'), P('c2')))
s('renameat2(c2, x, RENAME_NOREPLACE)', lambda: renameat2(P('c2'), P('x'), 1))
s('renameat2(x, p, RENAME_EXCHANGE)', lambda: renameat2(P('x'), P('p'), 2))
mark('end')
`);
}));
out.push(await experiment('RENAME2 answered ENOSYS', { files: { c: 'C', e: 'E' }, enosys: ['RENAME2'] }, async (lab) => {
  await lab.py(renameHelpers + String.raw`
s('renameat2(c, x, RENAME_NOREPLACE)', lambda: renameat2(P('c'), P('x'), 1))
s('renameat2(c, x, RENAME_NOREPLACE) again', lambda: renameat2(P('c'), P('x'), 1))
s('rename(c, y) (flags 0)', lambda: os.rename(P('c'), P('y')))
mark('end')
`);
}));
const dirScript = String.raw`
s('listdir(d)', lambda: sorted(os.listdir(P('d'))))
s('listdir(d) again', lambda: sorted(os.listdir(P('d'))))
s('stat d/x', lambda: st(P('d/x')))
def scan():
    return sorted((e.name, e.is_file()) for e in os.scandir(P('d')))
s('scandir(d) + d_type', scan)
s('listdir(root)', lambda: sorted(os.listdir(MNT)))
mark('end')
`;
for (const [name, flags] of [
  ['INIT without READDIRPLUS flags (reference)', 0n],
  ['INIT FUSE_DO_READDIRPLUS', INIT.DO_READDIRPLUS],
  ['INIT FUSE_DO_READDIRPLUS|FUSE_READDIRPLUS_AUTO', INIT.DO_READDIRPLUS | INIT.READDIRPLUS_AUTO],
] as const) {
  out.push(await experiment(`directories, ${name}`, { files: { a: 'A' }, dirs: { d: { x: 'X', y: 'Y' } }, initFlags: INIT.INIT_EXT | INIT.PASSTHROUGH | flags }, async (lab) => {
    await lab.py(dirScript);
  }));
}
out.push(await experiment('OPENDIR answered ENOSYS', { dirs: { d: { x: 'X' } }, enosys: ['OPENDIR'] }, async (lab) => {
  await lab.py(String.raw`
s('listdir(d)', lambda: sorted(os.listdir(P('d'))))
s('listdir(d) again', lambda: sorted(os.listdir(P('d'))))
mark('end')
`);
}));
out.push(await experiment('READDIR answered ENOSYS', { dirs: { d: { x: 'X' } }, enosys: ['READDIR'] }, async (lab) => {
  await lab.py(String.raw`
s('listdir(d)', lambda: sorted(os.listdir(P('d'))))
s('listdir(d) again', lambda: sorted(os.listdir(P('d'))))
mark('end')
`);
}));
// OPENDIR with FOPEN_PASSTHROUGH
for (const [name, how] of [
  ['backing id of a regular file', 'file'],
  ['backing id 999 (unknown)', 'bogus'],
  ['backing id 0', 'zero'],
] as const) {
  out.push(await experiment(`OPENDIR answered FOPEN_PASSTHROUGH + ${name}`, {
    files: { a: 'A' }, dirs: { d: { x: 'X' } },
    opendir: async (_r, _n, lab) => {
      if (how === 'file') {
        const id = await lab.t.backingOpen(`${lab.backingDir}/a`);
        lab.log.push(`    (server: BACKING_OPEN /a -> ${id})`);
        return { open_flags: FOPEN.PASSTHROUGH, backing: id };
      }
      return { open_flags: FOPEN.PASSTHROUGH, backing: how === 'bogus' ? 999 : 0 };
    },
  }, async (lab) => {
    const dirId = await lab.t.backingOpen(`${lab.backingDir}/d`, { oflags: 0o200000 });
    lab.note(`BACKING_OPEN of the directory d (O_RDONLY|O_DIRECTORY) -> ${dirId}`);
    const dirIdPath = await lab.t.backingOpen(`${lab.backingDir}/d`, { oflags: 0o10000000 });
    lab.note(`BACKING_OPEN of the directory d (O_PATH) -> ${dirIdPath}`);
    await lab.py(String.raw`
fd = s('open(d, O_RDONLY|O_DIRECTORY)', lambda: os.open(P('d'), os.O_RDONLY | os.O_DIRECTORY))
s('getdents via listdir(fd)', lambda: sorted(os.listdir(fd)) if fd is not None else None)
s('read(fd) on a directory', lambda: os.read(fd, 10) if fd is not None else None)
s('close', lambda: os.close(fd) if fd is not None else None)
s('then open(d/x)', lambda: os.close(os.open(P('d/x'), os.O_RDONLY)))
s('then open(a) (cached open)', lambda: os.read(os.open(P('a'), os.O_RDONLY), 10))
mark('end')
`);
  }));
}
void E;
console.log(out.join('\n'));
