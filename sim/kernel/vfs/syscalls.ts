// The user-visible entry points: each op of a task's program starts one of these. They
// return a result or -errno as the syscall would (fs/open.c, fs/read_write.c, mm/mmap.c,
// fs/ioctl.c, fs/namespace.c).
import type { Ctx } from '../ctx.ts';
import { call, goto, kfunc, ret, type Next } from '../exec.ts';
import type { FileObj, OverlaySb, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { fuse_abort_conn, fuse_get_dev } from '../fuse/dev.ts';
import { fuse_evict_inode, fuse_umount } from '../fuse/inode.ts';
import { alloc_file, discard_file, fd_install, fget, fput, get_file } from './file.ts';
import { FILESYSTEM_MAX_STACK_DEPTH, overlayDepth, realInode, resolvePath } from './super.ts';
import { FUSE_DEV_IOC_BACKING_CLOSE, FUSE_DEV_IOC_BACKING_OPEN, FUSE_DEV_IOC_SYNC_INIT } from '../../wire/uapi.ts';
import { setField } from '../lib/once.ts';

/**
 * The path walk's reference: open(2) and stat(2) hold the dentry (and so the inode) from the
 * lookup until they return, so the inode cannot be evicted under them while they wait for
 * the server (drop_inode and umount see it busy).
 */
function pathGet(c: Ctx, inode: Ptr) {
  const fi = c.deref(inode, 'fuse_inode');
  setField(c, fi, 'icount', fi.icount + 1);
}

/** fs/namei.c: path_put at the end of the path walk: the walk's inode reference goes. */
function pathPut(c: Ctx, inode: Ptr) {
  const fi = c.deref(inode, 'fuse_inode');
  setField(c, fi, 'icount', fi.icount - 1);
}

interface OpenL {
  path: string;
  write: boolean;
  opath: boolean;
  file: Ptr;
  inode: Ptr;
  err: number;
}

interface OvlLookupL {
  sb: number;
  name: string;
  /** the layer being looked at */
  i: number;
  inode: Ptr;
}

/**
 * ovl_lookup (fs/overlayfs/namei.c): walk the lower layers, topmost first, until one has the
 * name. A FUSE layer is asked with a LOOKUP (a real request: its server sees it); a negative
 * answer goes on to the next layer. The overlay dentry is cached once found. (A name found
 * on a FUSE layer is noted but not followed: the model's overlay files are plain files.)
 */
kfunc<OvlLookupL>('ovl_lookup', 'fs/overlayfs/namei.c', {
  start(c, l) {
    const sb = c.w.sbs[l.sb] as OverlaySb;
    if (sb.dentries[l.name]) return ret(0);
    l.i = 0;
    return goto('layer');
  },
  layer(c, l) {
    const sb = c.w.sbs[l.sb] as OverlaySb;
    const id = sb.layers[l.i];
    if (id === undefined) return ret(neg('ENOENT'));
    const lsb = c.w.sbs[id]!;
    if (lsb.kind === 'fuse') return call('fuse_lookup', { sb: lsb.id, name: l.name }, 'fuse_done', 'inode');
    if (realInode(c.w, lsb, l.name)) return goto('found');
    l.i++;
    return goto('layer');
  },
  fuse_done(c, l) {
    if (l.inode === neg('ENOENT')) {
      l.i++;
      return goto('layer');
    }
    if (l.inode < 0) return ret(l.inode);
    c.emit('note', `ovl_lookup: ${l.name} is on FUSE layer /${c.w.sbs[(c.w.sbs[l.sb] as OverlaySb).layers[l.i]!]!.name} (not followed by the model)`);
    return goto('found');
  },
  found(c, l) {
    (c.w.sbs[l.sb] as OverlaySb).dentries[l.name] = true;
    return ret(0);
  },
});

/** open(2) of a plain file, or of an overlay's (its layers were walked). */
function openLocal(c: Ctx, l: OpenL): Next {
  const r = resolvePath(c.w, l.path);
  if (!r) return ret(neg('ENOENT'));
  const { sb, name } = r;
  const real = realInode(c.w, sb, name);
  if (!real) return ret(neg('ENOENT'));
  if (!l.opath && l.write) {
    if (real.inode.kind === 'dir') return ret(neg('EISDIR'));
    if (sb.kind === 'overlay' || real.sb.kind !== 'plain' || real.sb.readonly) return ret(neg('EROFS'));
  }
  const f = alloc_file(c, {
    sb: sb.id,
    name,
    write: l.write && !l.opath,
    opath: !!l.opath,
    // a FIFO's f_op (pipefifo_fops) has read_iter and write_iter too
    hasIter: real.inode.kind !== 'dir' && !l.opath,
    fuseFile: 0,
    backing: false,
    devConn: 0,
    realSb: real.sb.id,
  });
  return ret(fd_install(c, f.ptr));
}

/** open(2): O_RDONLY, O_RDWR (write) or O_PATH. */
kfunc<OpenL>('sys_open', 'fs/open.c', {
  start(c, l) {
    const r = resolvePath(c.w, l.path);
    if (!r || r.name === '') return ret(neg('ENOENT'));
    const { sb, name } = r;
    if (sb.kind === 'fuse') {
      return call('fuse_lookup', { sb: sb.id, name }, 'fuse_found', 'inode');
    }
    if (sb.kind === 'overlay') return call('ovl_lookup', { sb: sb.id, name }, 'ovl_found', 'err');
    return openLocal(c, l);
  },
  ovl_found(c, l) {
    if (l.err < 0) return ret(l.err);
    return openLocal(c, l);
  },
  fuse_found(c, l) {
    if (l.inode < 0) return ret(l.inode);
    const fi = c.deref(l.inode, 'fuse_inode');
    const f = alloc_file(c, {
      sb: fi.sb,
      name: fi.name,
      write: l.write && !l.opath,
      opath: !!l.opath,
      hasIter: !l.opath,
      fuseFile: 0,
      backing: false,
      devConn: 0,
      realSb: fi.sb,
    });
    l.file = f.ptr;
    if (l.opath) return ret(fd_install(c, f.ptr)); // O_PATH: no ->open, no OPEN request
    pathGet(c, l.inode);
    return call('fuse_open', { file: l.file }, 'opened', 'err');
  },
  opened(c, l) {
    pathPut(c, l.inode);
    if (l.err < 0) {
      discard_file(c, l.file);
      return ret(l.err);
    }
    return ret(fd_install(c, l.file));
  },
});

/**
 * fdget(): the fd's file with a reference held for the whole syscall, as the kernel does when
 * the fd table is shared: a sibling thread's close(2) cannot free the file under a read that
 * sleeps waiting for the server. NULL for a bad fd or an O_PATH file. Pair with fdput().
 */
function fdget(c: Ctx, fd: number): FileObj | null {
  const p = fget(c, fd);
  return p === 0 ? null : c.deref(p, 'file');
}

/** fdput(), then return v: the syscall's last reference may be the file's last (->release runs here). */
function fdput(c: Ctx, file: Ptr, v: number) {
  fput(c, file);
  return ret(v);
}

interface IoL {
  fd: number;
  file: Ptr;
  offset: number;
  n: number;
  data: string;
  r: number;
}

/** pread(2) */
kfunc<IoL>('sys_read', 'fs/read_write.c', {
  start(c, l) {
    const f = fdget(c, l.fd);
    if (!f) return ret(neg('EBADF'));
    l.file = f.ptr;
    return call('vfs_read_iter', { file: f.ptr, offset: l.offset ?? 0, n: l.n ?? 4096 }, 'done', 'r');
  },
  done(c, l) {
    return fdput(c, l.file, l.r);
  },
});

/** pwrite(2) */
kfunc<IoL>('sys_write', 'fs/read_write.c', {
  start(c, l) {
    const f = fdget(c, l.fd);
    if (!f) return ret(neg('EBADF'));
    l.file = f.ptr;
    if (!f.write) return fdput(c, l.file, neg('EBADF'));
    return call('vfs_write_iter', { file: f.ptr, offset: l.offset ?? 0, data: l.data ?? '' }, 'done', 'r');
  },
  done(c, l) {
    return fdput(c, l.file, l.r);
  },
});

/**
 * splice(2) from the file into a pipe (the pipe's side is not modelled: the data is the
 * result, as for read). FUSE files go through ->splice_read, others through read_iter.
 */
kfunc<IoL>('sys_splice_read', 'fs/splice.c', {
  start(c, l) {
    const f = fdget(c, l.fd);
    if (!f) return ret(neg('EBADF'));
    l.file = f.ptr;
    const args = { file: f.ptr, offset: l.offset ?? 0, n: l.n ?? 4096 };
    return call(f.fuseFile ? 'fuse_splice_read' : 'vfs_read_iter', args, 'done', 'r');
  },
  done(c, l) {
    return fdput(c, l.file, l.r);
  },
});

/** splice(2) from a pipe into the file: FUSE files go through ->splice_write. */
kfunc<IoL>('sys_splice_write', 'fs/splice.c', {
  start(c, l) {
    const f = fdget(c, l.fd);
    if (!f) return ret(neg('EBADF'));
    l.file = f.ptr;
    if (!f.write) return fdput(c, l.file, neg('EBADF'));
    const args = { file: f.ptr, offset: l.offset ?? 0, data: l.data ?? '' };
    return call(f.fuseFile ? 'fuse_splice_write' : 'vfs_write_iter', args, 'done', 'r');
  },
  done(c, l) {
    return fdput(c, l.file, l.r);
  },
});

/** ->read_iter of whatever filesystem the file is on (a passthrough read recurses here). */
kfunc<IoL>('vfs_read_iter', 'fs/read_write.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const sb = c.w.sbs[f.sb]!;
    if (sb.kind === 'fuse') return call('fuse_file_read_iter', { file: l.file, offset: l.offset, n: l.n }, 'done', 'r');
    const real = realInode(c.w, sb, f.name);
    if (!real) return ret(neg('ENOENT'));
    if (real.inode.kind === 'dir') return ret(neg('EISDIR'));
    const data = real.inode.data.slice(l.offset, l.offset + l.n);
    real.inode.atime = ++c.w.clock;
    c.data = data;
    return ret(data.length);
  },
  done(_c, l) {
    return ret(l.r);
  },
});

