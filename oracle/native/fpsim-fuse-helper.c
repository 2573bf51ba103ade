/*
 * fpsim-fuse-helper: the smallest native piece the fpsim oracle needs.
 *
 * Node cannot open /dev/fuse, call mount(2) or issue the passthrough ioctls,
 * so this program does exactly that and nothing more:
 *   1. cleans stale mounts left under MOUNT_PARENT by killed helpers,
 *   2. creates its own private directory with mkdtemp (the only place it will
 *      ever mount: there is deliberately no mountpoint argument),
 *   3. opens /dev/fuse and mounts a "fuse.fpsim" filesystem there,
 *   4. relays raw FUSE messages between /dev/fuse and stdin/stdout,
 *   5. runs a few control operations (backing open/close, open/close a file),
 *   6. lazily unmounts and removes its directory when it ends: on stdin EOF,
 *      on SIGINT/SIGTERM/SIGHUP, or when its parent dies (PR_SET_PDEATHSIG).
 *      When the kernel says the device is gone (unmounted or aborted) it says
 *      so ('D') and keeps serving control frames: the backing ioctls work on
 *      an aborted connection, and a server may still issue them.
 *
 * With --keeper it mounts no FUSE filesystem: it mounts a private tmpfs on
 * its directory instead and, on request ('K'), other filesystems (overlays,
 * read-only bind mounts) below it. They go with it: one lazy unmount of the
 * directory detaches the whole tree, however the helper ends.
 *
 * Framing on stdin/stdout: u32 little-endian payload length, u8 kind, payload.
 *
 *   helper -> node:
 *     'M' mountpoint path (first frame)
 *     'Q' one raw request as read from /dev/fuse
 *     'R' result of one control frame: i64 (value or -errno), in order
 *     'E' a reply write failed: i32 errno, then up to 16 bytes of the reply
 *     'D' /dev/fuse reported ENODEV/ECONNABORTED (unmounted/aborted); control
 *         frames keep working until stdin closes
 *   node -> helper:
 *     'W' raw reply/notification bytes to write to /dev/fuse (no result)
 *     'B' BACKING_OPEN on a helper fd: i32 fd, u32 flags, u64 padding
 *     'P' BACKING_OPEN on a path: i32 oflags, u32 flags, u64 padding, path
 *     'C' BACKING_CLOSE: i32 id
 *     'O' open a file in the helper: i32 oflags, path -> fd
 *     'X' close a file opened by 'O', 'S' or 'Y': i32 fd; or the helper's own
 *         /dev/fuse (the server closes its device: 'D' follows at once)
 *     'U' unmount now (MNT_DETACH) and remove the directory
 *     'I' ioctl on /dev/fuse with no argument (NULL): u32 cmd -> 0 or -errno
 *     'A' i32 on: raise (1) or drop (0) CAP_SYS_ADMIN in the effective set (a
 *         server without it: the backing ioctls then fail with EPERM)
 *     'K' mount below the directory: u32 mount flags, then four NUL-terminated
 *         strings: fstype, source, target (must lie strictly inside the
 *         helper's directory; created if missing), data
 *     'G' the fd number of the helper's own /dev/fuse (the server's $devfd)
 *     'V' ioctl on a /dev/fuse fd: i32 fd (the helper's own, or one 'O' opened),
 *         u32 cmd, then the argument's bytes (none: a NULL argument) -> result
 *     'S' socket(AF_UNIX, SOCK_STREAM), bound to the path that follows if any -> fd
 *     'Y' pipe(2) -> read end | write end << 16
 *     'F' fork a child process (the server's child: it shares every open file,
 *         /dev/fuse included) -> its index; it runs control frames sent with 'T'
 *     'T' u32 child index, u8 kind, payload: that control frame, run by the child
 *         (its result, or -ETIMEDOUT when it takes over 5 s)
 *
 * Options: --default-permissions, --allow-other (mount options), --keeper,
 * --newns, --ns PID.
 *
 * Mount namespaces (what the oracle uses, so that no kill can leave a mount):
 *   --keeper --newns: after cleaning stale mounts in the host namespace, the
 *     keeper unshares a mount namespace of its own (everything MS_PRIVATE),
 *     mounts a tmpfs on /tmp there and makes its directory inside it. Nothing
 *     is created in the host's /tmp, and when the namespace's last process
 *     dies the kernel unmounts everything in it, however the processes died.
 *   --ns PID: join the mount namespace of process PID (a keeper) with setns
 *     before anything else, and mount there. The host sees none of it; node
 *     reaches the files through /proc/<keeper pid>/root.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define MOUNT_PARENT "/tmp/fpsim-mounts"
/* /proc/PID/comm keeps 15 characters; used to tell a live helper from a
 * recycled pid when cleaning stale directories. */
