// Probe: establishes facts about FUSE passthrough on the running kernel with
// the real-kernel transport and the shared server core (oracle/real-server.ts,
// the same decisions the model's server makes), prints a table and writes
// oracle/PROBE-RESULTS.md. Run: npx tsx oracle/probe.ts
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealServer } from './real-server.ts';
import { RealFuseTransport, availability, fpsimMounts, runUser, type UserRun } from './transport.ts';
import { userData } from './user.ts';
import type { FopenName, OpenPolicy } from '../sim/server/policy.ts';
import { FUSE_INIT_FLAG, joinInitFlags } from '../sim/wire/uapi.ts';

/** The probe's file: one regular file "f" whose OPEN replies are set per probe. */
const FILE_NAME = 'f';
/** INIT flags as the policy names them */
type InitFlagName = keyof typeof FUSE_INIT_FLAG;
const PT: InitFlagName[] = ['INIT_EXT', 'PASSTHROUGH'];

interface FsOptions {
  /** INIT reply flags (default INIT_EXT + PASSTHROUGH) */
  init?: InitFlagName[];
  /** fuse_init_out.max_stack_depth (default 1) */
  maxStackDepth?: number;
  /** the open-reply uapi (v15: FOPEN_PASSTHROUGH is bit 8) */
  uapi?: 'merged' | 'v15';
}

type ReplyPolicy = Extract<OpenPolicy, { mode: 'reply' }>;

/** "OPEN replies FOPEN_* flags with this backing id" as an open policy. */
function replyWith(flags: FopenName[], backingId = 0): ReplyPolicy {
  return { mode: 'reply', flags, backing_id: backingId };
}

const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_PATH = 0o10000000;

const BACKING_TEXT = 'BACKING-DATA-123';
const SERVER_TEXT = 'SERVER--DATA-456';

const errnoNames = new Map<number, string>();
for (const [name, n] of Object.entries(constants.errno)) if (!errnoNames.has(n)) errnoNames.set(n, name);
const ename = (n: number) => errnoNames.get(n) ?? `errno ${n}`;

/** "ok (id 3)" for ids, "EPERM" for negative errnos. */
function idResult(r: number): string {
  return r >= 0 ? `ok (id ${r})` : ename(-r);
}
function zeroResult(r: number): string {
  return r === 0 ? 'ok (0)' : r > 0 ? `ok (${r})` : ename(-r);
}

interface Row {
  id: string;
  probe: string;
  result: string;
}
const rows: Row[] = [];
function record(id: string, probe: string, result: string): void {
  rows.push({ id, probe, result });
  console.log(`${id.padEnd(4)} ${probe}\n     -> ${result}`);
}

const work = mkdtempSync('/tmp/fpsim-probe-');
let nBacking = 0;
/** A fresh backing file holding BACKING_TEXT (so writes of one probe never leak into another). */
function freshBacking(): string {
  const p = join(work, `backing-${nBacking++}`);
  writeFileSync(p, BACKING_TEXT);
  return p;
}
const backingDir = join(work, 'dir');
mkdirSync(backingDir);

let kernelInit: RealServer['kernelInit'];

interface Ctx {
  t: RealFuseTransport;
  s: RealServer;
  file: string;
  /** sets how the server answers OPEN of "f" from now on */
  onOpen: (p: OpenPolicy) => void;
}

/** Mounts a fresh filesystem, runs fn, always unmounts; fails fast instead of hanging. */
async function withFs<T>(opts: FsOptions, fn: (c: Ctx) => Promise<T>): Promise<T> {
  const t = await RealFuseTransport.start();
  const s = new RealServer(t, {
    uapi: opts.uapi ?? 'merged',
    init: { flags: opts.init ?? PT, max_stack_depth: opts.maxStackDepth ?? 1 },
    files: { [FILE_NAME]: { data: SERVER_TEXT } },
    open: replyWith([]),
  });
  const ctx: Ctx = {
    t,
    s,
    file: join(t.mountpoint, FILE_NAME),
    // the server's state is plain data: the policy can be changed between requests
    onOpen: (p) => (s.state.policy.files[FILE_NAME]!.open = p),
  };
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      ctx.s.init.then(() => {
        kernelInit ??= s.kernelInit;
        return fn(ctx);
      }),
      new Promise<T>((_, rej) => (timer = setTimeout(() => rej(new Error('probe timed out')), 30_000))),
    ]);
  } finally {
    clearTimeout(timer);
    await t.stop();
  }
}

