// Regression tests for every example of the hardening issue: each input that crashed, was
// silently accepted or ran without bound now ends in a located rejection (exit 2) or a clean,
// bounded result. The CLI runs in-process (main(argv, io), cli/app.ts).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../cli/app.ts';
import { loadScenario } from '../sim/scenario/load.ts';
import { explore } from '../sim/explore/explore.ts';
import { merge } from '../sim/explore/parallel.ts';
import { recordTrace } from '../sim/trace/write.ts';
import { serializeTrace } from '../sim/trace/format.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = mkdtempSync(join(tmpdir(), 'fpsim-hardening-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(...argv: string[]) {
  let out = '';
  let err = '';
  const t0 = performance.now();
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s) });
  return { code, out, err, ms: performance.now() - t0 };
}

type J = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const base = (name: string): J => JSON.parse(readFileSync(join(ROOT, 'scenarios', `${name}.json`), 'utf8')) as J;
let n = 0;
function file(s: unknown): string {
  const f = join(dir, `s${n++}.json`);
  writeFileSync(f, typeof s === 'string' ? s : JSON.stringify(s));
  return f;
}
function variant(name: string, edit: (s: J) => void): string {
  const s = base(name);
  edit(s);
  return file(s);
}

/** A rejection: exit 2, one message, no stack trace, and it says where and what. */
function rejected(r: { code: number; err: string }, ...what: (string | RegExp)[]) {
  expect(r.code, r.err).toBe(2);
  expect(r.err).not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
  expect(r.err).not.toContain('Invalid input');
  for (const w of what) typeof w === 'string' ? expect(r.err).toContain(w) : expect(r.err).toMatch(w);
}