/** ->write_iter of whatever filesystem the file is on (a passthrough write recurses here). */
kfunc<IoL>('vfs_write_iter', 'fs/read_write.c', {
  start(c, l) {
    const f = c.deref(l.file, 'file');
    const sb = c.w.sbs[f.sb]!;
    if (sb.kind === 'fuse') return call('fuse_file_write_iter', { file: l.file, offset: l.offset, data: l.data }, 'done', 'r');
    const real = realInode(c.w, sb, f.name);
    if (!real || real.sb.kind !== 'plain' || real.sb.readonly || sb.kind !== 'plain') return ret(neg('EROFS'));
    const old = real.inode.data;
    real.inode.data = old.slice(0, l.offset).padEnd(l.offset, '\0') + l.data + old.slice(l.offset + l.data.length);
    real.inode.mtime = ++c.w.clock;
    c.emit('field', `/${sb.name}/${f.name}: ${l.data.length} bytes written at ${l.offset}, size ${real.inode.data.length}`);
    return ret(l.data.length);
  },
  done(_c, l) {
    return ret(l.r);
  },
});

interface MmapL {
  fd: number;
  file: Ptr;
  shared: boolean;
  vmaFile: Ptr;
}

/** mmap(2): returns a mapping id; the vma holds a file reference until munmap. */
kfunc<MmapL>('sys_mmap', 'mm/mmap.c', {
  start(c, l) {
    const f = fdget(c, l.fd);
    if (!f) return ret(neg('EBADF'));
    l.file = f.ptr;
    if (f.fuseFile) return call('fuse_file_mmap', { file: f.ptr, shared: !!l.shared }, 'mapped', 'vmaFile');
    if (!f.hasIter) return fdput(c, l.file, neg('ENODEV'));
    get_file(c, f.ptr);
    l.vmaFile = f.ptr;
    return goto('mapped');
  },
  mapped(c, l) {
    if (l.vmaFile < 0) return fdput(c, l.file, l.vmaFile);
    const id = c.p.nextVma++;
    c.p.vmas.push({ id, file: l.vmaFile, shared: !!l.shared });
    c.emit('fd', `${c.t.name}: vma ${id} maps file#${l.vmaFile}`);
    return fdput(c, l.file, id);
  },
});

