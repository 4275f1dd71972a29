/* miter.c — store read views and the merge of their sources (contract in
 * hr_region.h). Sources are few (active, snapshot and a bounded number of
 * files), so the merge keeps the current minimum by a linear pass rather
 * than a heap. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/hr_region.h"

void hr_family_copy_settings(hr_family_schema *dst, const hr_family_schema *src)
{
	dst->max_versions = src->max_versions;
	dst->ttl_ms = src->ttl_ms;
	dst->block_size = src->block_size;
	dst->bloom = src->bloom;
	dst->compression = src->compression;
	dst->keep_deleted_cells = src->keep_deleted_cells;
}

int hr_store_view(hr_store *st, hr_view *v)
{
	memset(v, 0, offsetof(hr_view, fam));
	pthread_mutex_lock(&st->mu);
	v->files = st->nfiles ? malloc(st->nfiles * sizeof(*v->files)) : NULL;
	if (st->nfiles && !v->files) {
		pthread_mutex_unlock(&st->mu);
		return -ENOMEM;
	}
	v->ms[v->nms++] = st->active;
	hr_memstore_ref(st->active);
	if (st->snapshot) {
		v->ms[v->nms++] = st->snapshot;
		hr_memstore_ref(st->snapshot);
	}
	for (uint32_t i = 0; i < st->nfiles; i++) {
		v->files[i] = st->files[i];
		hr_sfile_ref(st->files[i]);
	}
	v->nfiles = st->nfiles;
	v->gen = atomic_load(&st->gen);
	/* settings only, not the 256-byte name: a view is taken per get */
	v->fam.name[0] = '\0';
	hr_family_copy_settings(&v->fam, &st->fam);
	pthread_mutex_unlock(&st->mu);
	return 0;
}

void hr_store_conf(hr_store *st, hr_family_schema *out)
{
	pthread_mutex_lock(&st->mu);
	*out = st->fam;
	pthread_mutex_unlock(&st->mu);
}

void hr_store_set_conf(hr_store *st, const hr_family_schema *f)
{
	pthread_mutex_lock(&st->mu);
	hr_family_copy_settings(&st->fam, f);
	pthread_mutex_unlock(&st->mu);
}

void hr_view_release(hr_view *v)
{
	for (int i = 0; i < v->nms; i++)
		hr_memstore_unref(v->ms[i]);
	for (uint32_t i = 0; i < v->nfiles; i++)
		hr_sfile_unref(v->files[i]);
	free(v->files);
	memset(v, 0, offsetof(hr_view, fam)); /* the settings need no clearing */
}

typedef struct msrc {
	int is_file;
	int valid;
	hr_memstore_iter mi;
	hr_sfile_iter *fi;
	hr_sfile *file;
	const hr_kv *kv;
} msrc;

struct hr_miter {
	int n;
	int cur; /* index of the smallest valid source, -1 if none */
	msrc src[];
};

static void src_load(msrc *s)
{
	if (s->is_file) {
		s->valid = hr_sfile_iter_valid(s->fi);
		s->kv = s->valid ? hr_sfile_iter_kv(s->fi) : NULL;
	} else {
		s->valid = hr_memstore_iter_valid(&s->mi);
		s->kv = s->valid ? &s->mi.kv : NULL;
	}
}

static void pick(hr_miter *m)
{
	m->cur = -1;
	for (int i = 0; i < m->n; i++) {
		if (!m->src[i].valid)
			continue;
		if (m->cur < 0 || hr_kv_cmp(m->src[i].kv, m->src[m->cur].kv) < 0)
			m->cur = i;
	}
}

int hr_miter_open(const hr_view *v, hr_miter **out)
{
	int n = v->nms + (int)v->nfiles;
	/* malloc, not calloc: one per read, and glibc's calloc always takes
	 * the slow path (no thread cache); each source is set up below */
	hr_miter *m = malloc(sizeof(*m) + (size_t)n * sizeof(msrc));
	int rc = 0;
	if (!m)
		return -ENOMEM;
	m->n = 0;
	m->cur = -1;
	for (int i = 0; i < v->nms; i++) {
		msrc *s = &m->src[m->n];
		memset(s, 0, sizeof(*s));
		hr_memstore_iter_init(&s->mi, v->ms[i]);
		m->n++;
	}
	for (uint32_t i = 0; i < v->nfiles; i++) {
		msrc *s = &m->src[m->n];
		memset(s, 0, sizeof(*s));
		s->is_file = 1;
		s->file = v->files[i];
		if ((rc = hr_sfile_iter_new(v->files[i], &s->fi)) < 0)
			goto fail;
		m->n++;
	}
	*out = m;
	return 0;
fail:
	hr_miter_free(m);
	return rc;
}

void hr_miter_free(hr_miter *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n; i++)
		if (m->src[i].is_file && m->src[i].fi)
			hr_sfile_iter_free(m->src[i].fi);
	free(m);
}

static int src_seek(msrc *s, const hr_kv *target)
{
	if (s->is_file) {
		int rc = hr_sfile_iter_seek(s->fi, target);
		if (rc < 0)
			return rc;
	} else {
		hr_memstore_iter_seek(&s->mi, target);
	}
	src_load(s);
	return 0;
}

int hr_miter_seek(hr_miter *m, const hr_kv *target)
{
	for (int i = 0; i < m->n; i++) {
		int rc = src_seek(&m->src[i], target);
		if (rc < 0)
			return rc;
	}
	pick(m);
	return 0;
}

int hr_miter_reseek_memstores(hr_miter *m, const hr_kv *target)
{
	for (int i = 0; i < m->n; i++) {
		if (m->src[i].is_file)
			continue;
		hr_memstore_iter_seek(&m->src[i].mi, target);
		src_load(&m->src[i]);
	}
	pick(m);
	return 0;
}

int hr_miter_seek_row(hr_miter *m, const hr_kv *target)
{
	uint64_t h = hr_sfile_row_hash(target->row, target->row_len);
	for (int i = 0; i < m->n; i++) {
		msrc *s = &m->src[i];
		if (s->is_file && !hr_sfile_may_contain_row_h(s->file, target->row, target->row_len, h)) {
			s->valid = 0;
			s->kv = NULL;
			continue;
		}
		int rc = src_seek(s, target);
		if (rc < 0)
			return rc;
	}
	pick(m);
	return 0;
}

int hr_miter_valid(const hr_miter *m) { return m->cur >= 0; }

int hr_miter_may_have_family_deletes(const hr_miter *m)
{
	for (int i = 0; i < m->n; i++) {
		const msrc *s = &m->src[i];
		if (s->is_file ? hr_sfile_get_info(s->file)->delete_count > 0
			       : hr_memstore_has_family_deletes(s->mi.ms))
			return 1;
	}
	return 0;
}

const hr_kv *hr_miter_kv(const hr_miter *m) { return m->src[m->cur].kv; }

int hr_miter_next(hr_miter *m)
{
	msrc *s = &m->src[m->cur];
	if (s->is_file) {
		int rc = hr_sfile_iter_next(s->fi);
		if (rc < 0)
			return rc;
	} else {
		hr_memstore_iter_next(&s->mi);
	}
	src_load(s);
	pick(m);
	return 0;
}
