/*
 * fpsim-user: issues a list of syscalls given on argv and prints one JSON
 * line per operation. It runs as a separate process so that a syscall that
 * waits for the FUSE server never blocks the node event loop serving it.
 *
 *   open PATH FLAGS        FLAGS: comma list (rdonly,wronly,rdwr,creat,excl,
 *                          trunc,append,direct,path,directory,nofollow,sync,
 *                          noatime) or a number; mode is always 0644
 *   close FD               read FD N            pread FD N OFF
 *   write FD TEXT          pwrite FD TEXT OFF   fstat FD     stat PATH
 *   cstat PATH             statx(AT_STATX_DONT_SYNC): cached attributes only
 *   spliceread FD N OFF    splice(2) from the file into a pipe, then read the pipe
 *   splicewrite FD TEXT OFF  write TEXT into a pipe, then splice(2) it into the file
 *   fsync FD               sleep MS
 *   mmap FD LEN PROT shared|private [OFF]       PROT: r, w or rw; ret = map id
 *   mread MAP OFF N        mwrite MAP OFF TEXT  munmap MAP
 *   flock FD OP            flock(2); OP: LOCK_SH|LOCK_EX|LOCK_UN[|LOCK_NB] as a number
 *   fcntllk FD CMD TYPE START LEN
 *                          fcntl(2) F_GETLK/F_SETLK/F_SETLKW (CMD as a number) with
 *                          struct flock { TYPE, SEEK_SET, START, LEN }; F_GETLK adds
 *                          "ltype","lstart","llen","lpid": the struct as the kernel left it
 *
 * An FD/MAP argument "@K" means the return value of operation K (0-based).
 * A TEXT argument "hex:4142" is the bytes 0x41 0x42.
 * Output: {"i":K,"op":"...","ret":R[,"errno":E,"err":"EXXX"][,"hex":"..."]}
 * A SIGBUS/SIGSEGV while touching a mapping is reported as "signal".
 *
 * "fpsim-user -" reads the operations from stdin instead, one per line with
 * tab-separated arguments, and answers each line as soon as it has run: the
 * oracle uses this to keep one process per scenario process and interleave
 * operations of several processes in a chosen order. It ends at EOF.
 *
 * Exit status: 0 after all operations ran, 2 on a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#define MAX_OPS 256
#define MAX_MAPS 16

static long long results[MAX_OPS];
static struct {
	char *addr;
	size_t len;
} maps[MAX_MAPS];
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t fault_sig;

static void on_fault(int sig)
{
	fault_sig = sig;
	siglongjmp(fault_jmp, 1);
}

/* memcpy that survives a fault: a FUSE-backed page that cannot be read or
 * written arrives as SIGBUS. Returns 0 or -1 (fault_sig says which). */
static __attribute__((noinline)) int guarded_copy(void *dst, const void *src, size_t n)
{
	fault_sig = 0;
	if (sigsetjmp(fault_jmp, 1) != 0)
		return -1;
	memcpy(dst, src, n);
	return 0;
}

static __attribute__((noreturn)) void usage(const char *why, const char *arg)
{
	fprintf(stderr, "fpsim-user: %s: %s\n", why, arg ? arg : "");
	exit(2);
}

static long long num(const char *s)
{
	char *end;
	long long v;
	if (s[0] == '@') {
		long k = strtol(s + 1, &end, 10);
		if (*end || k < 0 || k >= MAX_OPS)
			usage("bad reference", s);
		return results[k];
	}
	errno = 0;
	v = strtoll(s, &end, 0);
	if (*end || errno)
		usage("bad number", s);
	return v;
}

