/*
 * fpsim-preload.so: LD_PRELOADed into a FUSE server run by fpsim-bridge.
 *
 * The server's "/dev/fuse" is a SOCK_SEQPACKET socket (fd 3); read(2) and
 * writev(2) on it already behave like on /dev/fuse, one message each, so the
 * shim leaves them alone. What a socket cannot do is the /dev/fuse ioctls:
 * libfuse calls FUSE_DEV_IOC_BACKING_OPEN / _CLOSE from fuse_passthrough_open
 * / _close, FUSE_DEV_IOC_CLONE when a worker thread gets its own fd (clone_fd)
 * and FUSE_DEV_IOC_SYNC_INIT when it mounts with the new mount API. On a
 * socket all of them fail with ENOTTY. So:
 *
 *   ioctl(fd, ...) on one of our device sockets: sent to the bridge on this
 *     thread's own channel (created on first use and handed to the bridge by
 *     SCM_RIGHTS over the control socket, fd 4), with the request number, the
 *     _IOC_SIZE bytes of the argument and, for BACKING_OPEN, the backing fd
 *     itself (SCM_RIGHTS). The thread blocks until Node answers: its return
 *     value or -errno, plus bytes to copy back for _IOC_READ ioctls. A
 *     channel per thread means concurrent ioctls from several worker threads
 *     never see each other's answers.
 *   read(2) on a device socket: a socket would silently cut a message that
 *     does not fit the buffer; /dev/fuse refuses with EINVAL and consumes
 *     nothing, and libfuse relies on that to grow its buffer after INIT
 *     raised max_write (4 MiB for passthrough_hp). So the shim peeks at the
 *     next message's size first and, if it does not fit, fails with EINVAL.
 *     (The kernel compares the buffer with the negotiated max_write rather
 *     than with the message; the model enforces max_write on its side.) A
 *     hangup reads as ENODEV, the kernel's "connection gone".
 *   open("/dev/fuse") (and open64, openat...): returns a new socket whose
 *     other end the bridge polls as another device, so libfuse's clone_fd
 *     (open /dev/fuse, then ioctl CLONE with the session fd) works; Node
 *     decides whether the CLONE succeeds.
 *   everything else: the real libc.
 *
 * Device sockets are recognised by inode (sockfs inode numbers are not reused
 * while the socket lives), not by fd number, so a closed-and-reused fd number
 * never sends a regular file's ioctl to the bridge.
 *
 * Without FPSIM_BRIDGE_DEV_FD / FPSIM_BRIDGE_CTL_FD in the environment (e.g.
 * in a program the server execs: the constructor removes them) the shim does
 * nothing.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "fpsim-bridge.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_ARG 16384 /* _IOC_SIZE is 14 bits */
#define MAX_DEVS 1024

/* open(2) needs its third argument only when it may create a file. */
#define NEEDS_MODE(flags) (((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE)

static int active;
static int ctl_fd = -1;

struct devent {
	dev_t sdev;
	ino_t ino;
	int id;
};
static pthread_mutex_t devs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct devent devs[MAX_DEVS];
static int ndevs;

/* fd numbers that have ever been device sockets: only those are fstat()ed
 * on read/ioctl, so regular files pay nothing. Higher fds are always checked. */
#define MAYBE_FDS 65536
static uint8_t maybe_dev[MAYBE_FDS / 8];
/* Serialises the peek-then-take of reads, so two threads reading one device
 * never take each other's message. */
static pthread_mutex_t read_lock = PTHREAD_MUTEX_INITIALIZER;

static __thread int chan_fd = -1;
static pthread_key_t chan_key;

typedef int (*ioctl_fn)(int, unsigned long, ...);
typedef ssize_t (*read_fn)(int, void *, size_t);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*open2_fn)(const char *, int);
typedef int (*openat2_fn)(int, const char *, int);
static ioctl_fn real_ioctl;
static read_fn real_read;
static open_fn real_open, real_open64;
static openat_fn real_openat, real_openat64;
static open2_fn real___open_2, real___open64_2;
static openat2_fn real___openat_2, real___openat64_2;

