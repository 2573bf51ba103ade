// Server policies are data: what INIT replies, what each OPEN replies, when backing ids are
// opened and closed. The schema is shared with the scenario loader.
import { z } from 'zod';
import { FUSE_INIT_FLAG } from '../wire/uapi.ts';
import { ERRNO } from '../kernel/lib/errno.ts';

const errnoName = z.enum(Object.keys(ERRNO) as [keyof typeof ERRNO, ...(keyof typeof ERRNO)[]]);
const initFlag = z.enum(Object.keys(FUSE_INIT_FLAG) as [string, ...string[]]);
export const FOPEN_NAMES = [
  'DIRECT_IO',
  'KEEP_CACHE',
  'NONSEEKABLE',
  'CACHE_DIR',
  'STREAM',
  'NOFLUSH',
  'PARALLEL_DIRECT_WRITES',
  'PASSTHROUGH',
] as const;
/** a named FOPEN bit, or any bit of the u32 by number ("bit20"): a server may set what it likes */
const fopenFlag = z.string().refine((v) => (FOPEN_NAMES as readonly string[]).includes(v) || /^bit([0-9]|[12][0-9]|3[01])$/.test(v), {
  message: `an FOPEN flag: one of ${FOPEN_NAMES.map((n) => `"${n}"`).join(', ')}, or "bit0" .. "bit31"`,
});

// reply exactly this (backing_id may name a saved variable: "$id")
const ReplyOpenSchema = z
  .object({
    mode: z.literal('reply'),
    flags: z.array(fopenFlag).default([]),
    /** fuse_open_out.backing_id is an s32 */
    backing_id: z
      .union([z.number().int().min(-(2 ** 31)).max(2 ** 31 - 1), z.string().regex(/^\$\w+$/, 'a saved value: "$name"')], {
        error: 'a backing id: an integer from -2^31 to 2^31-1 (fuse_open_out.backing_id is an s32), or a saved value "$name"',
      })
      .default(0),
  })
  .strict();
const ErrorOpenSchema = z.object({ mode: z.literal('error'), errno: errnoName }).strict();

/** How the server answers OPEN. */
export const OpenPolicySchema = z.discriminatedUnion('mode', [
  // libfuse example/passthrough_hp: one backing id per inode, opened at its first open and
  // closed at its last release
  z.object({ mode: z.literal('passthrough_hp') }).strict(),
  // open a fresh backing id for every open; optionally close it right after the reply
  // (the inode keeps its own reference, so that is allowed)
  z.object({ mode: z.literal('per_open'), close_after_reply: z.boolean().default(false), flags: z.array(fopenFlag).default([]) }).strict(),
  ReplyOpenSchema,
  ErrorOpenSchema,
  // the n-th OPEN of the file gets the n-th answer (the last one repeats): two opens of one
  // inode with different replies, e.g. passthrough then cached
  z.object({ mode: z.literal('sequence'), replies: z.array(z.discriminatedUnion('mode', [ReplyOpenSchema, ErrorOpenSchema])).min(1) }).strict(),
]);

/** The file a real server's BACKING_OPEN passed (its kind and flags; a regular file's content). */
const ExternalFileSchema = z
  .object({
    kind: z.enum(['reg', 'dir', 'fifo', 'sock', 'chr', 'blk', 'lnk', 'unknown']),
    /** st_ino, decimal */
    ino: z.string().regex(/^\d+$/),
    /** F_GETFL of the server's fd */
    flags: z.number().int(),
    fsName: z.string(),
    path: z.string(),
    data: z.string().optional(),
  })
  .strict();

/** What a real server did, as the model replays it (sim/server/external.ts). */
export const ExternalEventSchema = z.discriminatedUnion('t', [
  /** it wrote a message on its device (hex) */
  z.object({ t: z.literal('reply'), hex: z.string().regex(/^([0-9a-f]{2})*$/) }).strict(),
  /** a thread of it blocked in ioctl(2) on its device: cmd, the argument's bytes (hex) */
  z.object({ t: z.literal('ioctl'), cmd: z.number().int(), arg: z.string().regex(/^([0-9a-f]{2})*$/), file: ExternalFileSchema.optional() }).strict(),
  /** a backing file's content changed under the server (its own writes): the model's copy follows */
  z.object({ t: z.literal('data'), name: z.string(), data: z.string() }).strict(),
  /** (transcripts only) the request the batch answers: replay checks the model sent the same */
  z.object({ t: z.literal('request'), name: z.string(), unique: z.string() }).strict(),
  /** it crashed, hung, exited or wrote garbage: what happened, and to which request */
  z.object({ t: z.literal('fail'), message: z.string() }).strict(),
]);
export type ExternalEvent = z.infer<typeof ExternalEventSchema>;

