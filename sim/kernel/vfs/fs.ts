// include/linux/fs.h: what a filesystem gives the VFS. Each filesystem's model file
// registers its file_system_type (with the inode and super operations the model needs) and
// its tables of file operations; a struct file names its table in f_op, a superblock its
// type in kind. Generic code (sim/kernel/vfs/, mm/, kernel/) goes through these and never
// names a filesystem.
import type { Ctx } from '../ctx.ts';
import type { KFunc } from '../exec.ts';
import type { FileLockContext, FileObj, InodeKind, Pages, Ptr, SuperBlock, World } from '../state.ts';

/** ->read_iter, ->splice_read, ->read: read n bytes at offset (the data goes to c.data). */
export interface ReadA {
  file: Ptr;
  offset: number;
  n: number;
}

/** ->write_iter, ->splice_write: write data at offset. */
export interface WriteA {
  file: Ptr;
  offset: number;
  data: string;
}

/** ->mmap: returns the struct file the vma will hold (with a reference), or -errno. */
export interface MmapA {
  file: Ptr;
  shared: boolean;
  /** PROT_WRITE */
  write?: boolean;
}

/** struct iattr, as notify_change passes it to ->setattr. */
export interface IattrA {
  sb: number;
  name: string;
  inode: Ptr;
  /** ATTR_* (include/linux/fs.h) bits of what changes */
  valid: number;
  size: number;
  mode: number;
  atime: number;
  mtime: number;
  /** ATTR_FILE: the open file the change comes through (ftruncate), else 0 */
  file: Ptr;
}

/** include/linux/fs.h: iattr->ia_valid bits */
export const ATTR_MODE = 1 << 0;
export const ATTR_UID = 1 << 1;
export const ATTR_GID = 1 << 2;
export const ATTR_SIZE = 1 << 3;
export const ATTR_ATIME = 1 << 4;
export const ATTR_MTIME = 1 << 5;
export const ATTR_CTIME = 1 << 6;
export const ATTR_ATIME_SET = 1 << 7;
export const ATTR_MTIME_SET = 1 << 8;
export const ATTR_FORCE = 1 << 9;
export const ATTR_KILL_SUID = 1 << 11;
export const ATTR_KILL_SGID = 1 << 12;
export const ATTR_FILE = 1 << 13;
export const ATTR_KILL_PRIV = 1 << 14;
export const ATTR_OPEN = 1 << 15;
export const ATTR_TIMES_SET = 1 << 16;
export const ATTR_TOUCH = 1 << 17;

/** ->unlocked_ioctl: the command and its argument as copied from userspace. */
export interface IoctlA {
  file: Ptr;
  cmd: number;
  /** struct fuse_backing_map: fd, flags, padding; BACKING_CLOSE: the id */
  fd: number;
  flags: number;
  /** u64: a number, or a string for values past 2^53 */
  padding: number | string;
  id: number;
}

/**
 * ->lock and ->flock (fs/locks.c calls them): cmd is F_GETLK, F_SETLK or F_SETLKW
 * (sim/kernel/vfs/locks.ts), fl the request (a file_lock). Returns 0, -errno or
 * FILE_LOCK_DEFERRED (the request now waits behind a lock: the caller sleeps and retries).
 */
export interface LockA {
  file: Ptr;
  cmd: number;
  fl: Ptr;
}

/** ->fsync (vfs_fsync_range): the whole file (start 0, end LLONG_MAX), datasync for fdatasync(2) */
export interface FsyncA {
  file: Ptr;
  datasync: boolean;
}

/** ->llseek: the new f_pos (also set in the file), or -errno */
export interface LlseekA {
  file: Ptr;
  offset: number;
  whence: number;
}

/** ->fallocate: mode FALLOC_FL_* bits (sim/kernel/vfs/falloc.ts) */
export interface FallocateA {
  file: Ptr;
  mode: number;
  offset: number;
  len: number;
}

/** ->copy_file_range: the bytes copied, or -errno (EOPNOTSUPP / EXDEV: the VFS may fall back to splice) */
export interface CopyRangeA {
  fileIn: Ptr;
  posIn: number;
  fileOut: Ptr;
  posOut: number;
  len: number;
  flags: number;
}

