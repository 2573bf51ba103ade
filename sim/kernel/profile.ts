// Kernel profiles are data: the differences between the v15 patch, 6.9 as merged and this
// machine's 6.18 live in this one table, consulted by the model (no `if (version)` elsewhere).
// Each row says how it was established; see docs/kernel-facts.md, oracle/PROBE-RESULTS.md and
// docs/kernel-versions.md (which `fpsim oracle` scenario pins each row against the real kernel).
export interface Profile {
  name: ProfileName;
  /** FUSE_KERNEL_MINOR_VERSION the kernel sends in INIT */
  minor: number;
  /** the open-reply bit the kernel reads as FOPEN_PASSTHROUGH */
  FOPEN_PASSTHROUGH: number;
  /** process_init_reply refuses passthrough together with FUSE_WRITEBACK_CACHE */
  initRefusesWritebackCache: boolean;
  /** fuse_backing_open rejects non-zero map.padding with EINVAL */
  backingOpenChecksPadding: boolean;
  /**
   * what fuse_backing_open accepts as a backing file:
   * 'iter' = f_op has read_iter and write_iter, else EOPNOTSUPP (6.9);
   * 'regular' = a regular file, EISDIR for a directory, EINVAL otherwise
   */
  backingFileCheck: 'iter' | 'regular';
  /** fuse_backing_open takes the fd with fget_raw, so an O_PATH fd is accepted (else EBADF) */
  backingOpenAcceptsOPath: boolean;
  /** after a passthrough write, i_size is extended to the write's end (else only invalidated) */
  passthroughWriteExtendsSize: boolean;
  /**
   * fuse_dio_wr_exclusive_lock takes the exclusive lock when FUSE_I_CACHE_IO_MODE is set
   * (6.12, 2f3d8ff45798); before that the test was inverted: a parallel direct write seeing
   * the bit went for the shared lock (and skipped the past-EOF test)
   */
  dioExclusiveInCacheIoMode: boolean;
  /**
   * fuse_dev_ioctl knows FUSE_DEV_IOC_SYNC_INIT (6.18, "fuse: allow synchronous FUSE_INIT"): on
   * a device already attached to a connection it is EINVAL; a kernel without it says ENOTTY
   */
  syncInitIoctl: boolean;
  /**
   * fuse_dev_ioctl_clone looks up the old fd's device with fuse_get_dev, which returns
   * ERR_PTR(-EPERM) for a /dev/fuse fd no mount attached (and waits on a SYNC_INIT-marked one):
   * CLONE from an unmounted fd is EPERM (6.18, the sync-INIT rework); before, __fuse_get_dev's
   * NULL made it EINVAL (6.9)
   */
  cloneWaitsForDev: boolean;
  /** the flags fuse_send_init (6.18: fuse_new_init) offers in INIT, flags2 in bits 32..63 */
  initFlags: bigint;
  /**
   * __fuse_copy_file_range sends COPY_FILE_RANGE_64 (7.45: a u64 length and count) first and
   * COPY_FILE_RANGE only after its ENOSYS (fc->no_copy_file_range_64); before 7.45 only
   * COPY_FILE_RANGE exists
   */
  copyFileRange64: boolean;
  /**
   * vfs_fallocate treats the modes as exclusive (a switch over FALLOC_FL_MODE_MASK, "fs: sort
   * out the fallocate mode vs flag mess", v6.12): any two modes, or COLLAPSE/INSERT with
   * KEEP_SIZE, are EOPNOTSUPP; before, COLLAPSE_RANGE or INSERT_RANGE with any other bit and
   * UNSHARE_RANGE with anything but KEEP_SIZE were EINVAL
   */
  fallocateModesExclusive: boolean;
  /**
   * fuse_readdir_uncached sizes READDIR/READDIRPLUS by the getdents(2) buffer, clamped to
   * [PAGE_SIZE, fc->max_pages pages] ("fuse: increase readdir() buffer size", 6.18 observed
   * 32768 for a 32 KiB buffer); before, always one page (6.9: PAGE_SIZE)
   */
  readdirSizeFromBuffer: boolean;
}

/**
 * What a 6.18 kernel offers (fpsim oracle, request 1 of every scenario: flags 0x73fffffb,
 * flags2 0x5fd): bits 0..30 but FILE_OPS (obsolete), MAP_ALIGNMENT (DAX) and SUBMOUNTS
 * (virtiofs); in flags2 SECURITY_CTX, CREATE_SUPP_GROUP, HAS_EXPIRE_ONLY, DIRECT_IO_ALLOW_MMAP,
 * PASSTHROUGH, NO_EXPORT_SUPPORT, HAS_RESEND, ALLOW_IDMAP (7.41) and REQUEST_TIMEOUT (7.43);
 * not HAS_INODE_DAX (virtiofs) nor OVER_IO_URING (only with the enable_uring parameter).
 */
