import { describe as group, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  FOPEN,
  FUSE_DEV_IOC_BACKING_CLOSE,
  FUSE_DEV_IOC_BACKING_OPEN,
  FUSE_DEV_IOC_CLONE,
  FUSE_INIT_EXT,
  FUSE_INIT_FLAG,
  FUSE_OPCODE,
  FUSE_PASSTHROUGH,
  FUSE_UNIQUE_RESEND,
  FUSE_WRITEBACK_CACHE,
  V15_UAPI,
  _IOR,
  _IOW,
  initFlagNames,
  joinInitFlags,
  opcodeName,
  splitInitFlags,
} from '../sim/wire/uapi.ts';
import {
  FUSE_ATTR,
  FUSE_ATTR_OUT,
  FUSE_BACKING_MAP,
  FUSE_ENTRY_OUT,
  FUSE_FLUSH_IN,
  FUSE_GETATTR_IN,
  FUSE_IN_HEADER,
  FUSE_INIT_IN,
  FUSE_INIT_OUT,
  FUSE_OPEN_IN,
  FUSE_OPEN_OUT,
  FUSE_OUT_HEADER,
  FUSE_READ_IN,
  FUSE_RELEASE_IN,
  FUSE_WRITE_IN,
  FUSE_WRITE_OUT,
  FUSE_KSTATFS,
  FUSE_STATFS_OUT,
  FUSE_SETATTR_IN,
  FUSE_GETXATTR_IN,
  FUSE_GETXATTR_OUT,
  FUSE_SETXATTR_IN,
  FUSE_FSYNC_IN,
  FUSE_FALLOCATE_IN,
  FUSE_LSEEK_IN,
  FUSE_LSEEK_OUT,
  FUSE_COPY_FILE_RANGE_IN,
  FUSE_COPY_FILE_RANGE_OUT,
  FUSE_FILE_LOCK,
  FUSE_LK_IN,
  FUSE_LK_OUT,
  FUSE_FORGET_IN,
  FUSE_BATCH_FORGET_IN,
  FUSE_FORGET_ONE,
  FUSE_CREATE_IN,
  FUSE_MKNOD_IN,
  FUSE_MKDIR_IN,
  FUSE_RENAME_IN,
  FUSE_RENAME2_IN,
  FUSE_LINK_IN,
  FUSE_ACCESS_IN,
  FUSE_INTERRUPT_IN,
  FUSE_DIRENT,
  FUSE_DIRENTPLUS,
  FUSE_SX_TIME,
  FUSE_STATX,
  FUSE_STATX_IN,
  FUSE_STATX_OUT,
  FUSE_NAME_OFFSET,
  FUSE_NAME_OFFSET_DIRENTPLUS,
  direntAlign,
  LAYOUTS,
  WireError,
  decode,
  defineLayout,
  describe,
  encode,
  formatWide,
  hexdump,
  nonZeroReserved,
  wideEqual,
  zeroValue,
} from '../sim/wire/structs.ts';
import type { FuseInitOut, Layout, ValueOf } from '../sim/wire/structs.ts';
import {
  cstring,
  decodeReply,
  decodeReplyArg,
  decodeRequest,
  decodeRequestArg,
  encodeReply,
  encodeRequest,
  encodeShortInitOut,
  encodeWriteBody,
} from '../sim/wire/messages.ts';

const FC = { seed: 42, numRuns: 200 } as const;

function offsetOf(layout: Layout, name: string): number {
  const f = layout.fields.find((x) => x.name === name);
  if (!f) throw new Error(`${layout.name} has no field ${name}`);
  return f.offset;
}

function typeOf(layout: Layout, name: string): string {
  const f = layout.fields.find((x) => x.name === name);
  if (!f) throw new Error(`${layout.name} has no field ${name}`);
  return f.type;
}

/** Arbitrary for any layout's value, respecting each field's range. */
function arbValue(layout: Layout): fc.Arbitrary<Record<string, unknown>> {
  const rec: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of layout.fields) {
    switch (f.type) {
      case 'reserved':
        break;
      case 'struct':
        rec[f.name] = arbValue(f.layout);
        break;
      case 'u8':
        rec[f.name] = fc.integer({ min: 0, max: 0xff });
        break;
      case 'u16':
        rec[f.name] = fc.integer({ min: 0, max: 0xffff });
        break;
      case 'u32':
        rec[f.name] = fc.integer({ min: 0, max: 0xffff_ffff });
        break;
      case 'i32':
        rec[f.name] = fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff });
        break;
      case 'u64':
      case 'u64w':
        rec[f.name] = fc.maxSafeNat();
        break;
    }
  }
  return fc.record(rec);
}

const bytesOf = (...xs: number[]): number[] => xs;

