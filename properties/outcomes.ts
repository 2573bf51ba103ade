// Properties of what the syscalls return, for bugs that break no invariant of the kernel's
// state and show only in a result:
//  - open(2) of a FUSE file fails only with EIO (a reply the kernel cannot honour), ENOENT,
//    the connection's errnos (ENOTCONN, ECONNABORTED, ECONNREFUSED) or an errno the server
//    itself replied with; never with an internal errno such as EBUSY, ETXTBSY or EINVAL
//    (spec 3, "Any failure here turns into EIO for open(2)"); an O_TRUNC open may also carry
//    the server's SETATTR errno (handle_truncate's error is open's)
//  - BACKING_OPEN with map.flags != 0 (or map.padding != 0 where the profile checks it)
//    never succeeds (spec 3, BACKING_OPEN: EINVAL)
//  - BACKING_CLOSE of an id <= 0 never succeeds (spec 3, BACKING_CLOSE: EINVAL)
//  - fsync, fdatasync, fallocate, lseek, copy_file_range and sendfile never return ENOSYS: the
//    kernel turns a server's ENOSYS into success (FSYNC), EOPNOTSUPP (FALLOCATE), the generic
//    answer (LSEEK) or its own splice copy (COPY_FILE_RANGE), and remembers it
//    (docs/request-streams.md section 3)
import type { Scenario, ScenarioOp } from '../sim/scenario/schema.ts';
import type { ScenarioResult } from '../sim/scenario/run-scenario.ts';
import { describeOp } from '../sim/scenario/run-scenario.ts';
import type { Profile } from '../sim/kernel/profile.ts';
import type { OpenPolicy } from '../sim/server/policy.ts';
import type { Failure } from './failure.ts';

/** Syscalls whose server ENOSYS the kernel absorbs (fc->no_fsync, no_fallocate, no_lseek, no_copy_file_range) */
const ENOSYS_NEVER = new Set(['fsync', 'fdatasync', 'fallocate', 'lseek', 'copy_file_range', 'sendfile']);

/** The errnos a failed FUSE open may carry whatever the server does. */
export const OPEN_TRANSPORT_ERRNOS = ['EIO', 'ENOENT', 'ENOTCONN', 'ECONNABORTED', 'ECONNREFUSED'] as const;

/** What open(2) of a non-FUSE path can return (a server opening its backing file). */
const PLAIN_OPEN_ERRNOS = ['ENOENT', 'EISDIR', 'EROFS'];

function policyErrnos(p: OpenPolicy | undefined, into: Set<string>) {
  if (!p) return;
  if (p.mode === 'error') into.add(p.errno);
  if (p.mode === 'sequence') for (const r of p.replies) if (r.mode === 'error') into.add(r.errno);
}

/**
 * The errnos an open(2) of a file on FUSE mount `fs` may fail with: the transport's, the
 * errnos the server's open policies reply with, and whatever the server's own open of a
 * backing path can fail with (a server passes that errno on), recursively for stacked mounts.
 */
export function allowedOpenErrnos(s: Scenario, fs: string, seen: Set<string> = new Set()): Set<string> {
  const out = new Set<string>(OPEN_TRANSPORT_ERRNOS);
  const f = s.filesystems.find((x) => x.name === fs);
  if (!f || f.type !== 'fuse' || seen.has(fs)) return out;
  seen.add(fs);
  policyErrnos(f.server.open as OpenPolicy, out);
  for (const file of Object.values(f.server.files)) {
    policyErrnos(file.open as OpenPolicy | undefined, out);
    if (!file.backing) continue;
    const lower = file.backing.split('/')[1]!;
    const lf = s.filesystems.find((x) => x.name === lower);
    if (lf?.type === 'fuse') for (const e of allowedOpenErrnos(s, lower, seen)) out.add(e);
    else for (const e of PLAIN_OPEN_ERRNOS) out.add(e);
  }
  return out;
}