/** struct file_operations: the members the model uses. */
export interface FileOperations {
  /** the kernel's name for the table, e.g. fuse_file_operations */
  name: string;
  /**
   * `inode`, when given, is the inode to open (file_inode of a file made on another open file's
   * path: backing_file_open), which its name may no longer lead to; else the file's name's
   */
  open?: KFunc<{ file: Ptr; inode?: Ptr }>;
  /** ->read (generic_read_dir: EISDIR); a table without read and read_iter cannot be read */
  read?: KFunc<ReadA>;
  read_iter?: KFunc<ReadA>;
  write_iter?: KFunc<WriteA>;
  splice_read?: KFunc<ReadA>;
  splice_write?: KFunc<WriteA>;
  mmap?: KFunc<MmapA>;
  flush?: KFunc<{ file: Ptr }>;
  unlocked_ioctl?: KFunc<IoctlA>;
  /** ->lock: POSIX record locks (fcntl(2)); without it fs/locks.c keeps them (posix_lock_file) */
  lock?: KFunc<LockA>;
  /** ->flock: flock(2) locks; without it fs/locks.c keeps them (locks_lock_file_wait) */
  flock?: KFunc<LockA>;
  /** ->fsync: without it fsync(2) is EINVAL */
  fsync?: KFunc<FsyncA>;
  /** ->llseek: without it (no FMODE_LSEEK: pipes, sockets) lseek(2) is ESPIPE */
  llseek?: KFunc<LlseekA>;
  /** ->fallocate: without it fallocate(2) is EOPNOTSUPP */
  fallocate?: KFunc<FallocateA>;
  /** ->copy_file_range (FUSE's): without it the VFS copies by splice (same sb) or says EXDEV */
  copy_file_range?: KFunc<CopyRangeA>;
  /** ->release, from __fput when the last reference goes */
  release?: (c: Ctx, f: FileObj) => void;
  /**
   * i_mapping->a_ops->read_folio: bring page `index` of the file's inode into its page cache
   * (0 or -errno). With `mapping` below, filemap_read (mm/filemap.ts) serves reads from it.
   */
  read_folio?: KFunc<{ file: Ptr; index: number }>;
  /** the page cache and i_size of the file's inode (file->f_mapping and i_size_read), and its dirty pages */
  mapping?(c: Ctx, f: FileObj): { pages: Pages; size: number; dirty: number[] };
  /** i_mapping->a_ops->writepages: write the inode's dirty pages back (0 or -errno) */
  writepages?: KFunc<{ file: Ptr }>;
  /** vm_ops->close: a mapping of the file goes away */
  vma_close?: KFunc<{ file: Ptr }>;
  /**
   * ->iterate_shared for getdents64(2) (fs/readdir.c iterate_dir): the entries that fit in
   * `count` bytes of linux_dirent64 records from the file's f_pos on (f_pos moves past them):
   * how many, or -errno; c.data gets their names, space-separated
   */
  iterate_shared?: KFunc<{ file: Ptr; count: number }>;
}

const fileOps = new Map<string, FileOperations>();

export function register_file_operations(key: string, ops: FileOperations) {
  if (fileOps.has(key)) throw new Error(`file operations ${key} registered twice`);
  fileOps.set(key, ops);
}

/** file->f_op */
export function f_op(f: FileObj): FileOperations {
  const ops = fileOps.get(f.f_op);
  if (!ops) throw new Error(`file#${f.ptr} has unknown file operations ${f.f_op} (model bug)`);
  return ops;
}

/** O_PATH files get empty_fops: no ->open, no read or write, no mmap, no ioctl. */
export const EMPTY_FOPS = 'empty';
register_file_operations(EMPTY_FOPS, { name: 'empty_fops' });

/**
 * struct file_system_type, with the inode_operations and super_operations of its inodes and
 * superblocks that the model needs. `sb` arguments are superblock ids (w.sbs index).
 */
