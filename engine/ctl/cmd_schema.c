/* cmd_schema.c — list, describe, create, alter, drop (HBase shell's DDL). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/hrctl.h"

static void out_family(hrctl_out *o, const hr_family_schema *f)
{
	hrctl_out_begin(o, NULL, "family");
	hrctl_out_name(o, "name", f->name);
	hrctl_out_u64(o, "max_versions", f->max_versions);
	hrctl_out_i64(o, "ttl_ms", f->ttl_ms);
	hrctl_out_u64(o, "block_size", f->block_size);
	hrctl_out_str(o, "bloom", f->bloom == HR_BLOOM_ROW ? "row" : "none");
	hrctl_out_str(o, "compression", hr_compression_name(f->compression));
	hrctl_out_bool(o, "keep_deleted_cells", f->keep_deleted_cells);
	hrctl_out_end(o);
}

int hrctl_cmd_list(hrctl *c, int argc, char **argv)
{
	char **names;
	size_t n;
	int rc = hr_table_list(c->srv, &names, &n);
	if (rc < 0)
		return hrctl_fail(c, HRCTL_ERROR, "list: %s", strerror(-rc));
	hrctl_out_list(c->out, "tables");
	for (size_t i = 0; i < n; i++) {
		hr_table_schema s;
		hr_region_info *r;
		size_t nr = 0;
		hrctl_out_begin(c->out, NULL, "table");
		hrctl_out_name(c->out, "name", names[i]);
		if (hr_table_schema_get(c->srv, names[i], &s) == 0)
			hrctl_out_u64(c->out, "families", s.nfamilies);
		if (hr_region_list(c->srv, names[i], &r, &nr) == 0) {
			hrctl_out_u64(c->out, "regions", nr);
			hr_region_list_free(r, nr);
		}
		hrctl_out_end(c->out);
	}
	hrctl_out_list_end(c->out);
	hr_names_free(names, n);
	return HRCTL_OK;
}

int hrctl_cmd_describe(hrctl *c, int argc, char **argv)
{
	hr_table_schema *s = malloc(sizeof(*s));
	if (!s)
		return hrctl_fail(c, HRCTL_ERROR, "out of memory");
	int rc = hr_table_schema_get(c->srv, argv[0], s);
	if (rc < 0) {
		free(s);
		return hrctl_fail(c, hrctl_code(rc), "describe %s: %s", argv[0],
				  rc == -ENOENT ? "no such table" : strerror(-rc));
	}
	hrctl_out_begin(c->out, "table", "table");
	hrctl_out_name(c->out, "name", s->name);
	hrctl_out_list(c->out, "families");
	for (uint32_t i = 0; i < s->nfamilies; i++)
		out_family(c->out, &s->families[i]);
	hrctl_out_list_end(c->out);
	hrctl_out_end(c->out);
	free(s);
	return HRCTL_OK;
}

/* A size: digits with an optional K/M/G suffix (powers of 1024). */
static int parse_u64(const char *v, int suffixes, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*v < '0' || *v > '9')
		return -EINVAL;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno)
		return -EINVAL;
	if (suffixes && *end) {
		int sh = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20
							 : *end == 'G' || *end == 'g' ? 30
							 : -1;
		if (sh < 0 || end[1] || x > (UINT64_MAX >> sh))
			return -EINVAL;
		x <<= sh;
		end++;
	}
	if (*end)
		return -EINVAL;
	*out = x;
	return 0;
}

static int parse_bool(const char *v, uint8_t *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
		*out = 1;
	else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
		*out = 0;
	else
		return -EINVAL;
	return 0;
}

/* KEY=VALUE onto f; *mask gets the HR_ALTER_* bit of the key. arg is what
 * the user typed, for messages. "ttl" and "ttl_ms" are one key (ms). */
