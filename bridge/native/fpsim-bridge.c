/*
 * fpsim-bridge: runs an unmodified FUSE server binary with a socket where its
 * /dev/fuse would be, and relays everything it does to Node (the model kernel)
 * over stdin/stdout.
 *
 *   Node <-- frames on stdin/stdout --> fpsim-bridge <-- SOCK_SEQPACKET --> server
 *                                                    <-- per-thread channels -- shim
 *
 * Why a socket: libfuse (>= 3.17) treats a mountpoint of /dev/fd/N as an
 * already-open /dev/fuse and skips mount(2), then read(2)s requests from and
 * writev(2)s replies to fd N. A SOCK_SEQPACKET socket keeps the one thing
 * /dev/fuse guarantees that a stream would not: one message per read/write.
 * What a socket cannot do is answer the /dev/fuse ioctls (BACKING_OPEN,
 * BACKING_CLOSE, CLONE, SYNC_INIT): the kernel says ENOTTY. So the server runs
 * with fpsim-preload.so, which catches ioctl(2) on those fds and sends each
 * one here; the calling thread blocks until Node answers.
 *
 * What the bridge does:
 *   - forks the server in its own process group, with PR_SET_PDEATHSIG, fd 3
 *     = its end of the device socket, fd 4 = the control socket, stdout and
 *     stderr to a file, LD_PRELOAD = the shim; "{dev}" in argv -> /dev/fd/3;
 *   - relays every message the server writes on a device fd to Node (MSG),
 *     and every request Node delivers to the server (DELIVER), queueing
 *     without blocking so a slow reader on either side cannot deadlock it;
 *   - accepts per-thread channels from the shim (SCM_RIGHTS on the control
 *     socket), forwards each ioctl to Node (IOCTL) and Node's answer back;
 *   - for BACKING_OPEN, keeps the backing fd it was passed under a handle and
 *     describes it (fstat, F_GETFL, fstatfs, mount, path) so the model can
 *     reach the same file through /proc/<bridge pid>/fd/<k>;
 *   - creates a new device socket when the server opens /dev/fuse (libfuse's
 *     clone_fd), so FUSE_DEV_IOC_CLONE can work;
 *   - reports the server's exit (EXIT, with the tail of its stderr) and stays
 *     up, holding the backing files, until Node says STOP or goes away.
 *
 * It kills the server's whole process group on every way out: STOP, stdin
 * EOF, SIGTERM/SIGINT/SIGHUP, its parent dying (PR_SET_PDEATHSIG), and a
 * fatal error. If the bridge itself is SIGKILLed, the server's own
 * PR_SET_PDEATHSIG (SIGKILL) takes it down.
 *
 * Frames (all little-endian), both directions: a 16-byte header
 *   u32 len (payload bytes after the header), u16 type, u16 0, i32 a, i32 b
 * then len payload bytes.
 *
 *   Node -> bridge
 *     1 DELIVER       a=dev            payload: one FUSE request
 *     2 ANSWER        a=chan b=ret     payload: bytes copied back into the ioctl
 *                                      argument (for _IOC_READ ioctls), may be empty
 *     3 CLOSE_HANDLE  a=handle
 *     4 SIGNAL        a=signo          sent to the server's process group
 *     5 STOP                           kill the server, reap it, exit
 *   bridge -> Node
 *     0x81 HELLO      a=bridge pid b=server pid   payload: u32 dev fd in the server
 *     0x82 MSG        a=dev            payload: one message the server wrote
 *     0x83 IOCTL      a=chan b=dev     payload: see send_ioctl_event()
 *     0x84 EXIT       a=exit code or -1, b=signal or 0   payload: stderr tail
 *
 * Usage: fpsim-bridge --preload SHIM.so [--stderr FILE] -- SERVER ARGS...
 * Environment: FPSIM_BRIDGE_PARENT=<pid of Node> (checked after PDEATHSIG);
 * FPSIM_NO_ASLR (any value): run the server without address randomisation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fpsim-bridge.h"

enum {
	F_DELIVER = 1,
	F_ANSWER = 2,
	F_CLOSE_HANDLE = 3,
	F_SIGNAL = 4,
	F_STOP = 5,
	F_HELLO = 0x81,
	F_MSG = 0x82,
	F_IOCTL = 0x83,
	F_EXIT = 0x84,
};

struct frame_hdr {
	uint32_t len;
	uint16_t type;
	uint16_t zero;
	int32_t a;
	int32_t b;
};

/* /dev/fuse messages are at most max_write (libfuse: 1 MiB) plus headers;
 * leave room for bigger max_pages settings. */
