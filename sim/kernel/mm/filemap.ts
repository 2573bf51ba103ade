// mm/filemap.c and mm/truncate.c: the page cache of an inode, as a filesystem with one
// keeps it (a FUSE inode's i_mapping): page index -> the page's bytes, uptodate pages only.
// filemap_read serves a read from it, asking the filesystem's ->read_folio for each page
// that is missing (no readahead: the model's servers answer INIT with max_readahead 0, so
// ra_pages is 0 and each missing page is one ->read_folio).
import { call, goto, kfunc, ret } from '../exec.ts';
import { f_op, type ReadA } from '../vfs/fs.ts';
import type { Pages } from '../state.ts';

export const PAGE_SIZE = 4096;


/** The pages a read of n bytes at pos touches, stopping at i_size (filemap_read never reads past EOF). */
export function pagesToRead(pos: number, n: number, size: number): number[] {
  const end = Math.min(pos + n, size);
  if (end <= pos) return [];
  const out: number[] = [];
  for (let i = Math.floor(pos / PAGE_SIZE); i * PAGE_SIZE < end; i++) out.push(i);
  return out;
}

/** filemap_read's copy to the user: the bytes pos..min(pos+n, size) from uptodate pages. */
export function copyFromPages(pages: Pages, pos: number, n: number, size: number): string {
  const end = Math.min(pos + n, size);
  let out = '';
  for (let at = pos; at < end; ) {
    const i = Math.floor(at / PAGE_SIZE);
    const page = pages[i] ?? '';
    const from = at - i * PAGE_SIZE;
    const to = Math.min(PAGE_SIZE, end - i * PAGE_SIZE);
    out += page.slice(from, to).padEnd(to - from, '\0');
    at = i * PAGE_SIZE + to;
  }
  return out;
}

/**
 * A buffered write's copy into the page cache (generic_perform_write / fuse_fill_write_pages):
 * an uptodate page takes the new bytes; a page the write covers whole becomes uptodate; a
 * partly written page that was not uptodate stays out of the cache (write-through: the data
 * goes to the server, and the next read of that page asks for it).
 */
export function writeToPages(pages: Pages, pos: number, data: string): void {
  const end = pos + data.length;
  for (let i = Math.floor(pos / PAGE_SIZE); i * PAGE_SIZE < end; i++) {
    const start = i * PAGE_SIZE;
    const from = Math.max(pos, start) - start;
    const to = Math.min(end, start + PAGE_SIZE) - start;
    const chunk = data.slice(start + from - pos, start + to - pos);
    const old = pages[i];
    if (old !== undefined) pages[i] = old.padEnd(from, '\0').slice(0, from) + chunk + old.slice(to);
    else if (from === 0 && to === PAGE_SIZE) pages[i] = chunk;
  }
}

/** truncate_pagecache(inode, size): pages past the new size go, the last one is cut. */
export function truncatePages(pages: Pages, size: number): void {
  for (const k of Object.keys(pages)) {
    const i = Number(k);
    if (i * PAGE_SIZE >= size) delete pages[i];
    else if ((i + 1) * PAGE_SIZE > size) pages[i] = pages[i]!.slice(0, size - i * PAGE_SIZE);
  }
}

/**
 * truncate_inode_pages_range (truncate_pagecache_range): the pages wholly inside bytes
 * start..end (inclusive) go, a page the range covers in part keeps its other bytes and has
 * the covered ones zeroed.
 */
export function truncatePagesRange(pages: Pages, start: number, end: number): void {
  for (const k of Object.keys(pages)) {
    const i = Number(k);
    const from = i * PAGE_SIZE;
    const to = from + PAGE_SIZE - 1;
    if (to < start || from > end) continue;
    if (from >= start && to <= end) {
      delete pages[i];
      continue;
    }
    const page = pages[i]!;
    const a = Math.max(start, from) - from;
    const b = Math.min(end, to) - from + 1;
    if (a < page.length) pages[i] = page.slice(0, a) + '\0'.repeat(Math.min(b, page.length) - a) + page.slice(b);
  }
}

/** invalidate_inode_pages2: every clean page goes. */
export function invalidatePages(pages: Pages): void {
  for (const k of Object.keys(pages)) delete pages[Number(k)];
}

interface FilemapReadL extends ReadA {
  r: number;
}

/** filemap_read: the bytes of pos..pos+n below i_size, each missing page read first. */
export const filemap_read = kfunc<ReadA, FilemapReadL>('filemap_read', 'mm/filemap.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const ops = f_op(f);
    if (!ops.mapping || !ops.read_folio) throw new Error(`filemap_read: ${ops.name} has no page cache (model bug)`);
    const m = ops.mapping(c, f);
    const missing = pagesToRead(l.offset, l.n, m.size).find((i) => m.pages[i] === undefined);
    if (missing === undefined) {
      c.data = copyFromPages(m.pages, l.offset, l.n, m.size);
      return ret(c.data.length);
    }
    return call(ops.read_folio, { file: l.file, index: missing }, 'read', 'r');
  },
  read(_c, l) {
    if (l.r < 0) return ret(l.r);
    return goto('start');
  },
});