/** munmap(2) */
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
});

interface CloseL {
  fd: number;
  file: Ptr;
  r: number;
}

/**
 * close(2): filp_flush runs ->flush (FUSE: FLUSH), then the fd's reference is dropped; close
 * returns what ->flush returned (the fd is gone either way).
 */
kfunc<CloseL>('sys_close', 'fs/open.c', {
  start(c, l) {
    const p = c.p.fds[l.fd];
    if (p === undefined) return ret(neg('EBADF'));
    delete c.p.fds[l.fd];
    c.emit('fd', `${c.t.name}: fd ${l.fd} closed`);
    l.file = p;
    const f = c.deref(p, 'file');
    l.r = 0;
    if (f.fuseFile) return call('fuse_flush', { file: p }, 'put', 'r');
    return goto('put');
  },
  put(c, l) {
    fput(c, l.file);
    return ret(l.r);
  },
});

interface StatL {
  path: string;
  /** AT_STATX_DONT_SYNC: whatever the inode has, no GETATTR */
  cached?: boolean;
  inode: Ptr;
  r: number;
}

/** stat(2) of a plain file, or of an overlay's (its layers were walked). */
function statLocal(c: Ctx, l: StatL): Next {
  const r = resolvePath(c.w, l.path);
  const real = r && realInode(c.w, r.sb, r.name);
  if (!real) return ret(neg('ENOENT'));
  return ret(real.inode.data.length);
}

