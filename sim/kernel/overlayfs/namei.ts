// fs/overlayfs/namei.c: looking a name up in an overlay (lower layers only: the model's
// overlays are read-only), layer by layer through each layer's own lookup.
import { call, goto, kfunc, ret } from '../exec.ts';
import type { OverlaySb, PlainInode, PlainSb, SuperBlock, World } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { s_type } from '../vfs/fs.ts';

/**
 * The real inode behind a name: the topmost layer's that has it. The model's overlay files
 * read their lower layers' data: a name found only on a FUSE layer (looked up, see
 * ovl_lookup) is not followed.
 */
export function realInode(w: World, sb: SuperBlock, name: string): { sb: SuperBlock; inode: PlainInode } | null {
  if (sb.kind === 'plain') {
    const inode = (sb as PlainSb).files[name];
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

interface OvlLookupA {
  sb: number;
  name: string;
}

interface OvlLookupL extends OvlLookupA {
  /** the layer being looked at */
  i: number;
  r: number;
}

/**
 * ovl_lookup: walk the lower layers, topmost first, until one has the name, each through
 * its own lookup (a FUSE layer is asked with a LOOKUP its server sees; a negative answer
 * goes on to the next layer). The overlay dentry is cached once found, and not looked up
 * again. 0 when the name has a real inode the model can follow, else ENOENT.
 */
export const ovl_lookup = kfunc<OvlLookupA, OvlLookupL>('ovl_lookup', 'fs/overlayfs/namei.c', {
  start(c, l) {
    const sb = c.w.sbs[l.sb] as OverlaySb;
    if (sb.dentries[l.name]) return goto('found');
    l.i = 0;
    return goto('layer');
  },
  layer(c, l) {
    const sb = c.w.sbs[l.sb] as OverlaySb;
    const id = sb.layers[l.i];
    if (id === undefined) return ret(neg('ENOENT'));
    return call(s_type(c.w.sbs[id]!).lookup, { sb: id, name: l.name }, 'layer_done', 'r');
  },
  layer_done(c, l) {
    if (l.r === neg('ENOENT')) {
      l.i++;
      return goto('layer');
    }
    if (l.r < 0) return ret(l.r);
    const sb = c.w.sbs[l.sb] as OverlaySb;
    const lsb = c.w.sbs[sb.layers[l.i]!]!;
    if (!realInode(c.w, lsb, l.name)) c.emit('note', `ovl_lookup: ${l.name} is on layer /${lsb.name}, which the model's overlay files do not follow`);
    sb.dentries[l.name] = true;
    return goto('found');
  },
  found(c, l) {
    return ret(realInode(c.w, c.w.sbs[l.sb]!, l.name) ? 0 : neg('ENOENT'));
  },
});