/** Summarises one user op: "ok", "ok (16 bytes: ...)" or the errno name. */
function opResult(run: UserRun, i: number): string {
  const r = run.results[i];
  if (r === undefined) return run.timedOut ? 'TIMEOUT' : 'no result';
  if (r.ret < 0) return r.err ?? ename(r.errno ?? 0);
  if (r.hex !== undefined) return `ok, data "${userData(r).toString('latin1')}"`;
  return 'ok';
}

/** Which side's data a read returned. */
function source(run: UserRun, i: number): string {
  if (run.results[i - 1]?.op === 'open' && run.results[i - 1]!.ret < 0) return 'n/a (open failed)';
  const d = userData(run.results[i]).toString('latin1');
  if (d.startsWith('BACKING')) return 'backing file';
  if (d.startsWith('SERVER')) return 'server (READ)';
  return run.results[i]?.ret !== undefined && run.results[i]!.ret < 0 ? opResult(run, i) : `"${d}"`;
}

async function probeStackDepth(): Promise<void> {
  for (const depth of [0, 1, 2, 3]) {
    const r = await withFs({ maxStackDepth: depth }, async (c) => {
      const id = await c.t.backingOpen(freshBacking());
      if (id <= 0) return idResult(id);
      // confirm it really passes through: open with that id and read
      c.onOpen(replyWith(['PASSTHROUGH'], id));
      const run = await runUser(['open', c.file, 'rdonly', 'read', '@0', '16', 'close', '@0']);
      return `${idResult(id)}; passthrough open ${opResult(run, 0)}, read from ${source(run, 1)}`;
    });
    record('a', `INIT FUSE_PASSTHROUGH, max_stack_depth=${depth}: BACKING_OPEN (backing on ext4, depth 0)`, r);
  }
  // stacking: the backing file lives on another passthrough FUSE mount (its s_stack_depth = its max_stack_depth = 1)
  for (const depth of [1, 2]) {
    const r = await withFs({ maxStackDepth: 1 }, async (lower) =>
      withFs({ maxStackDepth: depth }, async ({ t }) => {
        const id = await t.backingOpen(lower.file);
        if (id > 0) await t.backingClose(id);
        return id;
      }),
    );
    record('a', `max_stack_depth=${depth}: BACKING_OPEN of a file on another FUSE mount whose max_stack_depth=1`, idResult(r));
  }
}

async function probeWriteback(): Promise<void> {
  const r = await withFs({ init: [...PT, 'WRITEBACK_CACHE'] }, async ({ t }) => t.backingOpen(freshBacking()));
  record('b', 'INIT FUSE_PASSTHROUGH|FUSE_WRITEBACK_CACHE, depth 1: BACKING_OPEN', `${idResult(r)} => passthrough ${r > 0 ? 'ON' : 'OFF'}`);
  const r2 = await withFs({ init: [] }, async ({ t }) => t.backingOpen(freshBacking()));
  record('b', 'INIT without FUSE_PASSTHROUGH: BACKING_OPEN', idResult(r2));
}

async function probeBackingOpenArgs(): Promise<void> {
  await withFs({}, async ({ t }) => {
    const BAD = 1000;
    record('c', 'BACKING_OPEN flags=1 (valid fd)', idResult(await t.backingOpen(freshBacking(), { flags: 1 })));
    record('c', 'BACKING_OPEN padding=1 (valid fd)', idResult(await t.backingOpen(freshBacking(), { padding: 1 })));
    record('c', 'BACKING_OPEN flags=1 and bad fd (which check comes first)', idResult(await t.backingOpenFd(BAD, { flags: 1 })));
    record('c', 'BACKING_OPEN padding=1 and bad fd', idResult(await t.backingOpenFd(BAD, { padding: 1 })));
    record('c', `BACKING_OPEN bad fd (${BAD}, not open)`, idResult(await t.backingOpenFd(BAD)));
    record('c', 'BACKING_OPEN fd=-1', idResult(await t.backingOpenFd(-1)));
    const dfd = await t.openFile(backingDir, O_RDONLY | O_DIRECTORY);
    record('c', 'BACKING_OPEN directory fd (O_RDONLY|O_DIRECTORY)', dfd < 0 ? `openFile failed ${ename(-dfd)}` : idResult(await t.backingOpenFd(dfd)));
    if (dfd >= 0) await t.closeFile(dfd);
    const pfd = await t.openFile(freshBacking(), O_PATH);
    record('c', 'BACKING_OPEN O_PATH fd of a regular file', pfd < 0 ? `openFile failed ${ename(-pfd)}` : idResult(await t.backingOpenFd(pfd)));
    if (pfd >= 0) await t.closeFile(pfd);
    const rfd = await t.openFile(freshBacking(), O_RDONLY);
    record('c', 'BACKING_OPEN O_RDONLY fd of a regular file', idResult(await t.backingOpenFd(rfd)));
    await t.closeFile(rfd);
  });
}

