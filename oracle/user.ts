// Runs user syscalls against a real FUSE mount from a separate process
// (oracle/native/fpsim-user.c), so the node event loop that serves the FUSE
// requests is never blocked by them.
import { spawn } from 'node:child_process';
import { ensureBuilt } from './native/build.ts';

/** One JSON line of fpsim-user output. */
export interface UserResult {
  i: number;
  op: string;
  ret: number;
  errno?: number;
  err?: string;
  /** bytes read (read, pread, mread), hex */
  hex?: string;
  /** fstat/stat fields */
  size?: number;
  mode?: number;
  ino?: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  blksize?: number;
  blocks?: number;
  /** SIGBUS/SIGSEGV caught while touching a mapping */
  signal?: string;
  /** F_GETLK: the struct flock the kernel left (l_type, l_start, l_len, l_pid) */
  ltype?: number;
  lstart?: number;
  llen?: number;
  lpid?: number;
}

export interface UserRun {
  results: UserResult[];
  /** the process was killed because it exceeded timeoutMs */
  timedOut: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Decodes the hex of a read result. */
export function userData(r: UserResult | undefined): Buffer {
  return Buffer.from(r?.hex ?? '', 'hex');
}

/**
 * Runs `fpsim-user ARGS...` (see the C file for the operations), killing it
 * after timeoutMs (default 10 s). Never throws for syscall failures: they
 * are in the results.
 */
export function runUser(args: string[], opts: { timeoutMs?: number } = {}): Promise<UserRun> {
  const bin = ensureBuilt('fpsim-user');
  const timeoutMs = opts.timeoutMs ?? 10_000;
  return new Promise<UserRun>((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    // FUSE waits are killable, so SIGKILL ends a process stuck on the mount
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      const results: UserResult[] = [];
      for (const line of out.split('\n')) {
        if (line.trim() === '') continue;
        try {
          results.push(JSON.parse(line) as UserResult);
        } catch {
          // a line cut short by the timeout kill
        }
      }
      resolve({ results, timedOut, code, signal, stderr: err });
    });
  });
}
