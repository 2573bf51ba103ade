// Q4b: when FORGETs become BATCH_FORGET: many inodes dropped at once (drop_caches 2).
import { experiment } from './lab.ts';
const files: Record<string, string> = {};
for (let i = 0; i < 300; i++) files[`f${i}`] = 'x';
const text = await experiment('300 files looked up, then drop_caches 2', { files, quiet: ['LOOKUP'] }, async (lab) => {
  await lab.py(String.raw`
s('stat f0..f299', lambda: sum(st(P('f%d' % i))['size'] for i in range(300)))
s('drop_caches 2', lambda: open('/proc/sys/vm/drop_caches', 'w').write('2'))
mark('end')
`, 60000);
});
// summarise: count FORGET and BATCH_FORGET lines
const lines = text.split('\n');
const single = lines.filter((l) => l.startsWith('FORGET ')).length;
const batches = lines.filter((l) => l.startsWith('BATCH_FORGET')).map((l) => /count=(\d+)/.exec(l)?.[1]);
console.log(lines.filter((l) => !l.startsWith('FORGET ')).map((l) => l.replace(/ items=\S+/, ' items=…')).join('\n'));
console.log(`\nsingle FORGET requests: ${single}; BATCH_FORGET requests: ${batches.length} with counts [${batches.join(', ')}]`);
