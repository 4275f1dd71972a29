/* test_rpc.c — the RPC (hr_rpc.h) and the engine's client mode
 * (hr_client.h) without ZooKeeper: the codec refuses every damaged,
 * truncated or oversized message; a client (cluster "rpc://HOST:PORT")
 * against RPC servers over one local engine, with a stub master whose
 * LOCATE cuts the key space into fake regions served by two servers, gives
 * the answers the local engine gives: gets, versions, exists,
 * check-and-mutate, scans across regions, 4 threads at once; a stopped
 * server ends in -EAGAIN after the retries; a server that stops serving
 * makes the client re-locate; a scan whose server restarts goes on without
 * repeating or skipping an entry. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <zookeeper/zookeeper.h>

#include "ctl/hrctl_proto.h"
#include "engine/hr_client.h"
#include "engine/hr_host.h"
#include "engine/hr_region.h"
#include "engine/hr_rpc.h"
#include "engine/hr_rpc_codec.h"
#include "engine/hr_util.h"
#include "hr_etest.h"

/* ---- codec ----------------------------------------------------------------- */

static const char *ROW = "row-1";

/* A sample request of each type, encoded (frames[i], lens[i]). */
#define NSAMPLES 15
static uint8_t types[NSAMPLES];

static int sample_frames(uint8_t **frames, size_t *lens)
{
	static hr_table_schema sch;
	memset(&sch, 0, sizeof(sch));
	snprintf(sch.name, sizeof(sch.name), "t1");
	sch.nfamilies = 2;
	hr_family_defaults(&sch.families[0], "cf");
	hr_family_defaults(&sch.families[1], "meta");
	hr_mcell cells[2] = {{"cf", "q1", 2, HR_TS_NOW, HR_PUT, "value", 5, NULL, 0},
			     {"meta", "q2", 2, 77, HR_DELETE_COLUMN, NULL, 0, NULL, 0}};
	hr_check chk[1] = {{"cf", "q1", 2, HR_CHECK_VALUE, 0, 0, "old", 3}};
	hr_rpc_req q[NSAMPLES] = {
	    {.type = HR_RPC_GET, .row = (const uint8_t *)ROW, .row_len = 5, .family = "cf",
	     .qual = (const uint8_t *)"q", .qual_len = 1, .flags = HR_GET_VALUE},
	    {.type = HR_RPC_GET_VERSIONS, .row = (const uint8_t *)ROW, .row_len = 5, .family = "cf",
	     .qual = (const uint8_t *)"q", .qual_len = 1, .gopts = {3, 1, 99, HR_GET_TAGS}},
	    {.type = HR_RPC_EXISTS, .row = (const uint8_t *)ROW, .row_len = 5, .family = "cf"},
	    {.type = HR_RPC_MUTATE, .row = (const uint8_t *)ROW, .row_len = 5, .cells = cells,
	     .ncells = 2, .flags = HR_MUT_SYNC},
	    {.type = HR_RPC_CHECK_AND_MUTATE, .row = (const uint8_t *)ROW, .row_len = 5,
	     .cells = cells, .ncells = 1, .checks = chk, .nchecks = 1},
	    {.type = HR_RPC_SCAN_OPEN, .sopts = {.start = "a", .start_len = 1, .stop = "z", .stop_len = 1,
						 .family = "cf", .mode = HR_SCAN_CELLS, .with_values = 1},
	     .batch = 10},
	    {.type = HR_RPC_SCAN_NEXT, .cursor = 42, .batch = 7},
	    {.type = HR_RPC_SCAN_CLOSE, .cursor = 42},
	    {.type = HR_RPC_TABLE_LIST},
	    {.type = HR_RPC_TABLE_SCHEMA},
	    {.type = HR_RPC_STATS},
	    {.type = HR_RPC_LOCATE, .row = (const uint8_t *)ROW, .row_len = 5},
	    {.type = HR_RPC_CREATE_TABLE, .schema = &sch},
	    {.type = HR_RPC_DROP_TABLE},
	    {.type = HR_RPC_FAMILY_ADD, .schema = &sch},
	};
	for (int i = 0; i < NSAMPLES; i++) {
		snprintf(q[i].table, sizeof(q[i].table), "t1");
		q[i].id = 1000 + (uint64_t)i;
		types[i] = q[i].type;
		int rc = hr_rpc_req_encode(&q[i], &frames[i], &lens[i]);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void free_frames(uint8_t **f)
{
	for (int i = 0; i < NSAMPLES; i++)
		free(f[i]);
}

static void t_codec_roundtrip(void)
{
	uint8_t *f[NSAMPLES];
	size_t n[NSAMPLES];
	CHECK_RC(sample_frames(f, n), 0);
	for (int i = 0; i < NSAMPLES; i++) {
		uint8_t type;
		const uint8_t *pl;
		size_t pn;
		CHECK_RC(hrctl_frame_decode(f[i], n[i], &type, &pl, &pn), 0);
		CHECK(type == types[i]);
		hr_rpc_req q;
		CHECK_RC(hr_rpc_req_decode(type, pl, pn, &q), 0);
		CHECK(q.id == 1000 + (uint64_t)i);
		switch (type) {
		case HR_RPC_GET:
			CHECK(strcmp(q.table, "t1") == 0 && q.row_len == 5 && !memcmp(q.row, ROW, 5));
			CHECK(strcmp(q.family, "cf") == 0 && q.qual_len == 1 && q.flags == HR_GET_VALUE);
			break;
		case HR_RPC_GET_VERSIONS:
			CHECK(q.gopts.max_versions == 3 && q.gopts.min_ts == 1 && q.gopts.max_ts == 99);
			break;
		case HR_RPC_EXISTS:
			CHECK(strcmp(q.family, "cf") == 0 && q.qual == NULL);
			break;
		case HR_RPC_MUTATE:
			CHECK(q.ncells == 2 && q.flags == HR_MUT_SYNC);
			CHECK(strcmp(q.cells[0].family, "cf") == 0 && q.cells[0].ts == HR_TS_NOW);
			CHECK(q.cells[0].value_len == 5 && !memcmp(q.cells[0].value, "value", 5));
			CHECK(strcmp(q.cells[1].family, "meta") == 0 &&
			      q.cells[1].type == HR_DELETE_COLUMN && q.cells[1].ts == 77);
			break;
		case HR_RPC_CHECK_AND_MUTATE:
			CHECK(q.nchecks == 1 && q.ncells == 1);
			CHECK(strcmp(q.checks[0].family, "cf") == 0 && q.checks[0].op == HR_CHECK_VALUE);
			CHECK(q.checks[0].value_len == 3 && !memcmp(q.checks[0].value, "old", 3));
			CHECK(strcmp(q.cells[0].family, "cf") == 0);
			break;
		case HR_RPC_SCAN_OPEN:
			CHECK(q.sopts.start_len == 1 && q.sopts.stop_len == 1 && q.batch == 10);
			CHECK(strcmp(q.sopts.family, "cf") == 0 && q.sopts.with_values == 1);
			CHECK(q.sopts.prefix == NULL && q.sopts.resume_family == NULL);
			break;
		case HR_RPC_SCAN_NEXT:
			CHECK(q.cursor == 42 && q.batch == 7);
			break;
		case HR_RPC_CREATE_TABLE:
			CHECK(q.schema->nfamilies == 2 && strcmp(q.schema->families[1].name, "meta") == 0);
			CHECK(q.schema->families[0].max_versions == 1);
			break;
		case HR_RPC_FAMILY_ADD:
			CHECK(strcmp(q.table, "t1") == 0 && strcmp(q.schema->families[0].name, "cf") == 0);
			break;
		}
		hr_rpc_req_free(&q);
	}
	free_frames(f);
}

/* Every truncation and every byte flip of a payload (re-CRC'd so the
 * decoder, not the CRC, has to judge) is refused or decodes within its
 * bounds (ASan watches); a flipped frame is refused by its CRC. */
static void t_codec_damage(void)
{
	uint8_t *f[NSAMPLES];
	size_t n[NSAMPLES];
	CHECK_RC(sample_frames(f, n), 0);
	unsigned refused = 0, total = 0;
	for (int i = 0; i < NSAMPLES; i++) {
		const uint8_t *pl = f[i] + 6;
		size_t pn = n[i] - HRCTL_FRAME_OVERHEAD;
		hr_rpc_req q;
		for (size_t cut = 0; cut < pn; cut++) {
			uint8_t *c = malloc(cut ? cut : 1);
			memcpy(c, pl, cut);
			int rc = hr_rpc_req_decode(types[i], c, cut, &q);
			free(c);
			CHECK_RC(rc, -EBADMSG);
		}
		/* trailing bytes */
		uint8_t *lng = malloc(pn + 1);
		memcpy(lng, pl, pn);
		lng[pn] = 0;
		CHECK_RC(hr_rpc_req_decode(types[i], lng, pn + 1, &q), -EBADMSG);
		free(lng);
		for (size_t at = 0; at < n[i]; at++) {
			uint8_t *c = malloc(n[i]);
			memcpy(c, f[i], n[i]);
			c[at] ^= 0x5a;
			uint8_t type;
			const uint8_t *p2;
			size_t n2;
			CHECK(hrctl_frame_decode(c, n[i], &type, &p2, &n2) < 0);
			/* the same damage with a good CRC: the decoder's turn */
			if (at >= 6 && at < n[i] - 4) {
				hr_put32(c + n[i] - 4, hr_crc32c(0, c, n[i] - 4));
				CHECK_RC(hrctl_frame_decode(c, n[i], &type, &p2, &n2), 0);
				int rc = hr_rpc_req_decode(type, p2, n2, &q);
				total++;
				if (rc < 0)
					refused++;
				else
					hr_rpc_req_free(&q);
			}
			free(c);
		}
	}
	fprintf(stdout, "# %u of %u re-CRC'd byte flips refused by the decoder\n", refused, total);
	CHECK(refused > total / 4);
	/* oversize: a length above the bound is refused before anything is read */
	uint8_t hdr[4];
	hr_put32(hdr, HR_RPC_MAX_FRAME);
	CHECK_RC(hrctl_frame_length(hdr, HR_RPC_MAX_FRAME), -EMSGSIZE);
	hr_put32(hdr, 3);
	CHECK_RC(hrctl_frame_length(hdr, HR_RPC_MAX_FRAME), -EBADMSG);
	/* counts beyond their bound */
	hr_rpc_w w;
	hr_rpc_w_init(&w);
	hr_rpc_w_u64(&w, 1);
	hr_rpc_w_str(&w, "t1");
	hr_rpc_w_bytes(&w, "r", 1);
	hr_rpc_w_u32(&w, 0);
	hr_rpc_w_u32(&w, HR_RPC_MAX_CELLS + 1);
	uint8_t *fr;
	size_t fn;
	CHECK_RC(hr_rpc_w_frame(&w, HR_RPC_MUTATE, &fr, &fn), 0);
	hr_rpc_req q;
	CHECK_RC(hr_rpc_req_decode(HR_RPC_MUTATE, fr + 6, fn - 10, &q), -EBADMSG);
	free(fr);
	/* a writer past the frame bound fails closed */
	hr_rpc_w_init(&w);
	hr_rpc_w_raw(&w, NULL, (size_t)HR_RPC_MAX_FRAME);
	CHECK_RC(hr_rpc_w_frame(&w, HR_RPC_GET, &fr, &fn), -EMSGSIZE);
	/* an unknown type */
	CHECK_RC(hr_rpc_req_decode(99, f[0] + 6, n[0] - 10, &q), -EPROTO);
	free_frames(f);
}

/* Random bytes, and random mutations of good payloads, through every
 * decoder: no crash, no read past the end (ASan in make check). */
static void t_codec_fuzz(void)
{
	uint8_t *f[NSAMPLES];
	size_t n[NSAMPLES];
	CHECK_RC(sample_frames(f, n), 0);
	static const uint8_t rtypes[] = {HR_RPC_GET, HR_RPC_GET_VERSIONS, HR_RPC_EXISTS,
					 HR_RPC_MUTATE, HR_RPC_CHECK_AND_MUTATE, HR_RPC_SCAN_OPEN,
					 HR_RPC_SCAN_NEXT, HR_RPC_SCAN_CLOSE, HR_RPC_TABLE_LIST,
					 HR_RPC_TABLE_SCHEMA, HR_RPC_STATS, HR_RPC_LOCATE,
					 HR_RPC_CREATE_TABLE, HR_RPC_DROP_TABLE, HR_RPC_FAMILY_ADD};
	uint64_t st = 11;
	unsigned ok = 0;
	for (int it = 0; it < 30000; it++) {
		uint8_t type = rtypes[et_rand(&st) % sizeof(rtypes)];
		size_t len;
		uint8_t *b;
		if (it % 2) {
			int i = (int)(et_rand(&st) % NSAMPLES);
			len = n[i] - HRCTL_FRAME_OVERHEAD;
			b = malloc(len + 1);
			memcpy(b, f[i] + 6, len);
			for (int k = 0; k < 3 && len; k++)
				b[et_rand(&st) % len] = (uint8_t)et_rand(&st);
			type = types[i];
		} else {
			len = et_rand(&st) % 200;
			b = malloc(len + 1);
			for (size_t k = 0; k < len; k++)
				b[k] = (uint8_t)(k % 4 == 0 ? et_rand(&st) % 4 : et_rand(&st));
		}
		hr_rpc_req q;
		if (hr_rpc_req_decode(type, b, len, &q) == 0) {
			ok++;
			hr_rpc_req_free(&q);
		}
		hr_rpc_resp r;
		if (hr_rpc_resp_decode(type, b, len, &r) == 0)
			hr_rpc_resp_free(&r);
		free(b);
	}
	fprintf(stdout, "# fuzz: %u of 30000 inputs decoded as requests\n", ok);
	free_frames(f);
}

/* ---- client <-> servers ------------------------------------------------------ */

/* The stub master: the key space cut at bounds[] into regions; region i is
 * served by addrs[owner[i]]. */
#define NREG 4
static const char *bounds[NREG - 1] = {"row-0250", "row-0500", "row-0750"};
typedef struct stub {
	hr_server *srv;
	char addrs[2][64];
	atomic_int owner[NREG];
	atomic_int locates;
} stub;

static int stub_locate(void *ctx, const char *table, const void *row, size_t row_len,
		       hr_rpc_location *out)
{
	stub *s = ctx;
	hr_table_schema sch;
	int rc = hr_table_schema_get(s->srv, table, &sch);
	if (rc < 0)
		return rc;
	atomic_fetch_add(&s->locates, 1);
	int i = 0;
	while (i < NREG - 1) {
		size_t bl = strlen(bounds[i]);
		int c = memcmp(row, bounds[i], row_len < bl ? row_len : bl);
		if (c < 0 || (c == 0 && row_len < bl))
			break;
		i++;
	}
	out->region_id = 100 + (uint64_t)i;
	if (i > 0) {
		out->start_len = strlen(bounds[i - 1]);
		out->start = malloc(out->start_len);
		memcpy(out->start, bounds[i - 1], out->start_len);
	}
	if (i < NREG - 1) {
		out->end_len = strlen(bounds[i]);
		out->end = malloc(out->end_len);
		memcpy(out->end, bounds[i], out->end_len);
	}
	snprintf(out->addr, sizeof(out->addr), "%s", s->addrs[atomic_load(&s->owner[i])]);
	return 0;
}

static int stub_create(void *ctx, const hr_table_schema *sc)
{
	return hr_table_create(((stub *)ctx)->srv, sc);
}

static int stub_drop(void *ctx, const char *t) { return hr_table_drop(((stub *)ctx)->srv, t); }

static int stub_family(void *ctx, const char *t, const hr_family_schema *f)
{
	return hr_family_add(((stub *)ctx)->srv, t, f);
}

static const hr_rpc_master_ops stub_ops = {stub_locate, stub_create, stub_drop, stub_family};

typedef struct env {
	char dir[256];
	hr_server *local;
	hr_rpc_server *rs[2];
	stub st;
	hr_server *cl;
} env;

static int env_client(env *e, unsigned retries, uint32_t timeout_ms, hr_server **out)
{
	hr_config c;
	et_config(&c, e->dir);
	snprintf(c.cluster, sizeof(c.cluster), "rpc://%s", e->st.addrs[0]);
	c.retries = retries;
	c.retry_pause_ms = 2;
	c.rpc_timeout_ms = timeout_ms;
	/* no ZooKeeper behind rpc://; a short failover window (2 x this) keeps
	 * the tests that expect -EAGAIN quick */
	c.zk_session_timeout_ms = 100;
	return hr_server_open(&c, out);
}

static int env_up(env *e)
{
	memset(e, 0, sizeof(*e));
	hr_test_tmpdir(e->dir, sizeof(e->dir), "rpc");
	if (!(e->local = et_open(e->dir)))
		return -EIO;
	e->st.srv = e->local;
	for (int i = 0; i < 2; i++) {
		int rc = hr_rpc_server_start(e->local, "127.0.0.1:0", i == 0 ? &stub_ops : NULL,
					     &e->st, &e->rs[i]);
		if (rc < 0)
			return rc;
		snprintf(e->st.addrs[i], sizeof(e->st.addrs[i]), "127.0.0.1:%d",
			 hr_rpc_server_port(e->rs[i]));
	}
	for (int i = 0; i < NREG; i++)
		atomic_store(&e->st.owner[i], i % 2);
	return env_client(e, 5, 5000, &e->cl);
}

static void env_down(env *e)
{
	hr_server_close(e->cl);
	for (int i = 0; i < 2; i++)
		hr_rpc_server_stop(e->rs[i]);
	hr_server_close(e->local);
	hr_test_rmrf(e->dir);
}

static void t_client_ops(void)
{
	env e;
	CHECK_RC(env_up(&e), 0);
	hr_server *c = e.cl;
	/* schema through the master */
	CHECK_RC(et_table(c, "t", "cf:3", NULL), 0);
	CHECK_RC(et_table(c, "t", "cf", NULL), -EEXIST);
	hr_table_schema sch;
	CHECK_RC(hr_table_schema_get(c, "t", &sch), 0);
	CHECK(sch.nfamilies == 1 && sch.families[0].max_versions == 3);
	CHECK_RC(hr_table_schema_get(c, "nope", &sch), -ENOENT);
	hr_family_schema f;
	hr_family_defaults(&f, "meta");
	CHECK_RC(hr_family_add(c, "t", &f), 0);
	char **names;
	size_t nn;
	CHECK_RC(hr_table_list(c, &names, &nn), 0);
	CHECK(nn == 1 && strcmp(names[0], "t") == 0);
	hr_names_free(names, nn);

	/* puts and gets in every region, seen by the local engine too */
	char buf[64];
	for (int v = 1; v <= 3; v++)
		for (int i = 0; i < 1000; i += 111) {
			char row[32], val[32];
			snprintf(row, sizeof(row), "row-%04d", i);
			snprintf(val, sizeof(val), "v%d-%d", v, i);
			CHECK_RC(et_put(c, "t", row, strlen(row), "cf", "q", 1000 + v, val), 0);
		}
	CHECK_RC(et_get(c, "t", "row-0555", 8, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK_STREQ(buf, "v3-555");
	CHECK_RC(et_get(e.local, "t", "row-0555", 8, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK_STREQ(buf, "v3-555");
	CHECK_RC(et_get(c, "t", "row-0555", 8, "cf", "zz", buf, sizeof(buf), NULL), -ENOENT);
	CHECK_RC(et_get(c, "nope", "row-0555", 8, "cf", "q", buf, sizeof(buf), NULL), -ENOENT);
	CHECK_RC(et_put(c, "t", "r", 1, "nofam", "q", HR_TS_NOW, "x"), -ENOENT);
	/* versions */
	hr_value *vs;
	hr_get_opts go = {0};
	CHECK_RC(hr_get_versions(c, "t", "row-0888", 8, "cf", "q", 1, &go, &vs), 3);
	CHECK(vs[0].ts == 1003 && vs[2].ts == 1001 && vs[1].len == 6 &&
	      memcmp(vs[1].data, "v2-888", 6) == 0);
	hr_values_free(vs, 3);
	go.max_ts = 1003;
	CHECK_RC(hr_get_versions(c, "t", "row-0888", 8, "cf", "q", 1, &go, &vs), 2);
	hr_values_free(vs, 2);
	/* exists */
	CHECK_RC(hr_exists(c, "t", "row-0111", 8, NULL, NULL, 0), 1);
	CHECK_RC(hr_exists(c, "t", "row-0111", 8, "cf", NULL, 0), 1);
	CHECK_RC(hr_exists(c, "t", "row-0111", 8, "meta", NULL, 0), 0);
	CHECK_RC(hr_exists(c, "t", "row-0111", 8, "cf", "q", 1), 1);
	CHECK_RC(hr_exists(c, "t", "row-0112", 8, NULL, NULL, 0), 0);
	/* stamps and check-and-mutate */
	hr_mcell m = {"cf", "k", 1, HR_TS_NOW, HR_PUT, "one", 3, NULL, 0};
	hr_stamp s1 = {0};
	CHECK_RC(hr_mutate_stamped(c, "t", "row-0600", 8, &m, 1, 0, &s1), 0);
	CHECK(s1.seq > 0 && s1.ts != HR_TS_NOW);
	hr_value v;
	CHECK_RC(hr_get(c, "t", "row-0600", 8, "cf", "k", 1, HR_GET_VALUE, &v), 0);
	CHECK(v.ts == s1.ts && v.seq == s1.seq && v.len == 3 && !memcmp(v.data, "one", 3));
	hr_value_free(&v);
	hr_check ck = {"cf", "k", 1, HR_CHECK_VERSION, s1.ts, s1.seq, NULL, 0};
	hr_mcell m2 = {"cf", "k", 1, HR_TS_NOW, HR_PUT, "two", 3, NULL, 0};
	hr_stamp s2 = {0};
	CHECK_RC(hr_check_and_mutate_stamped(c, "t", "row-0600", 8, &ck, 1, &m2, 1, 0, &s2), 0);
	CHECK(s2.seq > s1.seq);
	CHECK_RC(hr_check_and_mutate_stamped(c, "t", "row-0600", 8, &ck, 1, &m2, 1, 0, NULL),
		 -ECANCELED);
	hr_check ab = {"cf", "k", 1, HR_CHECK_ABSENT, 0, 0, NULL, 0};
	CHECK_RC(hr_check_and_mutate(c, "t", "row-0600", 8, &ab, 1, &m2, 1, 0), -ECANCELED);
	/* tags go through */
	uint8_t tag[HR_FILE_ATTR_TAG_LEN];
	hr_file_attr fa = {.mode = 0640, .uid = 7, .gid = 8, .mtime_ns = 5};
	hr_file_attr_tag_encode(&fa, tag);
	hr_mcell mt = {"cf", "tagged", 6, HR_TS_NOW, HR_PUT, "", 0, tag, sizeof(tag)};
	CHECK_RC(hr_mutate(c, "t", "row-0700", 8, &mt, 1, 0), 0);
	CHECK_RC(hr_get(c, "t", "row-0700", 8, "cf", "tagged", 6, HR_GET_VALUE | HR_GET_TAGS, &v), 0);
	hr_file_attr back;
	CHECK(v.len == 0 && v.tags_len == sizeof(tag));
	CHECK_RC(hr_file_attr_tag_find(v.tags, v.tags_len, &back), 1);
	CHECK(back.mode == 0640 && back.uid == 7 && back.mtime_ns == 5);
	hr_value_free(&v);
	/* deletes */
	CHECK_RC(hr_delete_column(c, "t", "row-0600", 8, "cf", "k", 1, 0), 0);
	CHECK_RC(hr_get(c, "t", "row-0600", 8, "cf", "k", 1, 0, &v), -ENOENT);
	CHECK_RC(hr_delete_row(c, "t", "row-0700", 8, 0), 0);
	CHECK_RC(hr_exists(c, "t", "row-0700", 8, NULL, NULL, 0), 0);
	/* no cluster meaning yet */
	CHECK_RC(hr_flush(c, NULL), -EOPNOTSUPP);
	CHECK_RC(hr_snapshot_create(c, "t", "s1"), -EOPNOTSUPP);
	hr_snapshot_info *si;
	size_t ns;
	CHECK_RC(hr_snapshot_list(c, NULL, &si, &ns), 0);
	CHECK(ns == 0);
	CHECK(hr_server_metrics(c) != NULL);
	char *text;
	size_t tl;
	CHECK_RC(hr_stats_format(c, &text, &tl), 0);
	CHECK(strstr(text, "rpc_calls ") != NULL);
	free(text);
	hr_region_info *ri;
	size_t nr;
	CHECK_RC(hr_region_list(c, "t", &ri, &nr), 0);
	CHECK(nr == NREG); /* every fake region was located */
	hr_region_list_free(ri, nr);
	CHECK_RC(hr_table_drop(c, "t"), 0);
	CHECK_RC(hr_table_schema_get(e.local, "t", &sch), -ENOENT);
	env_down(&e);
}

static int fill(hr_server *s, const char *t, int rows)
{
	for (int i = 0; i < rows; i++) {
		char row[32], val[32];
		snprintf(row, sizeof(row), "row-%04d", i);
		for (int q = 0; q < 3; q++) {
			char qn[8];
			snprintf(qn, sizeof(qn), "q%d", q);
			snprintf(val, sizeof(val), "v%d.%d", i, q);
			int rc = et_put(s, t, row, strlen(row), q == 2 ? "meta" : "cf", qn, HR_TS_NOW, val);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

/* Every scan shape gives through the client exactly what it gives locally. */
static void t_client_scan(void)
{
	env e;
	CHECK_RC(env_up(&e), 0);
	CHECK_RC(et_table(e.local, "t", "cf", "meta", NULL), 0);
	CHECK_RC(fill(e.cl, "t", 1000), 0);
	hr_scan_opts shapes[] = {
	    {.mode = HR_SCAN_CELLS, .with_values = 1},
	    {.mode = HR_SCAN_ROWS},
	    {.mode = HR_SCAN_FAMILIES},
	    {.mode = HR_SCAN_CELLS, .family = "meta", .with_values = 1},
	    {.mode = HR_SCAN_ROWS, .start = "row-0240", .start_len = 8, .stop = "row-0760",
	     .stop_len = 8},
	    {.mode = HR_SCAN_ROWS, .start = "row-0250", .start_len = 8, .start_after_row = 1},
	    {.mode = HR_SCAN_CELLS, .prefix = "row-05", .prefix_len = 6},
	    {.mode = HR_SCAN_CELLS, .start = "row-0499", .start_len = 8, .resume_family = "cf",
	     .resume_qualifier = "q0", .resume_qualifier_len = 2},
	    {.mode = HR_SCAN_ROWS, .start = "row-0999", .start_len = 8, .stop = "row-0250",
	     .stop_len = 8},
	};
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		et_str a = {0}, b = {0};
		CHECK_RC(et_scan_dump(e.local, "t", &shapes[i], &a), 0);
		CHECK_RC(et_scan_dump(e.cl, "t", &shapes[i], &b), 0);
		if (strcmp(et_cstr(&a), et_cstr(&b)) != 0)
			fprintf(stdout, "# shape %zu: local %zu bytes, client %zu bytes\n", i,
				strlen(et_cstr(&a)), strlen(et_cstr(&b)));
		CHECK(strcmp(et_cstr(&a), et_cstr(&b)) == 0);
		et_str_free(&a);
		et_str_free(&b);
	}
	hr_scan *sc;
	CHECK_RC(hr_scan_open(e.cl, "nope", &shapes[0], &sc), -ENOENT);
	env_down(&e);
}

/* A scan whose server restarts mid-way (its cursors are gone) goes on
 * after its last entry: nothing repeated, nothing skipped. */
static void t_client_scan_resume(void)
{
	env e;
	CHECK_RC(env_up(&e), 0);
	CHECK_RC(et_table(e.local, "t", "cf", "meta", NULL), 0);
	CHECK_RC(fill(e.local, "t", 600), 0);
	/* one server for every region, so the restart hits the cursor */
	for (int i = 0; i < NREG; i++)
		atomic_store(&e.st.owner[i], 1);
	hr_scan_opts o = {.mode = HR_SCAN_CELLS, .with_values = 1};
	et_str a = {0}, b = {0};
	CHECK_RC(et_scan_dump(e.local, "t", &o, &a), 0);
	hr_scan *sc;
	hr_scan_entry en;
	CHECK_RC(hr_scan_open(e.cl, "t", &o, &sc), 0);
	int rc, got = 0;
	while ((rc = hr_scan_next(sc, &en)) == 1) {
		et_dump_entry(&b, &o, &en);
		if (++got == HR_CLIENT_BATCH + 10) {
			/* in the middle of the second batch of the first region */
			int port = hr_rpc_server_port(e.rs[1]);
			char addr[64];
			snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
			hr_rpc_server_stop(e.rs[1]);
			e.rs[1] = NULL;
			CHECK_RC(hr_rpc_server_start(e.local, addr, NULL, NULL, &e.rs[1]), 0);
		}
	}
	hr_scan_close(sc);
	CHECK_RC(rc, 0);
	CHECK(got > HR_CLIENT_BATCH + 10);
	CHECK(strcmp(et_cstr(&a), et_cstr(&b)) == 0);
	et_str_free(&a);
	et_str_free(&b);
	env_down(&e);
}

typedef struct wargs {
	hr_server *c;
	int id, fails;
} wargs;

static void *writer(void *arg)
{
	wargs *w = arg;
	for (int i = 0; i < 300; i++) {
		char row[32], val[32], buf[32];
		snprintf(row, sizeof(row), "row-%04d", (i * 7 + w->id * 251) % 1000);
		snprintf(val, sizeof(val), "w%d-%d", w->id, i);
		char q[8];
		snprintf(q, sizeof(q), "w%d", w->id);
		if (et_put(w->c, "t", row, strlen(row), "cf", q, HR_TS_NOW, val) < 0 ||
		    et_get(w->c, "t", row, strlen(row), "cf", q, buf, sizeof(buf), NULL) < 0 ||
		    strcmp(buf, val) != 0)
			w->fails++;
	}
	return NULL;
}

static void t_client_threads(void)
{
	env e;
	CHECK_RC(env_up(&e), 0);
	CHECK_RC(et_table(e.cl, "t", "cf", NULL), 0);
	pthread_t th[4];
	wargs w[4];
	for (int i = 0; i < 4; i++) {
		w[i] = (wargs){e.cl, i, 0};
		CHECK_RC(pthread_create(&th[i], NULL, writer, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < 4; i++)
		CHECK_RC(w[i].fails, 0);
	/* every thread's last write is there, seen locally */
	char buf[32];
	CHECK_RC(et_get(e.local, "t", "row-0251", 8, "cf", "w1", buf, sizeof(buf), NULL), 0);
	env_down(&e);
}

/* The server of a region stops: the client retries, then -EAGAIN. */
static void t_client_server_gone(void)
{
	env e;
	CHECK_RC(env_up(&e), 0);
	CHECK_RC(et_table(e.cl, "t", "cf", NULL), 0);
	CHECK_RC(et_put(e.cl, "t", "row-0300", 8, "cf", "q", HR_TS_NOW, "x"), 0); /* region 1: server 1 */
	hr_rpc_server_stop(e.rs[1]);
	e.rs[1] = NULL;
	char *text;
	size_t tl;
	CHECK_RC(et_put(e.cl, "t", "row-0300", 8, "cf", "q", HR_TS_NOW, "y"), -EAGAIN);
	char buf[16];
	CHECK_RC(et_get(e.cl, "t", "row-0300", 8, "cf", "q", buf, sizeof(buf), NULL), -EAGAIN);
	/* rows of the live server still work */
	CHECK_RC(et_put(e.cl, "t", "row-0100", 8, "cf", "q", HR_TS_NOW, "z"), 0);
	CHECK_RC(hr_stats_format(e.cl, &text, &tl), 0);
	unsigned long long retries = 0;
	const char *p = strstr(text, "rpc_retries ");
	CHECK(p && sscanf(p, "rpc_retries %llu", &retries) == 1);
	free(text);
	CHECK(retries >= 10); /* 5 per failed op */
	/* the region comes back elsewhere: the next op finds it */
	atomic_store(&e.st.owner[1], 0);
	CHECK_RC(et_get(e.cl, "t", "row-0300", 8, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK_STREQ(buf, "x");
	env_down(&e);
}

/* A failover takes longer than `retries` doubling pauses (5 x 2 ms from
 * 2 ms = 62 ms here): the client keeps retrying for its window (2 x
 * zk_session_timeout_ms) and the op succeeds once the region is back;
 * past the window it still ends in -EAGAIN. */
typedef struct comeback {
	stub *st;
	unsigned after_ms;
} comeback;

static void *comeback_run(void *arg)
{
	comeback *cb = arg;
	struct timespec ts = {.tv_sec = cb->after_ms / 1000,
			      .tv_nsec = (long)(cb->after_ms % 1000) * 1000000};
	nanosleep(&ts, NULL); /* the failover's duration, not a wait for a condition */
	atomic_store(&cb->st->owner[1], 0);
	return NULL;
}

static void t_client_failover_window(void)
{
	env e;
	CHECK_RC(env_up(&e), 0);
	hr_server_close(e.cl);
	hr_config c;
	et_config(&c, e.dir);
	snprintf(c.cluster, sizeof(c.cluster), "rpc://%s", e.st.addrs[0]);
	c.retries = 5;
	c.retry_pause_ms = 2;
	c.zk_session_timeout_ms = 1000; /* window 2 s */
	CHECK_RC(hr_server_open(&c, &e.cl), 0);
	CHECK_RC(et_table(e.cl, "t", "cf", NULL), 0);
	CHECK_RC(et_put(e.cl, "t", "row-0300", 8, "cf", "q", HR_TS_NOW, "x"), 0); /* server 1 */
	hr_rpc_server_stop(e.rs[1]);
	e.rs[1] = NULL;
	/* the region returns on server 0 after 600 ms, ten times the old budget */
	comeback cb = {&e.st, 600};
	pthread_t th;
	uint64_t t0 = hr_client_now_ms();
	CHECK_RC(pthread_create(&th, NULL, comeback_run, &cb), 0);
	CHECK_RC(et_put(e.cl, "t", "row-0300", 8, "cf", "q", HR_TS_NOW, "y"), 0);
	uint64_t took = hr_client_now_ms() - t0;
	pthread_join(th, NULL);
	fprintf(stdout, "# put rode out a %u ms outage in %llu ms\n", cb.after_ms,
		(unsigned long long)took);
	CHECK(took >= 600);
	char buf[16];
	CHECK_RC(et_get(e.local, "t", "row-0300", 8, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK_STREQ(buf, "y");
	/* nobody serves it for good: -EAGAIN, not before the window ends */
	atomic_store(&e.st.owner[1], 1);
	hr_client_forget(e.cl->client, "t", NULL, 0);
	t0 = hr_client_now_ms();
	CHECK_RC(et_get(e.cl, "t", "row-0300", 8, "cf", "q", buf, sizeof(buf), NULL), -EAGAIN);
	took = hr_client_now_ms() - t0;
	CHECK(took >= 2000 && took < 5000);
	/* retries = 0: no retry, no window */
	hr_server_close(e.cl);
	c.retries = 0;
	CHECK_RC(hr_server_open(&c, &e.cl), 0);
	t0 = hr_client_now_ms();
	CHECK_RC(et_get(e.cl, "t", "row-0300", 8, "cf", "q", buf, sizeof(buf), NULL), -EAGAIN);
	CHECK(hr_client_now_ms() - t0 < 1000);
	env_down(&e);
}

/* A server answers "not serving" (-EREMOTE): the client drops its cached
 * location, asks the master again and goes to the new server. */
static void t_client_relocate(void)
{
	env e;
	CHECK_RC(env_up(&e), 0);
	CHECK_RC(et_table(e.cl, "t", "cf", NULL), 0);
	char buf[16];
	CHECK_RC(et_put(e.cl, "t", "row-0900", 8, "cf", "q", HR_TS_NOW, "a"), 0); /* region 3: server 1 */
	int before = atomic_load(&e.st.locates);
	CHECK_RC(et_get(e.cl, "t", "row-0901", 8, "cf", "q", buf, sizeof(buf), NULL), -ENOENT);
	CHECK_RC(atomic_load(&e.st.locates), before); /* cached */
	hr_rpc_server_set_serving(e.rs[1], 0);
	atomic_store(&e.st.owner[3], 0); /* the region moved to server 0 */
	CHECK_RC(et_put(e.cl, "t", "row-0900", 8, "cf", "q", HR_TS_NOW, "b"), 0);
	CHECK(atomic_load(&e.st.locates) > before);
	CHECK_RC(et_get(e.local, "t", "row-0900", 8, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK_STREQ(buf, "b");
	/* nobody serves it: -EAGAIN after the retries */
	atomic_store(&e.st.owner[3], 1);
	hr_client_forget(e.cl->client, "t", NULL, 0);
	CHECK_RC(et_get(e.cl, "t", "row-0900", 8, "cf", "q", buf, sizeof(buf), NULL), -EAGAIN);
	env_down(&e);
}

/* ---- against a server-mode engine (hr_host.h) --------------------------------- */

/* A master for one server-mode engine: LOCATE answers the hosted region
 * holding the row, -EAGAIN when none does (a region in transition). */
static int hosted_locate(void *ctx, const char *table, const void *row, size_t row_len,
			 hr_rpc_location *out)
{
	stub *s = ctx;
	hr_region_info *ri;
	size_t n;
	int rc = hr_region_list(s->srv, table, &ri, &n);
	if (rc < 0)
		return rc;
	rc = -EAGAIN;
	for (size_t i = 0; i < n; i++) {
		size_t sl = ri[i].start_len, el = ri[i].end_len;
		size_t m1 = row_len < sl ? row_len : sl, m2 = row_len < el ? row_len : el;
		int c1 = m1 ? memcmp(row, ri[i].start_key, m1) : 0;
		int c2 = m2 ? memcmp(row, ri[i].end_key, m2) : 0;
		int ge_start = !sl || c1 > 0 || (c1 == 0 && row_len >= sl);
		int lt_end = !el || c2 < 0 || (c2 == 0 && row_len < el);
		if (ri[i].state == HR_REGION_OPEN && ge_start && lt_end) {
			out->region_id = ri[i].id;
			out->start = ri[i].start_key;
			out->start_len = sl;
			out->end = ri[i].end_key;
			out->end_len = el;
			ri[i].start_key = ri[i].end_key = NULL;
			snprintf(out->addr, sizeof(out->addr), "%s", s->addrs[0]);
			rc = 0;
			break;
		}
	}
	hr_region_list_free(ri, n);
	return rc;
}

static const hr_rpc_master_ops hosted_ops = {hosted_locate, NULL, NULL, NULL};

static int scan_count(hr_server *c, const char *t, int *count)
{
	hr_scan_opts o = {.mode = HR_SCAN_ROWS};
	hr_scan *sc;
	hr_scan_entry e;
	*count = 0;
	int rc = hr_scan_open(c, t, &o, &sc);
	if (rc < 0)
		return rc;
	while ((rc = hr_scan_next(sc, &e)) == 1)
		(*count)++;
	hr_scan_close(sc);
	return rc;
}

/* Regions that are not hosted answer -EREMOTE, and a scan whose cached
 * location is stale (the region split, a daughter closed) never skips the
 * rows of the region it cannot reach: the engine's scan stops at the gap
 * with -EREMOTE, the client goes on after its last entry, re-locates, and
 * fails with -EAGAIN while that region is in transition. */
static void t_server_mode(void)
{
	char dir[256];
	hr_test_tmpdir(dir, sizeof(dir), "rpchost");
	hr_config cfg;
	et_config(&cfg, dir);
	snprintf(cfg.server_name, sizeof(cfg.server_name), "127.0.0.1,1,1");
	hr_server *s = NULL;
	CHECK_RC(hr_server_open(&cfg, &s), 0);
	CHECK(s->client == NULL); /* a region server is no client */
	hr_table_schema sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "t");
	hr_family_defaults(&sc.families[0], "f");
	sc.nfamilies = 1;
	uint64_t rid;
	CHECK_RC(hr_host_table_create(s, &sc, &rid), 0);
	stub st = {.srv = s};
	hr_rpc_server *rs;
	CHECK_RC(hr_rpc_server_start(s, "127.0.0.1:0", &hosted_ops, &st, &rs), 0);
	snprintf(st.addrs[0], sizeof(st.addrs[0]), "127.0.0.1:%d", hr_rpc_server_port(rs));
	env e = {0};
	snprintf(e.dir, sizeof(e.dir), "%s", dir);
	memcpy(&e.st.addrs, &st.addrs, sizeof(st.addrs));
	hr_server *c;
	CHECK_RC(env_client(&e, 3, 5000, &c), 0);
	/* not opened anywhere yet */
	CHECK_RC(et_put(c, "t", "r0001", 5, "f", "q", HR_TS_NOW, "x"), -EAGAIN);
	CHECK_RC(hr_host_open_region(s, rid, NULL, 0), 0);
	for (int i = 0; i < 600; i++) {
		char row[16];
		snprintf(row, sizeof(row), "r%04d", i);
		CHECK_RC(et_put(c, "t", row, 5, "f", "q", HR_TS_NOW, row), 0);
	}
	int n;
	CHECK_RC(scan_count(c, "t", &n), 0);
	CHECK_RC(n, 600);
	/* split; close the upper daughter: the client's whole-table location
	 * is stale now */
	CHECK_RC(hr_split(s, "t", "r0300", 5), 0);
	hr_region_info *ri;
	size_t nr;
	CHECK_RC(hr_region_list(s, "t", &ri, &nr), 0);
	CHECK_RC(nr, 2);
	uint64_t upper = ri[0].start_len ? ri[0].id : ri[1].id;
	hr_region_list_free(ri, nr);
	CHECK_RC(hr_host_close_region(s, upper), 0);
	char buf[16];
	CHECK_RC(et_get(c, "t", "r0100", 5, "f", "q", buf, sizeof(buf), NULL), 0);
	CHECK_STREQ(buf, "r0100");
	/* the scan first: nothing else has refreshed the stale location */
	CHECK_RC(scan_count(c, "t", &n), -EAGAIN);
	CHECK_RC(et_get(c, "t", "r0400", 5, "f", "q", buf, sizeof(buf), NULL), -EAGAIN);
	CHECK_RC(hr_host_open_region(s, upper, NULL, 0), 0);
	CHECK_RC(scan_count(c, "t", &n), 0);
	CHECK_RC(n, 600);
	CHECK_RC(et_get(c, "t", "r0400", 5, "f", "q", buf, sizeof(buf), NULL), 0);
	hr_server_close(c);
	hr_rpc_server_stop(rs);
	hr_server_close(s);
	hr_test_rmrf(dir);
}

/* ---- the master found through ZooKeeper ---------------------------------------- */

static pthread_mutex_t zk_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t zk_cv = PTHREAD_COND_INITIALIZER;
static int zk_up;

static void zk_watch(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
	if (type == ZOO_SESSION_EVENT && state == ZOO_CONNECTED_STATE) {
		pthread_mutex_lock(&zk_mu);
		zk_up = 1;
		pthread_cond_broadcast(&zk_cv);
		pthread_mutex_unlock(&zk_mu);
	}
}

static int set_master(zhandle_t *zh, const char *chroot, const char *data)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/master", chroot);
	zoo_delete(zh, path, -1);
	if (!data)
		return 0;
	return zoo_create(zh, path, data, (int)strlen(data), &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL,
			  NULL, 0);
}

/* cluster=HR_ZK/chroot: the client reads /master, follows it when it
 * changes, and answers -EAGAIN while there is none. Runs against the
 * ZooKeeper named by HR_ZK (the test cluster of make test). */
static void t_client_zk(void)
{
	const char *zk = getenv("HR_ZK");
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	zhandle_t *zh = zookeeper_init(zk, zk_watch, 10000, NULL, NULL, 0);
	CHECK(zh != NULL);
	pthread_mutex_lock(&zk_mu);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	while (!zk_up && pthread_cond_timedwait(&zk_cv, &zk_mu, &ts) == 0)
		;
	int up = zk_up;
	pthread_mutex_unlock(&zk_mu);
	CHECK(up);
	char chroot[64];
	snprintf(chroot, sizeof(chroot), "/h-rpc-test-%d", (int)getpid());
	CHECK_RC(zoo_create(zh, chroot, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0), ZOK);
	env e;
	CHECK_RC(env_up(&e), 0);
	hr_rpc_server_set_master(e.rs[1], &stub_ops, &e.st);
	char data[128];
	snprintf(data, sizeof(data), "%s server-0", e.st.addrs[0]);
	CHECK_RC(set_master(zh, chroot, data), ZOK);
	hr_config c;
	et_config(&c, e.dir);
	snprintf(c.cluster, sizeof(c.cluster), "%s%s", zk, chroot);
	c.retries = 6;
	c.retry_pause_ms = 5;
	hr_server *cl;
	CHECK_RC(hr_server_open(&c, &cl), 0);
	cl->client->retry_window_ms = 0; /* -EAGAIN after the retries alone */
	CHECK_RC(et_table(cl, "t", "cf", NULL), 0);
	char buf[16];
	CHECK_RC(et_put(cl, "t", "row-0100", 8, "cf", "q", HR_TS_NOW, "a"), 0);
	CHECK_RC(et_get(cl, "t", "row-0100", 8, "cf", "q", buf, sizeof(buf), NULL), 0);
	/* the master and the server of region 0 go; server 1 takes both */
	hr_rpc_server_stop(e.rs[0]);
	e.rs[0] = NULL;
	for (int i = 0; i < NREG; i++)
		atomic_store(&e.st.owner[i], 1);
	CHECK_RC(set_master(zh, chroot, NULL), ZOK);
	CHECK_RC(et_get(cl, "t", "row-0100", 8, "cf", "q", buf, sizeof(buf), NULL), -EAGAIN);
	snprintf(data, sizeof(data), "%s server-1", e.st.addrs[1]);
	CHECK_RC(set_master(zh, chroot, data), ZOK);
	CHECK_RC(et_get(cl, "t", "row-0100", 8, "cf", "q", buf, sizeof(buf), NULL), 0);
	CHECK_STREQ(buf, "a");
	CHECK_RC(et_put(cl, "t", "row-0900", 8, "cf", "q", HR_TS_NOW, "b"), 0);
	hr_server_close(cl);
	set_master(zh, chroot, NULL);
	zoo_delete(zh, chroot, -1);
	zookeeper_close(zh);
	env_down(&e);
}

/* Requests sent back to back on one connection (the handlers' path: more
 * is waiting on the socket) are each answered once, with its own id; a
 * damaged frame closes the connection. */
static void t_server_pipelined(void)
{
	env e;
	CHECK_RC(env_up(&e), 0);
	CHECK_RC(et_table(e.local, "t", "cf", NULL), 0);
	CHECK_RC(et_put(e.local, "t", "row-0001", 8, "cf", "q", HR_TS_NOW, "v"), 0);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)hr_rpc_server_port(e.rs[0])),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	CHECK_RC(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	enum { N = 64 };
	uint8_t *all = NULL;
	size_t alln = 0;
	for (int i = 1; i <= N; i++) {
		hr_rpc_req q = {.type = HR_RPC_GET, .id = (uint64_t)i, .row = (const uint8_t *)"row-0001",
				.row_len = 8, .family = "cf", .qual = (const uint8_t *)"q", .qual_len = 1,
				.flags = HR_GET_VALUE};
		snprintf(q.table, sizeof(q.table), "t");
		uint8_t *f;
		size_t fn;
		CHECK_RC(hr_rpc_req_encode(&q, &f, &fn), 0);
		all = realloc(all, alln + fn);
		memcpy(all + alln, f, fn);
		alln += fn;
		free(f);
	}
	int64_t dl = hrctl_io_now_ms() + 10000;
	CHECK_RC(hrctl_io_write_all(fd, -1, dl, all, alln), 0);
	free(all);
	int seen[N + 1] = {0};
	for (int i = 0; i < N; i++) {
		uint8_t *buf, type;
		size_t n, pn;
		const uint8_t *pl;
		CHECK_RC(hrctl_io_read_frame(fd, -1, dl, HR_RPC_MAX_FRAME, &buf, &n), 0);
		CHECK_RC(hrctl_frame_decode(buf, n, &type, &pl, &pn), 0);
		hr_rpc_resp r;
		CHECK_RC(hr_rpc_resp_decode(HR_RPC_GET, pl, pn, &r), 0);
		CHECK(r.id >= 1 && r.id <= N && !seen[r.id]);
		seen[r.id] = 1;
		CHECK(r.err == 0 && r.value.len == 1 && memcmp(r.value.data, "v", 1) == 0);
		hr_rpc_resp_free(&r);
		free(buf);
	}
	/* a frame with a bad CRC: the server closes the connection */
	uint8_t bad[16] = {12, 0, 0, 0, 1, HR_RPC_STATS, 1, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xad};
	CHECK_RC(hrctl_io_write_all(fd, -1, dl, bad, sizeof(bad)), 0);
	uint8_t *buf;
	size_t n;
	CHECK_RC(hrctl_io_read_frame(fd, -1, dl, HR_RPC_MAX_FRAME, &buf, &n), -ECONNRESET);
	close(fd);
	env_down(&e);
}

int main(void)
{
	et_watchdog(300);
	signal(SIGPIPE, SIG_IGN);
	RUN(t_codec_roundtrip);
	RUN(t_codec_damage);
	RUN(t_codec_fuzz);
	RUN(t_client_ops);
	RUN(t_client_scan);
	RUN(t_client_scan_resume);
	RUN(t_client_threads);
	RUN(t_client_server_gone);
	RUN(t_client_relocate);
	RUN(t_client_failover_window);
	RUN(t_server_mode);
	RUN(t_server_pipelined);
	if (getenv("HR_ZK") && *getenv("HR_ZK")) {
		RUN(t_client_zk);
	} else {
		fprintf(stdout, "# t_client_zk not run: HR_ZK is not set (no ZooKeeper)\n");
	}
	return hr_test_done();
}