static int open_flags(const char *s)
{
	static const struct {
		const char *name;
		int flag;
	} names[] = {{"rdonly", O_RDONLY},	 {"wronly", O_WRONLY},	 {"rdwr", O_RDWR},
		     {"creat", O_CREAT},	 {"excl", O_EXCL},	 {"trunc", O_TRUNC},
		     {"append", O_APPEND},	 {"direct", O_DIRECT},	 {"path", O_PATH},
		     {"directory", O_DIRECTORY}, {"nofollow", O_NOFOLLOW}, {"sync", O_SYNC},
		     {"noatime", O_NOATIME}};
	int flags = 0;
	char *copy, *tok, *save = NULL;
	if (s[0] >= '0' && s[0] <= '9')
		return (int)num(s);
	if (!(copy = strdup(s)))
		usage("out of memory", NULL);
	for (tok = strtok_r(copy, ",|", &save); tok; tok = strtok_r(NULL, ",|", &save)) {
		size_t i;
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strcmp(tok, names[i].name) == 0)
				break;
		if (i == sizeof names / sizeof names[0])
			usage("unknown open flag", tok);
		flags |= names[i].flag;
	}
	free(copy);
	return flags;
}

/* A TEXT argument: "hex:..." decoded in place (into a new buffer), else itself. */
static const char *text_arg(const char *s, size_t *len)
{
	if (strncmp(s, "hex:", 4) != 0) {
		*len = strlen(s);
		return s;
	}
	size_t n = strlen(s + 4) / 2;
	char *out = malloc(n + 1);
	if (!out)
		usage("out of memory", NULL);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 4 + 2 * i, "%2x", &v) != 1)
			usage("bad hex text", s);
		out[i] = (char)v;
	}
	out[n] = 0;
	*len = n;
	return out;
}

static void print_hex(const unsigned char *p, size_t n)
{
	printf(",\"hex\":\"");
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
	printf("\"");
}

/* Print the common prefix; ret < 0 adds errno (captured by the caller). */
static void head(int i, const char *op, long long ret, int err)
{
	printf("{\"i\":%d,\"op\":\"%s\",\"ret\":%lld", i, op, ret);
	if (ret < 0) {
		const char *name = strerrorname_np(err);
		printf(",\"errno\":%d,\"err\":\"%s\"", err, name ? name : "?");
	}
}

static void print_stat(const struct stat *st)
{
	printf(",\"size\":%lld,\"mode\":%u,\"ino\":%llu,\"nlink\":%llu,\"uid\":%u,\"gid\":%u,"
	       "\"blksize\":%ld,\"blocks\":%lld",
	       (long long)st->st_size, (unsigned)st->st_mode, (unsigned long long)st->st_ino,
	       (unsigned long long)st->st_nlink, (unsigned)st->st_uid, (unsigned)st->st_gid,
	       (long)st->st_blksize, (long long)st->st_blocks);
}

static void need(int argc, int at, int count, const char *op)
{
	if (at + count >= argc)
		usage("missing arguments for", op);
}

static int map_index(const char *s)
{
	long long m = num(s);
	if (m < 0 || m >= MAX_MAPS || !maps[m].addr)
		return -1;
	return (int)m;
}

/* Runs operation number i, whose name is argv[a]; returns the index of the
 * next operation's name. */