/** stat(2), or statx(AT_STATX_DONT_SYNC) when cached: returns st_size. */
kfunc<StatL>('sys_stat', 'fs/stat.c', {
  start(c, l) {
    const r = resolvePath(c.w, l.path);
    if (!r || r.name === '') return ret(neg('ENOENT'));
    if (r.sb.kind === 'fuse') return call('fuse_lookup', { sb: r.sb.id, name: r.name }, 'found', 'inode');
    if (r.sb.kind === 'overlay') return call('ovl_lookup', { sb: r.sb.id, name: r.name }, 'ovl_found', 'r');
    return statLocal(c, l);
  },
  ovl_found(c, l) {
    if (l.r < 0) return ret(l.r);
    return statLocal(c, l);
  },
  found(c, l) {
    if (l.inode < 0) return ret(l.inode);
    if (l.cached) return ret(c.deref(l.inode, 'fuse_inode').size); // fuse_update_get_attr: sync = false
    pathGet(c, l.inode);
    return call('fuse_getattr', { inode: l.inode }, 'done', 'r');
  },
  done(c, l) {
    pathPut(c, l.inode);
    return ret(l.r);
  },
});

interface IoctlL {
  cmd: number;
  /** the /dev/fuse file, referenced for the syscall */
  dev: Ptr;
  fd: number;
  flags: number;
  padding: number;
  id: number;
  r: number;
}

/** ioctl(2) on /dev/fuse: fuse_dev_ioctl. The task's device fd is vars.devfd. */
kfunc<IoctlL>('sys_fuse_ioctl', 'fs/fuse/dev.c', {
  start(c, l) {
    const devfd = c.p.vars['devfd'];
    const dev = devfd === undefined ? null : fdget(c, devfd);
    if (!dev) return ret(neg('EBADF'));
    l.dev = dev.ptr;
    const fc = fuse_get_dev(c, dev.ptr);
    if (l.cmd === FUSE_DEV_IOC_SYNC_INIT && c.profile.syncInitIoctl) {
      // fuse_dev_ioctl_sync_init: only a device no mount has attached yet can be marked
      return fdput(c, l.dev, fc ? neg('EINVAL') : 0);
    }
    if (l.cmd !== FUSE_DEV_IOC_BACKING_OPEN && l.cmd !== FUSE_DEV_IOC_BACKING_CLOSE) return fdput(c, l.dev, neg('ENOTTY'));
    if (!fc) return fdput(c, l.dev, neg('EPERM'));
    if (l.cmd === FUSE_DEV_IOC_BACKING_OPEN) {
      return call('fuse_backing_open', { fc: fc.ptr, fd: l.fd, flags: l.flags ?? 0, padding: l.padding ?? 0 }, 'done', 'r');
    }
    if (l.cmd === FUSE_DEV_IOC_BACKING_CLOSE) {
      // the argument is a u32 read into an int: 0xffffffff is -1
      return call('fuse_backing_close', { fc: fc.ptr, id: l.id | 0 }, 'done', 'r');
    }
    return fdput(c, l.dev, neg('ENOTTY'));
  },
  done(c, l) {
    return fdput(c, l.dev, l.r);
  },
});

