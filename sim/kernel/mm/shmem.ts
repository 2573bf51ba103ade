// The scenarios' "plain" filesystem: tmpfs (mm/shmem.c), standing for any local filesystem
// (ext4, tmpfs) a FUSE server keeps its backing files on. Its inodes are records in the
// superblock (name -> type and data), not heap objects: nothing in the model points at them.
// devtmpfs, where /dev/fuse lives, is one too.
import { kfunc, ret } from '../exec.ts';
import type { Ctx } from '../ctx.ts';
import type { FileObj, InodeKind, PlainInode, PlainSb, Ptr, SuperBlock, World } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { inodeKindOf } from '../lib/stat.ts';
import { O_APPEND } from '../vfs/fcntl.ts';
import { ATTR_SIZE, register_file_operations, register_filesystem, type FallocateA, type IattrA, type LlseekA, type ReadA, type WriteA } from '../vfs/fs.ts';
import { generic_file_llseek } from '../vfs/read_write.ts';
import { FALLOC_FL, SEEK_DATA, SEEK_HOLE } from '../../wire/uapi.ts';
import { copy_splice_read, iter_file_splice_write } from '../vfs/splice.ts';
import { dcache_dir_lseek, generic_file_mmap, generic_read_dir, noop_fsync, simple_statfs } from '../vfs/libfs.ts';
import { EMPTY_FOPS } from '../vfs/fs.ts';
import { NULL_FOPS } from '../drivers/mem.ts';
import { BAD_SOCK_FOPS } from '../net/socket.ts';

const plain = (sb: SuperBlock) => sb as PlainSb;

/** devtmpfs (drivers/base/devtmpfs.c), a tmpfs: the superblock /dev, and so /dev/fuse, lives on */
export const DEVTMPFS = 'devtmpfs';

function inodeOf(c: Ctx, f: FileObj): PlainInode | undefined {
  return plain(c.w.sbs[f.sb]!).files[f.name];
}

/** Read n bytes at offset of a tmpfs inode (the read's data goes to c.data); atime moves. */
export function shmem_read(c: Ctx, inode: PlainInode, offset: number, n: number): number {
  const data = inode.data.slice(offset, offset + n);
  inode.atime = ++c.w.clock;
  c.data = data;
  return data.length;
}

/** shmem_file_read_iter */
const shmem_file_read_iter = kfunc<ReadA>('shmem_file_read_iter', 'mm/shmem.c', {
  start(c, l) {
    const inode = inodeOf(c, c.deref(l.file, 'file'));
    if (!inode) return ret(neg('ENOENT'));
    return ret(shmem_read(c, inode, l.offset, l.n));
  },
});

/** Write data at offset of a tmpfs inode; holes read back as NULs; mtime moves. */
export function shmem_write(w: World, inode: PlainInode, offset: number, data: string) {
  const old = inode.data;
  inode.data = old.slice(0, offset).padEnd(offset, '\0') + data + old.slice(offset + data.length);
  inode.mtime = ++w.clock;
}

/** shmem_file_write_iter (generic_perform_write) */
const shmem_file_write_iter = kfunc<WriteA>('shmem_file_write_iter', 'mm/shmem.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const sb = plain(c.w.sbs[f.sb]!);
    const inode = sb.files[f.name];
    if (!inode || sb.readonly) return ret(neg('EROFS'));
    const pos = f.flags & O_APPEND ? inode.data.length : l.offset; // generic_write_checks
    shmem_write(c.w, inode, pos, l.data);
    if (c.record) c.emit('field', `/${sb.name}/${f.name}: ${l.data.length} bytes written at ${pos}, size ${inode.data.length}`);
    return ret(l.data.length);
  },
});

/**
 * shmem_file_llseek: SEEK_SET/CUR/END generic over i_size; SEEK_DATA/SEEK_HOLE
 * (mapping_seek_hole_data) ENXIO for a negative offset or one at or past i_size, else DATA
 * stays where it is and HOLE goes to i_size: the model's tmpfs keeps no holes (a page never
 * written, or cut by PUNCH_HOLE, would be one on the real tmpfs).
 */
const shmem_file_llseek = kfunc<LlseekA>('shmem_file_llseek', 'mm/shmem.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const size = inodeOf(c, f)?.data.length ?? 0;
    if ((l.whence === SEEK_DATA || l.whence === SEEK_HOLE) && l.offset < 0) return ret(neg('ENXIO'));
    return ret(generic_file_llseek(f, l.offset, l.whence, size));
  },
});

/**
 * shmem_fallocate: only KEEP_SIZE and PUNCH_HOLE (anything else EOPNOTSUPP). PUNCH_HOLE frees
 * the range's pages: it reads back as NULs, the size stays; otherwise the range is allocated
 * and, without KEEP_SIZE, i_size grows to its end (NULs).
 */
