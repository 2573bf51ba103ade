// The 7.45 request stream on the wire: every request a 6.18 kernel sends and every reply it
// accepts, round trips, byte vectors checked by hand against include/uapi/linux/fuse.h, the
// rejections a fuzzer will find, the flag names, and the one-line formatter.
import { describe as group, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  DT,
  FALLOC_FL,
  FATTR,
  FOPEN,
  FUSE_FALLOCATE_MODES,
  FUSE_FSYNC_FDATASYNC,
  FUSE_KERNEL_MINOR_VERSION,
  FUSE_KERNEL_MINOR_VERSION_6_18,
  FUSE_KERNEL_MINOR_VERSION_6_9,
  FUSE_LK_FLOCK,
  FUSE_MINOR,
  FUSE_NOTIFY,
  FUSE_OPCODE,
  FUSE_RELEASE_FLOCK_UNLOCK,
  FUSE_SETXATTR_ACL_KILL_SGID,
  F_RDLCK,
  F_UNLCK,
  F_WRLCK,
  OFFSET_MAX,
  O_CREAT,
  O_EXCL,
  O_LARGEFILE,
  O_RDWR,
  O_SYNC,
  O_TRUNC,
  O_WRONLY,
  RENAME_EXCHANGE,
  RENAME_NOREPLACE,
  RENAME_WHITEOUT,
  SEEK_DATA,
  SEEK_HOLE,
  STATX,
  STATX_BASIC_STATS,
  V15_UAPI,
  bitNames,
  fattrNames,
  fopenNames,
  openFlagNames,
  opcodeName,
} from '../sim/wire/uapi.ts';
import {
  FUSE_ATTR,
  FUSE_COPY_FILE_RANGE_IN,
  FUSE_CREATE_IN,
  FUSE_ENTRY_OUT,
  FUSE_FALLOCATE_IN,
  FUSE_FORGET_IN,
  FUSE_FSYNC_IN,
  FUSE_GETXATTR_IN,
  FUSE_INIT_IN,
  FUSE_INTERRUPT_IN,
  FUSE_KSTATFS,
  FUSE_LK_IN,
  FUSE_LSEEK_IN,
  FUSE_MKDIR_IN,
  FUSE_MKNOD_IN,
  FUSE_OPEN_IN,
  FUSE_READ_IN,
  FUSE_RELEASE_IN,
  FUSE_SETATTR_IN,
  FUSE_ACCESS_IN,
  FUSE_STATX,
  FUSE_STATX_IN,
  WireError,
  encode,
  zeroValue,
} from '../sim/wire/structs.ts';
import type { FuseEntryOut, Layout } from '../sim/wire/structs.ts';
import {
  EMPTY_REPLY_OPS,
  ReplyContentError,
  decodeDirents,
  decodeReply,
  decodeReplyArg,
  decodeRequest,
  decodeRequestArg,
  encodeBatchForgetBody,
  encodeCreateOut,
  encodeDirentplus,
  encodeDirents,
  encodeGetxattrBody,
  encodeGetxattrOut,
  encodeNameBody,
  encodeNamedRequest,
  encodeRename2Body,
  encodeRenameBody,
  encodeReply,
  encodeReplyArg,
  encodeRequest,
  encodeRequestArg,
  encodeSetxattrBody,
  encodeSymlinkBody,
  encodeXattrList,
} from '../sim/wire/messages.ts';
import type { ReplyArg, RequestArg } from '../sim/wire/messages.ts';
import { formatReply, formatRequest } from '../sim/wire/format.ts';