static void *next_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p) {
		fprintf(stderr, "fpsim-preload: dlsym(%s) failed\n", name);
		abort();
	}
	return p;
}

static void resolve(void)
{
	if (real_ioctl)
		return;
	real_read = (read_fn)next_sym("read");
	real_open = (open_fn)next_sym("open");
	real_open64 = (open_fn)next_sym("open64");
	real_openat = (openat_fn)next_sym("openat");
	real_openat64 = (openat_fn)next_sym("openat64");
	real___open_2 = (open2_fn)next_sym("__open_2");
	real___open64_2 = (open2_fn)next_sym("__open64_2");
	real___openat_2 = (openat2_fn)next_sym("__openat_2");
	real___openat64_2 = (openat2_fn)next_sym("__openat64_2");
	__atomic_store_n(&real_ioctl, (ioctl_fn)next_sym("ioctl"), __ATOMIC_RELEASE);
}

static void add_devent(int fd, int id)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return;
	struct devent e = { .sdev = st.st_dev, .ino = st.st_ino, .id = id };
	if (fd < MAYBE_FDS)
		__atomic_or_fetch(&maybe_dev[fd / 8], (uint8_t)(1u << (fd % 8)), __ATOMIC_RELEASE);
	pthread_mutex_lock(&devs_lock);
	if (ndevs < MAX_DEVS)
		devs[ndevs++] = e;
	pthread_mutex_unlock(&devs_lock);
}

/* The bridge's device id of fd, or -1 if fd is not one of our sockets. */
static int dev_of(int fd)
{
	struct stat st;
	if (!active || fd < 0)
		return -1;
	if (fd < MAYBE_FDS && !(__atomic_load_n(&maybe_dev[fd / 8], __ATOMIC_ACQUIRE) & (1u << (fd % 8))))
		return -1;
	if (fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return -1;
	int id = -1;
	pthread_mutex_lock(&devs_lock);
	for (int i = 0; i < ndevs; i++)
		if (devs[i].ino == st.st_ino && devs[i].sdev == st.st_dev) {
			id = devs[i].id;
			break;
		}
	pthread_mutex_unlock(&devs_lock);
	return id;
}

static void chan_destructor(void *v)
{
	/* The thread is exiting: the bridge sees the hangup and forgets it. */
	close((int)(intptr_t)v - 1);
}

static void atfork_child(void)
{
	/* The child must not share the forking thread's channel (answers would
	 * go to whichever process reads first): it makes its own on first use. */
	if (chan_fd >= 0)
		close(chan_fd);
	chan_fd = -1;
}

__attribute__((constructor)) static void init(void)
{
	resolve();
	const char *d = getenv(FPSIM_ENV_DEV_FD), *c = getenv(FPSIM_ENV_CTL_FD);
	if (!d || !c)
		return;
	int dev0 = atoi(d);
	ctl_fd = atoi(c);
	/* Programs the server might exec get neither the fds nor the variables. */
	unsetenv(FPSIM_ENV_DEV_FD);
	unsetenv(FPSIM_ENV_CTL_FD);
	if (fcntl(dev0, F_GETFD) < 0 || fcntl(ctl_fd, F_GETFD) < 0) {
		fprintf(stderr, "fpsim-preload: fds %d/%d are not open: inactive\n", dev0, ctl_fd);
		return;
	}
	(void)fcntl(ctl_fd, F_SETFD, FD_CLOEXEC);
	(void)fcntl(dev0, F_SETFD, FD_CLOEXEC);
	pthread_key_create(&chan_key, chan_destructor);
	pthread_atfork(NULL, NULL, atfork_child);
	add_devent(dev0, 0);
	active = 1;
}

static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (fd >= 0) {
		memset(&c, 0, sizeof(c));
		m.msg_control = c.b;
		m.msg_controllen = sizeof(c.b);
		struct cmsghdr *h = CMSG_FIRSTHDR(&m);
		h->cmsg_level = SOL_SOCKET;
		h->cmsg_type = SCM_RIGHTS;
		h->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(h), &fd, sizeof(int));
	}
	ssize_t r;
	do
		r = sendmsg(sock, &m, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -1 : 0;
}

