/* client.c — the hregionctl program: its options and configuration, and
 * where a command runs (contract in hrctl.h):
 *  - a data directory no daemon serves: here, offline, with the engine
 *    opened (HRCTL_NEED_SERVER) or only its lock and LMDB (HRCTL_NEED_DIR);
 *  - one a daemon serves (its lock is held): HRCTL_NEED_SERVER commands go
 *    to the daemon's control socket (hrctl_proto.h), whose answer is
 *    printed as if the command had run here; HRCTL_NEED_DIR ones (verify)
 *    are refused with exit 3;
 *  - HRCTL_NEED_NONE commands (the file dumps) always run here.
 *
 *   hregionctl [-c CONFIG] [-o KEY=VALUE[,...]] [-s SOCKET] [--timeout S]
 *              [--json] COMMAND [ARGS] [FLAGS]
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl/hrctl.h"
#include "ctl/hrctl_proto.h"
#include "engine/hr_fname.h"
#include "engine/hr_io_fault.h"
#include "engine/hr_server.h"
#include "hr_log.h"

static int g_json; /* --json, for the printer made on the first failure */

/* The printer, made when first needed: a command forwarded to the daemon
 * prints the daemon's bytes and must not get a second JSON document. */
static void ensure_out(hrctl *c)
{
	if (!c->out)
		c->out = hrctl_out_new(stdout, g_json);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hregionctl [-c CONFIG] [-o KEY=VALUE[,...]] [-s SOCKET] [--timeout S]\n"
		"                  [--json] COMMAND [ARGS]\n"
		"\n"
		"Works on an hregionfs data directory: live, through the control socket of\n"
		"the daemon that serves it (DATA_DIR/ctl.sock; root and the user who mounted),\n"
		"or offline, opening the directory itself when no daemon serves it.\n"
		"\n"
		"options:\n"
		"  -c CONFIG         read this ini file (default: ./hregionfs.ini if present)\n"
		"  -o data_dir=DIR   the data directory (and so the daemon serving it)\n"
		"  -o KEY=VALUE      any key of hregionfs.ini (offline; live, the daemon's apply)\n"
		"  -s, --socket SOCKET\n"
		"                    talk to the daemon listening there (live only)\n"
		"  --timeout S       live: wait at most S seconds for the answer (default 600)\n"
		"  --json            print JSON instead of text\n"
		"  --help, --version\n"
		"\n"
		"commands (and where they run: live, offline, or anywhere):\n");
	for (size_t i = 0; i < hrctl_ncmds; i++)
		fprintf(f, "  %s %s\n      %s [%s]\n", hrctl_cmds[i].name, hrctl_cmds[i].usage,
			hrctl_cmds[i].help, hrctl_cmd_modes(&hrctl_cmds[i]));
	fprintf(f, "\n"
		   "exit codes: 0 ok; 1 problems found (verify) or refused (non-empty drop\n"
		   "without --force, no such table, table exists); 2 usage; 3 a daemon is\n"
		   "serving the data directory and the command needs it offline (or its\n"
		   "control socket does not answer); 4 the data directory is missing or an\n"
		   "engine error; 5 the daemon refused this user.\n");
}

/* The pid holding an flock on path, from /proc/locks (0 if not found). */
static long lock_holder(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return 0;
	FILE *f = fopen("/proc/locks", "r");
	if (!f)
		return 0;
	char line[512];
	long pid = 0;
	while (!pid && fgets(line, sizeof(line), f)) {
		char kind[32], mode[32], access[32];
		long p;
		unsigned maj, min;
		unsigned long long ino;
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"; a blocked
		 * waiter's line has "->" after the number */
		if (strstr(line, "->"))
			continue;
		if (sscanf(line, "%*d: %31s %31s %31s %ld %x:%x:%llu", kind, mode, access, &p, &maj,
			   &min, &ino) == 7 &&
		    strcmp(kind, "FLOCK") == 0 && ino == (unsigned long long)st.st_ino &&
		    maj == major(st.st_dev) && min == minor(st.st_dev))
			pid = p;
	}
	fclose(f);
	return pid;
}

