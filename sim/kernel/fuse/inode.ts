// fs/fuse/inode.c: mounting (fuse_fill_super), INIT negotiation, inode eviction and the
// RCU-deferred free, the connection's end (umount, last put), and FUSE's file_system_type.
import type { Ctx } from '../ctx.ts';
import { entry, kfunc, ret } from '../exec.ts';
import type { FuseConnObj, FuseFileObj, FuseInodeObj, FuseSb, Ptr, SuperBlock } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { inodeKindOf } from '../lib/stat.ts';
import { setField, xchg } from '../lib/once.ts';
import { idr_init } from '../lib/idr.ts';
import { decodeReplyArg } from '../../wire/messages.ts';
import { encode, FUSE_ATTR, FUSE_INIT_IN, zeroValue, type FuseAttr } from '../../wire/structs.ts';
import { FUSE_INIT_FLAG, FUSE_OPCODE, FUSE_ROOT_ID, joinInitFlags, splitInitFlags } from '../../wire/uapi.ts';
import { invalidatePages, truncatePages } from '../mm/filemap.ts';
import { FILESYSTEM_MAX_STACK_DEPTH } from '../vfs/super.ts';
import { register_filesystem } from '../vfs/fs.ts';
import { fuse_abort_conn, fuse_dev_open, fuse_queue_forget, fuse_queue_request } from './dev.ts';
import { fuse_backing_files_free, fuse_backing_put } from './backing.ts';
import { d_drop_negative, fuse_get_link, fuse_symlink, fuse_atomic_open, fuse_getattr, fuse_lookup, fuse_mkdir, fuse_mknod, fuse_rename2, fuse_setattr, fuse_statfs, fuse_unlink } from './dir.ts';
import { fuse_getxattr } from './xattr.ts';
import { FUSE_DIR_FOPS, FUSE_FOPS } from './file.ts';
import { locks_free_lock_context } from '../vfs/locks.ts';

/** fuse_send_init: INIT goes out asynchronously, offering the profile's flags; its answer runs process_init_reply. */
export function fuse_send_init(c: Ctx, fc: FuseConnObj) {
  const { flags, flags2 } = splitInitFlags(c.profile.initFlags);
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
      if (flags & FUSE_INIT_FLAG.ATOMIC_O_TRUNC) setField(c, fc, 'atomicOTrunc', true);
      if (flags & FUSE_INIT_FLAG.CACHE_SYMLINKS) setField(c, fc, 'cacheSymlinks', true);
      // READDIRPLUS: always, or (AUTO) for a listing's first batch and after lookups
      if (flags & FUSE_INIT_FLAG.DO_READDIRPLUS) {
        setField(c, fc, 'doReaddirplus', true);
        if (flags & FUSE_INIT_FLAG.READDIRPLUS_AUTO) setField(c, fc, 'readdirplusAuto', true);
      }
      // fc->max_pages: the server's max_pages (at least 1, at most the module's 256)
      if (flags & FUSE_INIT_FLAG.MAX_PAGES) setField(c, fc, 'maxPages', Math.min(256, Math.max(arg.max_pages, 1)));
      // the lock flags: before 7.6 none; before 7.17 POSIX_LOCKS stands for both
      const posix = arg.minor >= 6 && (flags & FUSE_INIT_FLAG.POSIX_LOCKS) !== 0n;
      const flock = arg.minor >= 17 ? (flags & FUSE_INIT_FLAG.FLOCK_LOCKS) !== 0n : posix;
      if (!posix) setField(c, fc, 'noLock', true);
      if (!flock) setField(c, fc, 'noFlock', true);
      const depth = arg.max_stack_depth;
      const bounded = c.mutant('no-max-depth-bound') || depth <= FILESYSTEM_MAX_STACK_DEPTH;
      const wbConflict = c.profile.initRefusesWritebackCache && (flags & FUSE_INIT_FLAG.WRITEBACK_CACHE) !== 0n;
      if (flags & FUSE_INIT_FLAG.PASSTHROUGH && depth > 0 && bounded && !wbConflict) {
        setField(c, fc, 'passthrough', true);
        setField(c, fc, 'maxStackDepth', depth);
        const sb = c.w.sbs[fc.sb]!;
        if (c.record) c.emit('field', `sb ${sb.name}.s_stack_depth ${sb.s_stack_depth} -> ${depth}`);
        sb.s_stack_depth = depth;
      } else if (flags & FUSE_INIT_FLAG.PASSTHROUGH) {
        if (c.record) c.emit('note', `process_init_reply: passthrough stays off (max_stack_depth ${depth}${wbConflict ? ', writeback cache' : ''})`);
      }
    }
  }
  if (!ok) setField(c, fc, 'connError', true);
  setField(c, fc, 'initialized', true); // fuse_set_initialized: wakes tasks waiting for INIT
}


