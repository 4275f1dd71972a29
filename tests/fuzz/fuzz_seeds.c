/* fuzz_seeds.c — writes the starting corpus of every fuzz target, made by
 * the engine's own writers (so the fuzzers start from well-formed input and
 * mutate it): fuzz_seeds OUT_DIR INI_FILE creates OUT_DIR/<target>/. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/hr_format.h"
#include "engine/hr_server.h"
#include "engine/hr_sfile.h"
#include "engine/hr_wal.h"
#include "hr_config.h"
#include "hr_log.h"

static char g_out[4096];

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_seeds: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	exit(1);
}

static void put_seed(const char *target, const char *name, const void *a, size_t alen,
		     const void *b, size_t blen)
{
	char p[8192];
	snprintf(p, sizeof(p), "%s/%s", g_out, target);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/%s/%s", g_out, target, name);
	FILE *f = fopen(p, "wb");
	if (!f || fwrite(a, 1, alen, f) != alen || (blen && fwrite(b, 1, blen, f) != blen) ||
	    fclose(f) != 0)
		die(p, errno);
}

static void *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die(path, errno);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *b = malloc((size_t)n + 1);
	if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
		die(path, EIO);
	fclose(f);
	*len = (size_t)n;
	return b;
}

/* An edit of n cells of row "row<i>". */
static void make_edit(int i, int n, uint8_t **out, size_t *len)
{
	char row[32], q[8][16], v[8][64];
	hr_mcell c[8];
	snprintf(row, sizeof(row), "row%d", i);
	for (int k = 0; k < n && k < 8; k++) {
		snprintf(q[k], sizeof(q[k]), "q%d", k);
		snprintf(v[k], sizeof(v[k]), "value %d of %d", k, i);
		c[k] = (hr_mcell){k % 2 ? "b" : "a", q[k], strlen(q[k]), 1700000000000 + i,
				  k == 3 ? HR_DELETE_COLUMN : HR_PUT, v[k], strlen(v[k]),
				  k == 2 ? "\x01\x00\x03" "abc" : NULL, k == 2 ? 6 : 0};
	}
	int rc = hr_wal_edit_encode(7, (const uint8_t *)row, strlen(row), c, (size_t)n, out, len);
	if (rc < 0)
		die("edit", rc);
}

static void wal_seeds(void)
{
	char dir[] = "/tmp/fuzzseed-wal-XXXXXX", path[4200];
	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	/* segment 1: records; 2: records after a roll; 3 starts with a control
	 * record (segment 1 adopted with a valid end, as after a torn tail) */
	hr_wal *w;
	hr_wal_opts o = {.dir = dir, .segment_size = 1 << 20};
	int rc = hr_wal_open(&o, &w);
	if (rc < 0)
		die("wal open", rc);
	for (int i = 1; i <= 12; i++) {
		uint8_t *e;
		size_t el;
		make_edit(i, 1 + i % 5, &e, &el);
		if ((rc = hr_wal_append(w, e, el, (uint64_t)i, 0, NULL)) < 0)
			die("append", rc);
		free(e);
		if (i == 6 && (rc = hr_wal_roll(w)) < 0)
			die("roll", rc);
	}
	hr_wal_close(w);
	hr_wal_seg adopt = {.id = 1, .max_seq = 6, .valid_end = HR_WAL_HDR_LEN + 40};
	o.first_segment_id = 3;
	o.adopt = &adopt;
	o.nadopt = 1;
	if ((rc = hr_wal_open(&o, &w)) < 0)
		die("wal open", rc);
	uint8_t *e;
	size_t el;
	make_edit(13, 2, &e, &el);
	hr_wal_append(w, e, el, 13, 1, NULL);
	free(e);
	hr_wal_close(w);
	uint8_t *all = NULL;
	size_t alen = 0;
	for (uint64_t id = 1; id <= 3; id++) {
		size_t n;
		hr_wal_segment_path(dir, id, path, sizeof(path));
		uint8_t *b = slurp(path, &n);
		all = realloc(all, alen + n);
		memcpy(all + alen, b, n);
		alen += n;
		char name[32];
		snprintf(name, sizeof(name), "seg%llu", (unsigned long long)id);
		put_seed("wal", name, "\0", 1, b, n);
		free(b);
		unlink(path);
	}
	put_seed("wal", "all", "\0", 1, all, alen);
	put_seed("wal", "all-fixcrc", "\1", 1, all, alen);
	free(all);
	rmdir(dir);
	for (int i = 0; i < 6; i++) {
		char name[32];
		make_edit(i, i + 1, &e, &el);
		snprintf(name, sizeof(name), "edit%d", i);
		put_seed("edit", name, "\0", 1, e, el);
		free(e);
	}
}

