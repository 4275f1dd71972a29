/* test_crash.c — crashes and damage, through the public API:
 * - kill -9 at random moments of a writer process (durability os, 35
 *   rounds on one data dir): every acknowledged put survives, and every
 *   row mutation is all-or-nothing;
 * - power loss in fsync mode (30 rounds): the child reports every fsync the
 *   engine makes (through a test I/O seam, hr_tio.h: path and size), the
 *   parent cuts each WAL
 *   segment back to its last synced size, and every put acknowledged as
 *   durable survives; the same in durability os for HR_MUT_SYNC puts and for
 *   plain puts once a later hr_sync() returned (the FUSE fsync);
 * - torn and corrupted WAL tails, in each recovery mode: a torn tail of the
 *   newest segment is trimmed, other damage refuses the open (tolerate_tail)
 *   or recovers a prefix (point_in_time) or all but the bad record
 *   (skip_corrupt), and writes after the recovery survive later replays;
 * - corrupted store-file blocks: -EIO or an OFFLINE region, never wrong data;
 * - leftovers of a crash in flush (temp and unreferenced files, directories
 *   of regions and families LMDB does not know) are removed, referenced
 *   files kept, anything recovery does not understand moved to lost/; a
 *   missing referenced file makes the region OFFLINE, not silently empty. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "engine/hr_format.h" /* WAL record header length */
#include "engine/hr_server.h" /* hr_server_open_io */
#include "engine/hr_util.h"   /* hr_mono_ns */
#include "hr_etest.h"
#include "hr_tio.h"

static char g_dir[4096];

/* ---- the rows: key and values derived from the id ------------------------- */

static void k_row(uint64_t id, char *row) { snprintf(row, 24, "k%010" PRIu64, id); }

static size_t k_val(uint64_t id, char *v)
{
	size_t n = (size_t)snprintf(v, 64, "val-%" PRIu64 "-", id);
	size_t len = 24 + (size_t)(id * 37 % 200);
	for (size_t i = n; i < len; i++)
		v[i] = (char)('A' + (id + i) % 23);
	return len;
}

/* one mutation: a:v = k_val(id), b:w = "w<id>" */
static int k_write(hr_server *s, uint64_t id, unsigned flags)
{
	char row[24], v[256], w[32];
	k_row(id, row);
	size_t vl = k_val(id, v);
	int wl = snprintf(w, sizeof(w), "w%" PRIu64, id);
	hr_mcell c[2] = {{"a", "v", 1, HR_TS_NOW, HR_PUT, v, vl},
			 {"b", "w", 1, HR_TS_NOW, HR_PUT, w, (size_t)wl}};
	return hr_mutate(s, "c", row, strlen(row), c, 2, flags);
}

/* 1 = both cells right, 0 = neither there, -1 = wrong or half, <-1 = error */
static int k_check(hr_server *s, uint64_t id)
{
	char row[24], v[256], w[32];
	k_row(id, row);
	size_t vl = k_val(id, v);
	int wl = snprintf(w, sizeof(w), "w%" PRIu64, id);
	hr_value a, b;
	int ra = hr_get(s, "c", row, strlen(row), "a", "v", 1, HR_GET_VALUE, &a);
	int rb = hr_get(s, "c", row, strlen(row), "b", "w", 1, HR_GET_VALUE, &b);
	int res;
	if (ra == -ENOENT && rb == -ENOENT)
		res = 0;
	else if (ra < 0 && ra != -ENOENT)
		res = ra < -1 ? ra : -2;
	else if (rb < 0 && rb != -ENOENT)
		res = rb < -1 ? rb : -2;
	else if (ra == 0 && rb == 0 && a.len == vl && !memcmp(a.data, v, vl) &&
		 b.len == (size_t)wl && !memcmp(b.data, w, (size_t)wl))
		res = 1;
	else
		res = -1;
	if (ra == 0)
		free(a.data);
	if (rb == 0)
		free(b.data);
	return res;
}

static int create_c(hr_server *s) { return et_table(s, "c", "a", "b", NULL); }

/* ---- the writer child ------------------------------------------------------ */

/* M_ACK: a put acknowledged (as durable in fsync mode); M_ACK_OS: a put
 * acknowledged in os mode (pad = writer); M_DURABLE: hr_sync returned 0 after
 * the writer's puts up to val were acknowledged (pad = writer). */
enum { M_ACK = 1, M_SYNC = 2, M_READY = 3, M_ACK_OS = 4, M_DURABLE = 5 };

/* 0: every writer reports M_ACK; 1 (set before the fork): writer 0 puts with
 * HR_MUT_SYNC (M_ACK), the others put plainly and call hr_sync() every 50
 * puts (M_ACK_OS, M_DURABLE) */
static int g_child_mode;
typedef struct msg {
	uint32_t kind;
	uint32_t pad;
	uint64_t val; /* id (ACK) or size (SYNC) */
	uint64_t dev, ino; /* SYNC: the file (its name may have changed since) */
	char path[224];
} msg;

static int g_wfd = -1; /* the child's end of the pipe */

static void send_msg(uint32_t kind, uint64_t val, const char *path, const struct stat *st)
{
	msg m;
	memset(&m, 0, sizeof(m));
	m.kind = kind;
	if (kind == M_ACK_OS || kind == M_DURABLE) {
		m.pad = (uint32_t)(val >> 56);
		val &= (1ull << 56) - 1;
	}
	m.val = val;
	if (st) {
		m.dev = (uint64_t)st->st_dev;
		m.ino = (uint64_t)st->st_ino;
	}
	if (path)
		snprintf(m.path, sizeof(m.path), "%s", path);
	/* <= PIPE_BUF: atomic */
	if (write(g_wfd, &m, sizeof(m)) != (ssize_t)sizeof(m))
		_exit(3);
}

static void sync_hook(int fd)
{
	char link[64], path[PATH_MAX];
	struct stat st;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, path, sizeof(path) - 1);
	if (n <= 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	path[n] = 0;
	send_msg(M_SYNC, (uint64_t)st.st_size, path, &st);
}

typedef struct child_arg {
	hr_server *s;
	uint64_t first;
	int stride, idx;
	unsigned flags;
} child_arg;

