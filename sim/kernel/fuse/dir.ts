// fs/fuse/dir.c: looking names up (LOOKUP and fuse_iget), and attributes (GETATTR,
// SETATTR). (fuse_statfs, from fs/fuse/inode.c, is here with them: the VFS asks all of them
// of the filesystem type.)
import { block, goto, kfunc, ret } from '../exec.ts';
import type { Ctx } from '../ctx.ts';
import type { FuseSb, Ptr } from '../state.ts';
import { setField } from '../lib/once.ts';
import { decodeReplyArg, cstring } from '../../wire/messages.ts';
import { encode, FUSE_GETATTR_IN, FUSE_SETATTR_IN, zeroValue } from '../../wire/structs.ts';
import { FATTR, FUSE_GETATTR_FH, FUSE_OPCODE, FUSE_ROOT_ID } from '../../wire/uapi.ts';
import { ATTR_ATIME, ATTR_ATIME_SET, ATTR_FILE, ATTR_MODE, ATTR_MTIME, ATTR_MTIME_SET, ATTR_OPEN, ATTR_SIZE, type IattrA } from '../vfs/fs.ts';
import { truncatePages } from '../mm/filemap.ts';
import { fuse_lock_owner_id } from './file.ts';
import { fuse_request_wait, fuse_take_answer } from './dev.ts';
import { fuse_change_attributes, fuse_evict_inode, fuse_iget, fuse_time_to_jiffies } from './inode.ts';

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
  else setField(c, fi, 'icount', fi.icount - 1);
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
}

/**
 * fuse_setattr -> fuse_do_setattr: SETATTR with iattr_to_fattr's valid bits; FATTR_FH only
 * when the change comes through an open file (ftruncate: ATTR_FILE; not an O_TRUNC open),
 * FATTR_LOCKOWNER with every size change. An O_TRUNC open on a connection with
 * ATOMIC_O_TRUNC sends nothing: OPEN already truncated. The kernel then believes the reply's
 * attributes (its size truncates the page cache), never what it asked for, and applies
 * nothing to a passthrough file's backing file. Errors, ENOSYS included, go to the caller.
 */
export const fuse_setattr = kfunc<IattrA, SetattrL>('fuse_setattr', 'fs/fuse/dir.c', {
  start(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = c.deref((c.w.sbs[fi.sb] as FuseSb).conn, 'fuse_conn');
    let file = l.valid & ATTR_FILE ? l.file : 0;
    if (l.valid & ATTR_OPEN) {
      if (fc.atomicOTrunc) {
        setField(c, fi, 'size', 0);
        truncatePages(fi.pages, 0);
        return ret(0);
      }
      file = 0;
    }
    let valid = 0;
    if (l.valid & ATTR_MODE) valid |= FATTR.MODE;
    if (l.valid & ATTR_SIZE) valid |= FATTR.SIZE;
    if (l.valid & ATTR_ATIME) valid |= FATTR.ATIME | (l.valid & ATTR_ATIME_SET ? 0 : FATTR.ATIME_NOW);
    if (l.valid & ATTR_MTIME && (l.valid & ATTR_MTIME_SET || !(l.valid & ATTR_SIZE))) valid |= FATTR.MTIME | (l.valid & ATTR_MTIME_SET ? 0 : FATTR.MTIME_NOW);
    const ff = file ? c.deref(c.deref(file, 'file').private_data, 'fuse_file') : null;
    if (ff) valid |= FATTR.FH;
    if (l.valid & ATTR_SIZE) valid |= FATTR.LOCKOWNER;
    l.fc = fc.ptr;
    const body = encode(FUSE_SETATTR_IN, {
      ...zeroValue(FUSE_SETATTR_IN),
      valid,
      fh: ff ? ff.fh : 0,
      size: l.valid & ATTR_SIZE ? l.size : 0,
      lock_owner: l.valid & ATTR_SIZE ? fuse_lock_owner_id(c) : 0,
      atime: l.valid & ATTR_ATIME ? l.atime : 0,
      mtime: l.valid & ATTR_MTIME ? l.mtime : 0,
      mode: l.valid & ATTR_MODE ? l.mode : 0,
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
    fuse_change_attributes(c, fi, r.arg.attr, fuse_time_to_jiffies(c, r.arg.attr_valid, r.arg.attr_valid_nsec));
    return ret(0);
  },
});