group('struct sizes and offsets (x86_64 ABI)', () => {
  it.each(([
    [FUSE_IN_HEADER, 40],
    [FUSE_OUT_HEADER, 16],
    [FUSE_INIT_IN, 64],
    [FUSE_INIT_OUT, 64],
    [FUSE_OPEN_IN, 8],
    [FUSE_OPEN_OUT, 16],
    [FUSE_RELEASE_IN, 24],
    [FUSE_FLUSH_IN, 24],
    [FUSE_READ_IN, 40],
    [FUSE_WRITE_IN, 40],
    [FUSE_WRITE_OUT, 8],
    [FUSE_ATTR, 88],
    [FUSE_ATTR_OUT, 104],
    [FUSE_GETATTR_IN, 16],
    [FUSE_ENTRY_OUT, 128],
    [FUSE_BACKING_MAP, 16],
    // 7.45 (Linux 6.18) include/uapi/linux/fuse.h
    [FUSE_KSTATFS, 80],
    [FUSE_STATFS_OUT, 80],
    [FUSE_SETATTR_IN, 88],
    [FUSE_GETXATTR_IN, 8],
    [FUSE_GETXATTR_OUT, 8],
    [FUSE_SETXATTR_IN, 16],
    [FUSE_FSYNC_IN, 16],
    [FUSE_FALLOCATE_IN, 32],
    [FUSE_LSEEK_IN, 24],
    [FUSE_LSEEK_OUT, 8],
    [FUSE_COPY_FILE_RANGE_IN, 56],
    [FUSE_COPY_FILE_RANGE_OUT, 8],
    [FUSE_FILE_LOCK, 24],
    [FUSE_LK_IN, 48],
    [FUSE_LK_OUT, 24],
    [FUSE_FORGET_IN, 8],
    [FUSE_BATCH_FORGET_IN, 8],
    [FUSE_FORGET_ONE, 16],
    [FUSE_CREATE_IN, 16],
    [FUSE_MKNOD_IN, 16],
    [FUSE_MKDIR_IN, 8],
    [FUSE_RENAME_IN, 8],
    [FUSE_RENAME2_IN, 16],
    [FUSE_LINK_IN, 8],
    [FUSE_ACCESS_IN, 8],
    [FUSE_INTERRUPT_IN, 8],
    [FUSE_DIRENT, 24],
    [FUSE_DIRENTPLUS, 152],
    [FUSE_SX_TIME, 16],
    [FUSE_STATX, 256],
    [FUSE_STATX_IN, 24],
    [FUSE_STATX_OUT, 288],
  ] as const).map(([l, n]) => [l.name, n, l] as const))('%s is %i bytes', (_name, size, layout) => {
    expect(layout.size).toBe(size);
    expect(encode(layout, zeroValue(layout) as never).length).toBe(size);
  });

  it('lists every layout once', () => {
    expect(LAYOUTS.length).toBe(48);
    expect(new Set(LAYOUTS.map((l) => l.name)).size).toBe(48);
  });

  it('fuse_init_out: max_stack_depth u32 at 36, flags2 at 32, 7.43 request_timeout u16 at 40, reserved tail 42..64', () => {
    expect(offsetOf(FUSE_INIT_OUT, 'max_stack_depth')).toBe(36);
    expect(typeOf(FUSE_INIT_OUT, 'max_stack_depth')).toBe('u32');
    expect(offsetOf(FUSE_INIT_OUT, 'flags2')).toBe(32);
    expect(offsetOf(FUSE_INIT_OUT, 'max_pages')).toBe(28);
    expect(offsetOf(FUSE_INIT_OUT, 'request_timeout')).toBe(40);
    expect(typeOf(FUSE_INIT_OUT, 'request_timeout')).toBe('u16');
    expect(offsetOf(FUSE_INIT_OUT, 'unused')).toBe(42);
  });

  it('an optional field (request_timeout) may be left out of a value: it is encoded as 0 and decoded as 0', () => {
    const v = { major: 7, minor: 40, max_readahead: 0, flags: 0, max_background: 0, congestion_threshold: 0, max_write: 4096, time_gran: 0, max_pages: 0, map_alignment: 0, flags2: 0, max_stack_depth: 1 };
    const bytes = encode(FUSE_INIT_OUT, v);
    expect(bytes[40]).toBe(0);
    expect(decode(FUSE_INIT_OUT, bytes)).toEqual({ ...v, request_timeout: 0 });
    expect(encode(FUSE_INIT_OUT, { ...v, request_timeout: 0x1234 }).subarray(40, 42)).toEqual(Uint8Array.of(0x34, 0x12));
    expect(() => encode(FUSE_INIT_OUT, { ...v, request_timeout: 0x10000 })).toThrow(/request_timeout \(u16\)/);
  });

  it('fuse_open_out: backing_id is a signed i32 at 12', () => {
    expect(offsetOf(FUSE_OPEN_OUT, 'backing_id')).toBe(12);
    expect(typeOf(FUSE_OPEN_OUT, 'backing_id')).toBe('i32');
  });

  it('fuse_in_header: total_extlen u16 at 36; fuse_out_header: error i32 at 4', () => {
    expect(offsetOf(FUSE_IN_HEADER, 'total_extlen')).toBe(36);
    expect(typeOf(FUSE_IN_HEADER, 'total_extlen')).toBe('u16');
    expect(offsetOf(FUSE_OUT_HEADER, 'error')).toBe(4);
    expect(typeOf(FUSE_OUT_HEADER, 'error')).toBe('i32');
  });

  // Field offsets against the 7.45 header (defineLayout only checks that the table is
  // self-consistent: two fields swapped would pass it).
  it.each(([
    [FUSE_ATTR, { size: 8, atime: 24, atimensec: 48, mode: 60, nlink: 64, rdev: 76, blksize: 80, flags: 84 }],
    [FUSE_KSTATFS, { bfree: 8, bavail: 16, files: 24, ffree: 32, bsize: 40, namelen: 44, frsize: 48, padding: 52, spare: 56 }],
    [FUSE_SETATTR_IN, { valid: 0, fh: 8, size: 16, lock_owner: 24, atime: 32, mtime: 40, ctime: 48, atimensec: 56, mtimensec: 60, ctimensec: 64, mode: 68, unused4: 72, uid: 76, gid: 80, unused5: 84 }],
    [FUSE_GETXATTR_IN, { size: 0, padding: 4 }],
    [FUSE_GETXATTR_OUT, { size: 0, padding: 4 }],
    [FUSE_SETXATTR_IN, { size: 0, flags: 4, setxattr_flags: 8, padding: 12 }],
    [FUSE_FSYNC_IN, { fh: 0, fsync_flags: 8, padding: 12 }],
    [FUSE_FALLOCATE_IN, { fh: 0, offset: 8, length: 16, mode: 24, padding: 28 }],
    [FUSE_LSEEK_IN, { fh: 0, offset: 8, whence: 16, padding: 20 }],
    [FUSE_COPY_FILE_RANGE_IN, { fh_in: 0, off_in: 8, nodeid_out: 16, fh_out: 24, off_out: 32, len: 40, flags: 48 }],
    [FUSE_COPY_FILE_RANGE_OUT, { bytes_copied: 0 }],
    [FUSE_FILE_LOCK, { start: 0, end: 8, type: 16, pid: 20 }],
    [FUSE_LK_IN, { fh: 0, owner: 8, lk: 16, lk_flags: 40, padding: 44 }],
    [FUSE_BATCH_FORGET_IN, { count: 0, dummy: 4 }],
    [FUSE_FORGET_ONE, { nodeid: 0, nlookup: 8 }],
    [FUSE_CREATE_IN, { flags: 0, mode: 4, umask: 8, open_flags: 12 }],
    [FUSE_MKNOD_IN, { mode: 0, rdev: 4, umask: 8, padding: 12 }],
    [FUSE_MKDIR_IN, { mode: 0, umask: 4 }],
    [FUSE_RENAME2_IN, { newdir: 0, flags: 8, padding: 12 }],
    [FUSE_ACCESS_IN, { mask: 0, padding: 4 }],
    [FUSE_DIRENT, { ino: 0, off: 8, namelen: 16, type: 20 }],
    [FUSE_DIRENTPLUS, { entry_out: 0, dirent: 128 }],
    [FUSE_SX_TIME, { tv_sec: 0, tv_nsec: 8, __reserved: 12 }],
    [FUSE_STATX, { blksize: 4, attributes: 8, nlink: 16, uid: 20, gid: 24, mode: 28, __spare0: 30, ino: 32, size: 40, blocks: 48, attributes_mask: 56, atime: 64, btime: 80, ctime: 96, mtime: 112, rdev_major: 128, rdev_minor: 132, dev_major: 136, dev_minor: 140, __spare2: 144 }],
    [FUSE_STATX_IN, { getattr_flags: 0, reserved: 4, fh: 8, sx_flags: 16, sx_mask: 20 }],
    [FUSE_STATX_OUT, { attr_valid: 0, attr_valid_nsec: 8, flags: 12, spare: 16, stat: 32 }],
  ] as const).map(([l, o]) => [l.name, l, o] as const))('%s field offsets', (_name, layout, offsets) => {
    for (const [name, off] of Object.entries(offsets)) expect([name, offsetOf(layout, name)]).toEqual([name, off]);
  });

  it('64-bit values the kernel fills in full are u64w: lock ranges (OFFSET_MAX), owners, interrupt uniques, dirent cookies, setattr times', () => {
    expect(typeOf(FUSE_FILE_LOCK, 'start')).toBe('u64w');
    expect(typeOf(FUSE_FILE_LOCK, 'end')).toBe('u64w');
    expect(typeOf(FUSE_LK_IN, 'owner')).toBe('u64w');
    expect(typeOf(FUSE_SETATTR_IN, 'lock_owner')).toBe('u64w');
    expect(typeOf(FUSE_SETATTR_IN, 'atime')).toBe('u64w');
    expect(typeOf(FUSE_INTERRUPT_IN, 'unique')).toBe('u64w');
    expect(typeOf(FUSE_DIRENT, 'off')).toBe('u64w');
    expect(typeOf(FUSE_CREATE_IN, 'open_flags')).toBe('u32'); // 7.33 renamed the padding
  });

  it('dirent names start at 24 (dirent) and 152 (direntplus); records are padded to 8', () => {
    expect(FUSE_NAME_OFFSET).toBe(24);
    expect(FUSE_NAME_OFFSET_DIRENTPLUS).toBe(152);
    expect([1, 7, 8, 9, 24 + 5].map(direntAlign)).toEqual([8, 8, 8, 16, 32]);
  });

  it('embedded fuse_attr sits at 16 in attr_out and 40 in entry_out', () => {
    expect(offsetOf(FUSE_ATTR_OUT, 'attr')).toBe(16);
    expect(offsetOf(FUSE_ENTRY_OUT, 'attr')).toBe(40);
  });

  it('defineLayout rejects gaps and misaligned fields', () => {
    expect(() =>
      defineLayout({ name: 'gap', size: 8, fields: [{ name: 'a', type: 'u32', offset: 4 }] }),
    ).toThrow(/expected offset 0/);
    expect(() =>
      defineLayout({
        name: 'mis',
        size: 12,
        fields: [
          { name: 'a', type: 'u32', offset: 0 },
          { name: 'b', type: 'u64', offset: 4 },
        ],
      }),
    ).toThrow(/misaligned/);
  });
});