#define HELPER_COMM "fpsim-fuse-help"

/* The system <linux/fuse.h> predates passthrough, so define what we use. */
struct backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define IOC_BACKING_OPEN 0x4010e501UL  /* _IOW(229, 1, struct backing_map) */
#define IOC_BACKING_CLOSE 0x4004e502UL /* _IOW(229, 2, uint32_t) */

/* The kernel refuses reads smaller than header + fuse_write_in + max_write;
 * 1 MiB covers max_write up to 256 pages, plus room for headers/xattrs. */
#define FUSE_BUF_SIZE ((1u << 20) + (64u << 10))
#define MAX_FRAME (2u << 20)
#define MAX_OPEN_FDS 1024

static char mnt[sizeof(MOUNT_PARENT) + 32];
static int have_dir, mounted, fuse_fd = -1, keeper, device_gone, is_child;
#define MAX_CHILDREN 8
static pid_t child_pid[MAX_CHILDREN];
static int child_sock[MAX_CHILDREN], nchildren;
static volatile sig_atomic_t got_signal;
static unsigned char opened_fd[MAX_OPEN_FDS]; /* fds created by 'O' */

static void on_signal(int sig) { got_signal = sig; }

/* Join the mount namespace of process pid (setns needs a single-threaded
 * caller: this program is). */
static int join_ns(const char *pid)
{
	char path[64];
	int fd;
	char *end;
	long n = strtol(pid, &end, 10);
	if (*pid == 0 || *end != 0 || n <= 0)
		return errno = EINVAL, -1;
	snprintf(path, sizeof path, "/proc/%ld/ns/mnt", n);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (setns(fd, CLONE_NEWNS) == -1) {
		int e = errno;
		close(fd);
		return errno = e, -1;
	}
	close(fd);
	return chdir("/");
}

/* A private mount namespace with a tmpfs on /tmp: all that follows is
 * invisible to the host and goes away with the namespace's last process. */
static int new_ns(void)
{
	if (unshare(CLONE_NEWNS) == -1)
		return -1;
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == -1)
		return -1;
	return mount("fpsim-ns", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=1m");
}

static void logmsg(const char *what)
{
	fprintf(stderr, "fpsim-fuse-helper[%d]: %s\n", (int)getpid(), what);
}

static void logerr(const char *what, const char *arg)
{
	fprintf(stderr, "fpsim-fuse-helper[%d]: %s %s: %s\n", (int)getpid(), what,
		arg ? arg : "", strerror(errno));
}

/* Raise or drop CAP_SYS_ADMIN in the effective set (it stays permitted). */
static int set_cap_sys_admin(int on)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d) == -1)
		return -errno;
	if (on)
		d[0].effective |= 1u << CAP_SYS_ADMIN;
	else
		d[0].effective &= ~(1u << CAP_SYS_ADMIN);
	return syscall(SYS_capset, &h, d) == -1 ? -errno : 0;
}

/* Undo everything we created: detach the mount (does not block on busy
 * users; a lazy unmount takes every mount below it along), close the device
 * (aborts the connection so blocked users get ENOTCONN), then remove our
 * now-empty directory. */