describe('crashes with a stack trace, now located rejections', () => {
  for (const name of ['setup', 'rcu_gp']) {
    it(`a task named ${name} (the model's own task name)`, async () => {
      const f = variant('passthrough-read', (s) => (s['tasks'][0].name = name));
      rejected(await cli('run', f), '$.tasks[0].name', `"${name}" is a name the model gives its own tasks`);
    });
  }
  it('a task named fuse-daemon:x or teardown:x, a process named kernel, a filesystem named devtmpfs', async () => {
    rejected(await cli('run', variant('passthrough-read', (s) => (s['tasks'][0].name = 'kernel'))), '$.tasks[0].name', "kernel's own process");
    rejected(await cli('run', variant('passthrough-read', (s) => (s['tasks'][0].proc = 'kernel'))), '$.tasks[0].proc');
    rejected(await cli('run', variant('passthrough-read', (s) => (s['filesystems'][0].name = 'devtmpfs'))), '$.filesystems[0].name');
  });
  it('a write offset of 2^31 (the model keeps file data in memory)', async () => {
    const f = variant('dio-parallel-write-past-eof-exclusive', (s) => {
      s['tasks'][0].ops[1].offset = 2 ** 31;
      delete s['schedule'];
    });
    rejected(await cli('run', f), '$.tasks[0].ops[1].offset', '16 MiB', '2147483648');
    // offset + data past the bound too
    const g = variant('dio-parallel-write-past-eof-exclusive', (s) => (s['tasks'][0].ops[1].offset = 2 ** 24 - 1));
    rejected(await cli('run', g), '$.tasks[0].ops[1].offset', 'offset + data length');
  });
  it('an out-of-range backing_id in an open reply (fuse_open_out.backing_id is an s32)', async () => {
    for (const v of [2 ** 31, -(2 ** 31) - 1, 2 ** 40]) {
      const f = variant('abort-passthrough-keeps-working', (s) => (s['filesystems'][1].server.files.g.open = { mode: 'reply', flags: ['PASSTHROUGH'], backing_id: v }));
      rejected(await cli('run', f), '$.filesystems[1].server.files.g.open.backing_id', String(v));
    }
  });
  it('out-of-range INIT fields (u32) and ioctl arguments (u32, s32)', async () => {
    for (const k of ['major', 'minor', 'max_stack_depth']) {
      const f = variant('abort-passthrough-keeps-working', (s) => (s['filesystems'][1].server.init = { [k]: 2 ** 32 }));
      rejected(await cli('run', f), `$.filesystems[1].server.init.${k}`, '4294967295');
    }
    const ctl = (op: J) =>
      variant('abort-backing-ioctls-still-work', (s) => {
        s['tasks'][0].ops = [{ op: 'open', path: '/lower/data', save: 'b' }, op];
      });
    rejected(await cli('run', ctl({ op: 'backing_open', fd: '$b', flags: 2 ** 32 })), '$.tasks[0].ops[1].flags');
    rejected(await cli('run', ctl({ op: 'backing_close', id: 2 ** 32 })), '$.tasks[0].ops[1].id');
    rejected(await cli('run', ctl({ op: 'ioctl', cmd: -1 })), '$.tasks[0].ops[1].cmd');
    rejected(await cli('run', ctl({ op: 'read', fd: 2 ** 31 })), '$.tasks[0].ops[1].fd');
  });
  it('the same in a replayed trace: checked at the edge, with the path inside the trace', async () => {
    const t = recordTrace(loadScenario(join(ROOT, 'scenarios', 'abort-passthrough-keeps-working.json'))).trace;
    const j = JSON.parse(serializeTrace(t)) as J;
    j['scenario'].filesystems[1].server.files.g.open = { mode: 'reply', flags: ['DIRECT_IO'], backing_id: 2 ** 40 };
    const f = file(j);
    rejected(await cli('replay', f), '$.scenario.filesystems[1].server.files.g.open.backing_id');
    const k = JSON.parse(serializeTrace(t)) as J;
    k['scenario'].filesystems[1].server.init = { major: -1 };
    rejected(await cli('view', file(k), '-o', join(dir, 'x.html')), '$.scenario.filesystems[1].server.init.major');
  });
  it('explore --workers with a huge number', async () => {
    rejected(await cli('explore', join(ROOT, 'scenarios', 'passthrough-read.json'), '--workers', '100000000000'), '--workers', 'core');
    rejected(await cli('explore', join(ROOT, 'scenarios', 'passthrough-read.json'), '--workers', String(availableParallelism() + 1)), '--workers');
  });
  it('explore --hashes into a missing directory: refused before the exploration', async () => {
    const r = await cli('explore', join(ROOT, 'scenarios', 'passthrough-read.json'), '--hashes', '/nonexistent/dir/h.txt');
    rejected(r, '--hashes', 'no directory /nonexistent/dir');
    expect(r.out).toBe(''); // nothing explored
    rejected(await cli('explore', join(ROOT, 'scenarios', 'passthrough-read.json'), '--out', '/proc/version/x'), '--out');
    rejected(await cli('run', join(ROOT, 'scenarios', 'passthrough-read.json'), '--trace', '/nonexistent/t.json'), '/nonexistent');
  });
});