/** A validity in seconds + nanoseconds, from now, in jiffies (fuse_time_to_jiffies; HZ = 1000). */
export function fuse_time_to_jiffies(c: Ctx, sec: number, nsec: number): number {
  if (sec === 0 && nsec === 0) return c.w.jiffies;
  return c.w.jiffies + sec * 1000 + Math.ceil(nsec / 1_000_000);
}

/**
 * fuse_get_cache_mask: with the writeback cache the kernel keeps a regular file's size, mtime
 * and ctime itself (writes change them locally), so a reply's values for them are ignored.
 */
export function fuse_get_cache_mask(c: Ctx, fi: FuseInodeObj): boolean {
  const sb = c.w.sbs[fi.sb] as FuseSb;
  return fi.mode === 'reg' && c.deref(sb.conn, 'fuse_conn').writebackCache;
}

/**
 * fuse_change_attributes: the kernel takes the attributes a reply carries (LOOKUP, GETATTR,
 * CREATE...) and keeps them for attr_valid. A size that changed truncates the page cache and
 * invalidates the rest of it (no FUSE_EXPLICIT_INVAL_DATA from the model's servers). What
 * the writeback cache keeps locally (fuse_get_cache_mask) the reply does not change.
 */
export function fuse_change_attributes(c: Ctx, fi: FuseInodeObj, attr: FuseAttr, expires: number) {
  const cached = fuse_get_cache_mask(c, fi);
  fuse_change_attributes_common(c, fi, attr, expires, cached);
  if (cached) return;
  if (attr.size !== fi.size) {
    truncatePages(fi.pages, attr.size);
    invalidatePages(fi.pages);
  }
  setField(c, fi, 'size', attr.size);
}

/** fuse_change_attributes_common: type, times (unless cached locally) and validity. */
export function fuse_change_attributes_common(c: Ctx, fi: FuseInodeObj, attr: FuseAttr, expires: number, cached: boolean) {
  setField(c, fi, 'mode', inodeKindOf(attr.mode));
  if (!cached) setField(c, fi, 'mtime', attr.mtime);
  setField(c, fi, 'attrValid', true);
  setField(c, fi, 'atimeValid', true);
  setField(c, fi, 'attrExpires', expires);
}

/**
 * fuse_iget: the inode of a nodeid a reply named (a new one at the first reply), with one
 * more lookup counted (fi->nlookup, what the FORGET at eviction hands back).
 */
export function fuse_iget(c: Ctx, sbId: number, name: string, nodeid: number, attr: FuseAttr, attrExpires: number, entryExpires: number): FuseInodeObj {
  const sb = c.w.sbs[sbId] as FuseSb;
  const hit = sb.inodes[name];
  let fi: FuseInodeObj;
  if (hit !== undefined) fi = c.deref(hit, 'fuse_inode');
  else {
    // fuse_alloc_inode: fi->fb starts NULL, iocachectr 0
    fi = c.alloc<FuseInodeObj>({
      type: 'fuse_inode',
      sb: sbId,
      name,
      nodeid,
      fb: 0,
      iocachectr: 0,
      cacheIoMode: false,
      lock: { owner: null },
      icount: 1,
      mode: inodeKindOf(attr.mode),
      nlookup: 0,
      size: attr.size,
      mtime: attr.mtime,
      attrValid: true,
      atimeValid: true,
      attrExpires,
      entryExpires,
      pages: {},
      dirty: [],
      writeFiles: [],
      timesDirty: false,
    });
    sb.inodes[name] = fi.ptr;
    d_drop_negative(sb, name); // the name's negative dentry, if any, is instantiated
  }
  setField(c, fi, 'nlookup', fi.nlookup + 1);
  fuse_change_attributes(c, fi, attr, attrExpires);
  setField(c, fi, 'entryExpires', entryExpires);
  return fi;
}

