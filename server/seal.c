/*
 * seal: see seal.h. XChaCha20-Poly1305 (libsodium's secretbox with a random 24-byte nonce: no
 * nonce bookkeeping across processes, and a forged or altered marker fails to open). The key
 * lives in sodium_malloc'd memory (guard pages, not swapped, wiped on free).
 */
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARK_OPEN "{{sealed:"
#define MARK_CLOSE "}}"
/* The longest plain text a marker carries: links are short; a bound keeps a junk marker from
 * asking for a large allocation. */
#define SEAL_PLAIN_MAX 1024
#define SEAL_BOX_MAX (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + SEAL_PLAIN_MAX)
#define SEAL_B64_MAX ((SEAL_BOX_MAX + 2) / 3 * 4)

static unsigned char *key;
static char kid[SEAL_KID_HEX + 1];

static void set_key(const unsigned char k[SEAL_KEY_BYTES])
{
    unsigned char id[SEAL_KID_HEX / 2];

    if (!key)
        key = sodium_malloc(SEAL_KEY_BYTES);
    if (!key)
        abort(); /* start-up only: nothing sensible to serve without the key */
    sodium_mprotect_readwrite(key);
    memcpy(key, k, SEAL_KEY_BYTES);
    sodium_mprotect_readonly(key);
    /* The id is a keyed hash of a fixed label: it names the key without revealing it. */
    crypto_generichash(id, sizeof(id), (const unsigned char *)"carnet-data-key-id", 18, k,
                       SEAL_KEY_BYTES);
    sodium_bin2hex(kid, sizeof(kid), id, sizeof(id));
}

void seal_init_key(const unsigned char k[SEAL_KEY_BYTES])
{
    set_key(k);
}

int seal_init(const char *path, char *err, size_t errlen)
{
    unsigned char buf[2 * SEAL_KEY_BYTES + 8], k[SEAL_KEY_BYTES];
    struct stat st;
    ssize_t n;
    size_t len, klen = 0;
    int fd, rc = -1;

    if (!path || !*path) {
        snprintf(err, errlen, "no data key: give --data-key-file (32 random bytes, mode 0600)");
        return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "data key file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "data key file %s is not a regular file", path);
        goto out;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf(err, errlen, "data key file %s is readable by others (mode %03o): chmod 600 it",
                 path, (unsigned)(st.st_mode & 0777));
        goto out;
    }
    n = read(fd, buf, sizeof(buf));
    if (n < 0) {
        snprintf(err, errlen, "data key file %s: %s", path, strerror(errno));
        goto out;
    }
    len = (size_t)n;
    if (len == SEAL_KEY_BYTES) {
        memcpy(k, buf, SEAL_KEY_BYTES);
        klen = SEAL_KEY_BYTES;
    } else {
        while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
            len--;
        if (len != 2 * SEAL_KEY_BYTES ||
            sodium_hex2bin(k, sizeof(k), (const char *)buf, len, NULL, &klen, NULL) != 0)
            klen = 0;
    }
    if (klen != SEAL_KEY_BYTES) {
        snprintf(err, errlen,
                 "data key file %s must hold 32 bytes, raw or as 64 hex digits", path);
        goto out;
    }
    set_key(k);
    rc = 0;
out:
    sodium_memzero(buf, sizeof(buf));
    sodium_memzero(k, sizeof(k));
    close(fd);
    return rc;
}

bool seal_ready(void)
{
    return key != NULL;
}

const char *seal_key_id(void)
{
    return kid;
}

char *seal_marker(const char *plain)
{
    size_t plen = strlen(plain);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plen;
    size_t b64 = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t outlen = strlen(MARK_OPEN) + SEAL_KID_HEX + 1 + b64 + strlen(MARK_CLOSE);
    unsigned char *box;
    char *out;

    if (!key || plen > SEAL_PLAIN_MAX)
        return NULL;
    box = malloc(blen);
    out = malloc(outlen);
    if (!box || !out) {
        free(box);
        free(out);
        return NULL;
    }
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)plain, plen,
                          box, key);
    int n = snprintf(out, outlen, "%s%s:", MARK_OPEN, kid);
    sodium_bin2base64(out + n, outlen - (size_t)n, box, blen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    strcat(out, MARK_CLOSE);
    free(box);
    return out;
}

/* Opens one marker's payload `p` (n characters of url-safe base64) onto the end of `out`. */
static int open_one(const char *p, size_t n, char *out, size_t *olen, char *err, size_t errlen)
{
    unsigned char box[SEAL_BOX_MAX];
    size_t blen = 0;

    if (sodium_base642bin(box, sizeof(box), p, n, NULL, &blen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        blen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES) {
        snprintf(err, errlen, "a sealed marker is malformed");
        return -1;
    }
    if (crypto_secretbox_open_easy((unsigned char *)out + *olen, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, key) != 0) {
        snprintf(err, errlen, "a sealed marker does not open with the data key");
        return -1;
    }
    *olen += blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
    return 0;
}

char *seal_open_text(const char *text, char *err, size_t errlen)
{
    /* Opened text is never longer than its marker, so the copy never grows. */
    size_t cap = strlen(text) + 1, olen = 0;
    char *out = malloc(cap);
    const char *s = text, *m;

    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    while ((m = strstr(s, MARK_OPEN))) {
        const char *k = m + strlen(MARK_OPEN), *p, *end;
        memcpy(out + olen, s, (size_t)(m - s));
        olen += (size_t)(m - s);
        p = k + SEAL_KID_HEX + 1;
        end = strstr(k, MARK_CLOSE);
        if (!key || !end || end < p || k[SEAL_KID_HEX] != ':') {
            snprintf(err, errlen, "a sealed marker is malformed");
            goto fail;
        }
        if (memcmp(k, kid, SEAL_KID_HEX) != 0) {
            snprintf(err, errlen, "a sealed marker is under data key %.*s, not the one loaded (%s)",
                     SEAL_KID_HEX, k, kid);
            goto fail;
        }
        if ((size_t)(end - p) > SEAL_B64_MAX) {
            snprintf(err, errlen, "a sealed marker is malformed");
            goto fail;
        }
        if (open_one(p, (size_t)(end - p), out, &olen, err, errlen) < 0)
            goto fail;
        s = end + strlen(MARK_CLOSE);
    }
    memcpy(out + olen, s, strlen(s) + 1);
    return out;
fail:
    sodium_memzero(out, cap);
    free(out);
    return NULL;
}

void seal_free(void)
{
    if (key)
        sodium_free(key);
    key = NULL;
    kid[0] = 0;
}
