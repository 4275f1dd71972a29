/* http.c — the Prometheus endpoint (hregionfs.h, hr_metrics_http_start):
 * libmicrohttpd with one internal polling thread renders the server's
 * registry for each GET /metrics. The socket is bound here, not by
 * libmicrohttpd, so that a failure reports its errno (EADDRINUSE, EACCES)
 * instead of a bare "could not start". */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "engine/hr_metrics.h"
#include "hr_log.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct hr_metrics_http {
	hr_server *srv;
	struct MHD_Daemon *d;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, char *body, size_t len,
			     enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
				status == MHD_HTTP_OK ? CONTENT_TYPE : "text/plain; charset=utf-8");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	enum MHD_Result rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	hr_metrics_http *h = cls;
	static char not_found[] = "not found: the metrics are at /metrics\n";
	static char not_allowed[] = "method not allowed\n";
	static char failed[] = "rendering the metrics failed\n";
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found),
			     MHD_RESPMEM_PERSISTENT);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, strlen(not_allowed),
			     MHD_RESPMEM_PERSISTENT);
	char *text;
	size_t len;
	int rc = hr_metrics_render(hr_server_metrics(h->srv), &text, &len);
	if (rc < 0) {
		hr_log_error("metrics", "rendering for HTTP: %s", strerror(-rc));
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, failed, strlen(failed),
			     MHD_RESPMEM_PERSISTENT);
	}
	return reply(c, MHD_HTTP_OK, text, len, MHD_RESPMEM_MUST_FREE);
}

int hr_metrics_http_start(hr_server *srv, const char *listen_on, hr_metrics_http **out,
			  char *bound, size_t boundlen)
{
	struct sockaddr_storage sa;
	unsigned salen;
	int rc, fd = -1, one = 1;
	hr_metrics_http *h = NULL;
	if (hr_metrics_listen_parse(listen_on, &sa, &salen) < 0)
		return -EINVAL;
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a restarted daemon must not wait out its predecessor's TIME_WAITs */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, salen) < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		goto fail;
	}
	if (bound && boundlen) {
		char host[INET6_ADDRSTRLEN];
		socklen_t l = sizeof(sa);
		getsockname(fd, (struct sockaddr *)&sa, &l);
		if (sa.ss_family == AF_INET6) {
			struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
			inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof(host));
			snprintf(bound, boundlen, "[%s]:%u", host, ntohs(a6->sin6_port));
		} else {
			struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
			inet_ntop(AF_INET, &a4->sin_addr, host, sizeof(host));
			snprintf(bound, boundlen, "%s:%u", host, ntohs(a4->sin_port));
		}
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		rc = -ENOMEM;
		goto fail;
	}
	h->srv = srv;
	/* One thread, a handful of connections, each dropped after 10 s idle:
	 * a scrape every few seconds needs no more, and a client that stalls
	 * cannot hold the endpoint for long. */
	h->d = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, 0, NULL, NULL, handle, h,
				MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)8, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
				MHD_OPTION_END);
	if (!h->d) {
		rc = -EIO;
		goto fail;
	}
	*out = h;
	return 0; /* the daemon owns fd now (MHD_stop_daemon closes it) */
fail:
	free(h);
	close(fd);
	return rc;
}

void hr_metrics_http_stop(hr_metrics_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