/**
 * Evict an unused inode (fuse_evict_inode + destroy_inode): a FORGET handing back every lookup
 * the server counted (fuse_queue_forget), unless the connection is gone; then the inode's
 * memory goes through call_rcu, and fuse_free_inode runs after the grace period.
 */
export function fuse_evict_inode(c: Ctx, fi: FuseInodeObj, sendForget: boolean) {
  const sb = c.w.sbs[fi.sb] as FuseSb;
  if (sb.inodes[fi.name] === fi.ptr) delete sb.inodes[fi.name];
  if (sb.orphans?.includes(fi.ptr)) sb.orphans = sb.orphans.filter((p) => p !== fi.ptr);
  setField(c, fi, 'icount', 0);
  locks_free_lock_context(c, `/${sb.name}/${fi.name}`, fi.flctx);
  const fc = c.deref(sb.conn, 'fuse_conn');
  if (sendForget && fc.connected && fi.nodeid !== FUSE_ROOT_ID) {
    fuse_queue_forget(c, fc, fi.nodeid, fi.nlookup);
  }
  c.kfreeRcu(fi.ptr, 'free_inode');
}

/**
 * iput: one holder of the inode fewer (an open file's, a path walk's). The dcache's own
 * reference keeps a named inode; one whose dentry went (an orphan) is evicted with its last
 * holder.
 */
export function fuse_iput(c: Ctx, fi: FuseInodeObj) {
  const sb = c.w.sbs[fi.sb] as FuseSb;
  if (fi.icount <= 1 && sb.orphans?.includes(fi.ptr)) return fuse_evict_inode(c, fi, true);
  setField(c, fi, 'icount', fi.icount - 1);
  if (fi.icount === 1) dentry_unused(c, fi);
}

/**
 * The dput that leaves a named dentry unused (fs/dcache.c retain_dentry): the first time it
 * goes on the tail of the superblock's dentry LRU (d_lru_add), after that it is only marked
 * DCACHE_REFERENCED. Called where the model's holders let go (a path walk, a file's last
 * close) and where a lookup's walk ends without holding the inode (a READDIRPLUS entry, a
 * name found by an exclusive create: EEXIST).
 */
export function dentry_unused(c: Ctx, fi: FuseInodeObj) {
  const sb = c.w.sbs[fi.sb] as FuseSb;
  if (fi.name === '' || fi.icount > 1 || sb.inodes[fi.name] !== fi.ptr) return;
  if (fi.lru === undefined) {
    sb.lruClock = (sb.lruClock ?? 0) + 1;
    setField(c, fi, 'lru', sb.lruClock);
    setField(c, fi, 'referenced', false);
  } else if (!fi.referenced) setField(c, fi, 'referenced', true);
}

/**
 * drop_caches on a FUSE superblock (super_cache_scan: prune_dcache_sb over the dentry LRU,
 * then the inodes the freed dentries let go): the LRU is walked from its head; a dentry in use
 * leaves the LRU (it goes back at its next dput), a DCACHE_REFERENCED one loses the mark and
 * moves to the tail (dentry_lru_isolate: LRU_ROTATE), any other is freed and its inode evicted
 * (FORGET; fuse_drop_inode keeps no unused inode). drop_caches walks until nothing is left to
 * free, so the FORGETs come in LRU order: first the dentries not used again since they went
 * on the LRU, then the others. The root and anything open stay.
 */
