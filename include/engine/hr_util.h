/*
 * hr_util.h — small shared helpers of the engine: CRC32C, little-endian
 * fixed-width coding, clocks. Stateless and thread-safe. (File I/O goes
 * through the I/O seam, hr_io.h.)
 */
#ifndef HR_UTIL_H
#define HR_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

/* CRC32C (Castagnoli), hardware-accelerated where the CPU has SSE4.2.
 * Chain with crc = hr_crc32c(crc, ...), starting from 0. */
uint32_t hr_crc32c(uint32_t crc, const void *data, size_t len);

static inline void hr_put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void hr_put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void hr_put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t hr_get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t hr_get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t hr_get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
/* (the formats are little-endian; this engine builds on little-endian hosts) */

int64_t hr_now_ms(void);	/* wall clock, milliseconds (or the test clock) */
/* Test seam: while set, hr_now_ms returns fn() instead of the wall clock
 * (a test steps the clock back without sleeping); NULL restores it.
 * Process-wide; never used outside tests. */
typedef int64_t (*hr_clock_fn)(void);
void hr_test_set_clock(hr_clock_fn fn);
uint64_t hr_mono_ns(void);	/* monotonic clock, nanoseconds */
/* *out = now on clock clk + ns: the absolute deadline a
 * pthread_cond_timedwait on a condition of that clock takes. */
void hr_deadline(clockid_t clk, uint64_t ns, struct timespec *out);

#endif
