// fs/open.c and fs/namei.c's path_openat: open(2) and close(2).
import { block, call, entry, goto, kfunc, ret } from '../exec.ts';
import type { FileObj, Ptr } from '../state.ts';
import { fmodeRead, fmodeWrite, O_CREAT, O_DIRECTORY, O_EXCL, O_NOCTTY, O_NOFOLLOW, O_PATH, O_TRUNC } from './fcntl.ts';
import { neg } from '../lib/errno.ts';
import { EMPTY_FOPS, f_op, s_type } from './fs.ts';
import { CURRENT_UMASK, LOOKUP_CREATE, LOOKUP_EXCL, LOOKUP_OPEN, pick_link, picked_link, resolvePath, S_IFREG } from './namei.ts';
import { alloc_file, discard_file, fput } from './file_table.ts';
import { fd_install } from './file.ts';
import { handle_truncate } from './attr.ts';
import { locks_remove_posix, posix_owner } from './locks.ts';
import { inode_lock_dir, inode_unlock_dir, walk_get, walk_ret, type WalkL } from './namespace.ts';

interface OpenA {
  path: string;
  /** the open(2) flags (sim/kernel/vfs/fcntl.ts), O_LARGEFILE included (force_o_largefile) */
  flags: number;
  /** open(2)'s mode: the permission bits a file O_CREAT makes gets (less the umask) */
  perm?: number;
}

interface OpenL extends OpenA, WalkL {
  /** symbolic links followed so far (MAXSYMLINKS 40: ELOOP) */
  links: number;
  sb: number;
  name: string;
  inode: Ptr;
  file: Ptr;
  err: number;
  /** FMODE_CREATED: this open made the file (no EEXIST for O_EXCL, no truncation) */
  created: boolean;
  /** what ->atomic_open answered */
  atomic: number;
  /** what ->get_link answered (a symlink's target's length, or -errno) */
  r: number;
}

/**
 * open(2): the path walk (the filesystem's lookup), may_open (a directory cannot be opened
 * for writing: EISDIR; nor a file on a read-only filesystem: EROFS), then do_dentry_open:
 * a struct file with the inode's file operations, and their ->open, after which f_flags
 * forgets O_CREAT, O_EXCL, O_NOCTTY and O_TRUNC. O_PATH gets empty_fops and no ->open (no
 * FUSE OPEN request). The walk holds the inode from the lookup until open returns, so it
 * cannot be evicted while ->open waits for a server.
 */
