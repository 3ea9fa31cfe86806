/*
 * util: monotonic time and libsodium-backed tokens. Tokens are stored only as hashes, so a leaked
 * database does not hand out working links or sessions.
 */
#include "util.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t util_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void util_random_token(char *out, size_t outlen, size_t nbytes)
{
    unsigned char buf[64];
    if (nbytes > sizeof(buf))
        nbytes = sizeof(buf);
    randombytes_buf(buf, nbytes);
    sodium_bin2base64(out, outlen, buf, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(buf, sizeof(buf));
}

void util_token_hash(const char *s, char out[65])
{
    unsigned char h[32];
    crypto_generichash(h, sizeof(h), (const unsigned char *)s, strlen(s), NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

int util_streq_ct(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb)
        return 0;
    return sodium_memcmp(a, b, la) == 0;
}

bool util_is_digits(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool util_is_id(const char *s)
{
    return util_is_digits(s, UTIL_ID_MAX_DIGITS);
}

void util_wipe_free(char *s)
{
    if (s) {
        sodium_memzero(s, strlen(s));
        free(s);
    }
}

struct timeval util_backoff(int *ms, int min_ms, int max_ms)
{
    *ms = *ms ? *ms * 2 : min_ms;
    if (*ms > max_ms)
        *ms = max_ms;
    return (struct timeval){.tv_sec = *ms / 1000, .tv_usec = (*ms % 1000) * 1000};
}

bool util_sqlstate_transient(const char *s)
{
    if (!s)
        return false;
    /* Failover answers too: a backend ended by a crash of another (57P02), a commit whose
     * outcome the server cannot tell (40003), a write reaching a node that is now a standby
     * (25006). Nothing was committed by this call: the client may try again. */
    return strcmp(s, "57014") == 0 || strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
           strcmp(s, "40003") == 0 || strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 ||
           strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0 || strcmp(s, "25006") == 0;
}