static void *child_writer(void *p)
{
	child_arg *a = p;
	int plain = g_child_mode == 1 && a->idx > 0;
	uint64_t tag = (uint64_t)a->idx << 56;
	for (uint64_t k = 0;; k++) {
		uint64_t id = a->first + k * (uint64_t)a->stride + (uint64_t)a->idx;
		unsigned flags = g_child_mode == 1 && a->idx == 0 ? HR_MUT_SYNC : a->flags;
		int rc = k_write(a->s, id, flags);
		if (et_retryable(rc)) {
			k--;
			continue;
		}
		if (rc != 0)
			_exit(4);
		send_msg(plain ? M_ACK_OS : M_ACK, plain ? (id | tag) : id, NULL, NULL);
		if (plain && k % 50 == 49) {
			if (hr_sync(a->s) != 0)
				_exit(5);
			send_msg(M_DURABLE, id | tag, NULL, NULL);
		}
	}
	return NULL;
}

/* never returns */
static void child_main(const char *dir, int durability, uint64_t first, int nthreads, int hook)
{
	hr_config c;
	hr_server *s;
	et_config(&c, dir);
	c.durability = durability;
	c.segment_size = 128 * 1024; /* rolls, purges and forced flushes happen */
	c.max_segments = 4;
	c.sync_interval_ms = g_child_mode == 1 ? 600000 : 5; /* mode 1: no help from the timer */
	static tio t;
	tio_init(&t, dir);
	t.on_sync = hook ? sync_hook : NULL;
	if (hr_server_open_io(&c, &t.io, &s) != 0)
		_exit(2);
	send_msg(M_READY, 0, NULL, NULL);
	pthread_t th[8];
	child_arg args[8];
	for (int i = 0; i < nthreads; i++) {
		args[i] = (child_arg){s, first, nthreads, i, 0};
		pthread_create(&th[i], NULL, child_writer, &args[i]);
	}
	for (;;)
		pause();
}

typedef struct synced {
	char path[240];
	uint64_t dev, ino, size;
} synced;

typedef struct round_result {
	uint64_t *acked;
	size_t nacked, cap;
	uint64_t *pend;	  /* M_ACK_OS ids not yet covered by an M_DURABLE */
	uint32_t *pend_w; /* their writers */
	size_t npend, pend_cap;
	uint64_t nos;	  /* M_ACK_OS received */
	synced *syn;
	size_t nsyn;
	int ready;
	int child_status;
} round_result;

static void rr_free(round_result *r)
{
	free(r->pend);
	free(r->pend_w);
	free(r->acked);
	free(r->syn);
	memset(r, 0, sizeof(*r));
}

static void rr_ack(round_result *r, uint64_t id)
{
	if (r->nacked == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 1024;
		r->acked = realloc(r->acked, r->cap * sizeof(*r->acked));
		if (!r->acked)
			abort();
	}
	r->acked[r->nacked++] = id;
}

static void rr_msg(round_result *r, const msg *m)
{
	if (m->kind == M_READY) {
		r->ready = 1;
	} else if (m->kind == M_ACK) {
		rr_ack(r, m->val);
	} else if (m->kind == M_ACK_OS) {
		if (r->npend == r->pend_cap) {
			r->pend_cap = r->pend_cap ? r->pend_cap * 2 : 1024;
			r->pend = realloc(r->pend, r->pend_cap * sizeof(*r->pend));
			r->pend_w = realloc(r->pend_w, r->pend_cap * sizeof(*r->pend_w));
			if (!r->pend || !r->pend_w)
				abort();
		}
		r->pend[r->npend] = m->val;
		r->pend_w[r->npend++] = m->pad;
		r->nos++;
	} else if (m->kind == M_DURABLE) {
		/* the writer's puts up to val are durable now */
		size_t k = 0;
		for (size_t i = 0; i < r->npend; i++) {
			if (r->pend_w[i] == m->pad && r->pend[i] <= m->val) {
				rr_ack(r, r->pend[i]);
			} else {
				r->pend[k] = r->pend[i];
				r->pend_w[k++] = r->pend_w[i];
			}
		}
		r->npend = k;
	} else if (m->kind == M_SYNC) {
		for (size_t i = 0; i < r->nsyn; i++)
			if (r->syn[i].dev == m->dev && r->syn[i].ino == m->ino) {
				/* a later sync of the same file: its size then */
				r->syn[i].size = m->val;
				return;
			}
		r->syn = realloc(r->syn, (r->nsyn + 1) * sizeof(*r->syn));
		if (!r->syn)
			abort();
		snprintf(r->syn[r->nsyn].path, sizeof(r->syn[r->nsyn].path), "%s", m->path);
		r->syn[r->nsyn].size = m->val;
		r->syn[r->nsyn].dev = m->dev;
		r->syn[r->nsyn].ino = m->ino;
		r->nsyn++;
	}
}

/* Forks a writer, lets it run run_us microseconds after it is ready,
 * SIGKILLs it and collects everything it reported. */
