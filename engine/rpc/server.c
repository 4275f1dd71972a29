/* server.c — the RPC server: answers requests with the engine's public API
 * (contract in hr_rpc.h). HBase's layout: one accept thread; a reader
 * thread per connection (at most HR_RPC_MAX_CONNS) that reads frames and
 * queues them (at most HR_RPC_MAX_QUEUE, then it waits: back pressure),
 * or answers one itself when nothing else is waiting on its socket;
 * HR_RPC_HANDLERS handler threads that run them and write each answer
 * under its connection's write mutex, in any order (the client matches
 * ids). A connection's reader waits for its queued requests before it lets
 * the connection go. Scan cursors live in a table shared by all
 * connections. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctl/hrctl_proto.h"
#include "engine/hr_rpc.h"
#include "engine/hr_region.h"
#include "engine/hr_rpc_codec.h"
#include "engine/hr_util.h"
#include "hr_log.h"

#define BATCH_BYTES (4u << 20) /* a scan batch stops growing past this */

typedef struct rpc_conn {
	struct hr_rpc_server *s;
	int fd;
	pthread_t th;
	atomic_int done;
	pthread_mutex_t wmu;	/* one answer written at a time */
	unsigned inflight;	/* queued or running requests, under s->qmu */
	pthread_cond_t drained;	/* inflight fell to 0 */
	struct rpc_conn *next;
} rpc_conn;

typedef struct rpc_job {
	rpc_conn *cn;
	uint8_t *buf;
	size_t n;
	struct rpc_job *next;
} rpc_job;

typedef struct rpc_cursor {
	uint64_t id;
	hr_scan *sc;
	rpc_conn *owner;
	int64_t used_ms;
	int busy;		/* a SCAN_NEXT is reading it */
	struct rpc_cursor *next;
} rpc_cursor;

struct hr_rpc_server {
	hr_server *srv;
	int lfd, port;
	int stop_pipe[2];	/* readable once stopping */
	pthread_t acceptor;
	uint32_t timeout_ms, lease_ms;

	pthread_mutex_t mu;	/* conns, ncons, cursors, next_cursor, master */
	rpc_conn *conns;
	unsigned nconns;
	rpc_cursor *cursors;
	unsigned ncursors;
	uint64_t next_cursor;
	const hr_rpc_master_ops *master;
	void *master_ctx;
	atomic_int refusing;	/* hr_rpc_server_set_serving(0) */

	/* the handlers' queue */
	pthread_mutex_t qmu;	/* qhead, qtail, qlen, qstop, every conn's inflight */
	pthread_cond_t qwork, qspace;
	rpc_job *qhead, *qtail;
	unsigned qlen;
	int qstop;
	pthread_t handlers[HR_RPC_HANDLERS];
	unsigned nhandlers;
};

int hr_rpc_addr_parse(const char *addr, char *host, size_t hostlen, uint16_t *port)
{
	const char *colon, *h = addr;
	size_t hl;
	if (!addr || !*addr)
		return -EINVAL;
	if (addr[0] == '[') {
		const char *rb = strchr(addr, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		h = addr + 1;
		hl = (size_t)(rb - h);
		colon = rb + 1;
	} else {
		colon = strrchr(addr, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - addr);
	}
	if (hl == 0 || hl >= hostlen)
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long p = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || errno || p > 65535 || colon[1] == '-' || colon[1] == '+')
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (uint16_t)p;
	return 0;
}

/* ---- cursors ------------------------------------------------------------- */

/* mu held: closes cursors idle past the lease (not busy ones) */
static void cursors_expire(hr_rpc_server *s, int64_t now)
{
	rpc_cursor **pp = &s->cursors;
	while (*pp) {
		rpc_cursor *c = *pp;
		if (!c->busy && now - c->used_ms > (int64_t)s->lease_ms) {
			*pp = c->next;
			hr_scan_close(c->sc);
			free(c);
			s->ncursors--;
		} else {
			pp = &c->next;
		}
	}
}

/* Takes the cursor for one SCAN_NEXT (busy), or NULL: unknown/expired. */
static rpc_cursor *cursor_take(hr_rpc_server *s, uint64_t id)
{
	pthread_mutex_lock(&s->mu);
	rpc_cursor *c = s->cursors;
	while (c && c->id != id)
		c = c->next;
	if (c && c->busy)
		c = NULL; /* one reader at a time, as hr_scan requires */
	if (c)
		c->busy = 1;
	pthread_mutex_unlock(&s->mu);
	return c;
}

