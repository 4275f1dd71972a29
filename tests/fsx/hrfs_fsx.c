/*
 * hrfs_fsx — a model-based random exerciser of file semantics.
 *
 *   hrfs_fsx DIR [-s SEED] [-n OPS] [-f FILES] [-d FDS] [-S MAXSIZE] [-l LOG]
 *
 * Runs OPS random operations on FILES files (DIR/c0 ...) through up to FDS
 * descriptors at once: open (random access modes, O_CREAT, O_EXCL,
 * O_TRUNC, O_APPEND), close, read and pread, write and pwrite at random
 * offsets, ftruncate up and down, fstat, lseek(SEEK_END), stat, mmap
 * (MAP_SHARED) reads and writes, fsync, rename and unlink (also of open
 * files), fchmod and chmod, futimens with explicit times, and full
 * re-reads. fstat and stat check sizes, modes and (while the model knows
 * it: set explicitly, no write since) mtime. An in-memory model of inodes, names and
 * descriptors predicts every result (bytes read, sizes, offsets, errors);
 * the first difference stops the run with exit status 1, naming the seed
 * and the operation. At the end every name is read back whole and checked.
 *
 * Every operation and its result also go into a digest (FNV-1a, 64 bits;
 * -l writes the same lines to a file), printed last:
 *     seed S ops N digest HEX
 * The same seed run in a directory of another file system (tmpfs) must give
 * the same digest: tests/e2e/fsx.bats compares them. DIR should be empty.
 *
 * Deterministic for a seed: the random stream (splitmix64) decides every
 * operation and every byte written; nothing depends on timing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_FILES 64
#define MAX_FDS 64
#define MAX_OBJS (MAX_FILES + MAX_FDS + 8)

struct obj {
	int used;
	int linked;	/* has a name */
	int nfds;	/* descriptors on it */
	uint8_t *data;
	size_t len, cap;
	unsigned mode;	/* permission bits */
	int mtime_known;	/* set by futimens, no data change since */
	struct timespec mtime;
};

struct dsc {
	int used;
	int fd;
	int obj;
	int acc;	/* O_RDONLY, O_WRONLY, O_RDWR */
	int append;
	uint64_t pos;
};

static const char *g_dir;
static uint64_t g_seed, g_rng, g_ops = 100000, g_op;
static int g_files = 6, g_fds = 8;
static size_t g_maxsize = 128 * 1024;
static struct obj g_obj[MAX_OBJS];
static struct dsc g_dsc[MAX_FDS];
static int g_name[MAX_FILES]; /* object of each name, -1 = none */
static uint64_t g_digest = 1469598103934665603ULL;
static FILE *g_log;
static uint8_t *g_buf, *g_buf2;
static long g_pagesize;

enum {
	OP_OPEN, OP_CLOSE, OP_READ, OP_PREAD, OP_WRITE, OP_PWRITE, OP_TRUNC_UP, OP_TRUNC_DOWN,
	OP_FSTAT, OP_SEEK_END, OP_STAT, OP_MMAP_READ, OP_MMAP_WRITE, OP_FSYNC, OP_RENAME,
	OP_UNLINK, OP_REOPEN, OP_VERIFY, OP_FCHMOD, OP_CHMOD, OP_UTIMES, OP_COUNT
};
static const char *op_names[OP_COUNT] = {
	"open", "close", "read", "pread", "write", "pwrite", "trunc_up", "trunc_down",
	"fstat", "seek_end", "stat", "mmap_read", "mmap_write", "fsync", "rename",
	"unlink", "reopen", "verify", "fchmod", "chmod", "futimens",
};
/* relative weights */
static const int op_weight[OP_COUNT] = {
	10, 8, 10, 10, 12, 12, 4, 4, 6, 4, 4, 4, 4, 2, 4, 2, 3, 2, 2, 2, 2,
};
/* modes that keep the file readable and writable by its owner */
static const unsigned modes[] = {0600, 0640, 0644, 0660, 0664, 0666, 0700, 0750, 0755, 0611};
static uint64_t op_count[OP_COUNT];