static int run_child(const char *dir, int durability, uint64_t first, int nthreads, int hook,
		     uint64_t run_us, round_result *rr)
{
	int p[2];
	if (pipe(p) < 0)
		return -errno;
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(p[0]);
		g_wfd = p[1];
		alarm(30);
		child_main(dir, durability, first, nthreads, hook);
	}
	close(p[1]);
	uint8_t buf[sizeof(msg) * 16];
	size_t have = 0;
	uint64_t deadline = 0, start = hr_mono_ns();
	int killed = 0;
	for (;;) {
		uint64_t now = hr_mono_ns();
		if (!killed && ((deadline && now >= deadline) || now - start > 10000000000ull)) {
			kill(pid, SIGKILL);
			killed = 1;
		}
		struct pollfd pf = {p[0], POLLIN, 0};
		int to = killed ? 1000 : deadline ? (int)((deadline - now) / 1000000) + 1 : 100;
		if (poll(&pf, 1, to) < 0 && errno != EINTR)
			break;
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		ssize_t n = read(p[0], buf + have, sizeof(buf) - have);
		if (n <= 0)
			break; /* EOF: the child is dead */
		have += (size_t)n;
		size_t off = 0;
		for (; have - off >= sizeof(msg); off += sizeof(msg)) {
			msg m;
			memcpy(&m, buf + off, sizeof(m));
			rr_msg(rr, &m);
			if (m.kind == M_READY)
				deadline = hr_mono_ns() + run_us * 1000;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (!killed)
		kill(pid, SIGKILL);
	close(p[0]);
	waitpid(pid, &rr->child_status, 0);
	return 0;
}

static int child_died_of_kill(const round_result *rr)
{
	return WIFSIGNALED(rr->child_status) && WTERMSIG(rr->child_status) == SIGKILL;
}

/* ---- kill -9 in durability "os" ----------------------------------------- */

#define KILL_ROUNDS 35
#define POWER_ROUNDS 30

static void t_kill9_os(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/kill", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(create_c(s), 0);
	CHECK_RC(hr_server_close(s), 0);
	uint64_t seed = 42, first = 0, total_acked = 0;
	uint64_t *all = NULL;
	size_t nall = 0;
	int failed = 0;
	for (int round = 0; round < KILL_ROUNDS && !failed; round++) {
		round_result rr = {0};
		uint64_t run_us = 1000 + et_rand(&seed) % 60000;
		int nth = 1 + (int)(et_rand(&seed) % 3);
		CHECK_RC(run_child(dir, HR_DURABILITY_OS, first, nth, 0, run_us, &rr), 0);
		if (!rr.ready || !child_died_of_kill(&rr)) {
			fprintf(stdout, "# round %d: child not ready or not killed (status 0x%x)\n",
				round, rr.child_status);
			rr_free(&rr);
			failed = 1;
			break;
		}
		s = et_open(dir);
		if (!s) {
			rr_free(&rr);
			failed = 1;
			break;
		}
		uint64_t maxid = first;
		for (size_t i = 0; i < rr.nacked; i++) {
			int c = k_check(s, rr.acked[i]);
			if (c != 1) {
				fprintf(stdout, "# round %d: acknowledged id %" PRIu64 ": check %d\n",
					round, rr.acked[i], c);
				failed = 1;
				break;
			}
			if (rr.acked[i] > maxid)
				maxid = rr.acked[i];
		}
		/* the ones in flight at the kill: all or nothing */
		for (uint64_t id = maxid + 1; id < maxid + 16 && !failed; id++) {
			int c = k_check(s, id);
			if (c < 0) {
				fprintf(stdout, "# round %d: unacknowledged id %" PRIu64 " is half there (%d)\n",
					round, id, c);
				failed = 1;
			}
		}
		/* every 7 rounds: everything acknowledged in all rounds so far */
		all = realloc(all, (nall + rr.nacked + 1) * sizeof(*all));
		if (rr.nacked)
			memcpy(all + nall, rr.acked, rr.nacked * sizeof(*all));
		nall += rr.nacked;
		if (round % 7 == 6 || round == KILL_ROUNDS - 1)
			for (size_t i = 0; i < nall && !failed; i++)
				if (k_check(s, all[i]) != 1) {
					fprintf(stdout, "# round %d: id %" PRIu64 " from an earlier round lost\n",
						round, all[i]);
					failed = 1;
				}
		total_acked += rr.nacked;
		first = maxid + 64;
		hr_server_close(s);
		rr_free(&rr);
	}
	free(all);
	fprintf(stdout, "# %" PRIu64 " acknowledged puts over %d kills\n", total_acked, KILL_ROUNDS);
	CHECK(!failed);
}

/* ---- power loss in durability "fsync" ------------------------------------ */

typedef struct seg {
	char path[PATH_MAX];
	uint64_t size, dev, ino;
} seg;

/* the *.wal files of dir/wal with their sizes */
static size_t list_wal(const char *dir, seg *out, size_t max)
{
	char wd[PATH_MAX];
	snprintf(wd, sizeof(wd), "%s/wal", dir);
	DIR *d = opendir(wd);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)) && n < max) {
		size_t l = strlen(de->d_name);
		if (l < 4 || strcmp(de->d_name + l - 4, ".wal") != 0)
			continue;
		snprintf(out[n].path, sizeof(out[n].path), "%s/%s", wd, de->d_name);
		struct stat st;
		if (stat(out[n].path, &st) == 0) {
			out[n].size = (uint64_t)st.st_size;
			out[n].dev = (uint64_t)st.st_dev;
			out[n].ino = (uint64_t)st.st_ino;
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

/* rounds of: fork a writer, SIGKILL it, cut every WAL segment back to its
 * last synced size, reopen, check every put acknowledged as durable */
static void power_loss(const char *name, int durability, int mode, int rounds)
{
	char dir[4200];
	g_child_mode = mode;
	snprintf(dir, sizeof(dir), "%s/%s", g_dir, name);
	CHECK_RC(mkdir(dir, 0755), 0);
	/* the realpath: /proc/self/fd links are canonical */
	char real[PATH_MAX];
	CHECK(realpath(dir, real));
	hr_server *s = et_open(real);
	CHECK(s);
	CHECK_RC(create_c(s), 0);
	CHECK_RC(hr_server_close(s), 0);
	uint64_t seed = 4242, first = 0, total_acked = 0, dropped = 0, zeroed = 0, cut = 0;
	uint64_t *all = NULL;
	size_t nall = 0;
	int failed = 0;
	static seg before[1024], after[1024];
	uint64_t plain_acks = 0;
	for (int round = 0; round < rounds && !failed; round++) {
		size_t nb = list_wal(real, before, 1024);
		round_result rr = {0};
		uint64_t run_us = 2000 + et_rand(&seed) % 40000;
		int nth = (mode == 1 ? 2 : 1) + (int)(et_rand(&seed) % 3);
		CHECK_RC(run_child(real, durability, first, nth, 1, run_us, &rr), 0);
		plain_acks += rr.nos;
		if (!rr.ready || !child_died_of_kill(&rr)) {
			fprintf(stdout, "# round %d: child not ready or not killed (status 0x%x)\n",
				round, rr.child_status);
			rr_free(&rr);
			failed = 1;
			break;
		}
		/* power loss: each segment keeps what was synced (or what it had
		 * before this child ran: the parent closed it cleanly) */
		size_t na = list_wal(real, after, 1024);
		if (getenv("HR_TEST_DEBUG")) {
			for (size_t j = 0; j < rr.nsyn; j++)
				fprintf(stdout, "# synced %s ino %" PRIu64 " size %" PRIu64 "\n",
					rr.syn[j].path, rr.syn[j].ino, rr.syn[j].size);
			for (size_t j = 0; j < na; j++)
				fprintf(stdout, "# on disk %s ino %" PRIu64 " size %" PRIu64 "\n",
					after[j].path, after[j].ino, after[j].size);
		}
		for (size_t i = 0; i < na; i++) {
			uint64_t keep = 0;
			int known = 0;
			for (size_t j = 0; j < nb; j++)
				if (!strcmp(before[j].path, after[i].path)) {
					keep = before[j].size;
					known = 1;
				}
			for (size_t j = 0; j < rr.nsyn; j++)
				if (rr.syn[j].dev == after[i].dev && rr.syn[j].ino == after[i].ino) {
					if (rr.syn[j].size > keep)
						keep = rr.syn[j].size;
					known = 1;
				}
			if (!known)
				zeroed++;
			if (keep < after[i].size) {
				dropped += after[i].size - keep;
				cut++;
				if (truncate(after[i].path, (off_t)keep) < 0) {
					fprintf(stdout, "# truncate %s: %s\n", after[i].path, strerror(errno));
					failed = 1;
				}
			}
		}
		s = et_open(real);
		if (!s) {
			rr_free(&rr);
			failed = 1;
			break;
		}
		uint64_t maxid = first;
		for (size_t i = 0; i < rr.nacked && !failed; i++) {
			int c = k_check(s, rr.acked[i]);
			if (c != 1) {
				fprintf(stdout,
					"# round %d: id %" PRIu64 " acknowledged as durable: check %d\n",
					round, rr.acked[i], c);
				failed = 1;
			}
			if (rr.acked[i] > maxid)
				maxid = rr.acked[i];
		}
		/* acknowledged, not yet synced: may be there or not, but whole */
		for (size_t i = 0; i < rr.npend && !failed; i++) {
			if (k_check(s, rr.pend[i]) < 0) {
				fprintf(stdout, "# round %d: id %" PRIu64 " is half there\n", round,
					rr.pend[i]);
				failed = 1;
			}
			if (rr.pend[i] > maxid)
				maxid = rr.pend[i];
		}
		for (uint64_t id = maxid + 1; id < maxid + 16 && !failed; id++)
			if (k_check(s, id) < 0) {
				fprintf(stdout, "# round %d: unacknowledged id %" PRIu64 " is half there\n",
					round, id);
				failed = 1;
			}
		all = realloc(all, (nall + rr.nacked + 1) * sizeof(*all));
		if (rr.nacked)
			memcpy(all + nall, rr.acked, rr.nacked * sizeof(*all));
		nall += rr.nacked;
		if (round % 10 == 9)
			for (size_t i = 0; i < nall && !failed; i++)
				if (k_check(s, all[i]) != 1) {
					fprintf(stdout, "# round %d: id %" PRIu64 " from an earlier round lost\n",
						round, all[i]);
					failed = 1;
				}
		total_acked += rr.nacked;
		first = maxid + 64;
		hr_server_close(s);
		rr_free(&rr);
	}
	free(all);
	fprintf(stdout,
		"# %" PRIu64 " durable puts over %d power losses; %" PRIu64
		" unsynced bytes dropped in %" PRIu64 " cuts, %" PRIu64 " never-synced segments\n",
		total_acked, rounds, dropped, cut, zeroed);
	if (mode == 1)
		fprintf(stdout, "# (os mode: %" PRIu64 " plain puts acknowledged, durable only once a later hr_sync returned)\n",
			plain_acks);
	CHECK(!failed);
}

static void t_power_loss_fsync(void) { power_loss("power", HR_DURABILITY_FSYNC, 0, POWER_ROUNDS); }

/* durability os: puts with HR_MUT_SYNC, and plain puts followed by hr_sync()
 * (the FUSE layer's fsync), are durable once acknowledged */
static void t_power_loss_os_explicit_sync(void) { power_loss("poweros", HR_DURABILITY_OS, 1, 15); }

/* ---- torn and corrupted WAL tails ----------------------------------------- */

#define TORN_N 200

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[9000];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static int flip_byte(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t b;
	if (fd < 0)
		return -errno;
	int rc = pread(fd, &b, 1, (off_t)off) == 1 ? 0 : -EIO;
	b ^= 0x5a;
	if (rc == 0 && pwrite(fd, &b, 1, (off_t)off) != 1)
		rc = -EIO;
	close(fd);
	return rc;
}

/* the largest *.wal of dir */
static int biggest_wal(const char *dir, seg *out)
{
	static seg v[1024];
	size_t n = list_wal(dir, v, 1024);
	if (!n)
		return -ENOENT;
	*out = v[0];
	for (size_t i = 1; i < n; i++)
		if (v[i].size > out->size)
			*out = v[i];
	return 0;
}

/* The rows present must be ids [0, k): returns k, or -1 if not a prefix. */
static int present_prefix(hr_server *s, int n)
{
	int k = 0;
	while (k < n && k_check(s, (uint64_t)k) == 1)
		k++;
	for (int i = k; i < n; i++)
		if (k_check(s, (uint64_t)i) != 0)
			return -1;
	return k;
}

typedef enum { D_TRUNC, D_FLIP, D_APPEND_ZEROS } damage_kind;

static hr_server *open_mode(const char *dir, int mode)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	c.wal_recovery = mode;
	int lvl = hr_log_get_level();
	hr_log_set_level(-1); /* the damage is reported; the test checks what came of it */
	int rc = hr_server_open(&c, &s);
	hr_log_set_level(lvl);
	return rc < 0 ? NULL : s;
}

/* Rows [0, n) that are whole (1), absent (0); -1 if any is half or wrong. */
static int count_whole(hr_server *s, int n, int *absent)
{
	int whole = 0;
	*absent = 0;
	for (int i = 0; i < n; i++) {
		int c = k_check(s, (uint64_t)i);
		if (c == 1)
			whole++;
		else if (c == 0)
			(*absent)++;
		else
			return -1;
	}
	return whole;
}

/* Damages a copy of base's data segment and reopens it in a recovery mode.
 * newest: the segments after it (empty, made by later clean opens) are
 * removed first, so the damage is at the newest segment, as after a crash.
 * min_k < 0: the open must be refused; else the rows must be a prefix
 * [0, k) with min_k <= k <= max_k (prefix 0: any whole rows, counted into
 * k, none half). The rows survive writes and two more reopens in the
 * default mode (damaged segments were moved aside, never read again). */
static void torn_case(const char *base, const char *name, damage_kind kind, int64_t where,
		      int newest, int mode, int min_k, int max_k, int prefix)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/%s", g_dir, name);
	CHECK_RC(sh("cp -a '%s' '%s'", base, dir), 0);
	seg w;
	CHECK_RC(biggest_wal(dir, &w), 0);
	if (newest) {
		static seg v[1024];
		size_t n = list_wal(dir, v, 1024);
		for (size_t i = 0; i < n; i++)
			if (strcmp(v[i].path, w.path) > 0)
				CHECK_RC(unlink(v[i].path), 0);
	}
	uint64_t off = where >= 0 ? (uint64_t)where : w.size + (uint64_t)where;
	if (kind == D_TRUNC) {
		CHECK_RC(truncate(w.path, (off_t)off), 0);
	} else if (kind == D_FLIP) {
		CHECK_RC(flip_byte(w.path, off), 0);
	} else {
		FILE *f = fopen(w.path, "ab");
		CHECK(f);
		static const char zeros[100];
		fwrite(zeros, 1, sizeof(zeros), f);
		fclose(f);
	}
	hr_server *s = open_mode(dir, mode);
	if (min_k < 0) {
		if (s)
			hr_server_close(s);
		CHECK(!s); /* refused: the data directory is left as it was */
		CHECK(access(w.path, F_OK) == 0);
		hr_test_rmrf(dir);
		return;
	}
	CHECK(s);
	int absent, k = prefix ? present_prefix(s, TORN_N) : count_whole(s, TORN_N, &absent);
	if (k < min_k || k > max_k)
		fprintf(stdout, "# %s (segment %" PRIu64 " bytes, damage at %" PRIu64 "): %d rows, want %d..%d\n",
			name, w.size, off, k, min_k, max_k);
	if (k < min_k || k > max_k) {
		hr_server_close(s);
		CHECK(k >= min_k && k <= max_k);
	}
	/* writes after the recovery survive the next replays */
	for (uint64_t id = 1000; id < 1010; id++)
		CHECK_RC(k_write(s, id, 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	for (int round = 0; round < 2; round++) {
		s = et_open(dir);
		CHECK(s);
		int k2 = prefix ? present_prefix(s, TORN_N) : count_whole(s, TORN_N, &absent);
		int newer = 0;
		for (uint64_t id = 1000; id < 1010; id++)
			newer += k_check(s, id) == 1;
		hr_server_close(s);
		if (k2 != k || newer != 10)
			fprintf(stdout, "# %s: after reopen %d: %d rows (had %d), %d of 10 new rows\n",
				name, round, k2, k, newer);
		CHECK_RC(k2, k);
		CHECK_RC(newer, 10);
	}
	hr_test_rmrf(dir);
}

static void t_wal_torn_and_corrupt_tails(void)
{
	char base[4200];
	snprintf(base, sizeof(base), "%s/tornbase", g_dir);
	CHECK_RC(mkdir(base, 0755), 0);
	hr_server *s = et_open(base);
	CHECK(s);
	CHECK_RC(create_c(s), 0);
	for (uint64_t id = 0; id < TORN_N; id++)
		CHECK_RC(k_write(s, id, 0), 0);
	CHECK_RC(hr_server_close(s), 0);
	seg w;
	CHECK_RC(biggest_wal(base, &w), 0);
	/* sanity: the untouched copy has everything */
	s = et_open(base);
	CHECK(s);
	int k = present_prefix(s, TORN_N);
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(k, TORN_N);
	/* (the reopen above wrote nothing, so the data segment is unchanged) */
	int64_t half = (int64_t)(w.size / 2);
	const int T = HR_WAL_TOLERATE_TAIL, P = HR_WAL_POINT_IN_TIME, S = HR_WAL_SKIP_CORRUPT;
	struct {
		const char *name;
		damage_kind kind;
		int64_t where;
		int newest, mode, min_k, max_k, prefix;
	} cases[] = {
		/* the newest segment's torn tail: trimmed in every mode */
		{"trunc1", D_TRUNC, -1, 1, T, TORN_N - 1, TORN_N - 1, 1},
		{"trunc10", D_TRUNC, -10, 1, T, TORN_N - 1, TORN_N - 1, 1},
		{"trunchdr", D_TRUNC, -(int64_t)(HR_WAL_REC_HDR_LEN + 30), 1, T, TORN_N - 2, TORN_N - 1, 1},
		{"flipLast", D_FLIP, -5, 1, T, TORN_N - 1, TORN_N - 1, 1},
		{"truncHalf", D_TRUNC, half, 1, T, 1, TORN_N - 1, 1},
		{"zeros", D_APPEND_ZEROS, 0, 1, T, TORN_N, TORN_N, 1},
		{"trunc0", D_TRUNC, 0, 1, T, 0, 0, 1},
		{"trunc10b", D_TRUNC, 10, 1, T, 0, 0, 1},
		{"flipLastPit", D_FLIP, -5, 1, P, TORN_N - 1, TORN_N - 1, 1},
		{"flipLastSkip", D_FLIP, -5, 1, S, TORN_N - 1, TORN_N - 1, 1},
		/* good records after the damage: corruption, whatever the segment */
		{"flipHalf", D_FLIP, half, 1, T, -1, -1, 1},
		{"flipHalfPit", D_FLIP, half, 1, P, 1, TORN_N - 2, 1},
		{"flipHalfSkip", D_FLIP, half, 1, S, TORN_N - 1, TORN_N - 1, 0},
		{"flipHeader", D_FLIP, 3, 1, T, -1, -1, 1},
		{"flipHeaderPit", D_FLIP, 3, 1, P, 0, 0, 1},
		{"flipHeaderSkip", D_FLIP, 3, 1, S, 0, 0, 1},
		/* damage at the tail of a segment that is not the newest */
		{"truncOld", D_TRUNC, -10, 0, T, -1, -1, 1},
		{"truncOldPit", D_TRUNC, -10, 0, P, TORN_N - 1, TORN_N - 1, 1},
		{"trunc0Old", D_TRUNC, 0, 0, T, -1, -1, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) && !hr_t_cur_failed; i++)
		torn_case(base, cases[i].name, cases[i].kind, cases[i].where, cases[i].newest,
			  cases[i].mode, cases[i].min_k, cases[i].max_k, cases[i].prefix);
}

/* ---- corrupted store-file blocks ----------------------------------------- */

#define SF_N 3000

/* the .hsf files of dir/store/<region>/<family>/ */
static size_t list_hsf(const char *dir, seg *out, size_t max)
{
	char sd[PATH_MAX];
	size_t n = 0;
	snprintf(sd, sizeof(sd), "%s/store", dir);
	DIR *d = opendir(sd);
	struct dirent *de, *fe, *he;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char rd[PATH_MAX];
		snprintf(rd, sizeof(rd), "%s/%s", sd, de->d_name);
		DIR *r = opendir(rd);
		while (r && (fe = readdir(r))) {
			if (fe->d_name[0] == '.')
				continue;
			char fd[PATH_MAX];
			snprintf(fd, sizeof(fd), "%s/%s", rd, fe->d_name);
			DIR *f = opendir(fd);
			while (f && (he = readdir(f)) && n < max) {
				size_t l = strlen(he->d_name);
				if (l < 4 || strcmp(he->d_name + l - 4, ".hsf"))
					continue;
				snprintf(out[n].path, sizeof(out[n].path), "%s/%s", fd, he->d_name);
				struct stat st;
				if (stat(out[n].path, &st) == 0)
					out[n++].size = (uint64_t)st.st_size;
			}
			if (f)
				closedir(f);
		}
		if (r)
			closedir(r);
	}
	if (d)
		closedir(d);
	return n;
}

static int region_state(hr_server *s, const char *t)
{
	hr_region_info *ri;
	size_t n;
	int rc = hr_region_list(s, t, &ri, &n);
	if (rc < 0)
		return rc;
	int st = n ? ri[0].state : -1;
	hr_region_list_free(ri, n);
	return st;
}

static int bytes_cmp(const void *a, size_t al, const void *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

/* The state of the region of ri[0..n) that holds row, -1 if none does. */
static int row_region_state(const hr_region_info *ri, size_t n, const char *row)
{
	size_t rl = strlen(row);
	for (size_t i = 0; i < n; i++)
		if ((!ri[i].start_len || bytes_cmp(ri[i].start_key, ri[i].start_len, row, rl) <= 0) &&
		    (!ri[i].end_len || bytes_cmp(row, rl, ri[i].end_key, ri[i].end_len) < 0))
			return ri[i].state;
	return -1;
}

static void sfile_case(const char *base, const char *name, int64_t where, int must_detect)
{
	char dir[4200];
	static seg v[256];
	snprintf(dir, sizeof(dir), "%s/%s", g_dir, name);
	CHECK_RC(sh("cp -a '%s' '%s'", base, dir), 0);
	size_t n = list_hsf(dir, v, 256);
	CHECK(n > 0);
	seg *big = &v[0];
	for (size_t i = 1; i < n; i++)
		if (v[i].size > big->size)
			big = &v[i];
	uint64_t off = where >= 0 ? big->size * (uint64_t)where / 100 : big->size + (uint64_t)where;
	CHECK_RC(flip_byte(big->path, off), 0);
	/* every failed read logs the file and block: keep that out of the TAP
	 * stream, show the first line and the count */
	char logp[4300];
	snprintf(logp, sizeof(logp), "%s.log", dir);
	fflush(stderr);
	int saved_err = dup(2), logfd = open(logp, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (saved_err >= 0 && logfd >= 0)
		dup2(logfd, 2);
	hr_server *s = et_open(dir);
	if (!s) {
		dup2(saved_err, 2);
		close(saved_err);
		close(logfd);
	}
	CHECK(s); /* the daemon opens, whatever the damage */
	/* The base may have split (the chore splits a table's only region at
	 * 2 x flush_size when a tick lands in the write phase: on a loaded
	 * machine), so the damage may take one daughter OFFLINE while the
	 * other serves: judge each row by its own region. An OFFLINE region
	 * stays OFFLINE (nothing reopens or splits it), so the map taken
	 * before the gets holds for them. */
	hr_region_info *ri = NULL;
	size_t nri = 0;
	CHECK_RC(hr_region_list(s, "c", &ri, &nri), 0);
	int noffline = 0;
	for (size_t i = 0; i < nri; i++)
		noffline += ri[i].state == HR_REGION_OFFLINE;
	int ok = 0, eio = 0, missing = 0, wrong = 0, other = 0, ok_offline = 0;
	for (uint64_t id = 0; id < SF_N; id++) {
		int c = k_check(s, id);
		char row[24];
		k_row(id, row);
		if (c == 1 && row_region_state(ri, nri, row) == HR_REGION_OFFLINE)
			ok_offline++;
		if (c == 1)
			ok++;
		else if (c == -EIO)
			eio++;
		else if (c == 0)
			missing++;
		else if (c == -1)
			wrong++;
		else
			other++;
	}
	/* a failing read stays failing (the bad block is not cached as good) */
	int again_ok = 1;
	for (uint64_t id = 0; id < SF_N && eio; id++) {
		char row[24];
		k_row(id, row);
		hr_value x;
		int r1 = hr_get(s, "c", row, strlen(row), "a", "v", 1, HR_GET_VALUE, &x);
		if (r1 == 0) {
			free(x.data);
			continue;
		}
		int r2 = hr_get(s, "c", row, strlen(row), "a", "v", 1, HR_GET_VALUE, &x);
		if (r2 == 0)
			free(x.data);
		again_ok = r1 == r2;
		break;
	}
	/* a scan returns right data up to an error, never wrong data */
	hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1, .family = "a"};
	hr_scan *sc;
	hr_scan_entry e;
	int scan_rc = hr_scan_open(s, "c", &o, &sc), scanned = 0, scan_wrong = 0;
	if (scan_rc == 0) {
		while ((scan_rc = hr_scan_next(sc, &e)) == 1) {
			char want[256];
			uint64_t id = strtoull((const char *)e.row + 1, NULL, 10);
			size_t wl = k_val(id, want);
			if (e.value_len != wl || memcmp(e.value, want, wl))
				scan_wrong++;
			scanned++;
		}
		hr_scan_close(sc);
	}
	fprintf(stdout,
		"# %s: flipped byte %" PRIu64 " of %" PRIu64 ": %zu regions, %d OFFLINE, gets ok %d eio %d missing %d "
		"wrong %d other %d; scan %d rows, rc %d, wrong %d\n",
		name, off, big->size, nri, noffline, ok, eio, missing, wrong, other, scanned, scan_rc,
		scan_wrong);
	hr_server_close(s);
	fflush(stderr);
	if (saved_err >= 0 && logfd >= 0) {
		dup2(saved_err, 2);
		close(saved_err);
		close(logfd);
		FILE *lf = fopen(logp, "r");
		char line[600] = "";
		int lines = 0;
		while (lf && fgets(line + (lines ? 300 : 0), 300, lf))
			lines++;
		if (lf)
			fclose(lf);
		line[299] = 0;
		fprintf(stdout, "# %d log lines; first: %s", lines, lines ? line : "\n");
		if (lines && line[strlen(line) - 1] != '\n')
			fprintf(stdout, "\n");
		unlink(logp);
	}
	CHECK_RC(wrong, 0);
	CHECK_RC(scan_wrong, 0);
	CHECK_RC(other, 0);
	CHECK_RC(missing, 0); /* a row is served or refused, never silently absent */
	CHECK(again_ok);
	CHECK(scan_rc == 0 || scan_rc == -EIO);
	CHECK_RC(ok_offline, 0); /* an OFFLINE region serves nothing */
	if (must_detect)
		CHECK(eio > 0 || noffline > 0);
	hr_region_list_free(ri, nri);
	hr_test_rmrf(dir);
}

static void t_sfile_corrupt_blocks(void)
{
	char base[4200];
	snprintf(base, sizeof(base), "%s/sfbase", g_dir);
	CHECK_RC(mkdir(base, 0755), 0);
	hr_server *s = et_open(base);
	CHECK(s);
	hr_table_schema sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "c");
	sc.nfamilies = 2;
	hr_family_defaults(&sc.families[0], "a");
	hr_family_defaults(&sc.families[1], "b");
	sc.families[0].block_size = 4096; /* many blocks */
	CHECK_RC(hr_table_create(s, &sc), 0);
	for (uint64_t id = 0; id < SF_N; id++)
		CHECK_RC(k_write(s, id, 0), 0);
	CHECK_RC(hr_flush(s, "c"), 0);
	CHECK_RC(hr_server_close(s), 0);
	sfile_case(base, "sf30", 30, 1);
	sfile_case(base, "sf50", 50, 1);
	sfile_case(base, "sf5", 5, 1);
	sfile_case(base, "sf0", 0, 1);
	sfile_case(base, "sfTrailer", -10, 1);
	sfile_case(base, "sfIndex", -(int64_t)HR_SFILE_TRAILER_LEN - 20, 0);
	sfile_case(base, "sf97", 97, 0);
}

/* ---- leftovers of a crash in flush ---------------------------------------- */

static int file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

/* The entries of <dir>/lost, one per line, sorted. */
static void lost_listing(const char *dir, char *out, size_t len)
{
	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "ls '%s/lost' 2>/dev/null | sort | tr '\\n' ' '", dir);
	out[0] = 0;
	FILE *p = popen(cmd, "r");
	if (!p)
		return;
	size_t n = fread(out, 1, len - 1, p);
	out[n] = 0;
	pclose(p);
}