static void cursor_drop_locked(hr_rpc_server *s, rpc_cursor *c)
{
	for (rpc_cursor **pp = &s->cursors; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			s->ncursors--;
			break;
		}
	}
	hr_scan_close(c->sc);
	free(c);
}

/* Gives the cursor back after a SCAN_NEXT, or closes it (done/error). */
static void cursor_put(hr_rpc_server *s, rpc_cursor *c, int close_it)
{
	pthread_mutex_lock(&s->mu);
	if (close_it) {
		cursor_drop_locked(s, c);
	} else {
		c->busy = 0;
		c->used_ms = hrctl_io_now_ms();
	}
	pthread_mutex_unlock(&s->mu);
}

static int cursor_add(hr_rpc_server *s, rpc_conn *owner, hr_scan *sc, uint64_t *id)
{
	pthread_mutex_lock(&s->mu);
	int64_t now = hrctl_io_now_ms();
	cursors_expire(s, now);
	int rc = -EBUSY;
	rpc_cursor *c = NULL;
	if (s->ncursors < HR_RPC_MAX_CURSORS && (c = calloc(1, sizeof(*c)))) {
		c->id = *id = ++s->next_cursor;
		c->sc = sc;
		c->owner = owner;
		c->used_ms = now;
		c->next = s->cursors;
		s->cursors = c;
		s->ncursors++;
		rc = 0;
	} else if (s->ncursors < HR_RPC_MAX_CURSORS) {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* A connection's cursors go with it (not busy ones: it was their reader). */
static void cursors_close_owned(hr_rpc_server *s, rpc_conn *owner)
{
	pthread_mutex_lock(&s->mu);
	rpc_cursor **pp = &s->cursors;
	while (*pp) {
		rpc_cursor *c = *pp;
		if (c->owner == owner && !c->busy) {
			*pp = c->next;
			hr_scan_close(c->sc);
			free(c);
			s->ncursors--;
		} else {
			if (c->owner == owner)
				c->owner = NULL;
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&s->mu);
}

/* ---- requests ------------------------------------------------------------ */

/* Appends up to batch entries of c's scan; 1 when the scan ended. */
static int scan_batch(hr_scan *sc, uint32_t batch, hr_rpc_w *w, int *err)
{
	size_t at_n = w->n;
	hr_rpc_w_u8(w, 0);
	hr_rpc_w_u32(w, 0);
	uint32_t n = 0;
	int done = 0;
	*err = 0;
	while (n < batch && w->n - at_n < BATCH_BYTES && !w->err) {
		hr_scan_entry e;
		int rc = hr_scan_next(sc, &e);
		if (rc < 0) {
			*err = rc;
			return 1;
		}
		if (rc == 0) {
			done = 1;
			break;
		}
		hr_rpc_w_entry(w, &e);
		n++;
	}
	if (!w->err) {
		w->p[at_n] = (uint8_t)done;
		w->p[at_n + 1] = (uint8_t)n;
		w->p[at_n + 2] = (uint8_t)(n >> 8);
		w->p[at_n + 3] = (uint8_t)(n >> 16);
		w->p[at_n + 4] = (uint8_t)(n >> 24);
	}
	return done;
}

static int do_master(hr_rpc_server *s, const hr_rpc_req *q, hr_rpc_w *w)
{
	pthread_mutex_lock(&s->mu);
	const hr_rpc_master_ops *m = s->master;
	void *ctx = s->master_ctx;
	pthread_mutex_unlock(&s->mu);
	if (!m)
		return -EOPNOTSUPP;
	switch (q->type) {
	case HR_RPC_LOCATE: {
		if (!m->locate)
			return -EOPNOTSUPP;
		hr_rpc_location loc = {0};
		int rc = m->locate(ctx, q->table, q->row, q->row_len, &loc);
		if (rc == 0) {
			hr_rpc_w_u64(w, loc.region_id);
			hr_rpc_w_bytes(w, loc.start, loc.start_len);
			hr_rpc_w_bytes(w, loc.end, loc.end_len);
			hr_rpc_w_str(w, loc.addr);
		}
		hr_rpc_location_free(&loc);
		return rc;
	}
	case HR_RPC_CREATE_TABLE:
		return m->create_table ? m->create_table(ctx, q->schema) : -EOPNOTSUPP;
	case HR_RPC_DROP_TABLE:
		return m->drop_table ? m->drop_table(ctx, q->table) : -EOPNOTSUPP;
	case HR_RPC_FAMILY_ADD:
		return m->family_add ? m->family_add(ctx, q->table, &q->schema->families[0])
				     : -EOPNOTSUPP;
	}
	return -EPROTO;
}

/* Runs one request; its body goes to w (after id and err, patched later). */
static int dispatch(hr_rpc_server *s, rpc_conn *cn, const hr_rpc_req *q, hr_rpc_w *w)
{
	hr_server *srv = s->srv;
	int rc;
	if (q->type < HR_RPC_LOCATE && q->type != HR_RPC_TABLE_LIST &&
	    q->type != HR_RPC_TABLE_SCHEMA && q->type != HR_RPC_STATS && atomic_load(&s->refusing))
		return -EREMOTE;
	switch (q->type) {
	case HR_RPC_GET: {
		hr_value v = {0};
		rc = hr_get(srv, q->table, q->row, q->row_len, q->family, q->qual, q->qual_len,
			    q->flags & (HR_GET_VALUE | HR_GET_TAGS), &v);
		if (rc == 0)
			hr_rpc_w_value(w, &v);
		hr_value_free(&v);
		return rc;
	}
	case HR_RPC_GET_VERSIONS: {
		hr_value *vs = NULL;
		rc = hr_get_versions(srv, q->table, q->row, q->row_len, q->family, q->qual,
				     q->qual_len, &q->gopts, &vs);
		if (rc >= 0) {
			hr_rpc_w_u32(w, (uint32_t)rc);
			for (int i = 0; i < rc; i++)
				hr_rpc_w_value(w, &vs[i]);
			hr_values_free(vs, (size_t)rc);
			rc = 0;
		}
		return rc;
	}
	case HR_RPC_EXISTS:
		rc = hr_exists(srv, q->table, q->row, q->row_len, q->family, q->qual, q->qual_len);
		if (rc >= 0) {
			hr_rpc_w_u8(w, rc ? 1 : 0);
			rc = 0;
		}
		return rc;
	case HR_RPC_MUTATE:
	case HR_RPC_CHECK_AND_MUTATE: {
		hr_stamp st = {HR_TS_NOW, 0};
		if (q->type == HR_RPC_MUTATE)
			rc = hr_mutate_stamped(srv, q->table, q->row, q->row_len, q->cells,
					       q->ncells, q->flags, &st);
		else
			rc = hr_check_and_mutate_stamped(srv, q->table, q->row, q->row_len,
							 q->checks, q->nchecks, q->cells, q->ncells,
							 q->flags, &st);
		if (rc == 0) {
			hr_rpc_w_u64(w, (uint64_t)st.ts);
			hr_rpc_w_u64(w, st.seq);
		}
		return rc;
	}
	case HR_RPC_SCAN_OPEN: {
		hr_scan *sc;
		if ((rc = hr_scan_open(srv, q->table, &q->sopts, &sc)) < 0)
			return rc;
		uint64_t id;
		if ((rc = cursor_add(s, cn, sc, &id)) < 0) {
			hr_scan_close(sc);
			return rc;
		}
		hr_rpc_w_u64(w, id);
		rpc_cursor *c = cursor_take(s, id);
		if (!c)
			return -ESTALE;
		int err, done = scan_batch(c->sc, q->batch, w, &err);
		cursor_put(s, c, done || err);
		return err;
	}
	case HR_RPC_SCAN_NEXT: {
		rpc_cursor *c = cursor_take(s, q->cursor);
		if (!c)
			return -ESTALE;
		int err, done = scan_batch(c->sc, q->batch, w, &err);
		cursor_put(s, c, done || err);
		return err;
	}
	case HR_RPC_SCAN_CLOSE: {
		rpc_cursor *c = cursor_take(s, q->cursor);
		if (c)
			cursor_put(s, c, 1);
		return 0;
	}
	case HR_RPC_TABLE_LIST: {
		char **names;
		size_t n;
		if ((rc = hr_table_list(srv, &names, &n)) < 0)
			return rc;
		hr_rpc_w_u32(w, (uint32_t)n);
		for (size_t i = 0; i < n; i++)
			hr_rpc_w_str(w, names[i]);
		hr_names_free(names, n);
		return 0;
	}
	case HR_RPC_TABLE_SCHEMA: {
		hr_table_schema *sch = malloc(sizeof(*sch));
		if (!sch)
			return -ENOMEM;
		if ((rc = hr_table_schema_get(srv, q->table, sch)) == 0)
			hr_rpc_w_schema(w, sch);
		free(sch);
		return rc;
	}
	case HR_RPC_STATS: {
		char *text;
		size_t len;
		if ((rc = hr_stats_format(srv, &text, &len)) == 0) {
			hr_rpc_w_bytes(w, text, len);
			free(text);
		}
		return rc;
	}
	default:
		return do_master(s, q, w);
	}
}

/* Answers one frame; < 0 when the connection must close. */
static int serve_frame(hr_rpc_server *s, rpc_conn *cn, const uint8_t *buf, size_t n)
{
	uint8_t type;
	const uint8_t *pl;
	size_t pn;
	int rc = hrctl_frame_decode(buf, n, &type, &pl, &pn);
	if (rc < 0)
		return rc;
	hr_rpc_req q;
	if ((rc = hr_rpc_req_decode(type, pl, pn, &q)) < 0) {
		hr_log_warn("rpc", "refused a request of type %u: %s", type, hr_strerror(rc));
		return rc;
	}
	hr_rpc_w w;
	hr_rpc_w_init(&w);
	hr_rpc_w_u64(&w, q.id);
	hr_rpc_w_u32(&w, 0);
	int err = dispatch(s, cn, &q, &w);
	if (w.err && !err)
		err = w.err; /* the answer does not fit a frame */
	if (err) {
		w.err = 0;
		w.n = 6 + 8 + 4; /* header, id, err: drop any partial body */
		hr_put32(w.p + 14, (uint32_t)err);
	}
	hr_rpc_req_free(&q);
	uint8_t *out;
	size_t on;
	if ((rc = hr_rpc_w_frame(&w, HR_RPC_RESPONSE, &out, &on)) < 0)
		return rc;
	pthread_mutex_lock(&cn->wmu);
	rc = hrctl_io_write_all(cn->fd, s->stop_pipe[0],
				hrctl_io_now_ms() + s->timeout_ms, out, on);
	pthread_mutex_unlock(&cn->wmu);
	free(out);
	return rc;
}

static void *handler_main(void *arg)
{
	hr_rpc_server *s = arg;
	pthread_mutex_lock(&s->qmu);
	for (;;) {
		while (!s->qhead && !s->qstop)
			pthread_cond_wait(&s->qwork, &s->qmu);
		rpc_job *j = s->qhead;
		if (!j)
			break; /* stopping, and nothing left */
		s->qhead = j->next;
		if (!s->qhead)
			s->qtail = NULL;
		s->qlen--;
		pthread_cond_signal(&s->qspace);
		pthread_mutex_unlock(&s->qmu);
		if (serve_frame(s, j->cn, j->buf, j->n) < 0)
			shutdown(j->cn->fd, SHUT_RDWR); /* its reader sees it and ends */
		free(j->buf);
		pthread_mutex_lock(&s->qmu);
		if (--j->cn->inflight == 0)
			pthread_cond_broadcast(&j->cn->drained);
		free(j);
	}
	pthread_mutex_unlock(&s->qmu);
	return NULL;
}

/* Queues one frame of cn (takes buf); waits while the queue is full. */
static int enqueue(hr_rpc_server *s, rpc_conn *cn, uint8_t *buf, size_t n)
{
	rpc_job *j = malloc(sizeof(*j));
	if (!j) {
		free(buf);
		return -ENOMEM;
	}
	*j = (rpc_job){cn, buf, n, NULL};
	pthread_mutex_lock(&s->qmu);
	while (s->qlen >= HR_RPC_MAX_QUEUE && !s->qstop)
		pthread_cond_wait(&s->qspace, &s->qmu);
	if (s->qstop) {
		pthread_mutex_unlock(&s->qmu);
		free(buf);
		free(j);
		return -ECANCELED;
	}
	if (s->qtail)
		s->qtail->next = j;
	else
		s->qhead = j;
	s->qtail = j;
	s->qlen++;
	cn->inflight++;
	pthread_cond_signal(&s->qwork);
	pthread_mutex_unlock(&s->qmu);
	return 0;
}

static void *conn_main(void *arg)
{
	rpc_conn *cn = arg;
	hr_rpc_server *s = cn->s;
	for (;;) {
		/* idle: wait for the next request without a deadline */
		struct pollfd p[2] = {{.fd = cn->fd, .events = POLLIN},
				      {.fd = s->stop_pipe[0], .events = POLLIN}};
		int r = poll(p, 2, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (p[1].revents & POLLIN))
			break;
		uint8_t *buf;
		size_t n;
		int rc = hrctl_io_read_frame(cn->fd, s->stop_pipe[0],
					     hrctl_io_now_ms() + s->timeout_ms, HR_RPC_MAX_FRAME,
					     &buf, &n);
		if (rc < 0) {
			if (rc != -ECONNRESET && rc != -ECANCELED)
				hr_log_warn("rpc", "connection dropped: %s", hr_strerror(rc));
			break;
		}
		/* nothing more waiting on the socket: answer here, saving a
		 * hand-off to a handler (the round trip of a lone caller);
		 * requests that come in a burst go to the handlers */
		struct pollfd more = {.fd = cn->fd, .events = POLLIN};
		if (poll(&more, 1, 0) == 0) {
			rc = serve_frame(s, cn, buf, n);
			free(buf);
			if (rc < 0)
				break;
			continue;
		}
		if (enqueue(s, cn, buf, n) < 0)
			break;
	}
	/* the handlers still hold this connection's requests */
	pthread_mutex_lock(&s->qmu);
	while (cn->inflight)
		pthread_cond_wait(&cn->drained, &s->qmu);
	pthread_mutex_unlock(&s->qmu);
	cursors_close_owned(s, cn);
	shutdown(cn->fd, SHUT_RDWR);
	atomic_store(&cn->done, 1);
	return NULL;
}

static void conn_free(rpc_conn *c)
{
	close(c->fd);
	pthread_mutex_destroy(&c->wmu);
	pthread_cond_destroy(&c->drained);
	free(c);
}

/* mu held: joins finished connection threads */
static void conns_reap(hr_rpc_server *s)
{
	rpc_conn **pp = &s->conns;
	while (*pp) {
		rpc_conn *c = *pp;
		if (atomic_load(&c->done)) {
			*pp = c->next;
			pthread_join(c->th, NULL);
			conn_free(c);
			s->nconns--;
		} else {
			pp = &c->next;
		}
	}
}

static void *accept_main(void *arg)
{
	hr_rpc_server *s = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN},
				      {.fd = s->stop_pipe[0], .events = POLLIN}};
		int r = poll(p, 2, 1000);
		if (r < 0 && errno != EINTR)
			break;
		if (p[1].revents & POLLIN)
			break;
		pthread_mutex_lock(&s->mu);
		conns_reap(s);
		cursors_expire(s, hrctl_io_now_ms());
		pthread_mutex_unlock(&s->mu);
		if (r <= 0 || !(p[0].revents & POLLIN))
			continue;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		pthread_mutex_lock(&s->mu);
		rpc_conn *c = NULL;
		if (s->nconns < HR_RPC_MAX_CONNS && (c = calloc(1, sizeof(*c)))) {
			c->s = s;
			c->fd = fd;
			pthread_mutex_init(&c->wmu, NULL);
			pthread_cond_init(&c->drained, NULL);
			if (pthread_create(&c->th, NULL, conn_main, c) == 0) {
				c->next = s->conns;
				s->conns = c;
				s->nconns++;
			} else {
				pthread_mutex_destroy(&c->wmu);
				pthread_cond_destroy(&c->drained);
				free(c);
				c = NULL;
			}
		}
		pthread_mutex_unlock(&s->mu);
		if (!c) {
			hr_log_warn("rpc", "connection refused: %u connections open", s->nconns);
			close(fd);
		}
	}
	return NULL;
}

