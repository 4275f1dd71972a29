/*
 * test_kill_rados.c — the durability contract over storage=rados: a put
 * acknowledged by a server running durability=os survives a kill -9 of
 * that server, as it does on local disk (the WAL record is in the page
 * cache before the put returns). A forked child is a cluster region
 * server: it writes cells and reports each acknowledged one through a
 * pipe; the parent SIGKILLs it right after the K-th acknowledgement, then
 * a new server opens the region with the dead one in recover_from (HBase's
 * WAL split) and must read every acknowledged cell.
 *
 * Needs a Ceph cluster: HR_CEPH_CONF and HR_RADOS_POOL (source
 * /work/devcluster/env, or scripts/cluster_up.sh); a TAP skip without.
 */
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/hr_host.h"
#include "engine/hr_rados.h"
#include "engine/hr_server.h"
#include "hr_etest.h"

#define ROUNDS 4

extern char **environ;

static const char *ceph_conf, *rados_pool;
static char self_path[4096];

static void nspace(const char *dir, char *buf, size_t len)
{
	const char *b = strrchr(dir, '/');
	snprintf(buf, len, "h-kill-%s", b ? b + 1 : dir);
}

static hr_server *open_as(const char *dir, const char *name)
{
	hr_config c;
	hr_server *s = NULL;
	et_config(&c, dir);
	c.durability = HR_DURABILITY_OS;
	c.storage = HR_STORAGE_RADOS;
	snprintf(c.server_name, sizeof(c.server_name), "%s", name);
	snprintf(c.ceph_conf, sizeof(c.ceph_conf), "%s", ceph_conf);
	snprintf(c.rados_pool, sizeof(c.rados_pool), "%s", rados_pool);
	nspace(dir, c.rados_namespace, sizeof(c.rados_namespace));
	int rc = hr_server_open(&c, &s);
	if (rc < 0)
		fprintf(stdout, "# open %s as %s = %d (%s)\n", dir, name, rc, strerror(-rc));
	return s;
}

/* Removes every object of the test's namespace. */
static void cleanup(const char *dir)
{
	char ns[256];
	hr_rados *r;
	nspace(dir, ns, sizeof(ns));
	if (hr_rados_connect(ceph_conf, rados_pool, ns, &r) == 0) {
		rados_ioctx_t c = hr_rados_ioctx(r);
		rados_list_ctx_t ls;
		const char *oid;
		for (int again = 1; again;) {
			again = 0;
			if (rados_nobjects_list_open(c, &ls) < 0)
				break;
			char name[256];
			if (rados_nobjects_list_next(ls, &oid, NULL, NULL) == 0) {
				snprintf(name, sizeof(name), "%s", oid);
				again = 1;
			}
			rados_nobjects_list_close(ls);
			if (again && rados_remove(c, name) < 0)
				break;
		}
		hr_rados_close(r);
	}
	hr_test_rmrf(dir);
}

/* The child server (a new process running this binary with "--child DIR
 * FD": librados does not survive a fork): creates table "t", opens its region, writes
 * the region id to fd, then puts rows c0000, c0001, ..., writing each
 * row's number to fd once the put returned; never stops on its own (the
 * parent kills it). */
static void child(const char *dir, int fd)
{
	uint64_t rid;
	hr_server *s = open_as(dir, "kill,1,1");
	hr_table_schema sc;
	memset(&sc, 0, sizeof(sc));
	snprintf(sc.name, sizeof(sc.name), "t");
	hr_family_defaults(&sc.families[0], "f");
	sc.nfamilies = 1;
	if (!s || hr_host_table_create(s, &sc, &rid) < 0 || hr_host_open_region(s, rid, NULL, 0) < 0)
		_exit(2);
	if (write(fd, &rid, sizeof(rid)) != sizeof(rid))
		_exit(4);
	for (uint32_t i = 0;; i++) {
		char row[16];
		snprintf(row, sizeof(row), "c%04u", i);
		hr_mcell c = {"f", "q", 1, HR_TS_NOW, HR_PUT, row, strlen(row)};
		if (hr_mutate(s, "t", row, strlen(row), &c, 1, 0) < 0)
			_exit(3);
		if (write(fd, &i, sizeof(i)) != sizeof(i))
			_exit(4);
	}
}

/* One round: a child acknowledges `acks` puts and is killed right after
 * the last; a new server recovers the region from the child's WAL and
 * must have every acknowledged row (and may have the one in flight). */
static void round_once(int acks)
{
	char dir[256], name[32];
	hr_test_tmpdir(dir, sizeof(dir), "kill");
	int p[2];
	CHECK_RC(pipe(p), 0);
	char fdarg[16];
	snprintf(fdarg, sizeof(fdarg), "%d", p[1]);
	char *argv[] = {self_path, "--child", dir, fdarg, NULL};
	pid_t pid;
	CHECK_RC(posix_spawn(&pid, self_path, NULL, NULL, argv, environ), 0);
	close(p[1]);
	uint64_t rid = 0;
	CHECK(read(p[0], &rid, sizeof(rid)) == sizeof(rid));
	uint32_t got = 0;
	int n = 0;
	while (n < acks && read(p[0], &got, sizeof(got)) == sizeof(got))
		n++;
	kill(pid, SIGKILL);
	int status = 0;
	waitpid(pid, &status, 0);
	close(p[0]);
	CHECK(n == acks);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	hr_server *b = open_as(dir, "new,1,2");
	CHECK(b);
	if (!b) {
		cleanup(dir);
		return;
	}
	const char *dead[] = {"kill,1,1"};
	CHECK_RC(hr_host_open_region(b, rid, dead, 1), 0);
	int found = 0;
	for (int i = 0; i < acks; i++) {
		char buf[64];
		snprintf(name, sizeof(name), "c%04d", i);
		int rc = et_get(b, "t", name, strlen(name), "f", "q", buf, sizeof(buf), NULL);
		if (rc == 0 && strcmp(buf, name) == 0)
			found++;
		else if (found == i)
			fprintf(stdout, "# acknowledged row %s lost (get = %d)\n", name, rc);
	}
	fprintf(stdout, "# %d of %d acknowledged cells recovered\n", found, acks);
	CHECK(found == acks);
	hr_server_close(b);
	cleanup(dir);
}

static void t_kill_after_ack(void)
{
	static const int acks[ROUNDS] = {1, 3, 17, 200};
	for (int i = 0; i < ROUNDS; i++)
		round_once(acks[i]);
}

int main(int argc, char **argv)
{
	ceph_conf = getenv("HR_CEPH_CONF");
	rados_pool = getenv("HR_RADOS_POOL");
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		child(argv[2], atoi(argv[3]));
	if (!ceph_conf || !*ceph_conf || !rados_pool || !*rados_pool) {
		printf("1..0 # SKIP HR_CEPH_CONF and HR_RADOS_POOL are not set (no Ceph cluster "
		       "to test the kill -9 durability of storage=rados against)\n");
		return 0;
	}
	et_watchdog(240);
	ssize_t n = readlink("/proc/self/exe", self_path, sizeof(self_path) - 1);
	if (n > 0)
		self_path[n] = 0;
	RUN(t_kill_after_ack);
	return hr_test_done();
}
