/*
 * main.c — command line, configuration and lifecycle of the hregionfs
 * daemon:  hregionfs [-c CONFIG] [-f] [-d] [-o OPT[,OPT...]] [SOURCE] MOUNTPOINT
 *
 * -o KEY=VALUE sets any hregionfs.ini key (data_dir, durability, ...);
 * every other -o option (auto_unmount, allow_other, default_permissions,
 * ro, ...) goes to FUSE. SOURCE (mount.fuse3 and /etc/fstab pass one) is
 * the data directory unless -o data_dir is given.
 *
 * Permissions: a mount other users may enter (allow_other) has the kernel
 * enforce the stored modes (default_permissions is added) unless
 * -o no_default_permissions says otherwise.
 *
 * Lifecycle: the engine is opened before the mount, so a second instance on
 * the same data directory fails (-EBUSY from the lock file) before it
 * mounts anything. Without -f the process forks first (the engine's threads
 * must start in the final process), and the parent exits only once the
 * child reports that the mount is ready (0) or failed (1). SIGTERM, SIGINT
 * and fusermount3 -u end the FUSE loop; in-flight operations finish (the
 * loop joins its workers), then the engine closes cleanly and we exit 0.
 *
 * Metrics: the mount's families join the engine's registry once it is open;
 * with metrics_listen set, the HTTP endpoint starts before the mount, and a
 * failure to listen refuses the mount (an operator who asked for the
 * endpoint learns at once that it is not there). It stops before the engine
 * closes.
 *
 * hregionctl: once mounted, the daemon serves hregionctl's commands on
 * <data_dir>/ctl.sock (hrctl_server.h) for root and the user who mounted;
 * the engine's table events (events.c) make the tables they create, drop,
 * alter and restore show in the mount at once. The socket goes before the
 * engine closes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/hrfs.h"
#include "hrctl_server.h"

struct hrfs_cmdline {
	char *config;
	int foreground;
	int debug;
	int help;
	int version;
	char *pos[3];
	int npos;
	char **overrides;	/* "key=value", in command-line order */
	size_t noverrides;
	char **keys;		/* every hregionfs.ini key */
	size_t nkeys;
	int bad;
	int allow_other;	/* -o allow_other was given */
	int default_permissions; /* -o default_permissions was given */
	int no_default_permissions; /* -o no_default_permissions: keep it off */
};

enum { KEY_HELP, KEY_VERSION, KEY_DEBUG, KEY_FOREGROUND, KEY_ALLOW_OTHER, KEY_DEFAULT_PERMS,
       KEY_NO_DEFAULT_PERMS };

static const struct fuse_opt hrfs_opts[] = {
	{"-c %s", offsetof(struct hrfs_cmdline, config), 0},
	{"--config=%s", offsetof(struct hrfs_cmdline, config), 0},
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMS),
	FUSE_OPT_KEY("no_default_permissions", KEY_NO_DEFAULT_PERMS),
	FUSE_OPT_END,
};

static void usage(const char *prog)
{
	printf("usage: %s [-c CONFIG] [-f] [-d] [-o OPT[,OPT...]] [SOURCE] MOUNTPOINT\n"
	       "\n"
	       "Mounts an hregionfs data directory: tables as directories, rows, column\n"
	       "families and qualifiers below them, each cell a file holding its value.\n"
	       "\n"
	       "options:\n"
	       "  -c CONFIG         read this ini file (default: ./hregionfs.ini if present,\n"
	       "                    else the built-in defaults)\n"
	       "  -f                stay in the foreground, log to stderr\n"
	       "  -d                debug: -f plus FUSE request tracing\n"
	       "  -o data_dir=DIR   the data directory (SOURCE does the same)\n"
	       "  -o KEY=VALUE      any key of hregionfs.ini, e.g. -o durability=fsync\n"
	       "  -o auto_unmount   unmount when the daemon dies (other FUSE options\n"
	       "                    such as allow_other and default_permissions pass through)\n"
	       "  -o allow_other    let other users in; the kernel then checks the files'\n"
	       "                    modes (default_permissions) unless\n"
	       "  -o no_default_permissions  is given too\n"
	       "  -h, --help        this help\n"
	       "  -V, --version     print the version\n"
	       "\n"
	       "Unmount with: fusermount3 -u MOUNTPOINT\n",
	       prog);
}

