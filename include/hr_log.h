/*
 * hr_log.h — the one logger. Lines carry a level and a subsystem prefix:
 *   "hregionfs[wal] error: segment 000012.wal offset 4096: torn record"
 * The sink is stderr (default) or syslog, chosen once at start-up.
 * Thread-safe: each line is formatted into a local buffer and written with
 * one call, so lines from concurrent threads never interleave.
 */
#ifndef HR_LOG_H
#define HR_LOG_H

enum { HR_LOG_ERROR = 0, HR_LOG_WARN = 1, HR_LOG_INFO = 2, HR_LOG_DEBUG = 3 };

void hr_log_set_level(int level);
int hr_log_get_level(void);
void hr_log_use_syslog(int on);
/* Parses "error|warn|info|debug"; -1 if unknown. */
int hr_log_level_parse(const char *s);

void hr_log(int level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define hr_log_error(sub, ...) hr_log(HR_LOG_ERROR, sub, __VA_ARGS__)
#define hr_log_warn(sub, ...) hr_log(HR_LOG_WARN, sub, __VA_ARGS__)
#define hr_log_info(sub, ...) hr_log(HR_LOG_INFO, sub, __VA_ARGS__)
#define hr_log_debug(sub, ...)                                         \
	do {                                                           \
		if (hr_log_get_level() >= HR_LOG_DEBUG)                \
			hr_log(HR_LOG_DEBUG, sub, __VA_ARGS__);        \
	} while (0)

#endif
