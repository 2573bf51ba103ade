// Per-operation tests that pin the ORDER of the kernel's checks: small scenarios built in code,
// run through the whole model, and exact results compared. Where two checks would give the same
// user-visible errno (open replies all end in EIO), the seeded mutant "no-eio-on-bad-reply"
// exposes which internal check fired first.
import { describe as group, expect, it } from 'vitest';
import { ScenarioSchema } from '../sim/scenario/schema.ts';
import { runScenario, type ScenarioResult } from '../sim/scenario/run-scenario.ts';
import { formatVerdict } from '../cli/narrate.ts';

type Obj = Record<string, unknown>;
type Kernel = 'v15' | '6.9' | '6.18';

const LOWER = { name: 'lower', type: 'plain', files: { data: 'hello', dir: { dir: true } } };
const PT_INIT = ['INIT_EXT', 'PASSTHROUGH'];

interface World {
  kernel?: Kernel;
  mutants?: string[];
  /** the FUSE server policy (merged into a default with no files) */
  server?: Obj;
  /** filesystems before the FUSE mount (default: LOWER) */
  below?: Obj[];
  /** filesystems after it */
  above?: Obj[];
  tasks: Obj[];
  schedule?: string[];
}

function run(w: World): ScenarioResult {
  const s = ScenarioSchema.parse({
    name: 'ops-test',
    kernel: w.kernel ?? '6.9',
    mutants: w.mutants ?? [],
    filesystems: [...(w.below ?? [LOWER]), { name: 'fuse', type: 'fuse', server: { files: {}, ...w.server } }, ...(w.above ?? [])],
    tasks: w.tasks,
    ...(w.schedule ? { schedule: w.schedule } : {}),
  });
  return runScenario(s, { record: false });
}

/** The results of one task's ops, in order: numbers, or errno names. */
function rets(r: ScenarioResult, task = 'ctl'): (number | string)[] {
  const t = r.world.tasks.find((x) => x.name === task);
  if (!t) throw new Error(`no task ${task}`);
  return t.results.map((x) => x.ret);
}

/** A server thread (it holds the /dev/fuse fd and CAP_SYS_ADMIN unless the policy says not). */
const ctl = (...ops: Obj[]) => ({ name: 'ctl', proc: 'server:fuse', ops });
const user = (...ops: Obj[]) => ({ name: 'user', ops });
const openFd = (path = '/lower/data', save = 'fd', mode = 'r') => ({ op: 'open', path, mode, save });
const bo = (fd: number | string, extra: Obj = {}) => ({ op: 'backing_open', fd, ...extra });
const bc = (id: number | string) => ({ op: 'backing_close', id });
const noViolations = (r: ScenarioResult) => expect(r.violations.map((v) => `${v.kind}: ${v.message}`)).toEqual([]);

