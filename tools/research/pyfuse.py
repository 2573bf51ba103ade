"""A minimal raw FUSE server in Python for the device-level experiments of
docs/request-streams.md (sections 8 and 9): things the oracle's helper cannot do
(ioctls on an unmounted /dev/fuse fd, FUSE_DEV_IOC_CLONE, FUSE_DEV_IOC_SYNC_INIT,
closing the device while files are open, forked servers without CAP_SYS_ADMIN,
backing fds of every kind).

Run as root: python3 tools/research/pyfuse.py [experiment...]. Mounts live under
/tmp/fpsim-research-py/ and are detached (MNT_DETACH) when the script ends, on
SIGINT/SIGTERM too; a later run detaches whatever a killed run left behind.
User syscalls always run in a separate python3 process (subprocess)."""
import ctypes, errno, fcntl, os, signal, socket, struct, subprocess, sys, tempfile, threading, time, atexit

libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p] * 3 + [ctypes.c_ulong, ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

PARENT = '/tmp/fpsim-research-py'
MS_NOSUID, MS_NODEV, MNT_DETACH = 2, 4, 2
IOC_CLONE = 0x8004e500          # _IOR(229, 0, uint32_t)
IOC_BACKING_OPEN = 0x4010e501   # _IOW(229, 1, struct fuse_backing_map)
IOC_BACKING_CLOSE = 0x4004e502  # _IOW(229, 2, uint32_t)
IOC_SYNC_INIT = 0xe503          # _IO(229, 3)
OPS = {1: 'LOOKUP', 2: 'FORGET', 3: 'GETATTR', 4: 'SETATTR', 14: 'OPEN', 15: 'READ', 16: 'WRITE', 17: 'STATFS',
       18: 'RELEASE', 20: 'FSYNC', 22: 'GETXATTR', 25: 'FLUSH', 26: 'INIT', 27: 'OPENDIR', 29: 'RELEASEDIR',
       36: 'INTERRUPT', 38: 'DESTROY', 42: 'BATCH_FORGET', 46: 'LSEEK'}
INIT_EXT, PASSTHROUGH = 1 << 30, 1 << 37
FOPEN_PASSTHROUGH, FOPEN_DIRECT_IO = 1 << 7, 1

mounts = []


def err(e):
    return errno.errorcode.get(e, str(e))


def cleanup_all():
    for m in mounts:
        libc.umount2(m.encode(), MNT_DETACH)
        try:
            os.rmdir(m)
        except OSError:
            pass
    mounts.clear()


def clean_stale():
    os.makedirs(PARENT, exist_ok=True)
    with open('/proc/self/mountinfo') as f:
        for line in f:
            mp = line.split()[4]
            if mp.startswith(PARENT + '/'):
                libc.umount2(mp.encode(), MNT_DETACH)
    for n in os.listdir(PARENT):
        try:
            os.rmdir(os.path.join(PARENT, n))
        except OSError:
            pass


atexit.register(cleanup_all)
for _s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_s, lambda *a: (cleanup_all(), os._exit(130)))


def ioctl_int(fd, req, arg=None):
    """ioctl returning the int result or -errno"""
    try:
        if arg is None:
            return fcntl.ioctl(fd, req, 0)
        buf = bytearray(arg)
        return fcntl.ioctl(fd, req, buf, True)
    except OSError as e:
        return -e.errno


def backing_open(devfd, fd, flags=0, padding=0):
    return ioctl_int(devfd, IOC_BACKING_OPEN, struct.pack('<iIQ', fd, flags, padding))


def backing_close(devfd, bid):
    return ioctl_int(devfd, IOC_BACKING_CLOSE, struct.pack('<I', bid & 0xffffffff))


def clone(newfd, oldfd):
    return ioctl_int(newfd, IOC_CLONE, struct.pack('<I', oldfd))


def cap_sys_admin(on):
    """raise/drop CAP_SYS_ADMIN (21) in the effective set of this process"""
    hdr = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    libc.syscall(125, hdr, data)  # capget
    if on:
        data[0] |= 1 << 21
    else:
        data[0] &= ~(1 << 21)
    r = libc.syscall(126, hdr, data)  # capset
    return 0 if r == 0 else -ctypes.get_errno()


