// fs/fuse/xattr.c: extended attributes through the server. The kernel asks for them itself
// around writes and truncation (file_remove_privs: "security.capability") and when overlayfs
// looks at a FUSE layer ("trusted.overlay.opaque"); a server without GETXATTR (ENOSYS) is
// never asked again (fc->no_getxattr), and the answer is then EOPNOTSUPP at once.
import { kfunc, ret } from '../exec.ts';
import type { FuseSb, Ptr } from '../state.ts';
import { neg } from '../lib/errno.ts';
import { setField } from '../lib/once.ts';
import { decodeReplyArg, encodeGetxattrBody } from '../../wire/messages.ts';
import { FUSE_OPCODE } from '../../wire/uapi.ts';
import { fuse_request_wait, fuse_take_answer } from './dev.ts';

interface GetxattrA {
  sb: number;
  name: string;
  inode: Ptr;
  xname: string;
  size: number;
}

interface GetxattrL extends GetxattrA {
  unique: number;
  fc: Ptr;
}

/**
 * fuse_getxattr: GETXATTR (size, name); with size 0 the reply is fuse_getxattr_out, the
 * value's length. ENOSYS makes the connection remember (fc->no_getxattr) and is EOPNOTSUPP to
 * the caller; any other error (ENODATA: no such attribute) is returned and asked again next
 * time.
 */
export const fuse_getxattr = kfunc<GetxattrA, GetxattrL>('fuse_getxattr', 'fs/fuse/xattr.c', {
  start(c, l) {
    const fi = c.deref(l.inode, 'fuse_inode');
    const fc = c.deref((c.w.sbs[fi.sb] as FuseSb).conn, 'fuse_conn');
    if (fc.noGetxattr) return ret(neg('EOPNOTSUPP'));
    l.fc = fc.ptr;
    return fuse_request_wait(c, l, fc, FUSE_OPCODE.GETXATTR, fi.nodeid, encodeGetxattrBody(l.size, l.xname), 'reply');
  },
  reply(c, l) {
    const fc = c.deref(l.fc, 'fuse_conn');
    const a = fuse_take_answer(c, fc, l.unique);
    if (a.error === neg('ENOSYS')) {
      setField(c, fc, 'noGetxattr', true);
      return ret(neg('EOPNOTSUPP'));
    }
    if (a.error) return ret(a.error);
    const r = decodeReplyArg(FUSE_OPCODE.GETXATTR, a.body, { requestSize: l.size });
    if (r.op !== 'GETXATTR') throw new Error('decodeReplyArg(GETXATTR) (model bug)');
    if ('arg' in r) return ret(r.arg.size);
    if ('value' in r) return ret(r.value.length);
    return ret(0);
  },
});
