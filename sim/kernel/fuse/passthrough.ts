// fs/fuse/passthrough.c: opening a per-open backing file from a backing id, and the io
// that goes to it instead of the server.
import type { Ctx } from '../ctx.ts';
import { call, kfunc, preempt, ret } from '../exec.ts';
import type { FuseFileObj, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { rcu_read_lock, rcu_read_unlock } from '../lib/rcu.ts';
import { idr_find } from '../lib/idr.ts';
import { setField, store } from '../lib/once.ts';
import { fuse_write_update_attr } from './file.ts';
import { fuse_backing_get, fuse_backing_put } from './backing.ts';
import { get_cred, put_cred } from '../cred.ts';
import { fput } from '../vfs/file_table.ts';
import { backing_file_open } from '../vfs/backing-file.ts';
import { file_remove_privs } from '../vfs/attr.ts';
import { vfs_read, vfs_write } from '../vfs/read_write.ts';
import { connOfInode } from './file.ts';

interface PtOpenA {
  file: Ptr;
  ff: Ptr;
  backingId: number;
}

interface PtOpenL extends PtOpenA {
  fb: Ptr;
  bf: Ptr;
}

/**
 * fuse_passthrough_open (6.18: via fuse_backing_lookup): find the id under RCU, take a
 * reference with refcount_inc_not_zero, leave the read section, then open a per-open
 * backing file with the fb's creds. Returns the fb (with the lookup's reference) or -errno.
 */
export const fuse_passthrough_open = kfunc<PtOpenA, PtOpenL>('fuse_passthrough_open', 'fs/fuse/passthrough.c', {
  start(c, l) {
    if (l.backingId <= 0) return ret(neg('EINVAL'));
    rcu_read_lock(c);
    const ff = c.deref(l.ff, 'fuse_file');
    const fc = connOfInode(c, c.deref(ff.inode, 'fuse_inode'));
    l.fb = idr_find(fc.idr, l.backingId);
    if (c.record) c.emit('idr', `idr_find(${l.backingId}) = ${l.fb ? `fuse_backing#${l.fb}` : 'NULL'} (no reference yet)`);
    return preempt('get');
  },
  get(c, l) {
    l.fb = fuse_backing_get(c, l.fb);
    if (l.fb) c.own(l.fb);
    return preempt('unlock');
  },
  unlock(c, l) {
    rcu_read_unlock(c);
    if (!l.fb) return ret(neg('ENOENT'));
    return preempt('open_backing');
  },
  open_backing(c, l) {
    const fb = c.deref(l.fb, 'fuse_backing');
    const user = c.deref(l.file, 'file');
    return call(backing_file_open, { flags: user.flags, real: fb.file, cred: fb.cred }, 'opened', 'bf');
  },
  opened(c, l) {
    if (l.bf < 0) {
      if (!c.mutant('missing-put-on-backing-file-error')) {
        c.disown(l.fb);
        fuse_backing_put(c, l.fb);
      }
      return ret(l.bf);
    }
    const fb = c.deref(l.fb, 'fuse_backing');
    const ff = c.deref(l.ff, 'fuse_file');
    store(c, ff, 'passthrough', l.bf);
    store(c, ff, 'cred', get_cred(c, fb.cred));
    return ret(l.fb);
  },
});

/** fuse_passthrough_release: drop the per-open backing file and its creds. */
export function fuse_passthrough_release(c: Ctx, ff: FuseFileObj) {
  if (!ff.passthrough) return;
  const bf = ff.passthrough;
  store(c, ff, 'passthrough', 0);
  if (!c.mutant('passthrough-release-no-fput')) fput(c, bf);
  put_cred(c, ff.cred);
  store(c, ff, 'cred', 0);
}

interface PtIoA {
  file: Ptr;
  offset: number;
  /** bytes to read (a read) */
  n?: number;
  /** what to write (a write) */
  data?: string;
  write: boolean;
  /** the fuse_passthrough_* function this io came through (read_iter, splice_write, ...) */
  via: string;
}

interface PtIoL extends PtIoA {
  r: number;
}

/**
 * fuse_passthrough_{read,write}_iter and _splice_{read,write} all hand the io to the
 * per-open backing file through fs/backing-file.c with the fb's creds and one io context:
 * after a read ctx->accessed (fuse_file_accessed: atime invalidated), after a write
 * ctx->end_write (fuse_passthrough_end_write: fuse_write_update_attr). No READ or WRITE
 * reaches the server.
 */
export const fuse_passthrough_io = kfunc<PtIoA, PtIoL>('fuse_passthrough_io', 'fs/fuse/passthrough.c', {
  start(c, l) {
    const ff = c.deref(c.deref(l.file, 'file').private_data, 'fuse_file');
    if (c.record) c.emit('note', `${l.via}: ${l.write ? 'write to' : 'read from'} the backing file file#${ff.passthrough} with cred#${ff.cred}`);
    // backing_file_write_iter and backing_file_splice_write ask file_remove_privs of the
    // FUSE file (not the backing file) first
    if (l.write) {
      const fi = c.deref(ff.inode, 'fuse_inode');
      return call(file_remove_privs, { sb: fi.sb, name: fi.name, inode: fi.ptr }, 'write', 'r');
    }
    return call(vfs_read, { file: ff.passthrough, offset: l.offset, n: l.n ?? 0 }, 'accessed', 'r');
  },
  write(c, l) {
    const ff = c.deref(c.deref(l.file, 'file').private_data, 'fuse_file');
    return call(vfs_write, { file: ff.passthrough, offset: l.offset, data: l.data ?? '' }, 'end_write', 'r');
  },
  accessed(c, l) {
    const ff = c.deref(c.deref(l.file, 'file').private_data, 'fuse_file');
    setField(c, c.deref(ff.inode, 'fuse_inode'), 'atimeValid', false);
    return ret(l.r);
  },
  end_write(c, l) {
    if (l.r >= 0) fuse_write_update_attr(c, l.file, l.offset + l.r);
    return ret(l.r);
  },
});
