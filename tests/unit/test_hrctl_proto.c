/*
 * test_hrctl_proto.c — the control socket's frames and payloads (CRC,
 * truncation, oversize, bad version, inconsistent payloads), and the
 * daemon's side of the socket run in-process on an engine: a command's
 * answer, malformed requests answered with an error while the server goes
 * on serving, and a data directory too deep for sun_path.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/hrctl_proto.h"
#include "engine/hr_util.h"
#include "hr_log.h"
#include "hr_test.h"
#include "hrctl_server.h"

static void t_frame_roundtrip(void)
{
	uint8_t *f, type;
	size_t n, pn;
	const uint8_t *p;
	CHECK_RC(hrctl_frame_encode(HRCTL_MSG_REQUEST, "hello", 5, &f, &n), 0);
	CHECK(n == 5 + HRCTL_FRAME_OVERHEAD);
	CHECK_RC(hrctl_frame_length(f, HRCTL_MAX_REQUEST), (long long)n);
	CHECK_RC(hrctl_frame_decode(f, n, &type, &p, &pn), 0);
	CHECK(type == HRCTL_MSG_REQUEST && pn == 5 && memcmp(p, "hello", 5) == 0);
	/* every single flipped byte after the length is caught */
	for (size_t i = 4; i < n; i++) {
		f[i] ^= 0x40;
		int rc = hrctl_frame_decode(f, n, &type, &p, &pn);
		f[i] ^= 0x40;
		CHECK(rc == -EBADMSG);
	}
	/* an empty payload is a frame too */
	free(f);
	CHECK_RC(hrctl_frame_encode(HRCTL_MSG_RESPONSE, NULL, 0, &f, &n), 0);
	CHECK_RC(hrctl_frame_decode(f, n, &type, &p, &pn), 0);
	CHECK(pn == 0 && type == HRCTL_MSG_RESPONSE);
	free(f);
}

static void t_frame_truncated_oversize_version(void)
{
	uint8_t *f, type;
	size_t n, pn;
	const uint8_t *p;
	CHECK_RC(hrctl_frame_encode(HRCTL_MSG_REQUEST, "abcdef", 6, &f, &n), 0);
	for (size_t k = 0; k < n; k++)
		CHECK(hrctl_frame_decode(f, k, &type, &p, &pn) == -EPROTO);
	/* trailing bytes are not a frame either */
	uint8_t *g = malloc(n + 1);
	memcpy(g, f, n);
	g[n] = 0;
	CHECK(hrctl_frame_decode(g, n + 1, &type, &p, &pn) == -EPROTO);
	free(g);
	/* the length is checked against the reader's bound before any read */
	uint8_t hdr[4];
	hr_put32(hdr, HRCTL_MAX_REQUEST);
	CHECK(hrctl_frame_length(hdr, HRCTL_MAX_REQUEST) == -EMSGSIZE);
	hr_put32(hdr, 0xffffffffu);
	CHECK(hrctl_frame_length(hdr, HRCTL_MAX_RESPONSE) == -EMSGSIZE);
	hr_put32(hdr, 3);
	CHECK(hrctl_frame_length(hdr, HRCTL_MAX_REQUEST) == -EBADMSG);
	/* another version, with a correct CRC */
	f[4] = HRCTL_PROTO_VERSION + 1;
	hr_put32(f + n - 4, hr_crc32c(0, f, n - 4));
	CHECK(hrctl_frame_decode(f, n, &type, &p, &pn) == -EPROTONOSUPPORT);
	free(f);
}

static void t_request_payload(void)
{
	char *argv[] = {"split", "t", "row\\x00x", NULL};
	uint8_t *b;
	size_t n;
	int json, argc;
	char **out;
	CHECK_RC(hrctl_req_encode(1, 3, argv, &b, &n), 0);
	CHECK_RC(hrctl_req_decode(b, n, &json, &argc, &out), 0);
	CHECK(json == 1 && argc == 3 && strcmp(out[0], "split") == 0 &&
	      strcmp(out[2], "row\\x00x") == 0 && out[3] == NULL);
	hrctl_req_free(argc, out);
	/* every truncation, and one byte too many, is refused */
	for (size_t k = 0; k < n; k++)
		CHECK(hrctl_req_decode(b, k, &json, &argc, &out) == -EBADMSG);
	uint8_t *c = malloc(n + 1);
	memcpy(c, b, n);
	c[n] = 'x';
	CHECK(hrctl_req_decode(c, n + 1, &json, &argc, &out) == -EBADMSG);
	/* a word claiming more bytes than there are; a NUL inside a word;
	 * unknown flag bits; no words; too many words */
	memcpy(c, b, n);
	hr_put32(c + 5, 0x7fffffff);
	CHECK(hrctl_req_decode(c, n, &json, &argc, &out) == -EBADMSG);
	memcpy(c, b, n);
	c[9] = '\0';
	CHECK(hrctl_req_decode(c, n, &json, &argc, &out) == -EBADMSG);
	memcpy(c, b, n);
	c[0] = 0x80;
	CHECK(hrctl_req_decode(c, n, &json, &argc, &out) == -EBADMSG);
	memcpy(c, b, n);
	hr_put32(c + 1, 0);
	CHECK(hrctl_req_decode(c, n, &json, &argc, &out) == -EBADMSG);
	hr_put32(c + 1, HRCTL_MAX_ARGS + 1);
	CHECK(hrctl_req_decode(c, n, &json, &argc, &out) == -EBADMSG);
	free(c);
	free(b);
	CHECK(hrctl_req_encode(0, 0, argv, &b, &n) == -E2BIG);
}