static int parse_setting(hrctl *c, int bad, hr_family_schema *f, const char *key, const char *v,
			 const char *arg, unsigned *mask)
{
	uint64_t x = 0;
	int rc = 0;
	if (!strcmp(key, "max_versions")) {
		rc = parse_u64(v, 0, &x);
		if (rc == 0 && (x == 0 || x > UINT32_MAX))
			rc = -EINVAL;
		f->max_versions = (uint32_t)x;
		*mask |= HR_ALTER_MAX_VERSIONS;
	} else if (!strcmp(key, "ttl_ms") || !strcmp(key, "ttl")) {
		rc = parse_u64(v, 0, &x);
		if (rc == 0 && x > INT64_MAX)
			rc = -EINVAL;
		f->ttl_ms = (int64_t)x;
		*mask |= HR_ALTER_TTL;
	} else if (!strcmp(key, "block_size")) {
		rc = parse_u64(v, 1, &x);
		if (rc == 0 && (x < 512 || x > (64u << 20)))
			rc = -EINVAL;
		f->block_size = (uint32_t)x;
		*mask |= HR_ALTER_BLOCK_SIZE;
	} else if (!strcmp(key, "bloom")) {
		if (!strcmp(v, "row"))
			f->bloom = HR_BLOOM_ROW;
		else if (!strcmp(v, "none"))
			f->bloom = HR_BLOOM_NONE;
		else
			return hrctl_fail(c, bad, "'%s': bloom is row or none", arg);
		*mask |= HR_ALTER_BLOOM;
	} else if (!strcmp(key, "keep_deleted_cells")) {
		rc = parse_bool(v, &f->keep_deleted_cells);
		*mask |= HR_ALTER_KEEP_DELETED_CELLS;
	} else if (!strcmp(key, "compression")) {
		int codec = hr_compression_parse(v);
		if (codec < 0)
			return hrctl_fail(c, bad, "'%s': compression is none, lz4 or zstd",
					  arg);
		f->compression = (uint8_t)codec;
		*mask |= HR_ALTER_COMPRESSION;
	} else {
		return hrctl_fail(c, bad,
				  "'%s': unknown key (max_versions, ttl_ms, block_size, bloom, "
				  "keep_deleted_cells, compression)",
				  arg);
	}
	if (rc < 0)
		return hrctl_fail(c, bad, "'%s': bad value", arg);
	return HRCTL_OK;
}

/* FAMILY:KEY=VALUE onto the family of s it names. */
static int apply_setting(hrctl *c, hr_table_schema *s, const char *arg)
{
	const char *colon = strchr(arg, ':'), *eq = colon ? strchr(colon, '=') : NULL;
	if (!colon || !eq)
		return hrctl_fail(c, HRCTL_USAGE, "'%s': expected FAMILY:KEY=VALUE", arg);
	hr_family_schema *f = NULL;
	for (uint32_t i = 0; i < s->nfamilies && !f; i++)
		if (strlen(s->families[i].name) == (size_t)(colon - arg) &&
		    !strncmp(s->families[i].name, arg, (size_t)(colon - arg)))
			f = &s->families[i];
	if (!f)
		return hrctl_fail(c, HRCTL_USAGE, "'%s': not one of the table's families", arg);
	char key[64];
	unsigned mask = 0;
	snprintf(key, sizeof(key), "%.*s", (int)(eq - colon - 1), colon + 1);
	return parse_setting(c, HRCTL_USAGE, f, key, eq + 1, arg, &mask);
}

/* alter TABLE FAMILY KEY=VALUE...: every key in one hr_family_alter (one
 * LMDB transaction); nothing changes if any argument is bad. A bad key or
 * value is a refusal (exit 1), like an unknown table or family. */
int hrctl_cmd_alter(hrctl *c, int argc, char **argv)
{
	const char *table = argv[0], *family = argv[1];
	hr_table_schema *s = malloc(sizeof(*s));
	int code = HRCTL_OK;
	if (!s)
		return hrctl_fail(c, HRCTL_ERROR, "out of memory");
	int rc = hr_table_schema_get(c->srv, table, s);
	if (rc < 0) {
		code = hrctl_fail(c, hrctl_code(rc), "alter %s: %s", table,
				  rc == -ENOENT ? "no such table" : strerror(-rc));
		goto out;
	}
	hr_family_schema *f = NULL;
	for (uint32_t i = 0; i < s->nfamilies && !f; i++)
		if (!strcmp(s->families[i].name, family))
			f = &s->families[i];
	if (!f) {
		code = hrctl_fail(c, HRCTL_PROBLEM, "alter %s: no family '%s'", table, family);
		goto out;
	}
	unsigned mask = 0;
	for (int i = 2; i < argc; i++) {
		const char *eq = strchr(argv[i], '=');
		char key[64];
		if (!eq || eq == argv[i] || (size_t)(eq - argv[i]) >= sizeof(key)) {
			code = hrctl_fail(c, HRCTL_PROBLEM, "'%s': expected KEY=VALUE", argv[i]);
			goto out;
		}
		snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
		if ((code = parse_setting(c, HRCTL_PROBLEM, f, key, eq + 1, argv[i], &mask)) !=
		    HRCTL_OK)
			goto out;
	}
	if ((rc = hr_family_alter(c->srv, table, family, mask, f)) < 0) {
		code = hrctl_fail(c, hrctl_code(rc), "alter %s %s: %s", table, family,
				  rc == -ENOENT ? "no such table or family"
				  : rc == -EINVAL ? "value out of range" : strerror(-rc));
		goto out;
	}
	if ((rc = hr_table_schema_get(c->srv, table, s)) < 0) {
		code = hrctl_fail(c, hrctl_code(rc), "alter %s: %s", table, strerror(-rc));
		goto out;
	}
	hrctl_out_begin(c->out, "altered", "altered");
	hrctl_out_name(c->out, "table", table);
	hrctl_out_list(c->out, "families");
	for (uint32_t i = 0; i < s->nfamilies; i++)
		if (!strcmp(s->families[i].name, family))
			out_family(c->out, &s->families[i]);
	hrctl_out_list_end(c->out);
	hrctl_out_end(c->out);
out:
	free(s);
	return code;
}

