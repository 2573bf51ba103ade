// fs/fuse/dir.c: looking names up (LOOKUP and fuse_iget), and attributes (GETATTR,
// SETATTR). (fuse_statfs, from fs/fuse/inode.c, is here with them: the VFS asks all of them
// of the filesystem type.)
import { block, call, goto, kfunc, ret } from '../exec.ts';
import type { Ctx } from '../ctx.ts';
import type { FileObj, FuseFileObj, FuseInodeObj, FuseSb, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { setField } from '../lib/once.ts';
import { decodeReplyArg, cstring, encodeNameBody, encodeNamedRequest, encodeRename2Body, encodeRenameBody, encodeSymlinkBody } from '../../wire/messages.ts';
import { encode, FUSE_CREATE_IN, FUSE_GETATTR_IN, FUSE_MKDIR_IN, FUSE_MKNOD_IN, FUSE_OPEN_IN, FUSE_SETATTR_IN, zeroValue } from '../../wire/structs.ts';
import { FATTR, FOPEN, FUSE_GETATTR_FH, FUSE_OPCODE, FUSE_ROOT_ID } from '../../wire/uapi.ts';
import { ATTR_ATIME, ATTR_ATIME_SET, ATTR_CTIME, ATTR_FILE, ATTR_GID, ATTR_MODE, ATTR_MTIME, ATTR_MTIME_SET, ATTR_OPEN, ATTR_SIZE, ATTR_TIMES_SET, ATTR_UID, type IattrA } from '../vfs/fs.ts';
import { invalidatePages, PAGE_SIZE, truncatePages } from '../mm/filemap.ts';
import { d_alloc_parallel, d_lookup_done } from '../vfs/dcache.ts';
import { dir_lock_holders } from '../lib/in_lookup.ts';
import { fuse_lock_owner_id, fuse_open, fuse_write_inode_now, fuse_writepages, releaseBody } from './file.ts';
import { O_CREAT, O_EXCL, O_NOCTTY } from '../vfs/fcntl.ts';
import { CURRENT_UMASK, LOOKUP_CREATE, LOOKUP_EXCL, LOOKUP_OPEN, LOOKUP_RENAME_TARGET, RENAME_EXCHANGE, RENAME_NOREPLACE } from '../vfs/namei.ts';
import { fuse_queue_request, fuse_request_wait, fuse_take_answer } from './dev.ts';
import { dentry_unused, fuse_change_attributes, fuse_change_attributes_common, fuse_evict_inode, fuse_get_cache_mask, fuse_iget, fuse_iput, fuse_time_to_jiffies } from './inode.ts';

interface LookupA {
  sb: number;
  name: string;
  /** the walk's LOOKUP_* intent (sim/kernel/vfs/namei.ts) */
  flags?: number;
}

interface LookupL extends LookupA {
  unique: number;
  fc: Ptr;
  /** the dentry was cached but its entry_valid ran out: this LOOKUP revalidates it */
  reval: boolean;
  /** lookup_slow: this task's dentry is in the in-lookup hash (d_alloc_parallel) until d_lookup_done */
  inLookup?: boolean;
}

/**
 * fuse_lookup, and fuse_dentry_revalidate for a cached name: a dcache hit while the entry is
 * valid (entry_valid of the reply that made it), else LOOKUP to the server. A reply naming the
 * inode already cached keeps it (one more nlookup, fresh attributes); one naming another
 * nodeid, or an error, drops the old dentry and looks the name up afresh (lookup_slow).
 * An exclusive create or a rename target (LOOKUP_EXCL, LOOKUP_RENAME_TARGET) revalidates even
 * a valid entry, as fuse_dentry_revalidate treats those intents like an expired one.
 * Returns the inode. The root is always there (the superblock holds it).
 *
 * A positive LOOKUP advises READDIRPLUS for the directory (fuse_advise_use_readdirplus); so
 * does the first dcache hit on an inode a READDIRPLUS made (FUSE_I_INIT_RDPLUS).
 */
export const fuse_lookup = kfunc<LookupA, LookupL>('fuse_lookup', 'fs/fuse/dir.c', {
  start(c, l) {
    const sb = c.w.sbs[l.sb] as FuseSb;
    const hit = sb.inodes[l.name];
    l.reval = false;
    if (hit !== undefined) {
      const fi = c.deref(hit, 'fuse_inode');
      const forced = ((l.flags ?? 0) & (LOOKUP_EXCL | LOOKUP_RENAME_TARGET)) !== 0;
      if (l.name === '' || (c.w.jiffies < fi.entryExpires && !forced)) {
        if (fi.initRdplus) {
          setField(c, fi, 'initRdplus', false);
          fuse_advise_use_readdirplus(c, sb);
        }
        return ret(hit);
      }
      l.reval = true;
    } else if (sb.negative?.[l.name] !== undefined) {
      // a negative dentry: fuse_dentry_revalidate trusts it until its entry time runs out
      // (ENOENT with no request); once expired, or for LOOKUP_EXCL/RENAME_TARGET, it is invalid
      // ("for negative dentries, always do a fresh lookup"): d_invalidate, then lookup_slow
      const forced = ((l.flags ?? 0) & (LOOKUP_EXCL | LOOKUP_RENAME_TARGET)) !== 0;
      if (c.w.jiffies < sb.negative[l.name]! && !forced) return ret(neg('ENOENT'));
      d_drop_negative(sb, l.name);
    }
    if (!l.reval) {
      // lookup_slow: inode_lock_shared(dir), so not while another task changes the directory
      // (a namespace change or an O_CREAT open holds it for writing; its own lookups go on)
      if (dir_lock_holders(c.w, sb, c.t.name, false).length) return block({ on: 'i_rwsem', sb: l.sb, write: false, task: c.t.name }, 'start');
      // then d_alloc_parallel: a lookup of this name already in progress is waited
      // for (d_wait_lookup), then the dcache is looked at again; else this task's is the one
      if (d_alloc_parallel(c, sb, l.name) === 'wait') return block({ on: 'in_lookup', sb: l.sb, name: l.name }, 'start');
      l.inLookup = true;
    }
    const fc = c.deref(sb.conn, 'fuse_conn');
    l.fc = fc.ptr;
    if (!fc.initialized) return block({ on: 'initialized', conn: fc.ptr }, 'start');
    const next = fuse_request_wait(c, l, fc, FUSE_OPCODE.LOOKUP, FUSE_ROOT_ID, cstring(l.name), 'reply');
    // the request never went out (the connection is gone): lookup_slow's error path,
    // d_lookup_done and dput of the in-lookup dentry
    if (l.unique < 0) lookup_done(sb, l);
    return next;
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    const sb = c.w.sbs[l.sb] as FuseSb;
    const cached = sb.inodes[l.name];
    // d_lookup_done (with d_splice_alias, or the dput of a failed lookup's dentry): whatever
    // the answer, the name is no longer being looked up, and its waiters look again
    lookup_done(sb, l);
    if (a.error) {
      if (l.reval && cached !== undefined) {
        // fuse_dentry_revalidate: invalid; d_invalidate, then lookup_slow asks again
        d_invalidate(c, cached);
        return goto('start');
      }
      return ret(a.error);
    }
    const r = decodeReplyArg(FUSE_OPCODE.LOOKUP, a.body);
    if (r.op !== 'LOOKUP') throw new Error('decodeReplyArg(LOOKUP) (model bug)');
    const e = r.arg;
    if (e.nodeid === 0) {
      // fuse_lookup_name: a zero nodeid is ENOENT with a valid timeout
      if (l.reval && cached !== undefined) {
        // fuse_dentry_revalidate takes it as -ENOENT: invalid; lookup_slow asks again
        d_invalidate(c, cached);
        return goto('start');
      }
      // fuse_lookup: d_splice_alias(NULL) and fuse_change_entry_timeout: a negative dentry
      // valid for entry_valid
      sb.negative = { ...sb.negative, [l.name]: fuse_time_to_jiffies(c, e.entry_valid, e.entry_valid_nsec) };
      return ret(neg('ENOENT'));
    }
    if (l.reval && cached !== undefined && c.deref(cached, 'fuse_inode').nodeid !== e.nodeid) {
      d_invalidate(c, cached); // another inode now has the name
    }
    const fi = fuse_iget(
      c,
      l.sb,
      l.name,
      e.nodeid,
      e.attr,
      fuse_time_to_jiffies(c, e.attr_valid, e.attr_valid_nsec),
      fuse_time_to_jiffies(c, e.entry_valid, e.entry_valid_nsec),
    );
    if (!l.reval) fuse_advise_use_readdirplus(c, sb);
    // an exclusive create finding the name ends its walk here (EEXIST): the dentry is unused
    if ((l.flags ?? 0) & LOOKUP_EXCL) dentry_unused(c, fi);
    return ret(fi.ptr);
  },
});

/** lookup_slow's d_lookup_done of this lookup's in-lookup dentry, if it holds one. */
function lookup_done(sb: FuseSb, l: LookupL) {
  if (!l.inLookup) return;
  d_lookup_done(sb, l.name);
  l.inLookup = false;
}

/**
 * fuse_advise_use_readdirplus: FUSE_I_ADVISE_RDPLUS on the directory (the model's: the root).
 * Only fuse_use_readdirplus with readdirplus_auto reads the bit, so the model keeps it only on
 * such a connection (worlds that differ in nothing else stay one state for the explorer).
 */
function fuse_advise_use_readdirplus(c: Ctx, sb: FuseSb) {
  const root = sb.inodes[''];
  if (root === undefined || !c.deref(sb.conn, 'fuse_conn').readdirplusAuto) return;
  setField(c, c.deref(root, 'fuse_inode'), 'adviseRdplus', true);
}

/** A negative dentry goes (d_invalidate; or it turns positive, d_instantiate): the name is asked for again. */
export function d_drop_negative(sb: FuseSb, name: string) {
  if (sb.negative?.[name] === undefined) return;
  const { [name]: _gone, ...rest } = sb.negative;
  if (Object.keys(rest).length) sb.negative = rest;
  else delete sb.negative;
}

/**
 * d_invalidate of a stale dentry: the name no longer leads to the cached inode. The inode
 * itself stays while something holds it; an unused one is evicted (its FORGET goes out).
 */
export function d_invalidate(c: Ctx, inode: Ptr) {
  const fi = c.deref(inode, 'fuse_inode');
  const sb = c.w.sbs[fi.sb] as FuseSb;
  if (sb.inodes[fi.name] === inode) delete sb.inodes[fi.name];
  if (fi.icount <= 1) fuse_evict_inode(c, fi, true);
  else {
    setField(c, fi, 'icount', fi.icount - 1);
    sb.orphans = [...(sb.orphans ?? []), inode];
  }
}

interface GetLinkL {
  sb: number;
  name: string;
  inode: Ptr;
  unique: number;
  fc: Ptr;
}

/**
 * fuse_get_link: a symbolic link's target, from the server (READLINK, fuse_readlink_page: at
 * most PAGE_SIZE - 1 bytes into a page, then fuse_invalidate_atime). With FUSE_CACHE_SYMLINKS
 * the target goes into the link's page cache (page_get_link, fuse_symlink_read_folio) and
 * later walks read it there; without, every walk asks again. Returns the target's length or
 * -errno and leaves the target in c.data for the caller (i_get_link in vfs/fs.ts).
 */
export const fuse_get_link = kfunc<{ sb: number; name: string; inode: Ptr }, GetLinkL>('fuse_get_link', 'fs/fuse/dir.c', {
  start(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = c.deref((c.w.sbs[l.sb] as FuseSb).conn, 'fuse_conn');
    l.fc = fc.ptr;
    const cached = fc.cacheSymlinks ? fi.pages[0] : undefined;
    if (cached !== undefined) {
      c.data = cached;
      return ret(cached.length);
    }
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.READLINK, fi.nodeid, null, 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    const fi = c.deref(l.inode, 'fuse_inode');
    setField(c, fi, 'atimeValid', false); // fuse_invalidate_atime
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.READLINK, a.body);
    if (r.op !== 'READLINK') throw new Error('decodeReplyArg(READLINK) (model bug)');
    if (fc.cacheSymlinks) setField(c, fi, 'pages', { ...fi.pages, 0: r.target });
    c.data = r.target;
    return ret(r.target.length);
  },
});

