// The userspace side's state, plain data like the kernel's (a server is part of the world).
import type { ServerPolicy } from './policy.ts';
import type { World } from '../kernel/state.ts';

export interface ServerInode {
  name: string;
  nodeid: number;
  /** passthrough_hp: the shared backing id of the inode, 0 when none */
  backingId: number;
  /** the server's fd on the backing file, -1 when none */
  fd: number;
  /** passthrough_hp: open count */
  nopen: number;
  /** OPEN requests answered so far (the "sequence" policy's position) */
  opened: number;
  /** the mode the server reports (a SETATTR's MODE changes it) */
  mode: number;
  /** unlinked (name ''): the file it was, which it keeps while the kernel still uses the inode */
  gone?: ServerPolicy['files'][string];
}

/** A lock in the server's own table (policy locks: "table"); offsets as decimal strings (u64). */
export interface ServerLock {
  /** the fuse_lk_in owner (lock_owner of FLUSH and RELEASE name the same owners) */
  owner: string;
  start: string;
  end: string;
  /** F_RDLCK or F_WRLCK */
  type: number;
  /** the pid the SETLK carried (what GETLK reports) */
  pid: number;
  /** a flock lock (FUSE_LK_FLOCK), not a POSIX one */
  flock: boolean;
}

export interface ServerState {
  /** the mount this server serves (its key in world.servers) */
  fs: string;
  /** the connection, once its session loop has found it through its /dev/fuse fd (0 before) */
  conn: number;
  /** its process (fd table, creds, vars) */
  proc: string;
  /** the lifecycle machine's state (sim/server/lifecycle.ts) */
  lifecycle: string;
  policy: ServerPolicy;
  inodes: Record<number, ServerInode>;
  nextNodeid: number;
  /** fh -> nodeid and the per-open backing id / fd, if any */
  fhs: Record<number, { nodeid: number; backingId: number; fd: number }>;
  nextFh: number;
  /** the opcode name of every request that reached the server, in order */
  seen: string[];
  /**
   * every request that reached the server, in order, as one line: its nodeid and its fields
   * (sim/wire/format.ts), less the values only the kernel picks (lock owners become o1, o2...
   * in order of appearance; pids and times are shown as set or not): what the oracle compares
   */
  log: string[];
  /** the lock owners this server has seen, in order (requestLine names them o1, o2...) */
  owners: string[];
  /** what the server's own BACKING_OPENs returned (ids, or -errno), in order */
  backingOpens: number[];
  /** what the kernel's INIT offered: "7.<minor>", plus " PASSTHROUGH" if it offered passthrough */
  kernelInit: string;
  /** the kernel's INIT request: its minor and the flags it offered, by name (null before it came) */
  kernelInitRequest: { minor: number; offered: string[] } | null;
  /** the lock table by nodeid (policy locks: "table"), made at the first lock */
  locks?: Record<number, ServerLock[]>;
  /** the INIT reply the server holds back (policy init.hold), as hex, until "init_reply" sends it */
  heldInit: { hex: string; failed: boolean } | null;
}

/** The servers of a world (the kernel keeps their state as opaque userspace memory). */
export function serverStates(w: World): ServerState[] {
  return Object.values(w.servers) as ServerState[];
}

/** The server of the mount `fs`. */
export function serverOf(w: World, fs: string): ServerState {
  const s = w.servers[fs] as ServerState | undefined;
  if (!s) throw new Error(`no server for /${fs}`);
  return s;
}
