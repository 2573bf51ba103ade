// fs/fuse/dir.c: looking names up (LOOKUP and fuse_iget), and attributes (GETATTR,
// SETATTR). (fuse_statfs, from fs/fuse/inode.c, is here with them: the VFS asks all of them
// of the filesystem type.)
import { block, call, goto, kfunc, ret } from '../exec.ts';
import type { Ctx } from '../ctx.ts';
import type { FuseSb, Ptr } from '../state.ts';
import { setField } from '../lib/once.ts';
import { decodeReplyArg, cstring } from '../../wire/messages.ts';
import { encode, FUSE_GETATTR_IN, FUSE_SETATTR_IN, zeroValue } from '../../wire/structs.ts';
import { FATTR, FUSE_GETATTR_FH, FUSE_OPCODE, FUSE_ROOT_ID } from '../../wire/uapi.ts';
import { ATTR_ATIME, ATTR_ATIME_SET, ATTR_CTIME, ATTR_FILE, ATTR_GID, ATTR_MODE, ATTR_MTIME, ATTR_MTIME_SET, ATTR_OPEN, ATTR_SIZE, ATTR_TIMES_SET, ATTR_UID, type IattrA } from '../vfs/fs.ts';
import { invalidatePages, PAGE_SIZE, truncatePages } from '../mm/filemap.ts';
import { fuse_lock_owner_id, fuse_write_inode_now, fuse_writepages } from './file.ts';
import { fuse_request_wait, fuse_take_answer } from './dev.ts';
import { fuse_change_attributes, fuse_change_attributes_common, fuse_evict_inode, fuse_get_cache_mask, fuse_iget, fuse_time_to_jiffies } from './inode.ts';

interface LookupA {
  sb: number;
  name: string;
}

interface LookupL extends LookupA {
  unique: number;
  fc: Ptr;
  /** the dentry was cached but its entry_valid ran out: this LOOKUP revalidates it */
  reval: boolean;
}

/**
 * fuse_lookup, and fuse_dentry_revalidate for a cached name: a dcache hit while the entry is
 * valid (entry_valid of the reply that made it), else LOOKUP to the server. A reply naming the
 * inode already cached keeps it (one more nlookup, fresh attributes); one naming another
 * nodeid, or an error, drops the old dentry and looks the name up afresh (lookup_slow).
 * Returns the inode. The root is always there (the superblock holds it).
 */
export const fuse_lookup = kfunc<LookupA, LookupL>('fuse_lookup', 'fs/fuse/dir.c', {
  start(c, l) {
    const sb = c.w.sbs[l.sb] as FuseSb;
    const hit = sb.inodes[l.name];
    l.reval = false;
    if (hit !== undefined) {
      const fi = c.deref(hit, 'fuse_inode');
      if (l.name === '' || c.w.jiffies < fi.entryExpires) return ret(hit);
      l.reval = true;
    }
    const fc = c.deref(sb.conn, 'fuse_conn');
    l.fc = fc.ptr;
    if (!fc.initialized) return block({ on: 'initialized', conn: fc.ptr }, 'start');
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.LOOKUP, FUSE_ROOT_ID, cstring(l.name), 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    const sb = c.w.sbs[l.sb] as FuseSb;
    const cached = sb.inodes[l.name];
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
    return ret(fi.ptr);
  },
});

/**
 * d_invalidate of a stale dentry: the name no longer leads to the cached inode. The inode
 * itself stays while something holds it; an unused one is evicted (its FORGET goes out).
 */
function d_invalidate(c: Ctx, inode: Ptr) {
  const fi = c.deref(inode, 'fuse_inode');
  const sb = c.w.sbs[fi.sb] as FuseSb;
  if (sb.inodes[fi.name] === inode) delete sb.inodes[fi.name];
  if (fi.icount <= 1) fuse_evict_inode(c, fi, true);
  else {
    setField(c, fi, 'icount', fi.icount - 1);
    sb.orphans = [...(sb.orphans ?? []), inode];
  }
}

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
