// The same program, the same server binary, on this machine's real kernel: the server mounts
// its fresh source tree for real (a libfuse server run as root mounts with mount(2) itself;
// "{dev}" becomes the mountpoint), and the user ops run here, one at a time, in the order the
// model finished them (as fpsim oracle does), each task with its own fds. What every op
// returned is compared with the model's run: the return value (an open's fd only as success),
// the errno, the data a read returned. The mount is lazily unmounted and the server killed in
// a finally; the mountpoint and the tree are removed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, fsyncSync, mkdirSync, renameSync, rmdirSync, ftruncateSync, mkdtempSync, opendirSync, openSync, readFileSync, readSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync, constants as FS, type Dir } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ERRNO } from '../sim/kernel/lib/errno.ts';
import type { Scenario } from '../sim/scenario/schema.ts';

export interface RealOp {
  task: string;
  index: number;
}

export interface RealOutcome {
  /** "task#index" -> the return value (>= 0, an open as "ok") or the errno name, and a read's data */
  results: Record<string, { ret: number | string; data?: string }>;
  /** what went wrong with the harness (no mount, a server that died) */
  errors: string[];
}

const errnoOf = (e: unknown): string => {
  const code = (e as NodeJS.ErrnoException).code;
  return code && code in ERRNO ? code : `E?${code ?? (e as Error).message}`;
};

function mounted(mnt: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === mnt);
}

/** Whether the process is there and not a zombie (nothing reaps it while the ops run). */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

function sleepMs(ms: number) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const SETPRIV = spawnSync('sh', ['-c', 'command -v setpriv'], { stdio: 'ignore' }).status === 0;

const MODES: Record<string, number> = { r: FS.O_RDONLY, rw: FS.O_RDWR, w: FS.O_WRONLY };
/** the open flags a program may add (bridge/run.ts) */
const FLAGS: Record<string, number> = { O_CREAT: FS.O_CREAT, O_EXCL: FS.O_EXCL };

