/* listen.c — metrics_listen's "HOST:PORT" (hr_metrics.h): parsed apart from
 * the HTTP server, so that the configuration can check an address without
 * pulling in the server (and libmicrohttpd). Numeric addresses only: a
 * host name would make the mount depend on name resolution at start. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "engine/hr_metrics.h"

int hr_metrics_listen_parse(const char *s, struct sockaddr_storage *sa, unsigned *salen)
{
	char host[64];
	const char *colon, *hs = s;
	size_t hl;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -EINVAL;
		hs = s + 1;
		hl = (size_t)(rb - hs);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hl = (size_t)(colon - s);
	}
	if (hl == 0 || hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	const char *p = colon + 1;
	unsigned long port = 0;
	if (!*p || strlen(p) > 5)
		return -EINVAL;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port > 65535)
		return -EINVAL;
	struct sockaddr_storage tmp;
	if (!sa)
		sa = &tmp;
	memset(sa, 0, sizeof(*sa));
	if (s[0] == '[') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;
		if (inet_pton(AF_INET6, host, &a6->sin6_addr) != 1)
			return -EINVAL;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (salen)
			*salen = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)sa;
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -EINVAL;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (salen)
			*salen = sizeof(*a4);
	}
	return 0;
}