const FC = { seed: 42, numRuns: 200 } as const;
const te = new TextEncoder();
const nm = (name: string) => ({ name, nameBytes: te.encode(name) });
const bytes = (...xs: number[]) => Uint8Array.from(xs);
const le64 = (n: bigint) => Array.from({ length: 8 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const le32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];

/** The error a thunk throws, so tests can look at struct and offset. */
function thrown(f: () => unknown): WireError {
  try {
    f();
  } catch (e) {
    if (e instanceof WireError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

/** Arbitrary for any layout's value, respecting each field's range. */
function arbValue(layout: Layout): fc.Arbitrary<Record<string, unknown>> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of layout.fields) {
    if (f.type === 'reserved') continue;
    if (f.type === 'struct') rec[f.name] = arbValue(f.layout);
    else if (f.type === 'u8') rec[f.name] = fc.integer({ min: 0, max: 0xff });
    else if (f.type === 'u16') rec[f.name] = fc.integer({ min: 0, max: 0xffff });
    else if (f.type === 'u32') rec[f.name] = fc.integer({ min: 0, max: 0xffff_ffff });
    else if (f.type === 'i32') rec[f.name] = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
    else rec[f.name] = fc.maxSafeNat();
  }
  return fc.record(rec);
}

const attr = { ...zeroValue(FUSE_ATTR), ino: 5, size: 12, mode: 0o100644, nlink: 1, blksize: 4096 };
const entry: FuseEntryOut = { nodeid: 5, generation: 1, entry_valid: 86400, attr_valid: 86400, entry_valid_nsec: 0, attr_valid_nsec: 0, attr };
const readIn = { fh: 4, offset: 0, size: 4096, read_flags: 0, lock_owner: 0, flags: O_RDWR | O_LARGEFILE, padding: 0 };
const lk = { fh: 4, owner: 0xffff_8881_0234_5678n, lk: { start: 20, end: OFFSET_MAX, type: F_RDLCK, pid: 1234 }, lk_flags: 0, padding: 0 };

/** One request of every opcode the kernel model sends, as decodeRequestArg returns it. */
const REQUESTS: RequestArg[] = [
  { op: 'INIT', arg: { major: 7, minor: 45, max_readahead: 131072, flags: 0x73fffffb, flags2: 0x5fd } },
  { op: 'LOOKUP', ...nm('a') },
  { op: 'GETATTR', arg: { getattr_flags: 1, dummy: 0, fh: 4 } },
  { op: 'SETATTR', arg: { ...zeroValue(FUSE_SETATTR_IN), valid: FATTR.SIZE | FATTR.FH | FATTR.LOCKOWNER, fh: 4, size: 20, lock_owner: 0x1234 } },
  { op: 'READLINK' },
  { op: 'SYMLINK', ...nm('link'), target: '../target/file', targetBytes: te.encode('../target/file') },
  { op: 'MKNOD', arg: { mode: 0o100640, rdev: 0, umask: 0o22, padding: 0 }, ...nm('n') },
  { op: 'MKDIR', arg: { mode: 0o755, umask: 0o22 }, ...nm('d') },
  { op: 'UNLINK', ...nm('u') },
  { op: 'RMDIR', ...nm('d') },
  { op: 'RENAME', arg: { newdir: 7 }, oldname: 'old', oldnameBytes: te.encode('old'), newname: 'new', newnameBytes: te.encode('new') },
  { op: 'LINK', arg: { oldnodeid: 5 }, ...nm('hard') },
  { op: 'OPEN', arg: { flags: O_RDWR | O_LARGEFILE, open_flags: 0 } },
  { op: 'READ', arg: readIn },
  { op: 'WRITE', arg: { fh: 4, offset: 0, size: 2, write_flags: 2, lock_owner: 0x99, flags: O_RDWR | O_LARGEFILE, padding: 0 }, data: te.encode('XY') },
  { op: 'STATFS' },
  { op: 'RELEASE', arg: { fh: 4, flags: O_RDWR | O_LARGEFILE, release_flags: FUSE_RELEASE_FLOCK_UNLOCK, lock_owner: 0x77 } },
  { op: 'FSYNC', arg: { fh: 4, fsync_flags: FUSE_FSYNC_FDATASYNC, padding: 0 } },
  { op: 'SETXATTR', arg: { size: 3, flags: 1, setxattr_flags: 0, padding: 0 }, ext: false, ...nm('user.x'), value: te.encode('abc') },
  { op: 'GETXATTR', arg: { size: 0, padding: 0 }, ...nm('security.capability') },
  { op: 'LISTXATTR', arg: { size: 4096, padding: 0 } },
  { op: 'REMOVEXATTR', ...nm('security.capability') },
  { op: 'FLUSH', arg: { fh: 4, unused: 0, padding: 0, lock_owner: 0x1234 } },
  { op: 'OPENDIR', arg: { flags: 0o200000 | O_LARGEFILE, open_flags: 0 } },
  { op: 'READDIR', arg: readIn },
  { op: 'RELEASEDIR', arg: { fh: 5, flags: 0, release_flags: 0, lock_owner: 0 } },
  { op: 'FSYNCDIR', arg: { fh: 5, fsync_flags: 0, padding: 0 } },
  { op: 'GETLK', arg: { ...lk, lk: { start: 0, end: OFFSET_MAX, type: F_WRLCK, pid: 0 } } },
  { op: 'SETLK', arg: { ...lk, lk: { start: 0, end: 9, type: F_WRLCK, pid: 1234 } } },
  { op: 'SETLKW', arg: { ...lk, lk_flags: FUSE_LK_FLOCK } },
  { op: 'ACCESS', arg: { mask: 4 | 2, padding: 0 } },
  { op: 'CREATE', arg: { flags: O_RDWR | O_CREAT | O_LARGEFILE, mode: 0o100640, umask: 0o22, open_flags: 0 }, ...nm('new file') },
  { op: 'INTERRUPT', arg: { unique: 0x8000_0000_0000_0010n } },
  { op: 'DESTROY' },
  { op: 'FORGET', arg: { nlookup: 3 } },
  { op: 'BATCH_FORGET', arg: { count: 2, dummy: 0 }, forgets: [{ nodeid: 2, nlookup: 1 }, { nodeid: 3, nlookup: 5 }] },
  { op: 'FALLOCATE', arg: { fh: 4, offset: 0, length: 100, mode: FALLOC_FL.KEEP_SIZE | FALLOC_FL.PUNCH_HOLE, padding: 0 } },
  { op: 'READDIRPLUS', arg: readIn },
  { op: 'RENAME2', arg: { newdir: 1, flags: RENAME_NOREPLACE, padding: 0 }, oldname: 'a', oldnameBytes: te.encode('a'), newname: 'b', newnameBytes: te.encode('b') },
  { op: 'LSEEK', arg: { fh: 4, offset: 8, whence: SEEK_DATA, padding: 0 } },
  { op: 'COPY_FILE_RANGE', arg: { fh_in: 4, off_in: 0, nodeid_out: 6, fh_out: 9, off_out: 8, len: 8, flags: 0 } },
  { op: 'TMPFILE', arg: { flags: O_RDWR | O_LARGEFILE, mode: 0o100600, umask: 0o22, open_flags: 0 }, ...nm('tmp') },
  { op: 'COPY_FILE_RANGE_64', arg: { fh_in: 4, off_in: 0, nodeid_out: 6, fh_out: 9, off_out: 8, len: 2 ** 40, flags: 0 } },
  { op: 'STATX', arg: { getattr_flags: 0, reserved: 0, fh: 0, sx_flags: 0, sx_mask: STATX_BASIC_STATS | STATX.BTIME } },
];

/** Opcodes a 6.18 kernel never sends to a /dev/fuse server, or that fpsim leaves alone. */
const NOT_DECODED = ['BMAP', 'IOCTL', 'POLL', 'NOTIFY_REPLY', 'SETUPMAPPING', 'REMOVEMAPPING', 'SYNCFS', 'CUSE_INIT', 'CUSE_INIT_BSWAP_RESERVED', 'FUSE_INIT_BSWAP_RESERVED'];

const roundTripRequest = (a: RequestArg, ext = false): RequestArg => {
  const opcode = FUSE_OPCODE[a.op];
  const msg = encodeRequest({ opcode, unique: 10, nodeid: 1, uid: 1000, gid: 1000, pid: 42 }, encodeRequestArg(a));
  const req = decodeRequest(msg);
  expect(req.header.opcode).toBe(opcode);
  return decodeRequestArg(req.header.opcode, req.body, { setxattrExt: ext });
};

group('requests: every opcode round-trips through encodeRequestArg / encodeRequest / decodeRequestArg', () => {
  it('covers every opcode of the 7.45 enum but the ones fpsim does not decode', () => {
    const all = Object.keys(FUSE_OPCODE).filter((k) => !NOT_DECODED.includes(k));
    expect(REQUESTS.map((r) => r.op).sort()).toEqual(all.sort());
  });

  it.each(REQUESTS.map((r) => [r.op, r] as const))('%s', (_op, a) => {
    expect(roundTripRequest(a)).toEqual(a);
  });

  it('SETXATTR in the 16-byte SETXATTR_EXT form carries setxattr_flags', () => {
    const a: RequestArg = { op: 'SETXATTR', arg: { size: 2, flags: 0, setxattr_flags: FUSE_SETXATTR_ACL_KILL_SGID, padding: 0 }, ext: true, ...nm('system.posix_acl_access'), value: bytes(1, 0) };
    expect(roundTripRequest(a, true)).toEqual(a);
    expect(encodeRequestArg(a).length).toBe(16 + 'system.posix_acl_access'.length + 1 + 2);
  });

  const fixed: [string, Layout][] = [
    ['SETATTR', FUSE_SETATTR_IN],
    ['FSYNC', FUSE_FSYNC_IN],
    ['FSYNCDIR', FUSE_FSYNC_IN],
    ['FALLOCATE', FUSE_FALLOCATE_IN],
    ['LSEEK', FUSE_LSEEK_IN],
    ['COPY_FILE_RANGE', FUSE_COPY_FILE_RANGE_IN],
    ['COPY_FILE_RANGE_64', FUSE_COPY_FILE_RANGE_IN],
    ['GETLK', FUSE_LK_IN],
    ['SETLK', FUSE_LK_IN],
    ['SETLKW', FUSE_LK_IN],
    ['FORGET', FUSE_FORGET_IN],
    ['READDIR', FUSE_READ_IN],
    ['READDIRPLUS', FUSE_READ_IN],
    ['ACCESS', FUSE_ACCESS_IN],
    ['INTERRUPT', FUSE_INTERRUPT_IN],
    ['STATX', FUSE_STATX_IN],
    ['LISTXATTR', FUSE_GETXATTR_IN],
    ['OPENDIR', FUSE_OPEN_IN],
    ['RELEASEDIR', FUSE_RELEASE_IN],
  ];
  it.each(fixed)('%s: any argument value (fast-check)', (op, layout) => {
    fc.assert(
      fc.property(arbValue(layout), (v) => {
        const opcode = FUSE_OPCODE[op as keyof typeof FUSE_OPCODE];
        expect(decodeRequestArg(opcode, encode(layout, v as never))).toEqual({ op, arg: v });
      }),
      FC,
    );
  });

  it('names: any NUL-free bytes, UTF-8 or not, come back as sent (fast-check)', () => {
    const name = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => b.map((x) => (x === 0 ? 1 : x)));
    fc.assert(
      fc.property(name, name, arbValue(FUSE_CREATE_IN), (a, b, create) => {
        const c = decodeRequestArg(FUSE_OPCODE.CREATE, encodeNamedRequest(FUSE_CREATE_IN, create as never, a));
        expect(c).toMatchObject({ op: 'CREATE', arg: create, nameBytes: a });
        const r = decodeRequestArg(FUSE_OPCODE.RENAME, encodeRenameBody(3, a, b));
        expect(r).toMatchObject({ op: 'RENAME', arg: { newdir: 3 }, oldnameBytes: a, newnameBytes: b });
        const s = decodeRequestArg(FUSE_OPCODE.SYMLINK, encodeSymlinkBody(a, b));
        expect(s).toMatchObject({ op: 'SYMLINK', nameBytes: a, targetBytes: b });
      }),
      FC,
    );
  });

  it('BATCH_FORGET with any number of entries (fast-check)', () => {
    const one = fc.record({ nodeid: fc.maxSafeNat(), nlookup: fc.maxSafeNat() });
    fc.assert(
      fc.property(fc.array(one, { maxLength: 300 }), (forgets) => {
        const body = encodeBatchForgetBody(forgets);
        expect(body.length).toBe(8 + 16 * forgets.length);
        expect(decodeRequestArg(FUSE_OPCODE.BATCH_FORGET, body)).toEqual({ op: 'BATCH_FORGET', arg: { count: forgets.length, dummy: 0 }, forgets });
      }),
      FC,
    );
  });
});

group('request bodies byte by byte (include/uapi/linux/fuse.h, x86_64)', () => {
  it('SETATTR for ftruncate(fd, 20): valid 0x248 = SIZE|FH|LOCKOWNER, fh at 8, size at 16, owner at 24', () => {
    const b = encode(FUSE_SETATTR_IN, { ...zeroValue(FUSE_SETATTR_IN), valid: FATTR.SIZE | FATTR.FH | FATTR.LOCKOWNER, fh: 3, size: 20, lock_owner: 0xffff_8881_0000_0001n, mode: 0o100600, uid: 1, gid: 2 });
    expect(b.length).toBe(88);
    expect(Array.from(b.subarray(0, 32))).toEqual([...le32(0x248), ...le32(0), ...le64(3n), ...le64(20n), ...le64(0xffff_8881_0000_0001n)]);
    expect(Array.from(b.subarray(68, 88))).toEqual([...le32(0o100600), ...le32(0), ...le32(1), ...le32(2), ...le32(0)]);
  });

  it('RENAME: newdir then "old\\0new\\0"; RENAME2 adds flags at 8', () => {
    expect(Array.from(encodeRenameBody(7, 'a', 'bc'))).toEqual([...le64(7n), 0x61, 0, 0x62, 0x63, 0]);
    expect(Array.from(encodeRename2Body(1, RENAME_EXCHANGE, 'a', 'b'))).toEqual([...le64(1n), ...le32(2), ...le32(0), 0x61, 0, 0x62, 0]);
  });

  it('SYMLINK: the entry name first, then the target', () => {
    expect(Array.from(encodeSymlinkBody('l', '/t'))).toEqual([0x6c, 0, 0x2f, 0x74, 0]);
  });

  it('BATCH_FORGET: count, dummy, then {nodeid, nlookup} pairs', () => {
    expect(Array.from(encodeBatchForgetBody([{ nodeid: 2, nlookup: 1 }, { nodeid: 3, nlookup: 1 }]))).toEqual([
      ...le32(2), ...le32(0), ...le64(2n), ...le64(1n), ...le64(3n), ...le64(1n),
    ]);
  });

  it('SETXATTR: 8-byte compat form by default, 16 bytes with SETXATTR_EXT', () => {
    const value = te.encode('abc');
    expect(Array.from(encodeSetxattrBody({ flags: 1 }, 'u.x', value, { ext: false }))).toEqual([...le32(3), ...le32(1), 0x75, 0x2e, 0x78, 0, 0x61, 0x62, 0x63]);
    expect(Array.from(encodeSetxattrBody({ flags: 2, setxattr_flags: 1 }, 'u.x', value, { ext: true }).subarray(0, 16))).toEqual([...le32(3), ...le32(2), ...le32(1), ...le32(0)]);
    expect(() => encodeSetxattrBody({ flags: 0, setxattr_flags: 1 }, 'u.x', value, { ext: false })).toThrow(/SETXATTR_EXT/);
    // a value may hold NULs: only the name's first NUL delimits
    const bin = decodeRequestArg(FUSE_OPCODE.SETXATTR, encodeSetxattrBody({ flags: 0 }, 'n', bytes(0, 0, 7), { ext: false }));
    expect(bin).toMatchObject({ op: 'SETXATTR', name: 'n', value: bytes(0, 0, 7), ext: false, arg: { setxattr_flags: 0 } });
  });

  it('GETXATTR: size then the name; CREATE: flags, mode, umask, open_flags, then the name', () => {
    expect(Array.from(encodeGetxattrBody(0, 'x'))).toEqual([...le32(0), ...le32(0), 0x78, 0]);
    expect(Array.from(encodeNamedRequest(FUSE_CREATE_IN, { flags: 0o100102, mode: 0o100640, umask: 0o22, open_flags: 1 }, 'n'))).toEqual([
      ...le32(0o100102), ...le32(0o100640), ...le32(0o22), ...le32(1), 0x6e, 0,
    ]);
    expect(Array.from(encodeNamedRequest(FUSE_MKDIR_IN, { mode: 0o755, umask: 0o22 }, 'd'))).toEqual([...le32(0o755), ...le32(0o22), 0x64, 0]);
    expect(Array.from(encodeNamedRequest(FUSE_MKNOD_IN, { mode: 0o10644, rdev: 0, umask: 0, padding: 0 }, 'p')).length).toBe(18);
  });

  it('SETLKW to end of file: end = OFFSET_MAX (2^63 - 1) at 24, type at 32, pid at 36, lk_flags at 40', () => {
    const b = encode(FUSE_LK_IN, lk);
    expect(Array.from(b.subarray(8, 16))).toEqual(le64(0xffff_8881_0234_5678n));
    expect(Array.from(b.subarray(16, 24))).toEqual(le64(20n));
    expect(Array.from(b.subarray(24, 32))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    expect(Array.from(b.subarray(32, 44))).toEqual([...le32(F_RDLCK), ...le32(1234), ...le32(0)]);
    const d = decodeRequestArg(FUSE_OPCODE.SETLKW, b);
    expect(d.op === 'SETLKW' && d.arg.lk.end).toBe(OFFSET_MAX);
  });

  it('the 6.18 INIT request decodes to minor 45 with ALLOW_IDMAP and REQUEST_TIMEOUT in flags2', () => {
    const d = decodeRequestArg(FUSE_OPCODE.INIT, encode(FUSE_INIT_IN, { major: 7, minor: 45, max_readahead: 131072, flags: 0x73fffffb, flags2: 0x5fd }));
    expect(d).toMatchObject({ op: 'INIT', arg: { minor: 45, flags2: 0x5fd } });
  });
});

group('request rejections: what the kernel never sends and a fuzzer will', () => {
  it.each([
    ['SETATTR', 88, 'fuse_setattr_in'],
    ['FSYNC', 16, 'fuse_fsync_in'],
    ['FSYNCDIR', 16, 'fuse_fsync_in'],
    ['FALLOCATE', 32, 'fuse_fallocate_in'],
    ['LSEEK', 24, 'fuse_lseek_in'],
    ['COPY_FILE_RANGE', 56, 'fuse_copy_file_range_in'],
    ['COPY_FILE_RANGE_64', 56, 'fuse_copy_file_range_in'],
    ['GETLK', 48, 'fuse_lk_in'],
    ['SETLK', 48, 'fuse_lk_in'],
    ['SETLKW', 48, 'fuse_lk_in'],
    ['FORGET', 8, 'fuse_forget_in'],
    ['LISTXATTR', 8, 'fuse_getxattr_in'],
    ['READDIR', 40, 'fuse_read_in'],
    ['READDIRPLUS', 40, 'fuse_read_in'],
    ['ACCESS', 8, 'fuse_access_in'],
    ['INTERRUPT', 8, 'fuse_interrupt_in'],
    ['STATX', 24, 'fuse_statx_in'],
  ] as const)('%s: a body of %i bytes exactly (%s)', (op, size, struct) => {
    for (const n of [0, size - 1, size + 1, size + 8]) {
      const e = thrown(() => decodeRequestArg(FUSE_OPCODE[op], new Uint8Array(n)));
      expect([e.struct, e.offset]).toEqual([struct, 0]);
      expect(e.message).toMatch(new RegExp(`body is ${n} bytes, expected exactly ${size}`));
    }
  });

  it.each(['STATFS', 'READLINK', 'DESTROY'] as const)('%s: the body must be empty', (op) => {
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE[op], new Uint8Array(1)))).toMatchObject({ struct: op, offset: 0 });
  });

  it('a name with no NUL names the request and the offset where the NUL should be', () => {
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.UNLINK, te.encode('abc')))).toMatchObject({ struct: 'UNLINK name', offset: 3 });
    const create = encode(FUSE_CREATE_IN, zeroValue(FUSE_CREATE_IN));
    const e = thrown(() => decodeRequestArg(FUSE_OPCODE.CREATE, Uint8Array.from([...create, 0x61, 0x62])));
    expect([e.struct, e.offset]).toEqual(['CREATE name', 18]);
    expect(e.message).toMatch(/no NUL terminator in 2 bytes/);
    // a body that ends right after the struct has an empty, unterminated name
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.MKDIR, new Uint8Array(8)))).toMatchObject({ struct: 'MKDIR name', offset: 8 });
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.GETXATTR, new Uint8Array(8)))).toMatchObject({ struct: 'GETXATTR name', offset: 8 });
  });

  it('bytes after the name are refused (the NUL must be the last byte)', () => {
    const e = thrown(() => decodeRequestArg(FUSE_OPCODE.LINK, Uint8Array.from([...le64(5n), 0x61, 0, 0x62])));
    expect([e.struct, e.offset]).toEqual(['LINK name', 9]);
  });

  it('a fixed part cut short names the struct', () => {
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.CREATE, new Uint8Array(15)))).toMatchObject({ struct: 'fuse_create_in', offset: 0 });
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.RENAME2, new Uint8Array(12)))).toMatchObject({ struct: 'fuse_rename2_in', offset: 0 });
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.BATCH_FORGET, new Uint8Array(4)))).toMatchObject({ struct: 'fuse_batch_forget_in', offset: 0 });
  });

  it('two names need exactly two NULs, the second at the end', () => {
    const dir = le64(1n);
    const rename = (...tail: number[]) => () => decodeRequestArg(FUSE_OPCODE.RENAME, Uint8Array.from([...dir, ...tail]));
    expect(thrown(rename(0x61, 0x62))).toMatchObject({ struct: 'RENAME names', offset: 10 });
    expect(rename(0x61, 0x62)).toThrow(/found 0 NUL/);
    expect(thrown(rename(0x61, 0))).toMatchObject({ struct: 'RENAME names', offset: 10 });
    expect(rename(0x61, 0)).toThrow(/found 1 NUL/);
    expect(thrown(rename(0x61, 0, 0x62, 0, 0x63, 0))).toMatchObject({ struct: 'RENAME names', offset: 13 });
    expect(rename(0x61, 0, 0x62, 0, 0x63, 0)).toThrow(/found 3 NUL/);
    expect(thrown(rename(0x61, 0, 0x62, 0, 0x63))).toMatchObject({ struct: 'RENAME names', offset: 12 });
    expect(rename(0x61, 0, 0x62, 0, 0x63)).toThrow(/1 bytes after the second name/);
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.SYMLINK, encodeNameBody('only')))).toMatchObject({ struct: 'SYMLINK names' });
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.RENAME2, Uint8Array.from([...encodeRename2Body(1, 0, 'a', 'b'), 0x63]))))
      .toMatchObject({ struct: 'RENAME2 names', offset: 20 });
  });

  it('BATCH_FORGET: count must match the entries that follow', () => {
    const two = encodeBatchForgetBody([{ nodeid: 2, nlookup: 1 }, { nodeid: 3, nlookup: 1 }]);
    const lie = two.slice();
    lie[0] = 3;
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.BATCH_FORGET, lie))).toMatchObject({ struct: 'fuse_batch_forget_in', offset: 0 });
    expect(() => decodeRequestArg(FUSE_OPCODE.BATCH_FORGET, lie)).toThrow(/count 3 needs 56 bytes .* body is 40/);
    lie[0] = 1;
    expect(() => decodeRequestArg(FUSE_OPCODE.BATCH_FORGET, lie)).toThrow(/count 1 needs 24 bytes/);
    expect(() => decodeRequestArg(FUSE_OPCODE.BATCH_FORGET, two.subarray(0, 39))).toThrow(WireError);
    expect(decodeRequestArg(FUSE_OPCODE.BATCH_FORGET, encodeBatchForgetBody([]))).toEqual({ op: 'BATCH_FORGET', arg: { count: 0, dummy: 0 }, forgets: [] });
  });

  it('SETXATTR: the value must be `size` bytes; the name needs its NUL; the form must match the negotiation', () => {
    const good = encodeSetxattrBody({ flags: 0 }, 'user.x', te.encode('abc'), { ext: false });
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.SETXATTR, good.subarray(0, good.length - 1)))).toMatchObject({ struct: 'fuse_setxattr_in', offset: 0 });
    expect(() => decodeRequestArg(FUSE_OPCODE.SETXATTR, Uint8Array.from([...good, 0]))).toThrow(/size field says 3 value bytes, 4 follow/);
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.SETXATTR, Uint8Array.from([...le32(0), ...le32(0), 0x61])))).toMatchObject({ struct: 'SETXATTR name', offset: 9 });
    expect(thrown(() => decodeRequestArg(FUSE_OPCODE.SETXATTR, new Uint8Array(7)))).toMatchObject({ struct: 'fuse_setxattr_in' });
    // the 16-byte form read as the 8-byte one (or the reverse) does not parse
    const ext = encodeSetxattrBody({ flags: 0 }, 'user.x', te.encode('abc'), { ext: true });
    expect(() => decodeRequestArg(FUSE_OPCODE.SETXATTR, ext)).toThrow(WireError);
    expect(() => decodeRequestArg(FUSE_OPCODE.SETXATTR, good, { setxattrExt: true })).toThrow(WireError);
  });

  it('encoders refuse a name with a NUL in it', () => {
    expect(() => encodeNameBody('a\0b')).toThrow(/NUL/);
    expect(() => encodeRenameBody(1, 'a', bytes(0x62, 0))).toThrow(/NUL/);
  });
});