group('encode/decode round trips (fast-check)', () => {
  it.each(LAYOUTS.map((l) => [l.name, l] as const))('%s', (_name, layout) => {
    fc.assert(
      fc.property(arbValue(layout), (v) => {
        const bytes = encode(layout, v as never);
        expect(bytes.length).toBe(layout.size);
        expect(decode(layout, bytes)).toEqual(v);
      }),
      FC,
    );
  });

  it('decode at an offset inside a larger buffer', () => {
    fc.assert(
      fc.property(arbValue(FUSE_OPEN_OUT), fc.nat({ max: 32 }), (v, pad) => {
        const buf = new Uint8Array(pad + 16);
        buf.set(encode(FUSE_OPEN_OUT, v as ValueOf<typeof FUSE_OPEN_OUT>), pad);
        expect(decode(FUSE_OPEN_OUT, buf, pad)).toEqual(v);
      }),
      FC,
    );
  });

  it('request messages round-trip through encodeRequest/decodeRequest', () => {
    fc.assert(
      fc.property(
        arbValue(FUSE_IN_HEADER),
        fc.uint8Array({ maxLength: 64 }),
        (h, body) => {
          const hdr = h as ValueOf<typeof FUSE_IN_HEADER>;
          const msg = encodeRequest({ ...hdr, total_extlen: 0 }, body);
          const d = decodeRequest(msg);
          expect(d.header).toEqual({ ...hdr, len: 40 + body.length, total_extlen: 0, padding: 0 });
          expect(Array.from(d.body)).toEqual(Array.from(body));
          expect(d.ext.length).toBe(0);
        },
      ),
      FC,
    );
  });

  it('replies round-trip through encodeReply/decodeReply', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.uint8Array({ maxLength: 128 }), (unique, body) => {
        const d = decodeReply(encodeReply(unique, 0, body));
        expect(d.header).toEqual({ len: 16 + body.length, error: 0, unique });
        expect(Array.from(d.body)).toEqual(Array.from(body));
      }),
      FC,
    );
  });

  it('init flags split/join is lossless over 64 bits', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (f) => {
        const { flags, flags2 } = splitInitFlags(f);
        expect(flags).toBeGreaterThanOrEqual(0);
        expect(flags).toBeLessThanOrEqual(0xffff_ffff);
        expect(flags2).toBeLessThanOrEqual(0xffff_ffff);
        expect(joinInitFlags(flags, flags2)).toBe(f);
      }),
      FC,
    );
  });
});