const shmem_fallocate = kfunc<FallocateA>('shmem_fallocate', 'mm/shmem.c', {
  start(c, l) {
    if (l.mode & ~(FALLOC_FL.KEEP_SIZE | FALLOC_FL.PUNCH_HOLE)) return ret(neg('EOPNOTSUPP'));
    const inode = inodeOf(c, c.deref(l.file, 'file'));
    if (!inode) return ret(neg('ENOENT'));
    const end = l.offset + l.len;
    if (l.mode & FALLOC_FL.PUNCH_HOLE) {
      const size = inode.data.length;
      if (l.offset < size) inode.data = inode.data.slice(0, l.offset) + '\0'.repeat(Math.min(end, size) - l.offset) + inode.data.slice(Math.min(end, size));
    } else if (!(l.mode & FALLOC_FL.KEEP_SIZE) && end > inode.data.length) {
      inode.data = inode.data.padEnd(end, '\0');
    }
    inode.mtime = ++c.w.clock;
    return ret(0);
  },
});

register_file_operations('shmem', {
  name: 'shmem_file_operations',
  read_iter: shmem_file_read_iter,
  write_iter: shmem_file_write_iter,
  splice_read: copy_splice_read,
  splice_write: iter_file_splice_write,
  mmap: generic_file_mmap,
  llseek: shmem_file_llseek,
  fsync: noop_fsync,
  fallocate: shmem_fallocate,
});
/**
 * simple_offset_dir_operations' iterate_shared (offset_readdir): "." and "..", then the names,
 * the newest first (6.18 observed: a tmpfs directory lists its entries in the reverse order
 * they were made), as many as fit the getdents buffer, from the file's position. The model's
 * tmpfs keeps every name in its root: a directory below it lists only the dots.
 */
const shmem_iterate = kfunc<{ file: Ptr; count: number }>('offset_readdir', 'fs/libfs.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const sb = plain(c.w.sbs[f.sb]!);
    const names = ['.', '..', ...(f.name === '' ? Object.keys(sb.files).reverse() : [])];
    const out: string[] = [];
    let used = 0;
    let pos = f.pos ?? 0;
    for (; pos < names.length; pos++) {
      const len = (19 + new TextEncoder().encode(names[pos]!).length + 1 + 7) & ~7;
      if (used + len > l.count) break;
      used += len;
      out.push(names[pos]!);
    }
    f.pos = pos;
    c.data = out.join(' ');
    if (out.length === 0 && pos < names.length) return ret(neg('EINVAL'));
    return ret(out.length);
  },
});

register_file_operations('shmem_dir', { name: 'simple_offset_dir_operations', read: generic_read_dir, iterate_shared: shmem_iterate, llseek: dcache_dir_lseek, fsync: noop_fsync });
// A FIFO's f_op (pipefifo_fops) has read_iter and write_iter (what 6.9's BACKING_OPEN check
// asks for) but no mmap. Pipe io itself is not modelled: a FIFO reads like an empty file.
register_file_operations('pipefifo', {
  name: 'pipefifo_fops',
  read_iter: shmem_file_read_iter,
  write_iter: shmem_file_write_iter,
  splice_write: iter_file_splice_write,
});

/** simple_lookup: tmpfs keeps every name in the dcache. */
const simple_lookup = kfunc<{ sb: number; name: string }>('simple_lookup', 'fs/libfs.c', {
  start(c, l) {
    // the mount's root ("") is always there
    return ret(l.name === '' || plain(c.w.sbs[l.sb]!).files[l.name] ? 0 : neg('ENOENT'));
  },
});

/** shmem_setattr: a size change cuts or extends the data (NULs); the model keeps no mode. */
const shmem_setattr = kfunc<IattrA>('shmem_setattr', 'mm/shmem.c', {
  start(c, l) {
    const inode = plain(c.w.sbs[l.sb]!).files[l.name];
    if (!inode) return ret(neg('ENOENT'));
    if (l.valid & ATTR_SIZE) {
      inode.data = inode.data.slice(0, l.size).padEnd(l.size, '\0');
      inode.mtime = ++c.w.clock;
    }
    return ret(0);
  },
});

/** shmem_getattr: st_size. */
const shmem_getattr = kfunc<{ sb: number; name: string }>('shmem_getattr', 'mm/shmem.c', {
  start(c, l) {
    const inode = plain(c.w.sbs[l.sb]!).files[l.name];
    return ret(inode ? inode.data.length : neg('ENOENT'));
  },
});


/** shmem_mknod (shmem_create, shmem_mkdir): a new inode in the dcache; its data empty. */
function shmem_new(c: Ctx, sb: PlainSb, name: string, kind: InodeKind): number {
  if (sb.files[name]) return neg('EEXIST');
  sb.files[name] = { kind, data: '', mtime: ++c.w.clock, atime: 0 };
  if (c.record) c.emit('field', `/${sb.name}/${name}: a new ${kind} inode`);
  return 0;
}

const shmem_mknod = kfunc<{ sb: number; name: string; mode: number; rdev: number }>('shmem_mknod', 'mm/shmem.c', {
  start(c, l) {
    return ret(shmem_new(c, plain(c.w.sbs[l.sb]!), l.name, inodeKindOf(l.mode)));
  },
});

