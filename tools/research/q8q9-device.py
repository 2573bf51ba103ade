"""Q8 (device and connection life) and Q9 (backing fd kinds) on the real kernel.
Run: python3 tools/research/q8q9-device.py > tools/research/out/q8q9.md (root)."""
import os, sys, time, socket, threading, errno, signal, struct
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pyfuse import *

clean_stale()
WORK = tempfile.mkdtemp(prefix='bk', dir='/tmp')
REG = os.path.join(WORK, 'reg')
with open(REG, 'wb') as f:
    f.write(b'BACKING-DATA-123')
lines = []
def log(s):
    lines.append(s)
def section(t):
    log('')
    log('### ' + t)
    log('```')
def end():
    log('```')
def rfd():
    return os.open(REG, os.O_RDWR)

# ---------------------------------------------------------------- Q8 a
section('ioctls on a /dev/fuse fd that was never mounted')
fd = os.open('/dev/fuse', os.O_RDWR)
b = rfd()
log('BACKING_OPEN(regular file) -> %s' % Server.fmt(backing_open(fd, b)))
log('BACKING_CLOSE(1) -> %s' % Server.fmt(backing_close(fd, 1)))
fd2 = os.open('/dev/fuse', os.O_RDWR)
log('CLONE(new fd <- this unmounted fd) -> %s' % Server.fmt(clone(fd2, fd)))
log('SYNC_INIT -> %s' % Server.fmt(ioctl_int(fd, IOC_SYNC_INIT)))
log('SYNC_INIT again -> %s' % Server.fmt(ioctl_int(fd, IOC_SYNC_INIT)))
# BACKING_OPEN on a sync-init-marked unmounted fd: in a child with alarm(2)
pid = os.fork()
if pid == 0:
    signal.signal(signal.SIGALRM, lambda *a: None)
    signal.alarm(2)
    t0 = time.time()
    r = backing_open(fd, b)
    os.write(1, ('  (child) BACKING_OPEN on the SYNC_INIT-marked unmounted fd -> %s after %.1f s (alarm at 2 s)\n' % (Server.fmt(r), time.time() - t0)).encode())
    os._exit(0)
os.waitpid(pid, 0)
sys.stdout.flush()
log('(the child line above/below: BACKING_OPEN blocked until the signal)')
os.close(fd); os.close(fd2); os.close(b)
end()

# ---------------------------------------------------------------- Q8 b
section('mounted, INIT not yet answered (asynchronous INIT)')
s = Server({'a': REG}, log)
s.hold_init.clear()
log('mount -> %s' % Server.fmt(s.do_mount()))
s.serve()
time.sleep(0.3)
b = rfd()
log('BACKING_OPEN before the INIT reply -> %s' % Server.fmt(backing_open(s.devfd, b)))
log('BACKING_CLOSE(1) before the INIT reply -> %s' % Server.fmt(backing_close(s.devfd, 1)))
log('SYNC_INIT on the mounted fd -> %s' % Server.fmt(ioctl_int(s.devfd, IOC_SYNC_INIT)))
s.hold_init.set()
s.init_done.wait(5)
time.sleep(0.1)
log('BACKING_OPEN after the INIT reply -> %s' % Server.fmt(backing_open(s.devfd, b)))
os.close(b)
s.umount()
end()

# ---------------------------------------------------------------- Q8 sync init
section('FUSE_DEV_IOC_SYNC_INIT before mount: when INIT arrives')
s = Server({'a': REG}, log, sync_init=True)
res = {}
def mnt():
    t0 = time.time()
    res['r'] = s.do_mount()
    res['t'] = time.time() - t0
th = threading.Thread(target=mnt)
th.start()
time.sleep(0.5)
log('0.5 s after mount(2) started: mount returned yet? %s' % ('r' in res))
s.serve()
s.init_done.wait(5)
th.join(5)
log('mount -> %s (returned after %.2f s, i.e. only once INIT was answered)' % (Server.fmt(res.get('r', -999)), res.get('t', -1)))
b = rfd()
log('BACKING_OPEN right after mount returned -> %s' % Server.fmt(backing_open(s.devfd, b)))
os.close(b)
s.umount()
end()

