// The built-in scenario library: every file runs and passes (its expected results, violations
// and server traffic, written in the file), and every paragraph of the spec's section 3 has at
// least one scenario demonstrating it.
import { describe as group, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadScenario } from '../sim/scenario/load.ts';
import { runScenario } from '../sim/scenario/run-scenario.ts';
import { formatVerdict } from '../cli/narrate.ts';
import { realSkipReason } from '../oracle/oracle.ts';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'scenarios');
const FILES = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => join(DIR, f));
const NAMES = new Set(FILES.map((f) => basename(f, '.json')));

/**
 * /work/shared/spec/fuse-passthrough.md section 3, paragraph by paragraph, and the scenarios
 * that demonstrate it (a scenario may serve several paragraphs).
 */
const SECTION_3: Record<string, string[]> = {
  'INIT reply': [
    'init-depth-1-enables',
    'init-depth-2-enables',
    'init-depth-0-disables',
    'init-depth-3-disables',
    'init-no-passthrough-flag-disables',
    'init-no-init-ext-disables',
    'init-writeback-cache-6.18-disables',
    'init-writeback-cache-6.9-enables',
    'init-short-reply-disables',
    'stack-overlay-mount-over-fuse-depth-1-ok',
    'stack-overlay-mount-over-fuse-depth-2-einval',
  ],
  'BACKING_OPEN(map)': [
    'backing-open-eperm-no-passthrough',
    'backing-open-dev-fuse-6.9-cycle-leaks',
    'backing-open-dev-fuse-6.18-einval',
    'backing-open-eperm-no-cap-sys-admin',
    'backing-open-einval-flags',
    'backing-open-einval-flags-before-ebadf',
    'backing-open-einval-padding',
    'backing-open-einval-padding-6.18',
    'backing-open-padding-ignored-v15',
    'backing-open-ebadf',
    'backing-open-dir-6.9-eopnotsupp',
    'backing-open-dir-6.18-eisdir',
    'backing-open-opath-6.9-ebadf',
    'backing-open-opath-6.18-ok',
    'backing-open-fifo-6.9-ok',
    'backing-open-fifo-6.18-einval',
    'ioctl-sync-init-6.9-enotty',
    'ioctl-sync-init-6.18-einval',
    'backing-open-eloop-fuse-on-fuse',
    'backing-open-fuse-on-fuse-depth-2',
    'stack-fuse-over-overlay-depth-2',
    'stack-fuse-over-overlay-depth-1-eloop',
    'stack-fuse-over-overlay-over-fuse-eloop',
    'stack-overlay-lookup-asks-fuse-layer',
    'backing-ids-cyclic',
    'abort-backing-ioctls-still-work',
  ],
  'BACKING_CLOSE(id)': [
    'race-close-after-reply-vs-open',
    'backing-close-eperm',
    'backing-close-einval',
    'backing-close-enoent-unknown',
    'backing-close-twice',
    'backing-close-while-file-open',
    'backing-close-while-files-open-last-release-frees',
  ],
  'Lookup (open path)': [
    'open-reply-backing-id-0-eio',
    'open-reply-unknown-id-eio',
    'lookup-backing-file-open-fails',
    'race-lookup-vs-backing-close',
    'race-lookup-wins-vs-backing-close',
    'race-lookup-vs-backing-close-get-without-not-zero',
    'race-lookup-vs-backing-close-free-without-grace-period',
  ],
  'Open reply handling (fuse_file_io_open)': [
    'passthrough-read',
    'open-reply-keep-cache-eio',
    'open-reply-direct-io-reads-server',
    'open-reply-noflush',
    'open-reply-passthrough-off-eio',
    'open-reply-v15-server-on-6.9-cached',
    'open-reply-v15-server-on-v15-kernel',
    'open-reply-failure-sends-release',
    'iomode-cached-open-while-passthrough-eio',
    'iomode-direct-io-while-passthrough-eio',
    'no-open-support',
  ],
  'Uncached io start': ['iomode-second-open-other-id-ebusy', 'iomode-second-open-same-id', 'iomode-passthrough-while-cached-eio'],
  'Cached io open': [
    'iomode-cached-after-passthrough-closed',
    'dio-parallel-write-cached-open-waits',
    'race-cached-open-waits-then-passthrough-etxtbsy',
  ],
  'Parallel direct-io write / mmap': [
    'dio-parallel-write-cached-open-waits',
    'dio-parallel-writes-cache-io-mode-6.9',
    'dio-parallel-writes-cache-io-mode-6.18',
    'dio-parallel-write-past-eof-exclusive',
    'mmap-passthrough-outlives-close',
    'mmap-non-passthrough-file-enodev',
    'mmap-direct-io-shared-enodev',
    'mmap-direct-io-allow-mmap-caches',
  ],
  'read/write/splice': [
    'passthrough-read',
    'race-read-vs-sibling-close',
    'splice-passthrough-and-direct-io',
    'passthrough-write-reaches-backing',
    'passthrough-write-stat-getattr',
    'passthrough-write-stat-getattr-6.18',
    'read-invalidates-atime-stat-getattr',
    'passthrough-write-cached-size-6.9',
    'passthrough-write-cached-size-6.18',
    'open-reply-direct-io-reads-server',
    'abort-passthrough-keeps-working',
  ],
  Release: [
    'release-last-passthrough-file-drops-fb',
    'flush-enosys-remembered',
    'backing-close-while-files-open-last-release-frees',
    'iomode-second-open-same-id',
    'backing-close-while-file-open',
    'mmap-passthrough-outlives-close',
    'mmap-direct-io-allow-mmap-caches',
  ],
  'Inode free / Connection teardown': ['inode-drop-sends-forget', 'teardown-frees-ids-left-in-map', 'abort-backing-ioctls-still-work'],
};

