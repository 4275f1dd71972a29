/* write.c — the write path (HBase's doMiniBatchMutation, one row at a time):
 * region updates lock (read) -> row lock -> checks (hr_check_and_mutate) ->
 * timestamps -> seq from the region's MVCC -> WAL append (+ sync per
 * durability) -> memstore insert -> MVCC complete (visible) -> release.
 * A reader never sees a mutation before its WAL record is written, nor half
 * of one: the read point passes a seq only once every cell of it is in the
 * memstores. */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/hr_metrics.h"
#include "engine/hr_read.h"
#include "engine/hr_server.h"
#include "engine/hr_tags.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "engine/hr_client.h"

/* A region has a store for exactly the families of its table's schema
 * (stores are added before the schema names a new family). */
static int validate(hr_server *srv, hr_region *r, size_t row_len, const hr_mcell *cells, size_t n)
{
	if (row_len == 0 || row_len > HR_MAX_ROW || n == 0 || n > 65535)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const hr_mcell *c = &cells[i];
		if (!c->family || !hr_region_store(r, c->family))
			return -ENOENT;
		if (c->qualifier_len > HR_MAX_QUALIFIER || (c->qualifier_len && !c->qualifier))
			return -EINVAL;
		if (c->type != HR_PUT && c->type != HR_DELETE && c->type != HR_DELETE_COLUMN &&
		    c->type != HR_DELETE_FAMILY)
			return -EINVAL;
		if (c->ts < 0)
			return -EINVAL;
		if (c->type == HR_PUT && c->value_len > srv->cfg.max_cell_size)
			return -EFBIG;
		if (c->type == HR_PUT && c->tags_len &&
		    (c->tags_len > HR_MAX_TAGS_LEN || hr_tags_check(c->tags, c->tags_len) < 0))
			return -EINVAL;
	}
	return 0;
}

/* A check names a family of the region, a known op and a valid qualifier. */
static int validate_checks(hr_region *r, const hr_check *checks, size_t n)
{
	if (n && !checks)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const hr_check *c = &checks[i];
		if (!c->family || !hr_region_store(r, c->family))
			return -ENOENT;
		if (c->qualifier_len > HR_MAX_QUALIFIER || (c->qualifier_len && !c->qualifier))
			return -EINVAL;
		if (c->op < HR_CHECK_ABSENT || c->op > HR_CHECK_VALUE)
			return -EINVAL;
		if (c->op == HR_CHECK_VALUE && c->value_len && !c->value)
			return -EINVAL;
	}
	return 0;
}

/* HBase's checkAndMutate: with the row lock held, every earlier write to the
 * row is visible at the region's read point (a writer keeps the lock until
 * its mutation is), so the latest visible cell of each column is current
 * and stays so until the lock is released. 0 if every check holds,
 * -ECANCELED if one does not. */
static int eval_checks(hr_region *r, const uint8_t *row, size_t row_len, const hr_check *checks,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const hr_check *c = &checks[i];
		hr_value v;
		int rc = hr_store_get(hr_region_store(r, c->family), &r->mvcc, row, row_len,
				      c->qualifier, c->qualifier_len,
				      c->op == HR_CHECK_VALUE ? HR_GET_VALUE : 0, &v, 1, 0, 0, 0);
		if (rc < 0)
			return rc;
		int ok = 0;
		switch (c->op) {
		case HR_CHECK_ABSENT:
			ok = rc == 0;
			break;
		case HR_CHECK_PRESENT:
			ok = rc == 1;
			break;
		case HR_CHECK_VERSION:
			ok = rc == 1 && v.ts == c->ts && v.seq == c->seq;
			break;
		case HR_CHECK_VALUE:
			ok = rc == 1 && v.len == c->value_len &&
			     (v.len == 0 || memcmp(v.data, c->value, v.len) == 0);
			break;
		}
		if (rc == 1)
			hr_value_free(&v);
		if (!ok)
			return -ECANCELED;
	}
	return 0;
}

/* A version delete without a timestamp means "the latest version": look it
 * up under the row lock, as HBase does. Returns 0 and *ts, or -ENOENT. */
static int latest_ts(hr_region *r, hr_store *st, const uint8_t *row, size_t row_len,
		     const hr_mcell *c, int64_t *ts)
{
	hr_value v;
	int rc = hr_store_get(st, &r->mvcc, row, row_len, c->qualifier,
			      c->qualifier_len, 0, &v, 1, 0, 0, 0);
	if (rc <= 0)
		return rc == 0 ? -ENOENT : rc;
	*ts = v.ts;
	return 0;
}