const statfs = { st: { ...zeroValue(FUSE_KSTATFS), blocks: 1000, bfree: 10, bavail: 9, files: 50, ffree: 5, bsize: 4096, namelen: 255, frsize: 4096 } };

/** One successful reply of every kind the kernel accepts, with the request size it answers. */
const REPLIES: [ReplyArg, number | undefined][] = [
  [{ op: 'SETATTR', arg: { attr_valid: 1, attr_valid_nsec: 0, dummy: 0, attr } }, undefined],
  [{ op: 'CREATE', entry, open: { fh: 9, open_flags: FOPEN.PASSTHROUGH, backing_id: 1 } }, undefined],
  [{ op: 'TMPFILE', entry, open: { fh: 9, open_flags: 0, backing_id: 0 } }, undefined],
  [{ op: 'MKNOD', arg: entry }, undefined],
  [{ op: 'MKDIR', arg: { ...entry, attr: { ...attr, mode: 0o40755, nlink: 2 } } }, undefined],
  [{ op: 'SYMLINK', arg: { ...entry, attr: { ...attr, mode: 0o120777 } } }, undefined],
  [{ op: 'LINK', arg: { ...entry, attr: { ...attr, nlink: 2 } } }, undefined],
  [{ op: 'GETXATTR', arg: { size: 20, padding: 0 } }, 0],
  [{ op: 'GETXATTR', value: te.encode('v') }, 20],
  [{ op: 'LISTXATTR', arg: { size: 14, padding: 0 } }, 0],
  [{ op: 'LISTXATTR', value: encodeXattrList(['user.a', 'user.b']), names: ['user.a', 'user.b'] }, 14],
  [{ op: 'LSEEK', arg: { offset: 4096 } }, undefined],
  [{ op: 'COPY_FILE_RANGE', arg: { size: 8, padding: 0 } }, undefined],
  [{ op: 'COPY_FILE_RANGE_64', arg: { bytes_copied: 2 ** 40 } }, undefined],
  [{ op: 'STATFS', arg: statfs }, undefined],
  [{ op: 'GETLK', arg: { lk: { start: 0, end: OFFSET_MAX, type: F_UNLCK, pid: 0 } } }, undefined],
  [{ op: 'READDIR', entries: [{ ino: 1, off: 1, type: DT.DIR, ...nm('.') }, { ino: 5, off: 0x7fff_ffff_ffff_fff0n, type: DT.REG, ...nm('a file') }], ignored: 0 }, 4096],
  [{ op: 'READDIR', entries: [], ignored: 0 }, 4096],
  [{ op: 'READDIRPLUS', entries: [{ entry, dirent: { ino: 5, off: 1, type: DT.REG, ...nm('abcdefgh') } }, { entry: { ...entry, nodeid: 0 }, dirent: { ino: 6, off: 2, type: DT.LNK, ...nm('l') } }], ignored: 0 }, 4096],
  [{ op: 'READLINK', target: '../t', targetBytes: te.encode('../t') }, undefined],
  [{ op: 'STATX', arg: { attr_valid: 1, attr_valid_nsec: 0, flags: 0, stat: { ...zeroValue(FUSE_STATX), mask: STATX_BASIC_STATS | STATX.BTIME, mode: 0o100644, btime: { tv_sec: 1_700_000_000, tv_nsec: 5 } } } }, undefined],
  ...EMPTY_REPLY_OPS.map((op): [ReplyArg, undefined] => [{ op }, undefined]),
];