/** Runs the scenario's user ops on the real kernel through the real server, in `order`. */
export function runOnRealKernel(s: Scenario, argv: string[], order: RealOp[], o: { tree: Record<string, string>; fs: string; tmpRoot?: string; timeoutMs?: number }): RealOutcome {
  const root = mkdtempSync(join(o.tmpRoot ?? tmpdir(), 'fpsim-real-'));
  const src = join(root, 'src');
  const mnt = join(root, 'mnt');
  const out: RealOutcome = { results: {}, errors: [] };
  let server: ChildProcess | null = null;
  const fds: number[] = [];
  const dirs = new Map<string, Dir>(); // "task/$dir0" -> an open directory
  try {
    mkdirSync(src);
    mkdirSync(mnt);
    for (const [n, d] of Object.entries(o.tree)) writeFileSync(join(src, n), d);
    // its output goes to a file: nothing reads a pipe while the ops run synchronously
    const log = join(root, 'server.log');
    const logFd = openSync(log, 'w');
    try {
      // setpriv --pdeathsig: if fpsim dies (even SIGKILLed) the server gets SIGTERM, and a
      // libfuse server unmounts on SIGTERM: no mount outlives fpsim
      const args = argv.map((a) => a.replaceAll('{src}', src).replaceAll('{dev}', mnt));
      const cmd = SETPRIV ? ['setpriv', '--pdeathsig', 'SIGTERM', ...args] : args;
      server = spawn(cmd[0]!, cmd.slice(1), { stdio: ['ignore', logFd, logFd] });
    } finally {
      closeSync(logFd);
    }
    const stderr = () => readFileSync(log, 'utf8');
    const deadline = Date.now() + (o.timeoutMs ?? 5000);
    while (!mounted(mnt)) {
      if (Date.now() > deadline || !alive(server.pid)) {
        out.errors.push(`the server did not mount ${mnt} on the real kernel: ${stderr().trim().slice(-400) || '(no output)'}`);
        return out;
      }
      sleepMs(5);
    }
    const vars = new Map<string, number>(); // "task/$fd0" -> real fd
    const tasks = new Map(s.tasks.map((t) => [t.name, t]));
    const path = (p: string) => join(mnt, p.slice(o.fs.length + 2));
    for (const { task, index } of order) {
      const op = tasks.get(task)?.ops[index] as Record<string, unknown> | undefined;
      if (!op) continue;
      // a ref to no open fd: a number above any fd table (EBADF), as the model's stale fd is
      const fd = () => vars.get(`${task}/${String(op['fd'])}`) ?? 1 << 30;
      const key = `${task}#${index}`;
      try {
        switch (op['op']) {
          case 'open': {
            const flags = ((op['flags'] as string[] | undefined) ?? []).reduce((a, f) => a | FLAGS[f]!, MODES[op['mode'] as string]!);
            const f = openSync(path(op['path'] as string), flags, (op['perm'] as number | undefined) ?? 0o644);
            fds.push(f);
            vars.set(`${task}/$${String(op['save'])}`, f);
            out.results[key] = { ret: 'ok' };
            break;
          }
          case 'read': {
            const buf = Buffer.alloc(op['n'] as number);
            const n = readSync(fd(), buf, 0, buf.length, op['offset'] as number);
            out.results[key] = { ret: n, data: buf.subarray(0, n).toString('latin1') };
            break;
          }
          case 'write':
            out.results[key] = { ret: writeSync(fd(), Buffer.from(op['data'] as string, 'latin1'), 0, (op['data'] as string).length, op['offset'] as number) };
            break;
          case 'fstat':
            out.results[key] = { ret: fstatSync(fd()).size };
            break;
          case 'stat':
            out.results[key] = { ret: statSync(path(op['path'] as string)).size };
            break;
          case 'ftruncate':
            ftruncateSync(fd(), op['size'] as number);
            out.results[key] = { ret: 0 };
            break;
          case 'opendir':
            dirs.set(`${task}/$${String(op['save'])}`, opendirSync(path(op['path'] as string)));
            out.results[key] = { ret: 'ok' };
            break;
          case 'getdents': {
            // the names getdents64 gave, in its order; Node's directory stream leaves out "."
            // and "..", so the comparison leaves them out of the model's too (compareWithRealKernel)
            const d = dirs.get(`${task}/${String(op['fd'])}`);
            if (!d) {
              out.results[key] = { ret: 'EBADF' };
              break;
            }
            const names: string[] = [];
            for (let e = d.readSync(); e; e = d.readSync()) names.push(e.name);
            out.results[key] = { ret: names.length, data: names.join(' ') };
            break;
          }
          case 'unlink':
            unlinkSync(path(op['path'] as string));
            out.results[key] = { ret: 0 };
            break;
          case 'rename':
            renameSync(path(op['path'] as string), path(op['to'] as string));
            out.results[key] = { ret: 0 };
            break;
          case 'mkdir':
            mkdirSync(path(op['path'] as string), (op['perm'] as number | undefined) ?? 0o755);
            out.results[key] = { ret: 0 };
            break;
          case 'rmdir':
            rmdirSync(path(op['path'] as string));
            out.results[key] = { ret: 0 };
            break;
          case 'fsync':
            fsyncSync(fd());
            out.results[key] = { ret: 0 };
            break;
          case 'close': {
            const dk = `${task}/${String(op['fd'])}`;
            const d = dirs.get(dk);
            if (d) {
              d.closeSync();
              dirs.delete(dk);
              out.results[key] = { ret: 0 };
              break;
            }
            closeSync(fd());
            fds.splice(fds.indexOf(fd()), 1);
            vars.delete(`${task}/${String(op['fd'])}`);
            out.results[key] = { ret: 0 };
            break;
          }
          default:
            out.errors.push(`${key}: op ${String(op['op'])} is not run on the real kernel`);
        }
      } catch (e) {
        out.results[key] = { ret: errnoOf(e) };
      }
    }
    return out;
  } finally {
    for (const d of dirs.values()) {
      try {
        d.closeSync();
      } catch {
        // already closed
      }
    }
    for (const f of fds) {
      try {
        closeSync(f);
      } catch {
        // already closed
      }
    }
    if (mounted(mnt)) spawnSync('umount', ['-l', mnt]);
    if (server) {
      // the unmount ends its session loop; a server still there after 2 s is killed
      const t = Date.now();
      while (alive(server.pid) && Date.now() - t < 2000) sleepMs(5);
      if (alive(server.pid)) server.kill('SIGKILL');
    }
    rmSync(root, { recursive: true, force: true });
  }
}
