/* fuzz_ini.c — libFuzzer target: the configuration parser (hr_config_load
 * over inih, every key's value syntax, hr_config_validate) on arbitrary
 * text read from a file, as the daemon reads hregionfs.ini.
 *
 * Oracle: a rejected file leaves the configuration untouched and says why
 * ("file:line: ..."); an accepted one formats (hr_config_format) to a text
 * that loads again to the same configuration, and formats the same. */
#include <string.h>

#include "fuzz_common.h"
#include "hr_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static hr_config c, d, e;
	char err[512];
	hr_config_defaults(&c);
	d = c;
	const char *path = memfd_path(data, size);
	err[0] = 0;
	int rc = hr_config_load(&c, path, err, sizeof(err));
	if (rc < 0) {
		if (rc != -EINVAL && rc != -ENOMEM)
			fuzz_fail("load returned %d", rc);
		if (!err[0])
			fuzz_fail("load failed (%d) without saying why", rc);
		if (memcmp(&c, &d, sizeof(c)) != 0)
			fuzz_fail("a rejected file changed the configuration");
		return 0;
	}
	hr_config_validate(&c, err, sizeof(err));
	char *text, *text2;
	size_t len, len2;
	if (hr_config_format(&c, &text, &len) < 0)
		fuzz_fail("format");
	hr_config_defaults(&e);
	path = memfd_path((const uint8_t *)text, len);
	if ((rc = hr_config_load(&e, path, err, sizeof(err))) < 0)
		fuzz_fail("the formatted configuration does not load: %s\n%s", err, text);
	if (hr_config_format(&e, &text2, &len2) < 0)
		fuzz_fail("format");
	if (len != len2 || memcmp(text, text2, len) != 0)
		fuzz_fail("format, load, format differs:\n%s\n----\n%s", text, text2);
	free(text);
	free(text2);
	return 0;
}
