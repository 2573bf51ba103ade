// Q6: open modes (O_WRONLY, O_APPEND, O_TRUNC with/without FUSE_ATOMIC_O_TRUNC, O_DIRECT),
// fstat, and pread/pwrite past EOF, on cached and passthrough opens.
import { FOPEN, INIT, experiment, type OpenKind } from './lab.ts';

const script = String.raw`
fd = s('open O_WRONLY', lambda: os.open(P('a'), os.O_WRONLY))
s('pwrite "W" @0', lambda: os.pwrite(fd, b'W', 0))
s('pread on O_WRONLY', lambda: os.pread(fd, 4, 0))
s('close', lambda: os.close(fd))
fd = s('open O_WRONLY|O_APPEND', lambda: os.open(P('a'), os.O_WRONLY | os.O_APPEND))
s('write "++" (append)', lambda: os.write(fd, b'++'))
s('pwrite "P" @0 with O_APPEND', lambda: os.pwrite(fd, b'P', 0))
s('fstat', lambda: fst(fd))
s('backing', lambda: bdata('a'), q=True)
s('close', lambda: os.close(fd))
fd = s('open O_RDWR|O_TRUNC', lambda: os.open(P('a'), os.O_RDWR | os.O_TRUNC))
s('fstat', lambda: fst(fd))
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('pwrite "0123456789" @0', lambda: os.pwrite(fd, b'0123456789', 0))
s('fstat', lambda: fst(fd))
s('pread 4 @8 (crosses EOF)', lambda: os.pread(fd, 4, 8))
s('pread 4 @100 (past EOF)', lambda: os.pread(fd, 4, 100))
s('pwrite "E" @20 (past EOF, hole)', lambda: os.pwrite(fd, b'E', 20))
s('statx DONT_SYNC', lambda: statx(P('a'), AT_STATX_DONT_SYNC))
s('fstat', lambda: fst(fd))
s('pread 32 @0', lambda: os.pread(fd, 32, 0))
s('close', lambda: os.close(fd))
fd = s('open O_RDWR|O_DIRECT', lambda: os.open(P('a'), os.O_RDWR | os.O_DIRECT))
def dread():
    m = mmap.mmap(-1, 4096); n = os.preadv(fd, [m], 0); return m[:n]
def dwrite():
    m = mmap.mmap(-1, 4096); m[:] = b'D' * 4096; return os.pwritev(fd, [m], 0)
s('O_DIRECT pread 4096 @0 (aligned buffer)', dread)
s('O_DIRECT pwrite 4096 @0 (aligned buffer)', dwrite)
s('O_DIRECT pread 3 @1 (unaligned)', lambda: os.pread(fd, 3, 1))
s('close', lambda: os.close(fd))
mark('end')
`;
const out: string[] = [];
for (const kind of ['cached', 'passthrough'] as OpenKind[]) {
  for (const [name, flags] of [['reference INIT', 0n], ['INIT + FUSE_ATOMIC_O_TRUNC', INIT.ATOMIC_O_TRUNC]] as const) {
    out.push(await experiment(`${kind} opens, ${name}`, { files: { a: 'abcdef' }, open: kind, initFlags: INIT.INIT_EXT | INIT.PASSTHROUGH | flags }, async (lab) => {
      await lab.py(script);
    }));
  }
}
out.push(await experiment('passthrough+FOPEN_DIRECT_IO open, O_DIRECT', { files: { a: 'abcdef' }, open: 'passthrough+direct' }, async (lab) => {
  await lab.py(String.raw`
fd = s('open O_RDWR|O_DIRECT', lambda: os.open(P('a'), os.O_RDWR | os.O_DIRECT))
s('pread 3 @1', lambda: os.pread(fd, 3, 1))
s('close', lambda: os.close(fd))
mark('end')
`);
}));
void FOPEN;
console.log(out.join('\n'));