export function fuse_drop_caches(c: Ctx, sb: FuseSb): number {
  // negative dentries are unused: the shrinker frees them all (no inode, no FORGET)
  delete sb.negative;
  const queue: FuseInodeObj[] = [];
  for (const [name, p] of Object.entries(sb.inodes)) {
    if (name === '') continue;
    const fi = c.deref(p, 'fuse_inode');
    if (fi.lru === undefined) continue;
    if (fi.icount > 1) {
      delete fi.lru;
      delete fi.referenced;
      continue;
    }
    queue.push(fi);
  }
  queue.sort((a, b) => a.lru! - b.lru!);
  let n = 0;
  while (queue.length) {
    const fi = queue.shift()!;
    if (fi.referenced) {
      sb.lruClock = (sb.lruClock ?? 0) + 1;
      setField(c, fi, 'lru', sb.lruClock);
      setField(c, fi, 'referenced', false);
      queue.push(fi);
      continue;
    }
    fuse_evict_inode(c, fi, true);
    n++;
  }
  return n;
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
  if (sb.orphans?.length) return neg('EBUSY');
  const fc = c.deref(sb.conn, 'fuse_conn');
  fuse_abort_conn(c, fc);
  for (const p of Object.values(sb.inodes).sort((a, b) => a - b)) fuse_evict_inode(c, c.deref(p, 'fuse_inode'), false);
  sb.mounted = false;
  if (c.record) c.emit('note', `umount /${sb.name}`);
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
        passthrough: false, maxStackDepth: 0, writebackCache: false, directIoAllowMmap: false, atomicOTrunc: false, noOpen: false, noFlush: false, noGetxattr: false, minor: 0,
        idr: idr_init(), lock: { owner: null }, pending: [], processing: [], answered: [], nextUnique: 2, devFile: dev.ptr, devCount: 1,
        idHighWater: 0,
      });
      dev.private_data = fc.ptr; // fuse_fill_super attaches the fuse_dev to the opened /dev/fuse file
      sb.conn = fc.ptr;
      sb.mounted = true;
      // fuse_get_root_inode: the root, nodeid 1, a directory known without a LOOKUP and with
      // attributes that have already expired (the first stat of the mount asks GETATTR)
      const root = fuse_iget(c, sb.id, '', FUSE_ROOT_ID, { ...zeroValue(FUSE_ATTR), ino: FUSE_ROOT_ID, mode: 0o40000, nlink: 1 }, c.w.jiffies, Number.MAX_SAFE_INTEGER);
      setField(c, root, 'nlookup', 0);
      srv.vars['devfd'] = fd;
      if (c.record) c.emit('note', `mount fuse /${l.fs}: fuse_conn#${fc.ptr}, server /dev/fuse is fd ${fd}`);
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
    inodeKind: (_w, sb, name) => {
      const p = fuseSb(sb).inodes[name];
      const fi = p === undefined ? undefined : (_w.heap[p] as FuseInodeObj | undefined);
      return fi?.mode ?? 'reg';
    },
    fops: (kind) => (kind === 'dir' ? FUSE_DIR_FOPS : FUSE_FOPS),
    readonly: () => false,
    realSb: (_w, sb) => sb.id,
    getattr: fuse_getattr,
    i_get_link: fuse_get_link,
    inodeOf: (_w, sb, name) => fuseSb(sb).inodes[name] ?? 0,
    i_flctx: (c, f, create) => {
      const p = f.private_data ? c.deref(f.private_data, 'fuse_file').inode : fuseSb(c.w.sbs[f.sb]!).inodes[f.name];
      if (!p) return null;
      const fi = c.deref(p, 'fuse_inode');
      if (!fi.flctx && create) fi.flctx = { flc_flock: [], flc_posix: [] };
      return fi.flctx ?? null;
    },
    pathGet(c, inode) {
      const fi = c.deref(inode, 'fuse_inode');
      setField(c, fi, 'icount', fi.icount + 1);
    },
    pathPut(c, inode) {
      fuse_iput(c, c.deref(inode, 'fuse_inode'));
    },
    statfs: fuse_statfs,
    setattr: fuse_setattr,
    getxattr: fuse_getxattr,
    umount: (c, sb) => fuse_umount(c, fuseSb(sb)),
    dropInode(c, sb, name) {
      const p = fuseSb(sb).inodes[name];
      if (p === undefined) return neg('ENOENT');
      if (name === '') return neg('EBUSY'); // the root: the superblock holds it
      const fi = c.deref(p, 'fuse_inode');
      if (fi.icount > 1) return neg('EBUSY');
      fuse_evict_inode(c, fi, true);
      return 0;
    },
    freeInode: fuse_free_inode,
    fileInode: (w, f) => {
      const ff = f.private_data ? (w.heap[f.private_data] as FuseFileObj | undefined) : undefined;
      return ff?.type === 'fuse_file' ? ff.inode : (f.pathInode ?? fuseSb(w.sbs[f.sb]!).inodes[f.name] ?? 0);
    },
    atomic_open: fuse_atomic_open,
    i_mknod: fuse_mknod,
    i_symlink: fuse_symlink,
    i_mkdir: fuse_mkdir,
    i_unlink: fuse_unlink,
    i_rename: fuse_rename2,
    dropCaches: (c, sb) => fuse_drop_caches(c, fuseSb(sb)),
    // a server reading a backing file on a FUSE mount sees nothing the model keeps
    peek: () => ({ data: '', mtime: 0 }),
  });
}
