/* fuzz_names.c — libFuzzer target: the bijection between keys and file
 * names (fs/names.c, hrfs_names.h).
 *
 * Oracle, on the input taken both as a key and as a name:
 * - a key that encodes decodes back to itself, and its name is canonical
 *   (decode succeeds), at most HRFS_NAME_MAX bytes, with no '/' or NUL,
 *   and never a literal leading '.' (a scratch name);
 * - a name that decodes encodes back to exactly itself (one name per key). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/hrfs_names.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[HRFS_NAME_MAX + 1], again[HRFS_NAME_MAX + 1];
	uint8_t key[HRFS_NAME_MAX];
	/* as a key */
	int n = hrfs_name_encode(data, size, name);
	if (n >= 0) {
		if ((size_t)n != strlen(name) || n > HRFS_NAME_MAX || n == 0)
			fuzz_fail("encode returned %d for a name of %zu bytes", n, strlen(name));
		if (strchr(name, '/') || hrfs_name_is_scratch(name))
			fuzz_fail("the name of a key is '%s'", name);
		int k = hrfs_name_decode(name, key);
		if (k < 0 || (size_t)k != size || (size && memcmp(key, data, size) != 0))
			fuzz_fail("key of %zu bytes -> '%s' -> %d", size, name, k);
	} else if (n != -ENAMETOOLONG) {
		fuzz_fail("encode returned %d", n);
	}
	/* as a name (up to its first NUL) */
	char in[512];
	size_t l = size < sizeof(in) - 1 ? size : sizeof(in) - 1;
	memcpy(in, data, l);
	in[l] = 0;
	int k = hrfs_name_decode(in, key);
	if (k >= 0) {
		if (k > HRFS_NAME_MAX)
			fuzz_fail("decoded %d bytes", k);
		n = hrfs_name_encode(key, (size_t)k, again);
		if (n < 0 || strcmp(again, in) != 0)
			fuzz_fail("'%s' decodes, but encodes back to '%s'", in, n < 0 ? "(error)" : again);
	} else if (k != -EINVAL && k != -ENAMETOOLONG) {
		fuzz_fail("decode returned %d", k);
	}
	return 0;
}