static void cleanup(void)
{
	/* forked children hold /dev/fuse too: they go first */
	for (int i = 0; i < nchildren; i++) {
		if (child_pid[i] > 0) {
			kill(child_pid[i], SIGKILL);
			waitpid(child_pid[i], NULL, 0);
			child_pid[i] = 0;
		}
		if (child_sock[i] >= 0)
			close(child_sock[i]);
		child_sock[i] = -1;
	}
	set_cap_sys_admin(1); /* umount2 needs it */
	if (mounted) {
		if (umount2(mnt, MNT_DETACH) == -1 && errno != EINVAL && errno != ENOENT)
			logerr("umount2", mnt);
		mounted = 0;
	}
	if (fuse_fd >= 0) {
		if (close(fuse_fd) == -1)
			logerr("close", "/dev/fuse");
		fuse_fd = -1;
	}
	if (have_dir) {
		if (rmdir(mnt) == -1 && errno != ENOENT)
			logerr("rmdir", mnt);
		have_dir = 0;
	}
}

static __attribute__((noreturn)) void die(const char *what, const char *arg)
{
	logerr(what, arg);
	cleanup();
	exit(1);
}

/* ---- stdout framing ---------------------------------------------------- */

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	while (n > 0) {
		ssize_t w = write(fd, c, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Returns -1 if node is gone (EPIPE etc): the caller then shuts down. */
static int send_frame(char kind, const void *a, size_t alen, const void *b, size_t blen)
{
	unsigned char hdr[5];
	uint32_t len = (uint32_t)(alen + blen);
	memcpy(hdr, &len, 4); /* x86/arm little-endian hosts only */
	hdr[4] = (unsigned char)kind;
	if (write_all(1, hdr, 5) || write_all(1, a, alen) || write_all(1, b, blen))
		return -1;
	return 0;
}

static int send_result(int64_t v) { return send_frame('R', &v, 8, NULL, 0); }

/* ---- stale mount cleanup ----------------------------------------------- */

/* Directory names are "<pid>-XXXXXX". Returns the pid or -1. */
static pid_t owner_of(const char *name)
{
	char *end;
	long pid;
	if (name[0] < '0' || name[0] > '9')
		return -1;
	pid = strtol(name, &end, 10);
	if (*end != '-' || strlen(end + 1) != 6 || pid <= 0)
		return -1;
	return (pid_t)pid;
}

/* Alive means: the pid exists and still runs this helper (not a recycled
 * pid). A zombie helper also counts as alive; its parent will reap it. */
static int owner_alive(pid_t pid)
{
	char path[64], comm[32] = {0};
	int fd;
	ssize_t n;
	if (pid == getpid())
		return 1;
	if (kill(pid, 0) == -1 && errno == ESRCH)
		return 0;
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, comm, sizeof comm - 1);
	close(fd);
	if (n <= 0)
		return 0;
	return strncmp(comm, HELPER_COMM, strlen(HELPER_COMM)) == 0;
}

static void clean_stale(void)
{
	const size_t plen = strlen(MOUNT_PARENT);
	/* Mounts can be stacked; a few passes remove them all. */
	for (int pass = 0; pass < 8; pass++) {
		FILE *f = fopen("/proc/self/mountinfo", "re");
		char *line = NULL;
		size_t cap = 0;
		int changed = 0;
		if (!f) {
			logerr("fopen", "/proc/self/mountinfo");
			return;
		}
		while (getline(&line, &cap, f) > 0) {
			/* fields: id parent maj:min root MOUNTPOINT ... */
			char *save = NULL, *tok = strtok_r(line, " ", &save);
			for (int i = 0; tok && i < 4; i++)
				tok = strtok_r(NULL, " ", &save);
			if (!tok || strncmp(tok, MOUNT_PARENT "/", plen + 1) != 0)
				continue;
			const char *name = tok + plen + 1;
			pid_t pid = owner_of(name);
			if (strchr(name, '/') || pid < 0 || owner_alive(pid))
				continue;
			if (umount2(tok, MNT_DETACH) == 0) {
				fprintf(stderr, "fpsim-fuse-helper[%d]: unmounted stale %s\n",
					(int)getpid(), tok);
				changed = 1;
			} else if (errno != EINVAL && errno != ENOENT) {
				logerr("umount2 stale", tok);
			}
		}
		free(line);
		fclose(f);
		if (!changed)
			break;
	}
	DIR *d = opendir(MOUNT_PARENT);
	if (!d) {
		logerr("opendir", MOUNT_PARENT);
		return;
	}
	struct dirent *e;
	/* Only names are looked at: stat'ing a path could enter a hung mount. */
	while ((e = readdir(d)) != NULL) {
		pid_t pid = owner_of(e->d_name);
		char path[sizeof(MOUNT_PARENT) + 300];
		if (pid < 0 || owner_alive(pid))
			continue;
		snprintf(path, sizeof path, "%s/%s", MOUNT_PARENT, e->d_name);
		if (rmdir(path) == -1 && errno != ENOENT)
			logerr("rmdir stale", path);
	}
	closedir(d);
}

/* The parent directory must be a real root-owned directory that nobody else
 * can write to, otherwise we refuse to mount under it. */
static void ensure_parent(void)
{
	struct stat st;
	if (mkdir(MOUNT_PARENT, 0755) == -1 && errno != EEXIST)
		die("mkdir", MOUNT_PARENT);
	if (lstat(MOUNT_PARENT, &st) == -1)
		die("lstat", MOUNT_PARENT);
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022)) {
		errno = EPERM;
		die("refusing unsafe parent directory", MOUNT_PARENT);
	}
}