/* HRCTL_BUSY with the message, if the lock file is held by someone. */
static int busy_check(const char *lock)
{
	int fd = open(lock, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no lock file yet: nobody holds it */
	int held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd); /* releases the probe's lock, if it got it */
	if (!held)
		return 0;
	return -1;
}

/* HRCTL_BUSY: "a daemon is serving DIR (pid N)" and why that stops us. */
static int busy_fail(hrctl *c, const char *lock, const char *why)
{
	long pid = lock_holder(lock);
	ensure_out(c);
	if (pid > 0)
		return hrctl_fail(c, HRCTL_BUSY, "a daemon is serving %s (pid %ld)%s", c->cfg.data_dir,
				  pid, why);
	return hrctl_fail(c, HRCTL_BUSY, "a daemon is serving %s (its lock file is held)%s",
			  c->cfg.data_dir, why);
}

static int absolutize(char *path, size_t len)
{
	if (path[0] == '/')
		return 0;
	char cwd[PATH_MAX], buf[PATH_MAX];
	while (path[0] == '.' && path[1] == '/')
		memmove(path, path + 2, strlen(path + 2) + 1);
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", cwd, path) >= sizeof(buf) ||
	    strlen(buf) >= len)
		return -ENAMETOOLONG;
	strcpy(path, buf);
	return 0;
}

/* Applies "-o KEY=VALUE[,KEY=VALUE...]"; 1 if log_level was set. */
static int apply_o(hr_config *cfg, char *arg, int *log_set)
{
	char err[512];
	for (char *save = NULL, *kv = strtok_r(arg, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq) {
			fprintf(stderr, "hregionctl: -o %s: expected KEY=VALUE\n", kv);
			return -EINVAL;
		}
		*eq = '\0';
		if (hr_config_set(cfg, kv, eq + 1, err, sizeof(err)) < 0) {
			fprintf(stderr, "hregionctl: -o %s=%s: %s\n", kv, eq + 1, err);
			return -EINVAL;
		}
		if (strcmp(kv, "log_level") == 0)
			*log_set = 1;
	}
	return 0;
}


/* The command's words with its path arguments made absolute (malloc'd
 * array; the new strings are in *owned, to free). */
static char **abs_words(const hrctl_parsed *p, int nwords, char **words, char ***owned)
{
	char **w = calloc((size_t)nwords + 1, sizeof(char *));
	char **own = calloc((size_t)p->nargs + 1, sizeof(char *));
	char cwd[PATH_MAX];
	if (!w || !own) {
		free(w);
		free(own);
		return NULL;
	}
	memcpy(w, words, (size_t)nwords * sizeof(char *));
	*owned = own;
	if (!p->cmd->path_args || !getcwd(cwd, sizeof(cwd)))
		return w;
	for (int i = 0, k = 0; i < p->nargs && i < 32; i++) {
		if (!(p->cmd->path_args & (1u << i)) || p->args[i][0] == '/')
			continue;
		char *abs;
		if (asprintf(&abs, "%s/%s", cwd, p->args[i]) < 0)
			continue; /* sent as typed */
		own[k++] = abs;
		for (int j = 0; j < nwords; j++)
			if (words[j] == p->args[i])
				w[j] = abs;
	}
	return w;
}

/* Sends the command's words to the daemon at sock and prints its answer;
 * the command's exit code. */
