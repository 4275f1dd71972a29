/*
 * inode.c — the inode table: kernel inode numbers <-> keys, in memory.
 * Two chained hash tables share one bucket count: by inode number, and by
 * (parent inode, file name). Inode numbers are never reused (64-bit
 * counter), so a stale number from the kernel can never name another key.
 * Locking: fs->lock (see hrfs.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs.h"

static uint64_t hash_ino(uint64_t ino)
{
	ino ^= ino >> 33;
	ino *= 0xff51afd7ed558ccdULL;
	ino ^= ino >> 33;
	return ino;
}

static uint64_t hash_name(uint64_t parent, const char *name)
{
	uint64_t h = 1469598103934665603ULL ^ hash_ino(parent);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h;
}

int hrfs_itab_init(struct hrfs *fs)
{
	struct hrfs_itab *t = &fs->itab;
	t->nbuckets = 1024;
	t->by_ino = calloc(t->nbuckets, sizeof(*t->by_ino));
	t->by_name = calloc(t->nbuckets, sizeof(*t->by_name));
	if (!t->by_ino || !t->by_name)
		goto fail;
	t->next_ino = FUSE_ROOT_ID;
	fs->root = hrfs_ino_child_locked(fs, NULL, HRFS_ROOT, "", NULL, 0, 1);
	if (!fs->root)
		goto fail;
	return 0;
fail:
	free(t->by_ino);
	free(t->by_name);
	t->by_ino = t->by_name = NULL;
	return -ENOMEM;
}

static void free_inode(struct hrfs_inode *in)
{
	free(in->name);
	if (in->key != (uint8_t *)in->name)
		free(in->key);
	free(in);
}

void hrfs_itab_destroy(struct hrfs *fs)
{
	struct hrfs_itab *t = &fs->itab;
	if (!t->by_ino)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct hrfs_inode *in = t->by_ino[i], *next;
		for (; in; in = next) {
			next = in->next_ino;
			if (in->scratch)
				hrfs_mem_unref_locked(fs, in->scratch);
			free_inode(in);
		}
	}
	free(t->by_ino);
	free(t->by_name);
	t->by_ino = t->by_name = NULL;
}

static void grow(struct hrfs_itab *t)
{
	size_t nb = t->nbuckets * 2;
	struct hrfs_inode **bi = calloc(nb, sizeof(*bi)), **bn = calloc(nb, sizeof(*bn));
	if (!bi || !bn) { /* keep the old, longer chains: still correct */
		free(bi);
		free(bn);
		return;
	}
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct hrfs_inode *in, *next;
		for (in = t->by_ino[i]; in; in = next) {
			next = in->next_ino;
			size_t h = hash_ino(in->ino) & (nb - 1);
			in->next_ino = bi[h];
			bi[h] = in;
		}
		for (in = t->by_name[i]; in; in = next) {
			next = in->next_name;
			size_t h = hash_name(in->parent ? in->parent->ino : 0, in->name) & (nb - 1);
			in->next_name = bn[h];
			bn[h] = in;
		}
	}
	free(t->by_ino);
	free(t->by_name);
	t->by_ino = bi;
	t->by_name = bn;
	t->nbuckets = nb;
}

static struct hrfs_inode *find_ino_locked(struct hrfs *fs, uint64_t ino)
{
	struct hrfs_itab *t = &fs->itab;
	for (struct hrfs_inode *in = t->by_ino[hash_ino(ino) & (t->nbuckets - 1)]; in;
	     in = in->next_ino)
		if (in->ino == ino)
			return in;
	return NULL;
}

struct hrfs_inode *hrfs_ino_find(struct hrfs *fs, fuse_ino_t ino)
{
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = find_ino_locked(fs, ino);
	pthread_mutex_unlock(&fs->lock);
	return in;
}

struct hrfs_inode *hrfs_ino_peek_locked(struct hrfs *fs, struct hrfs_inode *parent,
					const char *name)
{
	struct hrfs_itab *t = &fs->itab;
	for (struct hrfs_inode *in = t->by_name[hash_name(parent->ino, name) & (t->nbuckets - 1)];
	     in; in = in->next_name)
		if (in->parent == parent && strcmp(in->name, name) == 0)
			return in;
	return NULL;
}