# ---------------------------------------------------------------- Q8 c clone
section('FUSE_DEV_IOC_CLONE: backing ids of a cloned fd')
s = Server({'a': REG}, log)
s.do_mount(); s.serve(); s.init_done.wait(5)
c = os.open('/dev/fuse', os.O_RDWR)
log('CLONE(new fd <- mounted fd) -> %s' % Server.fmt(clone(c, s.devfd)))
b = rfd()
i1 = backing_open(s.devfd, b); i2 = backing_open(c, b); i3 = backing_open(s.devfd, b)
log('BACKING_OPEN on original -> %s, on clone -> %s, on original -> %s' % (i1, i2, i3))
log('BACKING_CLOSE(%d) through the clone -> %s' % (i1, Server.fmt(backing_close(c, i1))))
log('BACKING_CLOSE(%d) through the original -> %s' % (i2, Server.fmt(backing_close(s.devfd, i2))))
log('BACKING_CLOSE(%d) again through the clone -> %s' % (i2, Server.fmt(backing_close(c, i2))))
s.serve(c)
s.open_reply = lambda n: (FOPEN_PASSTHROUGH, i3)
out = user(s.mnt, "fd = os.open(MNT + '/a', os.O_RDWR)\nr('read via id from the original fd', lambda: os.pread(fd, 7, 0))\nos.close(fd)\n")
for l in out: log('  => ' + l)
os.close(b)
s.umount()
end()

# ---------------------------------------------------------------- Q8 d lazy umount
section('lazy umount (MNT_DETACH) while a passthrough file is open')
s = Server({'a': REG}, log)
s.do_mount(); s.serve(); s.init_done.wait(5)
b = rfd(); bid = backing_open(s.devfd, b); os.close(b)
s.open_reply = lambda n: (FOPEN_PASSTHROUGH, bid)
u = UserProc(s.mnt, log)
u.do('open a O_RDWR', "globals().__setitem__('fd', os.open(MNT + '/a', os.O_RDWR))")
u.do('pread', "os.pread(fd, 7, 0)")
log('--- server: umount2(MNT_DETACH) -> %s' % Server.fmt(s.umount()))
time.sleep(0.2)
u.do('pread after umount', "os.pread(fd, 7, 0)")
u.do('pwrite after umount', "os.pwrite(fd, b'Q', 0)")
u.do('fstat after umount (attrs invalid after the write)', "os.fstat(fd).st_size")
u.do('stat(MNT/a) after umount', "os.stat(MNT + '/a').st_size")
u.do('close', "os.close(fd)", wait=0.5)
u.close()
time.sleep(0.3)
log('--- server: BACKING_CLOSE(%d) after the last close -> %s' % (bid, Server.fmt(backing_close(s.devfd, bid))))
end()

# ---------------------------------------------------------------- Q8 e server closes the device
section('the server closes /dev/fuse while a passthrough file is open')
s = Server({'a': REG}, log)
s.do_mount(); s.serve(); s.init_done.wait(5)
b = rfd(); bid = backing_open(s.devfd, b); os.close(b)
s.open_reply = lambda n: (FOPEN_PASSTHROUGH, bid)
u = UserProc(s.mnt, log)
u.do('open a O_RDWR', "globals().__setitem__('fd', os.open(MNT + '/a', os.O_RDWR))")
u.do('open a O_RDONLY (second fd)', "globals().__setitem__('fd2', os.open(MNT + '/a', os.O_RDONLY))")
s.stop_reading()
log('--- server: close(/dev/fuse) (no thread is reading it)')
os.close(s.devfd)
time.sleep(0.3)
u.do('pread after the device closed', "os.pread(fd, 7, 0)")
u.do('pwrite', "os.pwrite(fd, b'Z', 0)")
u.do('fstat (attrs invalid after the write)', "os.fstat(fd).st_size")
u.do('fsync', "os.fsync(fd)")
u.do('stat(MNT/a)', "os.stat(MNT + '/a').st_size")
u.do('open(MNT/a) again', "os.open(MNT + '/a', os.O_RDONLY)")
u.do('close(fd)', "os.close(fd)")
u.do('close(fd2)', "os.close(fd2)")
u.close()
s.umount()
end()