int hrctl_cmd_create(hrctl *c, int argc, char **argv)
{
	const char *table = argv[0];
	int code = HRCTL_OK;
	hr_table_schema *s = calloc(1, sizeof(*s));
	char *fams = strdup(argv[1]);
	if (!s || !fams) {
		code = hrctl_fail(c, HRCTL_ERROR, "out of memory");
		goto out;
	}
	if (!hr_table_name_valid(table)) {
		code = hrctl_fail(c, HRCTL_USAGE, "'%s' is not a valid table name", table);
		goto out;
	}
	snprintf(s->name, sizeof(s->name), "%s", table);
	for (char *save = NULL, *f = strtok_r(fams, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		if (!hr_family_name_valid(f) || s->nfamilies == HR_MAX_FAMILIES) {
			code = hrctl_fail(c, HRCTL_USAGE, "'%s' is not a valid family name", f);
			goto out;
		}
		for (uint32_t i = 0; i < s->nfamilies; i++)
			if (!strcmp(s->families[i].name, f)) {
				code = hrctl_fail(c, HRCTL_USAGE, "family '%s' given twice", f);
				goto out;
			}
		/* as a family made by mkdir in the mount */
		hr_family_schema *fs = &s->families[s->nfamilies++];
		hr_family_defaults(fs, f);
		fs->max_versions = c->cfg.default_max_versions;
		fs->keep_deleted_cells = (uint8_t)c->cfg.default_keep_deleted_cells;
		fs->compression = (uint8_t)c->cfg.default_compression;
	}
	if (!s->nfamilies) {
		code = hrctl_fail(c, HRCTL_USAGE, "no family given");
		goto out;
	}
	for (int i = 2; i < argc; i++)
		if ((code = apply_setting(c, s, argv[i])) != HRCTL_OK)
			goto out;
	int rc = hr_table_create(c->srv, s);
	if (rc < 0) {
		code = hrctl_fail(c, hrctl_code(rc), "create %s: %s", table,
				  rc == -EEXIST ? "table exists" : strerror(-rc));
		goto out;
	}
	hrctl_out_begin(c->out, "created", "created");
	hrctl_out_name(c->out, "table", table);
	hrctl_out_list(c->out, "families");
	for (uint32_t i = 0; i < s->nfamilies; i++)
		out_family(c->out, &s->families[i]);
	hrctl_out_list_end(c->out);
	hrctl_out_end(c->out);
out:
	free(fams);
	free(s);
	return code;
}

/* 1 if the table has a visible row, 0 if not, or a negative errno. */
static int has_rows(hr_server *srv, const char *table)
{
	hr_scan *sc;
	hr_scan_entry e;
	hr_scan_opts o = {.mode = HR_SCAN_ROWS};
	int rc = hr_scan_open(srv, table, &o, &sc);
	if (rc < 0)
		return rc;
	rc = hr_scan_next(sc, &e);
	hr_scan_close(sc);
	return rc;
}

int hrctl_cmd_drop(hrctl *c, int argc, char **argv)
{
	const char *table = argv[0];
	int rc = has_rows(c->srv, table);
	if (rc < 0)
		return hrctl_fail(c, hrctl_code(rc), "drop %s: %s", table,
				  rc == -ENOENT ? "no such table" : strerror(-rc));
	if (rc > 0 && !c->force)
		return hrctl_fail(c, HRCTL_PROBLEM,
				  "drop %s: the table has rows; --force drops it with its data",
				  table);
	if ((rc = hr_table_drop(c->srv, table)) < 0)
		return hrctl_fail(c, hrctl_code(rc), "drop %s: %s", table, strerror(-rc));
	hrctl_out_begin(c->out, "dropped", "dropped");
	hrctl_out_name(c->out, "table", table);
	hrctl_out_end(c->out);
	return HRCTL_OK;
}
