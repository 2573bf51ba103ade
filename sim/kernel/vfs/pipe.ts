// fs/pipe.c: pipe(2). Both ends are files on the kernel's pipefs, on one FIFO inode, with
// pipefifo_fops (read_iter and write_iter: 6.9's BACKING_OPEN took either end; 6.17+ refuses
// anything but a regular file). Pipe io is not modelled: a pipe reads like an empty file.
import { entry, kfunc, ret } from '../exec.ts';
import { s_type } from './fs.ts';
import { alloc_file } from './file_table.ts';
import { fd_install } from './file.ts';
import { O_RDONLY, O_WRONLY } from './fcntl.ts';

/** pipefs, the kernel's internal mount pipe inodes live on */
export const PIPEFS = 'pipefs';

/** pipefifo_fops' key (registered with the plain filesystem's FIFOs) */
const PIPEFIFO_FOPS = 'pipefifo';

/**
 * do_pipe2: get_pipe_inode on pipefs, then the read end (O_RDONLY) and the write end
 * (O_WRONLY), each installed in the fd table. Returns the read end's fd; `save_write` names
 * the saved value that gets the write end's.
 */
export const sys_pipe = entry(
  'pipe',
  kfunc<{ save_write?: string }>('sys_pipe2', 'fs/pipe.c', {
    start(c, l) {
      const sb = c.w.sbs.find((s) => s.name === PIPEFS);
      if (!sb) throw new Error('no pipefs (model bug)');
      const mknod = s_type(sb).mknod;
      // the inode number: the first one pipefs has not given out (the model never frees them)
      let ino = 1;
      while (s_type(sb).peek(c.w, sb, `pipe:[${ino}]`)) ino++;
      const name = `pipe:[${ino}]`;
      if (!mknod || mknod(c, sb, name, 'fifo') < 0) throw new Error(`pipefs: no inode ${name} (model bug)`);
      const end = (flags: number) =>
        alloc_file(c, { f_op: PIPEFIFO_FOPS, sb: sb.id, name, mode: 'fifo', flags, read: flags === O_RDONLY, write: flags === O_WRONLY, opath: false, private_data: 0, backing: false, realSb: sb.id });
      const r = fd_install(c, end(O_RDONLY).ptr);
      const w = fd_install(c, end(O_WRONLY).ptr);
      if (l.save_write) c.p.vars[l.save_write] = w;
      return ret(r);
    },
  }),
);
