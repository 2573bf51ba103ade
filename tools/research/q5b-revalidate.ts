import { experiment } from './lab.ts';
console.log(await experiment('mkdir then stat', { files: { a: 'A' } }, async (lab) => {
  await lab.py(String.raw`
s('mkdir d', lambda: os.mkdir(P('d')))
s('stat d', lambda: st(P('d')))
s('stat d', lambda: st(P('d')))
s('mknod f', lambda: os.mknod(P('f'), 0o100644))
s('stat f', lambda: st(P('f')))
fd = s('creat g', lambda: os.open(P('g'), os.O_CREAT|os.O_RDWR))
s('close', lambda: os.close(fd))
s('stat g', lambda: st(P('g')))
mark('end')
`);
}));