group('replies: every reply the kernel accepts round-trips through encodeReplyArg / decodeReplyArg', () => {
  it.each(REPLIES.map(([r, size]) => [r.op, r, size] as const))('%s', (op, r, requestSize) => {
    const opcode = FUSE_OPCODE[op];
    const msg = encodeReply(11, 0, encodeReplyArg(r));
    const body = decodeReply(msg).body;
    expect(decodeReplyArg(opcode, body, requestSize === undefined ? {} : { requestSize })).toEqual(r);
  });

  it('CREATE reply: entry_out at 0, open_out at 128, 144 bytes', () => {
    const b = encodeCreateOut(entry, { fh: 0x1122, open_flags: FOPEN.PASSTHROUGH, backing_id: -1 });
    expect(b.length).toBe(144);
    expect(Array.from(b.subarray(128))).toEqual([...le64(0x1122n), ...le32(0x80), 0xff, 0xff, 0xff, 0xff]);
  });

  it('a READDIR record: ino, off, namelen, type, name, zero padding to 8', () => {
    const b = encodeDirents([{ ino: 2, off: 1, type: DT.REG, name: 'a' }]);
    expect(Array.from(b)).toEqual([...le64(2n), ...le64(1n), ...le32(1), ...le32(8), 0x61, 0, 0, 0, 0, 0, 0, 0]);
    // a 8-byte name needs no padding; 9 bytes take the record to 40
    expect(encodeDirents([{ ino: 2, off: 1, type: 8, name: '12345678' }]).length).toBe(32);
    expect(encodeDirents([{ ino: 2, off: 1, type: 8, name: '123456789' }]).length).toBe(40);
    // READDIRPLUS: the dirent follows the 128-byte entry_out, the name starts at 152
    const p = encodeDirentplus([{ entry, dirent: { ino: 5, off: 9, type: DT.REG, name: 'x' } }]);
    expect(p.length).toBe(160);
    expect(Array.from(p.subarray(128, 153))).toEqual([...le64(5n), ...le64(9n), ...le32(1), ...le32(8), 0x78]);
  });

  it('dirent lists of any names (fast-check)', () => {
    const name = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('/') && !s.includes('\0'));
    const d = fc.record({ ino: fc.maxSafeNat(), off: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), type: fc.constantFrom(...Object.values(DT)), name });
    fc.assert(
      fc.property(fc.array(d, { maxLength: 20 }), (list) => {
        const buf = encodeDirents(list);
        expect(buf.length % 8).toBe(0);
        const back = decodeDirents(buf).entries;
        expect(back.map((x) => [x.ino, BigInt(x.off), x.type, x.name])).toEqual(list.map((x) => [x.ino, x.off, x.type, x.name]));
      }),
      FC,
    );
  });
});

