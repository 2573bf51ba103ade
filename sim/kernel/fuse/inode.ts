// fs/fuse/inode.c: mounting (fuse_fill_super), INIT negotiation, inode eviction and the
// RCU-deferred free, the connection's end (umount, last put), and FUSE's file_system_type.
import type { Ctx } from '../ctx.ts';
import { entry, kfunc, ret } from '../exec.ts';
import type { FuseConnObj, FuseInodeObj, FuseSb, Ptr, SuperBlock } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { setField, xchg } from '../lib/once.ts';
import { idr_init } from '../lib/idr.ts';
import { decodeReplyArg } from '../../wire/messages.ts';
import { encode, FUSE_INIT_IN } from '../../wire/structs.ts';
import { FUSE_INIT_FLAG, FUSE_OPCODE, joinInitFlags, splitInitFlags } from '../../wire/uapi.ts';
import { FILESYSTEM_MAX_STACK_DEPTH } from '../vfs/super.ts';
import { register_filesystem } from '../vfs/fs.ts';
import { fuse_abort_conn, fuse_dev_open, fuse_queue_request } from './dev.ts';
import { fuse_backing_files_free, fuse_backing_put } from './backing.ts';
import { fuse_getattr, fuse_lookup, fuse_statfs } from './dir.ts';
import { FUSE_FOPS } from './file.ts';

/** The flags fuse_send_init offers (the ones the model knows about). */
const KERNEL_INIT_FLAGS =
  FUSE_INIT_FLAG.ASYNC_READ |
  FUSE_INIT_FLAG.WRITEBACK_CACHE |
  FUSE_INIT_FLAG.INIT_EXT |
  FUSE_INIT_FLAG.DIRECT_IO_ALLOW_MMAP |
  FUSE_INIT_FLAG.PASSTHROUGH;

/** fuse_send_init: INIT goes out asynchronously; its answer runs process_init_reply. */
export function fuse_send_init(c: Ctx, fc: FuseConnObj) {
  const { flags, flags2 } = splitInitFlags(KERNEL_INIT_FLAGS);
  const body = encode(FUSE_INIT_IN, { major: 7, minor: c.profile.minor, max_readahead: 131072, flags, flags2 });
  fuse_queue_request(c, fc, FUSE_OPCODE.INIT, 0, body, false);
}

/**
 * process_init_reply: passthrough is on only if the server asked for it with a
 * max_stack_depth in 1..FILESYSTEM_MAX_STACK_DEPTH (and, in 6.11+, without writeback cache).
 * Otherwise the feature is silently off; BACKING_OPEN will say EPERM.
 */
export function process_init_reply(c: Ctx, fc: FuseConnObj, error: number, body: Uint8Array) {
  let ok = error === 0;
  if (ok) {
    const r = decodeReplyArg(FUSE_OPCODE.INIT, body);
    if (r.op !== 'INIT' || r.arg.major !== 7) ok = false;
    else {
      const arg = r.arg;
      let flags = BigInt(arg.flags >>> 0);
      if (flags & FUSE_INIT_FLAG.INIT_EXT) flags = joinInitFlags(arg.flags, arg.flags2);
      setField(c, fc, 'minor', arg.minor);
      if (flags & FUSE_INIT_FLAG.WRITEBACK_CACHE) setField(c, fc, 'writebackCache', true);
      if (flags & FUSE_INIT_FLAG.DIRECT_IO_ALLOW_MMAP) setField(c, fc, 'directIoAllowMmap', true);
      const depth = arg.max_stack_depth;
      const bounded = c.mutant('no-max-depth-bound') || depth <= FILESYSTEM_MAX_STACK_DEPTH;
      const wbConflict = c.profile.initRefusesWritebackCache && (flags & FUSE_INIT_FLAG.WRITEBACK_CACHE) !== 0n;
      if (flags & FUSE_INIT_FLAG.PASSTHROUGH && depth > 0 && bounded && !wbConflict) {
        setField(c, fc, 'passthrough', true);
        setField(c, fc, 'maxStackDepth', depth);
        const sb = c.w.sbs[fc.sb]!;
        c.emit('field', `sb ${sb.name}.s_stack_depth ${sb.s_stack_depth} -> ${depth}`);
        sb.s_stack_depth = depth;
      } else if (flags & FUSE_INIT_FLAG.PASSTHROUGH) {
        c.emit('note', `process_init_reply: passthrough stays off (max_stack_depth ${depth}${wbConflict ? ', writeback cache' : ''})`);
      }
    }
  }
  if (!ok) setField(c, fc, 'connError', true);
  setField(c, fc, 'initialized', true); // fuse_set_initialized: wakes tasks waiting for INIT
}

/**
 * Evict an unused inode (fuse_evict_inode + destroy_inode): FORGET to the server, then the
 * inode's memory goes through call_rcu; fuse_free_inode runs after the grace period.
 */
export function fuse_evict_inode(c: Ctx, fi: FuseInodeObj, sendForget: boolean) {
  const sb = c.w.sbs[fi.sb] as FuseSb;
  delete sb.inodes[fi.name];
  setField(c, fi, 'icount', 0);
  const fc = c.deref(sb.conn, 'fuse_conn');
  if (sendForget && fc.connected) {
    const nlookup = new Uint8Array(8);
    nlookup[0] = 1;
    fuse_queue_request(c, fc, FUSE_OPCODE.FORGET, fi.nodeid, nlookup, false);
  }
  c.kfreeRcu(fi.ptr, 'free_inode');
}

