// fs/overlayfs/super.c and file.c: mounting an overlay (its stacking depth, and the limit),
// and its files, which read their real inode on a lower layer.
import { call, entry, goto, kfunc, ret } from '../exec.ts';
import type { OverlaySb, SuperBlock, World } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { register_file_operations, register_filesystem, s_type, type ReadA, type WriteA } from '../vfs/fs.ts';
import type { Ctx } from '../ctx.ts';
import { FILESYSTEM_MAX_STACK_DEPTH } from '../vfs/super.ts';
import { copy_splice_read } from '../vfs/splice.ts';
import { generic_file_mmap, generic_read_dir, simple_statfs } from '../vfs/libfs.ts';
import { shmem_read, shmem_write } from '../mm/shmem.ts';
import { ovl_lookup, realInode } from './namei.ts';

const ovl = (sb: SuperBlock) => sb as OverlaySb;

/** ovl_fill_super's depth rule: one more than its deepest layer. */
export function overlayDepth(w: World, sb: OverlaySb): number {
  return 1 + Math.max(0, ...sb.layers.map((id) => w.sbs[id]!.s_stack_depth));
}

/** The depth check and the mount itself; EINVAL, "maximum fs stacking depth exceeded", beyond the limit. */
function ovl_fill_super(c: Ctx, sb: OverlaySb): number {
  const depth = overlayDepth(c.w, sb);
  if (depth > FILESYSTEM_MAX_STACK_DEPTH) {
    c.emit('note', `overlayfs: maximum fs stacking depth exceeded (${depth} > ${FILESYSTEM_MAX_STACK_DEPTH})`);
    return neg('EINVAL');
  }
  sb.s_stack_depth = depth;
  sb.mounted = true;
  c.emit('field', `mount overlay /${sb.name}: s_stack_depth ${depth}`);
  return 0;
}

/** mount(2) of an overlay at run time: its layers must be mounted (ENOENT), then fill_super. */
const ovl_mount = kfunc<{ sb: number }>('ovl_mount', 'fs/overlayfs/super.c', {
  start(c, l) {
    const sb = ovl(c.w.sbs[l.sb]!);
    if (sb.layers.some((id) => !c.w.sbs[id]!.mounted)) return ret(neg('ENOENT'));
    return ret(ovl_fill_super(c, sb));
  },
});

interface SetupL {
  fs: string;
  sb: number;
  i: number;
  r: number;
}

/**
 * The harness mounting an overlay declared "mount": "setup". ovl_fill_super statfs's each
 * layer (ovl_check_namelen -> vfs_statfs): a FUSE layer's statfs waits for its INIT, so the
 * layer's s_stack_depth is known before the overlay's is computed.
 */
entry(
  'mount_overlay_setup',
  kfunc<{ fs: string }, SetupL>('ovl_mount_setup', 'fs/overlayfs/super.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === l.fs);
      if (!sb || sb.kind !== 'overlay') throw new Error(`no overlay ${l.fs} (model bug)`);
      l.sb = sb.id;
      l.i = 0;
      return goto('statfs');
    },
    statfs(c, l) {
      const id = ovl(c.w.sbs[l.sb]!).layers[l.i];
      if (id === undefined) return ret(ovl_fill_super(c, ovl(c.w.sbs[l.sb]!)));
      l.i++;
      return call(s_type(c.w.sbs[id]!).statfs, { sb: id }, 'statfs', 'r');
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

register_file_operations('ovl', {
  name: 'ovl_file_operations',
  read_iter: ovl_read_iter,
  write_iter: ovl_write_iter,
  splice_read: copy_splice_read,
  mmap: generic_file_mmap,
});
register_file_operations('ovl_dir', { name: 'ovl_dir_operations', read: generic_read_dir });

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