static uint64_t rnd(void)
{
	uint64_t z = (g_rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t rnd_below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

/* Appends a line to the digest (and the log). */
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	for (int i = 0; i < n; i++) {
		g_digest ^= (uint8_t)line[i];
		g_digest *= 1099511628211ULL;
	}
	g_digest ^= '\n';
	g_digest *= 1099511628211ULL;
	if (g_log)
		fprintf(g_log, "%" PRIu64 " %s\n", g_op, line);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "hrfs_fsx: seed %" PRIu64 " op %" PRIu64 ": ", g_seed, g_op);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (g_log)
		fflush(g_log);
	exit(1);
}

static uint64_t digest_bytes(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void path_of(int name, char *out, size_t len)
{
	snprintf(out, len, "%s/c%d", g_dir, name);
}

/* ---- the model ------------------------------------------------------------- */

static int obj_new(void)
{
	for (int i = 0; i < MAX_OBJS; i++)
		if (!g_obj[i].used) {
			memset(&g_obj[i], 0, sizeof(g_obj[i]));
			g_obj[i].used = 1;
			return i;
		}
	fail("model: out of objects");
}

static void obj_maybe_free(int o)
{
	struct obj *b = &g_obj[o];
	if (b->used && !b->linked && b->nfds == 0) {
		free(b->data);
		memset(b, 0, sizeof(*b));
	}
}

static void obj_resize(int o, size_t len)
{
	struct obj *b = &g_obj[o];
	if (len > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < len)
			nc *= 2;
		b->data = realloc(b->data, nc);
		if (!b->data)
			fail("model: out of memory");
		b->cap = nc;
	}
	if (len > b->len)
		memset(b->data + b->len, 0, len - b->len);
	b->len = len;
}

/* A change of the data: the file's mtime is "now", unknown to the model. */
static void obj_touch(int o)
{
	g_obj[o].mtime_known = 0;
}

static void obj_write(int o, uint64_t off, const uint8_t *p, size_t n)
{
	obj_touch(o);
	if (off + n > g_obj[o].len)
		obj_resize(o, off + n);
	memcpy(g_obj[o].data + off, p, n);
}

static void unname(int name)
{
	int o = g_name[name];
	if (o < 0)
		return;
	g_name[name] = -1;
	g_obj[o].linked = 0;
	obj_maybe_free(o);
}

/* ---- operations -------------------------------------------------------------- */

static int pick_dsc(int want_read, int want_write)
{
	int cand[MAX_FDS], n = 0;
	for (int i = 0; i < g_fds; i++) {
		struct dsc *d = &g_dsc[i];
		if (!d->used)
			continue;
		if (want_read && d->acc == O_WRONLY)
			continue;
		if (want_write && d->acc == O_RDONLY)
			continue;
		cand[n++] = i;
	}
	return n ? cand[rnd_below((uint64_t)n)] : -1;
}

static void fill_random(uint8_t *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint64_t v = rnd();
		for (int k = 0; k < 8 && i < n; k++, i++)
			p[i] = (uint8_t)(v >> (8 * k));
	}
}

static size_t rnd_len(void)
{
	switch (rnd_below(8)) {
	case 0:
		return 1 + rnd_below(16);
	case 1:
		return 1 + rnd_below(65536);
	default:
		return 1 + rnd_below(4096);
	}
}

static uint64_t rnd_off(size_t cur)
{
	switch (rnd_below(4)) {
	case 0:
		return cur; /* the end */
	case 1:
		return cur ? rnd_below(cur) : 0;
	default:
		return rnd_below(g_maxsize / 2);
	}
}

static void do_close(int i)
{
	struct dsc *d = &g_dsc[i];
	int rc = close(d->fd);
	note("close d%d -> %d", i, rc == 0 ? 0 : -errno);
	if (rc != 0)
		fail("close d%d: %s", i, strerror(errno));
	g_obj[d->obj].nfds--;
	obj_maybe_free(d->obj);
	memset(d, 0, sizeof(*d));
}

static int free_slot(void)
{
	for (int i = 0; i < g_fds; i++)
		if (!g_dsc[i].used)
			return i;
	return -1;
}