static void hash_name_in(struct hrfs *fs, struct hrfs_inode *in)
{
	struct hrfs_itab *t = &fs->itab;
	size_t h = hash_name(in->parent->ino, in->name) & (t->nbuckets - 1);
	in->next_name = t->by_name[h];
	t->by_name[h] = in;
	in->hashed_name = 1;
}

void hrfs_ino_unhash_locked(struct hrfs *fs, struct hrfs_inode *in)
{
	struct hrfs_itab *t = &fs->itab;
	if (!in->hashed_name)
		return;
	struct hrfs_inode **pp = &t->by_name[hash_name(in->parent->ino, in->name) & (t->nbuckets - 1)];
	for (; *pp; pp = &(*pp)->next_name)
		if (*pp == in) {
			*pp = in->next_name;
			break;
		}
	in->next_name = NULL;
	in->hashed_name = 0;
}

static int set_name(struct hrfs_inode *in, const char *name, const uint8_t *key, size_t key_len)
{
	size_t nl = strlen(name);
	char *n = malloc(nl + 1);
	uint8_t *k = (uint8_t *)n;
	if (!n)
		return -ENOMEM;
	memcpy(n, name, nl + 1);
	if (key && (key_len != nl || memcmp(key, name, nl) != 0)) {
		k = malloc(key_len ? key_len : 1);
		if (!k) {
			free(n);
			return -ENOMEM;
		}
		memcpy(k, key, key_len);
	} else {
		key_len = nl;
	}
	if (in->key != (uint8_t *)in->name)
		free(in->key);
	free(in->name);
	in->name = n;
	in->key = k;
	in->key_len = key_len;
	return 0;
}

struct hrfs_inode *hrfs_ino_child_locked(struct hrfs *fs, struct hrfs_inode *parent,
					 int kind, const char *name, const uint8_t *key,
					 size_t key_len, uint64_t nlookup)
{
	struct hrfs_itab *t = &fs->itab;
	struct hrfs_inode *in = parent ? hrfs_ino_peek_locked(fs, parent, name) : NULL;

	if (in && in->kind != kind) {
		/* The name now stands for something else (a cell became a
		 * directory name, say): retire the old inode's name. */
		hrfs_ino_unhash_locked(fs, in);
		in = NULL;
	}
	if (in) {
		in->nlookup += nlookup;
		return in;
	}
	in = calloc(1, sizeof(*in));
	if (!in || set_name(in, name, key, key_len) < 0) {
		free(in);
		return NULL;
	}
	in->kind = kind;
	in->ino = t->next_ino++;
	in->nlookup = nlookup;
	in->parent = parent;
	if (t->count >= t->nbuckets)
		grow(t);
	size_t h = hash_ino(in->ino) & (t->nbuckets - 1);
	in->next_ino = t->by_ino[h];
	t->by_ino[h] = in;
	t->count++;
	if (parent) {
		parent->refs++;
		hash_name_in(fs, in);
	}
	return in;
}

struct hrfs_inode *hrfs_ino_child(struct hrfs *fs, struct hrfs_inode *parent, int kind,
				  const char *name, const uint8_t *key, size_t key_len,
				  uint64_t nlookup)
{
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = hrfs_ino_child_locked(fs, parent, kind, name, key, key_len, nlookup);
	pthread_mutex_unlock(&fs->lock);
	return in;
}

/* Frees in and then any ancestor it was the last reason to keep. */
static void maybe_free_locked(struct hrfs *fs, struct hrfs_inode *in)
{
	struct hrfs_itab *t = &fs->itab;
	while (in && in->nlookup == 0 && in->refs == 0 && in != fs->root) {
		struct hrfs_inode *parent = in->parent;
		hrfs_ino_unhash_locked(fs, in);
		struct hrfs_inode **pp = &t->by_ino[hash_ino(in->ino) & (t->nbuckets - 1)];
		for (; *pp; pp = &(*pp)->next_ino)
			if (*pp == in) {
				*pp = in->next_ino;
				break;
			}
		t->count--;
		if (in->scratch)
			hrfs_mem_unref_locked(fs, in->scratch);
		free_inode(in);
		in = parent;
		if (in)
			in->refs--;
	}
}

void hrfs_ino_forget(struct hrfs *fs, fuse_ino_t ino, uint64_t n)
{
	pthread_mutex_lock(&fs->lock);
	struct hrfs_inode *in = find_ino_locked(fs, ino);
	if (in) {
		in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
		maybe_free_locked(fs, in);
	}
	pthread_mutex_unlock(&fs->lock);
}