export const ServerPolicySchema = z
  .object({
    /** the uapi the server was built against: which bit it sends as FOPEN_PASSTHROUGH */
    uapi: z.enum(['merged', 'v15']).default('merged'),
    cap_sys_admin: z.boolean().default(true),
    init: z
      .object({
        flags: z.array(initFlag).default(['INIT_EXT', 'PASSTHROUGH']),
        max_stack_depth: z.number().int().min(0).max(0xffffffff).default(1),
        // fuse_init_out.major and .minor are u32
        minor: z.number().int().min(0).max(0xffffffff).default(40),
        major: z.number().int().min(0).max(0xffffffff).default(7),
        errno: errnoName.optional(),
        /** reply only the first N bytes of fuse_init_out (an old server) */
        size: z.number().int().min(0).max(64).default(64),
        /**
         * hold the INIT reply: the server reads INIT and answers nothing until a thread of the
         * server process runs the op "init_reply" (the connection stays uninitialized meanwhile:
         * fc->passthrough unset, users' requests wait)
         */
        hold: z.boolean().default(false),
      })
      .strict()
      .default({ flags: ['INIT_EXT', 'PASSTHROUGH'], max_stack_depth: 1, minor: 40, major: 7, size: 64, hold: false }),
    /** the files the server exports: each backed by a path on another mount, or inline data */
    files: z.record(
      z.string().regex(/^[^/]+$/),
      z
        .object({
          backing: z.string().regex(/^\/[^/]+\/[^/]+$/).optional(),
          data: z.string().max(1 << 24, 'at most 16 MiB: the model keeps file data in memory').optional(),
          open: OpenPolicySchema.optional(),
          /** st_mode the server reports, its type included (default 0100644; 040755 is a directory) */
          mode: z.number().int().min(0).max(0o177777).optional(),
          /**
           * not there until a CREATE or MKNOD makes it (LOOKUP says ENOENT): the file a create
           * makes then has this backing file, data and open policy
           */
          absent: z.boolean().optional(),
        })
        .strict(),
    ),
    open: OpenPolicySchema.default({ mode: 'passthrough_hp' }),
    flush: z.enum(['ok', 'ENOSYS']).default('ok'),
    /** GETXATTR: no file has extended attributes (ENODATA), or the server has no xattr support (ENOSYS) */
    getxattr: z.enum(['ENOSYS', 'ENODATA']).default('ENOSYS'),
    /** SETATTR: applied (a size truncates the file, its backing file included), or refused */
    setattr: z.union([z.literal('ok'), errnoName]).default('ok'),
    /** STATFS: libfuse's default answer, or refused */
    statfs: z.union([z.literal('ok'), errnoName]).default('ok'),
    /**
     * LOOKUP of a name the server does not have: "ENOENT" (an error: the kernel keeps nothing),
     * or "negative": passthrough_hp's answer, an entry with nodeid 0 valid for entry_valid,
     * which the kernel keeps as a negative dentry (no LOOKUP for the name until it runs out)
     */
    lookup_missing: z.enum(['ENOENT', 'negative']).default('ENOENT'),
    /** seconds the kernel may keep a LOOKUP's dentry and any attributes the server sends */
    entry_valid: z.number().int().min(0).max(0xffffffff).default(86_400),
    attr_valid: z.number().int().min(0).max(0xffffffff).default(86_400),
    /**
     * How the server answers GETLK, SETLK and SETLKW (sent only with FUSE_POSIX_LOCKS /
     * FUSE_FLOCK_LOCKS in init.flags):
     *  - "grant": every lock and unlock succeeds, GETLK finds nothing (F_UNLCK);
     *  - "conflict": every lock fails EAGAIN (SETLKW too: the server never makes one wait),
     *    unlocks succeed, GETLK reports a write lock over the range asked, pid 0;
     *  - "table": a lock table of its own per inode: POSIX ranges by owner, flock locks by
     *    owner (FUSE_LK_FLOCK), apart; a lock conflicting with another owner's fails EAGAIN
     *    (SETLKW too), GETLK reports the first conflicting POSIX lock with the pid its SETLK
     *    carried, FLUSH drops its lock_owner's POSIX locks on the inode and a RELEASE with
     *    FUSE_RELEASE_FLOCK_UNLOCK its lock_owner's flock lock;
     *  - an errno (ENOSYS: a libfuse server without getlk/setlk): every lock request fails with it.
     */
    locks: z.union([z.enum(['grant', 'conflict', 'table']), errnoName]).default('grant'),
    /**
     * FSYNC and FSYNCDIR, FALLOCATE, LSEEK (SEEK_DATA/SEEK_HOLE), COPY_FILE_RANGE(_64): "ok"
     * (passthrough_hp's: done on the file's data, its backing file included), or an errno;
     * ENOSYS by default, libfuse's answer for an operation the filesystem does not implement.
     * "ok" means: fsync succeeds; fallocate allocates (without KEEP_SIZE the file grows to the
     * range's end) or, with PUNCH_HOLE / ZERO_RANGE, zeroes the range within the file; lseek
     * finds the whole file data (SEEK_DATA: the offset, SEEK_HOLE: the size; ENXIO at or past
     * the end); a copy copies what the source has in the range and replies the count.
     */
    fsync: z.union([z.literal('ok'), errnoName]).default('ENOSYS'),
    fallocate: z.union([z.literal('ok'), errnoName]).default('ENOSYS'),
    lseek: z.union([z.literal('ok'), errnoName]).default('ENOSYS'),
    copy_file_range: z.union([z.literal('ok'), errnoName]).default('ENOSYS'),
    /** COPY_FILE_RANGE_64 (7.45) alone; by default as copy_file_range (a server built before 7.45: "ENOSYS") */
    copy_file_range_64: z.union([z.literal('ok'), errnoName]).optional(),
    /**
     * CREATE: made (its open part answered by the file's open policy), or refused (ENOSYS: the
     * kernel falls back to MKNOD and OPEN for good)
     */
    create: z.union([z.literal('ok'), errnoName]).default('ok'),
    /** MKNOD's entry: the type asked for, or always a regular file (the kernel's type check: EIO) */
    mknod: z.enum(['ok', 'regular']).default('ok'),
    /** RENAME2 (renameat2 with flags): done, or refused (ENOSYS: the kernel says EINVAL for good) */
    rename2: z.union([z.literal('ok'), errnoName]).default('ok'),
    /**
     * OPENDIR: a reply (an fh; FOPEN flags and a backing id as given: CACHE_DIR and KEEP_CACHE
     * for the kernel's readdir cache, PASSTHROUGH, which the kernel ignores for a directory) or
     * an error (ENOSYS: the kernel opens directories without asking from then on, and caches
     * their listings)
     */
    opendir: z.discriminatedUnion('mode', [ReplyOpenSchema, ErrorOpenSchema]).default({ mode: 'reply', flags: [], backing_id: 0 }),
    /**
     * A real server process answers instead of this policy (sim/server/external.ts; `fpsim
     * server` runs one): `files`, `open` and the rest are then unused. A trace of such a run
     * holds the server's answers as `transcript`, so replay needs no server.
     */
    external: z
      .object({
        /** what ran (for people): the server's command line */
        command: z.string(),
        /** the plain filesystem that stands for the server's real backing filesystem */
        host: z.string(),
        /** the server's answers, one batch per request or ioctl answer, in order (replay) */
        transcript: z.array(z.array(ExternalEventSchema)).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type ServerPolicy = z.infer<typeof ServerPolicySchema>;
export type OpenPolicy = z.infer<typeof OpenPolicySchema>;
/** a named FOPEN bit, or "bitN" */
export type FopenName = (typeof FOPEN_NAMES)[number] | (string & {});

/** Every "$name" an open policy names (backing_id), with its JSON path inside the server policy. */
export function savedRefsOfPolicy(p: ServerPolicy): { ref: string; path: (string | number)[] }[] {
  const out: { ref: string; path: (string | number)[] }[] = [];
  const visit = (o: OpenPolicy | undefined, at: (string | number)[]) => {
    if (!o) return;
    if (o.mode === 'reply' && typeof o.backing_id === 'string') out.push({ ref: o.backing_id, path: [...at, 'backing_id'] });
    if (o.mode === 'sequence') {
      o.replies.forEach((r, i) => {
        if (r.mode === 'reply' && typeof r.backing_id === 'string') out.push({ ref: r.backing_id, path: [...at, 'replies', i, 'backing_id'] });
      });
    }
  };
  visit(p.open, ['open']);
  if (p.opendir.mode === 'reply' && typeof p.opendir.backing_id === 'string') out.push({ ref: p.opendir.backing_id, path: ['opendir', 'backing_id'] });
  for (const [name, f] of Object.entries(p.files)) visit(f.open, ['files', name, 'open']);
  return out;
}