static void sfile_seeds(void)
{
	char path[] = "/tmp/fuzzseed-sfile-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp", errno);
	close(fd);
	/* codec: compressed data blocks (version 3), so the fuzzer mutates
	 * lz4 and zstd bodies and block headers too */
	struct {
		uint32_t block;
		int bloom, rows, codec;
	} kinds[] = {{256, 1, 40, 0}, {4096, 0, 40, 0}, {64, 1, 5, 0},  {1024, 1, 0, 0},
		     {512, 1, 40, 1}, {512, 1, 40, 2}, {4096, 0, 60, 2}};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		hr_sfile_writer *w;
		int rc = hr_sfile_write_open(hr_io_posix(), path, kinds[k].block, kinds[k].bloom, 16,
					     &w);
		if (rc < 0)
			die("sfile write", rc);
		if ((rc = hr_sfile_write_compression(w, kinds[k].codec, 3)) < 0)
			die("sfile compression", rc);
		for (int i = 0; i < kinds[k].rows; i++) {
			char row[16], val[64];
			snprintf(row, sizeof(row), "row%03d", i);
			snprintf(val, sizeof(val), "v%d", i * 31);
			for (int q = 0; q < 2; q++) {
				hr_kv kv = {.row = (const uint8_t *)row, .row_len = (uint32_t)strlen(row),
					    .qual = (const uint8_t *)(q ? "y" : "x"), .qual_len = 1,
					    .ts = 1000 + i, .seq = (uint64_t)i + 1,
					    .type = i % 9 == 4 && q ? HR_DELETE_COLUMN : HR_PUT,
					    .value = (const uint8_t *)val,
					    .value_len = (uint32_t)strlen(val)};
				if (kv.type != HR_PUT)
					kv.value_len = 0;
				if ((rc = hr_sfile_write_add(w, &kv)) < 0)
					die("sfile add", rc);
			}
		}
		if ((rc = hr_sfile_write_finish(w, 99)) < 0)
			die("sfile finish", rc);
		size_t n;
		uint8_t *b = slurp(path, &n);
		char name[32];
		snprintf(name, sizeof(name), "file%zu", k);
		put_seed("sfile", name, "\0", 1, b, n);
		snprintf(name, sizeof(name), "file%zu-fixcrc", k);
		put_seed("sfile", name, "\1", 1, b, n);
		free(b);
	}
	unlink(path);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: fuzz_seeds OUT_DIR INI_FILE\n");
		return 2;
	}
	hr_log_set_level(HR_LOG_ERROR);
	snprintf(g_out, sizeof(g_out), "%s", argv[1]);
	mkdir(g_out, 0755);
	wal_seeds();
	sfile_seeds();
	static const char *const names[] = {"user/42", "50%", ".profile", "a\nb", "caf\xc3\xa9",
					    "", "%2Fx", "%", "\xff\xfe", "x%41"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "name%zu", i);
		put_seed("names", name, names[i], strlen(names[i]), NULL, 0);
	}
	size_t n;
	char *ini = slurp(argv[2], &n);
	put_seed("ini", "hregionfs.ini", ini, n, NULL, 0);
	free(ini);
	static const char small[] = "[wal]\ndurability = fsync\nsegment_size = 1M\n"
				    "[memstore]\nflush_interval = 5m\n[fs]\ndefault_families = a,b\n";
	put_seed("ini", "small", small, sizeof(small) - 1, NULL, 0);
	return 0;
}
