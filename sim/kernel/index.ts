// Loads every modelled function (each module registers its kfuncs when imported).
import './vfs/syscalls.ts';
import './fuse/backing.ts';
import './fuse/passthrough.ts';
import './fuse/iomode.ts';
import './fuse/file.ts';
import './fuse/inode.ts';
import './kthreads.ts';
import '../server/server.ts';
import '../scenario/assert.ts';