export interface FileSystemType {
  name: SuperBlock['kind'];
  /**
   * i_op->lookup through the dcache: >= 0 if the name exists (a FUSE inode's pointer, else 0),
   * or -errno. flags are the walk's LOOKUP_* intent (sim/kernel/vfs/namei.ts: LOOKUP_EXCL for
   * an exclusive create, LOOKUP_RENAME_TARGET), which ->d_revalidate may look at.
   */
  lookup: KFunc<{ sb: number; name: string; flags?: number }>;
  /** S_IFMT of a name already looked up */
  inodeKind(w: World, sb: SuperBlock, name: string): InodeKind;
  /** inode->i_fop for an inode of this type: a registered file operations key */
  fops(kind: InodeKind): string;
  /** sb_rdonly() or a read-only mount: opening for writing is EROFS */
  readonly(sb: SuperBlock): boolean;
  /** the sb of the real inode behind a name (an overlay's lower layer; else sb itself) */
  realSb(w: World, sb: SuperBlock, name: string): number;
  /** ->getattr for stat(2): returns st_size; cached is AT_STATX_DONT_SYNC */
  getattr: KFunc<{ sb: number; name: string; inode: Ptr; cached: boolean }>;
  /** the inode object behind a cached name, for filesystems that keep them (FUSE), else 0 */
  inodeOf?(w: World, sb: SuperBlock, name: string): Ptr;
  /** the path walk's reference on an inode (dget/dput; a FUSE inode's i_count) */
  pathGet?(c: Ctx, inode: Ptr): void;
  pathPut?(c: Ctx, inode: Ptr): void;
  /** ->statfs (vfs_statfs) of the inode a path names (0 or -errno; c.data gets the fields) */
  statfs: KFunc<{ sb: number; name: string; inode: Ptr }>;
  /** ->setattr (notify_change): 0 or -errno */
  setattr?: KFunc<IattrA>;
  /**
   * the xattr handler's get (vfs_getxattr, __vfs_getxattr): with size 0 the value's length
   * (or -errno: ENODATA when there is none, EOPNOTSUPP when the filesystem has no xattrs)
   */
  getxattr?: KFunc<{ sb: number; name: string; inode: Ptr; xname: string; size: number }>;
  /**
   * inode->i_flctx of an open file's inode (file_inode(file)): its lock context, made on first
   * use when create is set (locks_get_lock_context), else null if it has none
   */
  i_flctx(c: Ctx, f: FileObj, create: boolean): FileLockContext | null;
  /** mount(2) of a superblock declared unmounted: 0 or -errno */
  mount?: KFunc<{ sb: number }>;
  /** umount(2) (kill_sb): 0 or -errno; the default refuses while any file is open on it */
  umount?(c: Ctx, sb: SuperBlock): number;
  /** evict an unused inode, as drop_caches does: 0 or -errno (EBUSY while it is used) */
  dropInode?(c: Ctx, sb: SuperBlock, name: string): number;
  /** ->free_inode: the RCU callback of an inode freed with call_rcu */
  freeInode?(c: Ctx, inode: Ptr): void;
  /** the superblocks this one is stacked on (overlayfs' layers) */
  lowers?(sb: SuperBlock): number[];
  /** what the inode holds, as a userspace read of its path would see it (a server's backing file) */
  peek(w: World, sb: SuperBlock, name: string): { data: string; mtime: number } | null;
  /**
   * a userspace write the model does not step through (a server writing its backing file
   * while it answers WRITE): data at offset, the mtime moved
   */
  poke?(w: World, sb: SuperBlock, name: string, offset: number, data: string): void;
  /** a userspace truncate the model does not step through (a server answering SETATTR) */
  pokeSize?(w: World, sb: SuperBlock, name: string, size: number): void;
  /**
   * i_op->mknod (vfs_mknod): a new inode of that type at `name` (a FIFO, a socket a bind(2)
   * makes, a pipe's or a socket's inode on the kernel's own pipefs / sockfs): 0 or -errno
   */
  mknod?(c: Ctx, sb: SuperBlock, name: string, kind: InodeKind): number;
  /**
   * i_op->get_link of a filesystem that must ask for the target (FUSE: READLINK): the
   * target's length or -errno; the target itself is left in c.data for the caller, in the
   * same step (the caller takes it and clears c.data). A target not starting with "/" is
   * relative to the link's directory (the filesystem's root: the model's directories are flat).
   */
  i_get_link?: KFunc<{ sb: number; name: string; inode: Ptr }>;
  /** i_op->symlink (vfs_symlink; the VFS checked the name is free): a symbolic link to `target`; 0 or -errno */
  i_symlink?: KFunc<{ sb: number; name: string; target: string }>;
  /** i_op->get_link: the target of a symbolic link (a path of the model), or null if `name` is none */
  get_link?(w: World, sb: SuperBlock, name: string): string | null;
  /**
   * file_inode(file): the inode an open file holds, which its name may no longer lead to
   * (unlinked, or the name taken by another): a FUSE file's fuse_file names it
   */
  fileInode?(w: World, f: FileObj): Ptr;
  /**
   * i_op->atomic_open for open(O_CREAT) of a name the dcache does not hold as valid and positive
   * (fs/namei.c atomic_open): 1 when the filesystem created the name and opened `file` (an
   * allocated struct file for a regular inode), 0 for finish_no_open (the name exists now, or
   * was made without opening: the VFS opens it as usual), or -errno
   */
  atomic_open?: KFunc<{ sb: number; name: string; file: Ptr; flags: number; mode: number }>;
  /** i_op->mknod (vfs_mknod, vfs_create without atomic_open): mode with its S_IFMT bits; 0 or -errno */
  i_mknod?: KFunc<{ sb: number; name: string; mode: number; rdev: number }>;
  /** i_op->mkdir (vfs_mkdir): mode without S_IFMT; 0 or -errno */
  i_mkdir?: KFunc<{ sb: number; name: string; mode: number }>;
  /** i_op->unlink / ->rmdir (vfs_unlink, vfs_rmdir; the VFS checked the name's type): 0 or -errno */
  i_unlink?: KFunc<{ sb: number; name: string; dir: boolean }>;
  /** i_op->rename (vfs_rename; the VFS checked the names' types and NOREPLACE/EXCHANGE): 0 or -errno */
  i_rename?: KFunc<{ sb: number; old: string; new: string; flags: number }>;
  /**
   * drop_caches (fs/drop_caches.c: shrink the dcache, then prune the icache): evict every
   * unused dentry and inode of the superblock; the number evicted
   */
  dropCaches?(c: Ctx, sb: SuperBlock): number;
}

const fsTypes = new Map<string, FileSystemType>();

/** register_filesystem() */
export function register_filesystem(t: FileSystemType) {
  if (fsTypes.has(t.name)) throw new Error(`filesystem ${t.name} registered twice`);
  fsTypes.set(t.name, t);
}

/** sb->s_type */
export function s_type(sb: SuperBlock): FileSystemType {
  const t = fsTypes.get(sb.kind);
  if (!t) throw new Error(`no filesystem type ${sb.kind} (model bug)`);
  return t;
}