#define MAX_MSG (16u << 20)
/* Socket buffers: a unix SOCK_SEQPACKET message must fit in the sender's
 * SO_SNDBUF, and the default (~208 KiB) is smaller than a 1 MiB WRITE. */
#define SOCK_BUF (8 << 20)
#define STDERR_TAIL 4096

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fpsim-bridge: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* ------------------------------------------------------------------ state */

struct outbuf {
	struct outbuf *next;
	size_t len;
	uint8_t data[];
};

/* A device: the bridge's end of a socket the server uses as /dev/fuse. */
struct dev {
	int id;
	int fd;                    /* -1 once the server side hung up */
	struct outbuf *q, *qtail;  /* requests waiting for room in the socket */
};

/* A per-thread channel from the shim: one blocked ioctl at a time. */
struct chan {
	int id;
	int fd;
	int tid;
	bool pending; /* an ioctl event went to Node and awaits ANSWER */
};

struct handle {
	int id;
	int fd;
};

static struct dev *devs;
static int ndevs, capdevs;
static struct chan *chans;
static int nchans, capchans, next_chan_id = 1;
static struct handle *handles;
static int nhandles, caphandles, next_handle_id = 1;

static int ctl_fd = -1;    /* bridge end of the control socket */
static int sig_fd = -1;    /* signalfd: SIGCHLD, SIGTERM, SIGINT, SIGHUP */
static int stderr_fd = -1; /* the server's stdout+stderr file (read for the tail) */
static pid_t server_pid = -1;
static bool server_reaped = false;
static bool exit_sent = false;
static bool node_gone = false; /* stdout broken: nobody to report to */
static bool node_left = false; /* Node went without STOP: the orphan tree is ours to remove */

static uint8_t *inbuf; /* frames from Node not yet complete */
static size_t inlen, incap;
static uint8_t *msgbuf; /* one packet from a device */

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		logf_("out of memory");
		abort();
	}
	return q;
}

#define GROW(arr, n, cap)                                                    \
	do {                                                                 \
		if ((n) == (cap)) {                                          \
			(cap) = (cap) ? (cap) * 2 : 8;                      \
			(arr) = xrealloc((arr), sizeof(*(arr)) * (size_t)(cap)); \
		}                                                            \
	} while (0)

static void set_bufs(int fd)
{
	int sz = SOCK_BUF;
	/* SO_*BUFFORCE ignores net.core.[rw]mem_max; it needs CAP_NET_ADMIN. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

static int add_dev(int fd)
{
	GROW(devs, ndevs, capdevs);
	struct dev *d = &devs[ndevs];
	d->id = ndevs;
	d->fd = fd;
	d->q = d->qtail = NULL;
	set_bufs(fd);
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return ndevs++;
}

static struct chan *find_chan(int id)
{
	for (int i = 0; i < nchans; i++)
		if (chans[i].id == id)
			return &chans[i];
	return NULL;
}

static void drop_chan(int idx)
{
	close(chans[idx].fd);
	chans[idx] = chans[--nchans];
}

/* ------------------------------------------------------- output to Node */

/* Writes a frame with one writev when the pipe has room (the usual case),
 * finishing any rest in a loop. Blocking: if Node is slow to read, the bridge
 * waits, and the server's messages wait in their sockets meanwhile. */
static void write_frame(struct iovec *iov, int n)
{
	while (n > 0 && !node_gone) {
		ssize_t w = writev(1, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = 1, .events = POLLOUT };
				(void)poll(&pfd, 1, -1);
				continue;
			}
			node_gone = node_left = true; /* EPIPE: Node is gone; the exit path follows */
			return;
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
}

static void send_frame(int type, int32_t a, int32_t b, const void *p1, size_t n1,
		       const void *p2, size_t n2)
{
	struct frame_hdr h = { .len = (uint32_t)(n1 + n2), .type = (uint16_t)type, .a = a, .b = b };
	struct iovec iov[3] = { { &h, sizeof(h) }, { (void *)p1, n1 }, { (void *)p2, n2 } };
	write_frame(iov, 3);
}

/* -------------------------------------------------------- server exit */

static void stderr_tail(uint8_t *buf, size_t *n)
{
	*n = 0;
	if (stderr_fd < 0)
		return;
	struct stat st;
	if (fstat(stderr_fd, &st) != 0)
		return;
	off_t off = st.st_size > STDERR_TAIL ? st.st_size - STDERR_TAIL : 0;
	ssize_t r = pread(stderr_fd, buf, STDERR_TAIL, off);
	if (r > 0)
		*n = (size_t)r;
}

static void kill_group(void)
{
	/* The server leads its own process group (setpgid in the child), so this
	 * reaches every thread and any process it forked. */
	if (server_pid > 0 && !server_reaped)
		(void)kill(-server_pid, SIGKILL);
}

static void report_exit(int status)
{
	if (exit_sent)
		return;
	exit_sent = true;
	uint8_t tail[STDERR_TAIL];
	size_t n;
	stderr_tail(tail, &n);
	int code = -1, sig = 0;
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	send_frame(F_EXIT, code, sig, tail, n, NULL, 0);
}

static void drain_all(void);

/* The server is gone: relay everything it wrote before dying (still queued
 * in the sockets), then report its exit, so EXIT is always the last event
 * about the server. */
static void server_done(int status)
{
	server_reaped = true;
	drain_all();
	report_exit(status);
}

/* Reaps children. The server is checked with WNOWAIT first: while it is a
 * zombie its pid (= its process group id) cannot be reused, so killing the
 * group then reaches only its own leftovers (processes it forked, which we
 * would otherwise inherit as their subreaper). */
static void reap(void)
{
	if (server_pid > 0 && !server_reaped) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)server_pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == server_pid) {
			int status = 0;
			(void)kill(-server_pid, SIGKILL);
			(void)waitpid(server_pid, &status, 0);
			server_done(status);
		}
	}
	int status;
	pid_t p;
	while ((p = waitpid(-1, &status, WNOHANG)) > 0)
		if (p == server_pid && !server_reaped)
			server_done(status); /* died between the two checks */
}

