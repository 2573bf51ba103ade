// mm/memory.c: a process touching its mappings. A load or a store through a vma faults the
// file's page in (filemap_fault: a page-cache file's ->read_folio for a page it lacks; past
// the file's last page the process gets SIGBUS), and a store to a shared mapping dirties the
// page (->page_mkwrite), to be written back later (msync, munmap, close). A store to a
// read-only mapping is SIGSEGV; a private mapping's stores go to its own copies of the pages.
// The ops report a fault as EFAULT, as fpsim-user's guarded copy does on the real side.
import type { Ctx } from '../ctx.ts';
import { call, entry, goto, kfunc, ret } from '../exec.ts';
import type { Vma } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { f_op, s_type } from '../vfs/fs.ts';
import { PAGE_SIZE } from './filemap.ts';

interface TouchA {
  vma: number;
  offset: number;
  n?: number;
  data?: string;
}

interface TouchL extends TouchA {
  r: number;
}

function vmaOf(c: Ctx, id: number): Vma | undefined {
  return c.p.vmas.find((v) => v.id === id);
}

const pageIndexes = (offset: number, n: number) => {
  const out: number[] = [];
  for (let i = Math.floor(offset / PAGE_SIZE); i * PAGE_SIZE < offset + n; i++) out.push(i);
  return out;
};

/** The file's pages as a mapping sees them (page cache, or the file's own data), and how many it has. */
function view(c: Ctx, v: Vma) {
  const f = c.deref(v.file, 'file');
  const ops = f_op(f);
  if (ops.mapping && ops.read_folio) {
    const m = ops.mapping(c, f);
    return { paged: true as const, pages: m.pages, dirty: m.dirty, size: m.size, read_folio: ops.read_folio };
  }
  const sb = c.w.sbs[f.sb]!;
  const data = s_type(sb).peek(c.w, sb, f.name)?.data ?? '';
  return { paged: false as const, data, size: data.length };
}

/** The touch's own bounds (the mapping's length), as fpsim-user checks them: EINVAL. */
function outOfRange(v: Vma | undefined, offset: number, n: number): boolean {
  return !v || offset < 0 || offset > v.len || n > v.len - offset;
}

/** A load of n bytes at offset through mapping `vma`: the bytes. */
export const sys_mread = entry(
  'mread',
  kfunc<TouchA, TouchL>('handle_mm_fault', 'mm/memory.c', {
    start(c, l) {
      const v = vmaOf(c, l.vma);
      const n = l.n ?? 0;
      if (!v || outOfRange(v, l.offset, n)) return ret(neg('EINVAL'));
      const m = view(c, v);
      const maxIdx = Math.ceil(m.size / PAGE_SIZE);
      const idx = pageIndexes(l.offset, n);
      if (idx.some((i) => i >= maxIdx)) return ret(neg('EFAULT')); // SIGBUS past the last page
      if (m.paged) {
        const missing = idx.find((i) => m.pages[i] === undefined && v.cow[i] === undefined);
        if (missing !== undefined) return call(m.read_folio, { file: v.file, index: missing }, 'faulted', 'r');
      }
      let out = '';
      for (const i of idx) {
        const page = (v.cow[i] ?? (m.paged ? m.pages[i]! : m.data.slice(i * PAGE_SIZE, (i + 1) * PAGE_SIZE))).padEnd(PAGE_SIZE, '\0');
        const from = Math.max(l.offset, i * PAGE_SIZE) - i * PAGE_SIZE;
        const to = Math.min(l.offset + n, (i + 1) * PAGE_SIZE) - i * PAGE_SIZE;
        out += page.slice(from, to);
      }
      c.data = out;
      return ret(n);
    },
    faulted(_c, l) {
      if (l.r < 0) return ret(neg('EFAULT'));
      return goto('start');
    },
  }),
);

/** A store of data at offset through mapping `vma`: its length. */
export const sys_mwrite = entry(
  'mwrite',
  kfunc<TouchA, TouchL>('handle_mm_fault_write', 'mm/memory.c', {
    start(c, l) {
      const v = vmaOf(c, l.vma);
      const data = l.data ?? '';
      if (!v || outOfRange(v, l.offset, data.length)) return ret(neg('EINVAL'));
      if (!v.write) return ret(neg('EFAULT')); // SIGSEGV: the mapping is read-only
      const m = view(c, v);
      const maxIdx = Math.ceil(m.size / PAGE_SIZE);
      const idx = pageIndexes(l.offset, data.length);
      if (idx.some((i) => i >= maxIdx)) return ret(neg('EFAULT'));
      if (m.paged) {
        // a write fault reads the page in first (__do_fault), then ->page_mkwrite
        const missing = idx.find((i) => m.pages[i] === undefined && v.cow[i] === undefined);
        if (missing !== undefined) return call(m.read_folio, { file: v.file, index: missing }, 'faulted', 'r');
      }
      for (const i of idx) {
        const base = v.cow[i] ?? (m.paged ? m.pages[i]! : m.data.slice(i * PAGE_SIZE, (i + 1) * PAGE_SIZE));
        const page = base.padEnd(PAGE_SIZE, '\0');
        const from = Math.max(l.offset, i * PAGE_SIZE) - i * PAGE_SIZE;
        const to = Math.min(l.offset + data.length, (i + 1) * PAGE_SIZE) - i * PAGE_SIZE;
        const chunk = data.slice(i * PAGE_SIZE + from - l.offset, i * PAGE_SIZE + to - l.offset);
        const next = page.slice(0, from) + chunk + page.slice(to);
        if (!v.shared) v.cow[i] = next;
        else if (m.paged) {
          m.pages[i] = next;
          if (!m.dirty.includes(i)) {
            m.dirty.push(i);
            m.dirty.sort((a, b) => a - b);
          }
        } else {
          // shmem: the page is the file's; what lies past i_size stays invisible
          const f = c.deref(v.file, 'file');
          const sb = c.w.sbs[f.sb]!;
          const start = i * PAGE_SIZE + from;
          const keep = Math.max(0, Math.min(chunk.length, m.size - start));
          if (keep > 0) s_type(sb).poke?.(c.w, sb, f.name, start, chunk.slice(0, keep));
        }
      }
      if (c.record) c.emit('field', `${c.t.name}: ${data.length} bytes stored through vma ${v.id}${v.shared ? '' : ' (private copy)'}`);
      return ret(data.length);
    },
    faulted(_c, l) {
      if (l.r < 0) return ret(neg('EFAULT'));
      return goto('start');
    },
  }),
);
