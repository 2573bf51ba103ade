// include/uapi/asm-generic/fcntl.h (x86_64 values): open(2) flags as the kernel keeps them
// in file->f_flags, and the access mode's FMODE bits.

export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_PATH = 0o10000000;

/** The flags a scenario may name on an open, by name. */
export const OPEN_FLAG_BITS = {
  O_APPEND,
  O_TRUNC,
  O_CREAT,
  O_EXCL,
  O_DIRECT,
  O_NOFOLLOW,
  O_DIRECTORY,
  O_NONBLOCK,
  O_NOATIME,
  O_DSYNC,
} as const;

export type OpenFlagName = keyof typeof OPEN_FLAG_BITS;

/** FMODE_READ: the open can read (O_RDONLY or O_RDWR, not O_PATH). */
export function fmodeRead(flags: number): boolean {
  return (flags & O_PATH) === 0 && (flags & O_ACCMODE) !== O_WRONLY;
}

/** FMODE_WRITE: the open can write (O_WRONLY or O_RDWR, not O_PATH). */
export function fmodeWrite(flags: number): boolean {
  return (flags & O_PATH) === 0 && ((flags & O_ACCMODE) === O_WRONLY || (flags & O_ACCMODE) === O_RDWR);
}
