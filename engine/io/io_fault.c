/* io_fault.c — the fault-injecting I/O seam for tests (contract in
 * hr_io_fault.h).
 *
 * State, all under f->mu:
 * - fds[fd]: the path each descriptor was opened with, for rules that match
 *   paths and for sync to know which file it made durable;
 * - files: every file written through the env and the size it had at its
 *   last sync (what a power loss leaves of it);
 * - journal: the namespace changes (create, mkdir, rename, unlink, rmdir)
 *   not yet made durable by a sync_dir of their directory, oldest first,
 *   with what is needed to undo each one. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_io_fault.h"

#define MAX_RULES 16

typedef struct rule {
	hr_io_op op;
	uint64_t nth, seen;
	int err, mode;
	char *match;
	int spent;
} rule;

typedef struct tfile {
	char *path;
	uint64_t synced;
} tfile;

enum { NS_CREATE, NS_MKDIR, NS_UNLINK, NS_RMDIR, NS_RENAME };

typedef struct nsop {
	int kind;
	char *path;		/* the name made or removed; a rename's target */
	char *from;		/* a rename's source */
	int dur_path, dur_from;	/* the directory of path / of from was synced */
	int saved;		/* data holds the removed (or replaced) file */
	uint8_t *data;
	size_t len;
} nsop;

typedef struct fdent {
	char *path;
	int writable;
} fdent;

typedef struct fault_io {
	hr_io io;
	hr_io *base;
	pthread_mutex_t mu;
	rule rules[MAX_RULES];
	int nrules;
	uint64_t counts[HR_IO_OP_COUNT];
	uint64_t injected, durable;
	int armed, crashed;
	uint64_t crash_left;
	fdent *fds;
	size_t nfds;
	tfile *files;
	size_t nfiles, fcap;
	nsop *ns;
	size_t nns, nscap;
} fault_io;

static const char *const op_names[HR_IO_OP_COUNT] = {
	"open", "close", "read", "write", "sync", "truncate", "size", "rename", "unlink",
	"mkdir", "rmdir", "sync_dir", "list", "stat", "lock", "meta_commit", "private_dir", "link",
};

const char *hr_io_op_name(hr_io_op op)
{
	return (unsigned)op < HR_IO_OP_COUNT ? op_names[op] : "?";
}

int hr_io_op_durable(hr_io_op op)
{
	switch (op) {
	case HR_IO_OP_SYNC:
	case HR_IO_OP_SYNC_DIR:
	case HR_IO_OP_RENAME:
	case HR_IO_OP_UNLINK:
	case HR_IO_OP_MKDIR:
	case HR_IO_OP_RMDIR:
	case HR_IO_OP_META_COMMIT:
	case HR_IO_OP_LINK:
		return 1;
	default:
		return 0;
	}
}

static fault_io *F(hr_io *io) { return (fault_io *)io; }

/* ---- paths ------------------------------------------------------------------ */

/* A malloc'd copy of p with "//" collapsed and no trailing '/'. */
static char *norm(const char *p)
{
	size_t n = strlen(p);
	char *s = malloc(n + 1), *o = s;
	if (!s)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '/' && o > s && o[-1] == '/')
			continue;
		*o++ = p[i];
	}
	while (o > s + 1 && o[-1] == '/')
		o--;
	*o = 0;
	return s;
}

/* 1 if the directory holding name is dir (both normalised). */
static int in_dir(const char *name, const char *dir)
{
	const char *slash = strrchr(name, '/');
	if (!slash)
		return 0;
	size_t dl = slash == name ? 1 : (size_t)(slash - name);
	return strlen(dir) == dl && strncmp(name, dir, dl) == 0;
}

/* 1 if p is dir or inside it. */
static int under(const char *p, const char *dir)
{
	size_t dl = strlen(dir);
	return strncmp(p, dir, dl) == 0 && (p[dl] == 0 || p[dl] == '/');
}

/* ---- the gate: counts, rules, crash ---------------------------------------- */

/* Decides the fate of one call (mu held): 0 = go through (*shorten set for
 * a short write), or the error to return. */