/* ---- control frames ---------------------------------------------------- */

/* Copy a non-NUL-terminated path out of a frame. NULL on embedded NUL/empty. */
static char *frame_path(const unsigned char *p, size_t n)
{
	if (n == 0 || memchr(p, 0, n))
		return NULL;
	char *s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = 0;
	return s;
}

/* Opening a path on our own mount would block this single-threaded relay
 * while the kernel waits for node to answer a request we cannot forward. */
static int on_own_mount(const char *path)
{
	size_t n = strlen(mnt);
	return strncmp(path, mnt, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static int64_t do_open(const char *path, int32_t oflags)
{
	int fd;
	if (on_own_mount(path))
		return -EDEADLK;
	fd = open(path, oflags | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	return fd;
}

/* 'K': u32 flags, then fstype, source, target, data (each NUL-terminated). */
static int64_t do_mount(const unsigned char *p, size_t n)
{
	const char *str[4];
	size_t off = 4;
	uint32_t flags;
	size_t dlen = strlen(mnt);
	if (!mounted || n < 4)
		return -EINVAL;
	memcpy(&flags, p, 4);
	for (int i = 0; i < 4; i++) {
		const unsigned char *nul = off < n ? memchr(p + off, 0, n - off) : NULL;
		if (!nul)
			return -EINVAL;
		str[i] = (const char *)p + off;
		off = (size_t)(nul - p) + 1;
	}
	const char *target = str[2];
	/* strictly inside our directory, one plain name per component */
	if (strncmp(target, mnt, dlen) != 0 || target[dlen] != '/' || target[dlen + 1] == 0 ||
	    strstr(target + dlen, "/..") || strstr(target + dlen, "//"))
		return -EPERM;
	if (mkdir(target, 0755) == -1 && errno != EEXIST)
		return -errno;
	if (mount(str[1][0] ? str[1] : NULL, target, str[0][0] ? str[0] : NULL, flags,
		  str[3][0] ? str[3] : NULL) == -1)
		return -errno;
	return 0;
}

static int64_t backing_open_fd(int32_t fd, uint32_t flags, uint64_t padding)
{
	struct backing_map map = {.fd = fd, .flags = flags, .padding = padding};
	int r = ioctl(fuse_fd, IOC_BACKING_OPEN, &map);
	return r < 0 ? -errno : r;
}


/* 'V': ioctl on /dev/fuse fds the server holds: its own, or one it opened. */
static int64_t dev_ioctl(const unsigned char *p, size_t n)
{
	int32_t fd;
	uint32_t cmd;
	uint64_t arg[2] = {0, 0};
	if (n < 8 || n - 8 > sizeof arg)
		return -EINVAL;
	memcpy(&fd, p, 4);
	memcpy(&cmd, p + 4, 4);
	if (fd < 0 || (fd != fuse_fd && (fd >= MAX_OPEN_FDS || !opened_fd[fd])))
		return -EBADF;
	memcpy(arg, p + 8, n - 8);
	int r = ioctl(fd, (unsigned long)cmd, n > 8 ? (void *)arg : NULL);
	return r < 0 ? -errno : r;
}

/* 'S': an AF_UNIX stream socket, bound to path if one is given. */
static int64_t do_socket(const unsigned char *p, size_t n)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (n > 0) {
		if (n >= sizeof sa.sun_path || memchr(p, 0, n)) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(sa.sun_path, p, n);
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
			int e = errno;
			close(fd);
			return -e;
		}
	}
	if (fd >= MAX_OPEN_FDS) {
		close(fd);
		return -EMFILE;
	}
	opened_fd[fd] = 1;
	return fd;
}

/* 'Y': a pipe; both ends are the server's to use and close. */
static int64_t do_pipe(void)
{
	int pfd[2];
	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -errno;
	if (pfd[0] >= MAX_OPEN_FDS || pfd[1] >= MAX_OPEN_FDS) {
		close(pfd[0]);
		close(pfd[1]);
		return -EMFILE;
	}
	opened_fd[pfd[0]] = opened_fd[pfd[1]] = 1;
	return (int64_t)pfd[0] | ((int64_t)pfd[1] << 16);
}

static int64_t control(char kind, const unsigned char *p, size_t n);

static int read_all(int fd, void *p, size_t n)
{
	char *c = p;
	while (n > 0) {
		ssize_t r = read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

/* A forked child: control frames from its socket, one result each, until EOF. */
static __attribute__((noreturn)) void child_loop(int sock)
{
	unsigned char *buf = malloc(MAX_FRAME);
	is_child = 1;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		unsigned char hdr[5];
		uint32_t len;
		if (!buf || read_all(sock, hdr, 5))
			_exit(0);
		memcpy(&len, hdr, 4);
		if (len > MAX_FRAME || read_all(sock, buf, len))
			_exit(0);
		int64_t r = control((char)hdr[4], buf, len);
		if (write_all(sock, &r, 8))
			_exit(0);
	}
}

/* 'F': fork a child of the server process. */
static int64_t do_fork(void)
{
	int sv[2];
	pid_t pid;
	if (nchildren == MAX_CHILDREN)
		return -EAGAIN;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		/* node's pipes and the other children's sockets are not the child's business */
		close(sv[0]);
		close(0);
		close(1);
		for (int i = 0; i < nchildren; i++)
			if (child_sock[i] >= 0)
				close(child_sock[i]);
		nchildren = 0;
		child_loop(sv[1]);
	}
	close(sv[1]);
	child_pid[nchildren] = pid;
	child_sock[nchildren] = sv[0];
	return nchildren++;
}

/* 'T': a control frame for child idx; its result within 5 s. */
static int64_t to_child(const unsigned char *p, size_t n)
{
	uint32_t idx, len;
	unsigned char hdr[5];
	int64_t r;
	struct pollfd pfd;
	if (n < 5)
		return -EINVAL;
	memcpy(&idx, p, 4);
	if (idx >= (uint32_t)nchildren || child_pid[idx] <= 0)
		return -ESRCH;
	len = (uint32_t)(n - 5);
	memcpy(hdr, &len, 4);
	hdr[4] = p[4];
	if (write_all(child_sock[idx], hdr, 5) || write_all(child_sock[idx], p + 5, len))
		return -EPIPE;
	pfd.fd = child_sock[idx];
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5000) <= 0)
		return -ETIMEDOUT;
	if (read_all(child_sock[idx], &r, 8))
		return -EPIPE;
	return r;
}