/* HBase's checkResources: a region whose memstores outgrow flush_size x
 * block_multiplier, or a server over global_limit, makes writers wait for
 * flushes, at most busy_wait_ms, then answer -EBUSY (the front end retries).
 * Runs before any region lock is taken, so the flush it waits for can swap. */
static int check_resources(hr_server *srv, hr_region *r)
{
	uint64_t region_max = srv->cfg.flush_size * srv->cfg.block_multiplier;
	int global = atomic_load(&srv->memstore_total) >= srv->cfg.global_limit;
	if (hr_region_memstore_bytes(r) < region_max && !global)
		return 0;
	atomic_fetch_add(&srv->st.blocked, 1);
	uint64_t deadline = hr_mono_ns() + (uint64_t)srv->cfg.busy_wait_ms * 1000000ull;
	for (;;) {
		int over_region = hr_region_memstore_bytes(r) >= region_max;
		/* once blocked for global memory, wait until below the low mark */
		int over_global = atomic_load(&srv->memstore_total) >=
				  (global ? srv->cfg.global_limit_low : srv->cfg.global_limit);
		if (!over_region && !over_global)
			return 0;
		int st = atomic_load(&r->state);
		if (st == HR_REGION_CLOSED || st == HR_REGION_OFFLINE)
			return -ESTALE; /* a split replaced it, or it is gone */
		hr_flush_request(srv, over_region ? r : NULL);
		uint64_t now = hr_mono_ns();
		if (now >= deadline) {
			hr_log_warn("write", "region %llu: memstores over their limit for %u ms: busy",
				    (unsigned long long)r->id, srv->cfg.busy_wait_ms);
			return -EBUSY;
		}
		uint64_t wait = deadline - now;
		if (wait > 50000000ull)
			wait = 50000000ull;
		hr_flush_wait(srv, wait);
	}
}

/* The table's write gate, shared, waiting at most snapshot_gate_timeout_ms
 * for a snapshot or restore that holds it exclusive. */
static int gate_enter(hr_server *srv, hr_table *t)
{
	if (pthread_rwlock_tryrdlock(&t->gate) == 0)
		return 0;
	/* each write held here is counted (the snapshot_blocked_writes stat) */
	atomic_fetch_add_explicit(&srv->st.blocked_gate, 1, memory_order_relaxed);
	uint64_t ms = srv->cfg.snapshot_gate_timeout_ms ? srv->cfg.snapshot_gate_timeout_ms : 10000;
	struct timespec ts;
	hr_deadline(CLOCK_MONOTONIC, ms * 1000000ull, &ts);
	int rc = pthread_rwlock_clockrdlock(&t->gate, CLOCK_MONOTONIC, &ts);
	if (rc == 0)
		return 0;
	atomic_fetch_add(&srv->st.gate_timeouts, 1);
	hr_log_warn("write", "table '%s': writes held back by a snapshot or restore for %" PRIu64
		    " ms: busy", t->schema.name, ms);
	return -EBUSY;
}