static int gate(fault_io *f, hr_io_op op, const char *path, const char *path2, int *shorten)
{
	f->counts[op]++;
	if (f->crashed)
		return -EIO;
	for (int i = 0; i < f->nrules; i++) {
		rule *r = &f->rules[i];
		if (r->spent || r->op != op)
			continue;
		if (r->match && !(path && strstr(path, r->match)) &&
		    !(path2 && strstr(path2, r->match)))
			continue;
		if (++r->seen < r->nth)
			continue;
		if (r->mode == HR_IO_FAULT_SHORT) {
			r->spent = 1;
			if (shorten) {
				*shorten = 1;
				f->injected++;
			}
			continue;
		}
		if (r->mode == HR_IO_FAULT_ONCE)
			r->spent = 1;
		f->injected++;
		return r->err;
	}
	if (hr_io_op_durable(op)) {
		if (f->armed) {
			if (f->crash_left == 0) {
				f->crashed = 1;
				return -EIO;
			}
			f->crash_left--;
		}
		f->durable++;
	}
	return 0;
}

/* ---- tracking --------------------------------------------------------------- */

static tfile *tfile_find(fault_io *f, const char *path)
{
	for (size_t i = 0; i < f->nfiles; i++)
		if (strcmp(f->files[i].path, path) == 0)
			return &f->files[i];
	return NULL;
}

static tfile *tfile_add(fault_io *f, const char *path, uint64_t synced)
{
	tfile *t = tfile_find(f, path);
	if (t) {
		t->synced = synced;
		return t;
	}
	if (f->nfiles == f->fcap) {
		size_t c = f->fcap ? f->fcap * 2 : 32;
		tfile *n = realloc(f->files, c * sizeof(*n));
		if (!n)
			return NULL;
		f->files = n;
		f->fcap = c;
	}
	char *p = strdup(path);
	if (!p)
		return NULL;
	f->files[f->nfiles] = (tfile){p, synced};
	return &f->files[f->nfiles++];
}

static void tfile_del(fault_io *f, tfile *t)
{
	free(t->path);
	*t = f->files[--f->nfiles];
}

/* Forgets every tracked file at or under path. */
static void tfile_del_under(fault_io *f, const char *path)
{
	for (size_t i = 0; i < f->nfiles;)
		if (under(f->files[i].path, path))
			tfile_del(f, &f->files[i]);
		else
			i++;
}

/* Tracked files at or under from move to to. */
static void tfile_move(fault_io *f, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to);
	for (size_t i = 0; i < f->nfiles; i++) {
		char *p = f->files[i].path;
		if (!under(p, from))
			continue;
		char *np = malloc(tl + strlen(p + fl) + 1);
		if (!np)
			continue;
		memcpy(np, to, tl);
		strcpy(np + tl, p + fl);
		free(p);
		f->files[i].path = np;
	}
}

static nsop *ns_push(fault_io *f, int kind, const char *path, const char *from)
{
	if (f->nns == f->nscap) {
		size_t c = f->nscap ? f->nscap * 2 : 64;
		nsop *n = realloc(f->ns, c * sizeof(*n));
		if (!n)
			return NULL;
		f->ns = n;
		f->nscap = c;
	}
	nsop *o = &f->ns[f->nns];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->path = strdup(path);
	o->from = from ? strdup(from) : NULL;
	if (!o->path || (from && !o->from)) {
		free(o->path);
		free(o->from);
		return NULL;
	}
	f->nns++;
	return o;
}

static void ns_free(nsop *o)
{
	free(o->path);
	free(o->from);
	free(o->data);
}

/* Reads the first max bytes (all if max is UINT64_MAX) of a file of the
 * base into a malloc'd buffer. */
static int slurp(hr_io *b, const char *path, uint64_t max, uint8_t **data, size_t *len)
{
	int fd = hr_io_open(b, path, HR_IO_RDONLY);
	if (fd < 0)
		return fd;
	uint64_t size;
	int rc = hr_io_size(b, fd, &size);
	if (rc == 0) {
		if (size > max)
			size = max;
		*data = malloc(size ? size : 1);
		*len = size;
		rc = !*data ? -ENOMEM : hr_io_pread_all(b, fd, *data, size, 0);
		if (rc < 0) {
			free(*data);
			*data = NULL;
		}
	}
	hr_io_close(b, fd);
	return rc;
}