group('hand-written byte vectors', () => {
  it('fuse_init_out with FUSE_PASSTHROUGH in flags2 and max_stack_depth=2', () => {
    const { flags, flags2 } = splitInitFlags(FUSE_INIT_EXT | FUSE_PASSTHROUGH);
    expect(flags).toBe(0x4000_0000);
    expect(flags2).toBe(1 << 5);
    const v: FuseInitOut = {
      major: 7,
      minor: 40,
      max_readahead: 0x20000,
      flags,
      max_background: 12,
      congestion_threshold: 9,
      max_write: 0x100000,
      time_gran: 1,
      max_pages: 256,
      map_alignment: 0,
      flags2,
      max_stack_depth: 2,
      request_timeout: 0,
    };
    const expected = bytesOf(
      0x07, 0x00, 0x00, 0x00, //  0 major = 7
      0x28, 0x00, 0x00, 0x00, //  4 minor = 40
      0x00, 0x00, 0x02, 0x00, //  8 max_readahead = 128 KiB
      0x00, 0x00, 0x00, 0x40, // 12 flags = INIT_EXT (bit 30)
      0x0c, 0x00, 0x09, 0x00, // 16 max_background, congestion_threshold
      0x00, 0x00, 0x10, 0x00, // 20 max_write = 1 MiB
      0x01, 0x00, 0x00, 0x00, // 24 time_gran
      0x00, 0x01, 0x00, 0x00, // 28 max_pages = 256, map_alignment = 0
      0x20, 0x00, 0x00, 0x00, // 32 flags2 = bit 5 (PASSTHROUGH >> 32)
      0x02, 0x00, 0x00, 0x00, // 36 max_stack_depth = 2
      0x00, 0x00, // 40 request_timeout (7.43) = 0
      ...new Array<number>(22).fill(0), // 42 unused[11] (u16)
    );
    const bytes = encode(FUSE_INIT_OUT, v);
    expect(Array.from(bytes)).toEqual(expected);
    expect(decode(FUSE_INIT_OUT, Uint8Array.from(expected))).toEqual(v);
    expect(joinInitFlags(v.flags, v.flags2) & FUSE_PASSTHROUGH).toBe(FUSE_PASSTHROUGH);

    const lines = describe(FUSE_INIT_OUT, bytes);
    expect(lines).toContainEqual(expect.stringMatching(/^36\s+max_stack_depth\s+u32\s+2$/));
    expect(lines).toContainEqual(expect.stringMatching(/^32\s+flags2\s+u32\s+32$/));
    expect(lines.at(-1)).toMatch(/^42\s+unused\s+reserved\[22\]\s+zero$/);
  });

  it('fuse_open_out with backing_id = -1 and FOPEN_PASSTHROUGH', () => {
    const v = { fh: 0x1122334455, open_flags: FOPEN.PASSTHROUGH | FOPEN.KEEP_CACHE, backing_id: -1 };
    const bytes = encode(FUSE_OPEN_OUT, v);
    expect(Array.from(bytes)).toEqual([
      0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0x00, 0x00, // fh
      0x82, 0x00, 0x00, 0x00, // open_flags = 0x80 | 0x02
      0xff, 0xff, 0xff, 0xff, // backing_id = -1
    ]);
    expect(decode(FUSE_OPEN_OUT, bytes)).toEqual(v);
    expect(decode(FUSE_OPEN_OUT, bytes).backing_id).toBe(-1);
  });

  it('fuse_in_header for INIT', () => {
    const msg = encodeRequest({ opcode: FUSE_OPCODE.INIT, unique: 2, nodeid: 0, uid: 0, gid: 0, pid: 0 }, null);
    expect(Array.from(msg.subarray(0, 16))).toEqual([
      0x28, 0, 0, 0, // len = 40
      0x1a, 0, 0, 0, // opcode = 26
      0x02, 0, 0, 0, 0, 0, 0, 0, // unique
    ]);
  });

  it('fuse_backing_map with fd 5', () => {
    const bytes = encode(FUSE_BACKING_MAP, { fd: 5, flags: 0, padding: 0 });
    expect(Array.from(bytes)).toEqual([5, 0, 0, 0, ...new Array<number>(12).fill(0)]);
  });
});

