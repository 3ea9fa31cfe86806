/*
 * util: small helpers shared by every module: monotonic time, random tokens and their hashes.
 */
#ifndef CARNET_UTIL_H
#define CARNET_UTIL_H

#include <stddef.h>
#include <stdint.h>

int64_t util_now_us(void);
/* Fills `out` (at least 2*nbytes+1) with a random token, `nbytes` random bytes as url-safe text. */
void util_random_token(char *out, size_t outlen, size_t nbytes);
/* Hex of the BLAKE2b-256 hash of `s`, for storing tokens: `out` needs 65 bytes. */
void util_token_hash(const char *s, char out[65]);
/* Constant-time string comparison. */
int util_streq_ct(const char *a, const char *b);

#endif
