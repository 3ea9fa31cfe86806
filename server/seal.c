/*
 * seal: see seal.h. Links use libsodium's secretbox (XSalsa20-Poly1305); personal data the IETF
 * XChaCha20-Poly1305 AEAD. Both take a random 24-byte nonce, so several processes seal under one
 * key without nonce bookkeeping, and a forged or altered marker fails to open. Keys live in
 * sodium_malloc'd memory (guard pages, not swapped, wiped on free). Each key also gives a
 * blind-index key (a keyed hash of a fixed label), so an index never uses the data key itself.
 */
#include "seal.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LINK_OPEN "{{sealed:"
#define PD_OPEN "{{pd:"
#define MARK_CLOSE "}}"
#define PD_AD "carnet-pd-v1"
#define NONCE_BYTES 24 /* secretbox and XChaCha20 alike */
#define TAG_BYTES 16
#define BOX_MAX (NONCE_BYTES + TAG_BYTES + SEAL_PLAIN_MAX)
#define B64_MAX ((BOX_MAX + 2) / 3 * 4)
#define UNREADABLE "(unreadable)"

struct ring_key {
    unsigned char *k;     /* SEAL_KEY_BYTES, sodium_malloc'd, read-only */
    unsigned char *blind; /* the blind-index key derived from k */
    char id[SEAL_KID_HEX + 1];
};

static struct ring_key ring[SEAL_MAX_KEYS];
static int nkeys;

static void key_clear(struct ring_key *r)
{
    if (r->k)
        sodium_free(r->k);
    if (r->blind)
        sodium_free(r->blind);
    memset(r, 0, sizeof(*r));
}

static void key_set(struct ring_key *r, const unsigned char k[SEAL_KEY_BYTES])
{
    unsigned char id[SEAL_KID_HEX / 2];

    key_clear(r);
    r->k = sodium_malloc(SEAL_KEY_BYTES);
    r->blind = sodium_malloc(crypto_generichash_KEYBYTES);
    if (!r->k || !r->blind)
        abort(); /* start-up only: nothing sensible to serve without the key */
    memcpy(r->k, k, SEAL_KEY_BYTES);
    crypto_generichash(r->blind, crypto_generichash_KEYBYTES,
                       (const unsigned char *)"carnet-blind-index-v1", 21, k, SEAL_KEY_BYTES);
    sodium_mprotect_readonly(r->k);
    sodium_mprotect_readonly(r->blind);
    /* The id is a keyed hash of a fixed label: it names the key without revealing it. */
    crypto_generichash(id, sizeof(id), (const unsigned char *)"carnet-data-key-id", 18, k,
                       SEAL_KEY_BYTES);
    sodium_bin2hex(r->id, sizeof(r->id), id, sizeof(id));
}

void seal_init_key(const unsigned char k[SEAL_KEY_BYTES])
{
    key_set(&ring[0], k);
    if (nkeys < 1)
        nkeys = 1;
}

void seal_add_old_key_bytes(const unsigned char k[SEAL_KEY_BYTES])
{
    if (nkeys < 1 || nkeys >= SEAL_MAX_KEYS)
        abort(); /* the caller checks; a ring without a current key is a programming error */
    key_set(&ring[nkeys++], k);
}

/* Reads one key file into k. */
static int read_key(const char *path, unsigned char k[SEAL_KEY_BYTES], char *err, size_t errlen)
{
    unsigned char buf[2 * SEAL_KEY_BYTES + 8];
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
            sodium_hex2bin(k, SEAL_KEY_BYTES, (const char *)buf, len, NULL, &klen, NULL) != 0)
            klen = 0;
    }
    if (klen != SEAL_KEY_BYTES) {
        snprintf(err, errlen, "data key file %s must hold 32 bytes, raw or as 64 hex digits", path);
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(buf, sizeof(buf));
    close(fd);
    return rc;
}

int seal_init(const char *path, char *err, size_t errlen)
{
    unsigned char k[SEAL_KEY_BYTES];
    if (read_key(path, k, err, errlen) < 0)
        return -1;
    seal_init_key(k);
    sodium_memzero(k, sizeof(k));
    return 0;
}