static int run_one(int argc, char **argv, int a, int i)
{
	const char *op = argv[a];
	long long ret = -1;
	int err = 0;
	unsigned char *buf = NULL;
	size_t buflen = 0;
	struct stat st;
	int have_stat = 0;
	struct flock lk;
	int have_lk = 0;

	if (i >= MAX_OPS)
		usage("too many operations", NULL);
	fault_sig = 0;

	if (!strcmp(op, "open")) {
		/* open PATH FLAGS [MODE] */
		need(argc, a, 2, op);
		int with_mode = a + 3 < argc && argv[a + 3][0] >= '0' && argv[a + 3][0] <= '9';
		ret = open(argv[a + 1], open_flags(argv[a + 2]), with_mode ? (mode_t)num(argv[a + 3]) : 0644);
		a += 3 + with_mode;
	} else if (!strcmp(op, "mknod")) {
		need(argc, a, 2, op);
		ret = mknod(argv[a + 1], (mode_t)num(argv[a + 2]), 0);
		a += 3;
	} else if (!strcmp(op, "mkdir")) {
		need(argc, a, 2, op);
		ret = mkdir(argv[a + 1], (mode_t)num(argv[a + 2]));
		a += 3;
	} else if (!strcmp(op, "unlink") || !strcmp(op, "rmdir")) {
		need(argc, a, 1, op);
		ret = op[0] == 'u' ? unlink(argv[a + 1]) : rmdir(argv[a + 1]);
		a += 2;
	} else if (!strcmp(op, "rename")) {
		/* renameat2(2): flags 0 is rename(2) */
		need(argc, a, 3, op);
		ret = syscall(SYS_renameat2, AT_FDCWD, argv[a + 1], AT_FDCWD, argv[a + 2], (unsigned)num(argv[a + 3]));
		a += 4;
	} else if (!strcmp(op, "opendir")) {
		/* glibc's opendir without its fstat */
		need(argc, a, 1, op);
		ret = open(argv[a + 1], O_RDONLY | O_NONBLOCK | O_DIRECTORY | O_CLOEXEC);
		a += 2;
	} else if (!strcmp(op, "getdents")) {
		/* getdents64(2): the result is the number of records, the data their names */
		need(argc, a, 2, op);
		size_t count = (size_t)num(argv[a + 2]);
		char *dbuf = malloc(count ? count : 1);
		if (!dbuf || !(buf = malloc(count + 1)))
			usage("out of memory", NULL);
		long n = syscall(SYS_getdents64, (int)num(argv[a + 1]), dbuf, count);
		int e = errno;
		buflen = 0;
		ret = n;
		if (n >= 0) {
			long entries = 0;
			for (long off = 0; off < n;) {
				struct {
					unsigned long long d_ino;
					long long d_off;
					unsigned short d_reclen;
					unsigned char d_type;
					char d_name[];
				} *d = (void *)(dbuf + off);
				size_t len = strlen(d->d_name);
				if (entries)
					buf[buflen++] = ' ';
				memcpy(buf + buflen, d->d_name, len);
				buflen += len;
				entries++;
				off += d->d_reclen;
			}
			ret = entries;
		}
		free(dbuf);
		errno = e;
		a += 3;
	} else if (!strcmp(op, "symlink")) {
		need(argc, a, 2, op);
		ret = symlink(argv[a + 1], argv[a + 2]);
		a += 3;
	} else if (!strcmp(op, "readlink")) {
		/* readlink(2) into a page: the result is the target's length, the data the target */
		need(argc, a, 1, op);
		if (!(buf = malloc(4096)))
			usage("out of memory", NULL);
		ret = readlink(argv[a + 1], (char *)buf, 4096);
		buflen = ret > 0 ? (size_t)ret : 0;
		a += 2;
	} else if (!strcmp(op, "dropcaches")) {
		/* echo 2 > /proc/sys/vm/drop_caches */
		int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
		ret = fd < 0 ? -1 : (write(fd, "2", 1) == 1 ? 0 : -1);
		if (fd >= 0) {
			int e = errno;
			close(fd);
			errno = e;
		}
		a += 1;
	} else if (!strcmp(op, "close") || !strcmp(op, "fsync")) {
		need(argc, a, 1, op);
		int fd = (int)num(argv[a + 1]);
		ret = op[0] == 'c' ? close(fd) : fsync(fd);
		a += 2;
	} else if (!strcmp(op, "read") || !strcmp(op, "pread")) {
		int p = op[0] == 'p';
		need(argc, a, 2 + p, op);
		buflen = (size_t)num(argv[a + 2]);
		if (!(buf = malloc(buflen ? buflen : 1)))
			usage("out of memory", NULL);
		ret = p ? pread((int)num(argv[a + 1]), buf, buflen, (off_t)num(argv[a + 3]))
			: read((int)num(argv[a + 1]), buf, buflen);
		buflen = ret > 0 ? (size_t)ret : 0;
		a += 3 + p;
	} else if (!strcmp(op, "write") || !strcmp(op, "pwrite")) {
		int p = op[0] == 'p';
		need(argc, a, 2 + p, op);
		size_t len;
		const char *text = text_arg(argv[a + 2], &len);
		ret = p ? pwrite((int)num(argv[a + 1]), text, len, (off_t)num(argv[a + 3]))
			: write((int)num(argv[a + 1]), text, len);
		a += 3 + p;
	} else if (!strcmp(op, "spliceread")) {
		/* the file's ->splice_read (fuse_splice_read), through a pipe we drain */
		int pfd[2], e;
		need(argc, a, 3, op);
		buflen = (size_t)num(argv[a + 2]);
		if (!(buf = malloc(buflen ? buflen : 1)))
			usage("out of memory", NULL);
		if (pipe(pfd) < 0) {
			ret = -1;
		} else {
			loff_t off = (loff_t)num(argv[a + 3]);
			ret = splice((int)num(argv[a + 1]), &off, pfd[1], NULL, buflen, 0);
			e = errno;
			buflen = ret > 0 ? (size_t)read(pfd[0], buf, (size_t)ret) : 0;
			close(pfd[0]);
			close(pfd[1]);
			errno = e;
		}
		a += 4;
	} else if (!strcmp(op, "splicewrite")) {
		/* the file's ->splice_write (fuse_splice_write), fed from a pipe */
		int pfd[2], e;
		size_t len;
		need(argc, a, 3, op);
		const char *text = text_arg(argv[a + 2], &len);
		if (pipe(pfd) < 0 || write(pfd[1], text, len) != (ssize_t)len) {
			ret = -1;
		} else {
			loff_t off = (loff_t)num(argv[a + 3]);
			close(pfd[1]);
			ret = splice(pfd[0], NULL, (int)num(argv[a + 1]), &off, len, 0);
			e = errno;
			close(pfd[0]);
			errno = e;
		}
		a += 4;
	} else if (!strcmp(op, "fstat") || !strcmp(op, "stat")) {
		need(argc, a, 1, op);
		ret = op[0] == 'f' ? fstat((int)num(argv[a + 1]), &st) : stat(argv[a + 1], &st);
		have_stat = ret == 0;
		a += 2;
	} else if (!strcmp(op, "cstat")) {
		struct statx stx;
		need(argc, a, 1, op);
		ret = statx(AT_FDCWD, argv[a + 1], AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &stx);
		if (ret == 0) {
			memset(&st, 0, sizeof st);
			st.st_size = (off_t)stx.stx_size;
			st.st_mode = stx.stx_mode;
			st.st_ino = stx.stx_ino;
			st.st_nlink = stx.stx_nlink;
			st.st_uid = stx.stx_uid;
			st.st_gid = stx.stx_gid;
			st.st_blksize = stx.stx_blksize;
			st.st_blocks = (blkcnt_t)stx.stx_blocks;
			have_stat = 1;
		}
		a += 2;
	} else if (!strcmp(op, "ftruncate")) {
		need(argc, a, 2, op);
		ret = ftruncate((int)num(argv[a + 1]), (off_t)num(argv[a + 2]));
		a += 3;
	} else if (!strcmp(op, "truncate")) {
		need(argc, a, 2, op);
		ret = truncate(argv[a + 1], (off_t)num(argv[a + 2]));
		a += 3;
	} else if (!strcmp(op, "chmod")) {
		need(argc, a, 2, op);
		ret = chmod(argv[a + 1], (mode_t)num(argv[a + 2]));
		a += 3;
	} else if (!strcmp(op, "statfs")) {
		/* the result is f_namelen, as the model's statfs returns it */
		struct statfs sfs;
		need(argc, a, 1, op);
		ret = statfs(argv[a + 1], &sfs);
		if (ret == 0)
			ret = (long long)sfs.f_namelen;
		a += 2;
	} else if (!strcmp(op, "fsync") || !strcmp(op, "fdatasync")) {
		need(argc, a, 1, op);
		ret = op[0] == 'f' && op[1] == 's' ? fsync((int)num(argv[a + 1])) : fdatasync((int)num(argv[a + 1]));
		a += 2;
	} else if (!strcmp(op, "fallocate")) {
		/* fd mode offset len */
		need(argc, a, 4, op);
		ret = fallocate((int)num(argv[a + 1]), (int)num(argv[a + 2]), (off_t)num(argv[a + 3]), (off_t)num(argv[a + 4]));
		a += 5;
	} else if (!strcmp(op, "lseek")) {
		/* fd offset whence: the result is the new offset */
		need(argc, a, 3, op);
		ret = (long long)lseek((int)num(argv[a + 1]), (off_t)num(argv[a + 2]), (int)num(argv[a + 3]));
		a += 4;
	} else if (!strcmp(op, "copyrange")) {
		/* fd_in off_in|- fd_out off_out|- len flags ("-": NULL, the file's f_pos) */
		loff_t oin, oout;
		need(argc, a, 6, op);
		int nin = !strcmp(argv[a + 2], "-"), nout = !strcmp(argv[a + 4], "-");
		if (!nin)
			oin = (loff_t)num(argv[a + 2]);
		if (!nout)
			oout = (loff_t)num(argv[a + 4]);
		ret = copy_file_range((int)num(argv[a + 1]), nin ? NULL : &oin, (int)num(argv[a + 3]), nout ? NULL : &oout,
				      (size_t)num(argv[a + 5]), (unsigned int)num(argv[a + 6]));
		a += 7;
	} else if (!strcmp(op, "sendfile")) {
		/* out_fd in_fd offset|- count */
		off_t off;
		need(argc, a, 4, op);
		int noff = !strcmp(argv[a + 3], "-");
		if (!noff)
			off = (off_t)num(argv[a + 3]);
		ret = sendfile((int)num(argv[a + 1]), (int)num(argv[a + 2]), noff ? NULL : &off, (size_t)num(argv[a + 4]));
		a += 5;
	} else if (!strcmp(op, "sleep")) {
		need(argc, a, 1, op);
		long long ms = num(argv[a + 1]);
		struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
		ret = nanosleep(&ts, NULL);
		a += 2;
	} else if (!strcmp(op, "mmap")) {
		need(argc, a, 4, op);
		int fd = (int)num(argv[a + 1]);
		size_t len = (size_t)num(argv[a + 2]);
		const char *ps = argv[a + 3];
		int prot = (strchr(ps, 'r') ? PROT_READ : 0) | (strchr(ps, 'w') ? PROT_WRITE : 0);
		int shared = !strcmp(argv[a + 4], "shared");
		off_t off = 0;
		int m;
		if (!shared && strcmp(argv[a + 4], "private"))
			usage("mmap wants shared or private", argv[a + 4]);
		a += 5;
		/* optional offset: a plain number (op names never start with a digit) */
		if (a < argc && argv[a][0] >= '0' && argv[a][0] <= '9')
			off = (off_t)num(argv[a++]);
		for (m = 0; m < MAX_MAPS && maps[m].addr; m++)
			;
		if (m == MAX_MAPS)
			usage("too many mappings", NULL);
		void *p = mmap(NULL, len, prot, shared ? MAP_SHARED : MAP_PRIVATE, fd, off);
		if (p == MAP_FAILED) {
			ret = -1;
		} else {
			maps[m].addr = p;
			maps[m].len = len;
			ret = m;
		}
	} else if (!strcmp(op, "mread") || !strcmp(op, "mwrite")) {
		need(argc, a, 3, op);
		int m = map_index(argv[a + 1]);
		size_t off = (size_t)num(argv[a + 2]);
		int w = op[1] == 'w';
		size_t tlen = 0;
		const char *text = w ? text_arg(argv[a + 3], &tlen) : NULL;
		size_t n = w ? tlen : (size_t)num(argv[a + 3]);
		a += 4;
		if (m < 0 || off > maps[m].len || n > maps[m].len - off) {
			ret = -1;
			errno = EINVAL;
		} else {
			if (!w && !(buf = malloc(n ? n : 1)))
				usage("out of memory", NULL);
			if (guarded_copy(w ? maps[m].addr + off : (char *)buf,
					 w ? (const void *)text : maps[m].addr + off, n) == 0) {
				ret = (long long)n;
				buflen = w ? 0 : n;
			} else {
				ret = -1;
				errno = EFAULT;
			}
		}
	} else if (!strcmp(op, "flock")) {
		need(argc, a, 2, op);
		ret = flock((int)num(argv[a + 1]), (int)num(argv[a + 2]));
		a += 3;
	} else if (!strcmp(op, "fcntllk")) {
		need(argc, a, 5, op);
		int cmd = (int)num(argv[a + 2]);
		memset(&lk, 0, sizeof lk);
		lk.l_type = (short)num(argv[a + 3]);
		lk.l_whence = SEEK_SET;
		lk.l_start = (off_t)num(argv[a + 4]);
		lk.l_len = (off_t)num(argv[a + 5]);
		ret = fcntl((int)num(argv[a + 1]), cmd, &lk);
		have_lk = ret == 0 && cmd == F_GETLK;
		a += 6;
	} else if (!strcmp(op, "munmap")) {
		need(argc, a, 1, op);
		int m = map_index(argv[a + 1]);
		a += 2;
		if (m < 0) {
			ret = -1;
			errno = EINVAL;
		} else {
			ret = munmap(maps[m].addr, maps[m].len);
			if (ret == 0)
				maps[m].addr = NULL;
		}
	} else {
		usage("unknown operation", op);
	}
	err = errno;
	results[i] = ret;
	head(i, op, ret, err);
	if (buf)
		print_hex(buf, buflen);
	if (have_stat)
		print_stat(&st);
	if (have_lk)
		printf(",\"ltype\":%d,\"lstart\":%lld,\"llen\":%lld,\"lpid\":%d", (int)lk.l_type,
		       (long long)lk.l_start, (long long)lk.l_len, (int)lk.l_pid);
	if (fault_sig && (!strcmp(op, "mread") || !strcmp(op, "mwrite")))
		printf(",\"signal\":\"%s\"", fault_sig == SIGBUS ? "SIGBUS" : "SIGSEGV");
	printf("}\n");
	fflush(stdout);
	free(buf);
	return a;
}

