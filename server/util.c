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
