// fs/namei.c: the path walk, cut to what the model's paths are: "/<mount>/<name>", a mount
// point and a name on its filesystem. Looking the name up is the filesystem's business
// (s_type(sb).lookup: i_op->lookup through the dcache).
import type { SuperBlock, World } from '../state.ts';

export interface Resolved {
  sb: SuperBlock;
  name: string;
}

/** "/<mount>/<name>" to its (mounted) superblock and the name within it. */
export function resolvePath(w: World, path: string): Resolved | null {
  const m = /^\/([^/]+)(?:\/(.*))?$/.exec(path);
  if (!m) return null;
  const sb = w.sbs.find((s) => s.name === m[1] && s.mounted);
  if (!sb) return null;
  return { sb, name: m[2] ?? '' };
}
