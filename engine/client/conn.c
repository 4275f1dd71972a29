/* conn.c — the client's connections to region servers (hr_client.h): a pool
 * of HR_CLIENT_CONNS per server address, each shared by many calling
 * threads. A caller registers its call under the connection's mutex, writes
 * its frame (writers take turns on wmu), and waits on its own condition;
 * the connection's reader thread hands each answer to the call with its id.
 * A connection that fails (reset, bad frame, a call's timeout) is marked
 * dead: its pending calls fail with -ECONNRESET and the pool replaces it on
 * next use. A connection is reference counted (pool + callers); the last
 * reference joins its reader. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/hrctl_proto.h"
#include "engine/hr_client.h"
#include "hr_log.h"

typedef struct ccall {
	uint64_t id;
	int done, rc;
	uint8_t *frame;
	size_t n;
	pthread_cond_t cond;
	struct ccall *next;
} ccall;

typedef struct cconn {
	int fd;
	pthread_t reader;
	int refs;		/* under the pool's pool_mu */
	pthread_mutex_t mu;	/* dead, calls */
	int dead;
	ccall *calls;
	pthread_mutex_t wmu;	/* one writer at a time */
	uint32_t timeout_ms;
} cconn;

struct hr_cpool {
	char addr[HR_RPC_ADDR_MAX];
	cconn *conns[HR_CLIENT_CONNS];
	unsigned rr;
	hr_cpool *next;
};

/* mu held: fails every pending call */
static void fail_calls(cconn *k, int rc)
{
	for (ccall *c = k->calls; c; c = c->next) {
		c->done = 1;
		c->rc = rc;
		pthread_cond_signal(&c->cond);
	}
	k->calls = NULL;
}

static void kill_conn(cconn *k, int rc)
{
	pthread_mutex_lock(&k->mu);
	if (!k->dead) {
		k->dead = 1;
		shutdown(k->fd, SHUT_RDWR);
	}
	fail_calls(k, rc);
	pthread_mutex_unlock(&k->mu);
}

static void *reader_main(void *arg)
{
	cconn *k = arg;
	for (;;) {
		struct pollfd p = {.fd = k->fd, .events = POLLIN};
		int r = poll(&p, 1, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		uint8_t *buf;
		size_t n;
		int rc = hrctl_io_read_frame(k->fd, -1, hrctl_io_now_ms() + k->timeout_ms,
					     HR_RPC_MAX_FRAME, &buf, &n);
		if (rc < 0)
			break;
		uint8_t type;
		const uint8_t *pl;
		size_t pn;
		if (hrctl_frame_decode(buf, n, &type, &pl, &pn) < 0 || type != HR_RPC_RESPONSE ||
		    pn < 8) {
			free(buf);
			hr_log_warn("client", "a server sent a bad frame: closing the connection");
			break;
		}
		uint64_t id;
		memcpy(&id, pl, 8);
		pthread_mutex_lock(&k->mu);
		ccall **pp = &k->calls;
		while (*pp && (*pp)->id != id)
			pp = &(*pp)->next;
		if (*pp) {
			ccall *c = *pp;
			*pp = c->next;
			c->frame = buf;
			c->n = n;
			c->done = 1;
			pthread_cond_signal(&c->cond);
			buf = NULL;
		}
		pthread_mutex_unlock(&k->mu);
		free(buf); /* an answer nobody waits for any more (timed out) */
	}
	kill_conn(k, -ECONNRESET);
	return NULL;
}

static int dial(const char *addr, uint32_t timeout_ms, int *out)
{
	char host[256];
	uint16_t port;
	if (hr_rpc_addr_parse(addr, host, sizeof(host), &port) < 0)
		return -EINVAL;
	char ps[8];
	snprintf(ps, sizeof(ps), "%u", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV}, *ai;
	if (getaddrinfo(host, ps, &hints, &ai) != 0 || !ai)
		return -EHOSTUNREACH;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int rc = 0;
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			rc = -errno;
			goto out;
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int r = poll(&p, 1, (int)timeout_ms);
		if (r == 0) {
			rc = -ETIMEDOUT;
			goto out;
		}
		int err = 0;
		socklen_t el = sizeof(err);
		if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) {
			rc = r < 0 ? -errno : err ? -err : -errno;
			goto out;
		}
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	*out = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

static void conn_free(cconn *k)
{
	shutdown(k->fd, SHUT_RDWR);
	pthread_join(k->reader, NULL);
	close(k->fd);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->wmu);
	free(k);
}

/* pool_mu held */
static void conn_unref_locked(hr_client *c, cconn *k, cconn **tofree)
{
	*tofree = --k->refs == 0 ? k : NULL;
}

static void conn_unref(hr_client *c, cconn *k)
{
	cconn *f;
	pthread_mutex_lock(&c->pool_mu);
	conn_unref_locked(c, k, &f);
	pthread_mutex_unlock(&c->pool_mu);
	if (f)
		conn_free(f);
}

