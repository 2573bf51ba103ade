// fs/overlayfs/super.c and file.c: mounting an overlay (its stacking depth, and the limit),
// and its files, which read their real inode on a lower layer.
import { call, entry, goto, kfunc, ret, tail } from '../exec.ts';
import type { OverlaySb, Ptr, SuperBlock, World } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { register_file_operations, register_filesystem, s_type, type FsyncA, type LlseekA, type ReadA, type WriteA } from '../vfs/fs.ts';
import { generic_file_llseek } from '../vfs/read_write.ts';
import { SEEK_DATA, SEEK_HOLE } from '../../wire/uapi.ts';
import { FILESYSTEM_MAX_STACK_DEPTH } from '../vfs/super.ts';
import { copy_splice_read } from '../vfs/splice.ts';
import { dcache_dir_lseek, generic_file_mmap, generic_read_dir, simple_statfs } from '../vfs/libfs.ts';
import { shmem_read, shmem_write } from '../mm/shmem.ts';
import { ovl_lookup, realInode } from './namei.ts';

const ovl = (sb: SuperBlock) => sb as OverlaySb;

/** ovl_fill_super's depth rule: one more than its deepest layer. */
export function overlayDepth(w: World, sb: OverlaySb): number {
  return 1 + Math.max(0, ...sb.layers.map((id) => w.sbs[id]!.s_stack_depth));
}

interface LayersL {
  sb: number;
  i: number;
  r: number;
}

/**
 * ovl_get_lowerstack -> ovl_lower_dir, for each lower layer, topmost first: its root's statfs
 * (ovl_check_namelen -> vfs_statfs; a FUSE layer's waits for INIT and sends STATFS). A statfs
 * error fails the mount.
 */
const ovl_get_lowerstack = kfunc<{ sb: number }, LayersL>('ovl_get_lowerstack', 'fs/overlayfs/super.c', {
  start(_c, l) {
    l.i = 0;
    return goto('layer');
  },
  layer(c, l) {
    const id = ovl(c.w.sbs[l.sb]!).layers[l.i];
    if (id === undefined) return ret(0);
    l.i++;
    return call(s_type(c.w.sbs[id]!).statfs, { sb: id, name: '', inode: 0 }, 'done', 'r');
  },
  done(c, l) {
    c.data = undefined; // the fields statfs read are the kernel's own business here
    return l.r < 0 ? ret(l.r) : goto('layer');
  },
});

/**
 * Once the stack is known to fit, the root of each layer is probed for being an opaque
 * directory (the "trusted.overlay.opaque" xattr, size 1): a FUSE layer's server sees a
 * GETXATTR. (Not when the mount already failed on its depth: fpsim oracle,
 * stack-overlay-mount-over-fuse-depth-2-einval.)
 */
const ovl_check_roots = kfunc<{ sb: number }, LayersL>('ovl_get_root', 'fs/overlayfs/super.c', {
  start(_c, l) {
    l.i = 0;
    return goto('layer');
  },
  layer(c, l) {
    const id = ovl(c.w.sbs[l.sb]!).layers[l.i];
    if (id === undefined) return ret(0);
    l.i++;
    const getxattr = s_type(c.w.sbs[id]!).getxattr;
    const root = rootInode(c.w, id);
    if (!getxattr || !root) return goto('layer');
    return call(getxattr, { sb: id, name: '', inode: root, xname: 'trusted.overlay.opaque', size: 1 }, 'layer', 'r');
  },
});

/** The root inode of a layer, when its filesystem keeps inode objects (a FUSE mount's root). */
function rootInode(w: World, id: number): Ptr {
  const sb = w.sbs[id]!;
  return s_type(sb).inodeOf?.(w, sb, '') ?? 0;
}

/**
 * mount(2) of an overlay (ovl_fill_super): its layers must be mounted (ENOENT), their roots
 * statfs'd, the stack no deeper than the limit, then the roots probed.
 */
const ovl_mount = kfunc<{ sb: number }, { sb: number; r: number }>('ovl_mount', 'fs/overlayfs/super.c', {
  start(c, l) {
    const sb = ovl(c.w.sbs[l.sb]!);
    if (sb.layers.some((id) => !c.w.sbs[id]!.mounted)) return ret(neg('ENOENT'));
    return call(ovl_get_lowerstack, { sb: l.sb }, 'depth', 'r');
  },
  depth(c, l) {
    if (l.r < 0) return ret(l.r);
    const sb = ovl(c.w.sbs[l.sb]!);
    const depth = overlayDepth(c.w, sb);
    if (depth > FILESYSTEM_MAX_STACK_DEPTH) {
      if (c.record) c.emit('note', `overlayfs: maximum fs stacking depth exceeded (${depth} > ${FILESYSTEM_MAX_STACK_DEPTH})`);
      return ret(neg('EINVAL'));
    }
    return call(ovl_check_roots, { sb: l.sb }, 'mounted', 'r');
  },
  mounted(c, l) {
    const sb = ovl(c.w.sbs[l.sb]!);
    sb.s_stack_depth = overlayDepth(c.w, sb);
    sb.mounted = true;
    if (c.record) c.emit('field', `mount overlay /${sb.name}: s_stack_depth ${sb.s_stack_depth}`);
    return ret(0);
  },
});

