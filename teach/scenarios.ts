// The scenarios the lessons drive, built in code so a lesson and its claims stay together.
import type { ScenarioInput } from '../sim/scenario/schema.ts';

const lower = { name: 'lower', type: 'plain' as const, files: { data: 'hello, backing file' } };

/** A FUSE mount whose server answers every OPEN of f with PASSTHROUGH and the id a control thread saved as $id. */
function fuseReplyingSavedId(data: string) {
  return { name: 'fuse', type: 'fuse' as const, server: { files: { f: { data, open: { mode: 'reply' as const, flags: ['PASSTHROUGH' as const], backing_id: '$id' } } } } };
}

/** A server control thread that opens `path`, registers it with BACKING_OPEN, and closes its fd. */
function registersBacking(fs: string, path: string, expect?: 'ELOOP') {
  return {
    name: 'ctl',
    proc: `server:${fs}`,
    ops: [
      { op: 'open' as const, path, save: 'bfd' },
      { op: 'backing_open' as const, fd: '$bfd', save: 'id', ...(expect ? { expect } : {}) },
      { op: 'close' as const, fd: '$bfd' },
    ],
  };
}

/**
 * A passthrough open racing BACKING_CLOSE. The schedule lets the open's lookup find the
 * fb under rcu_read_lock, then lets the server's control thread remove the id and drop the
 * map's (last) reference, then lets the lookup take its reference.
 */
export function lookupVsClose(mutants: string[]): ScenarioInput {
  return {
    name: `lookup-vs-close${mutants.length ? ` [${mutants.join(', ')}]` : ''}`,
    kernel: '6.9',
    mutants,
    filesystems: [
      lower,
      fuseReplyingSavedId('server copy'),
    ],
    tasks: [
      {
        name: 'ctl',
        proc: 'server:fuse',
        ops: [
          { op: 'open', path: '/lower/data', save: 'bfd' },
          { op: 'backing_open', fd: '$bfd', save: 'id' },
          { op: 'backing_close', id: '$id' },
        ],
      },
      { name: 'user', ops: [{ op: 'open', path: '/fuse/f', save: 'fd' }] },
    ],
    schedule: ['ctl', 'ctl', 'ctl', 'user', 'fuse-daemon:fuse', 'user', 'fuse-daemon:fuse', 'user', 'user', 'ctl', 'ctl', 'user', 'user'],
  };
}

/** FUSE over overlayfs over FUSE: the outer server's BACKING_OPEN meets depth 2. */
export function stackTooDeep(): ScenarioInput {
  return {
    name: 'fuse-over-overlay-over-fuse',
    kernel: '6.9',
    filesystems: [
      { name: 'inner', type: 'fuse', server: { init: { flags: ['INIT_EXT', 'PASSTHROUGH'], max_stack_depth: 1 }, files: { g: { data: 'inner' } } } },
      lower,
      { name: 'ovl', type: 'overlay', layers: ['inner', 'lower'] },
      { name: 'outer', type: 'fuse', server: { init: { flags: ['INIT_EXT', 'PASSTHROUGH'], max_stack_depth: 2 }, files: {} } },
    ],
    tasks: [registersBacking('outer', '/ovl/data', 'ELOOP')],
  };
}

/** INIT asking for max_stack_depth beyond FILESYSTEM_MAX_STACK_DEPTH: passthrough stays off. */
export function initDepth(depth: number): ScenarioInput {
  return {
    name: `init-max-stack-depth-${depth}`,
    kernel: '6.9',
    filesystems: [lower, { name: 'fuse', type: 'fuse', server: { init: { flags: ['INIT_EXT', 'PASSTHROUGH'], max_stack_depth: depth }, files: {} } }],
    tasks: [registersBacking('fuse', '/lower/data')],
  };
}

/** An overlay over a FUSE mount that asked for max_stack_depth `depth`. */
export function overlayOverFuse(depth: number): ScenarioInput {
  return {
    name: `overlay-over-fuse-depth-${depth}`,
    kernel: '6.9',
    filesystems: [
      { name: 'fuse', type: 'fuse', server: { init: { flags: ['INIT_EXT', 'PASSTHROUGH'], max_stack_depth: depth }, files: {} } },
      { name: 'ovl', type: 'overlay', layers: ['fuse'], mount: 'task' },
    ],
    tasks: [{ name: 'admin', ops: [{ op: 'mount', fs: 'ovl' }] }],
  };
}

