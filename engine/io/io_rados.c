/*
 * io_rados.c — the I/O seam over RADOS objects (contract in hr_io_rados.h,
 * layout and crash rules in hr_format.h, "storage=rados").
 *
 * Locks, in the order they are taken:
 *   ns_mu   serialises name operations (create, rename, link, unlink,
 *           mkdir, rmdir) and every read-modify-write of hr.nlink: RADOS
 *           has no "insert this key only if absent" for omaps (omap_cmp on
 *           a missing key fails like a mismatch), so the check and the
 *           write of a name must not interleave with another's.
 *   mu      the descriptor table and the table of open inodes (refs,
 *           orphan).
 *   node mu one open inode's size, queued writes and sticky error.
 * Network round trips happen under ns_mu and node mu (never under mu), so
 * reads and writes of open files never wait for a name operation.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "engine/hr_format.h"
#include "engine/hr_io_rados.h"
#include "engine/hr_util.h"
#include "hr_log.h"

#define OBJ_LEN 48
#define LIST_PAGE 512

enum { K_FREE = 0, K_POSIX, K_RADOS };
enum { T_FILE = 'f', T_DIR = 'd' };

/* A file open in this process (one per inode, shared by its descriptors). */
typedef struct rnode {
	struct rnode *next;		/* rio.nodes; mu */
	uint64_t ino;
	int refs;			/* descriptors; mu */
	int orphan;			/* its last name went while open; mu */
	pthread_mutex_t mu;
	uint64_t size;			/* node mu: the file's size as written */
	rados_completion_t *pend;	/* node mu: queued writes, oldest first */
	size_t npend, cap;
	int err;			/* node mu: first failed queued write */
} rnode;

typedef struct slot {
	int kind;			/* K_* */
	int pfd;			/* K_POSIX */
	int writable;
	int writeback;			/* HR_IO_WRITEBACK: pwrite does not wait */
	rnode *n;			/* K_RADOS */
} slot;

typedef struct rio {
	hr_io io;
	hr_io *px;
	rados_ioctx_t ctx;
	char root[PATH_MAX];
	size_t rootlen;
	pthread_mutex_t ns_mu;
	pthread_mutex_t mu;
	slot *slots;			/* mu */
	size_t nslots;
	rnode *nodes;			/* mu */
} rio;

typedef struct dent {
	uint64_t ino;
	int type;			/* T_* */
} dent;

static rio *R(hr_io *io) { return (rio *)io; }

/* ---- names and encodings ------------------------------------------------ */

static void obj_name(uint64_t ino, uint64_t chunk, char *buf)
{
	if (chunk)
		snprintf(buf, OBJ_LEN, "hr.%016" PRIx64 ".%" PRIx64, ino, chunk);
	else
		snprintf(buf, OBJ_LEN, "hr.%016" PRIx64, ino);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}
static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void dent_encode(const dent *d, uint8_t out[HR_RADOS_DENT_LEN])
{
	out[0] = HR_RADOS_VERSION;
	out[1] = (uint8_t)d->type;
	put64(out + 2, d->ino);
	put32(out + 10, hr_crc32c(0, out, 10));
}

static int dent_decode(const char *v, size_t len, dent *d)
{
	const uint8_t *p = (const uint8_t *)v;
	if (len != HR_RADOS_DENT_LEN || p[0] != HR_RADOS_VERSION ||
	    get32(p + 10) != hr_crc32c(0, p, 10) || (p[1] != T_FILE && p[1] != T_DIR))
		return -EIO;
	d->type = p[1];
	d->ino = get64(p + 2);
	return 0;
}

static void nlink_encode(uint32_t n, uint8_t out[HR_RADOS_NLINK_LEN])
{
	out[0] = HR_RADOS_VERSION;
	put32(out + 1, n);
	put32(out + 5, hr_crc32c(0, out, 5));
}

static void size_encode(uint64_t n, uint8_t out[HR_RADOS_SIZE_LEN])
{
	out[0] = HR_RADOS_VERSION;
	put64(out + 1, n);
	put32(out + 9, hr_crc32c(0, out, 9));
}

static int xattr_decode(const char *v, size_t len, size_t want, uint64_t *out)
{
	const uint8_t *p = (const uint8_t *)v;
	if (len != want || p[0] != HR_RADOS_VERSION ||
	    get32(p + want - 4) != hr_crc32c(0, p, want - 4))
		return -EIO;
	*out = want == HR_RADOS_NLINK_LEN ? get32(p + 1) : get64(p + 1);
	return 0;
}

/* 1 if path is root or below it, with *rel the part after "root/" ("" for
 * root itself); 0 if it is elsewhere (POSIX's). */
static int under(rio *r, const char *path, const char **rel)
{
	if (strncmp(path, r->root, r->rootlen) != 0)
		return 0;
	if (path[r->rootlen] == '\0') {
		*rel = "";
		return 1;
	}
	if (path[r->rootlen] != '/')
		return 0;
	*rel = path + r->rootlen + 1;
	while (**rel == '/')
		(*rel)++;
	return 1;
}

/* ---- objects -------------------------------------------------------------- */