/* Learns the key names from the formatted defaults ("key = value" lines),
 * so the option parser needs no second list of keys. */
static int load_keys(struct hrfs_cmdline *cl)
{
	hr_config def;
	char *text = NULL, *save = NULL;
	size_t len = 0;
	hr_config_defaults(&def);
	if (hr_config_format(&def, &text, &len) < 0)
		return -ENOMEM;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* "key = value", or "key =" for a key whose default is empty
		 * (cluster, rados_namespace) */
		char *eq = strstr(line, " =");
		if (line[0] == '[' || line[0] == ';' || line[0] == '#' || !eq ||
		    (eq[2] != ' ' && eq[2] != '\0'))
			continue;
		char **nk = realloc(cl->keys, (cl->nkeys + 1) * sizeof(char *));
		if (!nk) {
			free(text);
			return -ENOMEM;
		}
		cl->keys = nk;
		cl->keys[cl->nkeys] = strndup(line, (size_t)(eq - line));
		if (!cl->keys[cl->nkeys]) {
			free(text);
			return -ENOMEM;
		}
		cl->nkeys++;
	}
	free(text);
	return 0;
}

static int is_config_key(const struct hrfs_cmdline *cl, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq)
		return 0;
	for (size_t i = 0; i < cl->nkeys; i++)
		if (strlen(cl->keys[i]) == (size_t)(eq - arg) &&
		    strncmp(cl->keys[i], arg, (size_t)(eq - arg)) == 0)
			return 1;
	return 0;
}

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct hrfs_cmdline *cl = data;
	switch (key) {
	case KEY_HELP:
		cl->help = 1;
		return 0;
	case KEY_VERSION:
		cl->version = 1;
		return 0;
	case KEY_FOREGROUND:
		cl->foreground = 1;
		return 0;
	case KEY_DEBUG:
		cl->debug = 1;
		cl->foreground = 1;
		return 1; /* FUSE traces requests too */
	case KEY_ALLOW_OTHER:
		cl->allow_other = 1;
		return 1; /* for FUSE */
	case KEY_DEFAULT_PERMS:
		cl->default_permissions = 1;
		return 1;
	case KEY_NO_DEFAULT_PERMS:
		cl->no_default_permissions = 1;
		return 0; /* ours only */
	case FUSE_OPT_KEY_NONOPT:
		if (cl->npos >= 2) {
			fprintf(stderr, "hregionfs: too many arguments: '%s'\n", arg);
			cl->bad = 1;
			return -1;
		}
		cl->pos[cl->npos++] = strdup(arg);
		return 0;
	case FUSE_OPT_KEY_OPT:
		if (is_config_key(cl, arg)) {
			char **no = realloc(cl->overrides, (cl->noverrides + 1) * sizeof(char *));
			if (!no)
				return -1;
			cl->overrides = no;
			cl->overrides[cl->noverrides++] = strdup(arg);
			return 0;
		}
		return 1; /* a FUSE option */
	default:
		return 1;
	}
}