interface GetattrA {
  sb: number;
  name: string;
  inode: Ptr;
  /** AT_STATX_DONT_SYNC */
  cached: boolean;
  /** the open file a read asks for (fuse_update_attributes): GETATTR carries its fh */
  file?: Ptr;
}

interface GetattrL extends GetattrA {
  unique: number;
  fc: Ptr;
}

/**
 * fuse_getattr -> fuse_update_get_attr for stat(2): cached attributes while valid (or when
 * asked not to sync), else GETATTR. stat asks for STATX_BASIC_STATS, atime included, so an
 * atime invalidated by a read (fuse_invalidate_atime: after a passthrough, direct or
 * page-cache read) also sends GETATTR. Returns st_size.
 */
export const fuse_getattr = kfunc<GetattrA, GetattrL>('fuse_getattr', 'fs/fuse/dir.c', {
  start(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    if (l.cached || (fi.attrValid && fi.atimeValid && c.w.jiffies < fi.attrExpires)) return ret(fi.size);
    const sb = c.w.sbs[fi.sb] as FuseSb;
    const fc = c.deref(sb.conn, 'fuse_conn');
    l.fc = fc.ptr;
    // fuse_do_getattr: a regular file's open file lends its fh (FUSE_GETATTR_FH)
    const ff = l.file ? c.deref(c.deref(l.file, 'file').private_data, 'fuse_file') : null;
    const body = encode(FUSE_GETATTR_IN, ff && fi.mode === 'reg' ? { getattr_flags: FUSE_GETATTR_FH, dummy: 0, fh: ff.fh } : { getattr_flags: 0, dummy: 0, fh: 0 });
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.GETATTR, fi.nodeid, body, 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.GETATTR, a.body);
    if (r.op !== 'GETATTR') throw new Error('decodeReplyArg(GETATTR) (model bug)');
    const fi = c.deref(l.inode, 'fuse_inode');
    fuse_change_attributes(c, fi, r.arg.attr, fuse_time_to_jiffies(c, r.arg.attr_valid, r.arg.attr_valid_nsec));
    return ret(fi.size);
  },
});