static int forward(hrctl *c, const hrctl_parsed *p, const char *sock, const char *lock,
		   int nwords, char **words, int timeout_s)
{
	uint8_t *req = NULL, *frame = NULL, *resp = NULL, type;
	const uint8_t *payload, *o, *e;
	size_t reqn, framen, respn, pn, on, en;
	struct sockaddr_un a;
	int fd = -1, dirfd = -1, code;
	char **owned = NULL, **fw = abs_words(p, nwords, words, &owned);
	int rc = fw ? hrctl_req_encode(g_json, nwords, fw, &req, &reqn) : -ENOMEM;
	free(fw);
	for (int i = 0; owned && owned[i]; i++)
		free(owned[i]);
	free(owned);
	if (rc == 0)
		rc = hrctl_frame_encode(HRCTL_MSG_REQUEST, req, reqn, &frame, &framen);
	if (rc < 0) {
		ensure_out(c);
		code = hrctl_fail(c, HRCTL_USAGE, "the command is too long for the control socket");
		goto out;
	}
	if ((rc = hrctl_sock_addr(sock, &a, &dirfd)) < 0 ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		ensure_out(c);
		code = hrctl_fail(c, HRCTL_ERROR, "control socket %s: %s", sock,
				  strerror(rc < 0 ? -rc : errno));
		goto out;
	}
	/* a connect to a listener whose queue is full waits this long */
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ? -errno : 0;
	if (dirfd >= 0)
		close(dirfd);
	if (rc == -EACCES || rc == -EPERM) {
		ensure_out(c);
		code = hrctl_fail(c, HRCTL_DENIED,
				  "control socket %s: %s (only root and the user who mounted may "
				  "use it)",
				  sock, strerror(-rc));
		goto out;
	}
	if (rc < 0) {
		char why[PATH_MAX + 128];
		snprintf(why, sizeof(why), ", and its control socket %s does not answer (%s)", sock,
			 strerror(-rc));
		if (lock) {
			code = busy_fail(c, lock, why);
		} else {
			ensure_out(c);
			code = hrctl_fail(c, HRCTL_BUSY, "no daemon answers on %s (%s)", sock,
					  strerror(-rc));
		}
		goto out;
	}
	int64_t deadline = hrctl_io_now_ms() + (int64_t)timeout_s * 1000;
	/* a daemon that refuses us answers before reading: a failed send is
	 * not the end, its answer may be waiting */
	rc = hrctl_io_write_all(fd, -1, hrctl_io_now_ms() + 10000, frame, framen);
	if (rc == 0 || rc == -EPIPE || rc == -ECONNRESET)
		rc = hrctl_io_read_frame(fd, -1, deadline, HRCTL_MAX_RESPONSE, &resp, &respn);
	if (rc == 0)
		rc = hrctl_frame_decode(resp, respn, &type, &payload, &pn);
	if (rc == 0 && type != HRCTL_MSG_RESPONSE)
		rc = -EBADMSG;
	if (rc == 0)
		rc = hrctl_resp_decode(payload, pn, &code, &o, &on, &e, &en);
	if (rc < 0) {
		ensure_out(c);
		code = hrctl_fail(c, HRCTL_ERROR, "control socket %s: no answer: %s", sock,
				  rc == -ETIMEDOUT ? "timed out (--timeout)"
				  : rc == -ECONNRESET ? "the daemon closed the connection"
						      : strerror(-rc));
		goto out;
	}
	fwrite(o, 1, on, stdout);
	fflush(stdout);
	fwrite(e, 1, en, stderr);
out:
	if (fd >= 0)
		close(fd);
	free(req);
	free(frame);
	free(resp);
	return code;
}