static int absolutize(char *path, size_t size)
{
	char cwd[PATH_MAX], out[PATH_MAX];
	if (path[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	const char *rel = path;
	while (rel[0] == '.' && rel[1] == '/')
		rel += 2;
	int n = snprintf(out, sizeof(out), "%s/%s", cwd, rel);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	memcpy(path, out, (size_t)n + 1);
	return 0;
}

static void hrfs_init(void *userdata, struct fuse_conn_info *conn)
{
	/* O_TRUNC arrives with open, so a truncating open needs no read. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* Every write reaches us: a close must be able to report EFBIG. */
	conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/* Cached pages are dropped exactly when a cell changed behind the
	 * kernel (ofile.c, inval.c), not whenever an mtime moves: our own
	 * writes move it too. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
}

static const struct fuse_lowlevel_ops hrfs_ops = {
	.init = hrfs_init,
	.lookup = hrfs_op_lookup,
	.forget = hrfs_op_forget,
	.forget_multi = hrfs_op_forget_multi,
	.getattr = hrfs_op_getattr,
	.setattr = hrfs_op_setattr,
	.mknod = hrfs_op_mknod,
	.mkdir = hrfs_op_mkdir,
	.unlink = hrfs_op_unlink,
	.rmdir = hrfs_op_rmdir,
	.rename = hrfs_op_rename,
	.open = hrfs_op_open,
	.read = hrfs_op_read,
	.write = hrfs_op_write,
	.flush = hrfs_op_flush,
	.release = hrfs_op_release,
	.fsync = hrfs_op_fsync,
	.opendir = hrfs_op_opendir,
	.readdir = hrfs_op_readdir,
	.readdirplus = hrfs_op_readdirplus,
	.releasedir = hrfs_op_releasedir,
	.fsyncdir = hrfs_op_fsyncdir,
	.statfs = hrfs_op_statfs,
	.create = hrfs_op_create,
};

/* Tells the waiting parent how the start went (daemon mode only). */
static void report_start(int *fd, char status)
{
	if (*fd < 0)
		return;
	ssize_t n;
	do
		n = write(*fd, &status, 1);
	while (n < 0 && errno == EINTR);
	close(*fd);
	*fd = -1;
}

/* Forks; the parent returns only through exit() with the child's verdict. */
static int daemon_fork(void)
{
	int p[2];
	if (pipe(p) != 0) {
		perror("hregionfs: pipe");
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("hregionfs: fork");
		return -1;
	}
	if (pid > 0) {
		char st = 1;
		ssize_t n;
		close(p[1]);
		do
			n = read(p[0], &st, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? st : 1);
	}
	close(p[0]);
	setsid();
	return p[1];
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	if (chdir("/") != 0) {
		/* nothing sensible to do; paths are absolute already */
	}
}

static void free_cmdline(struct hrfs_cmdline *cl)
{
	for (int i = 0; i < cl->npos; i++)
		free(cl->pos[i]);
	for (size_t i = 0; i < cl->noverrides; i++)
		free(cl->overrides[i]);
	free(cl->overrides);
	for (size_t i = 0; i < cl->nkeys; i++)
		free(cl->keys[i]);
	free(cl->keys);
	free(cl->config);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct hrfs_cmdline cl;
	struct hrfs *fs = NULL;
	struct fuse_loop_config *lc = NULL;
	hrctl_server *ctl = NULL;
	struct fuse_lowlevel_ops ops;
	hr_metrics_http *http = NULL;
	char err[1024], mnt[PATH_MAX], bound[80];
	int rc, status = 1, report_fd = -1, mounted = 0, handlers = 0;
	int data_dir_set = 0;

	memset(&cl, 0, sizeof(cl));
	if (load_keys(&cl) < 0) {
		fprintf(stderr, "hregionfs: out of memory\n");
		return 1;
	}
	if (fuse_opt_parse(&args, &cl, hrfs_opts, opt_proc) != 0 || cl.bad) {
		fprintf(stderr, "hregionfs: bad arguments (try --help)\n");
		goto out;
	}
	if (cl.help) {
		usage(argv[0]);
		printf("\nFUSE options:\n");
		fuse_lowlevel_help();
		status = 0;
		goto out;
	}
	if (cl.version) {
		printf("hregionfs %s\n", HR_VERSION_STRING);
		fuse_lowlevel_version();
		status = 0;
		goto out;
	}
	if (cl.npos == 0) {
		fprintf(stderr, "hregionfs: no mountpoint given (try --help)\n");
		goto out;
	}
	if (cl.default_permissions && cl.no_default_permissions) {
		fprintf(stderr, "hregionfs: default_permissions and no_default_permissions "
				"contradict each other\n");
		goto out;
	}
	/* Other users may enter: the stored modes must mean something. */
	if (cl.allow_other && !cl.default_permissions && !cl.no_default_permissions &&
	    fuse_opt_add_arg(&args, "-odefault_permissions") != 0) {
		fprintf(stderr, "hregionfs: out of memory\n");
		goto out;
	}

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		fprintf(stderr, "hregionfs: out of memory\n");
		goto out;
	}
	hr_config_defaults(&fs->cfg);
	if (cl.config) {
		rc = hr_config_load(&fs->cfg, cl.config, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "hregionfs: %s\n", err[0] ? err : strerror(-rc));
			goto out;
		}
	} else if (access("hregionfs.ini", F_OK) == 0) {
		rc = hr_config_load(&fs->cfg, "hregionfs.ini", err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "hregionfs: %s\n", err[0] ? err : strerror(-rc));
			goto out;
		}
	}
	for (size_t i = 0; i < cl.noverrides; i++) {
		char *kv = cl.overrides[i], *eq = strchr(kv, '=');
		*eq = '\0';
		rc = hr_config_set(&fs->cfg, kv, eq + 1, err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "hregionfs: -o %s=%s: %s\n", kv, eq + 1, err);
			goto out;
		}
		if (strcmp(kv, "data_dir") == 0)
			data_dir_set = 1;
		*eq = '=';
	}
	if (cl.npos == 2 && !data_dir_set) {
		rc = hr_config_set(&fs->cfg, "data_dir", cl.pos[0], err, sizeof(err));
		if (rc < 0) {
			fprintf(stderr, "hregionfs: data directory '%s': %s\n", cl.pos[0], err);
			goto out;
		}
	}
	/* Both become absolute before a daemon changes to "/". */
	if (absolutize(fs->cfg.data_dir, sizeof(fs->cfg.data_dir)) < 0) {
		fprintf(stderr, "hregionfs: data directory '%s': path too long\n", fs->cfg.data_dir);
		goto out;
	}
	if (!realpath(cl.pos[cl.npos - 1], mnt)) {
		fprintf(stderr, "hregionfs: mountpoint '%s': %s\n", cl.pos[cl.npos - 1],
			strerror(errno));
		goto out;
	}
	hr_log_set_level(fs->cfg.log_level);

	fs->uid = getuid();
	fs->gid = getgid();
	fs->start_ms = hrfs_now_ms();
	fs->timeout = fs->cfg.entry_timeout_s;
	pthread_mutex_init(&fs->lock, NULL);
	if (hrfs_itab_init(fs) < 0 || hrfs_mem_init(fs) < 0) {
		fprintf(stderr, "hregionfs: out of memory\n");
		goto out;
	}
	if (fuse_opt_add_arg(&args, "-osubtype=hregionfs") != 0) {
		fprintf(stderr, "hregionfs: out of memory\n");
		goto out;
	}
	{
		char fsname[PATH_MAX + 16];
		/* ',' separates mount options; keep the name readable otherwise. */
		snprintf(fsname, sizeof(fsname), "-ofsname=%s",
			 strchr(fs->cfg.data_dir, ',') ? "hregionfs" : fs->cfg.data_dir);
		if (fuse_opt_add_arg(&args, fsname) != 0)
			goto out;
	}

	if (hrfs_metrics_ops(fs, &hrfs_ops, &ops) < 0) {
		fprintf(stderr, "hregionfs: out of memory\n");
		goto out;
	}
	/* FUSE options are checked here, before anything is opened. */
	fs->se = fuse_session_new(&args, &ops, sizeof(ops), fs);
	if (!fs->se)
		goto out; /* libfuse printed why (e.g. an unknown option) */

	if (!cl.foreground) {
		report_fd = daemon_fork();
		if (report_fd < 0)
			goto out;
	}

	rc = hr_server_open(&fs->cfg, &fs->srv);
	if (rc == -EBUSY) {
		fprintf(stderr,
			"hregionfs: data directory %s is already in use by another hregionfs "
			"(its lock file is held); not mounting\n",
			fs->cfg.data_dir);
		goto out;
	}
	if (rc < 0) {
		fprintf(stderr, "hregionfs: cannot open data directory %s: %s\n", fs->cfg.data_dir,
			hr_strerror(rc));
		goto out;
	}
	/* a restore made through the engine (not the mount) drops what the
	 * kernel caches of the table (events.c) */
	hr_server_set_table_events(fs->srv, hrfs_table_event, fs);

	rc = hrfs_metrics_register(fs);
	if (rc < 0) {
		fprintf(stderr, "hregionfs: cannot register the metrics: %s\n", hr_strerror(rc));
		goto out;
	}
	if (strcmp(fs->cfg.metrics_listen, "off") != 0) {
		rc = hr_metrics_http_start(fs->srv, fs->cfg.metrics_listen, &http, bound,
					   sizeof(bound));
		if (rc < 0) {
			fprintf(stderr, "hregionfs: metrics_listen = %s: cannot listen: %s; not "
					"mounting\n",
				fs->cfg.metrics_listen, hr_strerror(rc));
			goto out;
		}
		hr_log_info("metrics", "serving http://%s/metrics", bound);
	}

	if (fuse_set_signal_handlers(fs->se) != 0) {
		fprintf(stderr, "hregionfs: cannot install signal handlers\n");
		goto out;
	}
	handlers = 1;
	if (fuse_session_mount(fs->se, mnt) != 0) {
		fprintf(stderr, "hregionfs: cannot mount on %s\n", mnt);
		goto out;
	}
	mounted = 1;
	if (hrfs_inval_start(fs) < 0) {
		fprintf(stderr, "hregionfs: cannot start a thread\n");
		goto out;
	}
	hr_log_info("fs", "mounted %s on %s", fs->cfg.data_dir, mnt);
	{
		/* Test-only: HREGIONFS_TEST_CTL_SOCKET_MODE (octal, e.g. 0666) lets
		 * other users reach the socket, so that the peer check is what
		 * refuses them. */
		hrctl_server_opts co = {.owner = fs->uid};
		const char *m = getenv("HREGIONFS_TEST_CTL_SOCKET_MODE");
		if (m && *m) {
			co.mode = (unsigned)strtoul(m, NULL, 8) & 0777;
			hr_log_warn("fs", "test knob: control socket mode %04o", co.mode);
		}
		rc = hrctl_server_start(fs->srv, &fs->cfg, &co, &ctl);
		if (rc < 0)
			hr_log_error("fs", "no control socket for hregionctl in %s: %s (live "
				     "hregionctl commands are refused)",
				     fs->cfg.data_dir, strerror(-rc));
	}
	if (!cl.foreground) {
		hr_log_use_syslog(1);
		detach_stdio();
		report_start(&report_fd, 0);
	}

	lc = fuse_loop_cfg_create();
	if (!lc) {
		hr_log_error("fs", "out of memory");
		goto out;
	}
	fuse_loop_cfg_set_clone_fd(lc, 0);
	fuse_loop_cfg_set_idle_threads(lc, 10);
	fuse_loop_cfg_set_max_threads(lc, 32);
	rc = fuse_session_loop_mt(fs->se, lc);
	/* The loop has joined its workers: no operation is in flight now. */
	if (rc < 0)
		hr_log_error("fs", "FUSE loop ended with %s", strerror(-rc));
	status = rc < 0 ? 1 : 0;
	hr_log_info("fs", "unmounting %s", mnt);

