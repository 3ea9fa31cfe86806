/*
 * util: small helpers shared by every module: monotonic time, random tokens and their hashes.
 */
#ifndef CARNET_UTIL_H
#define CARNET_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/time.h>

int64_t util_now_us(void);
/* Fills `out` (at least 2*nbytes+1) with a random token, `nbytes` random bytes as url-safe text. */
void util_random_token(char *out, size_t outlen, size_t nbytes);
/* Hex of the BLAKE2b-256 hash of `s`, for storing tokens: `out` needs 65 bytes. */
void util_token_hash(const char *s, char out[65]);
/* Digits that a database id may have in a path or query: a bigint has at most 19, and 18 keeps
 * every accepted value inside its range. */
#define UTIL_ID_MAX_DIGITS 18
/* The largest such id, for bounds on ids given as query values. */
#define UTIL_ID_MAX 999999999999999999LL
/* True when `s` is 1 to `max` ASCII digits. */
bool util_is_digits(const char *s, size_t max);
/* True when `s` can be a database id (1 to UTIL_ID_MAX_DIGITS digits). */
bool util_is_id(const char *s);
/* Constant-time string comparison. */
int util_streq_ct(const char *a, const char *b);
/* Frees text that may hold a secret (password, key, live link), after erasing it; NULL is fine. */
void util_wipe_free(char *s);
/* The wait before the next reconnect after a failure: `min_ms` first, then doubled up to `max_ms`.
 * Updates *ms (the caller sets it to 0 once connected) and returns the wait for evtimer_add. */
struct timeval util_backoff(int *ms, int min_ms, int max_ms);
/* True for a SQLSTATE after which nothing was committed and the same call may simply be tried
 * again: timeout, serialization, deadlock, lost connection, shutdown, failover. */
bool util_sqlstate_transient(const char *s);

#endif
