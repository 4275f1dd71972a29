/* test_fname.c — the names of the data directory: every builder's output
 * parses back to its type and id, and names the engine does not make do not
 * parse (so recovery never mistakes them for its own). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>

#include "engine/hr_fname.h"
#include "hr_test.h"

/* the last component of a path */
static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

static void t_builders(void)
{
	char b[PATH_MAX];
	CHECK_RC(hr_fname_lock("/d", b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/LOCK") == 0);
	CHECK_RC(hr_fname_meta_dir("/d", b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/meta") == 0);
	CHECK_RC(hr_fname_wal_dir("/d", b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/wal") == 0);
	CHECK_RC(hr_fname_store_dir("/d", b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/store") == 0);
	CHECK_RC(hr_fname_lost_dir("/d", b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/lost") == 0);
	CHECK_RC(hr_fname_wal_segment("/d/wal", 0x1f, 0, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/wal/000000000000001f.wal") == 0);
	CHECK_RC(hr_fname_wal_segment("/d/wal", 0x1f, 1, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/wal/000000000000001f.wal.tmp") == 0);
	CHECK_RC(hr_fname_wal_corrupt_dir("/d/wal", b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/wal/corrupt") == 0);
	CHECK_RC(hr_fname_region_dir("/d/store", 5, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/store/0000000000000005") == 0);
	CHECK_RC(hr_fname_family_dir("/d/store/0000000000000005", "cf", b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/store/0000000000000005/cf") == 0);
	CHECK_RC(hr_fname_store_file("/x/cf", 0xabcdef, 0, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/x/cf/0000000000abcdef.hsf") == 0);
	CHECK_RC(hr_fname_store_file("/x/cf", UINT64_MAX, 1, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/x/cf/ffffffffffffffff.tmp") == 0);
	CHECK_RC(hr_fname_lost("/d", "store/0000000000000005/odd", 0, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/lost/store~0000000000000005~odd") == 0);
	CHECK_RC(hr_fname_lost("/d", "store/x", 3, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/d/lost/store~x.3") == 0);
	/* snapshot exports: the files, and the temporary directory beside the target */
	CHECK_RC(hr_fname_export_manifest("/b/e", b, sizeof(b)), 0);
	CHECK(strcmp(b, "/b/e/MANIFEST") == 0);
	CHECK_RC(hr_fname_export_file("/b/e", 0x12, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/b/e/0000000000000012.hsf") == 0);
	CHECK_RC(hr_fname_export_tmp("/b/e", 42, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/b/.tmp-e.42") == 0);
	CHECK_RC(hr_fname_export_tmp("/b/e//", 42, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/b/.tmp-e.42") == 0);
	CHECK_RC(hr_fname_export_tmp("/e", 7, b, sizeof(b)), 0);
	CHECK(strcmp(b, "/.tmp-e.7") == 0);
	CHECK_RC(hr_fname_export_tmp("e", 7, b, sizeof(b)), 0);
	CHECK(strcmp(b, "./.tmp-e.7") == 0);
	CHECK_RC(hr_fname_export_tmp("/", 7, b, sizeof(b)), -EINVAL);
	char small[12];
	CHECK_RC(hr_fname_store_file("/x/cf", 1, 0, small, sizeof(small)), -ENAMETOOLONG);
	CHECK_RC(hr_fname_lost("/d", "a/b", 0, small, 8), -ENAMETOOLONG);
}

static void t_round_trip(void)
{
	char b[PATH_MAX];
	uint64_t ids[] = {0, 1, 0xa, 0x123456789abcdef0ull, UINT64_MAX};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		uint64_t got = 7;
		CHECK_RC(hr_fname_store_file("/s", ids[i], 0, b, sizeof(b)), 0);
		CHECK_RC(hr_fname_parse(HR_FN_IN_FAMILY, base(b), &got), HR_FN_STORE_FILE);
		CHECK(got == ids[i]);
		CHECK_RC(hr_fname_store_file("/s", ids[i], 1, b, sizeof(b)), 0);
		CHECK_RC(hr_fname_parse(HR_FN_IN_FAMILY, base(b), &got), HR_FN_STORE_TMP);
		CHECK(got == ids[i]);
		CHECK_RC(hr_fname_region_dir("/s", ids[i], b, sizeof(b)), 0);
		CHECK_RC(hr_fname_parse(HR_FN_IN_STORE, base(b), &got), HR_FN_REGION_DIR);
		CHECK(got == ids[i]);
		CHECK_RC(hr_fname_wal_segment("/w", ids[i], 0, b, sizeof(b)), 0);
		CHECK_RC(hr_fname_parse(HR_FN_IN_WAL, base(b), &got), HR_FN_WAL_SEGMENT);
		CHECK(got == ids[i]);
		CHECK_RC(hr_fname_wal_segment("/w", ids[i], 1, b, sizeof(b)), 0);
		CHECK_RC(hr_fname_parse(HR_FN_IN_WAL, base(b), &got), HR_FN_WAL_TMP);
		CHECK(got == ids[i]);
	}
	CHECK_RC(hr_fname_wal_corrupt_dir("/w", b, sizeof(b)), 0);
	CHECK_RC(hr_fname_parse(HR_FN_IN_WAL, base(b), NULL), HR_FN_WAL_CORRUPT_DIR);
	const char *top[] = {"LOCK", "meta", "wal", "store", "lost"};
	hr_fname_type tt[] = {HR_FN_LOCK, HR_FN_META_DIR, HR_FN_WAL_DIR, HR_FN_STORE_DIR,
			      HR_FN_LOST_DIR};
	for (int i = 0; i < 5; i++)
		CHECK_RC(hr_fname_parse(HR_FN_IN_DATA, top[i], NULL), tt[i]);
	CHECK_RC(hr_fname_parse(HR_FN_IN_REGION, "cf", NULL), HR_FN_FAMILY_DIR);
	CHECK_RC(hr_fname_parse(HR_FN_IN_REGION, "a.b-c_9", NULL), HR_FN_FAMILY_DIR);
}

/* Names the engine never makes: not its own. */
static void t_rejects(void)
{
	const char *in_family[] = {
		"00000000000000aa.HSF", "00000000000000AA.hsf", "0000000000000aa.hsf",
		"000000000000000aa.hsf", "0000000000000001.hsf.tmp", "0x000000000000aa.hsf",
		"+000000000000001.hsf", " 000000000000001.hsf", "0000000000000001.hsfx",
		"0000000000000001", ".hsf", "", "0000000000000001.wal", "notes.txt",
	};
	for (size_t i = 0; i < sizeof(in_family) / sizeof(in_family[0]); i++) {
		if (hr_fname_parse(HR_FN_IN_FAMILY, in_family[i], NULL) != HR_FN_UNKNOWN) {
			fprintf(stdout, "# '%s' parsed in a family directory\n", in_family[i]);
			CHECK(0);
		}
	}
	const char *in_store[] = {"000000000000000A", "00000000000000ff.old", "ff", "",
				  "-000000000000001", "garbage"};
	for (size_t i = 0; i < sizeof(in_store) / sizeof(in_store[0]); i++)
		CHECK_RC(hr_fname_parse(HR_FN_IN_STORE, in_store[i], NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_REGION, ".hidden", NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_REGION, "a b", NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_REGION, "", NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_REGION, "a/b", NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_WAL, "0000000000000001.wal.bak", NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_WAL, "000000000000001.wal", NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_DATA, "Lock", NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_DATA, "store2", NULL), HR_FN_UNKNOWN);
	CHECK_RC(hr_fname_parse(HR_FN_IN_DATA, NULL, NULL), HR_FN_UNKNOWN);
}

int main(void)
{
	RUN(t_builders);
	RUN(t_round_trip);
	RUN(t_rejects);
	return hr_test_done();
}