async function probeBackingClose(): Promise<void> {
  await withFs({}, async ({ t }) => {
    record('d', 'BACKING_CLOSE(0)', zeroResult(await t.backingClose(0)));
    record('d', 'BACKING_CLOSE(-1)', zeroResult(await t.backingClose(-1)));
    record('d', 'BACKING_CLOSE(12345) (never allocated)', zeroResult(await t.backingClose(12345)));
    const id = await t.backingOpen(freshBacking());
    const first = await t.backingClose(id);
    const second = await t.backingClose(id);
    record('d', `BACKING_CLOSE(valid id ${id}) twice`, `${zeroResult(first)}, then ${zeroResult(second)}`);
  });
  const r = await withFs({ init: [] }, async ({ t }) => t.backingClose(1));
  record('d', 'BACKING_CLOSE(1) when passthrough was not negotiated', zeroResult(r));
}

async function probeIds(): Promise<void> {
  await withFs({}, async ({ t }) => {
    const a = await t.backingOpen(freshBacking());
    await t.backingClose(a);
    const b = await t.backingOpen(freshBacking());
    const c = await t.backingOpen(freshBacking());
    await t.backingClose(c);
    await t.backingClose(b);
    const d = await t.backingOpen(freshBacking());
    const verdict = b === a ? 'freed id reused (lowest free)' : b > a ? 'not reused: ids keep increasing (cyclic allocation)' : 'other';
    record('e', 'ids: open=a, close a, open=b, open=c, close b,c, open=d', `a=${a}, b=${b}, c=${c}, d=${d} => ${verdict}`);
  });
}

/** Opens f once through a fresh mount with the given OPEN decision and reads it. */
async function openWith(decision: (backingId: number) => OpenPolicy, opts: FsOptions = {}) {
  return withFs(opts, async (c) => {
    const id = await c.t.backingOpen(freshBacking());
    c.onOpen(decision(id));
    const run = await runUser(['open', c.file, 'rdonly', 'read', '@0', '16', 'close', '@0']);
    return { run, reads: c.s.count('READ'), replyErrors: c.t.replyErrors.map((e) => ename(e.errno)) };
  });
}

async function probeOpenReply(): Promise<void> {
  const z = await openWith(() => replyWith(['PASSTHROUGH'], 0));
  record('f', 'OPEN reply FOPEN_PASSTHROUGH, backing_id=0: open(2)', `${opResult(z.run, 0)} (reply write: ${z.replyErrors.join(',') || 'accepted'})`);
  const u = await openWith(() => replyWith(['PASSTHROUGH'], 777));
  record('f', 'OPEN reply FOPEN_PASSTHROUGH, backing_id=777 (unknown): open(2)', `${opResult(u.run, 0)} (reply write: ${u.replyErrors.join(',') || 'accepted'})`);
  const n = await openWith(() => replyWith(['PASSTHROUGH'], -5));
  record('f', 'OPEN reply FOPEN_PASSTHROUGH, backing_id=-5: open(2)', opResult(n.run, 0));
  const k = await openWith((id) => replyWith(['PASSTHROUGH', 'KEEP_CACHE'], id));
  record('f', 'OPEN reply FOPEN_PASSTHROUGH|FOPEN_KEEP_CACHE (valid id): open(2)', opResult(k.run, 0));
  const d = await openWith((id) => replyWith(['PASSTHROUGH', 'DIRECT_IO'], id));
  record('f', 'OPEN reply FOPEN_PASSTHROUGH|FOPEN_DIRECT_IO (valid id): open(2); read', `${opResult(d.run, 0)}; read from ${source(d.run, 1)}`);
  const nf = await openWith((id) => replyWith(['PASSTHROUGH', 'NOFLUSH'], id));
  record('f', 'OPEN reply FOPEN_PASSTHROUGH|FOPEN_NOFLUSH (valid id): open(2)', opResult(nf.run, 0));
  const off = await withFs({ init: [] }, async (c) => {
    c.onOpen(replyWith(['PASSTHROUGH'], 1));
    return runUser(['open', c.file, 'rdonly']);
  });
  record('f', 'OPEN reply FOPEN_PASSTHROUGH (id 1) when passthrough not negotiated: open(2)', opResult(off, 0));
}