/** The harness mounting an overlay declared "mount": "setup": the same as mount(2). */
entry(
  'mount_overlay_setup',
  kfunc<{ fs: string }>('ovl_mount_setup', 'fs/overlayfs/super.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === l.fs);
      if (!sb || sb.kind !== 'overlay') throw new Error(`no overlay ${l.fs} (model bug)`);
      return tail(ovl_mount, { sb: sb.id });
    },
  }),
);

/** ovl_read_iter: the real inode's data. */
const ovl_read_iter = kfunc<ReadA>('ovl_read_iter', 'fs/overlayfs/file.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const real = realInode(c.w, c.w.sbs[f.sb]!, f.name);
    if (!real) return ret(neg('ENOENT'));
    return ret(shmem_read(c, real.inode, l.offset, l.n));
  },
});

/**
 * ovl_write_iter: the model's overlays have no upper layer, so no file of theirs is ever
 * opened for writing (EROFS at open); it is here because the table has it (6.9's
 * BACKING_OPEN asks for read_iter and write_iter).
 */
const ovl_write_iter = kfunc<WriteA>('ovl_write_iter', 'fs/overlayfs/file.c', {
  start() {
    return ret(neg('EROFS'));
  },
});

/**
 * ovl_llseek: the real file seeks (its f_pos carried over and back): the real tmpfs inode's
 * shmem_file_llseek, over its size.
 */
const ovl_llseek = kfunc<LlseekA>('ovl_llseek', 'fs/overlayfs/file.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const real = realInode(c.w, c.w.sbs[f.sb]!, f.name);
    const size = real?.inode.data.length ?? 0;
    if ((l.whence === SEEK_DATA || l.whence === SEEK_HOLE) && l.offset < 0) return ret(neg('ENXIO'));
    return ret(generic_file_llseek(f, l.offset, l.whence, size));
  },
});

/**
 * ovl_fsync / ovl_dir_fsync: only an upper file is synced ("don't sync lower file for fear
 * of receiving EROFS"); the model's overlays have only lower layers: 0.
 */
const ovl_fsync = kfunc<FsyncA>('ovl_fsync', 'fs/overlayfs/file.c', {
  start() {
    return ret(0);
  },
});

register_file_operations('ovl', {
  name: 'ovl_file_operations',
  read_iter: ovl_read_iter,
  write_iter: ovl_write_iter,
  splice_read: copy_splice_read,
  mmap: generic_file_mmap,
  llseek: ovl_llseek,
  fsync: ovl_fsync,
});
// ovl_dir_llseek of a directory from one layer is the real directory's (dcache_dir_lseek)
register_file_operations('ovl_dir', { name: 'ovl_dir_operations', read: generic_read_dir, llseek: dcache_dir_lseek, fsync: ovl_fsync });

/** ovl_getattr: the real inode's size. */
const ovl_getattr = kfunc<{ sb: number; name: string }>('ovl_getattr', 'fs/overlayfs/inode.c', {
  start(c, l) {
    const real = realInode(c.w, c.w.sbs[l.sb]!, l.name);
    return ret(real ? real.inode.data.length : neg('ENOENT'));
  },
});

/** ovl_init (module_init): register the overlay filesystem type. */
export function ovl_init() {
  register_filesystem({
    name: 'overlay',
    lookup: ovl_lookup,
    inodeKind: (w, sb, name) => realInode(w, sb, name)?.inode.kind ?? 'reg',
    fops: (kind) => (kind === 'dir' ? 'ovl_dir' : 'ovl'),
    // lower layers only: SB_RDONLY
    readonly: () => true,
    realSb: (w, sb, name) => realInode(w, sb, name)?.sb.id ?? sb.id,
    getattr: ovl_getattr,
    // a lock taken through the overlay is its own inode's, not the real inode's (no ->lock)
    i_flctx: (c, f, create) => {
      const sb = ovl(c.w.sbs[f.sb]!);
      if (!sb.flctx?.[f.name] && create) (sb.flctx ??= {})[f.name] = { flc_flock: [], flc_posix: [] };
      return sb.flctx?.[f.name] ?? null;
    },
    statfs: simple_statfs,
    mount: ovl_mount,
    lowers: (sb) => ovl(sb).layers,
    peek: (w, sb, name) => {
      const real = realInode(w, sb, name);
      return real ? { data: real.inode.data, mtime: real.inode.mtime } : null;
    },
    poke: (w, sb, name, offset, data) => {
      const real = realInode(w, sb, name);
      if (real) shmem_write(w, real.inode, offset, data);
    },
  });
}
