// mm/mmap.c: mmap(2) and munmap(2). A mapping is a vma that holds a file reference until
// it is unmapped: the file's own, or whatever its ->mmap chose (a passthrough file maps its
// backing file).
import { call, entry, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op } from '../vfs/fs.ts';
import { fdget, fdput } from '../vfs/file.ts';
import { fput } from '../vfs/file_table.ts';

interface MmapSysA {
  fd: number;
  shared: boolean;
}

interface MmapSysL extends MmapSysA {
  file: Ptr;
  vmaFile: Ptr;
}

/** mmap(2): returns a mapping id; a file without ->mmap cannot be mapped (ENODEV). */
export const sys_mmap = entry(
  'mmap',
  kfunc<MmapSysA, MmapSysL>('sys_mmap', 'mm/mmap.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      const mmap = f_op(f).mmap;
      if (!mmap) return fdput(c, l.file, neg('ENODEV'));
      return call(mmap, { file: f.ptr, shared: !!l.shared }, 'mapped', 'vmaFile');
    },
    mapped(c, l) {
      if (l.vmaFile < 0) return fdput(c, l.file, l.vmaFile);
      const id = c.p.nextVma++;
      c.p.vmas.push({ id, file: l.vmaFile, shared: !!l.shared });
      c.emit('fd', `${c.t.name}: vma ${id} maps file#${l.vmaFile}`);
      return fdput(c, l.file, id);
    },
  }),
);

/** munmap(2) */
export const sys_munmap = entry(
  'munmap',
  kfunc<{ vma: number }>('sys_munmap', 'mm/mmap.c', {
    start(c, l) {
      const i = c.p.vmas.findIndex((v) => v.id === l.vma);
      if (i < 0) return ret(neg('EINVAL'));
      const v = c.p.vmas[i]!;
      c.p.vmas.splice(i, 1);
      c.emit('fd', `${c.t.name}: vma ${v.id} unmapped`);
      fput(c, v.file);
      return ret(0);
    },
  }),
);
