// Q4: STATFS (also through an overlay), flock/POSIX locks with and without the INIT lock flags,
// FORGET/BATCH_FORGET (drop_caches, unlink, umount; nlookup counts).
import { mkdirSync, rmSync } from 'node:fs';
import { RealFuseTransport } from '../../oracle/transport.ts';
import { E, INIT, experiment } from './lab.ts';

const out: string[] = [];

// --- STATFS
out.push(await experiment('STATFS: statvfs on the root, on a file; then STATFS answered ENOSYS', { files: { a: 'x' } }, async (lab) => {
  await lab.py(String.raw`
s('statvfs(root)', lambda: tuple(os.statvfs(MNT))[:4])
s('statvfs(root) again', lambda: tuple(os.statvfs(MNT))[:4])
s('statvfs(a)', lambda: tuple(os.statvfs(P('a')))[:4])
fd = os.open(P('a'), os.O_RDONLY)
s('fstatvfs(fd of a)', lambda: tuple(os.fstatvfs(fd))[:4])
os.close(fd)
mark('end')
`);
}));
out.push(await experiment('STATFS answered ENOSYS', { files: { a: 'x' }, enosys: ['STATFS'] }, async (lab) => {
  await lab.py(String.raw`
s('statvfs(root)', lambda: tuple(os.statvfs(MNT)))
s('statvfs(root) again', lambda: tuple(os.statvfs(MNT)))
mark('end')
`);
}));
out.push(await experiment('overlay (lowerdir = the FUSE mount + an empty dir) mounted over FUSE, then statvfs on the overlay', { files: { a: 'x' } }, async (lab) => {
  const keeper = await RealFuseTransport.start({ keeper: true });
  try {
    mkdirSync(`${lab.backingDir}-empty`, { recursive: true });
    lab.note('keeper: mount overlay lowerdir=MNT:empty');
    const r = await keeper.mount('overlay', 'overlay', `${keeper.mountpoint}/ov`, 1 /* MS_RDONLY */, `lowerdir=${lab.mnt}:${lab.backingDir}-empty`);
    lab.note(`mount -> ${r}`);
    await lab.idle(200);
    await lab.py(String.raw`
OV = sys.argv[1] if len(sys.argv) > 1 else None
`);
    lab.note('statvfs(overlay root)');
    const { runPy, PRELUDE } = await import('./lab.ts');
    const lines = await runPy(PRELUDE + String.raw`
OV = os.environ['OV']
s('statvfs(overlay root)', lambda: tuple(os.statvfs(OV))[:4])
s('stat(overlay/a)', lambda: st(OV + '/a'))
s('read overlay/a', lambda: open(OV + '/a','rb').read())
mark('end')
`, { MNT: lab.mnt, BDIR: lab.backingDir, OV: `${keeper.mountpoint}/ov` });
    for (const l of lines) if (!l.startsWith('@')) lab.log.push(`  (py) ${l}`);
    await lab.idle(200);
  } finally {
    await keeper.stop();
    rmSync(`${lab.backingDir}-empty`, { recursive: true, force: true });
  }
}));

// --- locks
const lockScript = String.raw`
fd = s('open a O_RDWR', lambda: os.open(P('a'), os.O_RDWR))
s('flock LOCK_EX', lambda: fcntl.flock(fd, fcntl.LOCK_EX))
s('flock LOCK_UN', lambda: fcntl.flock(fd, fcntl.LOCK_UN))
s('flock LOCK_SH|LOCK_NB', lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB))
s('fcntl F_SETLK WRLCK 0..10', lambda: fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0))
s('fcntl F_SETLKW RDLCK 20..EOF', lambda: fcntl.lockf(fd, fcntl.LOCK_SH, 0, 20))
def getlk():
    b = struct.pack('hhqqi', fcntl.F_WRLCK, 0, 0, 0, 0)
    r = fcntl.fcntl(fd, fcntl.F_GETLK, b + b'\0' * 8)
    t, w, st_, ln, pid = struct.unpack('hhqqi', r[:struct.calcsize('hhqqi')])
    return {'type': t, 'start': st_, 'len': ln, 'pid': pid}
s('fcntl F_GETLK WRLCK 0..EOF', getlk)
s('fcntl F_SETLK UNLCK 0..10', lambda: fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0))
s('close (locks still held: flock SH, posix RD 20..)', lambda: os.close(fd))
fd2 = s('open a again', lambda: os.open(P('a'), os.O_RDWR))
s('close without locks', lambda: os.close(fd2))
mark('end')
`;
const lk = (r: { op: string; f: Record<string, unknown> }) => {
  if (r.op === 'GETLK') {
    const b = Buffer.alloc(24);
    b.writeUInt32LE(2, 16); // F_UNLCK: no conflict
    return { error: 0, body: b };
  }
  return { error: 0 };
};
for (const [name, flags] of [
  ['no lock flags (reference)', 0n],
  ['FUSE_POSIX_LOCKS', INIT.POSIX_LOCKS],
  ['FUSE_FLOCK_LOCKS', INIT.FLOCK_LOCKS],
  ['FUSE_POSIX_LOCKS|FUSE_FLOCK_LOCKS', INIT.POSIX_LOCKS | INIT.FLOCK_LOCKS],
] as const) {
  for (const kind of ['cached', 'passthrough'] as const) {
    out.push(await experiment(`locks, INIT ${name}, ${kind} open, server answers SETLK(W) 0, GETLK F_UNLCK`, {
      files: { a: 'hello' }, open: kind, initFlags: INIT.INIT_EXT | INIT.PASSTHROUGH | flags,
      handlers: { GETLK: lk, SETLK: lk, SETLKW: lk },
    }, async (lab) => { await lab.py(lockScript); }));
  }
}
out.push(await experiment('locks, INIT FUSE_POSIX_LOCKS|FUSE_FLOCK_LOCKS, lock requests answered ENOSYS', {
  files: { a: 'hello' }, initFlags: INIT.INIT_EXT | INIT.PASSTHROUGH | INIT.POSIX_LOCKS | INIT.FLOCK_LOCKS,
}, async (lab) => { await lab.py(lockScript); }));

// --- forget
out.push(await experiment('FORGET: stat 3 files, drop_caches 2, unlink, umount', { files: { a: 'a', b: 'b', c: 'c', d: 'd' } }, async (lab) => {
  await lab.py(String.raw`
s('stat a, b, c', lambda: [st(P(n))['size'] for n in 'abc'])
s('drop_caches 2', lambda: open('/proc/sys/vm/drop_caches', 'w').write('2'))
s('stat a', lambda: st(P('a')))
s('stat d', lambda: st(P('d')))
s('unlink d (not open)', lambda: os.unlink(P('d')))
fd = os.open(P('b'), os.O_RDONLY)
s('unlink b while open', lambda: os.unlink(P('b')))
s('close b', lambda: os.close(fd))
s('stat c', lambda: st(P('c')))
mark('before umount')
`);
  lab.note('umount (MNT_DETACH) by the helper');
  lab.note(`umount -> ${await lab.t.umount()}`);
  await lab.idle(300);
}));
out.push(await experiment('FORGET nlookup counts: entry_valid 0, stat a 3 times, drop_caches 2', { files: { a: 'a' }, entryValid: 0 }, async (lab) => {
  await lab.py(String.raw`
s('stat a x3', lambda: [st(P('a'))['size'] for i in range(3)])
s('drop_caches 2', lambda: open('/proc/sys/vm/drop_caches', 'w').write('2'))
mark('end')
`);
}));
void E;
console.log(out.join('\n'));
