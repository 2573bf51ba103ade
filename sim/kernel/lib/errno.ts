// include/uapi/asm-generic/errno-base.h and errno.h: the errnos the model can return.
// Kernel functions return -errno; user-visible results carry the name.
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EISDIR: 21,
  EINVAL: 22,
  ETXTBSY: 26,
  EROFS: 30,
  ENOSYS: 38,
  ELOOP: 40,
  ENOTTY: 25,
  EOPNOTSUPP: 95,
  ECONNABORTED: 103,
  ENOTCONN: 107,
  ECONNREFUSED: 111,
  EAGAIN: 11,
  EINTR: 4,
  EDEADLK: 35,
  ENOLCK: 37,
  EOVERFLOW: 75,
} as const;

export type ErrnoName = keyof typeof ERRNO;

const byNumber = new Map<number, ErrnoName>(
  (Object.entries(ERRNO) as [ErrnoName, number][]).map(([k, v]) => [v, k]),
);

export function errnoName(n: number): ErrnoName | `E#${number}` {
  return byNumber.get(Math.abs(n)) ?? `E#${Math.abs(n)}`;
}

/** -errno, as kernel functions return it. */
export function neg(e: ErrnoName): number {
  return -ERRNO[e];
}