/* FPSIM_BRIDGE_ORPHAN_TREE: a directory Node made for this server (its source tree) and
 * removes itself after a normal STOP. If Node goes away without STOP (killed: stdin EOF, or
 * PR_SET_PDEATHSIG's SIGTERM), nobody else is left to remove it, so the bridge does, once the
 * server is gone. Only a directory named fpsim-srv-* is ever removed. */
static const char *orphan_tree;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		(void)rmdir(path);
	else
		(void)unlink(path);
	return 0;
}

static void remove_orphan_tree(void)
{
	if (!orphan_tree || orphan_tree[0] != '/')
		return;
	const char *base = strrchr(orphan_tree, '/') + 1;
	if (strncmp(base, "fpsim-srv-", 10) != 0)
		return;
	(void)nftw(orphan_tree, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Every way out goes through here. */
static void shutdown_and_exit(int rc) __attribute__((noreturn));
static void shutdown_and_exit(int rc)
{
	if (server_pid > 0 && !server_reaped) {
		kill_group();
		/* SIGKILL cannot be caught; give the kernel a moment to tear the
		 * server down (a thread in D state may take a while), then go. */
		for (int i = 0; i < 300 && !server_reaped; i++) {
			reap();
			if (!server_reaped) {
				struct timespec ts = { 0, 10 * 1000 * 1000 };
				nanosleep(&ts, NULL);
			}
		}
	}
	if (node_left)
		remove_orphan_tree();
	exit(rc);
}

/* ------------------------------------------------ device traffic (server) */

/* Reads one message the server wrote on a device and relays it. Returns
 * false when nothing was read (EAGAIN) or the server side is gone. */
static bool read_dev(struct dev *d)
{
	if (d->fd < 0)
		return false;
	ssize_t r = recv(d->fd, msgbuf, MAX_MSG, MSG_DONTWAIT | MSG_TRUNC);
	if (r < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return false;
		logf_("dev %d: recv: %s", d->id, strerror(errno));
		r = 0;
	}
	if (r == 0) {
		/* EOF: every copy of the server's end is closed. */
		close(d->fd);
		d->fd = -1;
		return false;
	}
	if ((size_t)r > MAX_MSG) {
		logf_("dev %d: dropped a %zd-byte message (limit %u)", d->id, r, MAX_MSG);
		return true;
	}
	send_frame(F_MSG, d->id, 0, msgbuf, (size_t)r, NULL, 0);
	return true;
}

/* Sends queued requests while the socket has room. */
static void flush_dev(struct dev *d)
{
	while (d->q) {
		struct outbuf *o = d->q;
		if (d->fd >= 0) {
			ssize_t w = send(d->fd, o->data, o->len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && (errno == EAGAIN || errno == EINTR))
				return;
			if (w < 0)
				logf_("dev %d: dropped a request: send: %s", d->id, strerror(errno));
		} else {
			logf_("dev %d: dropped a request: the server closed this device", d->id);
		}
		d->q = o->next;
		if (!d->q)
			d->qtail = NULL;
		free(o);
	}
}

static void deliver(int devid, const uint8_t *p, size_t n)
{
	if (devid < 0 || devid >= ndevs) {
		logf_("DELIVER to unknown dev %d dropped", devid);
		return;
	}
	struct dev *d = &devs[devid];
	struct outbuf *o = xrealloc(NULL, sizeof(*o) + n);
	o->next = NULL;
	o->len = n;
	memcpy(o->data, p, n);
	if (d->qtail)
		d->qtail->next = o;
	else
		d->q = o;
	d->qtail = o;
	flush_dev(d);
}

/* ------------------------------------------------------ backing fd info */

/* The mount's filesystem type as /proc/self/mountinfo names it ("ext4",
 * "tmpfs", "devtmpfs", "overlay", "fuse.passthrough_hp"...), which tells apart
 * filesystems that share an f_type magic (tmpfs and devtmpfs). Empty for
 * kernel-internal mounts (sockfs, pipefs, anon_inodefs), which have none. */
static int mount_info(int fd, char *fstype, size_t cap)
{
	char path[64], line[4096];
	int mnt_id = -1;
	fstype[0] = 0;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %d", &mnt_id) == 1)
			break;
	fclose(f);
	if (mnt_id < 0)
		return -1;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return mnt_id;
	while (fgets(line, sizeof(line), f)) {
		int id;
		if (sscanf(line, "%d", &id) != 1 || id != mnt_id)
			continue;
		/* "... - fstype source options": the type follows " - ". */
		char *sep = strstr(line, " - ");
		if (sep) {
			char *t = sep + 3, *e = strchr(t, ' ');
			size_t n = e ? (size_t)(e - t) : strlen(t);
			if (n >= cap)
				n = cap - 1;
			memcpy(fstype, t, n);
			fstype[n] = 0;
		}
		break;
	}
	fclose(f);
	return mnt_id;
}

/* Fixed part of the file description inside an IOCTL event. */
struct file_info {
	int32_t handle;
	uint32_t mode;      /* st_mode: kind and permissions */
	uint32_t oflags;    /* fcntl(F_GETFL): access mode, O_APPEND, O_DIRECT, O_PATH... */
	int32_t mnt_id;
	uint64_t st_dev;
	uint64_t st_ino;
	int64_t size;
	uint64_t f_type;    /* fstatfs magic */
	uint32_t pathlen;   /* readlink(/proc/self/fd/k) */
	uint32_t procpathlen; /* /proc/<bridge pid>/fd/<k> */
	uint32_t fstypelen; /* mountinfo's filesystem type */
	uint32_t pad;
	/* then the three strings, not NUL-terminated */
};

static size_t describe_fd(int fd, int handle, uint8_t *out, size_t cap)
{
	struct file_info fi = { .handle = handle, .mnt_id = -1 };
	struct stat st;
	struct statfs sfs;
	char path[PATH_MAX], procpath[64], link[64], fstype[256];
	if (fstat(fd, &st) == 0) {
		fi.mode = st.st_mode;
		fi.st_dev = st.st_dev;
		fi.st_ino = st.st_ino;
		fi.size = st.st_size;
	}
	int fl = fcntl(fd, F_GETFL);
	fi.oflags = fl < 0 ? 0 : (uint32_t)fl;
	if (fstatfs(fd, &sfs) == 0)
		fi.f_type = (uint64_t)sfs.f_type;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t pl = readlink(link, path, sizeof(path));
	if (pl < 0)
		pl = 0;
	snprintf(procpath, sizeof(procpath), "/proc/%d/fd/%d", (int)getpid(), fd);
	fi.mnt_id = mount_info(fd, fstype, sizeof(fstype));
	fi.pathlen = (uint32_t)pl;
	fi.procpathlen = (uint32_t)strlen(procpath);
	fi.fstypelen = (uint32_t)strlen(fstype);
	size_t need = sizeof(fi) + fi.pathlen + fi.procpathlen + fi.fstypelen;
	if (need > cap)
		return 0;
	uint8_t *p = out;
	memcpy(p, &fi, sizeof(fi));
	p += sizeof(fi);
	memcpy(p, path, fi.pathlen);
	p += fi.pathlen;
	memcpy(p, procpath, fi.procpathlen);
	p += fi.procpathlen;
	memcpy(p, fstype, fi.fstypelen);
	return need;
}

/* --------------------------------------------------- shim channels */

/* Receives one packet and at most one fd (marked close-on-exec). */
static ssize_t recv_with_fd(int fd, void *buf, size_t cap, int *rfd)
{
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int))];
	} c;
	struct iovec iov = { buf, cap };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b,
			    .msg_controllen = sizeof(c.b) };
	*rfd = -1;
	ssize_t r;
	do
		r = recvmsg(fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return r;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
		if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
			int n = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			int *fds = (int *)CMSG_DATA(h);
			for (int i = 0; i < n; i++) {
				if (*rfd < 0)
					*rfd = fds[i];
				else
					close(fds[i]); /* never more than one is sent */
			}
		}
	}
	if (m.msg_flags & MSG_CTRUNC)
		logf_("control data truncated (fd limit?)");
	return r;
}