interface StatfsL {
  sb: number;
  name: string;
  inode: Ptr;
  unique: number;
  fc: Ptr;
}

/**
 * fuse_statfs (fs/fuse/inode.c): STATFS for the inode the path names (not the root), every
 * time (nothing is cached); the server's error goes to the caller. Like every request it
 * first waits for INIT (fuse_get_req). Returns f_namelen; c.data gets the fields.
 */
export const fuse_statfs = kfunc<{ sb: number; name: string; inode: Ptr }, StatfsL>('fuse_statfs', 'fs/fuse/inode.c', {
  start(c, l) {
    const sb = c.w.sbs[l.sb] as FuseSb;
    const fc = c.deref(sb.conn, 'fuse_conn');
    if (!fc.initialized && fc.connected) return block({ on: 'initialized', conn: fc.ptr }, 'start');
    l.fc = fc.ptr;
    const p = l.inode || sb.inodes[l.name];
    const nodeid = p ? c.deref(p, 'fuse_inode').nodeid : FUSE_ROOT_ID;
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.STATFS, nodeid, null, 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.STATFS, a.body);
    if (r.op !== 'STATFS') throw new Error('decodeReplyArg(STATFS) (model bug)');
    const st = r.arg.st;
    c.data = `bsize=${st.bsize} blocks=${st.blocks} bfree=${st.bfree} bavail=${st.bavail} files=${st.files} ffree=${st.ffree} namelen=${st.namelen} frsize=${st.frsize}`;
    return ret(st.namelen);
  },
});

