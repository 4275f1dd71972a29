/*
 * hrfs_names.h — the bijection between key bytes (rows, qualifiers) and
 * file names.
 *
 * Canonical spelling: bytes in the safe set [A-Za-z0-9._~+=,@:-] and space
 * stay literal, and so does a well-formed UTF-8 sequence of a printable
 * non-ASCII character (code point >= U+00A0). Everything else, '%' itself,
 * and a leading '.' is written %XX (uppercase hex). The empty key (an empty
 * qualifier) is spelled "%", which no other key can produce. A name
 * resolves only if it is canonical: decode(name) re-encoded equals name.
 * Names are at most HRFS_NAME_MAX bytes after encoding (the kernel's limit),
 * so a decoded key is at most HRFS_NAME_MAX bytes too.
 * Pure functions, thread-safe.
 */
#ifndef HRFS_NAMES_H
#define HRFS_NAMES_H

#include <stddef.h>
#include <stdint.h>

#define HRFS_NAME_MAX 255

/* Writes the canonical name of key[0..len) as a NUL-terminated string into
 * out (HRFS_NAME_MAX + 1 bytes). Returns its length or -ENAMETOOLONG. */
int hrfs_name_encode(const void *key, size_t len, char *out);

/* Decodes a canonical name into out (HRFS_NAME_MAX bytes). Returns the key
 * length, -ENAMETOOLONG if the name is longer than HRFS_NAME_MAX, or
 * -EINVAL if it is malformed or not canonical. */
int hrfs_name_decode(const char *name, uint8_t *out);

/* 1 if the name is a literal leading-dot name (a scratch file inside a
 * table tree); the canonical encoding never starts with a literal '.'. */
int hrfs_name_is_scratch(const char *name);

#endif