group('uapi constants', () => {
  it('ioctl numbers match the generic Linux encoding', () => {
    expect(FUSE_DEV_IOC_CLONE).toBe(0x8004e500);
    expect(FUSE_DEV_IOC_BACKING_OPEN).toBe(0x4010e501);
    expect(FUSE_DEV_IOC_BACKING_CLOSE).toBe(0x4004e502);
    // The argument sizes baked into the numbers agree with the layout table.
    expect(_IOW(229, 1, FUSE_BACKING_MAP.size)).toBe(FUSE_DEV_IOC_BACKING_OPEN);
    expect(_IOR(229, 0, 4)).toBe(FUSE_DEV_IOC_CLONE);
  });

  it('opcodes and names', () => {
    expect(FUSE_OPCODE).toMatchObject({
      LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, OPEN: 14, READ: 15, WRITE: 16, STATFS: 17,
      RELEASE: 18, FSYNC: 20, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29,
      CREATE: 35, INTERRUPT: 36, DESTROY: 38, BATCH_FORGET: 42, STATX: 52,
    });
    expect(opcodeName(26)).toBe('INIT');
    expect(opcodeName(7)).toBe('OPCODE_7');
  });

  it('init flag bits', () => {
    expect(FUSE_INIT_FLAG.ASYNC_READ).toBe(1n);
    expect(FUSE_WRITEBACK_CACHE).toBe(0x1_0000n);
    expect(FUSE_INIT_FLAG.PARALLEL_DIROPS).toBe(1n << 18n);
    expect(FUSE_INIT_EXT).toBe(0x4000_0000n);
    expect(FUSE_INIT_FLAG.DIRECT_IO_ALLOW_MMAP).toBe(1n << 36n);
    expect(FUSE_PASSTHROUGH).toBe(0x20_0000_0000n);
    // bits 0..42 are all assigned (7.45 adds none after REQUEST_TIMEOUT), each exactly once
    const all = Object.values(FUSE_INIT_FLAG).reduce((a, b) => a | b, 0n);
    expect(all).toBe((1n << 43n) - 1n);
    expect(new Set(Object.values(FUSE_INIT_FLAG)).size).toBe(43);
    expect(FUSE_INIT_FLAG.ALLOW_IDMAP).toBe(1n << 40n);
    expect(FUSE_INIT_FLAG.OVER_IO_URING).toBe(1n << 41n);
    expect(FUSE_INIT_FLAG.REQUEST_TIMEOUT).toBe(1n << 42n);
    // what 6.18.44 offered in its INIT request (docs/request-streams.md section 10)
    expect(initFlagNames(joinInitFlags(0x73fffffb, 0x5fd)).slice(-9)).toEqual([
      'SECURITY_CTX', 'CREATE_SUPP_GROUP', 'HAS_EXPIRE_ONLY', 'DIRECT_IO_ALLOW_MMAP', 'PASSTHROUGH',
      'NO_EXPORT_SUPPORT', 'HAS_RESEND', 'ALLOW_IDMAP', 'REQUEST_TIMEOUT',
    ]);
    expect(initFlagNames(FUSE_INIT_EXT | FUSE_PASSTHROUGH)).toEqual(['INIT_EXT', 'PASSTHROUGH']);
  });

  it('split/join put bits 32..63 in flags2', () => {
    expect(splitInitFlags(FUSE_PASSTHROUGH | FUSE_INIT_FLAG.ASYNC_READ)).toEqual({ flags: 1, flags2: 32 });
    expect(splitInitFlags(1n << 63n)).toEqual({ flags: 0, flags2: 0x8000_0000 });
    expect(joinInitFlags(0xffff_ffff, 0)).toBe(0xffff_ffffn);
    expect(joinInitFlags(0, 32)).toBe(FUSE_PASSTHROUGH);
    expect(() => splitInitFlags(1n << 64n)).toThrow(RangeError);
    expect(() => joinInitFlags(-1, 0)).toThrow(RangeError);
  });

  it('FOPEN flags: merged vs v15', () => {
    expect(FOPEN.PASSTHROUGH).toBe(0x80);
    expect(FOPEN.PARALLEL_DIRECT_WRITES).toBe(0x40);
    expect(V15_UAPI.FOPEN_PASSTHROUGH).toBe(0x100);
    expect(V15_UAPI.FOPEN_CACHE_IO).toBe(FOPEN.PASSTHROUGH); // same bit, different meaning
  });
});