describe('checks that could not fail and inputs silently accepted', () => {
  it('a misspelled opcode in expect.server_never', async () => {
    const f = variant('passthrough-read', (s) => (s['expect'] = { server_never: { fuse: ['RAED'] } }));
    rejected(await cli('run', f), '$.expect.server_never.fuse[0]', 'did you mean "READ"', '"LOOKUP"');
    const g = variant('passthrough-read', (s) => (s['expect'] = { server_seen: { nofs: ['INIT'] } }));
    rejected(await cli('run', g), '$.expect.server_seen.nofs', 'no FUSE filesystem');
    const h = variant('passthrough-read', (s) => (s['expect'] = { violations: ['use-after-fre'] }));
    rejected(await cli('run', h), '$.expect.violations[0]', 'did you mean "use-after-free"');
  });
  it('a reference to an undefined saved value ("$nope")', async () => {
    const f = variant('passthrough-read', (s) => (s['tasks'][0].ops[3].fd = '$nope'));
    rejected(await cli('run', f), '$.tasks[0].ops[3].fd', '$nope is saved by no op of process "user"', 'it saves $fd');
    // a server's open policy names the server process's values; the server also has $devfd
    const g = variant('abort-passthrough-keeps-working', (s) => (s['filesystems'][1].server.files.g.open = { mode: 'reply', backing_id: '$id' }));
    rejected(await cli('run', g), '$.filesystems[1].server.files.g.open.backing_id', 'process "server:fuse"', '$devfd');
  });
  it('a path outside every filesystem', async () => {
    rejected(await cli('run', variant('passthrough-read', (s) => (s['tasks'][0].ops[0].path = '/nowhere/f'))), '$.tasks[0].ops[0].path', 'one of lower, fuse');
    rejected(await cli('run', variant('passthrough-read', (s) => (s['filesystems'][1].server.files.f.backing = '/nowhere/f'))), '$.filesystems[1].server.files.f.backing');
    rejected(await cli('run', variant('passthrough-read', (s) => (s['tasks'][0].ops[1].inode = 'relative'))), '$.tasks[0].ops[1].inode', 'a path');
  });
  it('--kernel "" is refused, for every command that takes it', async () => {
    for (const cmd of [['run', join(ROOT, 'scenarios', 'passthrough-read.json')], ['check-scenarios'], ['check'], ['explore', join(ROOT, 'scenarios', 'passthrough-read.json')], ['oracle']]) {
      rejected(await cli(...cmd, '--kernel', ''), '--kernel', 'an empty profile name', '6.9');
    }
  });
  it('--seed 4294967296 is refused (it ran seed 0), 4294967295 is itself', async () => {
    rejected(await cli('check', '--seed', '4294967296'), '--seed', '4294967296 is outside 0 to 4294967295');
    rejected(await cli('mutants', '--seed', '-1'), '--seed');
    const r = await cli('check', '--seed', '4294967295', '--runs', '2', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).seed).toBe(4294967295);
  });
  it('number flags: integers in decimal digits, in range, the flag named', async () => {
    for (const [flag, v] of [['--runs', '1e23'], ['--runs', '0'], ['--runs', '2.5'], ['--runs', '0x10'], ['--shrink', '-5'], ['--max-seconds', '0'], ['--runs', '99999999999999999999']]) {
      rejected(await cli('check', flag!, v!), flag!);
    }
    rejected(await cli('explore', join(ROOT, 'scenarios', 'passthrough-read.json'), '--max-states', 'lots'), '--max-states');
    rejected(await cli('explore', join(ROOT, 'scenarios', 'passthrough-read.json'), '--shard', '5/2'), '--shard');
    rejected(await cli('replay', join(ROOT, 'scenarios', 'passthrough-read.json'), '--from', '0'), '--from');
  });
  it('wide wire fields: a u64 as a string up to 2^64-1, an FOPEN bit by number up to 31, INIT flags by name', async () => {
    const pad = (v: unknown) => variant('wire-backing-open-padding-u64', (s) => (s['tasks'][0].ops[1].padding = v));
    rejected(await cli('run', pad('18446744073709551616')), '$.tasks[0].ops[1].padding', 'at most 2^64-1');
    rejected(await cli('run', pad('-1')), '$.tasks[0].ops[1].padding', /a decimal or 0x hex string/);
    rejected(await cli('run', pad(2 ** 53)), '$.tasks[0].ops[1].padding', /9007199254740991|2\^53/);
    rejected(
      await cli('run', variant('wire-open-reply-unknown-bits', (s) => (s['filesystems'][1].server.files.u.open.flags = ['bit32']))),
      '$.filesystems[1].server.files.u.open.flags[0]',
      /"bit0" .. "bit31"/,
    );
    rejected(
      await cli('run', variant('wire-init-request', (s) => (s['expect'].kernel_init.fuse.offers = ['PASSTHRU']))),
      '$.expect.kernel_init.fuse.offers[0]',
      /PASSTHROUGH/,
    );
    // the largest u64 as hex is accepted, and BACKING_OPEN refuses it (the op expects EINVAL)
    expect((await cli('run', pad('0xffffffffffffffff'), '-q')).code).toBe(0);
  });
  it('no rejection says only "Invalid input": unions say what each alternative is', async () => {
    const cases: [(s: J) => void, string, RegExp][] = [
      [(s) => (s['tasks'][0].ops[3].fd = true), '$.tasks[0].ops[3].fd', /an integer .* or a saved value/],
      [(s) => (s['tasks'][0].ops[3].fd = 1.5), '$.tasks[0].ops[3].fd', /expected an integer/],
      [(s) => (s['tasks'][0].ops[0].expect = []), '$.tasks[0].ops[0].expect', /an errno name/],
      [(s) => (s['tasks'][0].ops[0].expect = 'EBADFF'), '$.tasks[0].ops[0].expect', /EBADF/],
      [(s) => (s['schedule'] = 5), '$.schedule', /"sequential", "round-robin" or a list of task names/],
      [(s) => (s['filesystems'][0].files.data = 5), '$.filesystems[0].files.data', /\{"dir": true\}/],
      [(s) => (s['tasks'][0].ops[1].fb = 'x'), '$.tasks[0].ops[1].fb', /"null", "set" or a backing id/],
      [(s) => (s['tasks'][0].ops[0].op = 'opne'), '$.tasks[0].ops[0].op', /expected one of "open", "read"/],
      [(s) => (s['filesystems'][0].type = 'ext4'), '$.filesystems[0].type', /"plain", "overlay", "fuse"/],
      [(s) => (s['tasks'][0].ops[0].mode = 'x'), '$.tasks[0].ops[0].mode', /"r", "rw", "w", "path"/],
      [(s) => (s['tasks'][0].ops[0].bogus = 1), '$.tasks[0].ops[0]', /unknown key "bogus"/],
    ];
    for (const [edit, at, what] of cases) rejected(await cli('run', variant('passthrough-read', edit)), at, what);
  });
  it('broken JSON says line and column, a BOM is accepted, an empty file argument is named', async () => {
    rejected(await cli('run', file('{\n  "name": x\n}')), /line 2, column \d+/);
    rejected(await cli('run', file('{"name": "a", "tasks": [')), /line 1, column \d+ \(the file is cut short/);
    const r = await cli('run', file(`\ufeff${readFileSync(join(ROOT, 'scenarios', 'passthrough-read.json'), 'utf8')}`), '-q');
    expect(r.code, r.err).toBe(0);
    rejected(await cli('run', ''), 'empty argument');
  });
});