/**
 * Issue 10, "the whole request stream": its six numbered areas and the scenarios that show
 * each one (every area needs one the oracle runs on the real kernel: see below).
 */
const REQUEST_STREAM: Record<string, string[]> = {
  '1. requests around passthrough io': [
    'getxattr-before-writes-enosys-remembered',
    'getxattr-enodata-asked-every-write',
    'setattr-truncate-passthrough',
    'statfs-and-chmod',
    'lock-fuse-no-lock-flags-stays-local',
    'lock-fuse-posix-locks-requests',
    'lock-fuse-flock-locks-release-unlock',
    'lock-fuse-enosys-not-remembered',
    'lock-fuse-conflict-reply',
    'lock-fuse-init-minor-16-flock-follows-posix',
    'fsync-fallocate-lseek-enosys-remembered',
    'fsync-fallocate-lseek-implemented',
    'copy-file-range-enosys-falls-back-to-splice',
    'copy-file-range-server-copies',
    'copy-file-range-64-enosys-then-32',
    'copy-file-range-6.9-no-64',
    'sendfile-splice-through-fuse',
    'writeback-cache-fsync-fallocate-copy',
    'fsyncdir-enosys-remembered',
    'sync-seek-copy-after-abort',
    // namespace operations and directories (docs/request-streams.md §4, §5)
    'dir-lock-two-creators-one-name',
    'dir-lock-two-unlinks-one-name',
    'ns-create-passthrough',
    'ns-unlink-rename-forget',
    'ns-readdir-opendir-passthrough-ignored',
    'ns-readdirplus-drop-caches-forget',
    'ns-readdirplus-auto',
    'ns-create-enosys-mknod-open',
    'ns-rename2-flags-enosys-einval',
    'ns-rename-open-file-forget-nlookup',
    'ns-readdir-cache-dir',
    'ns-negative-dentry',
    'fuse-symlinks-readlink',
    'fuse-symlink-create',
  ],
  '2. open modes and syscalls users make': [
    'open-modes-wronly-append',
    'open-trunc-setattr',
    'setattr-truncate-passthrough',
    'mmap-loads-stores-writeback',
    'lock-posix-conflict-release-on-any-close',
    'lock-posix-split-merge',
    'lock-posix-deadlock-edeadlk',
    'lock-errors',
    'lock-close-race-ebadf',
    'lock-overlay-has-its-own-locks',
    'flock-owner-is-the-open-file',
    'flock-failed-upgrade-drops-lock',
    'flock-and-fcntl-locks-independent',
    'flock-waits-until-last-close',
    'flock-cycle-sleeps-forever',
    'sync-seek-alloc-plain-files',
    'sendfile-splice-through-fuse',
    'fallocate-mode-checks-6.18',
    'fallocate-mode-checks-6.9',
    'read-write-at-f-pos',
    'ns-create-passthrough',
    'ns-tmpfs-readdir-newest-first',
    // three users open one name at once: one LOOKUP (d_alloc_parallel), one backing for all
    'three-readers-one-backing',
  ],
  '3. the page cache and attribute caching': ['page-cache-second-read-no-request', 'stat-mount-root-getattr', 'attr-entry-valid-timeouts', 'writeback-cache-deferred-writes', 'writeback-cache-setattr', 'writeback-cache-write-after-abort', 'writeback-cache-fsync-fallocate-copy', 'writeback-cache-two-writers-one-folio', 'writeback-cache-reads-after-abort'],
  '4. device and connection life': [
    'dev-fuse-unmounted-ioctls-6.18',
    'dev-fuse-unmounted-ioctls-6.9',
    'dev-fuse-sync-init-backing-open-waits',
    'init-held-backing-ioctls-eperm',
    'clone-backing-ids-shared',
    'dev-close-passthrough-keeps-working',
    'dev-close-revalidate-drops-open-inode',
    'lazy-umount-passthrough-open',
    'fork-child-drops-cap-sys-admin',
    'capset-one-thread-only',
  ],
  '5. every kind of backing fd': [
    'passthrough-backing-file-unlinked-meanwhile',
    'backing-fd-kinds-6.18',
    'backing-fd-kinds-6.9',
    'backing-fd-regular-modes-6.18',
    'backing-open-dir-6.18-eisdir',
    'backing-open-fifo-6.18-einval',
    'backing-open-opath-6.18-ok',
  ],
  '6. the wire as it is': ['wire-open-reply-unknown-bits', 'wire-backing-open-padding-u64', 'wire-init-request'],
};