group('reply sizes: fixed-size replies exactly, variable ones up to the requested size', () => {
  it.each([
    ['SETATTR', 104],
    ['MKNOD', 128],
    ['MKDIR', 128],
    ['SYMLINK', 128],
    ['LINK', 128],
    ['CREATE', 144],
    ['TMPFILE', 144],
    ['LSEEK', 8],
    ['COPY_FILE_RANGE', 8],
    ['COPY_FILE_RANGE_64', 8],
    ['STATFS', 80],
    ['GETLK', 24],
    ['STATX', 288],
  ] as const)('%s reply: exactly %i bytes', (op, size) => {
    expect(() => decodeReplyArg(FUSE_OPCODE[op], new Uint8Array(size))).not.toThrow();
    for (const n of [0, size - 1, size + 1]) expect(() => decodeReplyArg(FUSE_OPCODE[op], new Uint8Array(n))).toThrow(WireError);
  });

  it('STATFS: the old 48-byte reply (FUSE_COMPAT_STATFS_SIZE, minor < 4) is refused', () => {
    expect(() => decodeReplyArg(FUSE_OPCODE.STATFS, new Uint8Array(48))).toThrow(/expected exactly 80/);
  });

  it.each(EMPTY_REPLY_OPS)('%s reply: no body at all', (op) => {
    expect(decodeReplyArg(FUSE_OPCODE[op], new Uint8Array(0))).toEqual({ op });
    expect(thrown(() => decodeReplyArg(FUSE_OPCODE[op], new Uint8Array(1)))).toMatchObject({ struct: `${op} reply`, offset: 0 });
  });

  it('GETXATTR/LISTXATTR: size 0 asks for the length (8 bytes exactly); otherwise the value, at most `size`', () => {
    expect(decodeReplyArg(FUSE_OPCODE.GETXATTR, encodeGetxattrOut(20), { requestSize: 0 })).toEqual({ op: 'GETXATTR', arg: { size: 20, padding: 0 } });
    expect(() => decodeReplyArg(FUSE_OPCODE.GETXATTR, new Uint8Array(9), { requestSize: 0 })).toThrow(/fuse_getxattr_out.*expected exactly 8/);
    expect(decodeReplyArg(FUSE_OPCODE.GETXATTR, bytes(1, 2, 3), { requestSize: 4 })).toEqual({ op: 'GETXATTR', value: bytes(1, 2, 3) });
    expect(decodeReplyArg(FUSE_OPCODE.GETXATTR, bytes(1, 2, 3, 4), { requestSize: 4 })).toEqual({ op: 'GETXATTR', value: bytes(1, 2, 3, 4) });
    // longer than asked: the kernel refuses the reply (EINVAL to the server, EIO to getxattr), not ERANGE
    const e = thrown(() => decodeReplyArg(FUSE_OPCODE.GETXATTR, bytes(1, 2, 3, 4, 5), { requestSize: 4 }));
    expect([e.struct, e.offset]).toEqual(['GETXATTR value', 4]);
    expect(e).not.toBeInstanceOf(ReplyContentError);
    expect(() => decodeReplyArg(FUSE_OPCODE.LISTXATTR, encodeXattrList(['user.a']), { requestSize: 6 })).toThrow(/7 bytes, more than the 6/);
    // without the request's size the decoder cannot tell the two forms apart
    expect(() => decodeReplyArg(FUSE_OPCODE.GETXATTR, new Uint8Array(8))).toThrow(/requestSize/);
    expect(() => decodeReplyArg(FUSE_OPCODE.READDIR, new Uint8Array(0))).toThrow(/requestSize/);
  });

  it('LISTXATTR: an empty or unterminated name is the caller\'s EIO (ReplyContentError), the write was fine', () => {
    for (const list of [bytes(0x61, 0, 0), bytes(0x61, 0, 0x62), bytes(0)]) {
      const e = thrown(() => decodeReplyArg(FUSE_OPCODE.LISTXATTR, list, { requestSize: 100 }));
      expect(e).toBeInstanceOf(ReplyContentError);
      expect((e as ReplyContentError).errno).toBe('EIO');
    }
    expect(decodeReplyArg(FUSE_OPCODE.LISTXATTR, new Uint8Array(0), { requestSize: 100 })).toEqual({ op: 'LISTXATTR', value: new Uint8Array(0), names: [] });
  });

  it('READ and READLINK: no more than asked (READLINK: a page less one)', () => {
    expect(() => decodeReplyArg(FUSE_OPCODE.READ, new Uint8Array(5), { requestSize: 4 })).toThrow(WireError);
    expect(decodeReplyArg(FUSE_OPCODE.READ, new Uint8Array(3), { requestSize: 4 })).toMatchObject({ op: 'READ' });
    expect(() => decodeReplyArg(FUSE_OPCODE.READLINK, new Uint8Array(4096).fill(0x61))).toThrow(/more than the 4095/);
    expect(decodeReplyArg(FUSE_OPCODE.READLINK, new Uint8Array(4095).fill(0x61))).toMatchObject({ op: 'READLINK' });
  });

  it('FORGET and BATCH_FORGET have no reply', () => {
    expect(() => decodeReplyArg(FUSE_OPCODE.FORGET, new Uint8Array(0))).toThrow(/no reply/);
    expect(() => decodeReplyArg(FUSE_OPCODE.BATCH_FORGET, new Uint8Array(0))).toThrow(/no reply/);
  });
});