export const sys_open = entry(
  'open',
  kfunc<OpenA, OpenL>('sys_open', 'fs/open.c', {
    start(c, l) {
      const r = resolvePath(c.w, l.path);
      if (!r) return walk_ret(c, l, neg('ENOENT'));
      walk_get(c, l, r.sb);
      l.sb = r.sb.id;
      l.name = r.name;
      l.created = false;
      const type = s_type(r.sb);
      if (l.flags & O_CREAT && !(l.flags & O_PATH) && r.name !== '') {
        // open_last_lookups with O_CREAT: inode_lock(dir) (for writing) before lookup_open,
        // inode_unlock once it is done (then do_open, unlocked)
        if (!inode_lock_dir(c, l, r.sb)) return block({ on: 'i_rwsem', sb: r.sb.id, write: true, task: c.t.name }, 'start');
        // lookup_open with O_CREAT: the filesystem's atomic_open, given a file to open
        if (type.atomic_open) {
          const f = alloc_file(c, { f_op: type.fops('reg'), sb: r.sb.id, name: r.name, mode: 'reg', flags: l.flags, read: fmodeRead(l.flags), write: fmodeWrite(l.flags), opath: false, private_data: 0, backing: false, realSb: type.realSb(c.w, r.sb, r.name) });
          l.file = f.ptr;
          // lookup_open: an exclusive create never truncates (O_TRUNC is dropped)
          const flags = l.flags & O_EXCL ? l.flags & ~O_TRUNC : l.flags;
          return call(type.atomic_open, { sb: r.sb.id, name: r.name, file: f.ptr, flags, mode: S_IFREG | ((l.perm ?? 0o644) & 0o7777 & ~CURRENT_UMASK) }, 'atomic', 'atomic');
        }
        return call(type.lookup, { sb: r.sb.id, name: r.name, flags: LOOKUP_OPEN | LOOKUP_CREATE | (l.flags & O_EXCL ? LOOKUP_EXCL : 0) }, 'create', 'inode');
      }
      return call(type.lookup, { sb: r.sb.id, name: r.name }, 'found', 'inode');
    },
    atomic(c, l) {
      inode_unlock_dir(c, l);
      if (l.atomic < 0 || l.atomic === 1) {
        if (l.atomic < 0) {
          discard_file(c, l.file);
          return walk_ret(c, l, l.atomic);
        }
        // created and opened by the filesystem (FMODE_CREATED | FMODE_OPENED): nothing to truncate
        return walk_ret(c, l, fd_install(c, opened(c.deref(l.file, 'file'))));
      }
      // finish_no_open: the name exists (or was made by ->mknod): opened the usual way
      discard_file(c, l.file);
      l.file = 0;
      l.created = l.atomic === 2;
      const sb = c.w.sbs[l.sb]!;
      l.inode = s_type(sb).inodeOf?.(c.w, sb, l.name) ?? 0;
      return goto('found');
    },
    create(c, l) {
      // vfs_create (a filesystem without atomic_open: tmpfs): ->mknod of a regular file
      if (l.inode !== neg('ENOENT')) return goto('found');
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      if (type.readonly(sb)) return walk_ret(c, l, neg('EROFS'));
      if (!type.i_mknod) return walk_ret(c, l, neg('EACCES'));
      l.created = true;
      return call(type.i_mknod, { sb: l.sb, name: l.name, mode: S_IFREG | ((l.perm ?? 0o644) & 0o7777 & ~CURRENT_UMASK), rdev: 0 }, 'made', 'err');
    },
    made(c, l) {
      if (l.err < 0) return walk_ret(c, l, l.err);
      l.inode = 0;
      return goto('found');
    },
    link(c, l) {
      return picked_link(c, l);
    },
    found(c, l) {
      inode_unlock_dir(c, l); // (an O_CREAT open's lookup_open is done: do_open runs unlocked)
      if (l.inode < 0) return walk_ret(c, l, l.inode);
      const sb = c.w.sbs[l.sb]!;
      const type = s_type(sb);
      const kind = type.inodeKind(c.w, sb, l.name);
      const opath = (l.flags & O_PATH) !== 0;
      // do_open: O_CREAT|O_EXCL of a name this open did not make is EEXIST; O_CREAT of a
      // directory EISDIR; O_DIRECTORY of anything else ENOTDIR
      if (l.flags & O_CREAT && !opath) {
        if (l.flags & O_EXCL && !l.created) return walk_ret(c, l, neg('EEXIST'));
        if (kind === 'dir') return walk_ret(c, l, neg('EISDIR'));
      }
      if (l.flags & O_DIRECTORY && kind !== 'dir' && kind !== 'lnk') return walk_ret(c, l, neg('ENOTDIR'));
      if (kind === 'lnk') {
        // the trailing symlink: followed (step_into -> pick_link) unless O_NOFOLLOW; O_PATH |
        // O_NOFOLLOW opens the link itself, O_NOFOLLOW alone is ELOOP (may_open). A
        // filesystem may have to ask for the target (->get_link: FUSE's READLINK)
        if (l.flags & O_NOFOLLOW) {
          if (!opath) return walk_ret(c, l, neg('ELOOP'));
        } else {
          const next = pick_link(c, l, 'link');
          if (next) return next;
        }
      }
      const write = fmodeWrite(l.flags);
      if (write) {
        if (kind === 'dir') return walk_ret(c, l, neg('EISDIR'));
        if (type.readonly(sb)) return walk_ret(c, l, neg('EROFS'));
      }
      const f = alloc_file(c, {
        f_op: opath ? EMPTY_FOPS : type.fops(kind),
        sb: sb.id,
        name: l.name,
        mode: kind,
        flags: l.flags,
        read: fmodeRead(l.flags),
        write,
        opath,
        private_data: 0,
        backing: false,
        realSb: type.realSb(c.w, sb, l.name),
      });
      l.file = f.ptr;
      const open = f_op(f).open;
      if (!open) {
        // an O_PATH file has no ->open, but holds its path, inode included (path_get)
        if (opath && type.pathGet) {
          type.pathGet(c, l.inode);
          f.pathInode = l.inode;
        }
        return walk_ret(c, l, fd_install(c, opened(f)));
      }
      type.pathGet?.(c, l.inode);
      return call(open, { file: l.file }, 'opened', 'err');
    },
    opened(c, l) {
      s_type(c.w.sbs[l.sb]!).pathPut?.(c, l.inode);
      if (l.err < 0) {
        discard_file(c, l.file);
        return walk_ret(c, l, l.err);
      }
      const f = c.deref(l.file, 'file');
      // do_open: an O_TRUNC open of an existing regular file truncates it now (handle_truncate)
      if (f.flags & O_TRUNC && f.mode === 'reg' && !l.created) return call(handle_truncate, { file: l.file }, 'truncated', 'err');
      return walk_ret(c, l, fd_install(c, opened(f)));
    },
    truncated(c, l) {
      if (l.err < 0) {
        fput(c, l.file);
        return walk_ret(c, l, l.err);
      }
      return walk_ret(c, l, fd_install(c, opened(c.deref(l.file, 'file'))));
    },
  }),
);

/** do_dentry_open, once ->open succeeded: f_flags keeps no creation-time flags. */
function opened(f: FileObj): Ptr {
  f.flags &= ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
  return f.ptr;
}

interface CloseA {
  fd: number;
}

interface CloseL extends CloseA {
  file: Ptr;
  r: number;
  x: number;
}

/**
 * close(2): filp_flush runs ->flush (FUSE: FLUSH), then drops every POSIX lock the process
 * holds on the inode (locks_remove_posix, unless the file is O_PATH), then the fd's reference
 * is dropped; close returns what ->flush returned (the fd is gone either way).
 */
export const sys_close = entry(
  'close',
  kfunc<CloseA, CloseL>('sys_close', 'fs/open.c', {
    start(c, l) {
      const p = c.p.fds[l.fd];
      if (p === undefined) return ret(neg('EBADF'));
      delete c.p.fds[l.fd];
      if (c.record) c.emit('fd', `${c.t.name}: fd ${l.fd} closed`);
      l.file = p;
      l.r = 0;
      const flush = f_op(c.deref(p, 'file')).flush;
      if (flush) return call(flush, { file: p }, 'locks', 'r');
      return goto('locks');
    },
    locks(c, l) {
      if (c.deref(l.file, 'file').opath) return goto('put');
      return call(locks_remove_posix, { file: l.file, owner: posix_owner(c.p.name) }, 'put', 'x');
    },
    put(c, l) {
      fput(c, l.file);
      return ret(l.r);
    },
  }),
);
