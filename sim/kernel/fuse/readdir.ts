// fs/fuse/readdir.c: getdents(2) on a FUSE directory: READDIR or READDIRPLUS, and the entries
// a READDIRPLUS links into the dcache. Also fuse_dir_operations, whose members live in dir.ts
// (open, release) and here (iterate_shared).
import { block, kfunc, ret } from '../exec.ts';
import type { Ctx } from '../ctx.ts';
import type { FuseInodeObj, FuseSb, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { setField } from '../lib/once.ts';
import { decodeReplyArg, type Direntplus } from '../../wire/messages.ts';
import { encode, FUSE_READ_IN } from '../../wire/structs.ts';
import { FOPEN, FUSE_OPCODE, FUSE_ROOT_ID } from '../../wire/uapi.ts';
import { register_file_operations } from '../vfs/fs.ts';
import { generic_read_dir } from '../vfs/libfs.ts';
import { PAGE_SIZE } from '../mm/filemap.ts';
import { fuse_request_wait, fuse_take_answer } from './dev.ts';
import { d_invalidate, fuse_dir_open, fuse_dir_release, fuse_rdc_reset } from './dir.ts';
import { dentry_unused, fuse_iget, fuse_time_to_jiffies } from './inode.ts';
import { FUSE_DIR_FOPS, fuse_dir_fsync, fuse_dir_llseek } from './file.ts';

/** FUSE_DEFAULT_MAX_PAGES_PER_REQ: fc->max_pages without FUSE_MAX_PAGES */
const FUSE_DEFAULT_MAX_PAGES_PER_REQ = 32;

/**
 * fuse_use_readdirplus: never without FUSE_DO_READDIRPLUS; always with it alone; with
 * READDIRPLUS_AUTO when a lookup in the directory advised it (FUSE_I_ADVISE_RDPLUS, cleared
 * here) or at position 0 (the first batch of a listing).
 */
function fuse_use_readdirplus(c: Ctx, dir: FuseInodeObj, pos: number): boolean {
  const fc = c.deref((c.w.sbs[dir.sb] as FuseSb).conn, 'fuse_conn');
  if (!fc.doReaddirplus) return false;
  if (!fc.readdirplusAuto) return true;
  if (dir.adviseRdplus) {
    setField(c, dir, 'adviseRdplus', false);
    return true;
  }
  return pos === 0;
}

/** struct linux_dirent64's length for a name: ALIGN(offsetof(d_name) + namelen + 1, 8) */
function dirent64Len(name: string): number {
  return (19 + new TextEncoder().encode(name).length + 1 + 7) & ~7;
}

/**
 * fuse_direntplus_link: a READDIRPLUS entry with a nodeid (not "." or "..") is a lookup: a
 * dentry naming the same inode gets one more nlookup and the entry's attributes; one naming
 * another inode is invalidated first; a new name gets its inode (fuse_iget). With
 * READDIRPLUS_AUTO the inode is marked FUSE_I_INIT_RDPLUS. (Entries the getdents buffer had
 * no room for are linked too.)
 */
function fuse_direntplus_link(c: Ctx, sbId: number, d: Direntplus) {
  const e = d.entry;
  const name = d.dirent.name;
  if (!e.nodeid || name === '.' || name === '..') return;
  if (e.nodeid === FUSE_ROOT_ID) return; // invalid_nodeid: EIO for the entry (fuse_force_forget)
  const sb = c.w.sbs[sbId] as FuseSb;
  const hit = sb.inodes[name];
  if (hit !== undefined && c.deref(hit, 'fuse_inode').nodeid !== e.nodeid) d_invalidate(c, hit);
  const fi = fuse_iget(c, sbId, name, e.nodeid, e.attr, fuse_time_to_jiffies(c, e.attr_valid, e.attr_valid_nsec), fuse_time_to_jiffies(c, e.entry_valid, e.entry_valid_nsec));
  if (c.deref(sb.conn, 'fuse_conn').readdirplusAuto) setField(c, fi, 'initRdplus', true);
  dentry_unused(c, fi); // its dput
}

const UNCACHED = 'uncached';

/**
 * fuse_readdir_cached (FOPEN_CACHE_DIR): serve getdents from the directory's readdir cache.
 * Not complete yet: UNCACHED (at position 0 of an empty cache the directory's mtime and
 * i_version are noted first). At position 0 a cache whose directory changed since (another
 * mtime or i_version) starts over. The open's stream (ff->readdir) follows the cache from its
 * start: an lseek elsewhere, or a cache of another version, sends it back to the start. At
 * the end of the complete cache: 0 (EOF), no request. A position the cache does not hold:
 * UNCACHED. (FUSE_AUTO_INVAL_DATA's GETATTR at position 0 is not modelled.)
 */
function fuse_readdir_cached(c: Ctx, l: ReaddirL): number | typeof UNCACHED {
  const f = c.deref(l.file, 'file');
  const ff = c.deref(f.private_data, 'fuse_file');
  const fi = c.deref(ff.inode, 'fuse_inode');
  const pos = f.pos ?? 0;
  const rd = (ff.readdir ??= { pos: 0, idx: 0, version: 0 });
  if (rd.pos !== pos) {
    rd.pos = 0;
    rd.idx = 0;
  }
  for (;;) {
    const rdc = fi.rdc;
    if (!rdc || !rdc.cached) {
      if (pos === 0 && (!rdc || rdc.entries.length === 0)) {
        setField(c, fi, 'rdc', { cached: false, entries: [], pos: 0, version: rdc?.version ?? 0, iversion: fi.iversion ?? 0, mtime: fi.mtime });
      }
      return UNCACHED;
    }
    if (pos === 0 && (rdc.iversion !== (fi.iversion ?? 0) || rdc.mtime !== fi.mtime)) {
      fuse_rdc_reset(c, fi);
      continue;
    }
    break;
  }
  const rdc = fi.rdc!;
  if (rd.version !== rdc.version) {
    rd.pos = 0;
    rd.idx = 0;
  }
  if (rd.pos === 0) rd.version = rdc.version;
  if (rd.idx === rdc.entries.length) return 0; // EOF
  const names: string[] = [];
  let used = 0;
  let found = false;
  for (; rd.idx < rdc.entries.length; rd.idx++) {
    const e = rdc.entries[rd.idx]!;
    if (rd.pos === (f.pos ?? 0)) {
      found = true;
      const len = dirent64Len(e.name);
      if (used + len > l.count) break; // the buffer is full (FOUND_ALL)
      names.push(e.name);
      used += len;
      f.pos = e.off;
    }
    rd.pos = e.off;
  }
  c.data = names.join(' ');
  if (found && names.length === 0) return neg('EINVAL');
  return found ? names.length : UNCACHED;
}

/** fuse_add_dirent_to_cache: an entry read from the server at `pos` extends an incomplete cache that ends there */
function fuse_add_dirent_to_cache(fi: FuseInodeObj, name: string, off: number, pos: number) {
  const rdc = fi.rdc;
  if (!rdc || rdc.cached || rdc.pos !== pos) return;
  rdc.entries.push({ name, off });
  rdc.pos = off;
}

interface ReaddirL {
  file: Ptr;
  count: number;
  unique: number;
  fc: Ptr;
  plus: boolean;
  size: number;
}

/**
 * fuse_readdir -> fuse_readdir_uncached: one READDIR or READDIRPLUS per getdents(2) from the
 * file's position (fh, offset = f_pos, size = the getdents buffer clamped to [PAGE_SIZE,
 * max_pages pages] on 6.18, one page on 6.9; the file's flags). An empty reply is the end.
 * The entries are emitted while they fit the caller's buffer (parse_dirfile: f_pos becomes
 * each emitted entry's off; the rest is dropped and asked again next time; a first entry that
 * does not fit is EINVAL); READDIRPLUS entries are linked into the dcache. Whatever the
 * answer, the directory's atime is stale afterwards (fuse_invalidate_atime).
 */
export const fuse_readdir = kfunc<{ file: Ptr; count: number }, ReaddirL>('fuse_readdir', 'fs/fuse/readdir.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const ff = c.deref(f.private_data, 'fuse_file');
    const fi = c.deref(ff.inode, 'fuse_inode');
    const fc = c.deref((c.w.sbs[fi.sb] as FuseSb).conn, 'fuse_conn');
    l.fc = fc.ptr;
    if (!fc.initialized) return block({ on: 'initialized', conn: fc.ptr }, 'start');
    if (ff.openFlags & FOPEN.CACHE_DIR) {
      const r = fuse_readdir_cached(c, l);
      if (r !== UNCACHED) {
        if (r === 0) c.data = '';
        return ret(r);
      }
    }
    const pos = f.pos ?? 0;
    l.plus = fuse_use_readdirplus(c, fi, pos);
    const maxBytes = (fc.maxPages ?? FUSE_DEFAULT_MAX_PAGES_PER_REQ) * PAGE_SIZE;
    const size = c.profile.readdirSizeFromBuffer ? Math.min(Math.max(l.count, PAGE_SIZE), maxBytes) : PAGE_SIZE;
    l.size = size;
    const body = encode(FUSE_READ_IN, { fh: ff.fh, offset: pos, size, read_flags: 0, lock_owner: 0, flags: f.flags, padding: 0 });
    return fuse_request_wait(c, l, fc, l.plus ? FUSE_OPCODE.READDIRPLUS : FUSE_OPCODE.READDIR, fi.nodeid, body, 'reply');
  },
  reply(c, l) {
    const a = fuse_take_answer(c, c.deref(l.fc, 'fuse_conn'), l.unique);
    const f = c.deref(l.file, 'file');
    const fi = c.deref(c.deref(f.private_data, 'fuse_file').inode, 'fuse_inode');
    setField(c, fi, 'atimeValid', false);
    c.data = '';
    if (a.error) return ret(a.error);
    const cacheDir = (c.deref(f.private_data, 'fuse_file').openFlags & FOPEN.CACHE_DIR) !== 0;
    if (a.body.length === 0) {
      // fuse_readdir_cache_end: the stream reached the end where the cache ends: it is complete
      if (cacheDir && fi.rdc && fi.rdc.pos === (f.pos ?? 0)) fi.rdc.cached = true;
      return ret(0);
    }
    const op = l.plus ? FUSE_OPCODE.READDIRPLUS : FUSE_OPCODE.READDIR;
    const r = decodeReplyArg(op, a.body, { requestSize: l.size, lenientDirents: true });
    const entries = r.op === 'READDIRPLUS' ? r.entries : r.op === 'READDIR' ? r.entries.map((dirent) => ({ dirent, entry: null })) : [];
    const names: string[] = [];
    let used = 0;
    let over = false;
    for (const { dirent, entry } of entries) {
      if (!over) {
        // fuse_emit: with FOPEN_CACHE_DIR the entry goes into the cache first
        if (cacheDir) fuse_add_dirent_to_cache(fi, dirent.name, Number(dirent.off), f.pos ?? 0);
        const len = dirent64Len(dirent.name);
        if (used + len > l.count) over = true;
        else {
          names.push(dirent.name);
          used += len;
          f.pos = Number(dirent.off);
        }
      }
      if (entry) fuse_direntplus_link(c, fi.sb, { entry, dirent });
    }
    if (names.length === 0 && entries.length > 0) return ret(neg('EINVAL'));
    c.data = names.join(' ');
    return ret(names.length);
  },
});

/**
 * fuse_dir_operations: reading the directory as a file is EISDIR (generic_read_dir); llseek is
 * generic_file_llseek, fsync is fuse_dir_fsync (FSYNCDIR)
 */
register_file_operations(FUSE_DIR_FOPS, {
  name: 'fuse_dir_operations',
  open: fuse_dir_open,
  read: generic_read_dir,
  iterate_shared: fuse_readdir,
  release: fuse_dir_release,
  fsync: fuse_dir_fsync,
  llseek: fuse_dir_llseek,
});
