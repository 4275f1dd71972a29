/*
 * mem.c — the mount's memory-only namespace: rows and families made with
 * mkdir (HBase has no empty rows, so they live here until a cell arrives or
 * the mount ends), cells created but not yet committed (so `ls` shows them),
 * and scratch files (literal leading-dot names: rsync's and editors'
 * temporaries, never stored; their data is an open-file state the entry
 * holds). Keyed by the registry path "table/row/family/name" (encoded
 * names). Locking: fs->lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"

static uint64_t hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

int hrfs_mem_init(struct hrfs *fs)
{
	fs->mem.nbuckets = 256;
	fs->mem.b = calloc(fs->mem.nbuckets, sizeof(*fs->mem.b));
	return fs->mem.b ? 0 : -ENOMEM;
}

static void mem_free(struct hrfs *fs, struct hrfs_mem *m)
{
	if (m->of)
		hrfs_of_put_locked(fs, m->of);
	free(m->path);
	free(m);
}

void hrfs_mem_destroy(struct hrfs *fs)
{
	for (size_t i = 0; fs->mem.b && i < fs->mem.nbuckets; i++) {
		struct hrfs_mem *m = fs->mem.b[i], *next;
		for (; m; m = next) {
			next = m->next;
			m->listed = 0;
			if (--m->refs == 0)
				mem_free(fs, m);
		}
	}
	free(fs->mem.b);
	fs->mem.b = NULL;
	for (size_t i = 0; i < sizeof(fs->mem.pc) / sizeof(fs->mem.pc[0]); i++)
		while (fs->mem.pc[i]) {
			struct hrfs_pcount *c = fs->mem.pc[i];
			fs->mem.pc[i] = c->next;
			free(c->parent);
			free(c);
		}
}

struct hrfs_mem *hrfs_mem_find_locked(struct hrfs *fs, const char *path)
{
	for (struct hrfs_mem *m = fs->mem.b[hash_path(path) & (fs->mem.nbuckets - 1)]; m;
	     m = m->next)
		if (strcmp(m->path, path) == 0)
			return m;
	return NULL;
}

static struct hrfs_pcount **pc_slot(struct hrfs *fs, const char *parent, size_t plen)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < plen; i++) {
		h ^= (unsigned char)parent[i];
		h *= 1099511628211ULL;
	}
	struct hrfs_pcount **pp = &fs->mem.pc[h % (sizeof(fs->mem.pc) / sizeof(fs->mem.pc[0]))];
	for (; *pp; pp = &(*pp)->next)
		if (strlen((*pp)->parent) == plen && memcmp((*pp)->parent, parent, plen) == 0)
			break;
	return pp;
}

/* Adjusts the child count of m's parent by delta (+1 / -1). */
static void pc_adjust(struct hrfs *fs, const struct hrfs_mem *m, int delta)
{
	struct hrfs_pcount **pp = pc_slot(fs, m->path, m->parent_len);
	if (!*pp) {
		if (delta < 0)
			return;
		struct hrfs_pcount *c = calloc(1, sizeof(*c));
		if (!c || !(c->parent = strndup(m->path, m->parent_len))) {
			free(c);
			return; /* counts are a shortcut; see has_children */
		}
		*pp = c;
	}
	struct hrfs_pcount *c = *pp;
	if (delta > 0) {
		c->n++;
	} else if (--c->n == 0) {
		*pp = c->next;
		free(c->parent);
		free(c);
	}
}

static size_t pc_get(struct hrfs *fs, const char *parent)
{
	struct hrfs_pcount **pp = pc_slot(fs, parent, strlen(parent));
	return *pp ? (*pp)->n : 0;
}

static void link_in(struct hrfs *fs, struct hrfs_mem *m)
{
	size_t h = hash_path(m->path) & (fs->mem.nbuckets - 1);
	m->next = fs->mem.b[h];
	fs->mem.b[h] = m;
	m->listed = 1;
	fs->mem.count++;
	pc_adjust(fs, m, +1);
}