/* "-": one operation per stdin line, arguments separated by tabs. */
static int interactive(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int i = 0;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		char *args[16];
		int nargs = 0;
		char *save = NULL;
		if (line[n - 1] == '\n')
			line[n - 1] = 0;
		for (char *tok = strtok_r(line, "\t", &save); tok && nargs < 16; tok = strtok_r(NULL, "\t", &save))
			args[nargs++] = tok;
		if (nargs == 0)
			continue;
		if (run_one(nargs, args, 0, i++) != nargs)
			usage("extra arguments on the line of", args[0]);
	}
	free(line);
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	int i = 0;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) || sigaction(SIGSEGV, &sa, NULL)) {
		perror("sigaction");
		return 1;
	}
	/* die with the process that started us: a user left behind could keep a
	 * mount namespace (and the mounts in it) alive */
	pid_t ppid = getppid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != ppid)
		return 1;
	/* --ns PID: run in the mount namespace of an fpsim-fuse-helper keeper */
	if (argc >= 3 && !strcmp(argv[1], "--ns")) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%s/ns/mnt", argv[2]);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNS) == -1 || chdir("/") == -1) {
			perror(path);
			return 1;
		}
		close(fd);
		argv += 2;
		argc -= 2;
	}
	/* the model's tasks create with the usual umask */
	umask(022);
	if (argc == 2 && !strcmp(argv[1], "-"))
		return interactive();
	for (int a = 1; a < argc; i++)
		a = run_one(argc, argv, a, i);
	return 0;
}