/* Keeps what a power loss would leave of the file at path in o->data. */
static int save_file(fault_io *f, nsop *o, const char *path)
{
	tfile *t = tfile_find(f, path);
	int rc = slurp(f->base, path, t ? t->synced : UINT64_MAX, &o->data, &o->len);
	if (rc == 0)
		o->saved = 1;
	return rc;
}


/* ---- operations ------------------------------------------------------------ */

static const char *fd_path(fault_io *f, int fd)
{
	return fd >= 0 && (size_t)fd < f->nfds ? f->fds[fd].path : NULL;
}

static int fd_note(fault_io *f, int fd, const char *path, int writable)
{
	if ((size_t)fd >= f->nfds) {
		size_t n = (size_t)fd + 64;
		fdent *v = realloc(f->fds, n * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memset(v + f->nfds, 0, (n - f->nfds) * sizeof(*v));
		f->fds = v;
		f->nfds = n;
	}
	free(f->fds[fd].path);
	f->fds[fd].path = strdup(path);
	f->fds[fd].writable = writable;
	return f->fds[fd].path ? 0 : -ENOMEM;
}

static int fi_open(hr_io *io, const char *path, int flags)
{
	fault_io *f = F(io);
	char *p = norm(path);
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_OPEN, p, NULL, NULL);
	if (rc < 0)
		goto out;
	hr_io_attr st;
	int existed = hr_io_stat(f->base, p, &st) == 0;
	int writable = (flags & 0x3) != HR_IO_RDONLY;
	int fd = hr_io_open(f->base, p, flags);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	if ((rc = fd_note(f, fd, p, writable)) < 0) {
		hr_io_close(f->base, fd);
		goto out;
	}
	if (!existed && !ns_push(f, NS_CREATE, p, NULL))
		rc = -ENOMEM;
	if (rc == 0 && writable) {
		tfile *t = tfile_find(f, p);
		if (!existed || (flags & HR_IO_TRUNC))
			t = tfile_add(f, p, 0);
		else if (!t)
			t = tfile_add(f, p, st.size);
		if (!t)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		hr_io_close(f->base, fd);
		goto out;
	}
	rc = fd;
out:
	pthread_mutex_unlock(&f->mu);
	free(p);
	return rc;
}