/* Recovery removes what it understands (temp files, unreferenced store
 * files, directories of regions it made and of families a failed add
 * made) and moves everything else to lost/: it never deletes what it does
 * not understand. */
static void t_leftovers_removed(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/left", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(create_c(s), 0);
	/* a table made and dropped: its region id is below the counter */
	CHECK_RC(et_table(s, "gone", "a", NULL), 0);
	CHECK_RC(hr_table_drop(s, "gone"), 0);
	for (uint64_t id = 0; id < 1000; id++)
		CHECK_RC(k_write(s, id, 0), 0);
	CHECK_RC(hr_flush(s, "c"), 0);
	CHECK_RC(hr_server_close(s), 0);
	static seg ref[64];
	size_t nref = list_hsf(dir, ref, 64);
	CHECK(nref >= 2);
	/* the store directory of family a, from a referenced file */
	char sdir[PATH_MAX] = "", rdir[PATH_MAX];
	for (size_t i = 0; i < nref; i++)
		if (strstr(ref[i].path, "/a/")) {
			snprintf(sdir, sizeof(sdir), "%s", ref[i].path);
			*strrchr(sdir, '/') = 0;
		}
	CHECK(sdir[0]);
	snprintf(rdir, sizeof(rdir), "%s", sdir);
	*strrchr(rdir, '/') = 0;
	char p_tmp[PATH_MAX + 64], p_unref[PATH_MAX + 64], p_garb[PATH_MAX + 64],
		p_fam[PATH_MAX + 64], p_reg[PATH_MAX + 64], p_tmp2[PATH_MAX + 64],
		p_dropped[PATH_MAX + 64], p_note[PATH_MAX + 64], p_famx[PATH_MAX + 64],
		p_junk[PATH_MAX + 64];
	/* removed: understood, and LMDB has no use for them */
	snprintf(p_tmp, sizeof(p_tmp), "%s/0000000000000099.tmp", sdir);
	snprintf(p_unref, sizeof(p_unref), "%s/00000000000000aa.hsf", sdir);
	snprintf(p_garb, sizeof(p_garb), "%s/00000000000000ab.hsf", sdir);
	snprintf(p_fam, sizeof(p_fam), "%s/nofam", rdir);
	snprintf(p_dropped, sizeof(p_dropped), "%s/store/0000000000000002", dir);
	/* moved aside: not the engine's names, or not made by this engine */
	snprintf(p_tmp2, sizeof(p_tmp2), "%s/0000000000000001.hsf.tmp", sdir);
	snprintf(p_note, sizeof(p_note), "%s/NOTES", sdir);
	snprintf(p_famx, sizeof(p_famx), "%s/oddfam", rdir);
	snprintf(p_reg, sizeof(p_reg), "%s/store/00000000000000ff", dir);
	snprintf(p_junk, sizeof(p_junk), "%s/store/backup", dir);
	CHECK_RC(sh("head -c 5000 /dev/urandom > '%s'", p_tmp), 0);
	CHECK_RC(sh("head -c 100 /dev/urandom > '%s'", p_tmp2), 0);
	CHECK_RC(sh("echo 'keep me' > '%s'", p_note), 0);
	/* a valid store file, written but never committed to LMDB */
	const char *a_ref = NULL;
	for (size_t i = 0; i < nref; i++)
		if (strstr(ref[i].path, "/a/"))
			a_ref = ref[i].path;
	CHECK_RC(sh("cp '%s' '%s'", a_ref, p_unref), 0);
	CHECK_RC(sh("head -c 777 /dev/urandom > '%s'", p_garb), 0);
	CHECK_RC(sh("mkdir -p '%s' '%s/a' && cp '%s' '%s/a/0000000000000001.hsf'", p_fam, p_reg,
		    a_ref, p_reg),
		 0);
	CHECK_RC(sh("mkdir -p '%s/a' && cp '%s' '%s/a/0000000000000007.hsf'", p_dropped, a_ref,
		    p_dropped),
		 0);
	CHECK_RC(sh("mkdir -p '%s' && echo x > '%s/readme.txt'", p_famx, p_famx), 0);
	CHECK_RC(sh("mkdir -p '%s' && echo x > '%s/data'", p_junk, p_junk), 0);
	s = et_open(dir);
	CHECK(s);
	int gone = !file_exists(p_tmp) && !file_exists(p_unref) && !file_exists(p_garb) &&
		   !file_exists(p_fam) && !file_exists(p_dropped);
	if (!gone)
		fprintf(stdout, "# left: tmp %d unref %d garbage %d fam %d dropped %d\n",
			file_exists(p_tmp), file_exists(p_unref), file_exists(p_garb),
			file_exists(p_fam), file_exists(p_dropped));
	int moved = !file_exists(p_tmp2) && !file_exists(p_note) && !file_exists(p_famx) &&
		    !file_exists(p_reg) && !file_exists(p_junk);
	char lost[2048];
	lost_listing(dir, lost, sizeof(lost));
	int kept = 1;
	for (size_t i = 0; i < nref; i++)
		kept &= file_exists(ref[i].path);
	int bad = 0;
	for (uint64_t id = 0; id < 1000; id++)
		bad += k_check(s, id) != 1;
	/* no row twice (the unreferenced copy must not be served) */
	hr_scan_opts o = {.mode = HR_SCAN_CELLS};
	hr_scan *sc;
	hr_scan_entry e;
	int cells = 0;
	if (hr_scan_open(s, "c", &o, &sc) == 0) {
		while (hr_scan_next(sc, &e) == 1)
			cells++;
		hr_scan_close(sc);
	}
	/* new flushes work after the cleanup */
	for (uint64_t id = 1000; id < 1100; id++)
		CHECK_RC(k_write(s, id, 0), 0);
	CHECK_RC(hr_flush(s, "c"), 0);
	CHECK_RC(hr_server_close(s), 0);
	s = et_open(dir);
	CHECK(s);
	int bad2 = 0;
	for (uint64_t id = 0; id < 1100; id++)
		bad2 += k_check(s, id) != 1;
	CHECK_RC(hr_server_close(s), 0);
	/* what was moved aside is intact */
	char note_aside[4400];
	snprintf(note_aside, sizeof(note_aside), "%s/lost/store~0000000000000001~a~NOTES", dir);
	int note_ok = sh("grep -q 'keep me' '%s'", note_aside) == 0;
	CHECK(gone);
	CHECK(moved);
	CHECK_STREQ(lost, "store~0000000000000001~a~0000000000000001.hsf.tmp "
			  "store~0000000000000001~a~NOTES store~0000000000000001~oddfam "
			  "store~00000000000000ff store~backup ");
	CHECK(note_ok);
	CHECK(kept);
	CHECK_RC(bad, 0);
	CHECK_RC(cells, 2000);
	CHECK_RC(bad2, 0);
}