static void t_response_payload(void)
{
	uint8_t *b;
	size_t n, on, en;
	const uint8_t *o, *e;
	int code;
	CHECK_RC(hrctl_resp_encode(3, "out\n", 4, "err\n", 4, &b, &n), 0);
	CHECK_RC(hrctl_resp_decode(b, n, &code, &o, &on, &e, &en), 0);
	CHECK(code == 3 && on == 4 && en == 4 && !memcmp(o, "out\n", 4) && !memcmp(e, "err\n", 4));
	for (size_t k = 0; k < n; k++)
		CHECK(hrctl_resp_decode(b, k, &code, &o, &on, &e, &en) == -EBADMSG);
	hr_put32(b + 1, 0xfffffff0u);
	CHECK(hrctl_resp_decode(b, n, &code, &o, &on, &e, &en) == -EBADMSG);
	free(b);
	CHECK(hrctl_resp_encode(0, "x", HRCTL_MAX_RESPONSE, NULL, 0, &b, &n) == -EMSGSIZE);
}

/* Random bytes, and random damage to good payloads, never make a decoder
 * read past its input (ASan in `make check`) or accept garbage silently. */
static void t_decoders_random(void)
{
	uint8_t buf[256], *good;
	size_t n;
	char *argv[] = {"compact", "--major", "t"};
	CHECK_RC(hrctl_req_encode(0, 3, argv, &good, &n), 0);
	srand(42);
	for (int i = 0; i < 20000; i++) {
		size_t len = (size_t)(rand() % (int)sizeof(buf));
		if (i & 1) {
			for (size_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rand();
		} else {
			len = n;
			memcpy(buf, good, n);
			buf[rand() % (int)n] = (uint8_t)rand();
		}
		uint8_t *copy = malloc(len ? len : 1); /* exact size: overreads are caught */
		memcpy(copy, buf, len);
		int json, argc, code;
		char **out;
		const uint8_t *o, *e, *p;
		size_t on, en, pn;
		uint8_t type;
		if (hrctl_req_decode(copy, len, &json, &argc, &out) == 0) {
			CHECK(argc >= 1 && (unsigned)argc <= HRCTL_MAX_ARGS && out[argc] == NULL);
			hrctl_req_free(argc, out);
		}
		if (hrctl_resp_decode(copy, len, &code, &o, &on, &e, &en) == 0)
			CHECK(9 + on + en == len);
		if (hrctl_frame_decode(copy, len, &type, &p, &pn) == 0)
			CHECK(pn + HRCTL_FRAME_OVERHEAD == len);
		free(copy);
	}
	free(good);
}

/* ---- the daemon's side, in-process ------------------------------------------ */

static int dial(const char *path)
{
	struct sockaddr_un a;
	int dirfd, fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || hrctl_sock_addr(path, &a, &dirfd) < 0)
		return -1;
	int rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
	if (dirfd >= 0)
		close(dirfd);
	if (rc < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends raw bytes, reads the response: its code, stdout and stderr
 * (NUL-terminated, malloc'd). -1 if no well-formed response came. */
static int exchange(const char *sock, const void *req, size_t n, char **out, char **err)
{
	int fd = dial(sock), code = -1;
	uint8_t *r = NULL, type;
	const uint8_t *p, *o, *e;
	size_t rn, pn, on, en;
	*out = *err = NULL;
	if (fd < 0)
		return -1;
	if (n)
		hrctl_io_write_all(fd, -1, hrctl_io_now_ms() + 5000, req, n);
	shutdown(fd, SHUT_WR);
	if (hrctl_io_read_frame(fd, -1, hrctl_io_now_ms() + 20000, HRCTL_MAX_RESPONSE, &r, &rn) ==
		    0 &&
	    hrctl_frame_decode(r, rn, &type, &p, &pn) == 0 && type == HRCTL_MSG_RESPONSE &&
	    hrctl_resp_decode(p, pn, &code, &o, &on, &e, &en) == 0) {
		*out = strndup((const char *)o, on);
		*err = strndup((const char *)e, en);
	} else {
		code = -1;
	}
	free(r);
	close(fd);
	return code;
}

static int command(const char *sock, int json, int argc, char **argv, char **out, char **err)
{
	uint8_t *p, *f;
	size_t pn, fn;
	if (hrctl_req_encode(json, argc, argv, &p, &pn) < 0)
		return -1;
	if (hrctl_frame_encode(HRCTL_MSG_REQUEST, p, pn, &f, &fn) < 0) {
		free(p);
		return -1;
	}
	int code = exchange(sock, f, fn, out, err);
	free(p);
	free(f);
	return code;
}

static void serve_on(const char *data)
{
	hr_config cfg;
	hr_server *srv = NULL;
	hrctl_server *cs = NULL;
	char sock[PATH_MAX], *out = NULL, *err = NULL;
	struct stat st;
	hr_config_defaults(&cfg);
	snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", data);
	snprintf(sock, sizeof(sock), "%s/ctl.sock", data);
	CHECK_RC(hr_server_open(&cfg, &srv), 0);
	hrctl_server_opts o = {.owner = getuid(), .request_timeout_ms = 500};
	int rc = hrctl_server_start(srv, &cfg, &o, &cs);
	if (rc < 0) {
		hr_server_close(srv);
		CHECK_RC(rc, 0);
	}
	/* fails below leave through the label, so the server always stops */
	int ok = 0;
	do {
		if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode) || (st.st_mode & 0777) != 0600)
			break;
		char *create[] = {"create", "t", "cf"};
		if (command(sock, 0, 3, create, &out, &err) != 0 ||
		    !strstr(out, "created t"))
			break;
		free(out), free(err);
		char *list[] = {"list"};
		if (command(sock, 1, 1, list, &out, &err) != 0 ||
		    strcmp(out, "{\"tables\":[{\"name\":\"t\",\"families\":1,\"regions\":1}]}\n"))
			break;
		free(out), free(err);
		/* a usage error: the message, as the program prints it */
		char *bad[] = {"drop"};
		if (command(sock, 0, 1, bad, &out, &err) != 2 || !strstr(err, "usage: hregionctl drop"))
			break;
		free(out), free(err);
		/* verify needs the directory offline */
		char *verify[] = {"verify"};
		if (command(sock, 0, 1, verify, &out, &err) != 3 || !strstr(err, "offline"))
			break;
		free(out), free(err);
		/* garbage, an oversize length, a bad CRC, a valid frame with a
		 * broken payload, silence: each answered (or dropped), and the
		 * server still answers afterwards */
		static const uint8_t huge[8] = {0xff, 0xff, 0xff, 0x7f, 1, 1, 0, 0};
		if (exchange(sock, huge, sizeof(huge), &out, &err) != 2)
			break;
		free(out), free(err);
		uint8_t *f;
		size_t fn;
		if (hrctl_frame_encode(HRCTL_MSG_REQUEST, "\x00\x01\x00\x00\x00\x09zz", 9, &f, &fn) < 0)
			break;
		int c1 = exchange(sock, f, fn, &out, &err);
		free(out), free(err);
		f[fn - 1] ^= 1;
		int c2 = exchange(sock, f, fn, &out, &err);
		free(out), free(err);
		free(f);
		if (c1 != 2 || c2 != 2)
			break;
		if (exchange(sock, "\x05\x00", 2, &out, &err) != 2) /* cut short, then closed */
			break;
		free(out), free(err);
		int silent = dial(sock); /* says nothing: its deadline passes */
		char *status[] = {"status"};
		int c3 = command(sock, 0, 1, status, &out, &err);
		if (silent >= 0)
			close(silent);
		if (c3 != 0 || !strstr(out, "mode live") || !strstr(out, "tables 1"))
			break;
		ok = 1;
	} while (0);
	free(out), free(err);
	out = err = NULL;
	hrctl_server_stop(cs);
	CHECK_RC(hr_server_close(srv), 0);
	CHECK(ok);
	CHECK(access(sock, F_OK) < 0 && errno == ENOENT); /* removed at stop */
}

static void t_server(void)
{
	char dir[PATH_MAX];
	hr_test_tmpdir(dir, sizeof(dir), "ctlsrv");
	serve_on(dir);
	hr_test_rmrf(dir);
}

/* A data directory whose socket path does not fit sun_path (108 bytes). */
static void t_server_deep_dir(void)
{
	char dir[PATH_MAX], deep[PATH_MAX];
	hr_test_tmpdir(dir, sizeof(dir), "ctldeep");
	snprintf(deep, sizeof(deep), "%s/%0100d/%040d", dir, 0, 0);
	char cmd[PATH_MAX + 16];
	snprintf(cmd, sizeof(cmd), "mkdir -p '%s'", deep);
	CHECK(system(cmd) == 0);
	CHECK(strlen(deep) + strlen("/ctl.sock") >= sizeof(((struct sockaddr_un *)0)->sun_path));
	serve_on(deep);
	hr_test_rmrf(dir);
}

int main(void)
{
	hr_log_set_level(HR_LOG_ERROR);
	RUN(t_frame_roundtrip);
	RUN(t_frame_truncated_oversize_version);
	RUN(t_request_payload);
	RUN(t_response_payload);
	RUN(t_decoders_random);
	RUN(t_server);
	RUN(t_server_deep_dir);
	return hr_test_done();
}