static int mutate_once(hr_server *srv, const char *table, const void *row, size_t row_len,
		       const hr_check *checks, size_t nchecks, const hr_mcell *cells, size_t n,
		       unsigned flags, hr_stamp *stamp)
{
	hr_mcell mc_local[4], *mc = NULL;
	hr_stamp done = {HR_TS_NOW, 0};
	hr_region *r = NULL;
	hr_rowlock_held *lock = NULL;
	uint8_t *payload = NULL;
	size_t plen;
	int locked = 0, gated = 0, rc;
	if (row_len == 0 || row_len > HR_MAX_ROW)
		return -EINVAL;
	if ((rc = hr_server_locate(srv, table, row, row_len, &r, NULL)) < 0)
		goto out;
	if ((rc = validate(srv, r, row_len, cells, n)) < 0 ||
	    (rc = validate_checks(r, checks, nchecks)) < 0)
		goto out;
	if ((rc = check_resources(srv, r)) < 0)
		goto out;
	mc = n <= 4 ? mc_local : malloc(n * sizeof(*mc));
	if (!mc) {
		rc = -ENOMEM;
		goto out;
	}
	/* a snapshot being taken of the table (or a restore) holds its writes
	 * here, for at most snapshot_gate_timeout_ms: then busy; each write it
	 * holds is counted */
	if ((rc = gate_enter(srv, r->table)) < 0)
		goto out;
	gated = 1;
	pthread_rwlock_rdlock(&r->updates_lock);
	locked = 1;
	if (atomic_load(&r->state) != HR_REGION_OPEN || atomic_load(&r->closing)) {
		rc = atomic_load(&r->state) == HR_REGION_OFFLINE ? -EIO : -ESTALE;
		goto out;
	}
	if (!hr_region_contains(r, row, row_len)) {
		rc = -ESTALE;
		goto out;
	}
	if ((rc = hr_rowlock_acquire(&r->locks, row, row_len, srv->cfg.row_lock_timeout_ms,
				     &lock)) < 0)
		goto out;
	if (nchecks && (rc = eval_checks(r, row, row_len, checks, nchecks)) < 0)
		goto out;
	int64_t now = INT64_MIN; /* stamped once, at the first cell that needs it */
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		mc[m] = cells[i];
		if (mc[m].type == HR_DELETE_FAMILY)
			mc[m].qualifier_len = 0;
		if (mc[m].type == HR_DELETE && mc[m].ts == HR_TS_NOW) {
			rc = latest_ts(r, hr_region_store(r, mc[m].family), row, row_len, &mc[m],
				       &mc[m].ts);
			if (rc == -ENOENT)
				continue; /* nothing to delete */
			if (rc < 0)
				goto out;
		} else if (mc[m].ts == HR_TS_NOW) {
			if (now == INT64_MIN)
				now = hr_region_stamp(r, hr_now_ms());
			mc[m].ts = now;
		}
		if (i == 0)
			done.ts = mc[m].ts;
		m++;
	}
	rc = 0;
	if (m == 0)
		goto out;

	hr_mvcc_entry we;
	hr_mvcc_begin(&r->mvcc, &srv->seq, &we);
	rc = hr_wal_edit_encode(r->id, row, row_len, mc, m, &payload, &plen);
	if (rc == 0)
		rc = hr_wal_append(srv->wal, payload, plen, we.seq,
				   (flags & HR_MUT_SYNC) || srv->cfg.durability == HR_DURABILITY_FSYNC,
				   NULL);
	if (rc < 0) {
		hr_log_error("write", "table '%s': WAL append failed: %s", table, strerror(-rc));
		hr_mvcc_complete(&r->mvcc, &we);
		goto out;
	}
	for (size_t i = 0; i < m; i++) {
		hr_store *st = hr_region_store(r, mc[i].family);
		hr_kv kv = {
			.row = row,
			.row_len = (uint32_t)row_len,
			.qual = mc[i].qualifier,
			.qual_len = (uint32_t)mc[i].qualifier_len,
			.ts = mc[i].ts,
			.seq = we.seq,
			.type = mc[i].type,
			.value = mc[i].value,
			.value_len = mc[i].type == HR_PUT ? (uint32_t)mc[i].value_len : 0,
			.tags = mc[i].type == HR_PUT ? mc[i].tags : NULL,
			.tags_len = mc[i].type == HR_PUT ? (uint32_t)mc[i].tags_len : 0,
		};
		/* store->active only changes under the updates write lock */
		uint64_t before = hr_memstore_bytes(st->active);
		int arc = hr_memstore_add(st->active, &kv);
		if (arc < 0) {
			/* The edit is in the WAL: it will be recovered by replay, but
			 * this process cannot show it. Say so loudly. */
			hr_log_error("write", "table '%s': memstore insert failed after WAL append: %s",
				     table, strerror(-arc));
			rc = arc;
		}
		hr_region_mem_add(r, (int64_t)(hr_memstore_bytes(st->active) - before));
	}
	hr_mvcc_complete(&r->mvcc, &we);
	atomic_fetch_add(&srv->st.puts, 1);
	atomic_fetch_add_explicit(&r->table->puts, 1, memory_order_relaxed);
	done.seq = we.seq;