group('READDIR buffers: each record validated', () => {
  const two = encodeDirents([{ ino: 2, off: 1, type: DT.REG, name: 'a' }, { ino: 3, off: 2, type: DT.REG, name: 'bb' }]);
  const setNamelen = (buf: Uint8Array, at: number, n: number) => new DataView(buf.buffer, buf.byteOffset).setUint32(at + 16, n, true);

  it('more than the READDIR asked for is refused like any out_argvar overrun', () => {
    expect(() => decodeReplyArg(FUSE_OPCODE.READDIR, two, { requestSize: 63 })).toThrow(/READDIR buffer.*more than the 63/);
    expect(decodeReplyArg(FUSE_OPCODE.READDIR, two, { requestSize: 64 })).toMatchObject({ op: 'READDIR', ignored: 0 });
  });

  it('a record that runs past the end is a WireError; lenient parsing stops there like the kernel', () => {
    const cut = two.subarray(0, two.length - 1); // the second record's padding cut short
    const e = thrown(() => decodeReplyArg(FUSE_OPCODE.READDIR, cut, { requestSize: 4096 }));
    expect([e.struct, e.offset]).toEqual(['fuse_dirent', 32]);
    expect(e.message).toMatch(/needs 32 bytes .* 31 left/);
    expect(decodeReplyArg(FUSE_OPCODE.READDIR, cut, { requestSize: 4096, lenientDirents: true })).toMatchObject({ entries: [{ name: 'a' }], ignored: 31 });
    // a namelen that points past the buffer
    const big = two.slice();
    setNamelen(big, 32, 100);
    expect(() => decodeDirents(big)).toThrow(/needs 128 bytes/);
    // a tail too short for a header
    const tail = Uint8Array.from([...two, 1, 2, 3]);
    expect(thrown(() => decodeDirents(tail))).toMatchObject({ struct: 'fuse_dirent', offset: 64 });
    expect(decodeDirents(tail, { lenientDirents: true }).ignored).toBe(3);
  });

  it("namelen 0 or above FUSE_NAME_MAX (1024), or a '/', is getdents' EIO (ReplyContentError)", () => {
    const zero = two.slice();
    setNamelen(zero, 0, 0);
    const e0 = thrown(() => decodeDirents(zero, { lenientDirents: true }));
    expect(e0).toBeInstanceOf(ReplyContentError);
    expect([e0.struct, e0.offset]).toEqual(['fuse_dirent', 16]);
    const long = encodeDirents([{ ino: 2, off: 1, type: 8, name: 'x'.repeat(1025) }]);
    expect(thrown(() => decodeDirents(long))).toBeInstanceOf(ReplyContentError);
    expect(decodeDirents(encodeDirents([{ ino: 2, off: 1, type: 8, name: 'x'.repeat(1024) }])).entries).toHaveLength(1);
    const slash = thrown(() => decodeDirents(encodeDirents([{ ino: 2, off: 1, type: 8, name: 'a' }, { ino: 3, off: 2, type: 8, name: 'b/c' }])));
    expect(slash).toBeInstanceOf(ReplyContentError);
    expect(slash.offset).toBe(32 + 24 + 1);
  });

  it('READDIRPLUS: the same rules with 152-byte record headers', () => {
    const buf = encodeDirentplus([{ entry, dirent: { ino: 5, off: 1, type: DT.REG, name: 'a' } }]);
    expect(buf.length).toBe(160);
    expect(() => decodeReplyArg(FUSE_OPCODE.READDIRPLUS, buf.subarray(0, 159), { requestSize: 4096 })).toThrow(/fuse_direntplus: record at offset 0 needs 160 bytes/);
    expect(() => decodeReplyArg(FUSE_OPCODE.READDIRPLUS, buf.subarray(0, 100), { requestSize: 4096 })).toThrow(/less than a 152-byte record header/);
    expect(decodeReplyArg(FUSE_OPCODE.READDIRPLUS, buf.subarray(0, 159), { requestSize: 4096, lenientDirents: true })).toEqual({ op: 'READDIRPLUS', entries: [], ignored: 159 });
  });
});