static int64_t control(char kind, const unsigned char *p, size_t n)
{
	int32_t i32;
	uint32_t u32;
	uint64_t u64;
	char *path;
	int64_t r;

	switch (kind) {
	case 'B':
		if (n != 16)
			return -EINVAL;
		memcpy(&i32, p, 4);
		memcpy(&u32, p + 4, 4);
		memcpy(&u64, p + 8, 8);
		return backing_open_fd(i32, u32, u64);
	case 'P':
		if (n < 16 || !(path = frame_path(p + 16, n - 16)))
			return -EINVAL;
		memcpy(&i32, p, 4);
		memcpy(&u32, p + 4, 4);
		memcpy(&u64, p + 8, 8);
		r = do_open(path, i32);
		free(path);
		if (r < 0)
			return r;
		{
			int fd = (int)r;
			r = backing_open_fd(fd, u32, u64);
			/* the kernel holds its own reference to the file */
			if (close(fd) == -1)
				logerr("close", "backing fd");
		}
		return r;
	case 'C':
		if (n != 4)
			return -EINVAL;
		memcpy(&u32, p, 4); /* the ioctl takes a u32; -1 stays 0xffffffff */
		r = ioctl(fuse_fd, IOC_BACKING_CLOSE, &u32);
		return r < 0 ? -errno : r;
	case 'O':
		if (n < 4 || !(path = frame_path(p + 4, n - 4)))
			return -EINVAL;
		memcpy(&i32, p, 4);
		r = do_open(path, i32);
		free(path);
		if (r >= MAX_OPEN_FDS) {
			close((int)r);
			return -EMFILE;
		}
		if (r >= 0)
			opened_fd[r] = 1;
		return r;
	case 'X':
		if (n != 4)
			return -EINVAL;
		memcpy(&i32, p, 4);
		if (i32 >= 0 && i32 == fuse_fd) {
			/* the server closes its device: the relay stops reading it */
			r = close(fuse_fd) == -1 ? -errno : 0;
			fuse_fd = -1;
			if (!is_child && !device_gone) {
				device_gone = 1;
				if (send_frame('D', NULL, 0, NULL, 0))
					return -EPIPE;
			}
			return r;
		}
		/* only fds we opened for node: never stdio */
		if (i32 < 0 || i32 >= MAX_OPEN_FDS || !opened_fd[i32])
			return -EBADF;
		opened_fd[i32] = 0;
		return close(i32) == -1 ? -errno : 0;
	case 'I':
		if (n != 4)
			return -EINVAL;
		memcpy(&u32, p, 4);
		r = ioctl(fuse_fd, (unsigned long)u32, NULL);
		return r < 0 ? -errno : r;
	case 'A':
		if (n != 4)
			return -EINVAL;
		memcpy(&i32, p, 4);
		return set_cap_sys_admin(i32 != 0);
	case 'K':
		return is_child ? -EPERM : do_mount(p, n);
	case 'G':
		return fuse_fd >= 0 ? fuse_fd : -EBADF;
	case 'V':
		return dev_ioctl(p, n);
	case 'S':
		return do_socket(p, n);
	case 'Y':
		return do_pipe();
	case 'F':
		return is_child ? -EPERM : do_fork();
	case 'T':
		return is_child ? -EPERM : to_child(p, n);
	case 'U':
		if (is_child)
			return -EPERM;
		if (mounted) {
			if (umount2(mnt, MNT_DETACH) == -1)
				return -errno;
			mounted = 0;
		}
		if (have_dir) {
			if (rmdir(mnt) == -1)
				return -errno;
			have_dir = 0;
		}
		return 0;
	default:
		return -ENOTSUP;
	}
}

