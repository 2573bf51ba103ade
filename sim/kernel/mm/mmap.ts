// mm/mmap.c: mmap(2) and munmap(2). A mapping is a vma that holds a file reference until
// it is unmapped: the file's own, or whatever its ->mmap chose (a passthrough file maps its
// backing file).
import { call, entry, goto, kfunc, ret } from '../exec.ts';
import type { Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op } from '../vfs/fs.ts';
import { fdget, fdput } from '../vfs/file.ts';
import { fput } from '../vfs/file_table.ts';

interface MmapSysA {
  fd: number;
  shared: boolean;
  /** PROT_WRITE (PROT_READ is always asked) */
  write?: boolean;
  /** bytes, from offset 0 */
  len?: number;
}

interface MmapSysL extends MmapSysA {
  file: Ptr;
  vmaFile: Ptr;
}

/**
 * mmap(2) (do_mmap): a file not open for reading cannot be mapped, nor shared-writable
 * unless it is open for writing (EACCES); a file without ->mmap cannot be mapped (ENODEV).
 * Returns a mapping id.
 */
export const sys_mmap = entry(
  'mmap',
  kfunc<MmapSysA, MmapSysL>('sys_mmap', 'mm/mmap.c', {
    start(c, l) {
      const f = fdget(c, l.fd);
      if (!f) return ret(neg('EBADF'));
      l.file = f.ptr;
      if (!f.read || (l.shared && l.write && !f.write)) return fdput(c, l.file, neg('EACCES'));
      const mmap = f_op(f).mmap;
      if (!mmap) return fdput(c, l.file, neg('ENODEV'));
      return call(mmap, { file: f.ptr, shared: !!l.shared, write: !!l.write }, 'mapped', 'vmaFile');
    },
    mapped(c, l) {
      if (l.vmaFile < 0) return fdput(c, l.file, l.vmaFile);
      const id = c.p.nextVma++;
      c.p.vmas.push({ id, file: l.vmaFile, shared: !!l.shared, write: !!l.write, len: l.len ?? 4096, cow: {} });
      if (c.record) c.emit('fd', `${c.t.name}: vma ${id} maps file#${l.vmaFile}`);
      return fdput(c, l.file, id);
    },
  }),
);

interface MunmapL {
  vma: number;
  file: Ptr;
  r: number;
}

/**
 * munmap(2): the vma goes; its file's vm_ops->close runs first (FUSE without writeback cache:
 * fuse_vma_close writes the dirty pages back), then the vma's file reference is dropped.
 */
export const sys_munmap = entry(
  'munmap',
  kfunc<{ vma: number }, MunmapL>('sys_munmap', 'mm/mmap.c', {
    start(c, l) {
      const i = c.p.vmas.findIndex((v) => v.id === l.vma);
      if (i < 0) return ret(neg('EINVAL'));
      const v = c.p.vmas[i]!;
      c.p.vmas.splice(i, 1);
      if (c.record) c.emit('fd', `${c.t.name}: vma ${v.id} unmapped`);
      l.file = v.file;
      const close = v.shared ? f_op(c.deref(v.file, 'file')).vma_close : undefined;
      if (close) return call(close, { file: v.file }, 'put', 'r');
      return goto('put');
    },
    put(c, l) {
      fput(c, l.file);
      return ret(0);
    },
  }),
);