group('typed message arguments', () => {
  const hdr = { unique: 10, nodeid: 5, uid: 1000, gid: 1000, pid: 42 };

  it('WRITE carries its data after fuse_write_in', () => {
    const data = new TextEncoder().encode('hello');
    const body = encodeWriteBody({ fh: 3, offset: 4096, write_flags: 0, lock_owner: 0, flags: 2, padding: 0 }, data);
    const req = decodeRequest(encodeRequest({ ...hdr, opcode: FUSE_OPCODE.WRITE }, body));
    expect(req.header.len).toBe(40 + 40 + 5);
    const a = decodeRequestArg(req.header.opcode, req.body);
    if (a.op !== 'WRITE') throw new Error(a.op);
    expect(a.arg).toMatchObject({ fh: 3, offset: 4096, size: 5 });
    expect(new TextDecoder().decode(a.data)).toBe('hello');
    // size field disagreeing with the payload is rejected
    expect(() => decodeRequestArg(FUSE_OPCODE.WRITE, body.subarray(0, body.length - 1))).toThrow(WireError);
  });

  it('LOOKUP name is NUL-terminated', () => {
    const a = decodeRequestArg(FUSE_OPCODE.LOOKUP, cstring('füse.txt'));
    expect(a).toMatchObject({ op: 'LOOKUP', name: 'füse.txt' });
    expect(() => decodeRequestArg(FUSE_OPCODE.LOOKUP, new TextEncoder().encode('abc'))).toThrow(/no NUL/);
  });

  it('INIT, OPEN, RELEASE, READ, FLUSH, GETATTR, DESTROY', () => {
    const init = { ...zeroValue(FUSE_INIT_IN), major: 7, minor: 40, flags2: 32 };
    expect(decodeRequestArg(FUSE_OPCODE.INIT, encode(FUSE_INIT_IN, init))).toEqual({ op: 'INIT', arg: init });
    // a pre-7.36 kernel's 16-byte INIT: flags2 reads as 0
    const old = decodeRequestArg(FUSE_OPCODE.INIT, encode(FUSE_INIT_IN, init).subarray(0, 16));
    expect(old).toMatchObject({ op: 'INIT', arg: { minor: 40, flags2: 0 } });

    const open = { flags: 0o100002, open_flags: 0 };
    expect(decodeRequestArg(FUSE_OPCODE.OPEN, encode(FUSE_OPEN_IN, open))).toEqual({ op: 'OPEN', arg: open });
    const rel = { fh: 9, flags: 2, release_flags: 1, lock_owner: 77 };
    expect(decodeRequestArg(FUSE_OPCODE.RELEASE, encode(FUSE_RELEASE_IN, rel))).toEqual({ op: 'RELEASE', arg: rel });
    const rd = { fh: 9, offset: 8192, size: 4096, read_flags: 0, lock_owner: 0, flags: 0, padding: 0 };
    expect(decodeRequestArg(FUSE_OPCODE.READ, encode(FUSE_READ_IN, rd))).toEqual({ op: 'READ', arg: rd });
    const fl = { fh: 9, unused: 0, padding: 0, lock_owner: 5 };
    expect(decodeRequestArg(FUSE_OPCODE.FLUSH, encode(FUSE_FLUSH_IN, fl))).toEqual({ op: 'FLUSH', arg: fl });
    const ga = { getattr_flags: 1, dummy: 0, fh: 9 };
    expect(decodeRequestArg(FUSE_OPCODE.GETATTR, encode(FUSE_GETATTR_IN, ga))).toEqual({ op: 'GETATTR', arg: ga });
    expect(decodeRequestArg(FUSE_OPCODE.DESTROY, new Uint8Array(0))).toEqual({ op: 'DESTROY' });
    // fixed-size args must be exact
    expect(() => decodeRequestArg(FUSE_OPCODE.OPEN, new Uint8Array(9))).toThrow(/expected exactly 8/);
    expect(() => decodeRequestArg(FUSE_OPCODE.IOCTL, new Uint8Array(0))).toThrow(/no argument decoder for opcode 39 \(IOCTL\)/);
  });

  it('short INIT reply: missing fields (incl. max_stack_depth) read as 0', () => {
    const full: FuseInitOut = { ...zeroValue(FUSE_INIT_OUT), major: 7, minor: 39, max_write: 4096, max_stack_depth: 2 };
    const short24 = encodeShortInitOut(full, 24);
    const r = decodeReplyArg(FUSE_OPCODE.INIT, decodeReply(encodeReply(1, 0, short24)).body);
    if (r.op !== 'INIT') throw new Error(r.op);
    expect(r.short).toBe(true);
    expect(r.arg).toMatchObject({ major: 7, minor: 39, max_write: 4096, max_stack_depth: 0, flags2: 0 });
    // 36 bytes: everything up to flags2 but not max_stack_depth
    const r36 = decodeReplyArg(FUSE_OPCODE.INIT, encodeShortInitOut(full, 36));
    expect(r36).toMatchObject({ op: 'INIT', short: true, arg: { max_stack_depth: 0 } });
    expect(decodeReplyArg(FUSE_OPCODE.INIT, encode(FUSE_INIT_OUT, full))).toEqual({ op: 'INIT', arg: full, short: false });
    expect(() => decodeReplyArg(FUSE_OPCODE.INIT, new Uint8Array(65))).toThrow(/at most 64/);
    expect(describe(FUSE_INIT_OUT, short24)).toContainEqual(expect.stringMatching(/max_stack_depth\s+u32\s+\(missing\)/));
  });

  it('OPEN, READ, WRITE, GETATTR, LOOKUP replies', () => {
    const oo = { fh: 1, open_flags: FOPEN.PASSTHROUGH, backing_id: 3 };
    expect(decodeReplyArg(FUSE_OPCODE.OPEN, encode(FUSE_OPEN_OUT, oo))).toEqual({ op: 'OPEN', arg: oo });
    expect(() => decodeReplyArg(FUSE_OPCODE.OPEN, new Uint8Array(12))).toThrow(WireError);
    const data = Uint8Array.of(1, 2, 3);
    expect(decodeReplyArg(FUSE_OPCODE.READ, data)).toEqual({ op: 'READ', data });
    expect(decodeReplyArg(FUSE_OPCODE.WRITE, encode(FUSE_WRITE_OUT, { size: 5, padding: 0 }))).toEqual({
      op: 'WRITE',
      arg: { size: 5, padding: 0 },
    });
    const attr = { ...zeroValue(FUSE_ATTR), ino: 5, size: 12, mode: 0o100644, nlink: 1, blksize: 4096 };
    const ao = { attr_valid: 1, attr_valid_nsec: 0, dummy: 0, attr };
    expect(decodeReplyArg(FUSE_OPCODE.GETATTR, encode(FUSE_ATTR_OUT, ao))).toEqual({ op: 'GETATTR', arg: ao });
    const eo = { nodeid: 5, generation: 1, entry_valid: 1, attr_valid: 1, entry_valid_nsec: 0, attr_valid_nsec: 0, attr };
    const eb = encode(FUSE_ENTRY_OUT, eo);
    expect(new DataView(eb.buffer).getBigUint64(40, true)).toBe(5n); // attr.ino right after the 40-byte prefix
    expect(decodeReplyArg(FUSE_OPCODE.LOOKUP, eb)).toEqual({ op: 'LOOKUP', arg: eo });
  });
});