/* This thread's channel to the bridge, made on first use. */
static int get_chan(void)
{
	if (chan_fd >= 0)
		return chan_fd;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
		return -1;
	struct fpsim_ctl_msg m = { .op = FPSIM_CTL_NEWCHAN, .tid = gettid() };
	int r = send_with_fd(ctl_fd, &m, sizeof(m), sv[1]);
	close(sv[1]);
	if (r != 0) {
		close(sv[0]);
		return -1;
	}
	chan_fd = sv[0];
	pthread_setspecific(chan_key, (void *)(intptr_t)(chan_fd + 1));
	return chan_fd;
}

/* One request/response on this thread's channel. Returns the bridge's ret
 * (>= 0 or -errno); out (if any) receives up to outcap bytes. */
static int transact(const struct fpsim_chan_req *rq, const void *arg, int passfd, void *out,
		    size_t outcap, size_t *outlen)
{
	int ch = get_chan();
	if (ch < 0)
		return -EIO;
	uint8_t buf[sizeof(*rq) + MAX_ARG];
	memcpy(buf, rq, sizeof(*rq));
	if (rq->arglen)
		memcpy(buf + sizeof(*rq), arg, rq->arglen);
	if (send_with_fd(ch, buf, sizeof(*rq) + rq->arglen, passfd) != 0)
		return -EIO;
	ssize_t r;
	do
		r = recv(ch, buf, sizeof(buf), 0);
	while (r < 0 && errno == EINTR);
	struct fpsim_chan_resp resp;
	if (r < (ssize_t)sizeof(resp))
		return -EIO; /* the bridge is gone; we are about to be killed */
	memcpy(&resp, buf, sizeof(resp));
	size_t n = resp.outlen;
	if (n > (size_t)r - sizeof(resp))
		n = (size_t)r - sizeof(resp);
	if (n > outcap)
		n = outcap;
	if (out && n)
		memcpy(out, buf + sizeof(resp), n);
	if (outlen)
		*outlen = out ? n : 0;
	return resp.ret;
}

static int bridge_ioctl(int fd, int dev, unsigned long cmd, void *arg)
{
	size_t size = arg ? _IOC_SIZE(cmd) : 0;
	struct fpsim_chan_req rq = { .op = FPSIM_CHAN_IOCTL, .dev = dev, .cmd = (uint32_t)cmd,
				     .tid = gettid(), .argdev = -1, .arglen = (uint32_t)size };
	int passfd = -1;
	if (cmd == FPSIM_IOC_CLONE && arg) {
		/* The argument names the session fd to attach to; tell Node which
		 * of our devices that is (or -1: not a device, the kernel's EINVAL). */
		uint32_t master;
		memcpy(&master, arg, sizeof(master));
		rq.argdev = dev_of((int)master);
	} else if (cmd == FPSIM_IOC_BACKING_OPEN && arg) {
		/* The backing file travels with the request, as the kernel would
		 * fget() it: an fd that is not open goes without (Node says EBADF). */
		struct fpsim_backing_map map;
		memcpy(&map, arg, sizeof(map));
		if (fcntl(map.fd, F_GETFD) >= 0)
			passfd = map.fd;
	}
	(void)fd;
	size_t outlen = 0;
	int ret = transact(&rq, arg, passfd, (_IOC_DIR(cmd) & _IOC_READ) ? arg : NULL, size,
			   &outlen);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return ret;
}

EXPORT int ioctl(int fd, unsigned long cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (!__atomic_load_n(&real_ioctl, __ATOMIC_ACQUIRE))
		resolve();
	int dev = dev_of(fd);
	if (dev < 0)
		return real_ioctl(fd, cmd, arg);
	return bridge_ioctl(fd, dev, cmd, arg);
}