# ---------------------------------------------------------------- Q8 f forked child without CAP_SYS_ADMIN
section('a forked server child calling BACKING_OPEN, with and without CAP_SYS_ADMIN')
s = Server({'a': REG}, log)
s.do_mount(); s.serve(); s.init_done.wait(5)
for drop in (False, True):
    pid = os.fork()
    if pid == 0:
        if drop:
            r0 = cap_sys_admin(False)
        b = rfd()
        r = backing_open(s.devfd, b)
        c = backing_close(s.devfd, r) if r > 0 else backing_close(s.devfd, 1)
        os.write(1, ('  (child%s) BACKING_OPEN -> %s; BACKING_CLOSE -> %s\n' % (' with CAP_SYS_ADMIN dropped (capset %s)' % r0 if drop else ' with CAP_SYS_ADMIN', Server.fmt(r), Server.fmt(c))).encode())
        os._exit(0)
    os.waitpid(pid, 0)
s.umount()
end()

# ---------------------------------------------------------------- Q9 backing fd kinds
section('Q9: backing fd kinds (BACKING_OPEN result; for accepted ones a passthrough open + pread + pwrite)')
s = Server({'a': REG}, log)
s.do_mount(); s.serve(); s.init_done.wait(5)
link = os.path.join(WORK, 'link'); os.symlink(REG, link)
pr, pw = os.pipe()
sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
kinds = [
    ('/dev/null O_RDWR (char device)', lambda: os.open('/dev/null', os.O_RDWR)),
    ('pipe read end', lambda: pr),
    ('pipe write end', lambda: pw),
    ('AF_UNIX socket', lambda: sock.fileno()),
    ('symlink O_PATH|O_NOFOLLOW', lambda: os.open(link, os.O_PATH | os.O_NOFOLLOW)),
    ('regular file O_RDONLY', lambda: os.open(REG, os.O_RDONLY)),
    ('regular file O_WRONLY', lambda: os.open(REG, os.O_WRONLY)),
    ('regular file O_WRONLY|O_APPEND', lambda: os.open(REG, os.O_WRONLY | os.O_APPEND)),
    ('regular file O_PATH', lambda: os.open(REG, os.O_PATH)),
]
for label, mk in kinds:
    f = mk()
    bid = backing_open(s.devfd, f)
    log('--- %s: BACKING_OPEN -> %s' % (label, Server.fmt(bid)))
    if bid > 0:
        s.open_reply = lambda n, bid=bid: (FOPEN_PASSTHROUGH, bid)
        out = user(s.mnt, "fd = r('open a O_RDWR', lambda: os.open(MNT + '/a', os.O_RDWR))\nif fd is not None:\n    r('pread 7 @0', lambda: os.pread(fd, 7, 0))\n    r('pwrite 1 @15', lambda: os.pwrite(fd, b'!', 15))\n    os.close(fd)\nfd = r('open a O_RDONLY', lambda: os.open(MNT + '/a', os.O_RDONLY))\nif fd is not None:\n    r('pread 7 @0', lambda: os.pread(fd, 7, 0))\n    os.close(fd)\n")
        for l in out: log('  => ' + l)
        log('  backing file now: %r' % open(REG, 'rb').read())
        time.sleep(0.2)
        log('  BACKING_CLOSE -> %s' % Server.fmt(backing_close(s.devfd, bid)))
s.umount()
end()

for l in lines:
    print(l)
cleanup_all()