static int fi_close(hr_io *io, int fd)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	f->counts[HR_IO_OP_CLOSE]++;
	int rc = hr_io_close(f->base, fd);
	if (fd >= 0 && (size_t)fd < f->nfds) {
		free(f->fds[fd].path);
		f->fds[fd].path = NULL;
	}
	if (f->crashed)
		rc = 0; /* the descriptor is released all the same */
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static ssize_t fi_pread(hr_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	ssize_t rc = gate(f, HR_IO_OP_READ, fd_path(f, fd), NULL, NULL);
	if (rc == 0)
		rc = hr_io_pread(f->base, fd, buf, len, off);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static ssize_t fi_pwrite(hr_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	fault_io *f = F(io);
	int shorten = 0;
	pthread_mutex_lock(&f->mu);
	ssize_t rc = gate(f, HR_IO_OP_WRITE, fd_path(f, fd), NULL, &shorten);
	if (rc == 0)
		rc = hr_io_pwrite(f->base, fd, buf, shorten && len > 1 ? len / 2 : len, off);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fi_sync(hr_io *io, int fd, int data_only)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	const char *p = fd_path(f, fd);
	int rc = gate(f, HR_IO_OP_SYNC, p, NULL, NULL);
	if (rc == 0)
		rc = hr_io_sync(f->base, fd, data_only);
	uint64_t size;
	tfile *t = p ? tfile_find(f, p) : NULL;
	if (rc == 0 && t && hr_io_size(f->base, fd, &size) == 0)
		t->synced = size;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fi_truncate(hr_io *io, int fd, uint64_t len)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	const char *p = fd_path(f, fd);
	int rc = gate(f, HR_IO_OP_TRUNCATE, p, NULL, NULL);
	if (rc == 0)
		rc = hr_io_truncate(f->base, fd, len);
	tfile *t = p ? tfile_find(f, p) : NULL;
	if (rc == 0 && t && t->synced > len)
		t->synced = len;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fi_size(hr_io *io, int fd, uint64_t *len)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_SIZE, fd_path(f, fd), NULL, NULL);
	if (rc == 0)
		rc = hr_io_size(f->base, fd, len);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fi_rename(hr_io *io, const char *from, const char *to)
{
	fault_io *f = F(io);
	char *a = norm(from), *b = norm(to);
	int rc = -ENOMEM;
	if (!a || !b)
		goto out_free;
	pthread_mutex_lock(&f->mu);
	if ((rc = gate(f, HR_IO_OP_RENAME, a, b, NULL)) < 0)
		goto out;
	nsop *o = ns_push(f, NS_RENAME, b, a);
	if (!o) {
		rc = -ENOMEM;
		goto out;
	}
	hr_io_attr st;
	if (hr_io_stat(f->base, b, &st) == 0 && !st.is_dir && (rc = save_file(f, o, b)) < 0) {
		ns_free(o);
		f->nns--;
		goto out;
	}
	if ((rc = hr_io_rename(f->base, a, b)) < 0) {
		ns_free(o);
		f->nns--;
		goto out;
	}
	tfile_del_under(f, b);
	tfile_move(f, a, b);
out:
	pthread_mutex_unlock(&f->mu);
out_free:
	free(a);
	free(b);
	return rc;
}

static int fi_unlink(hr_io *io, const char *path)
{
	fault_io *f = F(io);
	char *p = norm(path);
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_UNLINK, p, NULL, NULL);
	if (rc < 0)
		goto out;
	nsop *o = ns_push(f, NS_UNLINK, p, NULL);
	if (!o) {
		rc = -ENOMEM;
		goto out;
	}
	int src = save_file(f, o, p);
	rc = hr_io_unlink(f->base, p);
	if (rc < 0 || src < 0) {
		/* nothing removed (or nothing to bring back: the file could
		 * not be read, so it is not journalled; a failed read of an
		 * existing file would make the undo lose it) */
		ns_free(o);
		f->nns--;
		if (rc == 0)
			rc = src;
		goto out;
	}
	tfile *t = tfile_find(f, p);
	if (t)
		tfile_del(f, t);
out:
	pthread_mutex_unlock(&f->mu);
	free(p);
	return rc;
}

static int ns_simple(hr_io *io, hr_io_op op, int kind, const char *path,
		     int (*fn)(hr_io *, const char *))
{
	fault_io *f = F(io);
	char *p = norm(path);
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, op, p, NULL, NULL);
	if (rc == 0)
		rc = fn(f->base, p);
	if (rc == 0 && !ns_push(f, kind, p, NULL))
		rc = -ENOMEM;
	pthread_mutex_unlock(&f->mu);
	free(p);
	return rc;
}

/* A new name for an existing (synced) file: undone like a create, by
 * removing the name, if its directory was not synced. */
static int fi_link(hr_io *io, const char *from, const char *to)
{
	fault_io *f = F(io);
	char *a = norm(from), *b = norm(to);
	int rc = -ENOMEM;
	if (!a || !b)
		goto out_free;
	pthread_mutex_lock(&f->mu);
	if ((rc = gate(f, HR_IO_OP_LINK, a, b, NULL)) == 0)
		rc = hr_io_link(f->base, a, b);
	if (rc == 0 && !ns_push(f, NS_CREATE, b, NULL))
		rc = -ENOMEM;
	pthread_mutex_unlock(&f->mu);
out_free:
	free(a);
	free(b);
	return rc;
}

static int fi_mkdir(hr_io *io, const char *path)
{
	return ns_simple(io, HR_IO_OP_MKDIR, NS_MKDIR, path, hr_io_mkdir);
}

static int fi_rmdir(hr_io *io, const char *path)
{
	return ns_simple(io, HR_IO_OP_RMDIR, NS_RMDIR, path, hr_io_rmdir);
}