/* A live connection to addr, referenced for the caller. */
static int conn_get(hr_client *c, const char *addr, cconn **out)
{
	pthread_mutex_lock(&c->pool_mu);
	hr_cpool *p = c->pools;
	while (p && strcmp(p->addr, addr) != 0)
		p = p->next;
	if (!p) {
		if (!(p = calloc(1, sizeof(*p)))) {
			pthread_mutex_unlock(&c->pool_mu);
			return -ENOMEM;
		}
		snprintf(p->addr, sizeof(p->addr), "%s", addr);
		p->next = c->pools;
		c->pools = p;
	}
	unsigned slot = p->rr++ % HR_CLIENT_CONNS;
	cconn *k = p->conns[slot], *old = NULL;
	if (k) {
		pthread_mutex_lock(&k->mu);
		int dead = k->dead;
		pthread_mutex_unlock(&k->mu);
		if (dead) {
			p->conns[slot] = NULL;
			conn_unref_locked(c, k, &old);
			k = NULL;
		}
	}
	if (k) {
		k->refs++;
		pthread_mutex_unlock(&c->pool_mu);
		*out = k;
		return 0;
	}
	pthread_mutex_unlock(&c->pool_mu);
	if (old)
		conn_free(old);
	/* dial outside the lock: a slow server must not stall the others */
	int fd = -1, rc = dial(addr, c->cfg.rpc_timeout_ms, &fd);
	if (rc < 0)
		return rc;
	if (!(k = calloc(1, sizeof(*k)))) {
		close(fd);
		return -ENOMEM;
	}
	k->fd = fd;
	k->timeout_ms = c->cfg.rpc_timeout_ms;
	k->refs = 2; /* the pool's and the caller's */
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->wmu, NULL);
	if ((rc = -pthread_create(&k->reader, NULL, reader_main, k)) < 0) {
		close(fd);
		pthread_mutex_destroy(&k->mu);
		pthread_mutex_destroy(&k->wmu);
		free(k);
		return rc;
	}
	pthread_mutex_lock(&c->pool_mu);
	cconn *prev = p->conns[slot];
	p->conns[slot] = k;
	if (prev)
		conn_unref_locked(c, prev, &old);
	else
		old = NULL;
	pthread_mutex_unlock(&c->pool_mu);
	if (old)
		conn_free(old);
	*out = k;
	return 0;
}

static int call_on(cconn *k, hr_rpc_req *q, uint8_t **frame, size_t *fn)
{
	uint8_t *out;
	size_t on;
	int rc = hr_rpc_req_encode(q, &out, &on);
	if (rc < 0)
		return rc;
	ccall call = {.id = q->id};
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&call.cond, &ca);
	pthread_condattr_destroy(&ca);
	int64_t deadline = hrctl_io_now_ms() + k->timeout_ms;

	pthread_mutex_lock(&k->mu);
	if (k->dead) {
		pthread_mutex_unlock(&k->mu);
		rc = -ECONNRESET;
		goto out;
	}
	call.next = k->calls;
	k->calls = &call;
	pthread_mutex_unlock(&k->mu);

	pthread_mutex_lock(&k->wmu);
	rc = hrctl_io_write_all(k->fd, -1, deadline, out, on);
	pthread_mutex_unlock(&k->wmu);
	if (rc < 0) /* a frame half written breaks the stream for everyone */
		kill_conn(k, -ECONNRESET);

	pthread_mutex_lock(&k->mu);
	struct timespec ts = {.tv_sec = deadline / 1000, .tv_nsec = (deadline % 1000) * 1000000};
	while (!call.done) {
		if (pthread_cond_timedwait(&call.cond, &k->mu, &ts) == ETIMEDOUT && !call.done)
			break;
	}
	if (!call.done) {
		/* no answer in time: the server may be gone; start afresh */
		for (ccall **pp = &k->calls; *pp; pp = &(*pp)->next) {
			if (*pp == &call) {
				*pp = call.next;
				break;
			}
		}
		pthread_mutex_unlock(&k->mu);
		kill_conn(k, -ECONNRESET);
		rc = -ETIMEDOUT;
		goto out;
	}
	pthread_mutex_unlock(&k->mu);
	if (call.frame) {
		*frame = call.frame;
		*fn = call.n;
		rc = 0;
	} else {
		rc = call.rc < 0 ? call.rc : -ECONNRESET;
	}
out:
	pthread_cond_destroy(&call.cond);
	free(out);
	return rc;
}

int hr_client_call(hr_client *c, const char *addr, hr_rpc_req *q, hr_rpc_resp *resp,
		   uint8_t **frame)
{
	cconn *k;
	int rc = conn_get(c, addr, &k);
	if (rc < 0)
		return rc;
	q->id = atomic_fetch_add(&c->next_id, 1) + 1;
	atomic_fetch_add(&c->calls, 1);
	uint8_t *buf = NULL;
	size_t n = 0;
	rc = call_on(k, q, &buf, &n);
	conn_unref(c, k);
	if (rc < 0)
		return rc;
	uint8_t type;
	const uint8_t *pl;
	size_t pn;
	if ((rc = hrctl_frame_decode(buf, n, &type, &pl, &pn)) == 0)
		rc = hr_rpc_resp_decode(q->type, pl, pn, resp);
	if (rc < 0) {
		hr_log_warn("client", "bad answer from %s: %s", addr, hr_strerror(rc));
		free(buf);
		return -ECONNRESET;
	}
	*frame = buf;
	return 0;
}

void hr_client_conns_close(hr_client *c)
{
	hr_cpool *p = c->pools;
	while (p) {
		hr_cpool *nx = p->next;
		for (unsigned i = 0; i < HR_CLIENT_CONNS; i++) {
			cconn *k = p->conns[i];
			if (k) {
				kill_conn(k, -ECONNRESET);
				conn_unref(c, k);
			}
		}
		free(p);
		p = nx;
	}
	c->pools = NULL;
}