/* ---- relay ------------------------------------------------------------- */

/* Read one request from /dev/fuse and forward it.
 * Returns 1 to continue, 0 when the device is gone (the helper then stops
 * reading it but keeps serving control frames), -1 when node is gone. */
static int pump_fuse(unsigned char *buf)
{
	ssize_t n = read(fuse_fd, buf, FUSE_BUF_SIZE);
	if (n < 0) {
		/* ENOENT: the request was interrupted before we read it */
		if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
			return 1;
		if (errno == ENODEV || errno == ECONNABORTED) {
			/* unmounted, or aborted (e.g. /sys/fs/fuse/connections/N/abort) */
			return send_frame('D', NULL, 0, NULL, 0) ? -1 : 0;
		}
		logerr("read", "/dev/fuse");
		return -1;
	}
	return send_frame('Q', buf, (size_t)n, NULL, 0) ? -1 : 1;
}

/* Process every complete frame in inbuf. Returns -1 when node is gone. */
static int handle_frames(unsigned char *inbuf, size_t *inlen)
{
	size_t off = 0;
	while (*inlen - off >= 5) {
		uint32_t len;
		memcpy(&len, inbuf + off, 4);
		if (len > MAX_FRAME) {
			logmsg("oversized frame from node");
			return -1;
		}
		if (*inlen - off < 5 + (size_t)len)
			break;
		char kind = (char)inbuf[off + 4];
		const unsigned char *p = inbuf + off + 5;
		if (kind == 'W') {
			if (write(fuse_fd, p, len) < 0) {
				int32_t e = errno;
				if (send_frame('E', &e, 4, p, len < 16 ? len : 16))
					return -1;
			}
		} else if (send_result(control(kind, p, len))) {
			return -1;
		}
		off += 5 + (size_t)len;
	}
	memmove(inbuf, inbuf + off, *inlen - off);
	*inlen -= off;
	return 0;
}