def attr(ino, size, mode):
    return struct.pack('<QQQQQQIIIIIIIIII', ino, size, (size + 511) // 512, 0, 0, 0, 0, 0, 0, mode, 1, 0, 0, 0, 0, 0)


class Server:
    """One FUSE connection. files: name -> real path of the backing file."""

    def __init__(self, files, log, init_flags=INIT_EXT | PASSTHROUGH, stack=1, sync_init=False, open_reply=None):
        self.files = files
        self.log = log
        self.init_flags = init_flags
        self.stack = stack
        self.open_reply = open_reply  # fn(nodeid) -> (open_flags, backing_id)
        self.nodes = {1: None}
        self.devfd = os.open('/dev/fuse', os.O_RDWR | os.O_CLOEXEC)
        self.mnt = tempfile.mkdtemp(prefix='m', dir=PARENT)
        self.init_done = threading.Event()
        self.hold_init = threading.Event()
        self.hold_init.set()
        self.stopped = False
        self.readers = []
        if sync_init:
            self.log('  server: FUSE_DEV_IOC_SYNC_INIT on the unmounted fd -> %s' % self.fmt(ioctl_int(self.devfd, IOC_SYNC_INIT)))

    @staticmethod
    def fmt(r):
        return str(r) if r >= 0 else err(-r)

    def do_mount(self):
        opts = 'fd=%d,rootmode=40000,user_id=0,group_id=0' % self.devfd
        r = libc.mount(b'pyfuse', self.mnt.encode(), b'fuse.pyfuse', MS_NOSUID | MS_NODEV, opts.encode())
        e = ctypes.get_errno()
        if r == 0:
            mounts.append(self.mnt)
        return 0 if r == 0 else -e

    def serve(self, fd=None):
        t = threading.Thread(target=self.loop, args=(self.devfd if fd is None else fd,), daemon=True)
        t.start()
        self.readers.append(t)
        return t

    def reply(self, fd, unique, error, body=b''):
        try:
            os.write(fd, struct.pack('<IiQ', 16 + len(body), error, unique) + body)
        except OSError as e:
            self.log('  server: reply write failed %s' % err(e.errno))

    def loop(self, fd):
        import select
        while not self.stopped:
            try:
                # poll with a timeout, so that stop() leaves no thread blocked in read(2)
                # (a blocked read would keep the device file alive after close)
                if not select.select([fd], [], [], 0.05)[0]:
                    continue
                if self.stopped:
                    return
                buf = os.read(fd, (1 << 20) + 65536)
            except OSError as e:
                if e.errno in (errno.EINTR, errno.ENOENT, errno.EAGAIN):
                    continue
                self.log('  server: read(/dev/fuse) -> %s' % err(e.errno))
                return
            length, opcode, unique, nodeid = struct.unpack_from('<IIQQ', buf, 0)
            body = buf[40:length]
            self.handle(fd, opcode, unique, nodeid, body)

    def handle(self, fd, opcode, unique, nodeid, body):
        name = OPS.get(opcode, 'OP_%d' % opcode)
        extra = ''
        if name == 'LOOKUP':
            extra = ' ' + body.rstrip(b'\0').decode()
        elif name in ('READ', 'WRITE'):
            fh, off, size = struct.unpack_from('<QQI', body)
            extra = ' fh=%d off=%d size=%d' % (fh, off, size)
        elif name in ('FLUSH', 'RELEASE'):
            extra = ' fh=%d' % struct.unpack_from('<Q', body)[0]
        elif name == 'INIT':
            extra = ' (minor %d)' % struct.unpack_from('<I', body, 4)[0]
        elif name == 'FORGET':
            extra = ' nlookup=%d' % struct.unpack_from('<Q', body)[0]
        if name != 'LOOKUP' or not extra.startswith(' __'):
            self.log('  %s%s%s' % (name, ' n%d' % nodeid if nodeid else '', extra))
        if name == 'INIT':
            self.hold_init.wait()
            f = self.init_flags
            out = struct.pack('<IIIIHHIIHHII', 7, 40, 0, f & 0xffffffff, 0, 0, 131072, 0, 0, 0, f >> 32, self.stack) + bytes(24)
            self.reply(fd, unique, 0, out)
            self.init_done.set()
        elif name == 'LOOKUP':
            n = body.rstrip(b'\0').decode()
            if n not in self.files:
                return self.reply(fd, unique, -errno.ENOENT)
            nid = 2 + sorted(self.files).index(n)
            self.nodes[nid] = n
            size = os.stat(self.files[n]).st_size
            self.reply(fd, unique, 0, struct.pack('<QQQQII', nid, 0, 86400, 86400, 0, 0) + attr(nid, size, 0o100644))
        elif name == 'GETATTR':
            if nodeid == 1:
                return self.reply(fd, unique, 0, struct.pack('<QII', 86400, 0, 0) + attr(1, 0, 0o40755))
            size = os.stat(self.files[self.nodes[nodeid]]).st_size
            self.reply(fd, unique, 0, struct.pack('<QII', 86400, 0, 0) + attr(nodeid, size, 0o100644))
        elif name == 'OPEN':
            of, bid = self.open_reply(nodeid) if self.open_reply else (0, 0)
            self.reply(fd, unique, 0, struct.pack('<QIi', 1, of, bid))
        elif name == 'READ':
            fh, off, size = struct.unpack_from('<QQI', body)
            with open(self.files[self.nodes[nodeid]], 'rb') as f:
                f.seek(off)
                self.reply(fd, unique, 0, f.read(size))
        elif name == 'WRITE':
            fh, off, size = struct.unpack_from('<QQI', body)
            with open(self.files[self.nodes[nodeid]], 'r+b') as f:
                f.seek(off)
                f.write(body[40:40 + size])
            self.reply(fd, unique, 0, struct.pack('<II', size, 0))
        elif name in ('FLUSH', 'RELEASE', 'DESTROY', 'RELEASEDIR', 'FSYNC'):
            self.reply(fd, unique, 0)
        elif name in ('FORGET', 'BATCH_FORGET', 'INTERRUPT'):
            pass
        elif name == 'STATFS':
            self.reply(fd, unique, 0, bytes(80))
        else:
            self.reply(fd, unique, -errno.ENOSYS)

    def stop_reading(self):
        self.stopped = True
        for t in self.readers:
            t.join(2)

    def umount(self):
        r = libc.umount2(self.mnt.encode(), MNT_DETACH)
        return 0 if r == 0 else -ctypes.get_errno()


def user(mnt, script, timeout=10, env=None):
    """runs script in a separate python3 process; its printed lines are returned"""
    pre = "import os, sys, time, errno, struct\nMNT=%r\ndef r(label, fn):\n    try:\n        v = fn(); print('%%s: %%r' %% (label, v), flush=True); return v\n    except OSError as e:\n        print('%%s: %%s' %% (label, errno.errorcode.get(e.errno, e.errno)), flush=True)\n" % mnt
    try:
        p = subprocess.run([sys.executable, '-u', '-c', pre + script], capture_output=True, text=True, timeout=timeout, env=env)
        return (p.stdout + p.stderr).strip().splitlines()
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b'').decode() if isinstance(e.stdout, bytes) else (e.stdout or '')
        return out.strip().splitlines() + ['(user process killed: timeout)']


class UserProc:
    """a long-lived user process fed one python statement per line"""

    def __init__(self, mnt, log):
        self.log = log
        src = ("import os, sys, errno\nMNT=%r\nfor line in sys.stdin:\n    try:\n        v = eval(line)\n        print(repr(v), flush=True)\n"
               "    except OSError as e:\n        print(errno.errorcode.get(e.errno, e.errno), flush=True)\n    except Exception as e:\n        print('EXC', repr(e), flush=True)\n") % mnt
        self.p = subprocess.Popen([sys.executable, '-u', '-c', src], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def do(self, label, expr, wait=0.15):
        self.log('--- user: %s' % label)
        self.p.stdin.write(expr + '\n')
        self.p.stdin.flush()
        res = self.p.stdout.readline().strip()
        time.sleep(wait)
        self.log('  => %s' % res)
        return res

    def close(self):
        try:
            self.p.stdin.close()
            self.p.wait(timeout=5)
        except Exception:
            self.p.kill()