/* Ends the handlers once the queue is empty. */
static void handlers_stop(hr_rpc_server *s)
{
	pthread_mutex_lock(&s->qmu);
	s->qstop = 1;
	pthread_cond_broadcast(&s->qwork);
	pthread_cond_broadcast(&s->qspace);
	pthread_mutex_unlock(&s->qmu);
	for (unsigned i = 0; i < s->nhandlers; i++)
		pthread_join(s->handlers[i], NULL);
	s->nhandlers = 0;
}

int hr_rpc_server_start(hr_server *srv, const char *listen_addr, const hr_rpc_master_ops *master,
			void *ctx, hr_rpc_server **out)
{
	char host[256];
	uint16_t port;
	int rc = hr_rpc_addr_parse(listen_addr, host, sizeof(host), &port);
	if (rc < 0)
		return rc;
	hr_rpc_server *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->srv = srv;
	s->lfd = -1;
	s->stop_pipe[0] = s->stop_pipe[1] = -1;
	s->master = master;
	s->master_ctx = ctx;
	s->timeout_ms = srv->cfg.rpc_timeout_ms ? srv->cfg.rpc_timeout_ms : 10000;
	s->lease_ms = srv->cfg.scanner_lease_ms ? srv->cfg.scanner_lease_ms : 60000;
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->qmu, NULL);
	pthread_cond_init(&s->qwork, NULL);
	pthread_cond_init(&s->qspace, NULL);

	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV}, *ai = NULL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai) {
		rc = -EINVAL;
		goto fail;
	}
	s->lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (s->lfd < 0 || setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(s->lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(s->lfd, 128) < 0) {
		rc = -errno;
		goto fail;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) < 0) {
		rc = -errno;
		goto fail;
	}
	s->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						  : ((struct sockaddr_in *)&ss)->sin_port);
	if (pipe2(s->stop_pipe, O_CLOEXEC) < 0) {
		rc = -errno;
		goto fail;
	}
	for (; s->nhandlers < HR_RPC_HANDLERS; s->nhandlers++)
		if ((rc = -pthread_create(&s->handlers[s->nhandlers], NULL, handler_main, s)) < 0)
			goto fail;
	if ((rc = -pthread_create(&s->acceptor, NULL, accept_main, s)) < 0)
		goto fail;
	freeaddrinfo(ai);
	hr_log_info("rpc", "serving on %s port %d%s", host, s->port, master ? " (master)" : "");
	*out = s;
	return 0;
