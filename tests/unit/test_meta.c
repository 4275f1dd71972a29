/* test_meta.c — the metadata contract (hr_meta.h) on the LMDB backend: the
 * shared cases of hr_meta_cases.h, each on a fresh <tmp>/meta. */
#include <limits.h>
#include <stdio.h>

#include "engine/hr_meta.h"
#include "hr_test.h"

static char tmp_root[PATH_MAX];
static int nopened;

static hr_meta *mc_open(hr_io *io)
{
	char dir[PATH_MAX + 32];
	hr_meta *m;
	snprintf(dir, sizeof(dir), "%s/meta%d", tmp_root, nopened++);
	return hr_meta_open(dir, io, &m) == 0 ? m : NULL;
}

#include "hr_meta_cases.h"

int main(void)
{
	hr_test_tmpdir(tmp_root, sizeof(tmp_root), "meta");
	MC_RUN_ALL();
	hr_test_rmrf(tmp_root);
	return hr_test_done();
}