group('flag names', () => {
  it('openFlagNames: the access mode first, then the bits low to high', () => {
    expect(openFlagNames(0o100002)).toEqual(['O_RDWR', 'O_LARGEFILE']);
    expect(openFlagNames(0)).toEqual(['O_RDONLY']);
    expect(openFlagNames(O_WRONLY | O_TRUNC | O_LARGEFILE)).toEqual(['O_WRONLY', 'O_TRUNC', 'O_LARGEFILE']);
    expect(openFlagNames(O_RDWR | O_CREAT | O_EXCL | O_LARGEFILE)).toEqual(['O_RDWR', 'O_CREAT', 'O_EXCL', 'O_LARGEFILE']);
    // execve(2) opens with __FMODE_EXEC; overlayfs adds O_NOATIME
    expect(openFlagNames(0o100040)).toEqual(['O_RDONLY', '__FMODE_EXEC', 'O_LARGEFILE']);
    expect(openFlagNames(0o1100000)).toEqual(['O_RDONLY', 'O_LARGEFILE', 'O_NOATIME']);
    expect(openFlagNames(O_WRONLY | O_SYNC)).toEqual(['O_WRONLY', 'O_SYNC']);
    expect(openFlagNames(O_WRONLY | 0o10000)).toEqual(['O_WRONLY', 'O_DSYNC']);
    expect(openFlagNames(0o20200002)).toEqual(['O_RDWR', 'O_DIRECTORY', '__O_TMPFILE']);
    expect(openFlagNames(0o40000 | 0o4000 | 0o2000 | 0o2000000 | 0o10000000)).toEqual(['O_RDONLY', 'O_APPEND', 'O_NONBLOCK', 'O_DIRECT', 'O_CLOEXEC', 'O_PATH']);
    expect(openFlagNames(3 | (1 << 30))).toEqual(['O_ACCMODE', 'bit30']);
    expect(openFlagNames(-1).at(-1)).toBe('bit31');
  });

  it('fattrNames and fopenNames name unknown bits bitN', () => {
    expect(fattrNames(0x248)).toEqual(['SIZE', 'FH', 'LOCKOWNER']);
    expect(fattrNames(FATTR.ATIME | FATTR.MTIME | FATTR.ATIME_NOW | FATTR.MTIME_NOW)).toEqual(['ATIME', 'MTIME', 'ATIME_NOW', 'MTIME_NOW']);
    expect(fattrNames(FATTR.KILL_SUIDGID | (1 << 12))).toEqual(['KILL_SUIDGID', 'bit12']);
    expect(fattrNames(0)).toEqual([]);
    expect(fopenNames(FOPEN.PASSTHROUGH | (1 << 20) | (1 << 31))).toEqual(['PASSTHROUGH', 'bit20', 'bit31']);
    expect(fopenNames(V15_UAPI.FOPEN_PASSTHROUGH)).toEqual(['bit8']);
    expect(bitNames({}, 0xffff_ffff)).toHaveLength(32);
  });

  it('the numbers the kernel copies from other headers (x86_64)', () => {
    expect([RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT]).toEqual([1, 2, 4]);
    expect([F_RDLCK, F_WRLCK, F_UNLCK]).toEqual([0, 1, 2]);
    expect([SEEK_DATA, SEEK_HOLE]).toEqual([3, 4]);
    expect(FALLOC_FL).toMatchObject({ KEEP_SIZE: 1, PUNCH_HOLE: 2, COLLAPSE_RANGE: 8, ZERO_RANGE: 0x10, INSERT_RANGE: 0x20 });
    expect(FUSE_FALLOCATE_MODES).toBe(0x13);
    expect(OFFSET_MAX).toBe((1n << 63n) - 1n);
    expect([O_CREAT, O_EXCL, O_TRUNC, O_LARGEFILE, O_SYNC]).toEqual([0o100, 0o200, 0o1000, 0o100000, 0o4010000]);
  });

  it('7.41..7.45 numbers', () => {
    expect(FUSE_OPCODE.STATX).toBe(52);
    expect(FUSE_OPCODE.COPY_FILE_RANGE_64).toBe(53);
    expect(opcodeName(53)).toBe('COPY_FILE_RANGE_64');
    expect(FUSE_NOTIFY).toMatchObject({ RESEND: 7, INC_EPOCH: 8, PRUNE: 9 });
    expect([FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_MINOR_VERSION_6_9, FUSE_KERNEL_MINOR_VERSION_6_18]).toEqual([40, 40, 45]);
    expect(FUSE_MINOR).toMatchObject({ ALLOW_IDMAP: 41, OVER_IO_URING: 42, REQUEST_TIMEOUT: 43, NOTIFY_INC_EPOCH: 44, COPY_FILE_RANGE_64: 45 });
  });
});

