// net/socket.c (with net/unix/af_unix.c's bind): socket(2) of an AF_UNIX stream socket, a file
// on the kernel's sockfs, and bind(2) of it to a path, which makes a socket inode there
// (vfs_mknod(S_IFSOCK)). Socket io is not modelled: what matters here is what BACKING_OPEN
// makes of a socket's fd (socket_file_ops has read_iter and write_iter: 6.9 took it; 6.17+
// refuses anything but a regular file) and that open(2) of a socket inode is ENXIO.
import { entry, kfunc, ret } from '../exec.ts';
import { neg } from '../lib/errno.ts';
import { register_file_operations, s_type, type ReadA, type WriteA } from '../vfs/fs.ts';
import { alloc_file } from '../vfs/file_table.ts';
import { fd_install } from '../vfs/file.ts';
import { O_RDWR } from '../vfs/fcntl.ts';
import { resolvePath } from '../vfs/namei.ts';

/** sockfs, the kernel's internal mount socket inodes live on */
export const SOCKFS = 'sockfs';

const sock_read_iter = kfunc<ReadA>('sock_read_iter', 'net/socket.c', {
  start(c) {
    if (c.record) c.emit('note', 'socket io is not modelled: ENOTCONN, as an unconnected stream socket says');
    return ret(neg('ENOTCONN'));
  },
});
const sock_write_iter = kfunc<WriteA>('sock_write_iter', 'net/socket.c', {
  start() {
    return ret(neg('ENOTCONN'));
  },
});

/** socket_file_ops */
export const SOCKET_FOPS = 'socket';
register_file_operations(SOCKET_FOPS, { name: 'socket_file_ops', read_iter: sock_read_iter, write_iter: sock_write_iter });

/** bad_sock_fops: a socket inode in a filesystem cannot be opened (sock_no_open: ENXIO). */
export const BAD_SOCK_FOPS = 'bad_sock';
register_file_operations(BAD_SOCK_FOPS, {
  name: 'bad_sock_fops',
  open: kfunc<{ file: number }>('sock_no_open', 'net/socket.c', {
    start() {
      return ret(neg('ENXIO'));
    },
  }),
});

/**
 * socket(AF_UNIX, SOCK_STREAM, 0): sock_alloc (an inode on sockfs) and sock_alloc_file (an
 * O_RDWR file with socket_file_ops); with `bind`, unix_bind makes the socket inode at that
 * path (EADDRINUSE if the name exists; the socket is closed again on failure). Returns the fd.
 */
export const sys_socket = entry(
  'socket',
  kfunc<{ bind?: string }>('sys_socket', 'net/socket.c', {
    start(c, l) {
      if (l.bind !== undefined) {
        const r = resolvePath(c.w, l.bind);
        if (!r || !r.name) return ret(neg('ENOENT'));
        const mknod = s_type(r.sb).mknod;
        if (!mknod) return ret(neg('EOPNOTSUPP'));
        const e = mknod(c, r.sb, r.name, 'sock');
        if (e < 0) return ret(e === neg('EEXIST') ? neg('EADDRINUSE') : e);
      }
      const sb = c.w.sbs.find((s) => s.name === SOCKFS);
      if (!sb) throw new Error('no sockfs (model bug)');
      // the inode number: the first one sockfs has not given out (the model never frees them)
      let ino = 1;
      while (s_type(sb).peek(c.w, sb, `socket:[${ino}]`)) ino++;
      const name = `socket:[${ino}]`;
      s_type(sb).mknod?.(c, sb, name, 'sock');
      const f = alloc_file(c, { f_op: SOCKET_FOPS, sb: sb.id, name, mode: 'sock', flags: O_RDWR, read: true, write: true, opath: false, private_data: 0, backing: false, realSb: sb.id });
      return ret(fd_install(c, f.ptr));
    },
  }),
);