int main(int argc, char **argv)
{
	int default_permissions = 0, allow_other = 0, newns = 0;
	const char *ns_pid = NULL;
	pid_t ppid = getppid();
	sigset_t block, during_poll;
	struct sigaction sa;
	char opts[160];

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--default-permissions") == 0)
			default_permissions = 1;
		else if (strcmp(argv[i], "--allow-other") == 0)
			allow_other = 1;
		else if (strcmp(argv[i], "--keeper") == 0)
			keeper = 1;
		else if (strcmp(argv[i], "--newns") == 0)
			newns = 1;
		else if (strcmp(argv[i], "--ns") == 0 && i + 1 < argc)
			ns_pid = argv[++i];
		else {
			fprintf(stderr, "usage: %s [--default-permissions] [--allow-other] [--keeper] [--newns | --ns PID]\n"
					"(it always mounts on its own mkdtemp directory under "
					MOUNT_PARENT ")\n", argv[0]);
			return 2;
		}
	}

	/* Signals stay blocked except inside ppoll, so a signal can never slip
	 * between the flag check and the wait. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &block, &during_poll) == -1)
		die("sigprocmask", NULL);
	sigdelset(&during_poll, SIGINT);
	sigdelset(&during_poll, SIGTERM);
	sigdelset(&during_poll, SIGHUP);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: we want EINTR */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL) ||
	    sigaction(SIGHUP, &sa, NULL))
		die("sigaction", NULL);
	sa.sa_handler = SIG_IGN; /* a dead node shows up as EPIPE instead */
	if (sigaction(SIGPIPE, &sa, NULL))
		die("sigaction", "SIGPIPE");

	/* Die with the node process that spawned us (SIGTERM -> cleanup). The
	 * getppid check closes the race where it died before the prctl. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		die("prctl", "PR_SET_PDEATHSIG");
	if (getppid() != ppid)
		return 1;
	if (prctl(PR_SET_NAME, HELPER_COMM) == -1)
		die("prctl", "PR_SET_NAME");

	if (ns_pid) {
		/* the keeper's namespace: it cleaned the host's stale mounts */
		if (join_ns(ns_pid) == -1)
			die("setns", ns_pid);
	} else {
		ensure_parent();
		clean_stale();
	}
	if (newns && new_ns() == -1)
		die("new mount namespace", NULL);
	if (newns || ns_pid)
		ensure_parent();

	snprintf(mnt, sizeof mnt, "%s/%d-XXXXXX", MOUNT_PARENT, (int)getpid());
	if (!mkdtemp(mnt))
		die("mkdtemp", mnt);
	have_dir = 1;

	if (keeper) {
		/* a private area: everything mounted below goes with it */
		/* no MS_NODEV: a scenario's plain filesystem may hold a device node
		 * (/dev/null's); the area lives in the run's own mount namespace */
		if (mount("fpsim", mnt, "tmpfs", MS_NOSUID, "mode=0755,size=64m") == -1)
			die("mount tmpfs", mnt);
		mounted = 1;
	} else {
		fuse_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
		if (fuse_fd < 0)
			die("open", "/dev/fuse");
		snprintf(opts, sizeof opts, "fd=%d,rootmode=40000,user_id=%u,group_id=%u%s%s",
			 fuse_fd, (unsigned)getuid(), (unsigned)getgid(),
			 default_permissions ? ",default_permissions" : "",
			 allow_other ? ",allow_other" : "");
		/* The FUSE mount: target is the mkdtemp result. */
		if (mount("fpsim", mnt, "fuse.fpsim", MS_NOSUID | MS_NODEV, opts) == -1)
			die("mount", mnt);
		mounted = 1;
	}

	unsigned char *fbuf = malloc(FUSE_BUF_SIZE);
	size_t incap = 1u << 16, inlen = 0;
	unsigned char *inbuf = malloc(incap);
	if (!fbuf || !inbuf)
		die("malloc", NULL);
	if (send_frame('M', mnt, strlen(mnt), NULL, 0)) {
		cleanup();
		return 1;
	}

	int status = 0;
	device_gone = fuse_fd < 0;
	for (int i = 0; i < MAX_CHILDREN; i++)
		child_sock[i] = -1;
	while (!got_signal) {
		/* a negative fd is skipped by ppoll: the keeper, or a device that is gone */
		struct pollfd pfd[2] = {{.fd = device_gone ? -1 : fuse_fd, .events = POLLIN},
					{.fd = 0, .events = POLLIN}};
		if (ppoll(pfd, 2, NULL, &during_poll) == -1) {
			if (errno == EINTR)
				continue;
			logerr("ppoll", NULL);
			status = 1;
			break;
		}
		if (pfd[0].revents) {
			int r = pump_fuse(fbuf);
			if (r < 0) {
				status = 1;
				break;
			}
			if (r == 0)
				device_gone = 1;
		}
		if (pfd[1].revents) {
			if (incap - inlen < (1u << 16)) {
				/* frames are bounded by MAX_FRAME, so is the buffer */
				if (incap >= 2 * MAX_FRAME) {
					logmsg("input buffer overflow");
					status = 1;
					break;
				}
				unsigned char *nb = realloc(inbuf, incap * 2);
				if (!nb) {
					logerr("realloc", NULL);
					status = 1;
					break;
				}
				inbuf = nb;
				incap *= 2;
			}
			ssize_t n = read(0, inbuf + inlen, incap - inlen);
			if (n < 0) {
				if (errno == EINTR || errno == EAGAIN)
					continue;
				logerr("read", "stdin");
				status = 1;
				break;
			}
			if (n == 0)
				break; /* EOF: node closed the pipe or died */
			inlen += (size_t)n;
			if (handle_frames(inbuf, &inlen)) {
				status = 1;
				break;
			}
		}
	}
	if (got_signal)
		fprintf(stderr, "fpsim-fuse-helper[%d]: exiting on signal %d\n",
			(int)getpid(), (int)got_signal);
	cleanup();
	free(fbuf);
	free(inbuf);
	return status;
}