/** The errno the server of `fs` refuses CREATE with, if it does */
function createErrno(s: Scenario, fs: string): string {
  const f = s.filesystems.find((x) => x.name === fs);
  return f?.type === 'fuse' && f.server.create !== 'ok' ? f.server.create : 'EEXIST';
}

function fuseFsOf(s: Scenario, path: string): string | null {
  const fs = /^\/([^/]+)/.exec(path)?.[1];
  const f = fs ? s.filesystems.find((x) => x.name === fs) : undefined;
  return f?.type === 'fuse' ? f.name : null;
}

/** The outcome properties over a finished run. */
export function outcomeProblems(s: Scenario, r: ScenarioResult, profile: Profile): Failure[] {
  const out: Failure[] = [];
  const allowed = new Map<string, Set<string>>();
  for (const t of s.tasks) {
    const task = r.world.tasks.find((x) => x.name === t.name);
    if (!task) continue;
    for (const res of task.results) {
      const op = t.ops[res.op] as ScenarioOp | undefined;
      if (!op) continue;
      const ret = res.ret;
      const at = { task: t.name, index: res.op };
      if (op.op === 'open' && op.mode !== 'path' && typeof ret === 'string') {
        const fs = fuseFsOf(s, op.path);
        if (!fs) continue;
        const trunc = op.flags.includes('O_TRUNC');
        const key = `${fs}${trunc ? ' O_TRUNC' : ''}`;
        let ok = allowed.get(key);
        if (!ok) {
          ok = allowedOpenErrnos(s, fs);
          const f = s.filesystems.find((x) => x.name === fs);
          if (trunc && f?.type === 'fuse' && f.server.setattr !== 'ok') ok.add(f.server.setattr);
          allowed.set(key, ok);
        }
        // O_CREAT: the name may exist (O_EXCL: EEXIST) or be a directory (EISDIR), and the
        // server's CREATE (or its MKNOD fallback) may refuse
        const creat = op.flags.includes('O_CREAT') && ['EEXIST', 'EISDIR', 'EACCES', createErrno(s, fs)].includes(ret);
        // O_NOFOLLOW on a symbolic link (may_open): ELOOP, before any request
        const nofollow = op.flags.includes('O_NOFOLLOW') && ret === 'ELOOP';
        if (!ok.has(ret) && !creat && !nofollow) {
          out.push({
            kind: 'outcome:open-errno',
            message: `${t.name}[${res.op}] ${describeOp(op)} failed with ${ret}: open(2) of a FUSE file may fail only with ${[...ok].join(', ')} (an internal errno must become EIO)`,
            task: t.name,
            op: at,
          });
        }
      }
      if (op.op === 'backing_open' && typeof ret === 'number') {
        const badFlags = op.flags !== 0;
        const badPadding = BigInt(op.padding) !== 0n && profile.backingOpenChecksPadding;
        if (badFlags || badPadding) {
          out.push({
            kind: 'outcome:backing-open-flags',
            message: `${t.name}[${res.op}] ${describeOp(op)} succeeded (id ${ret}): BACKING_OPEN with ${badFlags ? `map.flags ${op.flags}` : `map.padding ${op.padding}`} must fail with EINVAL`,
            task: t.name,
            op: at,
          });
        }
      }
      if (ENOSYS_NEVER.has(op.op) && ret === 'ENOSYS') {
        out.push({
          kind: 'outcome:enosys-leaked',
          message: `${t.name}[${res.op}] ${describeOp(op)} failed with ENOSYS: the kernel never passes a server's ENOSYS for ${op.op} to the caller (it remembers it and answers itself)`,
          task: t.name,
          op: at,
        });
      }
      if (op.op === 'backing_close' && typeof op.id === 'number' && (op.id | 0) <= 0 && typeof ret === 'number') {
        out.push({
          kind: 'outcome:backing-close-id',
          message: `${t.name}[${res.op}] ${describeOp(op)} succeeded: BACKING_CLOSE of an id <= 0 must fail with EINVAL`,
          task: t.name,
          op: at,
        });
      }
    }
  }
  return out;
}