interface SetattrL extends IattrA {
  unique: number;
  fc: Ptr;
  /** the size before the reply (oldsize), to see whether the page cache must follow */
  oldsize: number;
  /** the size the reply carried */
  newsize: number;
}

/**
 * fuse_setattr -> fuse_do_setattr: SETATTR with iattr_to_fattr's valid bits; FATTR_FH only
 * when the change comes through an open file (ftruncate: ATTR_FILE; not an O_TRUNC open),
 * FATTR_LOCKOWNER with every size change. An O_TRUNC open on a connection with
 * ATOMIC_O_TRUNC sends nothing: OPEN already truncated. The kernel then believes the reply's
 * attributes (its size truncates the page cache), never what it asked for, and applies
 * nothing to a passthrough file's backing file. Errors, ENOSYS included, go to the caller.
 *
 * With the writeback cache (a regular file: trust_local_cmtime) a change that is not a
 * truncation first writes back the dirty pages and the kernel's times (write_inode_now); a
 * truncation that changes the size sends the kernel's own mtime and ctime (MTIME|CTIME, never
 * MTIME_NOW). Only a truncation takes the reply's size then, and its page cache is cut to it,
 * the dirty page left at the end laundered (WRITE) and everything dropped
 * (truncate_pagecache, invalidate_inode_pages2).
 */
export const fuse_setattr = kfunc<IattrA, SetattrL>('fuse_setattr', 'fs/fuse/dir.c', {
  start(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = c.deref((c.w.sbs[fi.sb] as FuseSb).conn, 'fuse_conn');
    if (l.valid & ATTR_OPEN && fc.atomicOTrunc) {
      setField(c, fi, 'size', 0);
      truncatePages(fi.pages, 0);
      setField(c, fi, 'dirty', []);
      return ret(0);
    }
    // flush dirty data and metadata before a SETATTR that is not a truncation
    if (fuse_get_cache_mask(c, fi) && l.valid & (ATTR_MODE | ATTR_UID | ATTR_GID | ATTR_MTIME_SET | ATTR_TIMES_SET)) {
      return call(fuse_write_inode_now, { inode: fi.ptr }, 'send', null);
    }
    return goto('send');
  },
  send(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = c.deref((c.w.sbs[fi.sb] as FuseSb).conn, 'fuse_conn');
    const trustLocal = fuse_get_cache_mask(c, fi);
    const file = l.valid & ATTR_FILE && !(l.valid & ATTR_OPEN) ? l.file : 0;
    let ivalid = l.valid;
    if (ivalid & ATTR_SIZE && trustLocal && l.size !== fi.size) ivalid |= ATTR_MTIME | ATTR_CTIME;
    let valid = 0;
    if (ivalid & ATTR_MODE) valid |= FATTR.MODE;
    if (ivalid & ATTR_SIZE) valid |= FATTR.SIZE;
    if (ivalid & ATTR_ATIME) valid |= FATTR.ATIME | (ivalid & ATTR_ATIME_SET ? 0 : FATTR.ATIME_NOW);
    if (trustLocal) {
      if (ivalid & ATTR_MTIME) valid |= FATTR.MTIME;
      if (ivalid & ATTR_CTIME) valid |= FATTR.CTIME;
    } else if (ivalid & ATTR_MTIME && (ivalid & ATTR_MTIME_SET || !(ivalid & ATTR_SIZE))) valid |= FATTR.MTIME | (ivalid & ATTR_MTIME_SET ? 0 : FATTR.MTIME_NOW);
    const ff = file ? c.deref(c.deref(file, 'file').private_data, 'fuse_file') : null;
    if (ff) valid |= FATTR.FH;
    if (ivalid & ATTR_SIZE) valid |= FATTR.LOCKOWNER;
    l.fc = fc.ptr;
    // (the kernel's times carry nanoseconds; the model's clock has none, so any non-zero will do)
    const now = c.w.jiffies || 1;
    const body = encode(FUSE_SETATTR_IN, {
      ...zeroValue(FUSE_SETATTR_IN),
      valid,
      fh: ff ? ff.fh : 0,
      size: ivalid & ATTR_SIZE ? l.size : 0,
      lock_owner: ivalid & ATTR_SIZE ? fuse_lock_owner_id(c) : 0,
      atime: ivalid & ATTR_ATIME ? l.atime : 0,
      mtime: valid & FATTR.MTIME ? (trustLocal && !(ivalid & ATTR_MTIME_SET) ? now : l.mtime) : 0,
      mtimensec: valid & FATTR.MTIME && trustLocal && !(ivalid & ATTR_MTIME_SET) ? 1 : 0,
      ctime: valid & FATTR.CTIME ? now : 0,
      ctimensec: valid & FATTR.CTIME ? 1 : 0,
      mode: ivalid & ATTR_MODE ? l.mode : 0,
    });
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.SETATTR, fi.nodeid, body, 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.SETATTR, a.body);
    if (r.op !== 'SETATTR') throw new Error('decodeReplyArg(SETATTR) (model bug)');
    const fi = c.deref(l.inode, 'fuse_inode');
    const wb = fuse_get_cache_mask(c, fi);
    const truncate = (l.valid & ATTR_SIZE) !== 0;
    fuse_change_attributes_common(c, fi, r.arg.attr, fuse_time_to_jiffies(c, r.arg.attr_valid, r.arg.attr_valid_nsec), wb);
    l.oldsize = fi.size;
    l.newsize = r.arg.attr.size;
    if (!wb || truncate) setField(c, fi, 'size', l.newsize);
    if (!((truncate || !wb) && fi.mode === 'reg' && l.oldsize !== l.newsize)) return ret(0);
    // truncate_pagecache, then invalidate_inode_pages2 (whose fuse_launder_folio writes a
    // dirty page back first)
    truncatePages(fi.pages, l.newsize);
    setField(c, fi, 'dirty', fi.dirty.filter((i) => i * PAGE_SIZE < l.newsize));
    if (fi.dirty.length) return call(fuse_writepages, { file: 0, inode: fi.ptr }, 'invalidate', null);
    return goto('invalidate');
  },
  invalidate(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    invalidatePages(fi.pages);
    return ret(0);
  },
});

