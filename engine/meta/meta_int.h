/*
 * meta_int.h — what the metadata API (meta.c) needs from a backend.
 *
 * meta.c encodes every record (hr_format.h, "Region metadata") and keys
 * them per database; a backend stores opaque (key, value) pairs per
 * database in key order (bytewise, shorter first) and provides
 * transactions: LMDB (meta_lmdb.c) on one machine, the omap of one RADOS
 * object (meta_rados.c) shared by several. Every hr_meta and hr_meta_txn
 * starts with the structs below; the ops table says which backend it is.
 */
#ifndef HR_META_INT_H
#define HR_META_INT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/hr_meta.h"

enum meta_db { META_TABLES, META_REGIONS, META_STORES, META_WAL, META_COUNTERS, META_SNAPSHOTS,
	       META_NDB };

/* k/v: views valid during the call. Non-zero stops the walk (a negative
 * value is returned by each, a positive one turns into 0). */
typedef int (*meta_each_fn)(void *ctx, const void *k, size_t kl, const void *v, size_t vl);

typedef struct meta_ops {
	void (*close)(hr_meta *m);
	int (*begin)(hr_meta *m, int write, hr_meta_txn **out);
	int (*commit)(hr_meta_txn *t); /* frees t */
	void (*abort)(hr_meta_txn *t); /* frees t */
	/* -ENOENT if absent; *v valid until the transaction ends */
	int (*get)(hr_meta_txn *t, int db, const void *k, size_t kl, const void **v, size_t *vl);
	/* noover: -EEXIST if the key has a record */
	int (*put)(hr_meta_txn *t, int db, const void *k, size_t kl, const void *v, size_t vl,
		   int noover);
	/* must_exist: -ENOENT if absent (else an absent key is fine) */
	int (*del)(hr_meta_txn *t, int db, const void *k, size_t kl, int must_exist);
	int (*each)(hr_meta_txn *t, int db, meta_each_fn fn, void *ctx);
	/* The counter (8 bytes) becomes max(its value, v) at commit. NULL: a
	 * get then a put in the transaction is enough (the backend serialises
	 * whole write transactions). */
	int (*counter_raise)(hr_meta_txn *t, const char *name, uint64_t v);
	/* hr_meta_counter_alloc */
	int (*counter_alloc)(hr_meta *m, const char *name, uint64_t n, uint64_t floor,
			     uint64_t *first);
} meta_ops;

struct hr_meta {
	const meta_ops *ops;
	hr_io *io;
};

struct hr_meta_txn {
	hr_meta *m;
	int write;
};

/* The announcement every write commit makes to the I/O seam first (so a
 * fault-injecting seam can fail it or crash just before it): 0 or the
 * negative errno the commit must return, nothing written. */
int hr_meta_announce(hr_meta *m);

#endif