static int run(hrctl *c, const hrctl_parsed *p, const char *sock, int nwords, char **words,
	       int timeout_s)
{
	char lock[PATH_MAX], mdb[PATH_MAX + 16], sockbuf[PATH_MAX];
	const hrctl_cmd *cmd = p->cmd;
	int code, token = -1;
	if (cmd->needs == HRCTL_NEED_NONE) {
		ensure_out(c);
		return cmd->fn(c, p->nargs, p->args);
	}
	if (sock && cmd->needs == HRCTL_NEED_SERVER)
		return forward(c, p, sock, NULL, nwords, words, timeout_s);
	if (sock) {
		ensure_out(c);
		return hrctl_fail(c, HRCTL_BUSY, "%s runs offline only, not through a daemon's socket",
				  cmd->name);
	}
	hr_fname_lock(c->cfg.data_dir, lock, sizeof(lock));
	/* an operator's typo must not create a new data directory */
	if (!hr_meta_dir_exists(&c->cfg, mdb, sizeof(mdb))) {
		ensure_out(c);
		return hrctl_fail(c, HRCTL_ERROR, "%s: not an hregionfs data directory (no %s)",
				  c->cfg.data_dir, mdb);
	}
	if (busy_check(lock) < 0) {
		if (cmd->needs == HRCTL_NEED_DIR)
			return busy_fail(c, lock, "; this command needs it offline (unmount first)");
		hr_fname_ctl_sock(c->cfg.data_dir, sockbuf, sizeof(sockbuf));
		return forward(c, p, sockbuf, lock, nwords, words, timeout_s);
	}
	ensure_out(c);
	if (cmd->needs == HRCTL_NEED_SERVER) {
		/* test hook: the disk freezes after N durable points of the
		 * command, and the process then dies by SIGKILL (a kill -9 at
		 * exactly that point, without a timing race) */
		const char *crash = getenv("HREGIONCTL_TEST_CRASH_AFTER");
		hr_io *fio = NULL;
		/* (the hook wraps the local disk; with storage=rados an engine
		 * opened over it would miss the metadata and files in RADOS) */
		if (crash && *crash && c->cfg.storage == HR_STORAGE_RADOS)
			return hrctl_fail(c, HRCTL_USAGE,
					  "HREGIONCTL_TEST_CRASH_AFTER works with storage=local only");
		if (crash && *crash && hr_io_fault_new(hr_io_posix(), &fio) < 0)
			return hrctl_fail(c, HRCTL_ERROR, "out of memory");
		int rc = hr_server_open_io(&c->cfg, fio, &c->srv);
		if (rc < 0)
			hr_io_destroy(fio);
		if (rc == -EBUSY)
			return busy_fail(c, lock, "");
		if (rc < 0)
			return hrctl_fail(c, HRCTL_ERROR, "cannot open %s: %s", c->cfg.data_dir,
					  strerror(-rc));
		if (fio)
			hr_io_fault_crash_after(fio, strtoull(crash, NULL, 10));
		code = cmd->fn(c, p->nargs, p->args);
		if (fio && hr_io_fault_crashed(fio)) {
			fprintf(stderr, "hregionctl: test hook: crashed after %s durable points\n",
				crash);
			fflush(NULL);
			kill(getpid(), SIGKILL);
		}
		rc = hr_server_close(c->srv);
		c->srv = NULL;
		hr_io_destroy(fio);
		if (rc < 0 && code == HRCTL_OK)
			code = hrctl_fail(c, HRCTL_ERROR, "closing %s: %s", c->cfg.data_dir,
					  strerror(-rc));
		return code;
	}
	/* HRCTL_NEED_DIR: the lock and the metadata, no recovery (it would
	 * repair); the lock file is local whatever the storage */
	hr_meta_dir md;
	int rc = hr_io_lock(hr_io_posix(), lock, &token);
	if (rc == -EBUSY)
		return busy_fail(c, lock, "; this command needs it offline (unmount first)");
	if (rc < 0)
		return hrctl_fail(c, HRCTL_ERROR, "%s: cannot lock: %s", lock, strerror(-rc));
	rc = hr_meta_dir_open(&c->cfg, &md);
	if (rc < 0) {
		hr_io_unlock(hr_io_posix(), token);
		return hrctl_fail(c, HRCTL_ERROR, "%s: cannot open the metadata: %s",
				  c->cfg.data_dir, strerror(-rc));
	}
	c->meta = md.meta;
	c->io = md.io;
	code = cmd->fn(c, p->nargs, p->args);
	hr_meta_dir_close(&md);
	c->meta = NULL;
	c->io = NULL;
	hr_io_unlock(hr_io_posix(), token);
	return code;
}

