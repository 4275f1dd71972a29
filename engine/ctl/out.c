/* out.c — hregionctl's one printer: text for people, JSON for scripts
 * (contract in hrctl.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/hrctl.h"

#define MAX_DEPTH 32

struct hrctl_out {
	FILE *f;
	int json;
	/* JSON: per open container, whether it has an element yet */
	int depth;
	int nonempty[MAX_DEPTH];
	char closer[MAX_DEPTH];	/* '}' or ']' */
	/* text: nesting of labelled objects, and whether a line is open */
	int tdepth;
	int line_open;
};

hrctl_out *hrctl_out_new(FILE *f, int json)
{
	hrctl_out *o = calloc(1, sizeof(*o));
	if (!o)
		return NULL;
	o->f = f;
	o->json = json;
	if (json) {
		fputc('{', f);
		o->depth = 1;
	}
	return o;
}

int hrctl_out_json(const hrctl_out *o) { return o->json; }

static void j_sep(hrctl_out *o)
{
	if (o->nonempty[o->depth - 1])
		fputc(',', o->f);
	o->nonempty[o->depth - 1] = 1;
}

static void j_str(FILE *f, const char *s, size_t n, int binary)
{
	fputc('"', f);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f || (binary && ch >= 0x80))
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static void j_key(hrctl_out *o, const char *key)
{
	j_sep(o);
	if (key) {
		j_str(o->f, key, strlen(key), 0);
		fputc(':', o->f);
	}
}

static void t_newline(hrctl_out *o)
{
	if (o->line_open)
		fputc('\n', o->f);
	o->line_open = 0;
}

/* The start of a field: inside an object it continues the line; at the
 * top level it is a line of its own. */
static void t_field(hrctl_out *o, const char *key, int bare)
{
	if (o->tdepth == 0) {
		t_newline(o);
		fprintf(o->f, "%s ", key ? key : "");
		o->line_open = 1;
	} else if (bare || !key) {
		fputc(' ', o->f);
	} else {
		fprintf(o->f, " %s=", key);
	}
}

void hrctl_out_begin(hrctl_out *o, const char *key, const char *label)
{
	if (o->json) {
		j_key(o, key);
		fputc('{', o->f);
		if (o->depth < MAX_DEPTH) {
			o->closer[o->depth] = '}';
			o->nonempty[o->depth++] = 0;
		}
		return;
	}
	t_newline(o);
	fprintf(o->f, "%*s%s", o->tdepth * 2, "", label ? label : (key ? key : ""));
	o->line_open = 1;
	o->tdepth++;
}

void hrctl_out_end(hrctl_out *o)
{
	if (o->json) {
		if (o->depth > 1) {
			o->depth--;
			fputc('}', o->f);
		}
		return;
	}
	if (o->tdepth > 0)
		o->tdepth--;
}

void hrctl_out_list(hrctl_out *o, const char *key)
{
	if (!o->json)
		return;
	j_key(o, key);
	fputc('[', o->f);
	if (o->depth < MAX_DEPTH) {
		o->closer[o->depth] = ']';
		o->nonempty[o->depth++] = 0;
	}
}

void hrctl_out_list_end(hrctl_out *o)
{
	if (o->json && o->depth > 1) {
		o->depth--;
		fputc(']', o->f);
	}
}

/* Text form of a string: bare when it has no space, quote, backslash or
 * control byte, else quoted with \" \\ \xHH. */
static void t_str(FILE *f, const char *s)
{
	int plain = *s != '\0';
	for (const unsigned char *p = (const unsigned char *)s; *p && plain; p++)
		plain = *p > 0x20 && *p != 0x7f && *p != '"' && *p != '\\' && *p != '=';
	if (plain) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02X", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

void hrctl_out_str(hrctl_out *o, const char *key, const char *s)
{
	if (o->json) {
		j_key(o, key);
		j_str(o->f, s, strlen(s), 0);
		return;
	}
	t_field(o, key, 0);
	t_str(o->f, s);
}

void hrctl_out_text(hrctl_out *o, const char *key, const char *text, size_t len)
{
	if (o->json) {
		j_key(o, key);
		j_str(o->f, text, len, 0);
		return;
	}
	t_newline(o);
	fwrite(text, 1, len, o->f);
}

void hrctl_out_name(hrctl_out *o, const char *key, const char *s)
{
	if (o->json) {
		hrctl_out_str(o, key, s);
		return;
	}
	t_field(o, key, 1);
	t_str(o->f, s);
}

void hrctl_out_item(hrctl_out *o, const char *s)
{
	if (o->json) {
		j_key(o, NULL);
		j_str(o->f, s, strlen(s), 0);
		return;
	}
	if (o->line_open)
		fputc(' ', o->f);
	t_str(o->f, s);
	o->line_open = 1;
}

void hrctl_out_bytes(hrctl_out *o, const char *key, const void *p, size_t n)
{
	const unsigned char *b = p;
	if (o->json) {
		j_key(o, key);
		j_str(o->f, (const char *)b, n, 1);
		return;
	}
	t_field(o, key, 0);
	if (n == 0)
		fputs("\"\"", o->f);
	for (size_t i = 0; i < n; i++) {
		if (b[i] > 0x20 && b[i] < 0x7f && b[i] != '\\' && b[i] != '"')
			fputc(b[i], o->f);
		else
			fprintf(o->f, "\\x%02X", b[i]);
	}
}

void hrctl_out_u64(hrctl_out *o, const char *key, uint64_t v)
{
	if (o->json)
		j_key(o, key);
	else
		t_field(o, key, 0);
	fprintf(o->f, "%" PRIu64, v);
}

void hrctl_out_i64(hrctl_out *o, const char *key, int64_t v)
{
	if (o->json)
		j_key(o, key);
	else
		t_field(o, key, 0);
	fprintf(o->f, "%" PRId64, v);
}

void hrctl_out_bool(hrctl_out *o, const char *key, int v)
{
	if (o->json)
		j_key(o, key);
	else
		t_field(o, key, 0);
	fputs(v ? "true" : "false", o->f);
}

void hrctl_out_error(hrctl_out *o, const char *msg, int code)
{
	if (!o->json)
		return; /* text: the message is on stderr */
	while (o->depth > 1) {
		o->depth--;
		fputc(o->closer[o->depth], o->f);
	}
	hrctl_out_str(o, "error", msg);
	hrctl_out_u64(o, "exit", (uint64_t)code);
}

void hrctl_out_free(hrctl_out *o)
{
	if (!o)
		return;
	if (o->json) {
		/* whatever an early return (an error) left open */
		while (o->depth > 1) {
			o->depth--;
			fputc(o->closer[o->depth], o->f);
		}
		fputs("}\n", o->f);
	} else {
		t_newline(o);
	}
	fflush(o->f);
	free(o);
}

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int hrctl_parse_binary(const char *s, uint8_t **out, size_t *len)
{
	size_t n = strlen(s), k = 0;
	uint8_t *b = malloc(n + 1);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] == 'x' && hexval(s[i + 2]) >= 0 &&
		    hexval(s[i + 3]) >= 0) {
			b[k++] = (uint8_t)(hexval(s[i + 2]) << 4 | hexval(s[i + 3]));
			i += 3;
		} else {
			b[k++] = (uint8_t)s[i];
		}
	}
	*out = b;
	*len = k;
	return 0;
}
