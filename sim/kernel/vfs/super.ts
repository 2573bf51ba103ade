// fs/super.c and include/linux/fs.h: superblocks and how deep filesystems may stack.

/** include/linux/fs.h: FILESYSTEM_MAX_STACK_DEPTH */
export const FILESYSTEM_MAX_STACK_DEPTH = 2;
