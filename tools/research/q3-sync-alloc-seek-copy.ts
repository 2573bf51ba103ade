// Q3: FSYNC/fdatasync, FALLOCATE, LSEEK, COPY_FILE_RANGE(_64), sendfile on cached, direct_io and
// passthrough files; with the server implementing them and with ENOSYS.
import { closeSync, openSync, readSync, writeSync, statSync, ftruncateSync } from 'node:fs';
import { experiment, type Handler, type Lab, type OpenKind } from './lab.ts';

const script = String.raw`
libc = _libc
def fallocate(fd, mode, off, ln):
    r = libc.fallocate(fd, mode, ctypes.c_long(off), ctypes.c_long(ln))
    if r != 0:
        e = ctypes.get_errno(); raise OSError(e, os.strerror(e))
    return r
fa = s('open a O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
fb = s('open b O_RDWR', lambda: os.open(P('b'), os.O_RDWR))
s('fsync(a)', lambda: os.fsync(fa))
s('fdatasync(a)', lambda: os.fdatasync(fa))
s('fsync(a) again', lambda: os.fsync(fa))
s('fallocate(a, 0, 0, 100)', lambda: fallocate(fa, 0, 0, 100))
s('fstat a', lambda: fst(fa))
s('fallocate(a, KEEP_SIZE|PUNCH_HOLE, 0, 10)', lambda: fallocate(fa, 3, 0, 10))
s('fallocate(a, 0, 0, 200) again', lambda: fallocate(fa, 0, 0, 200))
s('lseek(a, 5, SET)', lambda: os.lseek(fa, 5, os.SEEK_SET))
s('lseek(a, 1, CUR)', lambda: os.lseek(fa, 1, os.SEEK_CUR))
s('lseek(a, 0, END)', lambda: os.lseek(fa, 0, os.SEEK_END))
s('lseek(a, 0, DATA)', lambda: os.lseek(fa, 0, os.SEEK_DATA))
s('lseek(a, 0, HOLE)', lambda: os.lseek(fa, 0, os.SEEK_HOLE))
s('lseek(a, 0, DATA) again', lambda: os.lseek(fa, 0, os.SEEK_DATA))
s('lseek(a, 10**6, DATA)', lambda: os.lseek(fa, 10**6, os.SEEK_DATA))
s('copy_file_range(a->b, 8, off 0->0)', lambda: os.copy_file_range(fa, fb, 8, 0, 0))
s('copy_file_range(a->b, 8, off 8->8) again', lambda: os.copy_file_range(fa, fb, 8, 8, 8))
s('b content', lambda: os.pread(fb, 32, 0))
s('sendfile(b <- a, off 0, 6)', lambda: os.sendfile(fb, fa, 0, 6))
s('close a', lambda: os.close(fa))
s('close b', lambda: os.close(fb))
mark('end')
`;

function pathOf(lab: Lab, nodeid: number): string {
  return lab.nodes.get(nodeid)!.path;
}
const implemented: Record<string, Handler> = {
  FALLOCATE: (r, lab) => {
    const p = pathOf(lab, r.nodeid);
    const end = (r.f.offset as number) + (r.f.length as number);
    if (r.f.mode === '0x0' && statSync(p).size < end) {
      const fd = openSync(p, 'r+');
      ftruncateSync(fd, end);
      closeSync(fd);
    }
    return { error: 0 };
  },
  COPY_FILE_RANGE: (r, lab) => copy(r, lab, false),
  COPY_FILE_RANGE_64: (r, lab) => copy(r, lab, true),
};
function copy(r: Parameters<Handler>[0], lab: Lab, wide: boolean) {
  const from = pathOf(lab, r.nodeid);
  const to = pathOf(lab, r.f.nodeid_out as number);
  const buf = Buffer.alloc(r.f.len as number);
  const fi = openSync(from, 'r');
  const n = readSync(fi, buf, 0, buf.length, r.f.off_in as number);
  closeSync(fi);
  const fo = openSync(to, 'r+');
  writeSync(fo, buf, 0, n, r.f.off_out as number);
  closeSync(fo);
  const b = Buffer.alloc(8);
  if (wide) b.writeBigUInt64LE(BigInt(n), 0);
  else b.writeUInt32LE(n, 0);
  return { error: 0, body: b };
}

const out: string[] = [];
for (const kind of ['cached', 'direct', 'passthrough'] as OpenKind[]) {
  out.push(await experiment(`${kind}: FSYNC, FALLOCATE, LSEEK, COPY_FILE_RANGE(_64) all answered ENOSYS`, {
    files: { a: 'AAAAAAAAAAAAAAAAAAAAAAAA', b: 'bbbbbbbbbbbbbbbbbbbbbbbb' }, open: kind,
    enosys: ['FSYNC', 'FALLOCATE', 'LSEEK', 'COPY_FILE_RANGE', 'COPY_FILE_RANGE_64'],
  }, async (lab) => { await lab.py(script); }));
  out.push(await experiment(`${kind}: FSYNC 0, FALLOCATE 0, LSEEK and COPY_FILE_RANGE(_64) implemented`, {
    files: { a: 'AAAAAAAAAAAAAAAAAAAAAAAA', b: 'bbbbbbbbbbbbbbbbbbbbbbbb' }, open: kind, handlers: implemented,
  }, async (lab) => { await lab.py(script); }));
}
out.push(await experiment('cached: COPY_FILE_RANGE_64 ENOSYS, COPY_FILE_RANGE implemented', {
  files: { a: 'AAAAAAAAAAAAAAAAAAAAAAAA', b: 'bbbbbbbbbbbbbbbbbbbbbbbb' }, open: 'cached',
  handlers: { COPY_FILE_RANGE: implemented.COPY_FILE_RANGE! }, enosys: ['COPY_FILE_RANGE_64'],
}, async (lab) => { await lab.py(String.raw`
fa = s('open a O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
fb = s('open b O_RDWR', lambda: os.open(P('b'), os.O_RDWR))
s('copy_file_range(a->b, 8, off 0->0)', lambda: os.copy_file_range(fa, fb, 8, 0, 0))
s('copy_file_range(a->b, 8, off 8->8) again', lambda: os.copy_file_range(fa, fb, 8, 8, 8))
s('close a', lambda: os.close(fa))
s('close b', lambda: os.close(fb))
mark('end')
`); }));
console.log(out.join('\n'));
