/*
 * test_ctl.c — hregionctl verify's region checks, on damage only LMDB can
 * hold (the bats tests cannot make it through the mount): a table whose
 * regions overlap, leave a gap, or a region of a table LMDB lacks. The
 * damage is written with hr_meta into a closed data directory and the
 * built hregionctl (beside this binary's directory) is run on it.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/hr_io.h"
#include "engine/hr_meta.h"
#include "hr_etest.h"
#include "hr_test.h"

static char dir[PATH_MAX], ctl[PATH_MAX], out[1 << 16];

/* Runs hregionctl --json verify; its stdout in out, its exit status back. */
static int verify(void)
{
	char cmd[3 * PATH_MAX];
	snprintf(cmd, sizeof(cmd), "cd '%s' && '%s' -o 'data_dir=%s/data' --json verify 2>/dev/null",
		 dir, ctl, dir);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int put_region(uint64_t id, const char *table, const char *start, const char *end)
{
	char meta[PATH_MAX + 16];
	hr_meta *m;
	hr_meta_txn *t;
	snprintf(meta, sizeof(meta), "%s/data/meta", dir);
	int rc = hr_meta_open(meta, hr_io_posix(), &m);
	if (rc < 0)
		return rc;
	hr_meta_region r = {.id = id,
			    .start = (const uint8_t *)start,
			    .start_len = strlen(start),
			    .end = (const uint8_t *)end,
			    .end_len = strlen(end),
			    .state = HR_REGION_OPEN};
	snprintf(r.table, sizeof(r.table), "%s", table);
	if ((rc = hr_meta_begin(m, 1, &t)) == 0) {
		rc = hr_meta_region_put(t, &r);
		rc = rc == 0 ? hr_meta_commit(t) : (hr_meta_abort(t), rc);
	}
	hr_meta_close(m);
	return rc;
}

static int del_region(uint64_t id)
{
	char meta[PATH_MAX + 16];
	hr_meta *m;
	hr_meta_txn *t;
	snprintf(meta, sizeof(meta), "%s/data/meta", dir);
	int rc = hr_meta_open(meta, hr_io_posix(), &m);
	if (rc < 0)
		return rc;
	if ((rc = hr_meta_begin(m, 1, &t)) == 0) {
		rc = hr_meta_region_del(t, id);
		rc = rc == 0 ? hr_meta_commit(t) : (hr_meta_abort(t), rc);
	}
	hr_meta_close(m);
	return rc;
}

static void t_region_damage(void)
{
	char data[PATH_MAX + 8];
	snprintf(data, sizeof(data), "%s/data", dir);
	hr_server *s = et_open(data);
	CHECK(s);
	CHECK_RC(et_table(s, "t", "cf", NULL), 0);
	CHECK_RC(hr_put(s, "t", "a", 1, "cf", "q", 1, "v", 1, 0), 0);
	CHECK_RC(hr_split(s, "t", "m", 1), 0);
	CHECK_RC(hr_flush(s, NULL), 0);
	hr_region_info *ri;
	size_t n;
	CHECK_RC(hr_region_list(s, "t", &ri, &n), 0);
	CHECK_RC(n, 2);
	uint64_t low = ri[0].id, high = ri[1].id;
	hr_region_list_free(ri, n);
	CHECK_RC(hr_server_close(s), 0);

	CHECK_RC(verify(), 0);
	CHECK(strstr(out, "\"clean\":true"));

	/* the upper daughter starts at "g": "g".."m" is covered twice */
	CHECK_RC(put_region(high, "t", "g", ""), 0);
	CHECK_RC(verify(), 1);
	CHECK(strstr(out, "\"kind\":\"overlap\""));
	/* ... and at "p": "m".."p" is covered by none */
	CHECK_RC(put_region(high, "t", "p", ""), 0);
	CHECK_RC(verify(), 1);
	CHECK(strstr(out, "\"kind\":\"gap\""));
	CHECK(!strstr(out, "\"kind\":\"overlap\""));
	/* the last region ends before the table end */
	CHECK_RC(put_region(high, "t", "m", "x"), 0);
	CHECK_RC(verify(), 1);
	CHECK(strstr(out, "last region does not end at the table end"));
	CHECK_RC(put_region(high, "t", "m", ""), 0);
	CHECK_RC(verify(), 0);

	/* a region of a table LMDB does not have */
	CHECK_RC(put_region(low + 1000, "ghost", "", ""), 0);
	CHECK_RC(verify(), 1);
	CHECK(strstr(out, "\"kind\":\"orphan_region\""));
	CHECK_RC(del_region(low + 1000), 0);
	CHECK_RC(verify(), 0);
}

int main(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	*strrchr(self, '/') = '\0'; /* <build>/tests */
	snprintf(ctl, sizeof(ctl), "%s/../hregionctl", self);
	snprintf(dir, sizeof(dir), "%s/hr_ctl.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	hr_log_set_level(HR_LOG_ERROR);
	RUN(t_region_damage);
	char rm[PATH_MAX + 16];
	snprintf(rm, sizeof(rm), "rm -rf '%s'", dir);
	if (system(rm) != 0)
		fprintf(stdout, "# could not remove %s\n", dir);
	return hr_test_done();
}
