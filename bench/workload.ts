// A long program for the benchmarks: several users open, read, write and close passthrough
// files on one FUSE mount served by passthrough_hp, interleaved round-robin.
import type { ScenarioInput } from '../sim/scenario/schema.ts';

export function longProgram(users: number, rounds: number): ScenarioInput {
  const files = ['a', 'b', 'c'];
  const tasks = Array.from({ length: users }, (_, u) => ({
    name: `u${u}`,
    ops: Array.from({ length: rounds }, (_, r) => {
      const f = files[(u + r) % files.length]!;
      return [
        { op: 'open' as const, path: `/fuse/${f}`, mode: 'rw' as const, save: 'fd' },
        { op: 'read' as const, fd: '$fd', n: 8 },
        { op: 'write' as const, fd: '$fd', data: `u${u}r${r}` },
        { op: 'close' as const, fd: '$fd' },
      ];
    }).flat(),
  }));
  return {
    name: `bench-${users}x${rounds}`,
    filesystems: [
      { name: 'lower', type: 'plain', files: Object.fromEntries(files.map((f) => [f, `data of ${f}`])) },
      {
        name: 'fuse',
        type: 'fuse',
        server: { files: Object.fromEntries(files.map((f) => [f, { backing: `/lower/${f}` }])) },
      },
    ],
    tasks,
    schedule: 'round-robin',
  };
}