// ---------------------------------------------------------------------------
// Namespace operations: CREATE (atomic_open), MKNOD, MKDIR, UNLINK, RMDIR, RENAME(2).

/** S_IFMT and the types of a mode */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** invalid_nodeid: 0, or the root's (a reply may not name the root as a new entry) */
function invalid_nodeid(nodeid: number): boolean {
  return nodeid === 0 || nodeid === FUSE_ROOT_ID;
}

/**
 * fuse_dir_changed: the directory's attributes (size, times) are stale after an entry came or
 * went (the model's directories are all the root).
 */
function fuse_dir_changed(c: Ctx, sb: FuseSb) {
  const root = sb.inodes[''];
  if (root === undefined) return;
  const fi = c.deref(root, 'fuse_inode');
  setField(c, fi, 'attrValid', false);
  // inode_maybe_inc_iversion: only a queried i_version moves (the readdir cache queried it)
  if (fi.rdc) setField(c, fi, 'iversion', (fi.iversion ?? 0) + 1);
}

/**
 * fuse_entry_unlinked: the inode lost a name: its attributes (nlink, ctime) are stale. The
 * dentry then goes (the VFS's d_delete, here as d_invalidate: an inode something still holds,
 * an open file or the syscall's own path walk, waits as an orphan for its last iput, whose
 * eviction sends the FORGET).
 */
function fuse_entry_unlinked(c: Ctx, inode: Ptr) {
  setField(c, c.deref(inode, 'fuse_inode'), 'attrValid', false);
  d_invalidate(c, inode);
}

interface EntryL {
  sb: number;
  name: string;
  unique: number;
  fc: Ptr;
  /** S_IFMT the new entry must have */
  type: number;
  /** the MKNOD of an O_CREAT whose CREATE the server lacks: the VFS opens the new inode next */
  opening?: boolean;
}

/**
 * create_new_entry (MKNOD, MKDIR): the server's entry becomes a dentry and an inode (fuse_iget:
 * one lookup the kernel will FORGET). A reply naming the root or no inode, or of another file
 * type than asked, is EIO, and its forget is freed unsent: the server's lookup count stays.
 */
function create_new_entry(c: Ctx, l: EntryL): number {
  const fc = c.deref(l.fc, 'fuse_conn');
  const a = fuse_take_answer(c, fc, l.unique);
  if (a.error) return a.error;
  const r = decodeReplyArg(FUSE_OPCODE.LOOKUP, a.body);
  if (r.op !== 'LOOKUP') throw new Error('decodeReplyArg(entry) (model bug)');
  const e = r.arg;
  if (invalid_nodeid(e.nodeid)) return neg('EIO');
  if ((e.attr.mode ^ l.type) & S_IFMT) {
    if (c.record) c.emit('note', `create_new_entry: the reply's type ${(e.attr.mode & S_IFMT).toString(8)} is not the one asked (${l.type.toString(8)}): EIO, no FORGET for n${e.nodeid}`);
    return neg('EIO');
  }
  const sb = c.w.sbs[l.sb] as FuseSb;
  const fi = fuse_iget(c, l.sb, l.name, e.nodeid, e.attr, fuse_time_to_jiffies(c, e.attr_valid, e.attr_valid_nsec), fuse_time_to_jiffies(c, e.entry_valid, e.entry_valid_nsec));
  fuse_dir_changed(c, sb);
  // mknod(2), mkdir(2): done_path_create's dput leaves the new dentry unused (an O_CREAT's
  // MKNOD is opened next, and stays in use)
  if (!l.opening) dentry_unused(c, fi);
  return 0;
}

function connOfSb(c: Ctx, sbId: number) {
  return c.deref((c.w.sbs[sbId] as FuseSb).conn, 'fuse_conn');
}

/**
 * fuse_mknod: MKNOD in the parent (the root) with the mode (its type included) less the
 * caller's umask (no FUSE_DONT_MASK from the model's servers), rdev and the umask itself.
 */