group('formatRequest / formatReply', () => {
  it('the examples: every field by name, flags by name', () => {
    const f = (op: RequestArg['op']) => formatRequest(FUSE_OPCODE[op], encodeRequestArg(REQUESTS.find((r) => r.op === op)!));
    expect(f('SETATTR')).toBe('SETATTR valid=SIZE|FH|LOCKOWNER fh=4 size=20 lock_owner=0x1234 atime=0 mtime=0 ctime=0 atimensec=0 mtimensec=0 ctimensec=0 mode=0 uid=0 gid=0');
    expect(f('OPEN')).toBe('OPEN flags=O_RDWR|O_LARGEFILE open_flags=0');
    expect(f('READ')).toBe('READ fh=4 offset=0 size=4096 read_flags=0 lock_owner=0 flags=O_RDWR|O_LARGEFILE');
    expect(f('GETXATTR')).toBe('GETXATTR size=0 name=security.capability');
    expect(f('BATCH_FORGET')).toBe('BATCH_FORGET count=2 [n2x1 n3x5]');
    expect(f('WRITE')).toBe('WRITE fh=4 offset=0 size=2 write_flags=LOCKOWNER lock_owner=0x99 flags=O_RDWR|O_LARGEFILE data="XY"');
    expect(f('CREATE')).toBe('CREATE flags=O_RDWR|O_CREAT|O_LARGEFILE mode=0100640 umask=022 open_flags=0 name="new file"');
    expect(f('SETLKW')).toBe('SETLKW fh=4 owner=0xffff888102345678 start=20 end=0x7fffffffffffffff type=F_RDLCK pid=1234 lk_flags=FLOCK');
    expect(f('RENAME2')).toBe('RENAME2 newdir=1 flags=NOREPLACE oldname=a newname=b');
    expect(f('SYMLINK')).toBe('SYMLINK name=link target=../target/file');
    expect(f('SETXATTR')).toBe('SETXATTR size=3 flags=CREATE name=user.x value="abc"');
    expect(f('FALLOCATE')).toBe('FALLOCATE fh=4 offset=0 length=100 mode=KEEP_SIZE|PUNCH_HOLE');
    expect(f('LSEEK')).toBe('LSEEK fh=4 offset=8 whence=SEEK_DATA');
    expect(f('ACCESS')).toBe('ACCESS mask=W_OK|R_OK');
    expect(f('RELEASE')).toBe('RELEASE fh=4 flags=O_RDWR|O_LARGEFILE release_flags=FLOCK_UNLOCK lock_owner=0x77');
    expect(f('FSYNC')).toBe('FSYNC fh=4 fsync_flags=FDATASYNC');
    expect(f('INTERRUPT')).toBe('INTERRUPT unique=0x8000000000000010');
    expect(f('STATFS')).toBe('STATFS');
    expect(f('STATX')).toBe('STATX getattr_flags=0 fh=0 sx_flags=0 sx_mask=TYPE|MODE|NLINK|UID|GID|ATIME|MTIME|CTIME|INO|SIZE|BLOCKS|BTIME');
    expect(f('INIT')).toMatch(/^INIT major=7 minor=45 max_readahead=131072 flags=ASYNC_READ\|POSIX_LOCKS\|.*\|INIT_EXT flags2=SECURITY_CTX\|.*\|HAS_RESEND\|ALLOW_IDMAP\|REQUEST_TIMEOUT$/);
  });

  it.each(REQUESTS.map((r) => [r.op, r] as const))('%s: one line, the opcode first, nothing malformed', (op, r) => {
    const line = formatRequest(FUSE_OPCODE[op], encodeRequestArg(r));
    expect(line.startsWith(op)).toBe(true);
    expect(line).not.toMatch(/malformed|\n/);
    expect(line).not.toMatch(/padding=|dummy=|unused/);
  });

  it('a malformed or undecoded body is shown as such', () => {
    expect(formatRequest(FUSE_OPCODE.SETATTR, new Uint8Array(3))).toBe('SETATTR <malformed: fuse_setattr_in: body is 3 bytes, expected exactly 88> 3 bytes');
    expect(formatRequest(FUSE_OPCODE.IOCTL, new Uint8Array(32))).toBe('IOCTL <32 bytes, not decoded>');
    expect(formatRequest(999, new Uint8Array(1))).toBe('OPCODE_999 <1 bytes, not decoded>');
    expect(formatRequest(FUSE_OPCODE.RENAME, Uint8Array.from([...le64(1n), 0x61, 0]))).toMatch(/^RENAME <malformed: RENAME names: .*found 1 NUL/);
  });

  it('replies', () => {
    const r = (op: ReplyArg['op'], i = 0) => {
      const [a, requestSize] = REPLIES.filter(([x]) => x.op === op)[i]!;
      return formatReply(FUSE_OPCODE[op], encodeReplyArg(a), requestSize === undefined ? {} : { requestSize });
    };
    expect(r('CREATE')).toMatch(/^CREATE nodeid=5 generation=1 entry_valid=86400 .* attr\.mode=0100644 .* fh=9 open_flags=PASSTHROUGH backing_id=1$/);
    expect(r('GETXATTR', 0)).toBe('GETXATTR size=20');
    expect(r('GETXATTR', 1)).toBe('GETXATTR value="v"');
    expect(r('LISTXATTR', 1)).toBe('LISTXATTR names=[user.a user.b]');
    expect(r('LSEEK')).toBe('LSEEK offset=4096');
    expect(r('COPY_FILE_RANGE_64')).toBe('COPY_FILE_RANGE_64 bytes_copied=1099511627776');
    expect(r('GETLK')).toBe('GETLK start=0 end=0x7fffffffffffffff type=F_UNLCK pid=0');
    expect(r('STATFS')).toMatch(/^STATFS blocks=1000 bfree=10 bavail=9 files=50 ffree=5 bsize=4096 namelen=255 frsize=4096$/);
    expect(r('READDIR')).toBe('READDIR count=2 [{ino=1 off=1 type=DIR name=.} {ino=5 off=0x7ffffffffffffff0 type=REG name="a file"}]');
    expect(r('READDIRPLUS')).toBe('READDIRPLUS count=2 [{nodeid=5 ino=5 off=1 type=REG name=abcdefgh mode=0100644 size=12} {nodeid=0 ino=6 off=2 type=LNK name=l mode=0100644 size=12}]');
    expect(r('READLINK')).toBe('READLINK target=../t');
    expect(r('RENAME')).toBe('RENAME');
    // the 16 bytes of an open_out: fh, then the u32 open_flags (here 1: DIRECT_IO), then backing_id
    expect(formatReply(FUSE_OPCODE.OPEN, encode(FUSE_ENTRY_OUT, entry).subarray(0, 16))).toBe('OPEN fh=5 open_flags=DIRECT_IO backing_id=0');
    expect(formatReply(FUSE_OPCODE.LOOKUP, new Uint8Array(0), { error: -2 })).toBe('LOOKUP error=-2');
    expect(formatReply(FUSE_OPCODE.MKDIR, new Uint8Array(3))).toBe('MKDIR <malformed: fuse_entry_out: body is 3 bytes, expected exactly 128> 3 bytes');
    expect(formatReply(FUSE_OPCODE.GETXATTR, new Uint8Array(8))).toMatch(/^GETXATTR <malformed: .*requestSize/);
    expect(formatReply(FUSE_OPCODE.READDIR, Uint8Array.from([...encodeDirents([{ ino: 1, off: 1, type: 4, name: 'a' }]), 9]), { requestSize: 4096, lenientDirents: true }))
      .toBe('READDIR count=1 [{ino=1 off=1 type=DIR name=a}] ignored=1');
  });

  it('never throws, whatever the opcode and bytes (fast-check)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.uint8Array({ maxLength: 200 }), fc.option(fc.nat({ max: 300 })), (opcode, body, size) => {
        const q = formatRequest(opcode, body, { setxattrExt: size !== null && size % 2 === 0 });
        const p = formatReply(opcode, body, size === null ? {} : { requestSize: size });
        expect(q.startsWith(opcodeName(opcode))).toBe(true);
        expect(p.startsWith(opcodeName(opcode))).toBe(true);
        expect(q + p).not.toMatch(/\n/);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
