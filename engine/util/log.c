/* log.c — the logger (contract in hr_log.h). */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include "hr_log.h"

static atomic_int log_level = HR_LOG_INFO;
static atomic_int log_syslog;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void hr_log_set_level(int level) { atomic_store(&log_level, level); }
int hr_log_get_level(void) { return atomic_load(&log_level); }

void hr_log_use_syslog(int on)
{
	if (on)
		openlog("hregionfs", LOG_PID, LOG_DAEMON);
	atomic_store(&log_syslog, on);
}

int hr_log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

void hr_log(int level, const char *subsys, const char *fmt, ...)
{
	if (level > atomic_load(&log_level))
		return;
	char line[2048];
	int n = snprintf(line, sizeof(line), "hregionfs[%s] %s: ", subsys,
			 level_names[level < 0 ? 0 : level > 3 ? 3 : level]);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line) - 1)
		n = (int)sizeof(line) - 2;
	if (atomic_load(&log_syslog)) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		syslog(prio[level < 0 ? 0 : level > 3 ? 3 : level], "%s", line);
		return;
	}
	line[n++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, (size_t)n);
	(void)w;
}