out:
	/* A command in progress finishes first; its events may queue
	 * invalidations, so before that thread stops. */
	hrctl_server_stop(ctl);
	/* Before the session goes: the thread may be sending to it. */
	if (fs)
		hrfs_inval_stop(fs);
	if (lc)
		fuse_loop_cfg_destroy(lc);
	if (fs && fs->se) {
		if (mounted)
			fuse_session_unmount(fs->se);
		if (handlers)
			fuse_remove_signal_handlers(fs->se);
		fuse_session_destroy(fs->se);
	}
	/* before the engine: a scrape in progress renders its registry */
	hr_metrics_http_stop(http);
	if (fs && fs->srv) {
		rc = hr_server_close(fs->srv);
		if (rc < 0) {
			hr_log_error("fs", "closing the engine: %s", hr_strerror(rc));
			status = 1;
		}
	}
	if (fs) {
		pthread_mutex_lock(&fs->lock);
		hrfs_itab_destroy(fs);
		hrfs_mem_destroy(fs);
		pthread_mutex_unlock(&fs->lock);
		pthread_mutex_destroy(&fs->lock);
		hrfs_metrics_free(fs);
		free(fs);
	}
	report_start(&report_fd, (char)(status ? 1 : 0));
	fuse_opt_free_args(&args);
	free_cmdline(&cl);
	return status;
}