const INIT_FLAGS_6_18 = 0x5fd_73fffffbn;
/** 6.9 (7.40): the same, without ALLOW_IDMAP and REQUEST_TIMEOUT (source reading: flags2 0xfd). */
const INIT_FLAGS_6_9 = 0xfd_73fffffbn;

export type ProfileName = 'v15' | '6.9' | '6.18';

export const PROFILES: Record<ProfileName, Profile> = {
  v15: {
    name: 'v15',
    minor: 40,
    FOPEN_PASSTHROUGH: 1 << 8,
    initRefusesWritebackCache: false,
    // v15 3/9 checked only map.flags; the padding check was a 6.9-rc fix
    backingOpenChecksPadding: false,
    backingFileCheck: 'iter',
    backingOpenAcceptsOPath: false,
    passthroughWriteExtendsSize: false,
    dioExclusiveInCacheIoMode: false,
    syncInitIoctl: false,
    cloneWaitsForDev: false,
    initFlags: INIT_FLAGS_6_9,
    copyFileRange64: false,
    fallocateModesExclusive: false,
    readdirSizeFromBuffer: false,
  },
  '6.9': {
    name: '6.9',
    minor: 40,
    FOPEN_PASSTHROUGH: 1 << 7,
    initRefusesWritebackCache: false,
    // the spec says "later kernels"; 6.9 final already rejects padding (docs/kernel-facts.md)
    backingOpenChecksPadding: true,
    backingFileCheck: 'iter',
    backingOpenAcceptsOPath: false,
    passthroughWriteExtendsSize: false,
    // the inverted FUSE_I_CACHE_IO_MODE test of 6.9 (fixed in 6.12, backported to 6.10.y only)
    dioExclusiveInCacheIoMode: false,
    // an unknown command: ENOTTY
    syncInitIoctl: false,
    // fuse_dev_ioctl_clone: __fuse_get_dev's NULL is EINVAL (source reading)
    cloneWaitsForDev: false,
    initFlags: INIT_FLAGS_6_9,
    // 7.40: no COPY_FILE_RANGE_64 (source reading: the opcode is 7.45's)
    copyFileRange64: false,
    // the bit-by-bit checks of fs/open.c before v6.12 (source reading)
    fallocateModesExclusive: false,
    readdirSizeFromBuffer: false,
  },
  '6.18': {
    name: '6.18',
    minor: 45,
    FOPEN_PASSTHROUGH: 1 << 7,
    // v6.11: passthrough and writeback cache do not work together
    initRefusesWritebackCache: true,
    backingOpenChecksPadding: true,
    // v6.17: only regular files (EISDIR for a directory, EINVAL otherwise; oracle:
    // backing-open-dir-6.18-eisdir, backing-open-fifo-6.18-einval)
    backingFileCheck: 'regular',
    // v6.12: fget_raw
    backingOpenAcceptsOPath: true,
    // v6.12: fuse_write_update_attr on the passthrough write path (oracle:
    // passthrough-write-cached-size-6.18, statx(AT_STATX_DONT_SYNC) shows the extended size)
    passthroughWriteExtendsSize: true,
    // v6.12: 2f3d8ff45798 "use exclusive lock when FUSE_I_CACHE_IO_MODE is set"
    dioExclusiveInCacheIoMode: true,
    // v6.18: dfb84c330794; found by fpsim oracle (scenario ioctl-sync-init-6.18-einval)
    syncInitIoctl: true,
    // v6.18 (dfb84c330794): fuse_get_dev in fuse_dev_ioctl_clone; docs/request-streams.md §8
    // (CLONE of a never-mounted fd: EPERM); oracle: dev-fuse-unmounted-ioctls-6.18
    cloneWaitsForDev: true,
    initFlags: INIT_FLAGS_6_18,
    // v6.18 (7.45): COPY_FILE_RANGE_64 first (docs/request-streams.md §3; oracle:
    // copy-file-range-enosys-falls-back-to-splice)
    copyFileRange64: true,
    // v6.12 (hch, "fs: sort out the fallocate mode vs flag mess"); oracle:
    // sync-seek-alloc-plain-files (INSERT_RANGE|KEEP_SIZE: EOPNOTSUPP)
    fallocateModesExclusive: true,
    // docs/request-streams.md §5: READDIR size=32768 for python's 32 KiB getdents buffer
    readdirSizeFromBuffer: true,
  },
};

export const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

export function isProfileName(s: string): s is ProfileName {
  return Object.hasOwn(PROFILES, s);
}

export function profileOf(name: string): Profile {
  if (!isProfileName(name)) throw new Error(`unknown kernel profile ${name}`);
  return PROFILES[name];
}