export const fuse_mknod = kfunc<{ sb: number; name: string; mode: number; rdev: number; opening?: boolean }, EntryL & { mode: number; rdev: number }>('fuse_mknod', 'fs/fuse/dir.c', {
  start(c, l) {
    const fc = connOfSb(c, l.sb);
    l.fc = fc.ptr;
    l.type = l.mode & S_IFMT;
    const body = encodeNamedRequest(FUSE_MKNOD_IN, { mode: l.mode & ~CURRENT_UMASK, rdev: l.rdev, umask: CURRENT_UMASK, padding: 0 }, l.name);
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.MKNOD, FUSE_ROOT_ID, body, 'reply');
  },
  reply(c, l) {
    return ret(create_new_entry(c, l));
  },
});

/** fuse_mkdir: MKDIR with the permission bits (no S_IFDIR) less the umask, and the umask. */
export const fuse_mkdir = kfunc<{ sb: number; name: string; mode: number }, EntryL & { mode: number }>('fuse_mkdir', 'fs/fuse/dir.c', {
  start(c, l) {
    const fc = connOfSb(c, l.sb);
    l.fc = fc.ptr;
    l.type = S_IFDIR;
    const body = encodeNamedRequest(FUSE_MKDIR_IN, { mode: l.mode & ~CURRENT_UMASK, umask: CURRENT_UMASK }, l.name);
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.MKDIR, FUSE_ROOT_ID, body, 'reply');
  },
  reply(c, l) {
    return ret(create_new_entry(c, l));
  },
});

/**
 * fuse_symlink: SYMLINK with the new name and the target (both NUL-terminated), then
 * create_new_entry as for mknod: the reply's entry must be a symbolic link (else EIO).
 */
export const fuse_symlink = kfunc<{ sb: number; name: string; target: string }, EntryL & { target: string }>('fuse_symlink', 'fs/fuse/dir.c', {
  start(c, l) {
    const fc = connOfSb(c, l.sb);
    l.fc = fc.ptr;
    l.type = S_IFLNK;
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.SYMLINK, FUSE_ROOT_ID, encodeSymlinkBody(l.name, l.target), 'reply');
  },
  reply(c, l) {
    return ret(create_new_entry(c, l));
  },
});

/**
 * fuse_unlink / fuse_rmdir: UNLINK or RMDIR (parent nodeid, name), nothing else; on success
 * the inode's name goes (fuse_entry_unlinked; rmdir clears nlink) and the directory changed.
 * An inode nobody holds is evicted at once (FORGET); an open file's inode lives on, and its
 * passthrough io with it, until the last close.
 */
export const fuse_unlink = kfunc<{ sb: number; name: string; dir: boolean }, { sb: number; name: string; dir: boolean; unique: number; fc: Ptr }>('fuse_unlink', 'fs/fuse/dir.c', {
  start(c, l) {
    const fc = connOfSb(c, l.sb);
    l.fc = fc.ptr;
    return fuse_request_wait(c, l, fc, l.dir ? FUSE_OPCODE.RMDIR : FUSE_OPCODE.UNLINK, FUSE_ROOT_ID, encodeNameBody(l.name), 'reply');
  },
  reply(c, l) {
    const a = fuse_take_answer(c, c.deref(l.fc, 'fuse_conn'), l.unique);
    if (a.error) return ret(a.error);
    const sb = c.w.sbs[l.sb] as FuseSb;
    const inode = sb.inodes[l.name];
    if (inode !== undefined) fuse_entry_unlinked(c, inode);
    fuse_dir_changed(c, sb);
    return ret(0);
  },
});

interface RenameL {
  sb: number;
  old: string;
  new: string;
  flags: number;
  unique: number;
  fc: Ptr;
}

/**
 * fuse_rename2: flags 0 is RENAME (fuse_rename_in: newdir), any other RENAME2 (with the flags),
 * unless an earlier RENAME2 was answered ENOSYS (fc->no_rename2): then EINVAL without asking;
 * that ENOSYS itself is EINVAL too. On success (fuse_rename_common) a replaced target loses its
 * name (fuse_entry_unlinked: evicted when the syscall lets go of it, FORGET), and the VFS moves
 * the dentry (d_move; RENAME_EXCHANGE swaps them: d_exchange): files open on it follow.
 */
export const fuse_rename2 = kfunc<{ sb: number; old: string; new: string; flags: number }, RenameL>('fuse_rename2', 'fs/fuse/dir.c', {
  start(c, l) {
    const fc = connOfSb(c, l.sb);
    l.fc = fc.ptr;
    if (l.flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) return ret(neg('EINVAL'));
    if (l.flags === 0) return fuse_request_wait(c, l, fc, FUSE_OPCODE.RENAME, FUSE_ROOT_ID, encodeRenameBody(FUSE_ROOT_ID, l.old, l.new), 'reply');
    if (fc.noRename2 || fc.minor < 23) return ret(neg('EINVAL'));
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.RENAME2, FUSE_ROOT_ID, encodeRename2Body(FUSE_ROOT_ID, l.flags, l.old, l.new), 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS') && l.flags) {
      setField(c, fc, 'noRename2', true);
      return ret(neg('EINVAL'));
    }
    if (a.error) return ret(a.error);
    const sb = c.w.sbs[l.sb] as FuseSb;
    const src = sb.inodes[l.old];
    const dst = sb.inodes[l.new];
    // fuse_update_ctime: the moved inode's ctime changed (its attributes are stale)
    if (src !== undefined) setField(c, c.deref(src, 'fuse_inode'), 'attrValid', false);
    if (l.flags & RENAME_EXCHANGE) {
      if (dst !== undefined) setField(c, c.deref(dst, 'fuse_inode'), 'attrValid', false);
      if (src !== undefined) d_rename(c, sb, src, l.new);
      if (dst !== undefined) d_rename(c, sb, dst, l.old);
    } else {
      if (dst !== undefined && dst !== src) fuse_entry_unlinked(c, dst);
      if (src !== undefined) d_rename(c, sb, src, l.new);
    }
    fuse_dir_changed(c, sb);
    return ret(0);
  },
});

