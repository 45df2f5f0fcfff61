/* wt_uuid: UUIDs in their canonical text form (36 characters, lowercase
 * 8-4-4-4-12 hex), checked, generated and turned into their 16 bytes.
 * Pure but for wt_uuid_generate (the kernel's randomness). */
#ifndef WT_UUID_H
#define WT_UUID_H

#include <stdbool.h>
#include <stdint.h>

#define WT_UUID_STR 37 /* 36 chars + NUL */

/* Canonical lowercase UUID (8-4-4-4-12 hex). */
bool wt_uuid_valid(const char *s);
/* A random (v4) UUID from getrandom() or /dev/urandom; aborts when the
 * system has no randomness to give (an id that is not random collides). */
void wt_uuid_generate(char out[WT_UUID_STR]);
/* Parses a uuid's text form (hex digits of either case) into 16 bytes;
 * false if malformed. */
bool wt_uuid_to_bytes(const char *s, uint8_t out[16]);

#endif
