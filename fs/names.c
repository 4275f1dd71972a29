/* names.c — key bytes <-> canonical file names (contract in hrfs_names.h). */
#include <errno.h>
#include <string.h>

#include "fs/hrfs_names.h"

static int is_safe(uint8_t b)
{
	if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9'))
		return 1;
	return b != 0 && strchr("._~+=,@:- ", b) != NULL;
}

/* Length of a well-formed UTF-8 sequence at p of a printable non-ASCII
 * character (>= U+00A0), or 0. Overlongs, surrogates and C1 controls are
 * not literal so that each key has exactly one spelling. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t b = p[0];
	if (b >= 0xC2 && b <= 0xDF) {
		if (n < 2 || (p[1] & 0xC0) != 0x80)
			return 0;
		return (b == 0xC2 && p[1] < 0xA0) ? 0 : 2;
	}
	if (b >= 0xE0 && b <= 0xEF) {
		if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
			return 0;
		if (b == 0xE0 && p[1] < 0xA0)
			return 0;
		if (b == 0xED && p[1] >= 0xA0)
			return 0;
		return 3;
	}
	if (b >= 0xF0 && b <= 0xF4) {
		if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 ||
		    (p[3] & 0xC0) != 0x80)
			return 0;
		if (b == 0xF0 && p[1] < 0x90)
			return 0;
		if (b == 0xF4 && p[1] >= 0x90)
			return 0;
		return 4;
	}
	return 0;
}

int hrfs_name_encode(const void *key, size_t len, char *out)
{
	static const char hex[] = "0123456789ABCDEF";
	const uint8_t *k = key;
	size_t o = 0;

	if (len == 0) {
		out[0] = '%';
		out[1] = '\0';
		return 1;
	}
	for (size_t i = 0; i < len;) {
		uint8_t b = k[i];
		size_t u;
		if (is_safe(b) && !(i == 0 && b == '.')) {
			if (o + 1 > HRFS_NAME_MAX)
				return -ENAMETOOLONG;
			out[o++] = (char)b;
			i++;
		} else if (b >= 0x80 && (u = utf8_len(k + i, len - i)) > 0) {
			if (o + u > HRFS_NAME_MAX)
				return -ENAMETOOLONG;
			memcpy(out + o, k + i, u);
			o += u;
			i += u;
		} else {
			if (o + 3 > HRFS_NAME_MAX)
				return -ENAMETOOLONG;
			out[o++] = '%';
			out[o++] = hex[b >> 4];
			out[o++] = hex[b & 15];
			i++;
		}
	}
	out[o] = '\0';
	return (int)o;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int hrfs_name_decode(const char *name, uint8_t *out)
{
	size_t n = strlen(name), o = 0;
	char again[HRFS_NAME_MAX + 1];

	if (n > HRFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0)
		return -EINVAL;
	if (n == 1 && name[0] == '%')
		return 0;
	for (size_t i = 0; i < n;) {
		if (name[i] == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -EINVAL;
			hi = hexval(name[i + 1]);
			lo = hexval(name[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			out[o++] = (uint8_t)(hi << 4 | lo);
			i += 3;
		} else {
			out[o++] = (uint8_t)name[i++];
		}
	}
	/* Only the canonical spelling resolves: one name per key. */
	if (hrfs_name_encode(out, o, again) < 0 || strcmp(again, name) != 0)
		return -EINVAL;
	return (int)o;
}

int hrfs_name_is_scratch(const char *name)
{
	return name[0] == '.';
}
