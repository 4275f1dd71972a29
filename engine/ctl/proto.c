/* proto.c — the control socket's frames, payloads and bounded I/O
 * (contract and format in hrctl_proto.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctl/hrctl_proto.h"
#include "engine/hr_util.h"

int hrctl_frame_encode(uint8_t type, const void *payload, size_t n, uint8_t **out, size_t *outlen)
{
	size_t total = n + HRCTL_FRAME_OVERHEAD;
	if (n > UINT32_MAX - HRCTL_FRAME_OVERHEAD)
		return -EMSGSIZE;
	uint8_t *b = malloc(total);
	if (!b)
		return -ENOMEM;
	hr_put32(b, (uint32_t)(total - 4));
	b[4] = HRCTL_PROTO_VERSION;
	b[5] = type;
	if (n)
		memcpy(b + 6, payload, n);
	hr_put32(b + 6 + n, hr_crc32c(0, b, 6 + n));
	*out = b;
	*outlen = total;
	return 0;
}

long long hrctl_frame_length(const uint8_t hdr[4], size_t max)
{
	uint64_t len = (uint64_t)hr_get32(hdr) + 4;
	if (len < HRCTL_FRAME_OVERHEAD)
		return -EBADMSG;
	if (len > max)
		return -EMSGSIZE;
	return (long long)len;
}

int hrctl_frame_decode(const uint8_t *buf, size_t n, uint8_t *type, const uint8_t **payload,
		       size_t *plen)
{
	if (n < HRCTL_FRAME_OVERHEAD || (uint64_t)hr_get32(buf) + 4 != n)
		return -EPROTO;
	if (hr_get32(buf + n - 4) != hr_crc32c(0, buf, n - 4))
		return -EBADMSG;
	if (buf[4] != HRCTL_PROTO_VERSION)
		return -EPROTONOSUPPORT;
	*type = buf[5];
	*payload = buf + 6;
	*plen = n - HRCTL_FRAME_OVERHEAD;
	return 0;
}

int hrctl_req_encode(int json, int argc, char *const *argv, uint8_t **out, size_t *n)
{
	size_t total = 5;
	if (argc < 1 || (unsigned)argc > HRCTL_MAX_ARGS)
		return -E2BIG;
	for (int i = 0; i < argc; i++)
		total += 4 + strlen(argv[i]);
	if (total + HRCTL_FRAME_OVERHEAD > HRCTL_MAX_REQUEST)
		return -E2BIG;
	uint8_t *b = malloc(total), *p = b;
	if (!b)
		return -ENOMEM;
	*p++ = json ? 1 : 0;
	hr_put32(p, (uint32_t)argc);
	p += 4;
	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]);
		hr_put32(p, (uint32_t)l);
		memcpy(p + 4, argv[i], l);
		p += 4 + l;
	}
	*out = b;
	*n = total;
	return 0;
}

void hrctl_req_free(int argc, char **argv)
{
	if (!argv)
		return;
	for (int i = 0; i < argc; i++)
		free(argv[i]);
	free(argv);
}

int hrctl_req_decode(const uint8_t *p, size_t n, int *json, int *argc, char ***argv)
{
	const uint8_t *end = p + n;
	if (n < 5 || (p[0] & ~1u))
		return -EBADMSG;
	uint32_t c = hr_get32(p + 1);
	if (c < 1 || c > HRCTL_MAX_ARGS)
		return -EBADMSG;
	char **v = calloc(c + 1, sizeof(char *));
	if (!v)
		return -ENOMEM;
	int rc = 0;
	const uint8_t *q = p + 5;
	uint32_t i;
	for (i = 0; i < c; i++) {
		if (end - q < 4) {
			rc = -EBADMSG;
			break;
		}
		uint32_t l = hr_get32(q);
		q += 4;
		if ((size_t)(end - q) < l || memchr(q, '\0', l)) {
			rc = -EBADMSG;
			break;
		}
		if (!(v[i] = strndup((const char *)q, l))) {
			rc = -ENOMEM;
			break;
		}
		q += l;
	}
	if (rc == 0 && q != end)
		rc = -EBADMSG;
	if (rc < 0) {
		hrctl_req_free((int)c, v);
		return rc;
	}
	*json = p[0] & 1;
	*argc = (int)c;
	*argv = v;
	return 0;
}

int hrctl_resp_encode(int code, const void *out, size_t outn, const void *err, size_t errn,
		      uint8_t **buf, size_t *n)
{
	if (outn > HRCTL_MAX_RESPONSE || errn > HRCTL_MAX_RESPONSE ||
	    outn + errn + 9 + HRCTL_FRAME_OVERHEAD > HRCTL_MAX_RESPONSE)
		return -EMSGSIZE;
	size_t total = 9 + outn + errn;
	uint8_t *b = malloc(total);
	if (!b)
		return -ENOMEM;
	b[0] = (uint8_t)code;
	hr_put32(b + 1, (uint32_t)outn);
	if (outn)
		memcpy(b + 5, out, outn);
	hr_put32(b + 5 + outn, (uint32_t)errn);
	if (errn)
		memcpy(b + 9 + outn, err, errn);
	*buf = b;
	*n = total;
	return 0;
}

int hrctl_resp_decode(const uint8_t *p, size_t n, int *code, const uint8_t **out, size_t *outn,
		      const uint8_t **err, size_t *errn)
{
	if (n < 9)
		return -EBADMSG;
	uint32_t o = hr_get32(p + 1);
	if (o > n - 9)
		return -EBADMSG;
	uint32_t e = hr_get32(p + 5 + o);
	if ((size_t)e != n - 9 - o)
		return -EBADMSG;
	*code = p[0];
	*out = p + 5;
	*outn = o;
	*err = p + 9 + o;
	*errn = e;
	return 0;
}

int hrctl_sock_addr(const char *path, struct sockaddr_un *a, int *dirfd)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	*dirfd = -1;
	if (strlen(path) < sizeof(a->sun_path)) {
		memcpy(a->sun_path, path, strlen(path) + 1);
		return 0;
	}
	/* a deep data directory: name it through a descriptor of it */
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return -ENAMETOOLONG;
	char *dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return -ENOMEM;
	int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int e = errno;
	free(dir);
	if (fd < 0)
		return -e;
	if ((size_t)snprintf(a->sun_path, sizeof(a->sun_path), "/proc/self/fd/%d/%s", fd,
			     slash + 1) >= sizeof(a->sun_path)) {
		close(fd);
		return -ENAMETOOLONG;
	}
	*dirfd = fd;
	return 0;
}