/** fuse_free_inode: the RCU callback puts whatever fi->fb is left. */
export function fuse_free_inode(c: Ctx, ptr: Ptr) {
  const fi = c.deref(ptr, 'fuse_inode');
  const fb = xchg(c, fi, 'fb', 0);
  if (fb) fuse_backing_put(c, fb);
}

/** fuse_conn_put: the last reference frees the backing ids left in the map, then fc. */
export function fuse_conn_put(c: Ctx, fc: FuseConnObj) {
  setField(c, fc, 'count', fc.count - 1);
  if (fc.count > 0) return;
  fuse_backing_files_free(c, fc);
  c.kfreeRcu(fc.ptr); // call_rcu(&fc->rcu, delayed_release)
}

/**
 * umount: fuse_kill_sb_anon -> fuse_conn_destroy (abort), evict every inode, then
 * fuse_mount_destroy drops the superblock's reference. A busy mount is refused (EBUSY).
 */
export function fuse_umount(c: Ctx, sb: FuseSb): number {
  for (const p of Object.values(sb.inodes)) {
    const fi = c.deref(p, 'fuse_inode');
    if (fi.icount > 1) return neg('EBUSY');
  }
  const fc = c.deref(sb.conn, 'fuse_conn');
  fuse_abort_conn(c, fc);
  for (const p of Object.values(sb.inodes).sort((a, b) => a - b)) fuse_evict_inode(c, c.deref(p, 'fuse_inode'), false);
  sb.mounted = false;
  c.emit('note', `umount /${sb.name}`);
  fuse_conn_put(c, fc);
  return 0;
}

interface FillSuperA {
  fs: string;
  /** the server process, which opened /dev/fuse and passes its fd in the mount options */
  server: string;
}

/**
 * mount -t fuse -o fd=N: the server's open("/dev/fuse") (fuse_dev_open), then
 * fuse_fill_super: a connection attached to that device (its count: the superblock's and the
 * device's), the superblock mounted, and INIT on its way (answered asynchronously). The
 * server program knows its device fd as $devfd.
 */
entry(
  'mount_fuse',
  kfunc<FillSuperA>('fuse_fill_super', 'fs/fuse/inode.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === l.fs);
      if (!sb || sb.kind !== 'fuse') throw new Error(`no fuse fs ${l.fs}`);
      const srv = c.w.procs[l.server];
      if (!srv) throw new Error(`no server process ${l.server} (model bug)`);
      const { fd, file: dev } = fuse_dev_open(c, srv);
      const fc = c.alloc<FuseConnObj>({
        type: 'fuse_conn', name: l.fs, sb: sb.id, count: 2, connected: true, initialized: false, connError: false,
        passthrough: false, maxStackDepth: 0, writebackCache: false, directIoAllowMmap: false, noOpen: false, noFlush: false, minor: 0,
        idr: idr_init(), lock: { owner: null }, pending: [], processing: [], answered: [], nextUnique: 2, devFile: dev.ptr,
        idHighWater: 0,
      });
      dev.private_data = fc.ptr; // fuse_fill_super attaches the fuse_dev to the opened /dev/fuse file
      sb.conn = fc.ptr;
      sb.mounted = true;
      srv.vars['devfd'] = fd;
      c.emit('note', `mount fuse /${l.fs}: fuse_conn#${fc.ptr}, server /dev/fuse is fd ${fd}`);
      fuse_send_init(c, fc);
      return ret(0);
    },
  }),
);

const fuseSb = (sb: SuperBlock) => sb as FuseSb;

/**
 * fuse_init (module_init): register fuse_fs_type, with fuse_dir_inode_operations' lookup and
 * getattr and fuse_super_operations. Called once the kernel's modules are all loaded
 * (sim/kernel/index.ts): it names functions of dir.c, which imports this file.
 */
export function fuse_init() {
  register_filesystem({
    name: 'fuse',
    lookup: fuse_lookup,
    // the model's servers export regular files only
    inodeKind: () => 'reg',
    fops: () => FUSE_FOPS,
    readonly: () => false,
    realSb: (_w, sb) => sb.id,
    getattr: fuse_getattr,
    pathGet(c, inode) {
      const fi = c.deref(inode, 'fuse_inode');
      setField(c, fi, 'icount', fi.icount + 1);
    },
    pathPut(c, inode) {
      const fi = c.deref(inode, 'fuse_inode');
      setField(c, fi, 'icount', fi.icount - 1);
    },
    statfs: fuse_statfs,
    umount: (c, sb) => fuse_umount(c, fuseSb(sb)),
    dropInode(c, sb, name) {
      const p = fuseSb(sb).inodes[name];
      if (p === undefined) return neg('ENOENT');
      const fi = c.deref(p, 'fuse_inode');
      if (fi.icount > 1) return neg('EBUSY');
      fuse_evict_inode(c, fi, true);
      return 0;
    },
    freeInode: fuse_free_inode,
    // a server reading a backing file on a FUSE mount sees nothing the model keeps
    peek: () => ({ data: '', mtime: 0 }),
  });
}