static void answer_chan(struct chan *c, int32_t ret, const void *out, uint32_t outlen)
{
	struct fpsim_chan_resp r = { .ret = ret, .outlen = outlen };
	uint8_t buf[sizeof(r) + 16384];
	if (outlen > sizeof(buf) - sizeof(r))
		r.outlen = outlen = sizeof(buf) - sizeof(r);
	memcpy(buf, &r, sizeof(r));
	if (outlen)
		memcpy(buf + sizeof(r), out, outlen);
	/* The thread is blocked in recv on the other end; this cannot block for
	 * long. A dead thread (EPIPE) just loses its answer. */
	if (send(c->fd, buf, sizeof(r) + outlen, MSG_NOSIGNAL) < 0)
		logf_("chan %d: answer lost: %s", c->id, strerror(errno));
	c->pending = false;
}

/* The IOCTL event's payload:
 *   u32 cmd, i32 argdev, i32 tid, u32 arglen, u32 infolen, u32 0,
 *   arg[arglen], info[infolen] (struct file_info + strings; only for a
 *   BACKING_OPEN that carried an fd). */
static void send_ioctl_event(struct chan *c, const struct fpsim_chan_req *rq,
			     const uint8_t *arg, int backing_fd)
{
	uint8_t info[sizeof(struct file_info) + PATH_MAX + 64 + 256];
	size_t infolen = 0;
	if (backing_fd >= 0) {
		GROW(handles, nhandles, caphandles);
		int h = next_handle_id++;
		handles[nhandles++] = (struct handle){ .id = h, .fd = backing_fd };
		infolen = describe_fd(backing_fd, h, info, sizeof(info));
	}
	uint32_t head[6] = { rq->cmd, (uint32_t)rq->argdev, (uint32_t)rq->tid, rq->arglen,
			     (uint32_t)infolen, 0 };
	uint8_t hb[sizeof(head) + 16384];
	memcpy(hb, head, sizeof(head));
	memcpy(hb + sizeof(head), arg, rq->arglen);
	c->pending = true;
	send_frame(F_IOCTL, c->id, rq->dev, hb, sizeof(head) + rq->arglen, info, infolen);
}