static int fi_sync_dir(hr_io *io, const char *path)
{
	fault_io *f = F(io);
	char *p = norm(path);
	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_SYNC_DIR, p, NULL, NULL);
	if (rc == 0)
		rc = hr_io_sync_dir(f->base, p);
	if (rc == 0) {
		/* what happened in p is durable now: drop it from the journal */
		size_t k = 0;
		for (size_t i = 0; i < f->nns; i++) {
			nsop *o = &f->ns[i];
			if (in_dir(o->path, p))
				o->dur_path = 1;
			if (o->from && in_dir(o->from, p))
				o->dur_from = 1;
			if (o->dur_path && (!o->from || o->dur_from))
				ns_free(o);
			else
				f->ns[k++] = *o;
		}
		f->nns = k;
	}
	pthread_mutex_unlock(&f->mu);
	free(p);
	return rc;
}

static int fi_list(hr_io *io, const char *dir, hr_io_dirent **ents, size_t *n)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_LIST, dir, NULL, NULL);
	if (rc == 0)
		rc = hr_io_list(f->base, dir, ents, n);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fi_stat(hr_io *io, const char *path, hr_io_attr *st)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_STAT, path, NULL, NULL);
	if (rc == 0)
		rc = hr_io_stat(f->base, path, st);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fi_lock(hr_io *io, const char *path, int *token)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_LOCK, path, NULL, NULL);
	if (rc == 0)
		rc = hr_io_lock(f->base, path, token);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void fi_unlock(hr_io *io, int token)
{
	/* a lock is the process's, not the disk's: always released */
	hr_io_unlock(F(io)->base, token);
}

static int fi_meta_commit(hr_io *io)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_META_COMMIT, NULL, NULL, NULL);
	if (rc == 0)
		rc = hr_io_meta_commit(f->base);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int fi_private_dir(hr_io *io, const char *path)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	int rc = gate(f, HR_IO_OP_PRIVATE_DIR, path, NULL, NULL);
	if (rc == 0)
		rc = hr_io_private_dir(f->base, path);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static void rules_clear(fault_io *f)
{
	for (int i = 0; i < f->nrules; i++)
		free(f->rules[i].match);
	f->nrules = 0;
}