group('errors', () => {
  it('WireError on a truncated header names the struct and sizes', () => {
    const msg = encodeReply(7, 0, null).subarray(0, 10);
    expect(() => decodeReply(msg)).toThrow(WireError);
    expect(() => decodeReply(msg)).toThrow('fuse_out_header: message is 10 bytes, need at least 16');
    expect(() => decodeRequest(new Uint8Array(39))).toThrow('fuse_in_header: message is 39 bytes, need at least 40');
    try {
      decodeRequest(new Uint8Array(39));
    } catch (e) {
      expect(e).toBeInstanceOf(WireError);
      expect((e as WireError).struct).toBe('fuse_in_header');
    }
  });

  it('len field must match the message size', () => {
    const msg = encodeReply(7, 0, Uint8Array.of(1, 2, 3, 4));
    expect(() => decodeReply(msg.subarray(0, 18))).toThrow(/len field says 20 bytes, message is 18/);
  });

  it('reply sanity checks mirror the kernel', () => {
    expect(decodeReply(encodeReply(7, -2, null)).header.error).toBe(-2);
    expect(() => decodeReply(encodeReply(7, 5, null))).toThrow(/not 0 or a negative errno/);
    expect(() => decodeReply(encodeReply(7, -512, null))).toThrow(WireError);
    expect(() => decodeReply(encodeReply(7, -2, Uint8Array.of(0)))).toThrow(/must have no body/);
    // unique 0 = notification: error carries a positive notify code
    expect(decodeReply(encodeReply(0, 3, Uint8Array.of(0))).header.error).toBe(3);
  });

  it('u64 values beyond Number.MAX_SAFE_INTEGER are rejected both ways', () => {
    expect(() => encode(FUSE_OPEN_OUT, { fh: 2 ** 53, open_flags: 0, backing_id: 0 })).toThrow(
      /fuse_open_out: field fh \(u64\)/,
    );
    const bytes = encode(FUSE_OPEN_OUT, { fh: 0, open_flags: 0, backing_id: 0 });
    bytes[7] = 0x80; // fh = 1 << 63 (e.g. FUSE_UNIQUE_RESEND-style values)
    expect(() => decode(FUSE_OPEN_OUT, bytes)).toThrow(WireError);
    expect(describe(FUSE_OPEN_OUT, bytes)[0]).toMatch(/fh\s+u64\s+0x8000000000000000/);
  });

  it('unique and lock_owner carry full 64-bit values: numbers while safe, bigints above', () => {
    // what a 6.18 kernel sends: a resent request (bit 63 of unique) and a lock owner that is a
    // kernel pointer; the server must decode them and echo the unique back unchanged
    const unique = FUSE_UNIQUE_RESEND | 0x1234n;
    const lockOwner = 0xffff_8881_0234_5678n;
    const body = encode(FUSE_FLUSH_IN, { fh: 7, unused: 0, padding: 0, lock_owner: lockOwner });
    const msg = encodeRequest({ opcode: FUSE_OPCODE.FLUSH, unique, nodeid: 2, uid: 0, gid: 0, pid: 1 }, body);
    const req = decodeRequest(msg);
    expect(req.header.unique).toBe(unique);
    const arg = decodeRequestArg(FUSE_OPCODE.FLUSH, req.body);
    expect(arg.op === 'FLUSH' && arg.arg.lock_owner).toBe(lockOwner);
    const reply = decodeReply(encodeReply(req.header.unique, 0, null));
    expect(reply.header.unique).toBe(unique);
    // safe values stay plain numbers, so the model's small uniques never turn into bigints
    expect(decodeRequest(encodeRequest({ opcode: FUSE_OPCODE.FLUSH, unique: 6n, nodeid: 2, uid: 0, gid: 0, pid: 1 }, body)).header.unique).toBe(6);
    expect(wideEqual(6, 6n)).toBe(true);
    expect(formatWide(unique)).toBe('0x8000000000001234');
    expect(describe(FUSE_FLUSH_IN, body)[3]).toMatch(/lock_owner\s+u64\s+0xffff888102345678/);
    // still 64 bits at most, and never negative or fractional
    expect(() => encodeReply(1n << 64n, 0, null)).toThrow(/fuse_out_header: field unique \(u64\)/);
    expect(() => encodeReply(-1, 0, null)).toThrow(WireError);
    expect(() => encodeReply(2 ** 53, 0, null)).toThrow(WireError);
  });

  it('nested field errors carry the path and absolute offset', () => {
    const attr = { ...zeroValue(FUSE_ATTR), mode: -1 };
    try {
      encode(FUSE_ATTR_OUT, { attr_valid: 0, attr_valid_nsec: 0, dummy: 0, attr });
      expect.unreachable();
    } catch (e) {
      expect((e as WireError).message).toMatch(/^fuse_attr_out: field attr\.mode \(u32\)/);
      expect((e as WireError).offset).toBe(16 + 60);
    }
  });

  it('out-of-range scalars are rejected on encode', () => {
    expect(() => encode(FUSE_OPEN_OUT, { fh: 0, open_flags: 0, backing_id: 2 ** 31 })).toThrow(/i32/);
    expect(() => encode(FUSE_WRITE_OUT, { size: 1.5, padding: 0 })).toThrow(/integer/);
  });

  it('reserved bytes are ignored on decode but reported by nonZeroReserved', () => {
    const bytes = encode(FUSE_INIT_OUT, zeroValue(FUSE_INIT_OUT));
    expect(nonZeroReserved(FUSE_INIT_OUT, bytes)).toEqual([]);
    bytes[42] = 1; // a newer server using what 7.45 calls unused[0]
    expect(decode(FUSE_INIT_OUT, bytes)).toEqual(zeroValue(FUSE_INIT_OUT));
    expect(nonZeroReserved(FUSE_INIT_OUT, bytes)).toEqual(['unused']);
  });
});

group('teaching output', () => {
  it('hexdump prints offset, hex and ascii', () => {
    const out = hexdump(Uint8Array.from([...'FUSE'].map((c) => c.charCodeAt(0)).concat(new Array<number>(14).fill(0))));
    const lines = out.split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe('0000  46 55 53 45 00 00 00 00  00 00 00 00 00 00 00 00  |FUSE............|');
    expect(lines[1]).toMatch(/^0010  00 00\s+\|\.\.\|$/);
  });
});