/* One request from a shim thread. Returns false when the channel is gone. */
static bool read_chan(int idx)
{
	struct chan *c = &chans[idx];
	uint8_t buf[sizeof(struct fpsim_chan_req) + 16384];
	int rfd;
	ssize_t r = recv_with_fd(c->fd, buf, sizeof(buf), &rfd);
	if (r < 0 && errno == EAGAIN)
		return true;
	if (r <= 0) {
		/* The thread exited (the shim's key destructor closed its end) or
		 * the server died. */
		if (c->pending)
			c->pending = false; /* Node's later ANSWER finds no chan: logged */
		drop_chan(idx);
		return false;
	}
	struct fpsim_chan_req rq;
	if ((size_t)r < sizeof(rq)) {
		logf_("chan %d: short request (%zd bytes)", c->id, r);
		if (rfd >= 0)
			close(rfd);
		return true;
	}
	memcpy(&rq, buf, sizeof(rq));
	if (rq.arglen > (size_t)r - sizeof(rq))
		rq.arglen = (uint32_t)((size_t)r - sizeof(rq));
	c->tid = rq.tid;
	switch (rq.op) {
	case FPSIM_CHAN_OPENDEV:
		/* open("/dev/fuse") in the server: a new, unattached device. The
		 * kernel would hand out a fresh file too; whether it is attached to
		 * the connection is decided by the CLONE ioctl, i.e. by Node. */
		if (rfd < 0) {
			answer_chan(c, -EIO, NULL, 0);
			return true;
		}
		answer_chan(c, add_dev(rfd), NULL, 0);
		return true;
	case FPSIM_CHAN_IOCTL:
		if (c->pending)
			logf_("chan %d: new ioctl while one is pending", c->id);
		send_ioctl_event(c, &rq, buf + sizeof(rq), rfd);
		return true;
	default:
		logf_("chan %d: unknown op %u", c->id, rq.op);
		if (rfd >= 0)
			close(rfd);
		answer_chan(c, -EINVAL, NULL, 0);
		return true;
	}
}