describe('resource limits end cleanly', () => {
  it('explore stops at its heap budget with a partial result, the reason and a hint', () => {
    const s = loadScenario(join(ROOT, 'bench', 'reference', 'two-opens-vs-release.json'));
    const r = explore(s, { heapLimitBytes: 1, por: false });
    expect(r.complete).toBe(false);
    expect(r.stopped?.reason).toBe('memory');
    expect(r.stopped?.hint).toMatch(/--max-states.*--shard/);
    expect(r.states).toBeGreaterThan(0);
  });
  it('explore --max-states stops with complete: false and says so', async () => {
    const r = await cli('explore', join(ROOT, 'bench', 'reference', 'two-opens-vs-release.json'), '--max-states', '50', '--json', '--no-write');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.complete).toBe(false);
    expect(j.stopped.reason).toBe('max-states');
  });
  it('a worker that runs out of memory is an incomplete shard, not a crash', () => {
    const s = loadScenario(join(ROOT, 'scenarios', 'passthrough-read.json'));
    const one = explore(s, { keepHashes: true, shard: { index: 0, count: 2 } });
    const m = merge([one, { reason: 'worker-memory', message: 'worker 1 ran out of its 64 MB heap', hint: 'fewer --workers' }], 1, 2);
    expect(m.complete).toBe(false);
    expect(m.stopped?.reason).toBe('worker-memory');
    expect(m.states).toBe(one.states);
  });
  it('check --runs 1000000000 --max-seconds 1 ends in about a second', async () => {
    const r = await cli('check', '--runs', '1000000000', '--max-seconds', '1', '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.stopped).toMatch(/time limit/);
    expect(j.runs).toBeLessThan(1_000_000_000);
    expect(r.ms).toBeLessThan(15_000);
  });
  it('10 000 tasks are refused at once, with why', async () => {
    const tasks = Array.from({ length: 10_000 }, (_, i) => ({ name: `t${i}`, ops: [{ op: 'open', path: '/lower/data' }] }));
    const r = await cli('run', file({ name: 'many', filesystems: [{ name: 'lower', type: 'plain', files: { data: 'x' } }], tasks }));
    rejected(r, '$.tasks', 'at most 256 tasks');
    expect(r.ms).toBeLessThan(5_000);
  });
});