out:
	if (rc == 0 && stamp)
		*stamp = done;
	if (lock)
		hr_rowlock_release(&r->locks, lock);
	if (locked)
		pthread_rwlock_unlock(&r->updates_lock);
	if (gated)
		pthread_rwlock_unlock(&r->table->gate);
	if (r && rc == 0 && hr_region_memstore_bytes(r) >= srv->cfg.flush_size)
		hr_flush_request(srv, r);
	if (r && rc == 0 && atomic_load(&srv->memstore_total) >= srv->cfg.global_limit)
		hr_flush_request(srv, NULL);
	hr_region_unref(r);
	free(payload);
	if (mc != mc_local)
		free(mc);
	return rc;
}

int hr_mutate(hr_server *srv, const char *table, const void *row, size_t row_len,
	      const hr_mcell *cells, size_t n, unsigned flags)
{
	return hr_mutate_stamped(srv, table, row, row_len, cells, n, flags, NULL);
}

int hr_mutate_stamped(hr_server *srv, const char *table, const void *row, size_t row_len,
		      const hr_mcell *cells, size_t n, unsigned flags, hr_stamp *stamp)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_mutate(srv->client, table, row, row_len, NULL, 0, 0, cells, n,
					flags, stamp);
	/* a region that closed under us (a split) has been replaced in the map
	 * by the time its writers see it closed: look again, a few times */
	int rc;
	uint64_t t0 = hr_mx_begin(srv->mx.on);
	for (int tries = 0; tries < 8; tries++) {
		if ((rc = mutate_once(srv, table, row, row_len, NULL, 0, cells, n, flags,
				      stamp)) != -ESTALE)
			break;
		sched_yield();
	}
	if (rc == 0)
		hr_mx_end(srv->mx.put, t0);
	return rc;
}

int hr_check_and_mutate(hr_server *srv, const char *table, const void *row, size_t row_len,
			const hr_check *checks, size_t nchecks, const hr_mcell *cells, size_t n,
			unsigned flags)
{
	return hr_check_and_mutate_stamped(srv, table, row, row_len, checks, nchecks, cells, n,
					   flags, NULL);
}

int hr_check_and_mutate_stamped(hr_server *srv, const char *table, const void *row,
				size_t row_len, const hr_check *checks, size_t nchecks,
				const hr_mcell *cells, size_t n, unsigned flags, hr_stamp *stamp)
{
	if (srv->client) /* cluster mode: engine/client (hr_client.h) */
		return hr_client_mutate(srv->client, table, row, row_len, checks, nchecks, 1,
					cells, n, flags, stamp);
	/* -ESTALE is decided before the checks run: nothing was written */
	int rc;
	uint64_t t0 = hr_mx_begin(srv->mx.on);
	for (int tries = 0; tries < 8; tries++) {
		if ((rc = mutate_once(srv, table, row, row_len, checks, nchecks, cells, n, flags,
				      stamp)) != -ESTALE)
			break;
		sched_yield();
	}
	if (rc == 0)
		hr_mx_end(srv->mx.put, t0);
	return rc;
}

int hr_put(hr_server *srv, const char *table, const void *row, size_t row_len,
	   const char *family, const void *qual, size_t qual_len, const void *value,
	   size_t value_len, unsigned flags)
{
	hr_mcell c = {family, qual, qual_len, HR_TS_NOW, HR_PUT, value, value_len};
	return hr_mutate(srv, table, row, row_len, &c, 1, flags);
}

int hr_delete_column(hr_server *srv, const char *table, const void *row, size_t row_len,
		     const char *family, const void *qual, size_t qual_len, unsigned flags)
{
	hr_mcell c = {family, qual, qual_len, HR_TS_NOW, HR_DELETE_COLUMN, NULL, 0};
	return hr_mutate(srv, table, row, row_len, &c, 1, flags);
}

int hr_delete_row(hr_server *srv, const char *table, const void *row, size_t row_len,
		  unsigned flags)
{
	hr_table_schema *s = malloc(sizeof(*s));
	hr_mcell *c = NULL;
	int rc;
	if (!s)
		return -ENOMEM;
	if ((rc = hr_table_schema_get(srv, table, s)) < 0)
		goto out;
	if (!(c = calloc(s->nfamilies, sizeof(*c)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < s->nfamilies; i++) {
		c[i].family = s->families[i].name;
		c[i].ts = HR_TS_NOW;
		c[i].type = HR_DELETE_FAMILY;
	}
	rc = hr_mutate(srv, table, row, row_len, c, s->nfamilies, flags);
out:
	free(c);
	free(s);
	return rc;
}