int main(int argc, char *argv[])
{
	static hrctl c;
	char err[512];
	const char *config = NULL, *sock = NULL;
	char **words = calloc((size_t)argc + 1, sizeof(char *));
	char **opts = calloc((size_t)argc + 1, sizeof(char *));
	int nwords = 0, nopts = 0, log_set = 0, dashdash = 0, timeout_s = 600, code = HRCTL_USAGE;
	hrctl_parsed p = {0};
	if (!words || !opts) {
		fprintf(stderr, "hregionctl: out of memory\n");
		return HRCTL_ERROR;
	}
	/* the program's options; everything else is the command's words */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (dashdash || a[0] != '-' || a[1] == '\0') {
			words[nwords++] = argv[i];
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = 1;
			words[nwords++] = argv[i];
		} else if (strcmp(a, "--json") == 0) {
			g_json = 1;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			code = HRCTL_OK;
			goto out;
		} else if (strcmp(a, "--version") == 0) {
			printf("hregionctl %s\n", HR_VERSION_STRING);
			code = HRCTL_OK;
			goto out;
		} else if ((strcmp(a, "-c") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "-s") == 0 ||
			    strcmp(a, "--socket") == 0 || strcmp(a, "--timeout") == 0) &&
			   i + 1 < argc) {
			if (a[1] == 'c')
				config = argv[++i];
			else if (a[1] == 'o')
				opts[nopts++] = argv[++i];
			else if (strcmp(a, "--timeout") == 0) {
				char *end;
				long v = strtol(argv[++i], &end, 10);
				if (*end || v <= 0 || v > 86400) {
					fprintf(stderr, "hregionctl: --timeout %s: seconds, 1..86400\n",
						argv[i]);
					goto out;
				}
				timeout_s = (int)v;
			} else
				sock = argv[++i];
		} else if (strncmp(a, "-o", 2) == 0 && a[2]) {
			opts[nopts++] = argv[i] + 2;
		} else if (strncmp(a, "--socket=", 9) == 0) {
			sock = a + 9;
		} else {
			words[nwords++] = argv[i]; /* a command flag, or a mistake hrctl_cmd_parse names */
		}
	}
	if (nwords == 0) {
		usage(stderr);
		goto out;
	}
	if ((code = hrctl_cmd_parse(nwords, words, stderr, &p)) != HRCTL_OK)
		goto out;
	code = HRCTL_USAGE;
	hrctl_set_flags(&c, p.flags);
	c.err = stderr;

	hr_config_defaults(&c.cfg);
	if (config || access("hregionfs.ini", F_OK) == 0) {
		const char *path = config ? config : "hregionfs.ini";
		if (hr_config_load(&c.cfg, path, err, sizeof(err)) < 0) {
			fprintf(stderr, "hregionctl: %s\n", err[0] ? err : path);
			goto out;
		}
	}
	for (int i = 0; i < nopts; i++)
		if (apply_o(&c.cfg, opts[i], &log_set) < 0)
			goto out;
	if (hr_config_validate(&c.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "hregionctl: %s\n", err);
		goto out;
	}
	if (absolutize(c.cfg.data_dir, sizeof(c.cfg.data_dir)) < 0) {
		fprintf(stderr, "hregionctl: data directory '%s': path too long\n", c.cfg.data_dir);
		goto out;
	}
	/* the engine's info lines (opened, replayed) are not the tool's
	 * output; warnings and errors still reach stderr */
	hr_log_set_level(log_set ? c.cfg.log_level
				 : (c.cfg.log_level < HR_LOG_WARN ? c.cfg.log_level : HR_LOG_WARN));
	code = run(&c, &p, sock, nwords, words, timeout_s);
	hrctl_out_free(c.out);
out:
	hrctl_parsed_free(&p);
	free(words);
	free(opts);
	return code;
}