/* A new channel from the shim on the control socket. Returns false when
 * there was nothing to read (or the socket is gone). */
static bool read_ctl(void)
{
	struct fpsim_ctl_msg m;
	int rfd;
	if (ctl_fd < 0)
		return false;
	ssize_t r = recv_with_fd(ctl_fd, &m, sizeof(m), &rfd);
	if (r < 0 && errno == EAGAIN)
		return false;
	if (r <= 0) {
		close(ctl_fd); /* every server copy is closed */
		ctl_fd = -1;
		return false;
	}
	if ((size_t)r < sizeof(m) || m.op != FPSIM_CTL_NEWCHAN || rfd < 0) {
		logf_("bad control message");
		if (rfd >= 0)
			close(rfd);
		return true;
	}
	GROW(chans, nchans, capchans);
	chans[nchans++] = (struct chan){ .id = next_chan_id++, .fd = rfd, .tid = m.tid };
	return true;
}

/* Everything the server wrote before it died, in order per socket. */
static void drain_all(void)
{
	while (read_ctl())
		;
	for (int i = 0; i < ndevs; i++)
		while (read_dev(&devs[i]))
			;
	for (int i = 0; i < nchans;)
		if (read_chan(i))
			i++;
}

/* ------------------------------------------------------ frames from Node */

static void handle_frame(const struct frame_hdr *h, const uint8_t *p)
{
	switch (h->type) {
	case F_DELIVER:
		deliver(h->a, p, h->len);
		break;
	case F_ANSWER: {
		struct chan *c = find_chan(h->a);
		if (!c || !c->pending) {
			logf_("ANSWER for chan %d, which has no pending ioctl: dropped", h->a);
			break;
		}
		answer_chan(c, h->b, p, h->len);
		break;
	}
	case F_CLOSE_HANDLE:
		for (int i = 0; i < nhandles; i++) {
			if (handles[i].id == h->a) {
				close(handles[i].fd);
				handles[i] = handles[--nhandles];
				return;
			}
		}
		logf_("CLOSE_HANDLE %d: no such handle", h->a);
		break;
	case F_SIGNAL:
		if (server_pid > 0 && !server_reaped)
			(void)kill(-server_pid, h->a);
		break;
	case F_STOP:
		shutdown_and_exit(0);
	default:
		logf_("unknown frame type %u: stopping", h->type);
		shutdown_and_exit(2);
	}
}

static void read_stdin(void)
{
	if (incap - inlen < 65536) {
		incap = incap ? incap * 2 : 1 << 20;
		inbuf = xrealloc(inbuf, incap);
	}
	ssize_t r = read(0, inbuf + inlen, incap - inlen);
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		node_left = true;
		shutdown_and_exit(0); /* Node went away (or closed our stdin) */
	}
	inlen += (size_t)r;
	size_t off = 0;
	while (inlen - off >= sizeof(struct frame_hdr)) {
		struct frame_hdr h;
		memcpy(&h, inbuf + off, sizeof(h));
		if (h.len > MAX_MSG) {
			logf_("frame of %u bytes from Node: stopping", h.len);
			shutdown_and_exit(2);
		}
		if (inlen - off < sizeof(h) + h.len)
			break;
		handle_frame(&h, inbuf + off + sizeof(h));
		off += sizeof(h) + h.len;
	}
	memmove(inbuf, inbuf + off, inlen - off);
	inlen -= off;
}

/* ------------------------------------------------------ starting the server */