int64_t hrctl_io_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events, the deadline passes or stopfd
 * becomes readable. */
static int wait_fd(int fd, short events, int stopfd, int64_t deadline_ms)
{
	for (;;) {
		int64_t left = deadline_ms - hrctl_io_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p[2] = {{.fd = fd, .events = events}, {.fd = stopfd, .events = POLLIN}};
		int r = poll(p, stopfd >= 0 ? 2 : 1, left > 1000 ? 1000 : (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (stopfd >= 0 && (p[1].revents & POLLIN))
			return -ECANCELED;
		if (p[0].revents)
			return 0;
	}
}

static int read_exact(int fd, int stopfd, int64_t deadline_ms, uint8_t *b, size_t n)
{
	size_t got = 0;
	while (got < n) {
		int rc = wait_fd(fd, POLLIN, stopfd, deadline_ms);
		if (rc < 0)
			return rc;
		ssize_t r = recv(fd, b + got, n - got, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ECONNRESET;
		got += (size_t)r;
	}
	return 0;
}

int hrctl_io_read_frame(int fd, int stopfd, int64_t deadline_ms, size_t max, uint8_t **buf,
			size_t *n)
{
	uint8_t hdr[4];
	int rc = read_exact(fd, stopfd, deadline_ms, hdr, 4);
	if (rc < 0)
		return rc;
	long long len = hrctl_frame_length(hdr, max);
	if (len < 0)
		return (int)len;
	uint8_t *b = malloc((size_t)len);
	if (!b)
		return -ENOMEM;
	memcpy(b, hdr, 4);
	if ((rc = read_exact(fd, stopfd, deadline_ms, b + 4, (size_t)len - 4)) < 0) {
		free(b);
		return rc;
	}
	*buf = b;
	*n = (size_t)len;
	return 0;
}

int hrctl_io_write_all(int fd, int stopfd, int64_t deadline_ms, const void *buf, size_t n)
{
	const uint8_t *b = buf;
	size_t done = 0;
	while (done < n) {
		int rc = wait_fd(fd, POLLOUT, stopfd, deadline_ms);
		if (rc < 0)
			return rc;
		ssize_t w = send(fd, b + done, n - done, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return -errno;
		done += (size_t)w;
	}
	return 0;
}