/* A referenced store file that is missing: the region refuses to serve
 * (OFFLINE, reads and writes -EIO), keeps its files, and comes back whole
 * once the file is restored. */
static void t_missing_sfile_offline(void)
{
	char dir[4200];
	snprintf(dir, sizeof(dir), "%s/missing", g_dir);
	CHECK_RC(mkdir(dir, 0755), 0);
	hr_server *s = et_open(dir);
	CHECK(s);
	CHECK_RC(create_c(s), 0);
	for (uint64_t id = 0; id < 500; id++)
		CHECK_RC(k_write(s, id, 0), 0);
	CHECK_RC(hr_flush(s, "c"), 0);
	CHECK_RC(hr_server_close(s), 0);
	static seg ref[64];
	size_t nref = list_hsf(dir, ref, 64);
	CHECK(nref >= 2);
	char saved[PATH_MAX + 16];
	snprintf(saved, sizeof(saved), "%s/saved.hsf", g_dir);
	CHECK_RC(rename(ref[0].path, saved), 0);
	s = et_open(dir);
	CHECK(s);
	int state = region_state(s, "c");
	int get_rc = k_check(s, 1);
	int put_rc = k_write(s, 9999, 0);
	hr_scan_opts o = {.mode = HR_SCAN_ROWS};
	hr_scan *sc;
	int scan_rc = hr_scan_open(s, "c", &o, &sc);
	if (scan_rc == 0) {
		hr_scan_entry e;
		scan_rc = hr_scan_next(sc, &e);
		hr_scan_close(sc);
	}
	CHECK_RC(hr_server_close(s), 0);
	int others_kept = 1;
	for (size_t i = 1; i < nref; i++)
		others_kept &= file_exists(ref[i].path);
	CHECK_RC(rename(saved, ref[0].path), 0);
	s = et_open(dir);
	CHECK(s);
	int state2 = region_state(s, "c");
	int bad = 0;
	for (uint64_t id = 0; id < 500; id++)
		bad += k_check(s, id) != 1;
	CHECK_RC(hr_server_close(s), 0);
	CHECK_RC(state, HR_REGION_OFFLINE);
	CHECK_RC(get_rc, -EIO);
	CHECK_RC(put_rc, -EIO);
	CHECK_RC(scan_rc, -EIO);
	CHECK(others_kept);
	CHECK_RC(state2, HR_REGION_OPEN);
	CHECK_RC(bad, 0);
}

int main(void)
{
	et_watchdog(170);
	hr_log_set_level(HR_LOG_ERROR); /* damage is logged loudly by design */
	hr_test_tmpdir(g_dir, sizeof(g_dir), "crash");
	RUN(t_kill9_os);
	RUN(t_power_loss_fsync);
	RUN(t_power_loss_os_explicit_sync);
	RUN(t_wal_torn_and_corrupt_tails);
	RUN(t_sfile_corrupt_blocks);
	RUN(t_leftovers_removed);
	RUN(t_missing_sfile_offline);
	hr_test_rmrf(g_dir);
	return hr_test_done();
}