static int lookup(rio *r, uint64_t dir, const char *name, dent *d)
{
	char obj[OBJ_LEN];
	obj_name(dir, 0, obj);
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	int prval = 0;
	const char *keys[1] = {name};
	rados_read_op_omap_get_vals_by_keys(op, keys, 1, &it, &prval);
	int rc = rados_read_op_operate(op, r->ctx, obj, 0);
	if (rc == 0)
		rc = prval;
	if (rc == 0) {
		char *k = NULL, *v = NULL;
		size_t vl = 0;
		rc = rados_omap_get_next(it, &k, &v, &vl);
		if (rc == 0)
			rc = k ? dent_decode(v, vl, d) : -ENOENT;
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return rc;
}

/* Resolves rel ("" = root) to its entry. -ENOTDIR if a middle component
 * is a file. */
static int resolve(rio *r, const char *rel, dent *d)
{
	d->ino = HR_RADOS_ROOT_INO;
	d->type = T_DIR;
	char name[NAME_MAX + 1];
	const char *p = rel;
	while (*p) {
		const char *e = strchr(p, '/');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l > NAME_MAX)
			return -ENAMETOOLONG;
		if (l) {
			if (d->type != T_DIR)
				return -ENOTDIR;
			memcpy(name, p, l);
			name[l] = '\0';
			int rc = lookup(r, d->ino, name, d);
			if (rc < 0)
				return rc;
		}
		p += l;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* Splits rel into its directory (resolved: *dir) and last name. */
static int resolve_parent(rio *r, const char *rel, uint64_t *dir, char name[NAME_MAX + 1])
{
	char buf[PATH_MAX];
	size_t l = strlen(rel);
	while (l && rel[l - 1] == '/')
		l--;
	if (!l)
		return -EBUSY; /* the root has no parent here */
	if (l >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, rel, l);
	buf[l] = '\0';
	char *slash = strrchr(buf, '/');
	const char *last = slash ? slash + 1 : buf;
	if (strlen(last) > NAME_MAX)
		return -ENAMETOOLONG;
	if (!strcmp(last, ".") || !strcmp(last, ".."))
		return -EINVAL;
	snprintf(name, NAME_MAX + 1, "%s", last);
	if (slash)
		*slash = '\0';
	dent d;
	int rc = resolve(r, slash ? buf : "", &d);
	if (rc < 0)
		return rc;
	if (d.type != T_DIR)
		return -ENOTDIR;
	*dir = d.ino;
	return 0;
}

static int set_name(rio *r, uint64_t dir, const char *name, const dent *d)
{
	char obj[OBJ_LEN];
	uint8_t v[HR_RADOS_DENT_LEN];
	obj_name(dir, 0, obj);
	dent_encode(d, v);
	const char *keys[1] = {name}, *vals[1] = {(const char *)v};
	size_t lens[1] = {sizeof(v)};
	rados_write_op_t op = rados_create_write_op();
	/* never a name in a directory removed meanwhile (by another process):
	 * an omap write would silently make its object again */
	rados_write_op_assert_exists(op);
	rados_write_op_omap_set(op, keys, vals, lens, 1);
	int rc = rados_write_op_operate(op, r->ctx, obj, NULL, 0);
	rados_release_write_op(op);
	return rc;
}

static int rm_name(rio *r, uint64_t dir, const char *name)
{
	char obj[OBJ_LEN];
	obj_name(dir, 0, obj);
	const char *keys[1] = {name};
	rados_write_op_t op = rados_create_write_op();
	rados_write_op_omap_rm_keys(op, keys, 1);
	int rc = rados_write_op_operate(op, r->ctx, obj, NULL, 0);
	rados_release_write_op(op);
	return rc;
}

static int get_xattr(rio *r, uint64_t ino, const char *name, size_t want, uint64_t *v)
{
	char obj[OBJ_LEN], buf[32];
	obj_name(ino, 0, obj);
	int n = rados_getxattr(r->ctx, obj, name, buf, sizeof(buf));
	if (n < 0)
		return n == -ENODATA ? -EIO : n;
	return xattr_decode(buf, (size_t)n, want, v);
}

static int put_size(rio *r, uint64_t ino, uint64_t size)
{
	char obj[OBJ_LEN];
	uint8_t v[HR_RADOS_SIZE_LEN];
	obj_name(ino, 0, obj);
	size_encode(size, v);
	return rados_setxattr(r->ctx, obj, HR_RADOS_XATTR_SIZE, (const char *)v, sizeof(v));
}

static int put_nlink(rio *r, uint64_t ino, uint32_t n)
{
	char obj[OBJ_LEN];
	uint8_t v[HR_RADOS_NLINK_LEN];
	obj_name(ino, 0, obj);
	nlink_encode(n, v);
	return rados_setxattr(r->ctx, obj, HR_RADOS_XATTR_NLINK, (const char *)v, sizeof(v));
}

/* A new inode: its head object with nlink 1 (and size 0 for a file),
 * created exclusively under a fresh random id. */
static int inode_create(rio *r, int type, uint64_t *ino)
{
	for (int tries = 0; tries < 8; tries++) {
		uint64_t id;
		if (getrandom(&id, sizeof(id), 0) != sizeof(id))
			return -EIO;
		if (id <= HR_RADOS_ROOT_INO)
			continue;
		char obj[OBJ_LEN];
		uint8_t nl[HR_RADOS_NLINK_LEN], sz[HR_RADOS_SIZE_LEN];
		obj_name(id, 0, obj);
		nlink_encode(1, nl);
		size_encode(0, sz);
		rados_write_op_t op = rados_create_write_op();
		rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
		rados_write_op_setxattr(op, HR_RADOS_XATTR_NLINK, (const char *)nl, sizeof(nl));
		if (type == T_FILE)
			rados_write_op_setxattr(op, HR_RADOS_XATTR_SIZE, (const char *)sz, sizeof(sz));
		int rc = rados_write_op_operate(op, r->ctx, obj, NULL, 0);
		rados_release_write_op(op);
		if (rc == -EEXIST)
			continue;
		if (rc == 0)
			*ino = id;
		return rc;
	}
	return -EEXIST;
}

/* Removes a file's objects: the chunks first, the head (holding hr.size,
 * which says how many chunks there are) last, so a crash in between leaves
 * a head that still finds the rest. */
static int file_remove_objects(rio *r, uint64_t ino)
{
	uint64_t size = 0;
	char obj[OBJ_LEN];
	int rc = get_xattr(r, ino, HR_RADOS_XATTR_SIZE, HR_RADOS_SIZE_LEN, &size);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	/* unsynced writes past hr.size may have made one more chunk */
	uint64_t last = size / HR_RADOS_CHUNK + 1;
	for (uint64_t c = last; c >= 1; c--) {
		obj_name(ino, c, obj);
		rc = rados_remove(r->ctx, obj);
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	obj_name(ino, 0, obj);
	rc = rados_remove(r->ctx, obj);
	return rc == -ENOENT ? 0 : rc;
}

/* ---- open inodes -------------------------------------------------------- */

/* Waits for every queued write; the first failure sticks in n->err.
 * Called with n->mu held. */
static void node_drain(rnode *n, size_t keep)
{
	size_t done = 0;
	while (n->npend - done > keep) {
		rados_completion_t c = n->pend[done++];
		rados_aio_wait_for_complete(c);
		int rc = rados_aio_get_return_value(c);
		rados_aio_release(c);
		if (rc < 0 && !n->err)
			n->err = rc;
	}
	if (!done)
		return;
	memmove(n->pend, n->pend + done, (n->npend - done) * sizeof(*n->pend));
	n->npend -= done;
}

/* Queues c (already submitted). Called with n->mu held. */
static int node_queue(rnode *n, rados_completion_t c)
{
	if (n->npend == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 16;
		rados_completion_t *p = realloc(n->pend, cap * sizeof(*p));
		if (!p) {
			rados_aio_wait_for_complete(c);
			int rc = rados_aio_get_return_value(c);
			rados_aio_release(c);
			return rc < 0 ? rc : 0;
		}
		n->pend = p;
		n->cap = cap;
	}
	n->pend[n->npend++] = c;
	return 0;
}

/* The open inode ino with one more reference, loading its size when it is
 * not open yet (known_size >= 0: a file just created, no round trip). */
static int node_get(rio *r, uint64_t ino, int64_t known_size, rnode **out)
{
	pthread_mutex_lock(&r->mu);
	for (rnode *n = r->nodes; n; n = n->next) {
		if (n->ino == ino) {
			n->refs++;
			pthread_mutex_unlock(&r->mu);
			*out = n;
			return 0;
		}
	}
	pthread_mutex_unlock(&r->mu);
	uint64_t size = (uint64_t)known_size;
	int rc = known_size >= 0 ? 0 : get_xattr(r, ino, HR_RADOS_XATTR_SIZE, HR_RADOS_SIZE_LEN, &size);
	if (rc < 0)
		return rc;
	rnode *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->ino = ino;
	n->size = size;
	n->refs = 1;
	pthread_mutex_init(&n->mu, NULL);
	pthread_mutex_lock(&r->mu);
	/* another thread may have opened it meanwhile: one node per inode */
	for (rnode *o = r->nodes; o; o = o->next) {
		if (o->ino == ino) {
			o->refs++;
			pthread_mutex_unlock(&r->mu);
			pthread_mutex_destroy(&n->mu);
			free(n);
			*out = o;
			return 0;
		}
	}
	n->next = r->nodes;
	r->nodes = n;
	pthread_mutex_unlock(&r->mu);
	*out = n;
	return 0;
}

static int node_is_open(rio *r, uint64_t ino, int mark_orphan)
{
	int open = 0;
	pthread_mutex_lock(&r->mu);
	for (rnode *n = r->nodes; n; n = n->next) {
		if (n->ino == ino) {
			open = 1;
			if (mark_orphan)
				n->orphan = 1;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return open;
}

/* The size of ino as this process sees it: its open node's (which counts
 * queued writes), else hr.size. */
static int node_size(rio *r, uint64_t ino, uint64_t *size)
{
	pthread_mutex_lock(&r->mu);
	for (rnode *n = r->nodes; n; n = n->next) {
		if (n->ino == ino) {
			pthread_mutex_lock(&n->mu);
			*size = n->size;
			pthread_mutex_unlock(&n->mu);
			pthread_mutex_unlock(&r->mu);
			return 0;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return get_xattr(r, ino, HR_RADOS_XATTR_SIZE, HR_RADOS_SIZE_LEN, size);
}

/* Drops one name of a file or directory inode: nlink - 1, and at 0 its
 * objects go (a file open here: at its last close). Called with ns_mu. */
static int inode_unref(rio *r, const dent *d)
{
	uint64_t nl = 1;
	int rc = get_xattr(r, d->ino, HR_RADOS_XATTR_NLINK, HR_RADOS_NLINK_LEN, &nl);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	if (nl > 1)
		return put_nlink(r, d->ino, (uint32_t)(nl - 1));
	if (d->type == T_DIR) {
		char obj[OBJ_LEN];
		obj_name(d->ino, 0, obj);
		rc = rados_remove(r->ctx, obj);
		return rc == -ENOENT ? 0 : rc;
	}
	if ((rc = put_nlink(r, d->ino, 0)) < 0)
		return rc;
	if (node_is_open(r, d->ino, 1))
		return 0;
	return file_remove_objects(r, d->ino);
}

static int inode_ref(rio *r, uint64_t ino)
{
	uint64_t nl;
	int rc = get_xattr(r, ino, HR_RADOS_XATTR_NLINK, HR_RADOS_NLINK_LEN, &nl);
	if (rc < 0)
		return rc;
	if (nl >= UINT32_MAX)
		return -EMLINK;
	return put_nlink(r, ino, (uint32_t)(nl + 1));
}

/* ---- descriptors ---------------------------------------------------------- */

static int slot_new(rio *r, const slot *s)
{
	pthread_mutex_lock(&r->mu);
	size_t i = 0;
	while (i < r->nslots && r->slots[i].kind != K_FREE)
		i++;
	if (i == r->nslots) {
		size_t n = r->nslots ? r->nslots * 2 : 64;
		slot *p = realloc(r->slots, n * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&r->mu);
			return -ENOMEM;
		}
		memset(p + r->nslots, 0, (n - r->nslots) * sizeof(*p));
		r->slots = p;
		r->nslots = n;
	}
	r->slots[i] = *s;
	pthread_mutex_unlock(&r->mu);
	return (int)i;
}

/* A copy of descriptor fd's slot (valid until close: the caller owns fd). */
static int slot_get(rio *r, int fd, slot *s)
{
	pthread_mutex_lock(&r->mu);
	int ok = fd >= 0 && (size_t)fd < r->nslots && r->slots[fd].kind != K_FREE;
	if (ok)
		*s = r->slots[fd];
	pthread_mutex_unlock(&r->mu);
	return ok ? 0 : -EBADF;
}

/* ---- the operations ---------------------------------------------------- */

static int ro_truncate_node(rio *r, rnode *n, uint64_t len);
static int node_put(rio *r, rnode *n);

static int ro_open(hr_io *io, const char *path, int flags)
{
	rio *r = R(io);
	const char *rel;
	slot s = {.writable = (flags & 0x3) != HR_IO_RDONLY, .writeback = !!(flags & HR_IO_WRITEBACK)};
	if (!under(r, path, &rel)) {
		int fd = hr_io_open(r->px, path, flags);
		if (fd < 0)
			return fd;
		s.kind = K_POSIX;
		s.pfd = fd;
		int rc = slot_new(r, &s);
		if (rc < 0)
			hr_io_close(r->px, fd);
		return rc;
	}
	uint64_t dir;
	char name[NAME_MAX + 1];
	dent d;
	int rc, created = 0;
	pthread_mutex_lock(&r->ns_mu);
	if ((rc = resolve_parent(r, rel, &dir, name)) < 0)
		goto out;
	rc = lookup(r, dir, name, &d);
	if (rc == 0 && (flags & HR_IO_CREATE) && (flags & HR_IO_EXCL)) {
		rc = -EEXIST;
	} else if (rc == 0 && d.type == T_DIR) {
		rc = -EISDIR;
	} else if (rc == -ENOENT && (flags & HR_IO_CREATE)) {
		/* the inode first: a crash before the name leaks it, no more */
		d.type = T_FILE;
		if ((rc = inode_create(r, T_FILE, &d.ino)) == 0)
			rc = set_name(r, dir, name, &d);
		created = rc == 0;
	}
out:
	pthread_mutex_unlock(&r->ns_mu);
	if (rc < 0)
		return rc;
	rnode *n;
	if ((rc = node_get(r, d.ino, created ? 0 : -1, &n)) < 0)
		return rc == -ENOENT ? -EIO : rc; /* a name without its inode: the crash rule broken */
	s.kind = K_RADOS;
	s.n = n;
	if ((flags & HR_IO_TRUNC) && s.writable) {
		pthread_mutex_lock(&n->mu);
		rc = n->size ? ro_truncate_node(r, n, 0) : 0;
		pthread_mutex_unlock(&n->mu);
	}
	int fd = rc < 0 ? rc : slot_new(r, &s);
	if (fd < 0)
		node_put(r, n);
	return fd;
}

/* Forgets node n once its last descriptor closes (removing an orphan's
 * objects). */
static int node_put(rio *r, rnode *n)
{
	pthread_mutex_lock(&n->mu);
	node_drain(n, 0);
	int rc = n->err;
	pthread_mutex_unlock(&n->mu);
	pthread_mutex_lock(&r->mu);
	int last = --n->refs == 0, orphan = n->orphan;
	if (last) {
		for (rnode **p = &r->nodes; *p; p = &(*p)->next) {
			if (*p == n) {
				*p = n->next;
				break;
			}
		}
	}
	pthread_mutex_unlock(&r->mu);
	if (!last)
		return rc;
	if (orphan) {
		pthread_mutex_lock(&r->ns_mu);
		/* a link made after the unlink brings it back: check again */
		uint64_t nl = 0;
		int xr = get_xattr(r, n->ino, HR_RADOS_XATTR_NLINK, HR_RADOS_NLINK_LEN, &nl);
		if (xr == 0 && nl == 0)
			xr = file_remove_objects(r, n->ino);
		pthread_mutex_unlock(&r->ns_mu);
		if (xr < 0 && xr != -ENOENT)
			hr_log_warn("io_rados", "cannot remove the objects of unlinked inode %016" PRIx64
				    ": %s (leaked)", n->ino, strerror(-xr));
	}
	free(n->pend);
	pthread_mutex_destroy(&n->mu);
	free(n);
	return rc;
}

static int ro_close(hr_io *io, int fd)
{
	rio *r = R(io);
	slot s;
	int rc = slot_get(r, fd, &s);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&r->mu);
	r->slots[fd].kind = K_FREE;
	pthread_mutex_unlock(&r->mu);
	if (s.kind == K_POSIX)
		return hr_io_close(r->px, s.pfd);
	return node_put(r, s.n);
}

static ssize_t ro_pread(hr_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	rio *r = R(io);
	slot s;
	int rc = slot_get(r, fd, &s);
	if (rc < 0)
		return rc;
	if (s.kind == K_POSIX)
		return hr_io_pread(r->px, s.pfd, buf, len, off);
	rnode *n = s.n;
	/* this process's queued writes first: RADOS does not order a read
	 * after an unacknowledged write of the same client */
	pthread_mutex_lock(&n->mu);
	node_drain(n, 0);
	uint64_t size = n->size;
	pthread_mutex_unlock(&n->mu);
	if (off >= size)
		return 0;
	if (len > size - off)
		len = (size_t)(size - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	size_t done = 0;
	while (done < len) {
		uint64_t pos = off + done, chunk = pos / HR_RADOS_CHUNK;
		uint64_t coff = pos % HR_RADOS_CHUNK;
		size_t want = len - done;
		if (want > HR_RADOS_CHUNK - coff)
			want = (size_t)(HR_RADOS_CHUNK - coff);
		char obj[OBJ_LEN];
		obj_name(n->ino, chunk, obj);
		int got = rados_read(r->ctx, obj, (char *)buf + done, want, coff);
		if (got == -ENOENT)
			got = 0;
		if (got < 0)
			return done ? (ssize_t)done : got;
		/* a hole: a chunk never written or shorter than the file */
		if ((size_t)got < want)
			memset((char *)buf + done + got, 0, want - (size_t)got);
		done += want;
	}
	return (ssize_t)done;
}

static ssize_t ro_pwrite(hr_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	rio *r = R(io);
	slot s;
	int rc = slot_get(r, fd, &s);
	if (rc < 0)
		return rc;
	if (s.kind == K_POSIX)
		return hr_io_pwrite(r->px, s.pfd, buf, len, off);
	if (!s.writable)
		return -EBADF;
	if (!len)
		return 0;
	rnode *n = s.n;
	uint64_t chunk = off / HR_RADOS_CHUNK, coff = off % HR_RADOS_CHUNK;
	if (len > HR_RADOS_CHUNK - coff)
		len = (size_t)(HR_RADOS_CHUNK - coff); /* a short write, up to the chunk's end */
	char obj[OBJ_LEN];
	obj_name(n->ino, chunk, obj);
	pthread_mutex_lock(&n->mu);
	if (n->npend >= HR_IO_RADOS_INFLIGHT)
		node_drain(n, HR_IO_RADOS_INFLIGHT / 2);
	int extends = off + len > n->size;
	uint8_t sz[HR_RADOS_SIZE_LEN];
	if (extends)
		size_encode(off + len, sz);
	/* the data and, when the file grows, its new size: one operation when
	 * both go to the head object, else two queued in this order */
	rados_write_op_t op = rados_create_write_op();
	rados_write_op_write(op, buf, len, coff);
	if (extends && chunk == 0)
		rados_write_op_setxattr(op, HR_RADOS_XATTR_SIZE, (const char *)sz, sizeof(sz));
	rados_completion_t c = NULL;
	rc = rados_aio_create_completion2(NULL, NULL, &c);
	if (rc == 0) {
		rc = rados_aio_write_op_operate(op, r->ctx, c, obj, NULL, 0);
		if (rc < 0)
			rados_aio_release(c);
		else
			rc = node_queue(n, c);
	}
	rados_release_write_op(op);
	if (rc == 0 && extends && chunk != 0) {
		char head[OBJ_LEN];
		obj_name(n->ino, 0, head);
		rc = rados_aio_create_completion2(NULL, NULL, &c);
		if (rc == 0) {
			rc = rados_aio_setxattr(r->ctx, head, c, HR_RADOS_XATTR_SIZE, (const char *)sz,
						sizeof(sz));
			if (rc < 0)
				rados_aio_release(c);
			else
				rc = node_queue(n, c);
		}
	}
	if (rc == 0 && extends)
		n->size = off + len;
	if (rc < 0 && !n->err)
		n->err = rc;
	/* without HR_IO_WRITEBACK a write must outlive this process once it
	 * returns (what write(2) into the page cache gives): RADOS has it */
	if (rc == 0 && !s.writeback) {
		node_drain(n, 0);
		rc = n->err;
	}
	pthread_mutex_unlock(&n->mu);
	return rc < 0 ? rc : (ssize_t)len;
}

static int ro_sync(hr_io *io, int fd, int data_only)
{
	rio *r = R(io);
	slot s;
	int rc = slot_get(r, fd, &s);
	if (rc < 0)
		return rc;
	if (s.kind == K_POSIX)
		return hr_io_sync(r->px, s.pfd, data_only);
	pthread_mutex_lock(&s.n->mu);
	node_drain(s.n, 0);
	rc = s.n->err;
	pthread_mutex_unlock(&s.n->mu);
	return rc;
}

/* Called with n->mu held. */
static int ro_truncate_node(rio *r, rnode *n, uint64_t len)
{
	node_drain(n, 0);
	if (n->err)
		return n->err;
	char obj[OBJ_LEN];
	int rc = 0;
	if (len < n->size) {
		/* the chunks past the new end go, the one holding it is cut, so
		 * a later extension reads zeros there, not old bytes */
		uint64_t keep = len / HR_RADOS_CHUNK, last = n->size / HR_RADOS_CHUNK;
		for (uint64_t c = last; c > keep; c--) {
			obj_name(n->ino, c, obj);
			rc = rados_remove(r->ctx, obj);
			if (rc < 0 && rc != -ENOENT)
				return rc;
		}
		obj_name(n->ino, keep, obj);
		rc = rados_trunc(r->ctx, obj, len % HR_RADOS_CHUNK);
		if (rc == -ENOENT)
			rc = 0;
		if (rc < 0)
			return rc;
	}
	if ((rc = put_size(r, n->ino, len)) < 0)
		return rc;
	n->size = len;
	return 0;
}

static int ro_truncate(hr_io *io, int fd, uint64_t len)
{
	rio *r = R(io);
	slot s;
	int rc = slot_get(r, fd, &s);
	if (rc < 0)
		return rc;
	if (s.kind == K_POSIX)
		return hr_io_truncate(r->px, s.pfd, len);
	if (!s.writable)
		return -EBADF;
	pthread_mutex_lock(&s.n->mu);
	rc = ro_truncate_node(r, s.n, len);
	pthread_mutex_unlock(&s.n->mu);
	return rc;
}

static int ro_size(hr_io *io, int fd, uint64_t *len)
{
	rio *r = R(io);
	slot s;
	int rc = slot_get(r, fd, &s);
	if (rc < 0)
		return rc;
	if (s.kind == K_POSIX)
		return hr_io_size(r->px, s.pfd, len);
	pthread_mutex_lock(&s.n->mu);
	*len = s.n->size;
	pthread_mutex_unlock(&s.n->mu);
	return 0;
}

static int dir_is_empty(rio *r, uint64_t ino)
{
	char obj[OBJ_LEN];
	obj_name(ino, 0, obj);
	rados_read_op_t op = rados_create_read_op();
	rados_omap_iter_t it = NULL;
	unsigned char more = 0;
	int prval = 0;
	rados_read_op_omap_get_keys2(op, NULL, 1, &it, &more, &prval);
	int rc = rados_read_op_operate(op, r->ctx, obj, 0);
	if (rc == 0)
		rc = prval;
	if (rc == 0) {
		char *k = NULL;
		size_t kl = 0;
		rc = rados_omap_get_next2(it, &k, NULL, &kl, NULL);
		if (rc == 0)
			rc = k ? 0 : 1;
	}
	if (it)
		rados_omap_get_end(it);
	rados_release_read_op(op);
	return rc == -ENOENT ? 1 : rc;
}

static int ro_rename(hr_io *io, const char *from, const char *to)
{
	rio *r = R(io);
	const char *rf, *rt;
	int uf = under(r, from, &rf), ut = under(r, to, &rt);
	if (!uf && !ut)
		return hr_io_rename(r->px, from, to);
	if (uf != ut)
		return -EXDEV;
	uint64_t df, dt;
	char nf[NAME_MAX + 1], nt[NAME_MAX + 1];
	dent a, b;
	int rc, replaced = 0;
	pthread_mutex_lock(&r->ns_mu);
	if ((rc = resolve_parent(r, rf, &df, nf)) < 0 || (rc = resolve_parent(r, rt, &dt, nt)) < 0 ||
	    (rc = lookup(r, df, nf, &a)) < 0)
		goto out;
	rc = lookup(r, dt, nt, &b);
	if (rc == 0) {
		if (b.ino == a.ino) { /* two names of one file: POSIX does nothing */
			rc = 0;
			goto out;
		}
		if (b.type == T_DIR && a.type != T_DIR) {
			rc = -EISDIR;
			goto out;
		}
		if (b.type != T_DIR && a.type == T_DIR) {
			rc = -ENOTDIR;
			goto out;
		}
		if (b.type == T_DIR && (rc = dir_is_empty(r, b.ino)) <= 0) {
			rc = rc ? rc : -ENOTEMPTY;
			goto out;
		}
		replaced = 1;
	} else if (rc != -ENOENT) {
		goto out;
	}
	if (df == dt) {
		/* one write op on the directory: the new name and the old one's
		 * removal happen together or not at all */
		char obj[OBJ_LEN];
		uint8_t v[HR_RADOS_DENT_LEN];
		obj_name(df, 0, obj);
		dent_encode(&a, v);
		const char *keys[1] = {nt}, *vals[1] = {(const char *)v}, *rmk[1] = {nf};
		size_t lens[1] = {sizeof(v)};
		rados_write_op_t op = rados_create_write_op();
		rados_write_op_omap_rm_keys(op, rmk, 1);
		rados_write_op_omap_set(op, keys, vals, lens, 1);
		rc = rados_write_op_operate(op, r->ctx, obj, NULL, 0);
		rados_release_write_op(op);
	} else {
		/* two directories, two writes: for a moment both names exist,
		 * so nlink counts both first (never fewer than the names) */
		if ((rc = inode_ref(r, a.ino)) < 0 || (rc = set_name(r, dt, nt, &a)) < 0 ||
		    (rc = rm_name(r, df, nf)) < 0)
			goto out;
		rc = inode_unref(r, &a);
	}
	if (rc == 0 && replaced)
		rc = inode_unref(r, &b);
out:
	pthread_mutex_unlock(&r->ns_mu);
	return rc;
}

static int ro_link(hr_io *io, const char *from, const char *to)
{
	rio *r = R(io);
	const char *rf, *rt;
	int uf = under(r, from, &rf), ut = under(r, to, &rt);
	if (!uf && !ut)
		return hr_io_link(r->px, from, to);
	if (uf != ut)
		return -EXDEV;
	uint64_t df, dt;
	char nf[NAME_MAX + 1], nt[NAME_MAX + 1];
	dent a, b;
	int rc;
	pthread_mutex_lock(&r->ns_mu);
	if ((rc = resolve_parent(r, rf, &df, nf)) < 0 || (rc = resolve_parent(r, rt, &dt, nt)) < 0 ||
	    (rc = lookup(r, df, nf, &a)) < 0)
		goto out;
	if (a.type == T_DIR) {
		rc = -EPERM;
		goto out;
	}
	rc = lookup(r, dt, nt, &b);
	if (rc == 0)
		rc = -EEXIST;
	else if (rc == -ENOENT && (rc = inode_ref(r, a.ino)) == 0)
		rc = set_name(r, dt, nt, &a);
out:
	pthread_mutex_unlock(&r->ns_mu);
	return rc;
}

static int ro_unlink(hr_io *io, const char *path)
{
	rio *r = R(io);
	const char *rel;
	if (!under(r, path, &rel))
		return hr_io_unlink(r->px, path);
	uint64_t dir;
	char name[NAME_MAX + 1];
	dent d;
	int rc;
	pthread_mutex_lock(&r->ns_mu);
	if ((rc = resolve_parent(r, rel, &dir, name)) < 0 || (rc = lookup(r, dir, name, &d)) < 0)
		goto out;
	if (d.type == T_DIR) {
		rc = -EISDIR;
		goto out;
	}
	if ((rc = rm_name(r, dir, name)) == 0)
		rc = inode_unref(r, &d);
out:
	pthread_mutex_unlock(&r->ns_mu);
	return rc;
}

/* Another process's name lock on a directory object: mkdir takes it so
 * two processes sharing a namespace (cluster servers making store/ or a
 * region's directory at once) cannot both create the directory and leave
 * one of them, with whatever went into it, unnamed: RADOS has no "insert
 * this omap key only if absent". Held for at most HR_RADOS_DIRLOCK_S (a
 * holder that died frees it then); a mkdir waits at most twice that. */
#define DIRLOCK_NAME "hr.mkdir"
#define HR_RADOS_DIRLOCK_S 10

static int dir_lock(rio *r, uint64_t dir, char cookie[32])
{
	char obj[OBJ_LEN];
	obj_name(dir, 0, obj);
	uint64_t c;
	if (getrandom(&c, sizeof(c), 0) != sizeof(c))
		return -EIO;
	snprintf(cookie, 32, "%016" PRIx64, c);
	struct timeval dur = {.tv_sec = HR_RADOS_DIRLOCK_S};
	struct timespec pause = {0, 2 * 1000 * 1000};
	for (int i = 0;; i++) {
		int rc = rados_lock_exclusive(r->ctx, obj, DIRLOCK_NAME, cookie, "hregionfs mkdir", &dur,
					      0);
		if (rc != -EBUSY && rc != -EEXIST)
			return rc;
		if (i * 2 > 2 * HR_RADOS_DIRLOCK_S * 1000)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL); /* another process's mkdir: a round trip or two */
	}
}

static void dir_unlock(rio *r, uint64_t dir, const char *cookie)
{
	char obj[OBJ_LEN];
	obj_name(dir, 0, obj);
	rados_unlock(r->ctx, obj, DIRLOCK_NAME, cookie);
}

static int ro_mkdir(hr_io *io, const char *path)
{
	rio *r = R(io);
	const char *rel;
	if (!under(r, path, &rel))
		return hr_io_mkdir(r->px, path);
	uint64_t dir;
	char name[NAME_MAX + 1];
	dent d;
	int rc;
	pthread_mutex_lock(&r->ns_mu);
	rc = resolve_parent(r, rel, &dir, name);
	if (rc == -EBUSY)
		rc = -EEXIST; /* the root always exists */
	if (rc < 0)
		goto out;
	char cookie[32];
	if ((rc = dir_lock(r, dir, cookie)) < 0)
		goto out;
	rc = lookup(r, dir, name, &d);
	if (rc == 0) {
		rc = -EEXIST;
	} else if (rc == -ENOENT) {
		d.type = T_DIR;
		if ((rc = inode_create(r, T_DIR, &d.ino)) == 0)
			rc = set_name(r, dir, name, &d);
	}
	dir_unlock(r, dir, cookie);
out:
	pthread_mutex_unlock(&r->ns_mu);
	return rc;
}

static int ro_rmdir(hr_io *io, const char *path)
{
	rio *r = R(io);
	const char *rel;
	if (!under(r, path, &rel))
		return hr_io_rmdir(r->px, path);
	uint64_t dir;
	char name[NAME_MAX + 1];
	dent d;
	int rc;
	pthread_mutex_lock(&r->ns_mu);
	if ((rc = resolve_parent(r, rel, &dir, name)) < 0 || (rc = lookup(r, dir, name, &d)) < 0)
		goto out;
	if (d.type != T_DIR) {
		rc = -ENOTDIR;
		goto out;
	}
	if ((rc = dir_is_empty(r, d.ino)) <= 0) {
		rc = rc ? rc : -ENOTEMPTY;
		goto out;
	}
	if ((rc = rm_name(r, dir, name)) == 0)
		rc = inode_unref(r, &d);
out:
	pthread_mutex_unlock(&r->ns_mu);
	return rc;
}

static int ro_sync_dir(hr_io *io, const char *path)
{
	rio *r = R(io);
	const char *rel;
	if (!under(r, path, &rel))
		return hr_io_sync_dir(r->px, path);
	/* every name operation was durable when it returned */
	dent d;
	int rc = resolve(r, rel, &d);
	return rc < 0 ? rc : d.type == T_DIR ? 0 : -ENOTDIR;
}

static int ro_list(hr_io *io, const char *path, hr_io_dirent **ents, size_t *n)
{
	rio *r = R(io);
	const char *rel;
	*ents = NULL;
	*n = 0;
	if (!under(r, path, &rel))
		return hr_io_list(r->px, path, ents, n);
	dent d;
	int rc = resolve(r, rel, &d);
	if (rc < 0)
		return rc;
	if (d.type != T_DIR)
		return -ENOTDIR;
	char obj[OBJ_LEN], after[NAME_MAX + 1] = "";
	obj_name(d.ino, 0, obj);
	hr_io_dirent *v = NULL;
	size_t nv = 0, cap = 0;
	for (;;) {
		rados_read_op_t op = rados_create_read_op();
		rados_omap_iter_t it = NULL;
		unsigned char more = 0;
		int prval = 0;
		rados_read_op_omap_get_vals2(op, after, NULL, LIST_PAGE, &it, &more, &prval);
		rc = rados_read_op_operate(op, r->ctx, obj, 0);
		if (rc == 0)
			rc = prval;
		while (rc == 0) {
			char *k = NULL, *val = NULL;
			size_t kl = 0, vl = 0;
			if ((rc = rados_omap_get_next2(it, &k, &val, &kl, &vl)) < 0 || !k)
				break;
			dent e;
			if (dent_decode(val, vl, &e) < 0 || kl > NAME_MAX) {
				rc = -EIO;
				break;
			}
			if (nv == cap) {
				size_t nc = cap ? cap * 2 : 32;
				hr_io_dirent *p = realloc(v, nc * sizeof(*p));
				if (!p) {
					rc = -ENOMEM;
					break;
				}
				v = p;
				cap = nc;
			}
			if (!(v[nv].name = strndup(k, kl))) {
				rc = -ENOMEM;
				break;
			}
			v[nv++].is_dir = e.type == T_DIR;
			memcpy(after, k, kl);
			after[kl] = '\0';
		}
		if (it)
			rados_omap_get_end(it);
		rados_release_read_op(op);
		if (rc == -ENOENT && d.ino == HR_RADOS_ROOT_INO)
			rc = 0;
		if (rc < 0 || !more)
			break;
	}
	if (rc < 0) {
		hr_io_list_free(v, nv);
		return rc;
	}
	*ents = v;
	*n = nv;
	return 0;
}

static int ro_stat(hr_io *io, const char *path, hr_io_attr *st)
{
	rio *r = R(io);
	const char *rel;
	if (!under(r, path, &rel))
		return hr_io_stat(r->px, path, st);
	dent d;
	int rc = resolve(r, rel, &d);
	if (rc < 0)
		return rc;
	memset(st, 0, sizeof(*st));
	st->ino = d.ino;
	st->is_dir = d.type == T_DIR;
	char obj[OBJ_LEN];
	obj_name(d.ino, 0, obj);
	uint64_t osize = 0, nl = 1;
	time_t mtime = 0;
	if ((rc = rados_stat(r->ctx, obj, &osize, &mtime)) < 0)
		return rc == -ENOENT ? -EIO : rc; /* a name whose inode is gone */
	st->mtime_ms = (int64_t)mtime * 1000;
	if ((rc = get_xattr(r, d.ino, HR_RADOS_XATTR_NLINK, HR_RADOS_NLINK_LEN, &nl)) < 0)
		return rc;
	st->nlink = (uint32_t)nl;
	if (!st->is_dir && (rc = node_size(r, d.ino, &st->size)) < 0)
		return rc;
	return 0;
}

static int ro_lock(hr_io *io, const char *path, int *token)
{
	return hr_io_lock(R(io)->px, path, token);
}

static void ro_unlock(hr_io *io, int token) { hr_io_unlock(R(io)->px, token); }

static int ro_private_dir(hr_io *io, const char *path)
{
	rio *r = R(io);
	const char *rel;
	/* objects have no modes; the pool's access is cephx's business */
	return under(r, path, &rel) ? 0 : hr_io_private_dir(r->px, path);
}

static void ro_destroy(hr_io *io)
{
	rio *r = R(io);
	for (size_t i = 0; i < r->nslots; i++) {
		if (r->slots[i].kind != K_FREE) {
			hr_log_warn("io_rados", "descriptor %zu still open at destroy", i);
			ro_close(io, (int)i);
		}
	}
	free(r->slots);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->ns_mu);
	free(r);
}

/* Every result that can carry a blocklisting goes through hr_rados_note:
 * the first refusal tells the server it was fenced (hr_rados.h). */
static int fo_open(hr_io *io, const char *path, int flags)
{
	return hr_rados_note(ro_open(io, path, flags));
}

static ssize_t fo_pread(hr_io *io, int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t n = ro_pread(io, fd, buf, len, off);
	return n == -ESHUTDOWN ? hr_rados_note(-ESHUTDOWN) : n;
}

static ssize_t fo_pwrite(hr_io *io, int fd, const void *buf, size_t len, uint64_t off)
{
	ssize_t n = ro_pwrite(io, fd, buf, len, off);
	return n == -ESHUTDOWN ? hr_rados_note(-ESHUTDOWN) : n;
}

static int fo_sync(hr_io *io, int fd, int data_only)
{
	return hr_rados_note(ro_sync(io, fd, data_only));
}

static int fo_rename(hr_io *io, const char *from, const char *to)
{
	return hr_rados_note(ro_rename(io, from, to));
}

static int fo_unlink(hr_io *io, const char *path)
{
	return hr_rados_note(ro_unlink(io, path));
}

static const hr_io_ops rados_ops = {
	.open = fo_open,
	.close = ro_close,
	.pread = fo_pread,
	.pwrite = fo_pwrite,
	.sync = fo_sync,
	.truncate = ro_truncate,
	.size = ro_size,
	.rename = fo_rename,
	.link = ro_link,
	.unlink = fo_unlink,
	.mkdir = ro_mkdir,
	.rmdir = ro_rmdir,
	.sync_dir = ro_sync_dir,
	.list = ro_list,
	.stat = ro_stat,
	.lock = ro_lock,
	.unlock = ro_unlock,
	.private_dir = ro_private_dir,
	.destroy = ro_destroy,
};

int hr_io_rados_new(hr_rados *rad, const char *root, hr_io **out)
{
	*out = NULL;
	size_t l = strlen(root);
	if (!l || l >= PATH_MAX)
		return -EINVAL;
	while (l > 1 && root[l - 1] == '/')
		l--;
	rio *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->io.ops = &rados_ops;
	r->px = hr_io_posix();
	r->ctx = hr_rados_ioctx(rad);
	memcpy(r->root, root, l);
	r->root[l] = '\0';
	r->rootlen = l;
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->ns_mu, NULL);
	/* the root directory object: created once, kept by later opens */
	char obj[OBJ_LEN];
	uint8_t nl[HR_RADOS_NLINK_LEN];
	obj_name(HR_RADOS_ROOT_INO, 0, obj);
	nlink_encode(1, nl);
	rados_write_op_t op = rados_create_write_op();
	rados_write_op_create(op, LIBRADOS_CREATE_EXCLUSIVE, NULL);
	rados_write_op_setxattr(op, HR_RADOS_XATTR_NLINK, (const char *)nl, sizeof(nl));
	int rc = rados_write_op_operate(op, r->ctx, obj, NULL, 0);
	rados_release_write_op(op);
	if (rc == -EEXIST)
		rc = 0;
	/* the local side: the lock file and the control socket live there */
	if (rc == 0)
		rc = hr_io_mkdirs(r->px, r->root);
	if (rc < 0) {
		hr_log_error("io_rados", "%s (pool %s, namespace '%s'): cannot open: %s", r->root,
			     hr_rados_pool(rad), hr_rados_namespace(rad), strerror(-rc));
		ro_destroy(&r->io);
		return rc;
	}
	*out = &r->io;
	return 0;
}

int hr_io_rados_open(const hr_config *cfg, hr_rados **rad, hr_io **io)
{
	*rad = NULL;
	*io = NULL;
	char ns[PATH_MAX];
	/* the local directory first: the default namespace is its real path */
	int rc = hr_io_mkdirs(hr_io_posix(), cfg->data_dir);
	if (rc < 0) {
		hr_log_error("io_rados", "%s: cannot create: %s", cfg->data_dir, strerror(-rc));
		return rc;
	}
	if (cfg->rados_namespace[0])
		snprintf(ns, sizeof(ns), "%s", cfg->rados_namespace);
	else
		hr_rados_default_namespace(cfg->data_dir, ns, sizeof(ns));
	if ((rc = hr_rados_connect(cfg->ceph_conf, cfg->rados_pool, ns, rad)) < 0)
		return rc;
	if ((rc = hr_io_rados_new(*rad, cfg->data_dir, io)) < 0) {
		hr_rados_close(*rad);
		*rad = NULL;
		return rc;
	}
	hr_log_info("io_rados", "%s: storage=rados, pool %s, namespace '%s' (%s)", cfg->data_dir,
		    cfg->rados_pool, ns, cfg->ceph_conf);
	return 0;
}
