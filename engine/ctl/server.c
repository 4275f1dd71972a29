/* server.c — the daemon's control socket: accepts hregionctl's requests
 * and runs its commands with the daemon's hr_server (contract in
 * hrctl_server.h, wire format in ctl/hrctl_proto.h).
 *
 * One thread does everything, a connection at a time: so commands never
 * run concurrently with each other (each takes the engine's own locks as
 * any engine caller does, and FUSE requests go on meanwhile on their
 * threads), and a connection that sends nothing costs at most the request
 * deadline. A command's output goes to memory streams, its exit code and
 * both streams back to the client in one response frame.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/hrctl.h"
#include "ctl/hrctl_proto.h"
#include "engine/hr_fname.h"
#include "hr_log.h"
#include "hrctl_server.h"

struct hrctl_server {
	hr_server *srv;
	const hr_config *cfg;
	hrctl_server_opts opts;
	char path[PATH_MAX];
	int lfd;
	int stop[2];		/* a byte written to stop[1] ends the thread */
	pthread_t thr;
	uint64_t served, refused, bad;
};

/* Sends one response frame; failures only end this connection. */
static void reply(hrctl_server *s, int fd, int code, const void *out, size_t outn,
		  const char *err, size_t errn)
{
	uint8_t *p = NULL, *f = NULL;
	size_t pn, fn;
	int rc = hrctl_resp_encode(code, out, outn, err, errn, &p, &pn);
	if (rc == -EMSGSIZE) {
		static const char big[] = "hregionctl: the command's output is larger than the "
					  "control socket carries (64 MiB); run it offline\n";
		rc = hrctl_resp_encode(HRCTL_ERROR, NULL, 0, big, sizeof(big) - 1, &p, &pn);
	}
	if (rc == 0)
		rc = hrctl_frame_encode(HRCTL_MSG_RESPONSE, p, pn, &f, &fn);
	if (rc == 0)
		rc = hrctl_io_write_all(fd, s->stop[0],
					hrctl_io_now_ms() + s->opts.response_timeout_ms, f, fn);
	if (rc < 0)
		hr_log(rc == -EPIPE || rc == -ECONNRESET ? HR_LOG_DEBUG : HR_LOG_WARN, "ctl",
		       "control socket: cannot send a response: %s", strerror(-rc));
	free(p);
	free(f);
}

static void reply_msg(hrctl_server *s, int fd, int code, const char *msg)
{
	reply(s, fd, code, NULL, 0, msg, strlen(msg));
}

/* Runs one command as hregionctl would, into the two streams; its code. */
static int run_cmd(hrctl_server *s, int json, int argc, char **argv, FILE *out, FILE *err)
{
	hrctl_parsed p;
	int code = hrctl_cmd_parse(argc, argv, err, &p);
	if (code != HRCTL_OK)
		return code;
	hrctl *c = calloc(1, sizeof(*c));
	if (!c) {
		hrctl_parsed_free(&p);
		fprintf(err, "hregionctl: the daemon is out of memory\n");
		return HRCTL_ERROR;
	}
	c->cfg = *s->cfg;
	c->err = err;
	c->live = 1;
	c->out = hrctl_out_new(out, json);
	if (!c->out) {
		fprintf(err, "hregionctl: the daemon is out of memory\n");
		code = HRCTL_ERROR;
		goto out;
	}
	hrctl_set_flags(c, p.flags);
	switch (p.cmd->needs) {
	case HRCTL_NEED_SERVER:
		c->srv = s->srv;
		code = p.cmd->fn(c, p.nargs, p.args);
		break;
	case HRCTL_NEED_DIR:
		code = hrctl_fail(c, HRCTL_BUSY,
				  "%s needs the data directory offline: the daemon (pid %ld) is "
				  "serving %s; unmount it first",
				  p.cmd->name, (long)getpid(), c->cfg.data_dir);
		break;
	default:
		code = hrctl_fail(c, HRCTL_USAGE, "%s runs in hregionctl itself, not in the daemon",
				  p.cmd->name);
		break;
	}
	hrctl_out_free(c->out);
out:
	free(c);
	hrctl_parsed_free(&p);
	return code;
}

static void serve_request(hrctl_server *s, int fd, const uint8_t *payload, size_t n)
{
	int json, argc, code;
	char **argv = NULL, *obuf = NULL, *ebuf = NULL;
	size_t on = 0, en = 0;
	int rc = hrctl_req_decode(payload, n, &json, &argc, &argv);
	if (rc < 0) {
		s->bad++;
		hr_log_warn("ctl", "control socket: a malformed request (%s); answered with an error",
			    strerror(-rc));
		reply_msg(s, fd, HRCTL_USAGE, "hregionctl: the daemon could not read the request\n");
		return;
	}
	FILE *out = open_memstream(&obuf, &on), *err = open_memstream(&ebuf, &en);
	if (!out || !err) {
		if (out)
			fclose(out);
		if (err)
			fclose(err);
		free(obuf);
		free(ebuf);
		hrctl_req_free(argc, argv);
		reply_msg(s, fd, HRCTL_ERROR, "hregionctl: the daemon is out of memory\n");
		return;
	}
	code = run_cmd(s, json, argc, argv, out, err);
	fclose(out);
	fclose(err);
	s->served++;
	hr_log_debug("ctl", "control socket: %s%s -> exit %d", argv[0], argc > 1 ? " ..." : "",
		     code);
	reply(s, fd, code, obuf, on, ebuf, en);
	free(obuf);
	free(ebuf);
	hrctl_req_free(argc, argv);
}

