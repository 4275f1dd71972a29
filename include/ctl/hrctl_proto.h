/*
 * hrctl_proto.h — the control socket's wire format (hregionctl <-> the
 * hregionfs daemon serving a data directory) and the I/O both sides do on
 * it (engine/ctl/proto.c).
 *
 * The socket: a Unix stream socket <data_dir>/ctl.sock (hr_fname_ctl_sock),
 * made by the daemon after it took the data directory's lock, mode 0600,
 * removed at unmount. One connection carries one request and its response,
 * then both sides close.
 *
 * Frame (all integers little-endian; CRC32C is hr_crc32c(0, ...)):
 *   u32 len        bytes that follow, this field excluded (6..max)
 *   u8  version    HRCTL_PROTO_VERSION (1)
 *   u8  type       HRCTL_MSG_REQUEST (1) or HRCTL_MSG_RESPONSE (2)
 *   payload        len - 6 bytes
 *   u32 crc        CRC32C of len, version, type and payload
 * A reader checks len against its bound before it reads the rest
 * (HRCTL_MAX_REQUEST: 64 KiB; HRCTL_MAX_RESPONSE: 64 MiB), then version,
 * type and CRC.
 *
 * Request payload:
 *   u8  flags      bit 0: --json
 *   u32 argc       1..HRCTL_MAX_ARGS
 *   argc x ( u32 n | n bytes, no NUL )
 *                  the command's words as typed (name, arguments, its
 *                  flags such as --force), without the program's options
 *                  (-c, -o, --json, -s): the daemon uses its own
 *                  configuration
 * Response payload:
 *   u8  exit       the command's exit code (hrctl.h)
 *   u32 n | n bytes  what the command printed (its stdout)
 *   u32 n | n bytes  its error messages (its stderr)
 *
 * A request the daemon cannot read (bad length, CRC, version, layout) is
 * answered with exit 2 and a message when the connection still works, and
 * closed; the daemon goes on serving. Both sides bound every read and
 * write with a deadline (hrctl_io_*), so no peer can hold the other.
 */
#ifndef HRCTL_PROTO_H
#define HRCTL_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#define HRCTL_PROTO_VERSION 1
enum { HRCTL_MSG_REQUEST = 1, HRCTL_MSG_RESPONSE = 2 };

#define HRCTL_FRAME_OVERHEAD 10u /* len + version + type + crc */
#define HRCTL_MAX_REQUEST (64u << 10)
#define HRCTL_MAX_RESPONSE (64u << 20)
#define HRCTL_MAX_ARGS 256u

/* A whole frame of type around payload, malloc'd into *out. */
int hrctl_frame_encode(uint8_t type, const void *payload, size_t n, uint8_t **out,
		       size_t *outlen);
/* The frame length its first 4 bytes announce (the 4 included), or
 * -EMSGSIZE beyond max / -EBADMSG below the minimum. */
long long hrctl_frame_length(const uint8_t hdr[4], size_t max);
/* Checks one whole frame (n bytes: exactly its length): -EPROTO if n is
 * not what its length says (truncated or trailing bytes), -EBADMSG for a
 * bad CRC, -EPROTONOSUPPORT for another version. *payload points into buf. */
int hrctl_frame_decode(const uint8_t *buf, size_t n, uint8_t *type, const uint8_t **payload,
		       size_t *plen);

/* Request and response payloads. Decoders return -EBADMSG on any
 * inconsistency and never read past n; their outputs are malloc'd
 * (hrctl_req_free) or point into the payload. */
int hrctl_req_encode(int json, int argc, char *const *argv, uint8_t **out, size_t *n);
int hrctl_req_decode(const uint8_t *p, size_t n, int *json, int *argc, char ***argv);
void hrctl_req_free(int argc, char **argv);
int hrctl_resp_encode(int code, const void *out, size_t outn, const void *err, size_t errn,
		      uint8_t **buf, size_t *n);
int hrctl_resp_decode(const uint8_t *p, size_t n, int *code, const uint8_t **out,
		      size_t *outn, const uint8_t **err, size_t *errn);

/* The socket address of path; a path too long for sun_path is reached
 * through /proc/self/fd/<dirfd>/<name>, with *dirfd (else -1) to close
 * after the bind or connect. */
int hrctl_sock_addr(const char *path, struct sockaddr_un *a, int *dirfd);

/* Reads one whole frame of at most max bytes from fd before deadline_ms
 * (hrctl_io_now_ms's clock), or gives up early when stopfd (>= 0) becomes
 * readable (-ECANCELED). -ETIMEDOUT, -ECONNRESET (the peer closed, also
 * mid-frame), -EMSGSIZE, -EBADMSG, or the read's errno. *buf is malloc'd. */
int hrctl_io_read_frame(int fd, int stopfd, int64_t deadline_ms, size_t max, uint8_t **buf,
			size_t *n);
/* Writes all of buf before deadline_ms (MSG_NOSIGNAL: a vanished peer is
 * -EPIPE, not a signal). */
int hrctl_io_write_all(int fd, int stopfd, int64_t deadline_ms, const void *buf, size_t n);
int64_t hrctl_io_now_ms(void);

#endif