group('BACKING_OPEN: the order of the checks (fuse_backing_open)', () => {
  it('flags != 0 with a bad fd: EINVAL, not EBADF (flags are checked before fget)', () => {
    const r = run({ tasks: [ctl(bo(1000, { flags: 1 }), bo(-1, { flags: 1 }), bo(1000))] });
    expect(rets(r)).toEqual(['EINVAL', 'EINVAL', 'EBADF']);
    noViolations(r);
  });

  it('no passthrough: EPERM before anything else (flags, padding, bad fd)', () => {
    const r = run({
      server: { init: { flags: ['INIT_EXT'], max_stack_depth: 1 } },
      tasks: [ctl(openFd(), bo('$fd', { flags: 1 }), bo(1000, { padding: 1 }), bo(1000), bo('$fd'))],
    });
    expect(rets(r)).toEqual([3 + 1, 'EPERM', 'EPERM', 'EPERM', 'EPERM']);
  });

  it('no CAP_SYS_ADMIN: EPERM before flags', () => {
    const r = run({ server: { cap_sys_admin: false }, tasks: [ctl(openFd(), bo('$fd', { flags: 1 }), bo('$fd'))] });
    expect(rets(r)).toEqual([4, 'EPERM', 'EPERM']);
  });

  it.each<[Kernel, string]>([
    ['6.9', 'EINVAL'],
    ['6.18', 'EINVAL'],
    ['v15', 'EBADF'],
  ])('padding != 0 with a bad fd under %s: %s (the padding check is in 6.9 final, not in v15)', (kernel, e) => {
    const r = run({ kernel, tasks: [ctl(bo(1000, { padding: 1 }), openFd(), bo('$fd', { padding: 1 }))] });
    expect(rets(r)).toEqual([e, 4, e === 'EBADF' ? 1 : 'EINVAL']);
  });

  it.each<[Kernel, string]>([
    ['v15', 'EOPNOTSUPP'],
    ['6.9', 'EOPNOTSUPP'],
    ['6.18', 'EISDIR'],
  ])('a directory fd under %s: %s', (kernel, e) => {
    const r = run({ kernel, tasks: [ctl(openFd('/lower/dir'), bo('$fd'), bo('$fd', { flags: 1 }))] });
    expect(rets(r)).toEqual([4, e, 'EINVAL']);
  });

  it.each<[Kernel, number | string]>([
    ['6.9', 'EBADF'],
    ['6.18', 1],
  ])('an O_PATH fd of a regular file under %s: %s (fget vs fget_raw)', (kernel, e) => {
    const r = run({ kernel, tasks: [ctl(openFd('/lower/data', 'fd', 'path'), bo('$fd'))] });
    expect(rets(r)).toEqual([4, e]);
  });

  // a backing file on another FUSE mount with max_stack_depth 1 has s_stack_depth 1
  const fuseOnFuse = (depth: number, mutants: string[] = []) =>
    run({
      mutants,
      below: [{ name: 'low', type: 'fuse', server: { init: { flags: PT_INIT, max_stack_depth: 1 }, files: { g: { data: 'g' } } } }],
      server: { init: { flags: PT_INIT, max_stack_depth: depth } },
      tasks: [ctl(openFd('/low/g'), bo('$fd'), { op: 'close', fd: '$fd' })],
    });

  it('ELOOP uses >=: s_stack_depth 1 against max_stack_depth 1 is refused, against 2 accepted', () => {
    expect(rets(fuseOnFuse(1))[1]).toBe('ELOOP');
    expect(rets(fuseOnFuse(2))[1]).toBe(1);
  });

  it('the mutant stack-depth-gt (> instead of >=) accepts the equal depth, and the stack-depth invariant notices', () => {
    const r = fuseOnFuse(1, ['stack-depth-gt']);
    expect(rets(r)[1]).toBe(1);
    expect(r.violations.map((v) => v.kind)).toContain('stack-depth');
  });

  it('a plain file (s_stack_depth 0) is accepted with max_stack_depth 1', () => {
    const r = run({ tasks: [ctl(openFd(), bo('$fd'))] });
    expect(rets(r)).toEqual([4, 1]);
    noViolations(r);
  });

  it('ids are cyclic from 1; the mutant id-reused-at-once hands a closed id out again', () => {
    const ops = [openFd(), bo('$fd'), bc(1), bo('$fd'), bo('$fd')];
    expect(rets(run({ tasks: [ctl(...ops)] }))).toEqual([4, 1, 0, 2, 3]);
    const m = run({ mutants: ['id-reused-at-once'], tasks: [ctl(...ops)] });
    expect(rets(m)).toEqual([4, 1, 0, 1, 2]);
    expect(m.violations.map((v) => v.kind)).toContain('idr');
  });
});

group('BACKING_CLOSE: the order of the checks (fuse_backing_close)', () => {
  it('EPERM before EINVAL when passthrough is off', () => {
    const r = run({ server: { init: { flags: ['INIT_EXT'], max_stack_depth: 1 } }, tasks: [ctl(bc(0), bc(-1), bc(1))] });
    expect(rets(r)).toEqual(['EPERM', 'EPERM', 'EPERM']);
  });

  it('EPERM before EINVAL without CAP_SYS_ADMIN', () => {
    const r = run({ server: { cap_sys_admin: false }, tasks: [ctl(bc(0), bc(1))] });
    expect(rets(r)).toEqual(['EPERM', 'EPERM']);
  });

  it('EINVAL for id <= 0 (0xffffffff reads as -1), ENOENT for an unknown id, 0 then ENOENT for a real one', () => {
    const r = run({ tasks: [ctl(bc(0), bc(-1), bc(0xffffffff), bc(7), openFd(), bo('$fd'), bc(1), bc(1))] });
    expect(rets(r)).toEqual(['EINVAL', 'EINVAL', 'EINVAL', 'ENOENT', 4, 1, 0, 'ENOENT']);
    noViolations(r);
  });
});