static void unlink_out(struct hrfs *fs, struct hrfs_mem *m)
{
	struct hrfs_mem **pp = &fs->mem.b[hash_path(m->path) & (fs->mem.nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next)
		if (*pp == m) {
			*pp = m->next;
			break;
		}
	m->next = NULL;
	m->listed = 0;
	fs->mem.count--;
	pc_adjust(fs, m, -1);
}

static void set_parent_len(struct hrfs_mem *m)
{
	char *slash = strrchr(m->path, '/');
	m->parent_len = slash ? (size_t)(slash - m->path) : 0;
}

struct hrfs_mem *hrfs_mem_add_locked(struct hrfs *fs, const char *path, int kind)
{
	struct hrfs_mem *m = hrfs_mem_find_locked(fs, path);
	if (m)
		return m;
	if (fs->mem.count >= fs->mem.nbuckets * 2) {
		size_t nb = fs->mem.nbuckets * 2;
		struct hrfs_mem **b = calloc(nb, sizeof(*b));
		if (b) {
			for (size_t i = 0; i < fs->mem.nbuckets; i++) {
				struct hrfs_mem *x = fs->mem.b[i], *next;
				for (; x; x = next) {
					next = x->next;
					size_t h = hash_path(x->path) & (nb - 1);
					x->next = b[h];
					b[h] = x;
				}
			}
			free(fs->mem.b);
			fs->mem.b = b;
			fs->mem.nbuckets = nb;
		}
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->path = strdup(path);
	if (!m->path) {
		free(m);
		return NULL;
	}
	m->kind = kind;
	m->refs = 1; /* the registry's */
	set_parent_len(m);
	link_in(fs, m);
	return m;
}

void hrfs_mem_ref_locked(struct hrfs_mem *m)
{
	m->refs++;
}

void hrfs_mem_unref_locked(struct hrfs *fs, struct hrfs_mem *m)
{
	if (--m->refs == 0)
		mem_free(fs, m);
}

void hrfs_mem_del_locked(struct hrfs *fs, const char *path)
{
	struct hrfs_mem *m = hrfs_mem_find_locked(fs, path);
	if (!m)
		return;
	unlink_out(fs, m);
	if (m->of)
		m->of->orphan = 1; /* its descriptors keep it, nameless */
	hrfs_mem_unref_locked(fs, m);
}

void hrfs_mem_drop_table_locked(struct hrfs *fs, const char *table)
{
	size_t tl = strlen(table);
	for (size_t i = 0; i < fs->mem.nbuckets; i++) {
		struct hrfs_mem **pp = &fs->mem.b[i];
		while (*pp) {
			struct hrfs_mem *m = *pp;
			if (strncmp(m->path, table, tl) != 0 || m->path[tl] != '/') {
				pp = &m->next;
				continue;
			}
			*pp = m->next;
			m->next = NULL;
			m->listed = 0;
			fs->mem.count--;
			pc_adjust(fs, m, -1);
			if (m->of)
				m->of->orphan = 1;
			hrfs_mem_unref_locked(fs, m);
		}
	}
}

struct hrfs_mem *hrfs_mem_add_scratch_locked(struct hrfs *fs, const char *path,
					     const hr_file_attr *attr)
{
	struct hrfs_of *of = hrfs_of_new_scratch(attr);
	if (!of)
		return NULL;
	struct hrfs_mem *m = hrfs_mem_add_locked(fs, path, HRFS_MEM_SCRATCH);
	if (!m || m->of) {
		hrfs_of_put_locked(fs, of);
		return m && m->kind == HRFS_MEM_SCRATCH ? m : NULL;
	}
	m->of = of;
	return m;
}

int hrfs_mem_rename_locked(struct hrfs *fs, struct hrfs_mem *m, const char *newpath)
{
	char *p = strdup(newpath);
	if (!p)
		return -ENOMEM;
	int listed = m->listed;
	if (listed)
		unlink_out(fs, m);
	free(m->path);
	m->path = p;
	set_parent_len(m);
	if (listed)
		link_in(fs, m);
	return 0;
}

static int is_child(const struct hrfs_mem *m, const char *parent, size_t plen)
{
	return m->parent_len == plen && memcmp(m->path, parent, plen) == 0;
}

int hrfs_mem_has_children_locked(struct hrfs *fs, const char *parent)
{
	return pc_get(fs, parent) > 0;
}

/* Scratch names first (literal, by strcmp); then by decoded key, memcmp
 * with the shorter first on a tie: the engine's order. */
static int cmp_names(const void *a, const void *b)
{
	const struct hrfs_mem_name *x = a, *y = b;
	int sx = x->kind == HRFS_MEM_SCRATCH, sy = y->kind == HRFS_MEM_SCRATCH;
	if (sx != sy)
		return sy - sx;
	if (sx)
		return strcmp(x->name, y->name);
	uint8_t kx[HRFS_NAME_MAX], ky[HRFS_NAME_MAX];
	int lx = x->kind == HRFS_MEM_FAMILY ? (int)strlen(x->name) : hrfs_name_decode(x->name, kx);
	int ly = y->kind == HRFS_MEM_FAMILY ? (int)strlen(y->name) : hrfs_name_decode(y->name, ky);
	if (x->kind == HRFS_MEM_FAMILY)
		memcpy(kx, x->name, (size_t)lx);
	if (y->kind == HRFS_MEM_FAMILY)
		memcpy(ky, y->name, (size_t)ly);
	if (lx < 0 || ly < 0)
		return strcmp(x->name, y->name);
	int c = memcmp(kx, ky, (size_t)(lx < ly ? lx : ly));
	return c ? c : lx - ly;
}

int hrfs_mem_list(struct hrfs *fs, const char *parent, struct hrfs_mem_name **out, size_t *n)
{
	size_t plen = strlen(parent), cnt = 0, cap = 0;
	struct hrfs_mem_name *v = NULL;

	pthread_mutex_lock(&fs->lock);
	size_t expect = pc_get(fs, parent);
	for (size_t i = 0; expect > 0 && i < fs->mem.nbuckets; i++)
		for (struct hrfs_mem *m = fs->mem.b[i]; m; m = m->next) {
			if (!is_child(m, parent, plen))
				continue;
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct hrfs_mem_name *nv = realloc(v, nc * sizeof(*nv));
				if (!nv) {
					pthread_mutex_unlock(&fs->lock);
					free(v);
					return -ENOMEM;
				}
				v = nv;
				cap = nc;
			}
			snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", m->path + plen + (plen ? 1 : 0));
			v[cnt].kind = m->kind;
			cnt++;
		}
	pthread_mutex_unlock(&fs->lock);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), cmp_names);
	*out = v;
	*n = cnt;
	return 0;
}

void hrfs_mem_cell_arrived_locked(struct hrfs *fs, const struct hrfs_path *cell)
{
	char path[HRFS_PATH_MAX];
	snprintf(path, sizeof(path), "%s", cell->mpath);
	/* Drop the marks of the family and row directories above the cell. */
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(path, '/');
		if (!slash)
			return;
		*slash = '\0';
		struct hrfs_mem *m = hrfs_mem_find_locked(fs, path);
		if (m && (m->kind == HRFS_MEM_ROW || m->kind == HRFS_MEM_FAMILY))
			hrfs_mem_del_locked(fs, path);
	}
}

struct hrfs_mem *hrfs_mem_get_scratch(struct hrfs *fs, const char *path)
{
	pthread_mutex_lock(&fs->lock);
	struct hrfs_mem *m = hrfs_mem_find_locked(fs, path);
	if (m && m->kind == HRFS_MEM_SCRATCH)
		hrfs_mem_ref_locked(m);
	else
		m = NULL;
	pthread_mutex_unlock(&fs->lock);
	return m;
}
