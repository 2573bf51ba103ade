// fs/fuse/dev.c: the request queue between the kernel and the server, the /dev/fuse read
// and write paths, the device ioctls and connection abort.
import type { Ctx } from '../ctx.ts';
import { block, ret, type Next } from '../exec.ts';
import { name } from '../ctx.ts';
import type { FuseConnObj, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { decodeReplyArg, encodeRequest, WireError } from '../../wire/messages.ts';
import { decode, FUSE_ATTR_OUT, FUSE_ENTRY_OUT, FUSE_INIT_OUT, FUSE_OPEN_OUT, FUSE_OUT_HEADER, FUSE_WRITE_OUT } from '../../wire/structs.ts';
import { FUSE_OPCODE, opcodeName } from '../../wire/uapi.ts';
import { fromHex, toHex } from './hex.ts';
import { process_init_reply } from './inode.ts';

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
  c.emit('wire', `${name(fc)}: queue ${opcodeName(opcode)} unique=${unique} nodeid=${nodeid} (${bytes.length} bytes)`);
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
 * fs/fuse/dev.c: fuse_dev_do_read. The request moves from pending to processing.
 * With nothing pending on a dead connection the server gets ENODEV (ECONNABORTED after abort).
 */
export function fuse_dev_read(c: Ctx, fc: FuseConnObj): Uint8Array | number {
  const req = fc.pending.shift();
  if (!req) return fc.connected ? neg('EAGAIN') : neg('ENODEV');
  fc.processing.push(req);
  c.emit('wire', `${name(fc)}: server reads ${opcodeName(req.opcode)} unique=${req.unique}`);
  return fromHex(req.bytes);
}

/**
 * The out args of a request (fuse_args.out_args): the reply body's size, exact, or at most
 * (out_argvar: INIT, READ). Opcodes the model sends and not listed have no out args.
 */
function outArgSize(opcode: number): { size: number; argvar: boolean } {
  switch (opcode) {
    case FUSE_OPCODE.INIT:
      return { size: FUSE_INIT_OUT.size, argvar: true };
    case FUSE_OPCODE.OPEN:
    case FUSE_OPCODE.OPENDIR:
      return { size: FUSE_OPEN_OUT.size, argvar: false };
    case FUSE_OPCODE.READ:
      return { size: Infinity, argvar: true }; // the caller checks against the size it asked for
    case FUSE_OPCODE.WRITE:
      return { size: FUSE_WRITE_OUT.size, argvar: false };
    case FUSE_OPCODE.GETATTR:
      return { size: FUSE_ATTR_OUT.size, argvar: false };
    case FUSE_OPCODE.LOOKUP:
      return { size: FUSE_ENTRY_OUT.size, argvar: false };
    default:
      return { size: 0, argvar: false };
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
  const out = outArgSize(req.opcode);
  // an error reply carries no body; a success reply fits the out args (copy_out_args)
  let bad = oh.error !== 0 ? body.length !== 0 : body.length > out.size || (!out.argvar && body.length < out.size);
  let why = `${body.length} body bytes do not fit`;
  if (!bad && oh.error === 0 && out.size > 0) {
    // a model limit, not the kernel's: a u64 field above 2^53 (a file handle, a size) does not
    // fit the model's numbers; the kernel would take it, the model ends the request instead
    try {
      decodeReplyArg(req.opcode, body);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      bad = true;
      why = `the model cannot hold it (${e.message})`;
    }
  }
  const error = bad ? neg('EIO') : oh.error;
  c.emit('wire', `${name(fc)}: server replies to ${opcodeName(req.opcode)} unique=${unique} error=${oh.error}${bad ? ` (${why}: the request ends with EIO, the write gets EINVAL)` : ''}`);
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
  c.emit('field', `${name(fc)}.connected true -> false (fuse_abort_conn${ended.length ? `, ${ended.length} request(s) end with ECONNABORTED` : ''})`);
}

/** fs/fuse/dev.c: fuse_get_dev: the connection a /dev/fuse file is attached to, or NULL. */
export function fuse_get_dev(c: Ctx, devFile: Ptr): FuseConnObj | null {
  const f = c.deref(devFile, 'file');
  if (f.devConn === 0) return null;
  return c.deref(f.devConn, 'fuse_conn');
}