static char *subst_dev(const char *arg)
{
	const char *at = strstr(arg, "{dev}");
	if (!at)
		return strdup(arg);
	char dev[32];
	snprintf(dev, sizeof(dev), "/dev/fd/%d", FPSIM_DEV_FD);
	size_t n = strlen(arg) - 5 + strlen(dev) + 1;
	char *s = xrealloc(NULL, n);
	snprintf(s, n, "%.*s%s%s", (int)(at - arg), arg, dev, at + 5);
	return s;
}

static void child(char **argv, const char *preload, int dev_end, int ctl_end,
		  pid_t bridge, const sigset_t *oldmask)
{
	/* Own process group, so the bridge can kill it and everything it forks. */
	setpgid(0, 0);
	/* Die with the bridge, even if the bridge is SIGKILLed. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != bridge)
		_exit(127);
	/* Undo what the bridge set up for itself: blocked signals and ignored
	 * SIGPIPE would both survive exec. */
	signal(SIGPIPE, SIG_DFL);
	sigprocmask(SIG_SETMASK, oldmask, NULL);

	int nul = open("/dev/null", O_RDONLY);
	if (nul >= 0 && nul != 0) {
		dup2(nul, 0);
		close(nul);
	}
	dup2(stderr_fd, 1);
	dup2(stderr_fd, 2);
	/* Move the two sockets out of the way, then to their fixed numbers
	 * (dup2 clears close-on-exec on the copy). */
	int d = fcntl(dev_end, F_DUPFD_CLOEXEC, 100), c = fcntl(ctl_end, F_DUPFD_CLOEXEC, 100);
	if (d < 0 || c < 0 || dup2(d, FPSIM_DEV_FD) < 0 || dup2(c, FPSIM_CTL_FD) < 0) {
		fprintf(stderr, "fpsim-bridge: fd setup: %s\n", strerror(errno));
		_exit(127);
	}
	/* Nothing else of the bridge's leaks into the server. */
	syscall(SYS_close_range, FPSIM_CTL_FD + 1, ~0U, 0);

	char num[16];
	snprintf(num, sizeof(num), "%d", FPSIM_DEV_FD);
	setenv(FPSIM_ENV_DEV_FD, num, 1);
	snprintf(num, sizeof(num), "%d", FPSIM_CTL_FD);
	setenv(FPSIM_ENV_CTL_FD, num, 1);
	const char *old = getenv("LD_PRELOAD");
	if (old && *old) {
		size_t n = strlen(preload) + strlen(old) + 2;
		char *s = xrealloc(NULL, n);
		snprintf(s, n, "%s:%s", preload, old);
		setenv("LD_PRELOAD", s, 1);
	} else {
		setenv("LD_PRELOAD", preload, 1);
	}
	unsetenv("FPSIM_BRIDGE_PARENT");
	/* FPSIM_NO_ASLR set: the server runs without address randomisation
	 * (personality ADDR_NO_RANDOMIZE, inherited across exec), so a server
	 * whose answers carry addresses (libfuse's nodeids are pointers) answers
	 * a replayed program with the same bytes every time. */
	if (getenv("FPSIM_NO_ASLR")) {
		int pers = personality(0xffffffff);
		if (pers != -1)
			personality((unsigned long)pers | ADDR_NO_RANDOMIZE);
		unsetenv("FPSIM_NO_ASLR");
	}

	int argc = 0;
	while (argv[argc])
		argc++;
	char **av = xrealloc(NULL, sizeof(char *) * (size_t)(argc + 1));
	for (int i = 0; i < argc; i++)
		av[i] = subst_dev(argv[i]);
	av[argc] = NULL;
	execvp(av[0], av);
	fprintf(stderr, "fpsim-bridge: exec %s: %s\n", av[0], strerror(errno));
	_exit(127);
}