group('INIT reply: when passthrough is on (process_init_reply)', () => {
  const probe = (init: Obj, kernel: Kernel = '6.9', mutants: string[] = []) =>
    rets(run({ kernel, mutants, server: { init }, tasks: [ctl(openFd(), bo('$fd'))] }))[1];

  it.each<[number, number | string]>([
    [0, 'EPERM'],
    [1, 1],
    [2, 1],
    [3, 'EPERM'],
  ])('max_stack_depth %i: BACKING_OPEN gives %s', (d, e) => {
    expect(probe({ flags: PT_INIT, max_stack_depth: d })).toBe(e);
  });

  it('the mutant no-max-depth-bound accepts max_stack_depth 3', () => {
    expect(probe({ flags: PT_INIT, max_stack_depth: 3 }, '6.9', ['no-max-depth-bound'])).toBe(1);
  });

  it('FUSE_PASSTHROUGH without FUSE_INIT_EXT is ignored (flags2 is not read)', () => {
    expect(probe({ flags: ['PASSTHROUGH'], max_stack_depth: 1 })).toBe('EPERM');
  });

  it('WRITEBACK_CACHE: passthrough on in 6.9, off in 6.18', () => {
    const init = { flags: [...PT_INIT, 'WRITEBACK_CACHE'], max_stack_depth: 1 };
    expect(probe(init, '6.9')).toBe(1);
    expect(probe(init, '6.18')).toBe('EPERM');
  });

  it('a 36-byte INIT reply (no max_stack_depth) leaves passthrough off; 40 bytes turn it on', () => {
    expect(probe({ flags: PT_INIT, max_stack_depth: 1, size: 36 })).toBe('EPERM');
    expect(probe({ flags: PT_INIT, max_stack_depth: 1, size: 40 })).toBe(1);
  });
});

group('open reply: fuse_file_io_open / fuse_file_passthrough_open / lookup order', () => {
  const reply = (flags: string[], backing_id: number | string) => ({ mode: 'reply', flags, backing_id });
  /** the open(2) result, and the internal error the mutant no-eio-on-bad-reply lets through */
  const openWith = (open: Obj, server: Obj = {}, withId = true) => {
    const tasks = [...(withId ? [ctl(openFd(), bo('$fd', { save: 'id' }))] : []), user({ op: 'open', path: '/fuse/f' })];
    const base = { server: { ...server, files: { f: { data: 'x', open } } }, tasks };
    return [rets(run(base), 'user')[0], rets(run({ ...base, mutants: ['no-eio-on-bad-reply'] }), 'user')[0]];
  };

  it('passthrough off and a bad id: EIO; internally EINVAL from the passthrough check, before any lookup', () => {
    expect(openWith(reply(['PASSTHROUGH'], 777), { init: { flags: ['INIT_EXT'], max_stack_depth: 1 } }, false)).toEqual(['EIO', 'EINVAL']);
  });

  it('a flag outside FOPEN_PASSTHROUGH_MASK with a bad id: EIO; internally EINVAL, the mask before the lookup', () => {
    expect(openWith(reply(['PASSTHROUGH', 'KEEP_CACHE'], 777))).toEqual(['EIO', 'EINVAL']);
  });

  it('backing_id 0: EIO; internally EINVAL (id <= 0)', () => {
    expect(openWith(reply(['PASSTHROUGH'], 0))).toEqual(['EIO', 'EINVAL']);
  });

  it('an unknown id: EIO; internally ENOENT from the lookup', () => {
    expect(openWith(reply(['PASSTHROUGH'], 777))).toEqual(['EIO', 'ENOENT']);
  });

  it('a valid id and allowed flags: the open succeeds (fd 3)', () => {
    expect(openWith(reply(['PASSTHROUGH', 'DIRECT_IO', 'PARALLEL_DIRECT_WRITES', 'NOFLUSH'], '$id'))).toEqual([3, 3]);
  });

  const second = (open: Obj) => {
    const ops = [{ op: 'open', path: '/fuse/f', save: 'a' }, { op: 'open', path: '/fuse/f' }];
    const base = { server: { files: { f: { data: 'x', open } } }, tasks: [ctl(openFd(), bo('$fd', { save: 'id' }), bo('$fd', { save: 'id2' })), user(...ops)] };
    return [rets(run(base), 'user'), rets(run({ ...base, mutants: ['no-eio-on-bad-reply'] }), 'user')];
  };
  const seq = (...replies: Obj[]) => ({ mode: 'sequence', replies });

  it('a second passthrough open with another id: EIO; internally EBUSY', () => {
    expect(second(seq(reply(['PASSTHROUGH'], '$id'), reply(['PASSTHROUGH'], '$id2')))).toEqual([
      [3, 'EIO'],
      [3, 'EBUSY'],
    ]);
  });

  it('a passthrough open of a cached inode: EIO; internally ETXTBSY', () => {
    expect(second(seq(reply([], 0), reply(['PASSTHROUGH'], '$id')))).toEqual([
      [3, 'EIO'],
      [3, 'ETXTBSY'],
    ]);
  });

  it('an open without FOPEN_PASSTHROUGH of an inode with fi->fb: EIO; internally EINVAL', () => {
    expect(second(seq(reply(['PASSTHROUGH'], '$id'), reply(['DIRECT_IO'], 0)))).toEqual([
      [3, 'EIO'],
      [3, 'EINVAL'],
    ]);
  });
});