/**
 * Drop an unused inode from the cache (what memory pressure or drop_caches does): a model
 * op, EBUSY while the inode is open.
 */
kfunc<{ path: string }>('sys_drop_inode', 'fs/inode.c', {
  start(c, l) {
    const r = resolvePath(c.w, l.path);
    if (!r || r.sb.kind !== 'fuse') return ret(neg('EINVAL'));
    const p = r.sb.inodes[r.name];
    if (p === undefined) return ret(neg('ENOENT'));
    const fi = c.deref(p, 'fuse_inode');
    if (fi.icount > 1) return ret(neg('EBUSY'));
    fuse_evict_inode(c, fi, true);
    return ret(0);
  },
});

/** umount(2) of a FUSE or overlay mount. */
kfunc<{ fs: string }>('sys_umount', 'fs/namespace.c', {
  start(c, l) {
    const sb = c.w.sbs.find((s) => s.name === l.fs && s.mounted);
    if (!sb) return ret(neg('EINVAL'));
    const users = c.w.sbs.some((s) => s.mounted && s.kind === 'overlay' && s.layers.includes(sb.id));
    if (users) return ret(neg('EBUSY'));
    if (sb.kind === 'fuse') return ret(fuse_umount(c, sb));
    if (Object.values(c.w.heap).some((o) => o.type === 'file' && o.life === 'live' && o.sb === sb.id)) {
      return ret(neg('EBUSY'));
    }
    sb.mounted = false;
    return ret(0);
  },
});

/** echo 1 > /sys/fs/fuse/connections/N/abort */
kfunc<{ fs: string }>('sys_abort', 'fs/fuse/control.c', {
  start(c, l) {
    const sb = c.w.sbs.find((s) => s.name === l.fs && s.kind === 'fuse');
    if (!sb || sb.kind !== 'fuse') return ret(neg('ENOENT'));
    fuse_abort_conn(c, c.deref(sb.conn, 'fuse_conn'));
    return ret(0);
  },
});

/** mount(2) of an overlay declared "mount at run time": the stacking limit applies. */
kfunc<{ fs: string }>('sys_mount', 'fs/overlayfs/super.c', {
  start(c, l) {
    const sb = c.w.sbs.find((s) => s.name === l.fs);
    if (!sb || sb.mounted) return ret(neg('EINVAL'));
    if (sb.kind !== 'overlay') return ret(neg('EINVAL'));
    if (sb.layers.some((id) => !c.w.sbs[id]!.mounted)) return ret(neg('ENOENT'));
    const depth = overlayDepth(c.w, sb);
    if (depth > FILESYSTEM_MAX_STACK_DEPTH) {
      c.emit('note', `overlayfs: maximum fs stacking depth exceeded (${depth} > ${FILESYSTEM_MAX_STACK_DEPTH})`);
      return ret(neg('EINVAL'));
    }
    sb.s_stack_depth = depth;
    sb.mounted = true;
    c.emit('field', `mount overlay /${sb.name}: s_stack_depth ${depth}`);
    return ret(0);
  },
});

/** exit(2) of the process: unmap everything, then close every fd (filp_close: FLUSH too). */
kfunc<{ r: number }>('sys_exit', 'kernel/exit.c', {
  start(c) {
    for (const v of c.p.vmas.splice(0)) {
      c.emit('fd', `${c.t.name}: vma ${v.id} unmapped at exit`);
      fput(c, v.file);
    }
    return goto('next');
  },
  next(c) {
    const fds = Object.keys(c.p.fds).map(Number).sort((a, b) => a - b);
    if (fds.length === 0) return ret(0);
    return call('sys_close', { fd: fds[0] }, 'next', 'r');
  },
});