static void do_open(int name, int flags_choice)
{
	char p[4096];
	int slot = free_slot();
	if (slot < 0) {
		do_close((int)rnd_below((uint64_t)g_fds));
		slot = free_slot();
	}
	static const int accs[3] = {O_RDONLY, O_WRONLY, O_RDWR};
	int acc = accs[flags_choice % 3];
	int flags = acc;
	if (rnd_below(2))
		flags |= O_CREAT;
	if ((flags & O_CREAT) && rnd_below(6) == 0)
		flags |= O_EXCL;
	if (acc != O_RDONLY && rnd_below(5) == 0)
		flags |= O_TRUNC;
	if (acc != O_RDONLY && rnd_below(4) == 0)
		flags |= O_APPEND;
	path_of(name, p, sizeof(p));
	int fd = open(p, flags, 0644);
	int err = fd < 0 ? errno : 0;
	note("open c%d flags %s%s%s%s%s -> %s", name,
	     acc == O_RDONLY ? "r" : acc == O_WRONLY ? "w" : "rw", (flags & O_CREAT) ? "+creat" : "",
	     (flags & O_EXCL) ? "+excl" : "", (flags & O_TRUNC) ? "+trunc" : "",
	     (flags & O_APPEND) ? "+append" : "", err ? strerror(err) : "ok");
	int o = g_name[name];
	int expect;
	if (o < 0)
		expect = (flags & O_CREAT) ? 0 : ENOENT;
	else
		expect = ((flags & O_CREAT) && (flags & O_EXCL)) ? EEXIST : 0;
	if (err != expect)
		fail("open c%d flags 0%o: got %s, model says %s", name, flags,
		     err ? strerror(err) : "success", expect ? strerror(expect) : "success");
	if (fd < 0)
		return;
	if (o < 0) {
		o = obj_new();
		g_obj[o].linked = 1;
		g_obj[o].mode = 0644; /* umask 022 */
		g_name[name] = o;
	} else if (flags & O_TRUNC) {
		g_obj[o].len = 0;
		obj_touch(o);
	}
	struct dsc *d = &g_dsc[slot];
	d->used = 1;
	d->fd = fd;
	d->obj = o;
	d->acc = acc;
	d->append = (flags & O_APPEND) != 0;
	d->pos = 0;
	g_obj[o].nfds++;
}

static void check_read(const char *what, int i, uint64_t off, size_t want, ssize_t got)
{
	struct obj *b = &g_obj[g_dsc[i].obj];
	size_t avail = off >= b->len ? 0 : b->len - off;
	size_t exp = want < avail ? want : avail;
	note("%s d%d off %" PRIu64 " len %zu -> %zd digest %016" PRIx64, what, i, off, want, got,
	     got > 0 ? digest_bytes(g_buf, (size_t)got) : 0);
	if (got < 0)
		fail("%s d%d: %s", what, i, strerror(errno));
	if ((size_t)got != exp)
		fail("%s d%d off %" PRIu64 " len %zu: got %zd bytes, model says %zu (size %zu)",
		     what, i, off, want, got, exp, b->len);
	if (exp && memcmp(g_buf, b->data + off, exp) != 0) {
		size_t k = 0;
		while (g_buf[k] == b->data[off + k])
			k++;
		fail("%s d%d off %" PRIu64 ": bytes differ from the model at offset %" PRIu64
		     " (got 0x%02x, model 0x%02x; size %zu)",
		     what, i, off, off + k, g_buf[k], b->data[off + k], b->len);
	}
}

static void do_read(int i, int positional)
{
	struct dsc *d = &g_dsc[i];
	size_t want = rnd_len();
	if (positional) {
		uint64_t off = rnd_off(g_obj[d->obj].len);
		ssize_t n = pread(d->fd, g_buf, want, (off_t)off);
		check_read("pread", i, off, want, n);
	} else {
		ssize_t n = read(d->fd, g_buf, want);
		check_read("read", i, d->pos, want, n);
		if (n > 0)
			d->pos += (uint64_t)n;
	}
}

static void do_write(int i, int positional)
{
	struct dsc *d = &g_dsc[i];
	struct obj *b = &g_obj[d->obj];
	size_t n = rnd_len();
	uint64_t off = positional ? rnd_off(b->len) : d->pos;
	/* Linux: with O_APPEND every write, pwrite too, goes to the end */
	uint64_t at = d->append ? b->len : off;
	if (at + n > g_maxsize)
		n = at >= g_maxsize ? 1 : g_maxsize - at;
	fill_random(g_buf, n);
	ssize_t got = positional ? pwrite(d->fd, g_buf, n, (off_t)off) : write(d->fd, g_buf, n);
	note("%s d%d off %" PRIu64 " len %zu -> %zd", positional ? "pwrite" : "write", i, at, n,
	     got < 0 ? -errno : got);
	if (got < 0)
		fail("write d%d: %s", i, strerror(errno));
	if ((size_t)got != n)
		fail("write d%d: short write %zd of %zu", i, got, n);
	obj_write(d->obj, at, g_buf, n);
	if (!positional)
		d->pos = at + n;
}