group('abort: ENOTCONN for new requests, ECONNABORTED for requests in flight', () => {
  it('an open whose LOOKUP is in flight at the abort ends ECONNABORTED; the next one ENOTCONN', () => {
    const r = run({
      server: { files: { f: { data: 'x' } } },
      tasks: [user({ op: 'open', path: '/fuse/f' }, { op: 'open', path: '/fuse/f' }), { name: 'aborter', ops: [{ op: 'abort', fs: 'fuse' }] }],
      schedule: ['user', 'aborter', 'user', 'user'],
    });
    expect(rets(r, 'user')).toEqual(['ECONNABORTED', 'ENOTCONN']);
    expect(r.passed, formatVerdict(r).join('\n')).toBe(true);
  });

  it('after the abort: a direct-io read and close(2) of a server file give ENOTCONN, a passthrough read still works', () => {
    const r = run({
      server: { files: { f: { backing: '/lower/data' }, g: { data: 'g', open: { mode: 'reply', flags: ['DIRECT_IO'] } } } },
      tasks: [
        user(
          { op: 'open', path: '/fuse/f', save: 'pt' },
          { op: 'open', path: '/fuse/g', save: 'dio' },
          { op: 'abort', fs: 'fuse' },
          { op: 'read', fd: '$pt', n: 5 },
          { op: 'read', fd: '$dio', n: 1 },
          { op: 'close', fd: '$dio' },
          { op: 'close', fd: '$pt' },
        ),
      ],
    });
    expect(rets(r, 'user')).toEqual([3, 4, 0, 5, 'ENOTCONN', 'ENOTCONN', 'ENOTCONN']);
    noViolations(r);
  });
});

group('overlay stacking (ovl_fill_super)', () => {
  it.each<[number, number | string]>([
    [1, 0],
    [2, 'EINVAL'],
  ])('an overlay mounted on a FUSE mount with max_stack_depth %i: %s', (d, e) => {
    const r = run({
      server: { init: { flags: PT_INIT, max_stack_depth: d } },
      above: [{ name: 'ovl', type: 'overlay', layers: ['fuse'], mount: 'task' }],
      tasks: [user({ op: 'mount', fs: 'ovl' })],
    });
    expect(rets(r, 'user')).toEqual([e]);
  });
});

group('directories (fuse_readdir)', () => {
  const requests = (r: ScenarioResult, op: string) => ((r.world.servers['fuse'] as { log: string[] }).log).filter((l) => l.split(' ')[1] === op);

  it.each<[Kernel, number, number]>([
    ['6.9', 32768, 4096],
    ['6.18', 32768, 32768],
    ['6.18', 100, 4096],
    ['6.18', 1 << 20, 131072],
  ])('READDIR under %s for a %i-byte getdents buffer asks size=%i (readdirSizeFromBuffer, clamped to a page and max_pages)', (kernel, count, size) => {
    const r = run({ kernel, server: { files: { a: { data: 'a' } } }, tasks: [user({ op: 'opendir', path: '/fuse', save: 'd' }, { op: 'getdents', fd: '$d', count }, { op: 'close', fd: '$d' })] });
    expect(rets(r, 'user')).toEqual([3, 3, 0]);
    expect(requests(r, 'READDIR').map((l) => /size=(\d+)/.exec(l)?.[1])).toEqual([String(size)]);
    noViolations(r);
  });

  it('a getdents buffer smaller than the first record is EINVAL; READDIRPLUS links the entries anyway', () => {
    const r = run({
      server: { init: { flags: [...PT_INIT, 'DO_READDIRPLUS'] }, files: { a: { data: 'a' } } },
      tasks: [user({ op: 'opendir', path: '/fuse', save: 'd' }, { op: 'getdents', fd: '$d', count: 8 }, { op: 'stat', path: '/fuse/a' }, { op: 'close', fd: '$d' })],
    });
    expect(rets(r, 'user')).toEqual([3, 'EINVAL', 1, 0]);
    expect(requests(r, 'LOOKUP')).toEqual([]);
    noViolations(r);
  });
});