int main(int argc, char **argv)
{
	const char *preload = NULL, *stderr_path = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--preload") && i + 1 < argc)
			preload = argv[++i];
		else if (!strcmp(argv[i], "--stderr") && i + 1 < argc)
			stderr_path = argv[++i];
		else if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else {
			logf_("unknown option %s", argv[i]);
			return 2;
		}
	}
	if (!preload || i >= argc) {
		logf_("usage: fpsim-bridge --preload SHIM.so [--stderr FILE] -- SERVER ARGS...");
		return 2;
	}

	/* Signals arrive through a signalfd in the poll loop, never
	 * asynchronously: each one ends in the same orderly exit path. */
	sigset_t mask, oldmask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, &oldmask);
	sig_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	signal(SIGPIPE, SIG_IGN);

	/* Die with Node: SIGTERM (handled above) when the parent goes. If it is
	 * already gone, our parent is no longer the pid Node gave us. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	orphan_tree = getenv("FPSIM_BRIDGE_ORPHAN_TREE");
	const char *parent = getenv("FPSIM_BRIDGE_PARENT");
	if (parent && atoi(parent) != getppid())
		return 1;
	/* Orphaned descendants of the server are reparented to us, not init. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	if (stderr_path) {
		stderr_fd = open(stderr_path, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
	} else {
		const char *tmp = getenv("TMPDIR");
		stderr_fd = open(tmp && *tmp ? tmp : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (stderr_fd < 0) /* no O_TMPFILE there: keep the tail anyway */
			stderr_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	}
	if (stderr_fd < 0) {
		logf_("cannot open the server's stderr file: %s", strerror(errno));
		return 1;
	}

	int devsv[2], ctlsv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, devsv) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctlsv) != 0) {
		logf_("socketpair: %s", strerror(errno));
		return 1;
	}
	set_bufs(devsv[1]);
	msgbuf = xrealloc(NULL, MAX_MSG);

	pid_t self = getpid();
	server_pid = fork();
	if (server_pid < 0) {
		logf_("fork: %s", strerror(errno));
		return 1;
	}
	if (server_pid == 0)
		child(argv + i, preload, devsv[1], ctlsv[1], self, &oldmask);
	/* Also from here, so a kill(-pgid) right away cannot miss. */
	setpgid(server_pid, server_pid);
	close(devsv[1]);
	close(ctlsv[1]);
	add_dev(devsv[0]);
	ctl_fd = ctlsv[0];
	(void)fcntl(ctl_fd, F_SETFL, fcntl(ctl_fd, F_GETFL) | O_NONBLOCK);

	uint32_t devfd = FPSIM_DEV_FD;
	send_frame(F_HELLO, (int32_t)self, (int32_t)server_pid, &devfd, sizeof(devfd), NULL, 0);

	struct pollfd *pfd = NULL;
	int cappfd = 0;
	for (;;) {
		if (node_gone)
			shutdown_and_exit(1);
		int want = 3 + ndevs + nchans;
		if (want > cappfd) {
			cappfd = want * 2;
			pfd = xrealloc(pfd, sizeof(*pfd) * (size_t)cappfd);
		}
		int n = 0;
		pfd[n++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		pfd[n++] = (struct pollfd){ .fd = ctl_fd, .events = POLLIN }; /* -1: ignored */
		int dev0 = n;
		for (int k = 0; k < ndevs; k++)
			pfd[n++] = (struct pollfd){ .fd = devs[k].fd,
						    .events = (short)(POLLIN | (devs[k].q ? POLLOUT : 0)) };
		int chan0 = n;
		for (int k = 0; k < nchans; k++)
			pfd[n++] = (struct pollfd){ .fd = chans[k].fd, .events = POLLIN };
		int pn = nchans;
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			logf_("poll: %s", strerror(errno));
			shutdown_and_exit(1);
		}

		/* Server traffic first, so a reply and the server's exit are seen
		 * in the order they happened. */
		for (int k = 0; k < ndevs; k++) {
			short re = pfd[dev0 + k].revents;
			if (re & POLLOUT)
				flush_dev(&devs[k]);
			if (re & (POLLIN | POLLHUP | POLLERR))
				read_dev(&devs[k]);
		}
		if (pfd[2].revents)
			read_ctl();
		/* Channels by id: drop_chan reorders the array. */
		int ids[pn > 0 ? pn : 1];
		for (int k = 0; k < pn; k++)
			ids[k] = pfd[chan0 + k].revents ? chans[k].id : 0;
		for (int k = 0; k < pn; k++) {
			if (!ids[k])
				continue;
			for (int j = 0; j < nchans; j++)
				if (chans[j].id == ids[k]) {
					read_chan(j);
					break;
				}
		}
		if (pfd[1].revents) {
			struct signalfd_siginfo si;
			while (read(sig_fd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					reap();
				else {
					node_left = true; /* SIGTERM: PDEATHSIG, Node died */
					shutdown_and_exit(128 + (int)si.ssi_signo);
				}
			}
		}
		if (pfd[0].revents)
			read_stdin();
	}
}