static void serve(hrctl_server *s, int fd)
{
	struct ucred cr;
	socklen_t cl = sizeof(cr);
	char msg[256];
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0) {
		hr_log_warn("ctl", "control socket: no peer credentials: %s", strerror(errno));
		return;
	}
	if (cr.uid != 0 && cr.uid != s->opts.owner) {
		s->refused++;
		hr_log_warn("ctl",
			    "control socket: refused a connection from uid %u (pid %ld): only root "
			    "and uid %u (who mounted) are served",
			    (unsigned)cr.uid, (long)cr.pid, (unsigned)s->opts.owner);
		snprintf(msg, sizeof(msg),
			 "hregionctl: refused: the daemon serving %s answers only root and uid %u "
			 "(you are uid %u)\n",
			 s->cfg->data_dir, (unsigned)s->opts.owner, (unsigned)cr.uid);
		reply_msg(s, fd, HRCTL_DENIED, msg);
		return;
	}
	uint8_t *buf = NULL, type;
	const uint8_t *payload;
	size_t n, pn;
	int rc = hrctl_io_read_frame(fd, s->stop[0], hrctl_io_now_ms() + s->opts.request_timeout_ms,
				     HRCTL_MAX_REQUEST, &buf, &n);
	if (rc == -ECANCELED) {
		free(buf);
		return; /* stopping */
	}
	if (rc == 0)
		rc = hrctl_frame_decode(buf, n, &type, &payload, &pn);
	if (rc == 0 && type != HRCTL_MSG_REQUEST)
		rc = -EBADMSG;
	if (rc < 0) {
		s->bad++;
		hr_log_warn("ctl", "control socket: a bad request from uid %u (pid %ld): %s",
			    (unsigned)cr.uid, (long)cr.pid,
			    rc == -ETIMEDOUT	 ? "none within the deadline"
			    : rc == -ECONNRESET ? "cut short"
						 : strerror(-rc));
		snprintf(msg, sizeof(msg), "hregionctl: the daemon could not read the request: %s\n",
			 rc == -ETIMEDOUT     ? "none within the deadline"
			 : rc == -ECONNRESET ? "cut short"
					     : strerror(-rc));
		reply_msg(s, fd, HRCTL_USAGE, msg);
		free(buf);
		return;
	}
	serve_request(s, fd, payload, pn);
	free(buf);
}

static void *ctl_main(void *arg)
{
	hrctl_server *s = arg;
	for (;;) {
		struct pollfd p[2] = {{.fd = s->lfd, .events = POLLIN}, {.fd = s->stop[0], .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			hr_log_error("ctl", "control socket: poll: %s", strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				hr_log_warn("ctl", "control socket: accept: %s", strerror(errno));
			if (errno == EMFILE || errno == ENFILE)
				poll(NULL, 0, 100); /* let descriptors come back */
			continue;
		}
		serve(s, fd);
		close(fd);
	}
	return NULL;
}

/* Binds a socket to path under a temporary name, sets its mode and renames
 * it into place (over a stale one), so a client never finds a socket with
 * the wrong mode or half made. */
static int make_socket(hrctl_server *s)
{
	char tmp[PATH_MAX + 32];
	struct sockaddr_un a;
	int dirfd = -1, rc;
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", s->path, (long)getpid());
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0)
		return -errno;
	unlink(tmp); /* ours from an earlier life of this pid */
	if ((rc = hrctl_sock_addr(tmp, &a, &dirfd)) < 0)
		return rc;
	rc = bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
	if (dirfd >= 0)
		close(dirfd);
	if (rc < 0)
		return rc;
	if (chmod(tmp, s->opts.mode) < 0 || listen(s->lfd, 16) < 0 || rename(tmp, s->path) < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	return 0;
}

int hrctl_server_start(hr_server *srv, const hr_config *cfg, const hrctl_server_opts *opts,
		       hrctl_server **out)
{
	hrctl_server *s = calloc(1, sizeof(*s));
	int rc;
	if (!s)
		return -ENOMEM;
	s->srv = srv;
	s->cfg = cfg;
	s->opts = *opts;
	if (!s->opts.mode)
		s->opts.mode = 0600;
	if (s->opts.request_timeout_ms <= 0)
		s->opts.request_timeout_ms = 10000;
	if (s->opts.response_timeout_ms <= 0)
		s->opts.response_timeout_ms = 30000;
	s->lfd = s->stop[0] = s->stop[1] = -1;
	if (hr_fname_ctl_sock(cfg->data_dir, s->path, sizeof(s->path)) < 0) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	if (pipe2(s->stop, O_CLOEXEC) < 0) {
		rc = -errno;
		goto fail;
	}
	if ((rc = make_socket(s)) < 0)
		goto fail;
	if ((rc = -pthread_create(&s->thr, NULL, ctl_main, s)) < 0) {
		unlink(s->path);
		goto fail;
	}
	hr_log_info("ctl", "control socket %s (mode %04o)", s->path, s->opts.mode);
	*out = s;
	return 0;
fail:
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->stop[0] >= 0) {
		close(s->stop[0]);
		close(s->stop[1]);
	}
	free(s);
	return rc;
}

void hrctl_server_stop(hrctl_server *s)
{
	if (!s)
		return;
	ssize_t w;
	do
		w = write(s->stop[1], "x", 1);
	while (w < 0 && errno == EINTR);
	pthread_join(s->thr, NULL);
	/* only ours: a later daemon on the directory has its own by now only
	 * if we lost the lock, which we hold until the engine closes */
	unlink(s->path);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	if (s->refused || s->bad)
		hr_log_info("ctl", "control socket: %llu commands served, %llu connections refused, "
			    "%llu bad requests",
			    (unsigned long long)s->served, (unsigned long long)s->refused,
			    (unsigned long long)s->bad);
	free(s);
}