/** shmem_symlink: a new inode of type link, its target kept (inline, as short links are) */
const shmem_symlink = kfunc<{ sb: number; name: string; target: string }>('shmem_symlink', 'mm/shmem.c', {
  start(c, l) {
    const sb = plain(c.w.sbs[l.sb]!);
    const r = shmem_new(c, sb, l.name, 'lnk');
    if (r === 0) sb.files[l.name]!.target = l.target;
    return ret(r);
  },
});

const shmem_mkdir = kfunc<{ sb: number; name: string; mode: number }>('shmem_mkdir', 'mm/shmem.c', {
  start(c, l) {
    return ret(shmem_new(c, plain(c.w.sbs[l.sb]!), l.name, 'dir'));
  },
});

/** shmem_unlink / simple_rmdir: the name goes (the model's tmpfs directories are empty) */
const shmem_unlink = kfunc<{ sb: number; name: string; dir: boolean }>('shmem_unlink', 'mm/shmem.c', {
  start(c, l) {
    const sb = plain(c.w.sbs[l.sb]!);
    if (!sb.files[l.name]) return ret(neg('ENOENT'));
    delete sb.files[l.name];
    if (c.record) c.emit('field', `/${sb.name}/${l.name}: unlinked`);
    return ret(0);
  },
});

/** shmem_rename2: the inode takes the new name (a replaced one goes); RENAME_EXCHANGE swaps */
const shmem_rename2 = kfunc<{ sb: number; old: string; new: string; flags: number }>('shmem_rename2', 'mm/shmem.c', {
  start(c, l) {
    const sb = plain(c.w.sbs[l.sb]!);
    const a = sb.files[l.old];
    const b = sb.files[l.new];
    if (!a) return ret(neg('ENOENT'));
    if (l.flags & 2) {
      if (!b) return ret(neg('ENOENT'));
      sb.files[l.old] = b;
    } else delete sb.files[l.old];
    sb.files[l.new] = a;
    if (c.record) c.emit('field', `/${sb.name}/${l.old} -> ${l.new}`);
    return ret(0);
  },
});

/** init_tmpfs (mm/shmem.c): register the tmpfs filesystem type. */
export function shmem_init() {
  register_filesystem({
    name: 'plain',
    lookup: simple_lookup,
    inodeKind: (_w, sb, name) => (name === '' ? 'dir' : (plain(sb).files[name]?.kind ?? 'reg')),
    // init_special_inode: a FIFO's pipefifo_fops, a character device's def_chr_fops (which
    // chrdev_open swaps for the driver's: /dev/null's null_fops, drivers/char/mem.c), a
    // socket's bad_sock_fops (net/socket.c: open is ENXIO); a symlink is never opened itself
    // but with O_PATH (empty_fops)
    fops: (kind) => ({ dir: 'shmem_dir', fifo: 'pipefifo', chr: NULL_FOPS, sock: BAD_SOCK_FOPS, lnk: EMPTY_FOPS, reg: 'shmem' })[kind],
    readonly: (sb) => plain(sb).readonly,
    realSb: (_w, sb) => sb.id,
    getattr: shmem_getattr,
    i_flctx: (c, f, create) => {
      const inode = plain(c.w.sbs[f.sb]!).files[f.name];
      if (!inode) return null;
      if (!inode.flctx && create) inode.flctx = { flc_flock: [], flc_posix: [] };
      return inode.flctx ?? null;
    },
    statfs: simple_statfs,
    setattr: shmem_setattr,
    peek: (_w, sb, name) => {
      const inode = plain(sb).files[name];
      return inode ? { data: inode.data, mtime: inode.mtime } : null;
    },
    poke: (w, sb, name, offset, data) => {
      const inode = plain(sb).files[name];
      if (inode) shmem_write(w, inode, offset, data);
    },
    // shmem_mknod: a new inode of that type (tmpfs keeps it in the dcache)
    mknod: (c, sb, name, kind) => {
      const p = plain(sb);
      if (p.files[name]) return neg('EEXIST');
      if (p.readonly) return neg('EROFS');
      p.files[name] = { kind, data: '', mtime: ++c.w.clock, atime: 0 };
      if (c.record) c.emit('field', `/${sb.name}/${name}: a new ${kind} inode`);
      return 0;
    },
    i_mknod: shmem_mknod,
    i_symlink: shmem_symlink,
    i_mkdir: shmem_mkdir,
    i_unlink: shmem_unlink,
    i_rename: shmem_rename2,
    // shmem_get_link (simple_get_link): the target the symlink was made with
    get_link: (_w, sb, name) => plain(sb).files[name]?.target ?? null,
    pokeSize: (w, sb, name, size) => {
      const inode = plain(sb).files[name];
      if (!inode) return;
      inode.data = inode.data.slice(0, size).padEnd(size, '\0');
      inode.mtime = ++w.clock;
    },
  });
}