fail:
	handlers_stop(s);
	if (ai)
		freeaddrinfo(ai);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stop_pipe[0] >= 0) {
		close(s->stop_pipe[0]);
		close(s->stop_pipe[1]);
	}
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->qmu);
	pthread_cond_destroy(&s->qwork);
	pthread_cond_destroy(&s->qspace);
	free(s);
	return rc;
}

int hr_rpc_server_port(const hr_rpc_server *s) { return s->port; }

void hr_rpc_server_set_master(hr_rpc_server *s, const hr_rpc_master_ops *master, void *ctx)
{
	pthread_mutex_lock(&s->mu);
	s->master = master;
	s->master_ctx = ctx;
	pthread_mutex_unlock(&s->mu);
}

void hr_rpc_server_set_serving(hr_rpc_server *s, int serving)
{
	atomic_store(&s->refusing, !serving);
}

void hr_rpc_server_stop(hr_rpc_server *s)
{
	if (!s)
		return;
	if (write(s->stop_pipe[1], "x", 1) < 0)
		hr_log_error("rpc", "stop: %s", hr_strerror(-errno));
	pthread_join(s->acceptor, NULL);
	close(s->lfd);
	pthread_mutex_lock(&s->mu);
	for (rpc_conn *c = s->conns; c; c = c->next)
		shutdown(c->fd, SHUT_RDWR);
	pthread_mutex_unlock(&s->mu);
	for (rpc_conn *c = s->conns, *nx; c; c = nx) {
		nx = c->next;
		pthread_join(c->th, NULL);
		conn_free(c);
	}
	handlers_stop(s); /* after the readers: they waited for their requests */
	for (rpc_cursor *c = s->cursors, *nx; c; c = nx) {
		nx = c->next;
		hr_scan_close(c->sc);
		free(c);
	}
	close(s->stop_pipe[0]);
	close(s->stop_pipe[1]);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->qmu);
	pthread_cond_destroy(&s->qwork);
	pthread_cond_destroy(&s->qspace);
	free(s);
}
