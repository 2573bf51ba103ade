// fs/fuse/inode.c and fs/fuse/dir.c: INIT negotiation, inodes (lookup, attributes, eviction
// and the RCU-deferred free), and the connection's end (device release, umount, last put).
import type { Ctx } from '../ctx.ts';
import { name } from '../ctx.ts';
import { block, kfunc, ret } from '../exec.ts';
import type { FileObj, FuseConnObj, FuseInodeObj, FuseSb, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { setField } from '../lib/once.ts';
import { decodeReplyArg, cstring } from '../../wire/messages.ts';
import { encode, FUSE_GETATTR_IN, FUSE_INIT_IN } from '../../wire/structs.ts';
import { FUSE_INIT_FLAG, FUSE_OPCODE, FUSE_ROOT_ID, joinInitFlags, splitInitFlags } from '../../wire/uapi.ts';
import { FILESYSTEM_MAX_STACK_DEPTH } from '../vfs/super.ts';
import { fuse_abort_conn, fuse_queue_request, fuse_request_wait, fuse_take_answer } from './dev.ts';
import { fuse_backing_files_free, fuse_backing_put } from './backing.ts';
import { xchg } from '../lib/once.ts';

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
  const body = encode(FUSE_INIT_IN, { major: 7, minor: c.profile.minor, max_readahead: 131072, flags, flags2 } as never);
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

interface LookupL {
  sb: number;
  name: string;
  unique: number;
  fc: Ptr;
}

/** fuse_lookup (fs/fuse/dir.c): a dcache hit, or LOOKUP to the server and fuse_iget. */
kfunc<LookupL>('fuse_lookup', 'fs/fuse/dir.c', {
  start(c, l) {
    const sb = c.w.sbs[l.sb] as FuseSb;
    const hit = sb.inodes[l.name];
    if (hit !== undefined) return ret(hit);
    const fc = c.deref(sb.conn, 'fuse_conn');
    l.fc = fc.ptr;
    if (!fc.initialized) return block({ on: 'initialized', conn: fc.ptr }, 'start');
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.LOOKUP, FUSE_ROOT_ID, cstring(l.name), 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.LOOKUP, a.body);
    if (r.op !== 'LOOKUP') throw new Error('decodeReplyArg(LOOKUP) (model bug)');
    const sb = c.w.sbs[l.sb] as FuseSb;
    const raced = sb.inodes[l.name];
    if (raced !== undefined) return ret(raced); // fuse_iget found it: another lookup won
    // fuse_iget -> fuse_alloc_inode: fi->fb starts NULL, iocachectr 0
    const fi = c.alloc<FuseInodeObj>({
      type: 'fuse_inode',
      sb: l.sb,
      name: l.name,
      nodeid: r.arg.nodeid,
      fb: 0,
      iocachectr: 0,
      cacheIoMode: false,
      lock: { owner: null },
      icount: 1,
      size: r.arg.attr.size,
      mtime: r.arg.attr.mtime,
      attrValid: true,
      atimeValid: true,
    } as Omit<FuseInodeObj, 'ptr' | 'life'>);
    sb.inodes[l.name] = fi.ptr;
    return ret(fi.ptr);
  },
});

interface GetattrL {
  inode: Ptr;
  unique: number;
  fc: Ptr;
}

/**
 * fuse_update_get_attr for stat(2): cached attributes while valid, else GETATTR. stat asks for
 * STATX_BASIC_STATS, atime included, so an atime invalidated by a read (fuse_invalidate_atime:
 * after a passthrough, direct or page-cache read) also sends GETATTR.
 */
kfunc<GetattrL>('fuse_getattr', 'fs/fuse/dir.c', {
  start(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    if (fi.attrValid && fi.atimeValid) return ret(fi.size);
    const sb = c.w.sbs[fi.sb] as FuseSb;
    const fc = c.deref(sb.conn, 'fuse_conn');
    l.fc = fc.ptr;
    const body = encode(FUSE_GETATTR_IN, { getattr_flags: 0, dummy: 0, fh: 0 } as never);
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.GETATTR, fi.nodeid, body, 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.GETATTR, a.body);
    if (r.op !== 'GETATTR') throw new Error('decodeReplyArg(GETATTR) (model bug)');
    const fi = c.deref(l.inode, 'fuse_inode');
    setField(c, fi, 'size', r.arg.attr.size);
    setField(c, fi, 'mtime', r.arg.attr.mtime);
    setField(c, fi, 'attrValid', true);
    setField(c, fi, 'atimeValid', true);
    return ret(fi.size);
  },
});

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

/** fuse_dev_release: the server closed /dev/fuse: abort, and drop the device's reference. */
export function fuse_dev_release(c: Ctx, f: FileObj) {
  const fc = c.deref(f.devConn, 'fuse_conn');
  fuse_abort_conn(c, fc);
  c.emit('note', `fuse_dev_release: ${name(fc)} loses its server`);
  fuse_conn_put(c, fc);
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