int seal_add_old_key(const char *path, char *err, size_t errlen)
{
    unsigned char k[SEAL_KEY_BYTES];
    if (nkeys >= SEAL_MAX_KEYS) {
        snprintf(err, errlen, "at most %d data keys", SEAL_MAX_KEYS);
        return -1;
    }
    if (read_key(path, k, err, errlen) < 0)
        return -1;
    seal_add_old_key_bytes(k);
    sodium_memzero(k, sizeof(k));
    return 0;
}

bool seal_ready(void)
{
    return nkeys > 0;
}

const char *seal_key_id_at(int i)
{
    return i >= 0 && i < nkeys ? ring[i].id : NULL;
}

const char *seal_key_id(void)
{
    return seal_key_id_at(0) ? seal_key_id_at(0) : "";
}

static struct ring_key *key_by_id(const char *id)
{
    for (int i = 0; i < nkeys; i++)
        if (memcmp(ring[i].id, id, SEAL_KID_HEX) == 0)
            return &ring[i];
    return NULL;
}

/* ---- sealing ---- */

static char *seal_as(const char *prefix, bool pd, const char *plain)
{
    size_t plen = strlen(plain);
    size_t blen = NONCE_BYTES + TAG_BYTES + plen;
    size_t b64 = sodium_base64_ENCODED_LEN(blen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t outlen = strlen(prefix) + SEAL_KID_HEX + 1 + b64 + strlen(MARK_CLOSE);
    unsigned char *box;
    char *out;

    if (nkeys < 1 || plen > SEAL_PLAIN_MAX)
        return NULL;
    box = malloc(blen);
    out = malloc(outlen);
    if (!box || !out) {
        free(box);
        free(out);
        return NULL;
    }
    randombytes_buf(box, NONCE_BYTES);
    if (pd)
        crypto_aead_xchacha20poly1305_ietf_encrypt(
            box + NONCE_BYTES, NULL, (const unsigned char *)plain, plen,
            (const unsigned char *)PD_AD, strlen(PD_AD), NULL, box, ring[0].k);
    else
        crypto_secretbox_easy(box + NONCE_BYTES, (const unsigned char *)plain, plen, box,
                              ring[0].k);
    int n = snprintf(out, outlen, "%s%s:", prefix, ring[0].id);
    sodium_bin2base64(out + n, outlen - (size_t)n, box, blen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    strcat(out, MARK_CLOSE);
    free(box);
    return out;
}

char *seal_marker(const char *plain)
{
    return seal_as(LINK_OPEN, false, plain);
}

char *seal_pd(const char *plain)
{
    return seal_as(PD_OPEN, true, plain);
}

bool seal_is_current_pd(const char *s)
{
    return nkeys > 0 && seal_is_pd(s) && memcmp(s + strlen(PD_OPEN), ring[0].id, SEAL_KID_HEX) == 0;
}

/* ---- opening ---- */

/* The next marker of either kind at or after `s`; *pd says which. */
static const char *next_marker(const char *s, bool *pd)
{
    const char *l = strstr(s, LINK_OPEN), *p = strstr(s, PD_OPEN);
    if (p && (!l || p < l)) {
        *pd = true;
        return p;
    }
    *pd = false;
    return l;
}

bool seal_has_marker(const char *s)
{
    bool pd;
    return s && next_marker(s, &pd) != NULL;
}

/*
 * Opens the marker at `m` (of kind pd) into `out` (room for at least its length); on success
 * returns the plain text's length and sets *end past the marker. -1 with the reason in `err`.
 */
static long open_marker(const char *m, bool pd, char *out, const char **end, char *err,
                        size_t errlen)
{
    const char *k = m + strlen(pd ? PD_OPEN : LINK_OPEN), *p = k + SEAL_KID_HEX + 1;
    const char *close = strstr(k, MARK_CLOSE);
    struct ring_key *key;
    unsigned char *box;
    size_t blen = 0;
    long n = -1;

    if (!close || close < p || k[SEAL_KID_HEX] != ':' || (size_t)(close - p) > B64_MAX) {
        snprintf(err, errlen, "a sealed marker is malformed");
        return -1;
    }
    if (!(key = key_by_id(k))) {
        snprintf(err, errlen, "a sealed marker is under data key %.*s, not one loaded (%s)",
                 SEAL_KID_HEX, k, nkeys ? ring[0].id : "none");
        return -1;
    }
    if (!(box = malloc((size_t)(close - p)))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (sodium_base642bin(box, (size_t)(close - p), p, (size_t)(close - p), NULL, &blen, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        blen < NONCE_BYTES + TAG_BYTES) {
        snprintf(err, errlen, "a sealed marker is malformed");
        goto out;
    }
    if (pd ? crypto_aead_xchacha20poly1305_ietf_decrypt(
                 (unsigned char *)out, NULL, NULL, box + NONCE_BYTES, blen - NONCE_BYTES,
                 (const unsigned char *)PD_AD, strlen(PD_AD), box, key->k) != 0
           : crypto_secretbox_open_easy((unsigned char *)out, box + NONCE_BYTES, blen - NONCE_BYTES,
                                        box, key->k) != 0) {
        snprintf(err, errlen, "a sealed marker does not open with the data key");
        goto out;
    }
    n = (long)(blen - NONCE_BYTES - TAG_BYTES);
    *end = close + strlen(MARK_CLOSE);
out:
    sodium_memzero(box, (size_t)(close - p));
    free(box);
    return n;
}

char *seal_open_text(const char *text, char *err, size_t errlen)
{
    /* Opened text is never longer than its marker, so the copy never grows. */
    size_t cap = strlen(text) + 1, olen = 0;
    char *out = malloc(cap);
    const char *s = text, *m, *end;
    bool pd;

    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    while ((m = next_marker(s, &pd))) {
        memcpy(out + olen, s, (size_t)(m - s));
        olen += (size_t)(m - s);
        long n = open_marker(m, pd, out + olen, &end, err, errlen);
        if (n < 0) {
            sodium_memzero(out, cap);
            free(out);
            return NULL;
        }
        olen += (size_t)n;
        s = end;
    }
    memcpy(out + olen, s, strlen(s) + 1);
    return out;
}

/* Appends `n` bytes to a growing buffer (room kept for a final NUL). */
static int put_raw(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t ncap = (*cap + n + 1) * 2;
        char *nb = realloc(*buf, ncap);
        if (!nb)
            return -1;
        *buf = nb;
        *cap = ncap;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return 0;
}

/* Appends `n` bytes of plain text to a growing buffer as JSON string content. */
static int put_json(char **buf, size_t *len, size_t *cap, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        char esc[8];
        size_t el = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            el = 2;
        } else if (c < 0x20) {
            el = (size_t)snprintf(esc, sizeof(esc), "\\u%04x", c);
        } else {
            esc[0] = (char)c;
        }
        if (put_raw(buf, len, cap, esc, el) < 0)
            return -1;
    }
    return 0;
}

bool seal_is_pd(const char *s)
{
    size_t p = strlen(PD_OPEN), n = s ? strlen(s) : 0;
    return n > p + SEAL_KID_HEX + 1 + strlen(MARK_CLOSE) && strncmp(s, PD_OPEN, p) == 0 &&
           s[p + SEAL_KID_HEX] == ':' && strstr(s + p, MARK_CLOSE) == s + n - 2;
}

char *seal_reseal_text(const char *text, char *err, size_t errlen)
{
    size_t cap = strlen(text) + 1, olen = 0;
    char *out = malloc(cap), *plain = NULL;
    const char *s = text, *m, *end;
    bool pd;

    if (!out) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    while ((m = next_marker(s, &pd))) {
        const char *kid = m + strlen(pd ? PD_OPEN : LINK_OPEN), *close = strstr(m, MARK_CLOSE);
        char *fresh;
        if (put_raw(&out, &olen, &cap, s, (size_t)(m - s)) < 0 || !close ||
            !(plain = realloc(plain, (size_t)(close - m) + 1)))
            goto fail_oom_or_bad;
        if (strlen(kid) > SEAL_KID_HEX && memcmp(kid, ring[0].id, SEAL_KID_HEX) == 0) {
            /* already under the current key: kept as it is */
            if (put_raw(&out, &olen, &cap, m, (size_t)(close + 2 - m)) < 0)
                goto fail_oom_or_bad;
            s = close + 2;
            continue;
        }
        long n = open_marker(m, pd, plain, &end, err, errlen);
        if (n < 0)
            goto fail;
        plain[n] = '\0';
        fresh = pd ? seal_pd(plain) : seal_marker(plain);
        sodium_memzero(plain, (size_t)n);
        if (!fresh || put_raw(&out, &olen, &cap, fresh, strlen(fresh)) < 0) {
            free(fresh);
            goto fail_oom_or_bad;
        }
        free(fresh);
        s = end;
    }
    if (put_raw(&out, &olen, &cap, s, strlen(s)) < 0)
        goto fail_oom_or_bad;
    out[olen] = '\0';
    free(plain);
    return out;
fail_oom_or_bad:
    snprintf(err, errlen, "out of memory, or a marker without its end");
fail:
    free(plain);
    free(out);
    return NULL;
}

char *seal_open_json(const char *json, size_t len, size_t *outlen, int *unreadable)
{
    size_t cap = len + 1, olen = 0;
    char *out = malloc(cap), *plain = NULL, err[120];
    const char *s = json, *stop = json + len, *m, *end;

    if (unreadable)
        *unreadable = 0;
    if (!out)
        return NULL;
    /* The text is NUL-terminated by the caller's source (a PGresult value or a string). */
    while ((m = strstr(s, PD_OPEN)) && m < stop) {
        const char *close = strstr(m, MARK_CLOSE);
        if (put_raw(&out, &olen, &cap, s, (size_t)(m - s)) < 0)
            goto oom;
        if (!close || close >= stop) {
            s = m; /* a truncated marker: leave the rest as it is */
            break;
        }
        if (!(plain = realloc(plain, (size_t)(close - m) + 1)))
            goto oom;
        long n = open_marker(m, true, plain, &end, err, sizeof(err));
        if (n < 0) {
            if (unreadable)
                (*unreadable)++;
            if (put_raw(&out, &olen, &cap, UNREADABLE, strlen(UNREADABLE)) < 0)
                goto oom;
            s = close + strlen(MARK_CLOSE);
            continue;
        }
        if (put_json(&out, &olen, &cap, plain, (size_t)n) < 0)
            goto oom;
        sodium_memzero(plain, (size_t)n);
        s = end;
    }
    if (put_raw(&out, &olen, &cap, s, (size_t)(stop - s)) < 0)
        goto oom;
    out[olen] = '\0';
    free(plain);
    *outlen = olen;
    return out;
oom:
    free(plain);
    free(out);
    return NULL;
}

/* ---- blind index ---- */

int seal_blind(int i, const char *kind, const char *value, char out[SEAL_BLIND_HEX + 1])
{
    unsigned char h[SEAL_BLIND_HEX / 2];
    char norm[320];
    size_t n = 0;
    bool email;

    if (i < 0 || i >= nkeys || !value)
        return -1;
    if (strcmp(kind, "email") == 0)
        email = true;
    else if (strcmp(kind, "phone") == 0)
        email = false;
    else
        return -1;
    n = (size_t)snprintf(norm, sizeof(norm), "%s:", kind);
    for (const char *p = value; *p && n < sizeof(norm) - 1; p++) {
        unsigned char c = (unsigned char)*p;
        if (email ? isspace(c) : (isspace(c) || c == '.' || c == '-' || c == '(' || c == ')'))
            continue;
        norm[n++] = email ? (char)tolower(c) : (char)c;
    }
    crypto_generichash(h, sizeof(h), (const unsigned char *)norm, n, ring[i].blind,
                       crypto_generichash_KEYBYTES);
    sodium_memzero(norm, sizeof(norm));
    sodium_bin2hex(out, SEAL_BLIND_HEX + 1, h, sizeof(h));
    return 0;
}

int seal_keyed(const char *label, const char *value, char out[SEAL_BLIND_HEX + 1])
{
    unsigned char h[SEAL_BLIND_HEX / 2];
    crypto_generichash_state st;

    if (nkeys < 1 || !label || !value)
        return -1;
    crypto_generichash_init(&st, ring[0].blind, crypto_generichash_KEYBYTES, sizeof(h));
    crypto_generichash_update(&st, (const unsigned char *)label, strlen(label));
    crypto_generichash_update(&st, (const unsigned char *)":", 1);
    crypto_generichash_update(&st, (const unsigned char *)value, strlen(value));
    crypto_generichash_final(&st, h, sizeof(h));
    sodium_memzero(&st, sizeof(st));
    sodium_bin2hex(out, SEAL_BLIND_HEX + 1, h, sizeof(h));
    sodium_memzero(h, sizeof(h));
    return 0;
}

void seal_free(void)
{
    for (int i = 0; i < SEAL_MAX_KEYS; i++)
        key_clear(&ring[i]);
    nkeys = 0;
}