/** d_move of the model's dcache: the inode's dentry takes the new name; its open files follow. */
function d_rename(c: Ctx, sb: FuseSb, inode: Ptr, to: string) {
  const fi = c.deref(inode, 'fuse_inode');
  if (sb.inodes[fi.name] === inode) delete sb.inodes[fi.name];
  const from = fi.name;
  setField(c, fi, 'name', to);
  sb.inodes[to] = inode;
  d_drop_negative(sb, to);
  for (const o of Object.values(c.w.heap)) {
    if (o.type !== 'file' || o.sb !== fi.sb || o.name !== from || !o.private_data) continue;
    const ff = c.w.heap[o.private_data];
    if (ff?.type === 'fuse_file' && ff.inode === inode) o.name = to;
  }
}

interface AtomicOpenA {
  sb: number;
  name: string;
  file: Ptr;
  flags: number;
  /** S_IFREG | the permission bits, the umask already taken off (vfs_prepare_mode) */
  mode: number;
}

interface AtomicOpenL extends AtomicOpenA {
  inode: number;
  unique: number;
  fc: Ptr;
  err: number;
}

/**
 * fuse_atomic_open for open(O_CREAT). The VFS's lookup_open first: a cached valid positive
 * dentry is opened as usual (OPEN without CREAT; finish_no_open), unless O_EXCL forces its
 * revalidation (LOOKUP). Else fuse_lookup (LOOKUP; ENOENT is a negative dentry): a positive
 * answer is finish_no_open too (O_EXCL then fails EEXIST in do_open). A negative one is created:
 * fuse_create_open (CREATE with the open flags less O_NOCTTY, the mode and umask), whose reply
 * carries the entry and the open: the inode comes from the entry (fuse_iget), the fuse_file
 * from the open part, and finish_open runs fuse_finish_open exactly as an OPEN reply would
 * (fuse_file_io_open: FOPEN_PASSTHROUGH with its backing id works on the new file). CREATE
 * answered ENOSYS sets fc->no_create: this and every later create is MKNOD, then the VFS opens
 * the new inode (OPEN). Returns 1 (created and opened), 2 (created, not opened), 0 (exists) or -errno.
 */
export const fuse_atomic_open = kfunc<AtomicOpenA, AtomicOpenL>('fuse_atomic_open', 'fs/fuse/dir.c', {
  start(c, l) {
    const flags = LOOKUP_OPEN | LOOKUP_CREATE | (l.flags & O_EXCL ? LOOKUP_EXCL : 0);
    return call(fuse_lookup, { sb: l.sb, name: l.name, flags }, 'looked', 'inode');
  },
  looked(c, l) {
    if (l.inode >= 0) return ret(0);
    if (l.inode !== neg('ENOENT')) return ret(l.inode);
    const fc = connOfSb(c, l.sb);
    l.fc = fc.ptr;
    if (fc.noCreate) return goto('mknod');
    const body = encodeNamedRequest(FUSE_CREATE_IN, { flags: l.flags & ~O_NOCTTY, mode: l.mode & ~CURRENT_UMASK, umask: CURRENT_UMASK, open_flags: 0 }, l.name);
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.CREATE, FUSE_ROOT_ID, body, 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      setField(c, fc, 'noCreate', true);
      return goto('mknod');
    }
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.CREATE, a.body);
    if (r.op !== 'CREATE') throw new Error('decodeReplyArg(CREATE) (model bug)');
    const e = r.entry;
    // fuse_create_open: not a regular file, or no valid nodeid: EIO (the fuse_file is freed
    // without a RELEASE, the forget without a FORGET)
    if ((e.attr.mode & S_IFMT) !== S_IFREG || invalid_nodeid(e.nodeid)) return ret(neg('EIO'));
    const sb = c.w.sbs[l.sb] as FuseSb;
    const fi = fuse_iget(c, l.sb, l.name, e.nodeid, e.attr, fuse_time_to_jiffies(c, e.attr_valid, e.attr_valid_nsec), fuse_time_to_jiffies(c, e.entry_valid, e.entry_valid_nsec));
    fuse_dir_changed(c, sb);
    const ff = c.alloc<FuseFileObj>({
      type: 'fuse_file',
      fh: r.open.fh,
      nodeid: e.nodeid,
      inode: fi.ptr,
      openFlags: r.open.open_flags,
      iomode: 'IOM_NONE',
      passthrough: 0,
      cred: 0,
      hasArgs: true,
      count: 1,
    });
    return call(fuse_open, { file: l.file, ff: ff.ptr, backingId: r.open.backing_id }, 'opened', 'err');
  },
  opened(_c, l) {
    return ret(l.err < 0 ? l.err : 1);
  },
  mknod(_c, l) {
    return call(fuse_mknod, { sb: l.sb, name: l.name, mode: l.mode, rdev: 0, opening: true }, 'made', 'err');
  },
  made(_c, l) {
    return ret(l.err < 0 ? l.err : 2);
  },
});