group('the built-in scenario library', () => {
  it('has scenarios', () => {
    expect(FILES.length).toBeGreaterThanOrEqual(60);
  });

  it.each(FILES.map((f) => [basename(f, '.json'), f]))('%s passes', (_name, file) => {
    const s = loadScenario(file);
    const r = runScenario(s, { record: false });
    const verdict = formatVerdict(r).join('\n');
    if (!r.passed) console.log(verdict);
    expect(r.passed, verdict).toBe(true);
  });

  it.each(FILES.map((f) => [basename(f, '.json'), f]))('%s is named after its file, cites the spec and writes its expectations down', (name, file) => {
    const s = loadScenario(file);
    expect(s.name).toBe(name);
    expect(s.spec ?? '', `${name} has no "spec" paragraph`).not.toBe('');
    expect(s.description, `${name} has no description`).not.toBe('');
    const opExpectations = s.tasks.flatMap((t) => t.ops).filter((o) => o.expect !== undefined || o.op === 'assert').length;
    const other = s.expect.violations.length + Object.keys(s.expect.server_seen ?? {}).length + Object.keys(s.expect.server_never ?? {}).length;
    expect(opExpectations + other, `${name} expects nothing`).toBeGreaterThan(0);
  });
});

group('issue 10 coverage: the request stream', () => {
  it.each(Object.entries(REQUEST_STREAM))('area "%s": each named scenario exists, and at least one runs on the real kernel', (_area, names) => {
    for (const n of names) expect(NAMES.has(n), `no scenario file scenarios/${n}.json`).toBe(true);
    const real = names.filter((n) => realSkipReason(loadScenario(join(DIR, `${n}.json`))) === null);
    expect(real.length, 'no scenario of this area runs on the real kernel (fpsim oracle)').toBeGreaterThan(0);
  });
});

group('spec section 3 coverage', () => {
  it.each(Object.entries(SECTION_3))('paragraph "%s" has at least one scenario, and each named one exists', (_para, names) => {
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(NAMES.has(n), `no scenario file scenarios/${n}.json`).toBe(true);
  });

  it('every scenario file is listed under some paragraph, or covers spec section 6 (abort)', () => {
    const listed = new Set([...Object.values(SECTION_3), ...Object.values(REQUEST_STREAM)].flat());
    const unlisted = [...NAMES].filter((n) => !listed.has(n) && !n.startsWith('abort-'));
    expect(unlisted).toEqual([]);
  });
});
