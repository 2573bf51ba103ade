// fs/fuse/dir.c: looking names up (LOOKUP and fuse_iget), and attributes (GETATTR).
// (fuse_statfs, from fs/fuse/inode.c, is here with them: the VFS asks all three of the
// filesystem type.)
import { block, kfunc, ret } from '../exec.ts';
import type { FuseInodeObj, FuseSb, Ptr } from '../state.ts';
import { setField } from '../lib/once.ts';
import { decodeReplyArg, cstring } from '../../wire/messages.ts';
import { encode, FUSE_GETATTR_IN } from '../../wire/structs.ts';
import { FUSE_OPCODE, FUSE_ROOT_ID } from '../../wire/uapi.ts';
import { fuse_request_wait, fuse_take_answer } from './dev.ts';

interface LookupA {
  sb: number;
  name: string;
}

interface LookupL extends LookupA {
  unique: number;
  fc: Ptr;
}

/** fuse_lookup: a dcache hit, or LOOKUP to the server and fuse_iget. Returns the inode. */
export const fuse_lookup = kfunc<LookupA, LookupL>('fuse_lookup', 'fs/fuse/dir.c', {
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
    });
    sb.inodes[l.name] = fi.ptr;
    return ret(fi.ptr);
  },
});

interface GetattrA {
  sb: number;
  name: string;
  inode: Ptr;
  /** AT_STATX_DONT_SYNC */
  cached: boolean;
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
    if (l.cached || (fi.attrValid && fi.atimeValid)) return ret(fi.size);
    const sb = c.w.sbs[fi.sb] as FuseSb;
    const fc = c.deref(sb.conn, 'fuse_conn');
    l.fc = fc.ptr;
    const body = encode(FUSE_GETATTR_IN, { getattr_flags: 0, dummy: 0, fh: 0 });
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
 * fuse_statfs (fs/fuse/inode.c): a request, so it waits in fuse_get_req until the connection
 * is initialized. (The model does not send STATFS yet: only the wait is modelled.)
 */
export const fuse_statfs = kfunc<{ sb: number }>('fuse_statfs', 'fs/fuse/inode.c', {
  start(c, l) {
    const fc = c.deref((c.w.sbs[l.sb] as FuseSb).conn, 'fuse_conn');
    if (!fc.initialized && fc.connected) return block({ on: 'initialized', conn: fc.ptr }, 'start');
    return ret(0);
  },
});