// ---------------------------------------------------------------------------
// Directories: OPENDIR and RELEASEDIR (fuse_dir_operations; READDIR lives in readdir.ts).

interface DirOpenL {
  file: Ptr;
  inode: Ptr;
  ff: Ptr;
  unique: number;
  fc: Ptr;
}

/**
 * fuse_dir_open -> fuse_do_open(isdir): OPENDIR with the file's flags (less CREAT, EXCL,
 * NOCTTY), the reply's fh kept, FOPEN_DIRECT_IO dropped. It never calls fuse_file_io_open:
 * an OPENDIR reply's FOPEN_PASSTHROUGH and backing id are ignored (6.18 observed: opendir
 * succeeds, READDIR goes to the server, no backing file is attached to anything). An error
 * reply fails the open; ENOSYS sets fc->no_opendir: this and every later directory open goes
 * without a request (dir_open_noargs).
 */
export const fuse_dir_open = kfunc<{ file: Ptr }, DirOpenL>('fuse_dir_open', 'fs/fuse/dir.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const sb = c.w.sbs[f.sb] as FuseSb;
    l.inode = sb.inodes[f.name] ?? 0;
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = connOfSb(c, fi.sb);
    l.fc = fc.ptr;
    if (!fc.initialized) return block({ on: 'initialized', conn: fc.ptr }, 'start');
    if (fc.noOpendir) return ret(dir_open_noargs(c, l));
    const body = encode(FUSE_OPEN_IN, { flags: f.flags & ~(O_CREAT | O_EXCL | O_NOCTTY), open_flags: 0 });
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.OPENDIR, fi.nodeid, body, 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      setField(c, fc, 'noOpendir', true);
      return ret(dir_open_noargs(c, l));
    }
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.OPENDIR, a.body);
    if (r.op !== 'OPENDIR') throw new Error('decodeReplyArg(OPENDIR) (model bug)');
    const fi = c.deref(l.inode, 'fuse_inode');
    if (r.arg.open_flags & FOPEN.PASSTHROUGH || r.arg.backing_id) {
      if (c.record) c.emit('note', `fuse_dir_open: OPENDIR's open_flags 0x${r.arg.open_flags.toString(16)} backing_id ${r.arg.backing_id}: a directory never goes through fuse_file_io_open, so both are ignored`);
    }
    const ff = c.alloc<FuseFileObj>({
      type: 'fuse_file',
      fh: r.arg.fh,
      nodeid: fi.nodeid,
      inode: l.inode,
      openFlags: r.arg.open_flags & ~FOPEN.DIRECT_IO,
      iomode: 'IOM_NONE',
      passthrough: 0,
      cred: 0,
      hasArgs: true,
      count: 1,
      isdir: true,
    });
    // an open without FOPEN_KEEP_CACHE drops the directory's page cache, and the readdir
    // cache in it (invalidate_inode_pages2)
    if (!(r.arg.open_flags & FOPEN.KEEP_CACHE) && fi.rdc) fuse_rdc_reset(c, fi);
    const f = c.deref(l.file, 'file');
    f.private_data = ff.ptr;
    f.pos = 0;
    setField(c, fi, 'icount', fi.icount + 1);
    return ret(0);
  },
});

/**
 * fuse_do_open for a directory of a server without OPENDIR (fc->no_opendir): no request, fh 0,
 * FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR (the listing is cached in the directory's page cache),
 * and no RELEASEDIR later (ff->args is NULL).
 */
function dir_open_noargs(c: Ctx, l: DirOpenL): number {
  const fi = c.deref(l.inode, 'fuse_inode');
  const ff = c.alloc<FuseFileObj>({
    type: 'fuse_file',
    fh: 0,
    nodeid: fi.nodeid,
    inode: l.inode,
    openFlags: FOPEN.KEEP_CACHE | FOPEN.CACHE_DIR,
    iomode: 'IOM_NONE',
    passthrough: 0,
    cred: 0,
    hasArgs: false,
    count: 1,
    isdir: true,
  });
  const f = c.deref(l.file, 'file');
  f.private_data = ff.ptr;
  f.pos = 0;
  setField(c, fi, 'icount', fi.icount + 1);
  return 0;
}

/** fuse_rdc_reset: the readdir cache starts over (a new version, nothing in it) */
export function fuse_rdc_reset(c: Ctx, fi: FuseInodeObj) {
  const old = fi.rdc;
  setField(c, fi, 'rdc', { cached: false, entries: [], pos: 0, version: (old?.version ?? 0) + 1, iversion: old?.iversion ?? 0, mtime: old?.mtime ?? 0 });
}

/**
 * fuse_dir_release -> fuse_release_common(isdir): RELEASEDIR (fh, the file's flags),
 * asynchronous; then the file's hold on the inode goes.
 */
export function fuse_dir_release(c: Ctx, f: FileObj) {
  const ff = c.deref(f.private_data, 'fuse_file');
  const fi = c.deref(ff.inode, 'fuse_inode');
  const fc = connOfSb(c, fi.sb);
  if (ff.hasArgs) fuse_queue_request(c, fc, FUSE_OPCODE.RELEASEDIR, fi.nodeid, releaseBody(c, ff, f), false);
  c.kfree(ff.ptr);
  fuse_iput(c, fi);
}