/** A passthrough_hp server: two opens of one file share its backing id, then both close. */
export function twoOpens(mutants: string[] = []): ScenarioInput {
  return {
    name: `two-opens-one-id${mutants.length ? ` [${mutants.join(', ')}]` : ''}`,
    kernel: '6.9',
    mutants,
    filesystems: [lower, { name: 'fuse', type: 'fuse', server: { files: { f: { backing: '/lower/data' } } } }],
    tasks: [
      {
        name: 'user',
        ops: [
          { op: 'open', path: '/fuse/f', save: 'a' },
          { op: 'open', path: '/fuse/f', save: 'b' },
          { op: 'assert', fs: 'fuse', id: 1, count: 2 },
          { op: 'close', fd: '$a' },
          { op: 'close', fd: '$b' },
        ],
      },
    ],
  };
}

/**
 * One inode, opened in turn with different replies: cached first, then passthrough (refused
 * while cached), then after the cached file is gone, passthrough, then cached (refused while
 * the inode has an fb), then a direct-io open, then mmap of the passthrough file.
 */
export function ioModeConflicts(): ScenarioInput {
  const pt = { mode: 'reply' as const, flags: ['PASSTHROUGH' as const], backing_id: '$id' };
  const cached = { mode: 'reply' as const, flags: [] };
  const dio = { mode: 'reply' as const, flags: ['DIRECT_IO' as const] };
  return {
    name: 'io-mode-conflicts',
    kernel: '6.9',
    filesystems: [
      lower,
      { name: 'fuse', type: 'fuse', server: { files: { f: { data: 'server copy', open: { mode: 'sequence', replies: [cached, pt, pt, cached, dio] } } } } },
    ],
    tasks: [
      {
        name: 'ctl',
        proc: 'server:fuse',
        ops: [
          { op: 'open', path: '/lower/data', save: 'bfd' },
          { op: 'backing_open', fd: '$bfd', save: 'id' },
        ],
      },
      {
        name: 'user',
        ops: [
          { op: 'wait', task: 'ctl', ops: 2 },
          { op: 'open', path: '/fuse/f', save: 'c', note: 'cached: iocachectr 0 -> 1' },
          { op: 'open', path: '/fuse/f', note: 'passthrough while cached: ETXTBSY inside, EIO outside' },
          { op: 'close', fd: '$c' },
          { op: 'open', path: '/fuse/f', save: 'p', note: 'passthrough: iocachectr 0 -> -1, fi->fb set' },
          { op: 'open', path: '/fuse/f', note: 'cached while the inode has fb: EIO' },
          { op: 'open', path: '/fuse/f', note: 'direct io without passthrough while fb: EIO' },
          { op: 'mmap', fd: '$p', shared: true, save: 'm', note: 'passthrough mmap maps the backing file' },
          { op: 'close', fd: '$p' },
          { op: 'munmap', vma: '$m' },
        ],
      },
    ],
  };
}

/** Passthrough open; the server closes the id; then the connection is aborted. */
export function closeAndAbort(): ScenarioInput {
  return {
    name: 'close-id-then-abort',
    kernel: '6.9',
    filesystems: [
      lower,
      fuseReplyingSavedId('x'),
    ],
    tasks: [
      {
        name: 'ctl',
        proc: 'server:fuse',
        ops: [
          { op: 'open', path: '/lower/data', save: 'bfd' },
          { op: 'backing_open', fd: '$bfd', save: 'id' },
          { op: 'wait', task: 'user', ops: 2 },
          { op: 'backing_close', id: '$id', note: 'the map drops its reference; the inode keeps its own' },
        ],
      },
      {
        name: 'user',
        ops: [
          { op: 'wait', task: 'ctl', ops: 2 },
          { op: 'open', path: '/fuse/f', save: 'fd' },
          { op: 'wait', task: 'ctl', ops: 4 },
          { op: 'read', fd: '$fd', n: 5, note: 'still reads the backing file' },
          { op: 'abort', fs: 'fuse' },
          { op: 'read', fd: '$fd', n: 5, note: 'after abort: passthrough io needs no server' },
          { op: 'open', path: '/fuse/f', note: 'a new open needs the server: ENOTCONN' },
          { op: 'close', fd: '$fd' },
        ],
      },
    ],
  };
}