void hrfs_ino_ref_locked(struct hrfs_inode *in)
{
	in->refs++;
}

void hrfs_ino_unref_locked(struct hrfs *fs, struct hrfs_inode *in)
{
	in->refs--;
	maybe_free_locked(fs, in);
}

void hrfs_ino_unref(struct hrfs *fs, struct hrfs_inode *in)
{
	pthread_mutex_lock(&fs->lock);
	hrfs_ino_unref_locked(fs, in);
	pthread_mutex_unlock(&fs->lock);
}

int hrfs_ino_move_locked(struct hrfs *fs, struct hrfs_inode *in, struct hrfs_inode *newparent,
			 const char *name, const uint8_t *key, size_t key_len)
{
	int was_hashed = in->hashed_name;
	hrfs_ino_unhash_locked(fs, in);
	int rc = set_name(in, name, key, key_len);
	if (rc < 0) {
		if (was_hashed)
			hash_name_in(fs, in);
		return rc;
	}
	if (newparent != in->parent) {
		newparent->refs++;
		struct hrfs_inode *old = in->parent;
		in->parent = newparent;
		old->refs--;
		maybe_free_locked(fs, old);
	}
	hash_name_in(fs, in);
	return 0;
}

static void append(char *out, size_t *o, const char *s)
{
	size_t l = strlen(s);
	if (*o + l + 1 >= HRFS_PATH_MAX)
		l = HRFS_PATH_MAX - 1 - *o; /* cannot happen: names are <= 255 */
	memcpy(out + *o, s, l);
	*o += l;
	out[*o] = '\0';
}

void hrfs_ino_path_locked(const struct hrfs_inode *in, struct hrfs_path *p)
{
	const struct hrfs_inode *chain[8];
	size_t depth = 0, o = 0;

	memset(p, 0, offsetof(struct hrfs_path, name));
	p->kind = in->kind;
	p->st_sub = in->st_sub;
	snprintf(p->name, sizeof(p->name), "%s", in->name);
	p->mpath[0] = '\0';
	if (hrfs_kind_is_hist(in->kind)) {
		hrfs_hist_path_locked(in, p); /* deeper than a table tree */
		return;
	}
	for (const struct hrfs_inode *x = in; x && x->kind != HRFS_ROOT && depth < 8; x = x->parent)
		chain[depth++] = x;
	/* chain[depth-1] is the child of root. */
	for (size_t i = depth; i-- > 0;) {
		const struct hrfs_inode *x = chain[i];
		size_t level = depth - 1 - i; /* 0 = table, 1 = row, 2 = family, 3 = qualifier */
		if (level > 0)
			append(p->mpath, &o, "/");
		append(p->mpath, &o, x->name);
		if (x->kind == HRFS_SCRATCH)
			continue;
		switch (level) {
		case 0:
			snprintf(p->table, sizeof(p->table), "%s", x->name);
			break;
		case 1:
			p->row_len = x->key_len;
			memcpy(p->row, x->key, x->key_len);
			break;
		case 2:
			snprintf(p->family, sizeof(p->family), "%s", x->name);
			break;
		case 3:
			p->qual_len = x->key_len;
			memcpy(p->qual, x->key, x->key_len);
			break;
		}
	}
	/* The status tree: /.hregionfs/tables/<t>/file names a table too. */
	if (in->kind == HRFS_ST_TABLE || (in->kind == HRFS_ST_FILE && in->parent &&
					  in->parent->kind == HRFS_ST_TABLE)) {
		const struct hrfs_inode *t = in->kind == HRFS_ST_TABLE ? in : in->parent;
		snprintf(p->table, sizeof(p->table), "%s", t->name);
	}
}

void hrfs_ino_path(struct hrfs *fs, const struct hrfs_inode *in, struct hrfs_path *p)
{
	pthread_mutex_lock(&fs->lock);
	hrfs_ino_path_locked(in, p);
	pthread_mutex_unlock(&fs->lock);
}

int hrfs_child_mpath(const struct hrfs_path *p, const char *name, char *out)
{
	int n;
	if (p->mpath[0])
		n = snprintf(out, HRFS_PATH_MAX, "%s/%s", p->mpath, name);
	else
		n = snprintf(out, HRFS_PATH_MAX, "%s", name);
	return n < 0 || n >= HRFS_PATH_MAX ? -ENAMETOOLONG : 0;
}