static void fi_destroy(hr_io *io)
{
	fault_io *f = F(io);
	rules_clear(f);
	for (size_t i = 0; i < f->nfds; i++)
		free(f->fds[i].path);
	free(f->fds);
	for (size_t i = 0; i < f->nfiles; i++)
		free(f->files[i].path);
	free(f->files);
	for (size_t i = 0; i < f->nns; i++)
		ns_free(&f->ns[i]);
	free(f->ns);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

static const hr_io_ops fault_ops = {
	.open = fi_open,
	.close = fi_close,
	.pread = fi_pread,
	.pwrite = fi_pwrite,
	.sync = fi_sync,
	.truncate = fi_truncate,
	.size = fi_size,
	.rename = fi_rename,
	.link = fi_link,
	.unlink = fi_unlink,
	.mkdir = fi_mkdir,
	.rmdir = fi_rmdir,
	.sync_dir = fi_sync_dir,
	.list = fi_list,
	.stat = fi_stat,
	.lock = fi_lock,
	.unlock = fi_unlock,
	.meta_commit = fi_meta_commit,
	.private_dir = fi_private_dir,
	.destroy = fi_destroy,
};

/* ---- control ---------------------------------------------------------------- */

int hr_io_fault_new(hr_io *base, hr_io **out)
{
	fault_io *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->io.ops = &fault_ops;
	f->base = base;
	pthread_mutex_init(&f->mu, NULL);
	*out = &f->io;
	return 0;
}

int hr_io_fault_add(hr_io *io, hr_io_op op, uint64_t nth, int err, int mode, const char *match)
{
	fault_io *f = F(io);
	int rc = 0;
	if ((unsigned)op >= HR_IO_OP_COUNT || nth == 0 ||
	    (mode != HR_IO_FAULT_SHORT && err >= 0) ||
	    (mode == HR_IO_FAULT_SHORT && op != HR_IO_OP_WRITE))
		return -EINVAL;
	pthread_mutex_lock(&f->mu);
	if (f->nrules == MAX_RULES) {
		rc = -ENOSPC;
	} else {
		rule *r = &f->rules[f->nrules];
		memset(r, 0, sizeof(*r));
		r->op = op;
		r->nth = nth;
		r->err = err;
		r->mode = mode;
		if (match && !(r->match = strdup(match)))
			rc = -ENOMEM;
		else
			f->nrules++;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

void hr_io_fault_clear(hr_io *io)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	rules_clear(f);
	pthread_mutex_unlock(&f->mu);
}

static uint64_t read_u64(fault_io *f, const uint64_t *v)
{
	pthread_mutex_lock(&f->mu);
	uint64_t x = *v;
	pthread_mutex_unlock(&f->mu);
	return x;
}

uint64_t hr_io_fault_count(hr_io *io, hr_io_op op)
{
	return (unsigned)op < HR_IO_OP_COUNT ? read_u64(F(io), &F(io)->counts[op]) : 0;
}

uint64_t hr_io_fault_injected(hr_io *io) { return read_u64(F(io), &F(io)->injected); }
uint64_t hr_io_fault_durable(hr_io *io) { return read_u64(F(io), &F(io)->durable); }

void hr_io_fault_crash_after(hr_io *io, uint64_t n)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	f->armed = 1;
	f->crash_left = n;
	pthread_mutex_unlock(&f->mu);
}

int hr_io_fault_crashed(hr_io *io)
{
	fault_io *f = F(io);
	pthread_mutex_lock(&f->mu);
	int c = f->crashed;
	pthread_mutex_unlock(&f->mu);
	return c;
}

/* Undoes one journalled change that did not become durable. */
static int undo(fault_io *f, nsop *o)
{
	hr_io *b = f->base;
	int rc = 0;
	switch (o->kind) {
	case NS_CREATE:
		rc = hr_io_unlink(b, o->path);
		tfile_del_under(f, o->path);
		break;
	case NS_MKDIR:
		rc = hr_io_rmrf(b, o->path);
		tfile_del_under(f, o->path);
		break;
	case NS_RMDIR:
		rc = hr_io_mkdir(b, o->path);
		break;
	case NS_UNLINK:
		rc = hr_io_write_file(b, o->path, HR_IO_TRUNC, o->data, o->len);
		if (rc == 0 && !tfile_add(f, o->path, o->len))
			rc = -ENOMEM;
		break;
	case NS_RENAME:
		rc = hr_io_rename(b, o->path, o->from);
		if (rc == 0) {
			tfile_del_under(f, o->from);
			tfile_move(f, o->path, o->from);
		}
		if (rc == 0 && o->saved) {
			rc = hr_io_write_file(b, o->path, HR_IO_TRUNC, o->data, o->len);
			if (rc == 0 && !tfile_add(f, o->path, o->len))
				rc = -ENOMEM;
		}
		break;
	}
	return rc == -ENOENT ? 0 : rc;
}

int hr_io_fault_drop_unsynced(hr_io *io)
{
	fault_io *f = F(io);
	int rc = 0;
	pthread_mutex_lock(&f->mu);
	for (size_t i = f->nns; i-- > 0;) {
		nsop *o = &f->ns[i];
		int e = undo(f, o);
		if (e < 0 && rc == 0)
			rc = e;
		ns_free(o);
	}
	f->nns = 0;
	/* file data: what was not synced is gone */
	for (size_t i = 0; i < f->nfiles;) {
		tfile *t = &f->files[i];
		int fd = hr_io_open(f->base, t->path, HR_IO_WRONLY);
		if (fd < 0) {
			if (fd != -ENOENT && rc == 0)
				rc = fd;
			tfile_del(f, t);
			continue;
		}
		uint64_t size;
		int e = hr_io_size(f->base, fd, &size);
		if (e == 0 && size > t->synced)
			e = hr_io_truncate(f->base, fd, t->synced);
		hr_io_close(f->base, fd);
		if (e < 0 && rc == 0)
			rc = e;
		i++;
	}
	rules_clear(f);
	f->crashed = 0;
	f->armed = 0;
	pthread_mutex_unlock(&f->mu);
	return rc;
}
