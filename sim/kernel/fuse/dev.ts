// fs/fuse/dev.c: the request queue between the kernel and the server, the /dev/fuse device
// (its open, read and write paths, its ioctls, its release) and connection abort.
import type { Ctx } from '../ctx.ts';
import { block, entry, goto, kfunc, ret, tail, type Next } from '../exec.ts';
import { name } from '../ctx.ts';
import type { FileObj, FuseConnObj, Proc, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { decodeReplyArg, decodeRequest, decodeRequestArg, encodeBatchForgetBody, encodeRequest, WireError } from '../../wire/messages.ts';
import { decode, FUSE_OUT_HEADER } from '../../wire/structs.ts';
import { FUSE_DEV_IOC_BACKING_CLOSE, FUSE_DEV_IOC_BACKING_OPEN, FUSE_DEV_IOC_CLONE, FUSE_DEV_IOC_SYNC_INIT, FUSE_OPCODE, opcodeName } from '../../wire/uapi.ts';
import { alloc_file } from '../vfs/file_table.ts';
import { fdput, fget } from '../vfs/file.ts';
import { current_cred } from '../cred.ts';
import { setField } from '../lib/once.ts';
import { register_file_operations, type IoctlA, type ReadA, type WriteA } from '../vfs/fs.ts';
import { DEVTMPFS } from '../mm/shmem.ts';
import { O_RDWR } from '../vfs/fcntl.ts';
import { fromHex, toHex } from './hex.ts';
import { fuse_conn_put, process_init_reply } from './inode.ts';
import { fuse_backing_close, fuse_backing_open } from './backing.ts';

/**
 * fs/fuse/dev.c: fuse_simple_request, first half: queue a request. Returns its unique, or
 * -ENOTCONN once the connection is gone (fuse_get_req refuses new requests).
 */
export function fuse_queue_request(
  c: Ctx,
  fc: FuseConnObj,
  opcode: number,
  nodeid: number,
  body: Uint8Array | null,
  wait: boolean,
): number {
  if (!fc.connected) return neg('ENOTCONN');
  if (fc.connError) return neg('ECONNREFUSED'); // INIT failed
  const unique = fc.nextUnique;
  fc.nextUnique += 2; // the kernel's uniques are even; odd ones mark interrupts
  const bytes = encodeRequest({ opcode, unique, nodeid, uid: 0, gid: 0, pid: 1000 + taskIndex(c) }, body);
  fc.pending.push({ unique, opcode, bytes: toHex(bytes), waiter: wait ? c.t.name : null });
  if (c.record) c.emit('wire', `${name(fc)}: queue ${opcodeName(opcode)} unique=${unique} nodeid=${nodeid} (${bytes.length} bytes)`);
  return unique;
}

function taskIndex(c: Ctx): number {
  return c.w.tasks.indexOf(c.t);
}

/**
 * fuse_simple_request for a caller that waits: queue the request and sleep until it is
 * answered, then continue at `next` (where fuse_take_answer(c, fc, l.unique) reads it). A
 * request the connection refuses returns its -errno from the calling function at once.
 */
export function fuse_request_wait(
  c: Ctx,
  l: { unique: number },
  fc: FuseConnObj,
  opcode: number,
  nodeid: number,
  body: Uint8Array | null,
  next: string,
): Next {
  l.unique = fuse_queue_request(c, fc, opcode, nodeid, body, true);
  if (l.unique < 0) return ret(l.unique);
  return block({ on: 'answer', conn: fc.ptr, unique: l.unique }, next);
}

/** fuse_simple_request, second half: the answer, or -ECONNABORTED if the request was aborted. */
export function fuse_take_answer(c: Ctx, fc: FuseConnObj, unique: number): { error: number; body: Uint8Array } {
  const i = fc.answered.findIndex((a) => a.unique === unique);
  if (i < 0) return { error: neg('ECONNABORTED'), body: new Uint8Array(0) };
  const a = fc.answered[i]!;
  fc.answered.splice(i, 1);
  return { error: a.error, body: fromHex(a.body) };
}

/**
 * fs/fuse/dev.c: fuse_queue_forget. A forget does not go among the pending requests: it goes on
 * the input queue's own forget list (fiq->forget_list_head), which fuse_dev_do_read serves by
 * its own rule. The model keeps it in fc.pending, in the order queued, told apart by its
 * opcode; it has no unique yet (the kernel takes one when the server reads it) and its header
 * carries no uid, gid or pid. Once the connection is gone it is dropped (kfree).
 */
export function fuse_queue_forget(c: Ctx, fc: FuseConnObj, nodeid: number, nlookup: number) {
  if (!fc.connected) return;
  const body = new Uint8Array(8); // struct fuse_forget_in { u64 nlookup }
  new DataView(body.buffer).setBigUint64(0, BigInt(nlookup), true);
  const bytes = encodeRequest({ opcode: FUSE_OPCODE.FORGET, unique: 0, nodeid, uid: 0, gid: 0, pid: 0 }, body);
  fc.pending.push({ unique: 0, opcode: FUSE_OPCODE.FORGET, bytes: toHex(bytes), waiter: null });
  if (c.record) c.emit('wire', `${name(fc)}: queue FORGET nodeid=${nodeid} nlookup=${nlookup} (the forget list)`);
}

const isForget = (r: { opcode: number }) => r.opcode === FUSE_OPCODE.FORGET;

/**
 * fs/fuse/dev.c: fuse_dev_do_read. Forgets first when no request is pending; with both waiting,
 * fiq->forget_batch decides (it starts at 0): each read that finds both counts it down, a
 * forget goes while it was above 0, else the oldest request, and when it reaches -8 it is set
 * to 16. So a connection's first eight such reads take requests, then sixteen take forgets,
 * then eight requests again, and so on. A request moves from pending to processing; a forget
 * needs no answer and goes nowhere. With nothing pending on a dead connection the server gets
 * ENODEV (ECONNABORTED after abort).
 */
export function fuse_dev_read(c: Ctx, fc: FuseConnObj, dev?: Ptr): Uint8Array | number {
  const first = fc.pending.findIndex((r) => !isForget(r));
  if (fc.pending.some(isForget)) {
    if (first < 0) return fuse_read_forget(c, fc);
    const batch = fc.forgetBatch ?? 0;
    let next = batch - 1;
    if (batch <= 0 && next <= -8) next = 16;
    if (next === 0) delete fc.forgetBatch; // absent is 0: a connection that never needed it keeps its state
    else fc.forgetBatch = next;
    if (batch > 0) return fuse_read_forget(c, fc);
  }
  if (first < 0) return fc.connected ? neg('EAGAIN') : neg('ENODEV');
  const [req] = fc.pending.splice(first, 1);
  if (dev !== undefined) req!.dev = dev; // now on this device's fpq->processing
  fc.processing.push(req!);
  if (c.record) c.emit('wire', `${name(fc)}: server reads ${opcodeName(req!.opcode)} unique=${req!.unique}`);
  return fromHex(req!.bytes);
}

/**
 * fuse_read_forget: a lone forget goes out as FORGET (fuse_read_single_forget), several as one
 * BATCH_FORGET (protocol 7.16 on; fuse_read_batch_forget: as many fuse_forget_one as the
 * server's buffer holds, in the order they were queued). Either takes its unique now.
 */
function fuse_read_forget(c: Ctx, fc: FuseConnObj): Uint8Array {
  const forgets = fc.pending.filter(isForget);
  const unique = fc.nextUnique;
  fc.nextUnique += 2;
  const one = (r: { bytes: string }) => {
    const q = decodeRequest(fromHex(r.bytes));
    return { nodeid: q.header.nodeid, nlookup: Number(new DataView(q.body.buffer, q.body.byteOffset).getBigUint64(0, true)) };
  };
  if (fc.minor < 16 || forgets.length === 1) {
    // fuse_read_single_forget: the forget as queued, with its unique now (in_header.unique at byte 8)
    const r = forgets[0]!;
    fc.pending.splice(fc.pending.indexOf(r), 1);
    const bytes = fromHex(r.bytes);
    new DataView(bytes.buffer, bytes.byteOffset).setBigUint64(8, BigInt(unique), true);
    if (c.record) c.emit('wire', `${name(fc)}: server reads FORGET unique=${unique} nodeid=${one(r).nodeid}`);
    return bytes;
  }
  // (nbytes - in_header - fuse_batch_forget_in) / sizeof(fuse_forget_one) for libfuse's buffer
  const taken = forgets.slice(0, Math.floor((131072 + 4096 - 40 - 8) / 16));
  const gone = new Set(taken);
  fc.pending = fc.pending.filter((r) => !gone.has(r));
  const bytes = encodeRequest({ opcode: FUSE_OPCODE.BATCH_FORGET, unique, nodeid: 0, uid: 0, gid: 0, pid: 0 }, encodeBatchForgetBody(taken.map(one)));
  if (c.record) c.emit('wire', `${name(fc)}: server reads BATCH_FORGET unique=${unique} (${taken.length} forgets)`);
  return bytes;
}

/**
 * Opcodes whose request has no size field (OPEN, RELEASE, FLUSH...): their decoded request
 * had none, and the shape of a decoded request is its opcode's, so replyMisfit does not
 * decode them again. Numbers only: nothing of a world is kept here.
 */
const UNSIZED = new Set<number>();

/**
 * copy_out_args: does a reply body fit the request's out args? The wire's decoders carry the
 * kernel's rule for each opcode (fixed-size args exact; READ data, xattr values and directory
 * buffers at most what the request asked for: its size, read back from the request). null when
 * it fits, else why not.
 */
function replyMisfit(req: { opcode: number; bytes: string }, body: Uint8Array): string | null {
  let requestSize: number | undefined;
  if (!UNSIZED.has(req.opcode)) {
    try {
      const arg = decodeRequestArg(req.opcode, decodeRequest(fromHex(req.bytes)).body) as { arg?: { size?: number } };
      if (typeof arg.arg?.size === 'number') requestSize = arg.arg.size;
      else if (!(arg.arg && 'size' in arg.arg)) UNSIZED.add(req.opcode);
    } catch {
      // requests the model sends always decode; no size to hold the reply to otherwise
    }
  }
  try {
    decodeReplyArg(req.opcode, body, requestSize === undefined ? {} : { requestSize, lenientDirents: true });
    return null;
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return e.message;
  }
}

/**
 * fs/fuse/dev.c: fuse_dev_do_write. Checks the header (a short message, a len that is not the
 * write's size, an error outside -511..0: EINVAL, the request untouched), finds the request by
 * unique (ENOENT), checks the body against the request's out args (copy_out_args: EINVAL for
 * the writer, and the request ends with EIO), then ends it (running INIT's end callback,
 * process_init_reply, in the writer's context) and wakes its waiter. A message with unique 0
 * is a notification; the model handles none, and fuse_notify says EINVAL to an unknown code.
 */
export function fuse_dev_write(c: Ctx, fc: FuseConnObj, bytes: Uint8Array): number {
  if (bytes.length < FUSE_OUT_HEADER.size) return neg('EINVAL');
  const oh = decode(FUSE_OUT_HEADER, bytes);
  if (oh.len !== bytes.length) return neg('EINVAL');
  if (oh.unique === 0) return neg('EINVAL');
  if (oh.error > 0 || oh.error <= -512) return neg('EINVAL');
  const unique = oh.unique;
  // the model numbers its requests from 2 up: a 64-bit unique names none of them
  if (typeof unique !== 'number') return neg('ENOENT');
  const i = fc.processing.findIndex((r) => r.unique === unique);
  if (i < 0) return neg('ENOENT'); // request_find failed: not (or no longer) being processed
  const req = fc.processing[i]!;
  fc.processing.splice(i, 1);
  const body = bytes.subarray(FUSE_OUT_HEADER.size);
  // an error reply carries no body; a success reply fits the out args (copy_out_args). (A u64
  // field above 2^53 is a model limit, not the kernel's: such a reply ends the request too.)
  const why = oh.error !== 0 ? (body.length !== 0 ? `an error reply with ${body.length} body bytes` : null) : replyMisfit(req, body);
  const bad = why !== null;
  const error = bad ? neg('EIO') : oh.error;
  if (c.record) c.emit('wire', `${name(fc)}: server replies to ${opcodeName(req.opcode)} unique=${unique} error=${oh.error}${bad ? ` (${why}: the request ends with EIO, the write gets EINVAL)` : ''}`);
  if (req.opcode === FUSE_OPCODE.INIT) process_init_reply(c, fc, error, bad ? new Uint8Array(0) : body);
  if (req.waiter !== null) fc.answered.push({ unique, error, body: toHex(bad ? new Uint8Array(0) : body) });
  return bad ? neg('EINVAL') : bytes.length;
}

/**
 * fs/fuse/dev.c: fuse_abort_conn. New requests fail with ENOTCONN; those queued or being
 * processed end with ECONNABORTED. Files already open in passthrough mode keep working:
 * their io never needed the server.
 */
export function fuse_abort_conn(c: Ctx, fc: FuseConnObj) {
  if (!fc.connected) return;
  fc.connected = false;
  fc.initialized = true; // waiters on initialization are released (fuse_set_initialized)
  const ended = [...fc.pending, ...fc.processing];
  fc.pending = [];
  fc.processing = [];
  for (const r of ended) {
    if (r.waiter !== null) fc.answered.push({ unique: r.unique, error: neg('ECONNABORTED'), body: '' });
  }
  if (c.record) c.emit('field', `${name(fc)}.connected true -> false (fuse_abort_conn${ended.length ? `, ${ended.length} request(s) end with ECONNABORTED` : ''})`);
}

/**
 * fs/fuse/fuse_dev_i.h: __fuse_get_dev: the connection a /dev/fuse file is attached to (its
 * fuse_dev's fc), or NULL: never mounted nor cloned, or only marked FUSE_DEV_SYNC_INIT (the
 * mark is the low bit of private_data, masked off here).
 */
export function __fuse_get_dev(c: Ctx, devFile: Ptr): FuseConnObj | null {
  const f = c.deref(devFile, 'file');
  if (f.private_data === 0) return null;
  return c.deref(f.private_data, 'fuse_conn');
}

/**
 * fuse_get_dev (6.18): the fuse_dev, waiting interruptibly on fuse_dev_waitq while the file is
 * marked FUSE_DEV_SYNC_INIT and no mount has installed one yet; an unattached, unmarked file is
 * ERR_PTR(-EPERM) (6.9: NULL, which every caller but CLONE turns into EPERM). As a step: the
 * connection, -errno, or a wait (retry at `again`).
 */
function fuse_get_dev(c: Ctx, devFile: Ptr, again: string): FuseConnObj | number | Next {
  const fc = __fuse_get_dev(c, devFile);
  if (fc) return fc;
  if (!c.deref(devFile, 'file').devSyncInit) return neg('EPERM');
  if (c.t.sigpending) return neg('EINTR'); // -ERESTARTSYS: EINTR for a handler without SA_RESTART
  return block({ on: 'fud', file: devFile }, again);
}

/**
 * fuse_dev_open: open("/dev/fuse") in process `p` (the device lives on devtmpfs, not on the
 * mount it will serve); private_data stays NULL until a mount (or FUSE_DEV_IOC_CLONE) attaches
 * a connection. Returns the new fd.
 */
export function fuse_dev_open(c: Ctx, p: Proc, cred: Ptr = p.cred): { fd: number; file: FileObj } {
  const devtmpfs = c.w.sbs.findIndex((s) => s.name === DEVTMPFS);
  if (devtmpfs < 0) throw new Error('no devtmpfs (model bug)');
  const file = alloc_file(
    c,
    { f_op: FUSE_DEV_FOPS, sb: devtmpfs, name: '', mode: 'chr', flags: O_RDWR, read: true, write: true, opath: false, private_data: 0, backing: false, realSb: devtmpfs },
    cred,
  );
  const fd = p.nextFd++;
  p.fds[fd] = file.ptr;
  return { fd, file };
}

/** open("/dev/fuse", O_RDWR) by a program (a server opening its device before any mount). */
entry(
  'open_dev_fuse',
  kfunc<object>('fuse_dev_open', 'fs/fuse/dev.c', {
    start(c) {
      const { fd, file } = fuse_dev_open(c, c.p, current_cred(c));
      if (c.record) c.emit('fd', `${c.t.name}: fd ${fd} -> ${name(file)} (/dev/fuse, attached to no connection)`);
      return ret(fd);
    },
  }),
);

/**
 * fuse_dev_release: the last reference to a /dev/fuse file. The requests the server read
 * through this device and has not answered end with ECONNABORTED (fuse_dev_end_requests on its
 * fpq->processing); the last device of the connection aborts it (fc->dev_count); the
 * device's reference to the connection goes (fuse_dev_free).
 */
export function fuse_dev_release(c: Ctx, f: FileObj) {
  if (!f.private_data) return; // never attached to a connection (perhaps only SYNC_INIT-marked)
  const fc = c.deref(f.private_data, 'fuse_conn');
  const mine = fc.processing.filter((r) => r.dev === f.ptr);
  if (mine.length) {
    fc.processing = fc.processing.filter((r) => r.dev !== f.ptr);
    for (const r of mine) {
      if (r.opcode === FUSE_OPCODE.INIT) process_init_reply(c, fc, neg('ECONNABORTED'), new Uint8Array(0));
      if (r.waiter !== null) fc.answered.push({ unique: r.unique, error: neg('ECONNABORTED'), body: '' });
    }
    if (c.record) c.emit('note', `fuse_dev_release: ${mine.length} request(s) read through ${name(f)} end with ECONNABORTED`);
  }
  setField(c, fc, 'devCount', fc.devCount - 1);
  if (fc.devCount === 0) {
    fuse_abort_conn(c, fc);
    if (c.record) c.emit('note', `fuse_dev_release: ${name(fc)} loses its last device: aborted`);
  }
  fuse_conn_put(c, fc);
}

/**
 * fuse_device_clone: attach the new /dev/fuse file to fc (a fuse_dev of its own, one more
 * reference on fc, one more device: fc->dev_count). A file already attached is EINVAL; a
 * SYNC_INIT mark is simply replaced.
 */
function fuse_device_clone(c: Ctx, fc: FuseConnObj, file: Ptr): number {
  const f = c.deref(file, 'file');
  if (__fuse_get_dev(c, file)) return neg('EINVAL');
  f.private_data = fc.ptr;
  delete f.devSyncInit;
  setField(c, fc, 'count', fc.count + 1);
  setField(c, fc, 'devCount', fc.devCount + 1);
  if (c.record) c.emit('field', `${name(f)}.private_data -> ${name(fc)} (FUSE_DEV_IOC_CLONE)`);
  return 0;
}

interface DevIoctlL extends IoctlA {
  /** CLONE: the old fd's file (fdget), held until the clone is done */
  old: Ptr;
}

/**
 * fuse_dev_ioctl: CLONE (fuse_dev_ioctl_clone), BACKING_OPEN / BACKING_CLOSE
 * (fuse_dev_ioctl_backing_open/close: fuse_get_dev first, EPERM without a connection, a wait
 * on a SYNC_INIT-marked file), SYNC_INIT (6.18: fuse_dev_ioctl_sync_init); anything else is
 * ENOTTY. CLONE's argument, the old fd, comes in `fd`.
 */
export const fuse_dev_ioctl = kfunc<IoctlA, DevIoctlL>('fuse_dev_ioctl', 'fs/fuse/dev.c', {
  start(c, l) {
    if (l.cmd === FUSE_DEV_IOC_SYNC_INIT && c.profile.syncInitIoctl) {
      // fuse_dev_ioctl_sync_init: only a device no mount has attached yet can be marked
      if (__fuse_get_dev(c, l.file)) return ret(neg('EINVAL'));
      const f = c.deref(l.file, 'file');
      if (!f.devSyncInit) c.emit('field', `${name(f)}.private_data = FUSE_DEV_SYNC_INIT`);
      f.devSyncInit = true;
      return ret(0);
    }
    if (l.cmd === FUSE_DEV_IOC_CLONE) return goto('clone');
    if (l.cmd !== FUSE_DEV_IOC_BACKING_OPEN && l.cmd !== FUSE_DEV_IOC_BACKING_CLOSE) return ret(neg('ENOTTY'));
    return goto('backing');
  },
  backing(c, l) {
    const fc = fuse_get_dev(c, l.file, 'backing');
    if (typeof fc === 'number') return ret(fc);
    if (!('type' in fc)) return fc; // asleep on fuse_dev_waitq
    if (l.cmd === FUSE_DEV_IOC_BACKING_OPEN) {
      return tail(fuse_backing_open, { fc: fc.ptr, fd: l.fd ?? 0, flags: l.flags ?? 0, padding: l.padding ?? 0 });
    }
    // the argument is a u32 read into an int: 0xffffffff is -1
    return tail(fuse_backing_close, { fc: fc.ptr, id: (l.id ?? 0) | 0 });
  },
  clone(c, l) {
    // fuse_dev_ioctl_clone: the old fd (fdget: a bad fd or an O_PATH file is EINVAL) must be
    // a /dev/fuse file too (CUSE shares the ioctl)
    const old = fget(c, l.fd);
    if (old === 0) return ret(neg('EINVAL'));
    l.old = old;
    if (c.deref(old, 'file').f_op !== c.deref(l.file, 'file').f_op) return fdput(c, old, neg('EINVAL'));
    return goto('clone_get');
  },
  clone_get(c, l) {
    if (!c.profile.cloneWaitsForDev) {
      // 6.9: __fuse_get_dev; no connection behind the old fd is EINVAL
      const fc = __fuse_get_dev(c, l.old);
      return fdput(c, l.old, fc ? fuse_device_clone(c, fc, l.file) : neg('EINVAL'));
    }
    // 6.18: fuse_get_dev of the old fd (EPERM, or a wait if it is SYNC_INIT-marked)
    const fc = fuse_get_dev(c, l.old, 'clone_get');
    if (typeof fc === 'number') return fdput(c, l.old, fc);
    if (!('type' in fc)) return fc;
    return fdput(c, l.old, fuse_device_clone(c, fc, l.file));
  },
});

/**
 * read(2) and write(2) of /dev/fuse: the model's servers read requests and write replies in
 * their session loop (fuse_dev_read, fuse_dev_write), not through a program's op, so these
 * only refuse. They are here because the device's f_op has them: 6.9's BACKING_OPEN accepts
 * any file whose f_op has read_iter and write_iter, /dev/fuse included.
 */
const fuse_dev_read_iter = kfunc<ReadA>('fuse_dev_read_iter', 'fs/fuse/dev.c', {
  start(c) {
    if (c.record) c.emit('note', 'read(2) of /dev/fuse by a program is not modelled (servers read in their session loop)');
    return ret(neg('EINVAL'));
  },
});
const fuse_dev_write_iter = kfunc<WriteA>('fuse_dev_write_iter', 'fs/fuse/dev.c', {
  start(c) {
    if (c.record) c.emit('note', 'write(2) of /dev/fuse by a program is not modelled (servers reply in their session loop)');
    return ret(neg('EINVAL'));
  },
});

/** fuse_dev_operations */
export const FUSE_DEV_FOPS = 'fuse_dev';
register_file_operations(FUSE_DEV_FOPS, {
  name: 'fuse_dev_operations',
  read_iter: fuse_dev_read_iter,
  write_iter: fuse_dev_write_iter,
  unlocked_ioctl: fuse_dev_ioctl,
  release: fuse_dev_release,
});
