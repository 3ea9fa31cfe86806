/*
 * link: see link.h. Every customer link goes through here, so a token has one size, one
 * alphabet, one hash, and is checked before any query: a malformed token costs no round trip
 * and reveals nothing (it gets the same 404 as an unknown one).
 */
#include "link.h"

#include <sodium.h>
#include <string.h>

#include "http.h"

void link_hash(const char *token, char out[LINK_HASH_LEN + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, LINK_HASH_LEN + 1, h, sizeof(h));
    sodium_memzero(h, sizeof(h));
}

void link_mint(struct link *out)
{
    unsigned char raw[LINK_TOKEN_BYTES];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out->token, sizeof(out->token), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    link_hash(out->token, out->hash);
}

bool link_format_ok(const char *token)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = token ? strlen(token) : 0;
    return n == LINK_TOKEN_LEN && strspn(token, alphabet) == n;
}

void link_wipe(struct link *l)
{
    sodium_memzero(l, sizeof(*l));
}

bool link_from_path(struct req *r, const char *name, char out[LINK_HASH_LEN + 1])
{
    const char *t = http_param(r, name);
    if (!link_format_ok(t)) {
        http_reply_error(r, 404, "not_found", name, "this link is unknown or has expired");
        return false;
    }
    link_hash(t, out);
    return true;
}