/* read(2) on a device: one whole message, or EINVAL if it does not fit. */
static ssize_t dev_read(int fd, void *buf, size_t n)
{
	int nonblock = fcntl(fd, F_GETFL) & O_NONBLOCK;
	for (;;) {
		/* Wait for a message without taking it (EINTR and EAGAIN go back
		 * to the caller, as from /dev/fuse). */
		ssize_t len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | (nonblock ? MSG_DONTWAIT : 0));
		if (len < 0)
			return -1;
		if (len == 0) {
			errno = ENODEV; /* the bridge hung up: the connection is gone */
			return -1;
		}
		pthread_mutex_lock(&read_lock);
		/* Another thread may have taken it meanwhile: look again. */
		len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (len < 0 && errno == EAGAIN) {
			pthread_mutex_unlock(&read_lock);
			if (nonblock)
				return -1;
			continue;
		}
		if (len > 0 && (size_t)len > n) {
			pthread_mutex_unlock(&read_lock);
			errno = EINVAL;
			return -1;
		}
		ssize_t r = len <= 0 ? len : recv(fd, buf, n, MSG_DONTWAIT);
		int e = errno;
		pthread_mutex_unlock(&read_lock);
		if (r == 0) {
			errno = ENODEV;
			return -1;
		}
		errno = e;
		return r;
	}
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (!__atomic_load_n(&real_ioctl, __ATOMIC_ACQUIRE))
		resolve();
	if (dev_of(fd) < 0)
		return real_read(fd, buf, n);
	return dev_read(fd, buf, n);
}

/* open("/dev/fuse"): a fresh device socket, registered with the bridge. */
static int open_dev(int flags)
{
	int type = SOCK_SEQPACKET | ((flags & O_CLOEXEC) ? SOCK_CLOEXEC : 0) |
		   ((flags & O_NONBLOCK) ? SOCK_NONBLOCK : 0);
	int sv[2];
	if (socketpair(AF_UNIX, type, 0, sv) != 0)
		return -1;
	int sz = 8 << 20;
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
		(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	struct fpsim_chan_req rq = { .op = FPSIM_CHAN_OPENDEV, .dev = -1, .tid = gettid(),
				     .argdev = -1 };
	int id = transact(&rq, NULL, sv[1], NULL, 0, NULL);
	close(sv[1]);
	if (id < 0) {
		close(sv[0]);
		errno = -id;
		return -1;
	}
	add_devent(sv[0], id);
	return sv[0];
}

static int is_dev_fuse(const char *path)
{
	return active && path && strcmp(path, "/dev/fuse") == 0;
}

#define MODE_ARG(flags)                                   \
	mode_t mode = 0;                                  \
	if (NEEDS_MODE(flags)) {                          \
		va_list ap;                               \
		va_start(ap, flags);                      \
		mode = (mode_t)va_arg(ap, unsigned int); \
		va_end(ap);                               \
	}

EXPORT int open(const char *path, int flags, ...)
{
	MODE_ARG(flags);
	resolve();
	if (is_dev_fuse(path))
		return open_dev(flags);
	return real_open(path, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	MODE_ARG(flags);
	resolve();
	if (is_dev_fuse(path))
		return open_dev(flags);
	return real_open64(path, flags, mode);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags);
	resolve();
	if (is_dev_fuse(path))
		return open_dev(flags);
	return real_openat(dirfd, path, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	MODE_ARG(flags);
	resolve();
	if (is_dev_fuse(path))
		return open_dev(flags);
	return real_openat64(dirfd, path, flags, mode);
}

/* The _FORTIFY_SOURCE entry points a server may be built against. */
EXPORT int __open_2(const char *path, int flags)
{
	resolve();
	return is_dev_fuse(path) ? open_dev(flags) : real___open_2(path, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	resolve();
	return is_dev_fuse(path) ? open_dev(flags) : real___open64_2(path, flags);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	resolve();
	return is_dev_fuse(path) ? open_dev(flags) : real___openat_2(dirfd, path, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	resolve();
	return is_dev_fuse(path) ? open_dev(flags) : real___openat64_2(dirfd, path, flags);
}
