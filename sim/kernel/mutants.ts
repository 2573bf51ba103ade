// Seeded bugs, switched on by name in world.mutants (never by editing the model).
// Each has the story of what goes wrong, for `fpsim mutants` and the tour.
export const MUTANTS = {
  'get-without-not-zero': {
    fn: 'fuse_backing_get',
    story: 'fuse_backing_get uses refcount_inc: a lookup racing with the last put resurrects a dying fuse_backing',
  },
  'free-without-grace-period': {
    fn: 'fuse_backing_free',
    story: 'fuse_backing_free uses kfree, not kfree_rcu: a lookup that found the pointer under RCU reads freed memory',
  },
  'missing-put-on-ebusy': {
    fn: 'fuse_file_passthrough_open',
    story: 'the EBUSY path (a second backing object for the inode) forgets fuse_backing_put: the lookup reference leaks',
  },
  'missing-put-on-etxtbsy': {
    fn: 'fuse_file_passthrough_open',
    story: 'the ETXTBSY path (inode in cached io mode) forgets fuse_backing_put: the lookup reference leaks',
  },
  'missing-put-on-backing-file-error': {
    fn: 'fuse_passthrough_open',
    story: 'when backing_file_open fails, the fuse_backing reference from the lookup is not put',
  },
  'extra-put-same-fb': {
    fn: 'fuse_inode_uncached_io_start',
    story: 'when the inode already holds the same fuse_backing, the extra reference is put twice',
  },
  'store-instead-of-xchg': {
    fn: 'fuse_inode_uncached_io_end',
    story: 'fi->fb is cleared with a plain store that drops the old pointer: the inode reference is never put',
  },
  'iocachectr-off-by-one': {
    fn: 'fuse_file_cached_io_release',
    story: 'the last cached release forgets iocachectr--: the inode stays in cached mode forever and refuses passthrough',
  },
  'cached-open-ignores-fb': {
    fn: 'fuse_file_cached_io_open',
    story: 'a cached open is not refused while fi->fb is set: page cache and passthrough io mix on one inode',
  },
  'stack-depth-gt': {
    fn: 'fuse_backing_open',
    story: 'the ELOOP check uses > instead of >=: a backing file as deep as max_stack_depth is accepted',
  },
  'no-max-depth-bound': {
    fn: 'process_init_reply',
    story: 'INIT accepts any max_stack_depth > 0: a stack deeper than FILESYSTEM_MAX_STACK_DEPTH can be built',
  },
  'no-flags-check': {
    fn: 'fuse_backing_open',
    story: 'BACKING_OPEN ignores map.flags: a server using a future flag silently gets the old behaviour',
  },
  'id-reused-at-once': {
    fn: 'fuse_backing_id_alloc',
    story: 'ids come from plain idr_alloc: a just-closed id is handed out again and a stale id names another file',
  },
  'no-eio-on-bad-reply': {
    fn: 'fuse_file_io_open',
    story: 'a bad open reply returns the internal errno (EINVAL, EBUSY, ...) to open(2) instead of EIO',
  },
  'passthrough-release-no-fput': {
    fn: 'fuse_passthrough_release',
    story: 'release forgets fput of the per-open backing file: the backing file leaks',
  },
  'dio-write-no-uncached-end': {
    fn: 'fuse_dio_unlock',
    story: 'a parallel direct write never ends its uncached io reference: iocachectr stays negative after it',
  },
  'files-free-skips-map': {
    fn: 'fuse_backing_files_free',
    story: 'connection teardown forgets the backing ids still in the map: their fuse_backing objects leak',
  },
  'fcntl-setlk-no-close-race-check': {
    fn: 'fcntl_setlk',
    story: 'fcntl_setlk skips its fd check: a lock taken while a sibling thread closed the fd outlives the file (a leaked POSIX lock naming a freed file)',
  },
  'fsync-enosys-returned': {
    fn: 'fuse_fsync',
    story: 'fuse_fsync remembers a server without FSYNC (fc->no_fsync) but hands its ENOSYS to fsync(2) instead of success',
  },
} as const satisfies Record<string, { fn: string; story: string }>;

export type MutantName = keyof typeof MUTANTS;

export function isMutantName(s: string): s is MutantName {
  return Object.hasOwn(MUTANTS, s);
}

export const MUTANT_NAMES = Object.keys(MUTANTS) as MutantName[];