async function probePassthroughIo(): Promise<void> {
  await withFs({}, async (c) => {
    const backing = freshBacking();
    const id = await c.t.backingOpen(backing);
    c.onOpen(replyWith(['PASSTHROUGH'], id));
    const run = await runUser(['open', c.file, 'rdwr', 'read', '@0', '16', 'pwrite', '@0', 'xy', '0', 'fstat', '@0', 'close', '@0']);
    record('g', 'passthrough open O_RDWR, read 16: data source; READ requests at server', `${opResult(run, 0)}; read from ${source(run, 1)}; READ requests: ${c.s.count('READ')}`);
    record(
      'g',
      'passthrough pwrite "xy" at 0: WRITE requests at server; backing file content after',
      `${opResult(run, 2)}; WRITE requests: ${c.s.count('WRITE')}; backing now "${readFileSync(backing, 'latin1')}"`,
    );
    await c.s.idle();
    record('g', 'requests seen by the server for that open (in order)', c.s.seen.filter((n) => n !== 'INIT').join(' '));
  });
}

async function probeOldBit(): Promise<void> {
  const r = await openWith((id) => replyWith(['PASSTHROUGH'], id), { uapi: 'v15' });
  record('h', 'OPEN reply open_flags=1<<8 (old v15 bit) + valid backing_id: open(2); read', `${opResult(r.run, 0)}; read from ${source(r.run, 1)}; READ requests: ${r.reads} => ${r.reads > 0 ? 'treated as a normal (cached) open' : 'passthrough?'}`);
}

async function probeSameInode(): Promise<void> {
  // two different backing ids for the same inode
  await withFs({}, async (c) => {
    const a = await c.t.backingOpen(freshBacking());
    const b = await c.t.backingOpen(freshBacking());
    c.onOpen({ mode: 'sequence', replies: [replyWith(['PASSTHROUGH'], a), replyWith(['PASSTHROUGH'], b)] });
    const run = await runUser(['open', c.file, 'rdonly', 'open', c.file, 'rdonly', 'close', '@0', 'close', '@1']);
    record('i', `second passthrough open with a different backing id (${b} vs ${a}) while the first is open`, `first ${opResult(run, 0)}, second ${opResult(run, 1)}`);
  });
  await withFs({}, async (c) => {
    const a = await c.t.backingOpen(freshBacking());
    c.onOpen(replyWith(['PASSTHROUGH'], a));
    const run = await runUser(['open', c.file, 'rdonly', 'open', c.file, 'rdonly', 'close', '@0', 'close', '@1']);
    record('i', 'second passthrough open with the same backing id while the first is open', `first ${opResult(run, 0)}, second ${opResult(run, 1)}`);
  });
  await withFs({}, async (c) => {
    const a = await c.t.backingOpen(freshBacking());
    c.onOpen({ mode: 'sequence', replies: [replyWith(['PASSTHROUGH'], a), replyWith([])] });
    const run = await runUser(['open', c.file, 'rdonly', 'open', c.file, 'rdonly', 'close', '@0', 'close', '@1', 'open', c.file, 'rdonly', 'read', '@4', '16', 'close', '@4']);
    record('i', 'non-passthrough (cached) open while a passthrough open exists', `first ${opResult(run, 0)}, second ${opResult(run, 1)}`);
    record('i', 'non-passthrough open after the passthrough file was closed', `${opResult(run, 4)}; read from ${source(run, 5)}`);
  });
  await withFs({}, async (c) => {
    const a = await c.t.backingOpen(freshBacking());
    c.onOpen({ mode: 'sequence', replies: [replyWith([]), replyWith(['PASSTHROUGH'], a)] });
    const run = await runUser(['open', c.file, 'rdonly', 'open', c.file, 'rdonly', 'close', '@0', 'close', '@1']);
    record('i', 'passthrough open while a non-passthrough (cached) open exists', `first ${opResult(run, 0)}, second ${opResult(run, 1)}`);
  });
  await withFs({}, async (c) => {
    const a = await c.t.backingOpen(freshBacking());
    c.onOpen({ mode: 'sequence', replies: [replyWith(['PASSTHROUGH'], a), replyWith(['DIRECT_IO'])] });
    const run = await runUser(['open', c.file, 'rdonly', 'open', c.file, 'rdonly', 'close', '@0', 'close', '@1']);
    record('i', 'FOPEN_DIRECT_IO (no passthrough) open while a passthrough open exists', `first ${opResult(run, 0)}, second ${opResult(run, 1)}`);
  });
  await withFs({}, async (c) => {
    const backing = freshBacking();
    const a = await c.t.backingOpen(backing);
    c.onOpen(replyWith(['PASSTHROUGH'], a));
    const run = await runUser(['open', c.file, 'rdwr', 'mmap', '@0', '16', 'rw', 'shared', 'mread', '@1', '0', '16', 'mwrite', '@1', '0', 'MM', 'munmap', '@1', 'close', '@0']);
    record('i', 'mmap(MAP_SHARED) of a passthrough file: mmap; read through the mapping', `${opResult(run, 1)}; mapped data from ${source(run, 2)}; READ requests: ${c.s.count('READ')}`);
    record('i', 'write "MM" through the shared mapping, munmap: backing file content', `${opResult(run, 3)}; backing now "${readFileSync(backing, 'latin1')}"; WRITE requests: ${c.s.count('WRITE')}`);
  });
}