static void do_truncate(int i, int up)
{
	struct dsc *d = &g_dsc[i];
	struct obj *b = &g_obj[d->obj];
	uint64_t size;
	if (up)
		size = b->len + rnd_below(b->len + 1 < g_maxsize - b->len ? b->len + 1 : 4096) + 1;
	else
		size = b->len ? rnd_below(b->len) : 0;
	if (size > g_maxsize)
		size = g_maxsize;
	int rc = ftruncate(d->fd, (off_t)size);
	note("ftruncate d%d %" PRIu64 " -> %d", i, size, rc ? -errno : 0);
	if (rc)
		fail("ftruncate d%d %" PRIu64 ": %s", i, size, strerror(errno));
	obj_resize(d->obj, (size_t)size);
	obj_touch(d->obj);
	struct stat st;
	if (fstat(d->fd, &st) != 0 || (uint64_t)st.st_size != size)
		fail("fstat after ftruncate d%d to %" PRIu64 ": size %lld", i, size,
		     (long long)st.st_size);
}

/* mode, and mtime while the model knows it */
static void check_attrs(const char *what, const struct stat *st, int o)
{
	struct obj *b = &g_obj[o];
	note("%s mode %o mtime %s%lld.%09ld", what, st->st_mode & 07777,
	     b->mtime_known ? "" : "(unknown) ", b->mtime_known ? (long long)st->st_mtim.tv_sec : 0LL,
	     b->mtime_known ? st->st_mtim.tv_nsec : 0L);
	if ((st->st_mode & 07777) != b->mode)
		fail("%s: mode 0%o, model says 0%o", what, st->st_mode & 07777, b->mode);
	if (b->mtime_known && (st->st_mtim.tv_sec != b->mtime.tv_sec ||
			       st->st_mtim.tv_nsec != b->mtime.tv_nsec))
		fail("%s: mtime %lld.%09ld, model says %lld.%09ld", what,
		     (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, (long long)b->mtime.tv_sec,
		     b->mtime.tv_nsec);
}

static void do_fstat(int i)
{
	struct stat st;
	struct dsc *d = &g_dsc[i];
	int rc = fstat(d->fd, &st);
	note("fstat d%d -> %d size %lld", i, rc ? -errno : 0, rc ? -1LL : (long long)st.st_size);
	if (rc)
		fail("fstat d%d: %s", i, strerror(errno));
	if ((size_t)st.st_size != g_obj[d->obj].len)
		fail("fstat d%d: size %lld, model says %zu", i, (long long)st.st_size,
		     g_obj[d->obj].len);
	if (!S_ISREG(st.st_mode))
		fail("fstat d%d: not a regular file (mode 0%o)", i, st.st_mode);
	check_attrs("fstat", &st, d->obj);
	int linked = g_obj[d->obj].linked;
	if ((st.st_nlink != 0) != linked)
		fail("fstat d%d: nlink %lu, model says %s", i, (unsigned long)st.st_nlink,
		     linked ? "linked" : "unlinked");
}

static void do_seek_end(int i)
{
	struct dsc *d = &g_dsc[i];
	off_t r = lseek(d->fd, 0, SEEK_END);
	note("lseek_end d%d -> %lld", i, r < 0 ? (long long)-errno : (long long)r);
	if (r < 0)
		fail("lseek d%d: %s", i, strerror(errno));
	if ((size_t)r != g_obj[d->obj].len)
		fail("lseek(SEEK_END) d%d: %lld, model says %zu", i, (long long)r,
		     g_obj[d->obj].len);
	d->pos = (uint64_t)r;
	/* and back somewhere, so reads continue from a random place */
	uint64_t to = rnd_below(g_obj[d->obj].len + 1);
	if (lseek(d->fd, (off_t)to, SEEK_SET) != (off_t)to)
		fail("lseek d%d to %" PRIu64 ": %s", i, to, strerror(errno));
	d->pos = to;
	note("lseek_set d%d %" PRIu64, i, to);
}

static void do_stat(int name)
{
	char p[4096];
	struct stat st;
	path_of(name, p, sizeof(p));
	int rc = stat(p, &st);
	int err = rc ? errno : 0;
	note("stat c%d -> %s size %lld", name, err ? strerror(err) : "ok",
	     rc ? -1LL : (long long)st.st_size);
	int o = g_name[name];
	if (o < 0) {
		if (err != ENOENT)
			fail("stat c%d: expected ENOENT, got %s", name, err ? strerror(err) : "success");
		return;
	}
	if (err)
		fail("stat c%d: %s", name, strerror(err));
	if ((size_t)st.st_size != g_obj[o].len)
		fail("stat c%d: size %lld, model says %zu", name, (long long)st.st_size,
		     g_obj[o].len);
	check_attrs("stat", &st, o);
}

static void do_fchmod(int i)
{
	unsigned mode = modes[rnd_below(sizeof(modes) / sizeof(modes[0]))];
	int rc = fchmod(g_dsc[i].fd, mode);
	note("fchmod d%d %o -> %d", i, mode, rc ? -errno : 0);
	if (rc)
		fail("fchmod d%d: %s", i, strerror(errno));
	g_obj[g_dsc[i].obj].mode = mode;
}

static void do_chmod(int name)
{
	char p[4096];
	unsigned mode = modes[rnd_below(sizeof(modes) / sizeof(modes[0]))];
	path_of(name, p, sizeof(p));
	int rc = chmod(p, mode);
	int err = rc ? errno : 0;
	note("chmod c%d %o -> %s", name, mode, err ? strerror(err) : "ok");
	int expect = g_name[name] < 0 ? ENOENT : 0;
	if (err != expect)
		fail("chmod c%d: got %s, model says %s", name, err ? strerror(err) : "success",
		     expect ? strerror(expect) : "success");
	if (!err)
		g_obj[g_name[name]].mode = mode;
}

static void do_futimens(int i)
{
	struct timespec ts[2];
	for (int k = 0; k < 2; k++) {
		ts[k].tv_sec = (time_t)(946684800 + rnd_below(1000000000));
		ts[k].tv_nsec = (long)rnd_below(1000000000);
	}
	int rc = futimens(g_dsc[i].fd, ts);
	note("futimens d%d %lld.%09ld -> %d", i, (long long)ts[1].tv_sec, ts[1].tv_nsec,
	     rc ? -errno : 0);
	if (rc)
		fail("futimens d%d: %s", i, strerror(errno));
	struct obj *b = &g_obj[g_dsc[i].obj];
	b->mtime = ts[1];
	b->mtime_known = 1;
}

static void do_mmap(int i, int write)
{
	struct dsc *d = &g_dsc[i];
	struct obj *b = &g_obj[d->obj];
	if (b->len == 0) {
		note("mmap d%d skipped (empty)", i);
		return;
	}
	size_t maplen = b->len;
	int prot = PROT_READ | (write ? PROT_WRITE : 0);
	uint8_t *m = mmap(NULL, maplen, prot, MAP_SHARED, d->fd, 0);
	if (m == MAP_FAILED)
		fail("mmap d%d (%zu bytes, %s): %s", i, maplen, write ? "rw" : "r", strerror(errno));
	uint64_t off = rnd_below(maplen);
	size_t n = 1 + rnd_below(maplen - off < 8192 ? maplen - off : 8192);
	if (write) {
		fill_random(g_buf, n);
		memcpy(m + off, g_buf, n);
		memcpy(b->data + off, g_buf, n);
		obj_touch(d->obj);
		int sync = rnd_below(2) == 0;
		if (sync && msync(m, maplen, MS_SYNC) != 0)
			fail("msync d%d: %s", i, strerror(errno));
		note("mmap_write d%d off %" PRIu64 " len %zu%s", i, off, n, sync ? " msync" : "");
	} else {
		memcpy(g_buf2, m + off, n);
		note("mmap_read d%d off %" PRIu64 " len %zu digest %016" PRIx64, i, off, n,
		     digest_bytes(g_buf2, n));
		if (memcmp(g_buf2, b->data + off, n) != 0)
			fail("mmap read d%d off %" PRIu64 " len %zu: differs from the model", i, off, n);
	}
	if (munmap(m, maplen) != 0)
		fail("munmap: %s", strerror(errno));
}

static void do_fsync(int i)
{
	int rc = fsync(g_dsc[i].fd);
	note("fsync d%d -> %d", i, rc ? -errno : 0);
	if (rc)
		fail("fsync d%d: %s", i, strerror(errno));
}

static void do_rename(int a, int b)
{
	char pa[4096], pb[4096];
	path_of(a, pa, sizeof(pa));
	path_of(b, pb, sizeof(pb));
	int rc = rename(pa, pb);
	int err = rc ? errno : 0;
	note("rename c%d c%d -> %s", a, b, err ? strerror(err) : "ok");
	int expect = g_name[a] < 0 ? ENOENT : 0;
	if (err != expect)
		fail("rename c%d c%d: got %s, model says %s", a, b, err ? strerror(err) : "success",
		     expect ? strerror(expect) : "success");
	if (err || a == b)
		return;
	int o = g_name[a];
	unname(b);
	g_name[b] = o;
	g_name[a] = -1;
}

static void do_unlink(int name)
{
	char p[4096];
	path_of(name, p, sizeof(p));
	int rc = unlink(p);
	int err = rc ? errno : 0;
	note("unlink c%d -> %s", name, err ? strerror(err) : "ok");
	int expect = g_name[name] < 0 ? ENOENT : 0;
	if (err != expect)
		fail("unlink c%d: got %s, model says %s", name, err ? strerror(err) : "success",
		     expect ? strerror(expect) : "success");
	if (!err)
		unname(name);
}

/* Reads name whole through a new descriptor and compares. */
static void verify_name(int name)
{
	char p[4096];
	path_of(name, p, sizeof(p));
	int o = g_name[name];
	int fd = open(p, O_RDONLY);
	if (fd < 0) {
		note("verify c%d -> %s", name, strerror(errno));
		if (o >= 0 || errno != ENOENT)
			fail("verify c%d: open: %s", name, strerror(errno));
		return;
	}
	if (o < 0)
		fail("verify c%d: exists, model says it does not", name);
	/* compared piece by piece: a file longer than any buffer is fine */
	size_t got = 0, cap = g_maxsize + 65536;
	uint64_t h = 1469598103934665603ULL;
	int differs = 0;
	for (;;) {
		ssize_t n = read(fd, g_buf2, cap);
		if (n < 0)
			fail("verify c%d: read: %s", name, strerror(errno));
		if (n == 0)
			break;
		for (ssize_t k = 0; k < n; k++) {
			h ^= g_buf2[k];
			h *= 1099511628211ULL;
		}
		if (got + (size_t)n > g_obj[o].len ||
		    memcmp(g_buf2, g_obj[o].data + got, (size_t)n) != 0)
			differs = 1;
		got += (size_t)n;
	}
	close(fd);
	note("verify c%d -> %zu bytes digest %016" PRIx64, name, got, h);
	if (got != g_obj[o].len || differs)
		fail("verify c%d: %zu bytes read, model has %zu%s", name, got, g_obj[o].len,
		     got == g_obj[o].len ? " (contents differ)" : "");
}

static int pick_op(void)
{
	int total = 0;
	for (int i = 0; i < OP_COUNT; i++)
		total += op_weight[i];
	int r = (int)rnd_below((uint64_t)total);
	for (int i = 0; i < OP_COUNT; i++) {
		if (r < op_weight[i])
			return i;
		r -= op_weight[i];
	}
	return OP_OPEN;
}

static void step(void)
{
	int op = pick_op(), i;
	int name = (int)rnd_below((uint64_t)g_files);
	switch (op) {
	case OP_OPEN:
		do_open(name, (int)rnd_below(3));
		break;
	case OP_CLOSE:
		if ((i = pick_dsc(0, 0)) < 0)
			goto none;
		do_close(i);
		break;
	case OP_READ:
	case OP_PREAD:
		if ((i = pick_dsc(1, 0)) < 0)
			goto none;
		do_read(i, op == OP_PREAD);
		break;
	case OP_WRITE:
	case OP_PWRITE:
		if ((i = pick_dsc(0, 1)) < 0)
			goto none;
		do_write(i, op == OP_PWRITE);
		break;
	case OP_TRUNC_UP:
	case OP_TRUNC_DOWN:
		if ((i = pick_dsc(0, 1)) < 0)
			goto none;
		do_truncate(i, op == OP_TRUNC_UP);
		break;
	case OP_FSTAT:
		if ((i = pick_dsc(0, 0)) < 0)
			goto none;
		do_fstat(i);
		break;
	case OP_SEEK_END:
		if ((i = pick_dsc(0, 0)) < 0)
			goto none;
		do_seek_end(i);
		break;
	case OP_STAT:
		do_stat(name);
		break;
	case OP_MMAP_READ:
		if ((i = pick_dsc(1, 0)) < 0)
			goto none;
		do_mmap(i, 0);
		break;
	case OP_MMAP_WRITE:
		/* a shared writable mapping needs a descriptor open for both */
		if ((i = pick_dsc(1, 1)) < 0)
			goto none;
		do_mmap(i, 1);
		break;
	case OP_FSYNC:
		if ((i = pick_dsc(0, 1)) < 0)
			goto none;
		do_fsync(i);
		break;
	case OP_RENAME:
		do_rename(name, (int)rnd_below((uint64_t)g_files));
		break;
	case OP_UNLINK:
		do_unlink(name);
		break;
	case OP_REOPEN:
		if ((i = pick_dsc(0, 0)) < 0)
			goto none;
		{
			/* close, then open whatever name its file has now */
			int o = g_dsc[i].obj, n = -1;
			for (int k = 0; k < g_files; k++)
				if (g_name[k] == o)
					n = k;
			do_close(i);
			do_open(n >= 0 ? n : name, (int)rnd_below(3));
		}
		break;
	case OP_VERIFY:
		verify_name(name);
		break;
	case OP_FCHMOD:
		if ((i = pick_dsc(0, 0)) < 0)
			goto none;
		do_fchmod(i);
		break;
	case OP_CHMOD:
		do_chmod(name);
		break;
	case OP_UTIMES:
		/* futimens needs ownership (we own the file) or write access */
		if ((i = pick_dsc(0, 0)) < 0)
			goto none;
		do_futimens(i);
		break;
	}
	op_count[op]++;
	return;
none:
	/* nothing suitable open: open something instead */
	do_open(name, 2);
	op_count[OP_OPEN]++;
}

static void usage(void)
{
	fprintf(stderr, "usage: hrfs_fsx DIR [-s SEED] [-n OPS] [-f FILES] [-d FDS] [-S MAXSIZE] "
			"[-l LOG]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *logpath = NULL;
	int opt;
	g_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 16);
	while ((opt = getopt(argc, argv, "s:n:f:d:S:l:")) != -1) {
		switch (opt) {
		case 's':
			g_seed = strtoull(optarg, NULL, 0);
			break;
		case 'n':
			g_ops = strtoull(optarg, NULL, 0);
			break;
		case 'f':
			g_files = atoi(optarg);
			break;
		case 'd':
			g_fds = atoi(optarg);
			break;
		case 'S':
			g_maxsize = strtoull(optarg, NULL, 0);
			break;
		case 'l':
			logpath = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || g_files < 1 || g_files > MAX_FILES || g_fds < 1 ||
	    g_fds > MAX_FDS || g_maxsize < 4096)
		usage();
	g_dir = argv[optind];
	g_rng = g_seed;
	g_pagesize = sysconf(_SC_PAGESIZE);
	g_buf = malloc(g_maxsize + 65536);
	g_buf2 = malloc(g_maxsize + 65536);
	if (!g_buf || !g_buf2)
		return 1;
	if (logpath && !(g_log = fopen(logpath, "w"))) {
		perror(logpath);
		return 2;
	}
	for (int i = 0; i < MAX_FILES; i++)
		g_name[i] = -1;
	umask(022);
	/* stderr first: the seed is known even if the run dies */
	fprintf(stderr, "hrfs_fsx: seed %" PRIu64 ", %" PRIu64 " operations on %d files in %s\n",
		g_seed, g_ops, g_files, g_dir);
	for (g_op = 1; g_op <= g_ops; g_op++)
		step();
	for (int i = 0; i < g_fds; i++)
		if (g_dsc[i].used)
			do_close(i);
	for (int n = 0; n < g_files; n++)
		verify_name(n);
	if (g_log)
		fclose(g_log);
	printf("ops:");
	for (int i = 0; i < OP_COUNT; i++)
		printf(" %s=%" PRIu64, op_names[i], op_count[i]);
	printf("\nseed %" PRIu64 " ops %" PRIu64 " digest %016" PRIx64 "\n", g_seed, g_ops, g_digest);
	return 0;
}
