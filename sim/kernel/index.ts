// The kernel as built: every modelled function and table of file operations registers itself
// when its module is imported; the filesystem types register at their module_init, once
// everything is loaded (fuse_fs_type names functions of files that import fs/fuse/inode.c).
import './vfs/open.ts';
import './vfs/read_write.ts';
import './vfs/splice.ts';
import './vfs/stat.ts';
import './vfs/statfs.ts';
import './vfs/attr.ts';
import './vfs/sync.ts';
import './vfs/falloc.ts';
import './vfs/ioctl.ts';
import './vfs/namespace.ts';
import './vfs/inode.ts';
import './vfs/namei.ts';
import './vfs/lock_syscalls.ts';
import './vfs/pipe.ts';
import './net/socket.ts';
import './drivers/mem.ts';
import './mm/mmap.ts';
import './mm/memory.ts';
import './exit.ts';
import './fork.ts';
import './capability.ts';
import './signal.ts';
import './time.ts';
import './mm/shmem.ts';
import './overlayfs/super.ts';
import './fuse/dir.ts';
import './fuse/dev.ts';
import './fuse/backing.ts';
import './fuse/passthrough.ts';
import './fuse/iomode.ts';
import './fuse/file.ts';
import './fuse/inode.ts';
import './fuse/control.ts';
import './fuse/xattr.ts';
import './fuse/readdir.ts';
import './vfs/readdir.ts';
import './vfs/drop_caches.ts';
import './kthreads.ts';
import { shmem_init } from './mm/shmem.ts';
import { ovl_init } from './overlayfs/super.ts';
import { fuse_init } from './fuse/inode.ts';

// module_init of the built-in filesystems
shmem_init();
ovl_init();
fuse_init();