function markdown(): string {
  const esc = (s: string) => s.replaceAll('|', '\\|');
  const lines = [
    '# FUSE passthrough probe results',
    '',
    'Produced by `npx tsx oracle/probe.ts` (do not edit by hand): facts about FUSE passthrough established',
    'on a real kernel through `oracle/transport.ts` with the shared server core (`sim/server/core.ts`,',
    'driven by `oracle/real-server.ts`: the same decisions the model\'s server makes).',
    'Error names are what the user process (open/read) or the ioctl returned.',
    '',
    `- kernel: \`${release()}\``,
    `- date: ${new Date().toISOString()}`,
    kernelInit
      ? `- kernel INIT request: protocol ${kernelInit.major}.${kernelInit.minor}, offers FUSE_PASSTHROUGH: ${joinInitFlags(kernelInit.flags, kernelInit.flags2) & FUSE_INIT_FLAG.PASSTHROUGH ? 'yes' : 'no'} (flags 0x${joinInitFlags(kernelInit.flags, kernelInit.flags2).toString(16)})`
      : '- kernel INIT request: not seen',
    '- server INIT reply: protocol 7.40 (Linux 6.9), backing files on ext4 (s_stack_depth 0) unless stated',
    '',
    '| # | probe | result |',
    '|---|---|---|',
    ...rows.map((r) => `| ${r.id} | ${esc(r.probe)} | ${esc(r.result)} |`),
    '',
  ];
  return lines.join('\n');
}

async function main(): Promise<void> {
  const avail = availability();
  if (!avail.ok) {
    console.error(`probe: real-kernel oracle unavailable: ${avail.reason}`);
    process.exitCode = 2;
    return;
  }
  try {
    const steps: [string, () => Promise<void>][] = [
      ['a', probeStackDepth],
      ['b', probeWriteback],
      ['c', probeBackingOpenArgs],
      ['d', probeBackingClose],
      ['e', probeIds],
      ['f', probeOpenReply],
      ['g', probePassthroughIo],
      ['h', probeOldBit],
      ['i', probeSameInode],
    ];
    for (const [id, step] of steps) {
      try {
        await step();
      } catch (e) {
        record(id, 'probe step failed', `ERROR: ${(e as Error).message}`);
        process.exitCode = 1;
      }
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'PROBE-RESULTS.md');
  const md = markdown();
  writeFileSync(out, md);
  console.log(`\n${md}`);
  console.log(`written to ${out}`);
  const left = fpsimMounts();
  if (left.length > 0) {
    console.error(`probe: mounts left behind: ${left.join(', ')}`);
    process.exitCode = 1;
  }
}

await main();
