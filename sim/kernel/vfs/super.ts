// fs/super.c and the filesystems around FUSE: superblocks with s_stack_depth, path
// resolution to a superblock, and overlayfs' stacking limit.
import type { FileObj, OverlaySb, PlainInode, SuperBlock, World } from '../state.ts';

/** include/linux/fs.h: FILESYSTEM_MAX_STACK_DEPTH */
export const FILESYSTEM_MAX_STACK_DEPTH = 2;

export interface Resolved {
  sb: SuperBlock;
  name: string;
}

/** "/<mount>/<name>" to its superblock and the name within it. */
export function resolvePath(w: World, path: string): Resolved | null {
  const m = /^\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (!m) return null;
  const sb = w.sbs.find((s) => s.name === m[1] && s.mounted);
  if (!sb) return null;
  return { sb, name: m[2] ?? '' };
}

export function fileSb(w: World, f: FileObj): SuperBlock {
  return w.sbs[f.sb]!;
}

/** The plain inode behind a name on a plain or overlay sb (overlay: topmost layer wins). */
export function realInode(w: World, sb: SuperBlock, name: string): { sb: SuperBlock; inode: PlainInode } | null {
  if (sb.kind === 'plain') {
    const inode = sb.files[name];
    return inode ? { sb, inode } : null;
  }
  if (sb.kind === 'overlay') {
    for (const id of sb.layers) {
      const r = realInode(w, w.sbs[id]!, name);
      if (r) return r;
    }
  }
  return null;
}

/**
 * The type of a file's inode (i_mode): a FUSE file in the model is always a regular file (the
 * scripted servers export no directories); plain and overlay files look at the real inode.
 */
export function fileInodeKind(w: World, f: FileObj): PlainInode['kind'] {
  const sb = fileSb(w, f);
  if (sb.kind === 'fuse') return 'reg';
  return realInode(w, sb, f.name)?.inode.kind ?? 'reg';
}

/**
 * fs/overlayfs/super.c: ovl_fill_super's depth rule: one more than its deepest layer, and
 * mounting fails (EINVAL, "maximum fs stacking depth exceeded") beyond the limit.
 */
export function overlayDepth(w: World, sb: OverlaySb): number {
  return 1 + Math.max(0, ...sb.layers.map((id) => w.sbs[id]!.s_stack_depth));
}
