/*
 * passport: see passport.h. SQL builds the passport (schema/api/passport.sql decides what it
 * holds); here it is signed, on the loop: an Ed25519 signature costs tens of microseconds. The
 * secret key lives in sodium_malloc'd memory like the data keys (seal.c). The check of a file
 * (passport_verify_text) needs nothing but the public key, so the command line runs it without
 * a database, and the page /passport/ does the same in the browser (web/js/passport.js).
 */
#include "passport.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "db.h"
#include "link.h"
#include "log.h"
#include "pgconn.h"
#include "seal.h"

#define CANONICAL_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII)
#define SEED_BYTES crypto_sign_SEEDBYTES
#define SIG_B64_MAX                                                                                \
    sodium_base64_ENCODED_LEN(crypto_sign_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)
#define PK_B64_MAX                                                                                 \
    sodium_base64_ENCODED_LEN(PASSPORT_PK_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING)
/* A key file or a passport larger than this is not one. */
#define KEY_FILE_MAX 4096
#define PASSPORT_FILE_MAX (16 * 1024 * 1024)

#define ENSURE_SQL "select passport_key_ensure($1, $2, $3)"

static struct sql_stmt q_device =
    SQL_STMT("passport_device", "select passport_device($1, $2, $3)", 3);
static struct sql_stmt q_status =
    SQL_STMT("passport_by_status", "select passport_by_status($1)", 1);
static struct sql_stmt q_ensure = SQL_STMT("passport_key_ensure", ENSURE_SQL, 3);

static struct {
    unsigned char *sk; /* crypto_sign_SECRETKEYBYTES, sodium_malloc'd, read-only */
    unsigned char pk[PASSPORT_PK_BYTES];
    char pk_b64[PK_B64_MAX];
    char kid[PASSPORT_KID_HEX + 1];
} K;

void passport_key_id(const unsigned char pk[PASSPORT_PK_BYTES], char out[PASSPORT_KID_HEX + 1])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, pk, PASSPORT_PK_BYTES);
    sodium_bin2hex(out, PASSPORT_KID_HEX + 1, h, PASSPORT_KID_HEX / 2);
}

void passport_free(void)
{
    if (K.sk)
        sodium_free(K.sk);
    memset(&K, 0, sizeof(K));
}

void passport_key_from_seed(const unsigned char seed[SEED_BYTES])
{
    passport_free();
    K.sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
    if (!K.sk)
        abort(); /* start-up only */
    crypto_sign_seed_keypair(K.pk, K.sk, seed);
    sodium_mprotect_readonly(K.sk);
    sodium_bin2base64(K.pk_b64, sizeof(K.pk_b64), K.pk, sizeof(K.pk),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    passport_key_id(K.pk, K.kid);
}

bool passport_ready(void)
{
    return K.sk != NULL;
}

/* A key pair this carnetd offers the chain: stored only when the chain has none yet. Holds the
 * public key, its id and the seed sealed under the data key (malloc'd). */
struct candidate {
    char kid[PASSPORT_KID_HEX + 1];
    char pk_b64[PK_B64_MAX];
    char *sealed;
};

static int candidate_make(struct candidate *c)
{
    unsigned char seed[SEED_BYTES], pk[PASSPORT_PK_BYTES], sk[crypto_sign_SECRETKEYBYTES];
    char hex[2 * SEED_BYTES + 1];

    crypto_sign_keypair(pk, sk);
    crypto_sign_ed25519_sk_to_seed(seed, sk);
    sodium_bin2hex(hex, sizeof(hex), seed, sizeof(seed));
    sodium_bin2base64(c->pk_b64, sizeof(c->pk_b64), pk, sizeof(pk),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    passport_key_id(pk, c->kid);
    c->sealed = seal_pd(hex);
    sodium_memzero(seed, sizeof(seed));
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(hex, sizeof(hex));
    return c->sealed ? 0 : -1;
}

/* Loads the key passport_key_ensure answered ({key_id, public_key, secret}). */
static int adopt(const char *answer, char *err, size_t errlen)
{
    unsigned char seed[SEED_BYTES];
    const char *skey, *spk;
    char *plain = NULL;
    json_t *doc = NULL;
    size_t n = 0;
    int rc = -1;

    if (!answer || !(doc = json_loads(answer, 0, NULL)) ||
        !(skey = json_string_value(json_object_get(doc, "secret"))) ||
        !(spk = json_string_value(json_object_get(doc, "public_key")))) {
        snprintf(err, errlen, "passport key: the stored key cannot be read");
        goto out;
    }
    if (!(plain = seal_open_text(skey, err, errlen)))
        goto out;
    if (sodium_hex2bin(seed, sizeof(seed), plain, strlen(plain), NULL, &n, NULL) != 0 ||
        n != sizeof(seed)) {
        snprintf(err, errlen, "passport key: the stored seed is malformed");
        goto out;
    }
    passport_key_from_seed(seed);
    if (strcmp(K.pk_b64, spk) != 0) {
        passport_free();
        snprintf(err, errlen, "passport key: the stored public key does not match its seed");
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(seed, sizeof(seed));
    if (plain) {
        sodium_memzero(plain, strlen(plain));
        free(plain);
    }
    if (doc)
        json_decref(doc);
    return rc;
}

int passport_key_load_blocking(const char *conninfo, char *err, size_t errlen)
{
    struct candidate cand = {0};
    struct pg_conn *c = NULL;
    char *answer = NULL;
    int rc = -1;

    if (candidate_make(&cand) < 0) {
        snprintf(err, errlen, "passport key: cannot seal (no data key?)");
        goto out;
    }
    if (!(c = pgconn_connect_blocking(conninfo, err, errlen)))
        goto out;
    const char *params[3] = {cand.kid, cand.pk_b64, cand.sealed};
    if (pgconn_exec_blocking(c, ENSURE_SQL, 3, params, &answer, err, errlen) < 0)
        goto out;
    rc = adopt(answer, err, errlen);
out:
    free(answer);
    free(cand.sealed);
    if (c)
        pgconn_close_blocking(c);
    return rc;
}

/* ---- a key that could not be loaded at start-up, asked for again on the loop ---- */

static bool loading;

static void on_loaded(const struct db_result *res, void *arg)
{
    char err[160];
    (void)arg;
    loading = false;
    if (res->status != DB_OK || db_rows(res) < 1 || db_isnull(res, 0, 0)) {
        log_warning("device passports: still no signing key (the database did not answer)");
        return;
    }
    if (adopt(db_value(res, 0, 0), err, sizeof(err)) < 0)
        log_warning("device passports: %s", err);
    else
        log_info("device passports: signing key %s loaded", K.kid);
}

/* Asks the database for the chain's key (making it if there is none), once at a time; the
 * answer is for the requests that come after it. */
static void load_async(void)
{
    struct candidate cand = {0};
    if (loading || candidate_make(&cand) < 0) {
        free(cand.sealed);
        return;
    }
    const char *params[3] = {cand.kid, cand.pk_b64, cand.sealed};
    loading = true;
    db_query(&q_ensure, params, on_loaded, NULL);
    free(cand.sealed);
}

char *passport_canonical(const json_t *passport)
{
    return json_dumps(passport, CANONICAL_FLAGS);
}

json_t *passport_sign(json_t *passport)
{
    unsigned char sig[crypto_sign_BYTES];
    char sig64[SIG_B64_MAX];
    char *text;
    json_t *doc;

    if (!K.sk || !passport || !(text = passport_canonical(passport))) {
        json_decref(passport);
        return NULL;
    }
    crypto_sign_detached(sig, NULL, (const unsigned char *)text, strlen(text), K.sk);
    free(text);
    sodium_bin2base64(sig64, sizeof(sig64), sig, sizeof(sig),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    doc = json_pack("{so s{ssssss}}", "passport", passport, "signature", "alg", PASSPORT_ALG,
                    "key_id", K.kid, "sig", sig64);
    return doc;
}

int passport_verify_text(const char *text, size_t len, const unsigned char pk[PASSPORT_PK_BYTES],
                         char *why, size_t whylen)
{
    unsigned char sig[crypto_sign_BYTES];
    char kid[PASSPORT_KID_HEX + 1], *canon = NULL;
    const char *alg, *skid, *s64;
    json_error_t jerr;
    json_t *doc, *passport, *sigobj;
    size_t n = 0;
    int rc = -1;

    if (!(doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr))) {
        snprintf(why, whylen, "not JSON (line %d: %s)", jerr.line, jerr.text);
        return -1;
    }
    passport = json_object_get(doc, "passport");
    sigobj = json_object_get(doc, "signature");
    if (!json_is_object(passport) || !json_is_object(sigobj) ||
        !(alg = json_string_value(json_object_get(sigobj, "alg"))) ||
        !(skid = json_string_value(json_object_get(sigobj, "key_id"))) ||
        !(s64 = json_string_value(json_object_get(sigobj, "sig")))) {
        snprintf(why, whylen,
                 "not a passport: it needs a passport object and a signature with "
                 "alg, key_id and sig");
        goto out;
    }
    if (strcmp(alg, PASSPORT_ALG) != 0) {
        snprintf(why, whylen, "signed with %.32s, not %s", alg, PASSPORT_ALG);
        goto out;
    }
    passport_key_id(pk, kid);
    if (strcmp(skid, kid) != 0) {
        snprintf(why, whylen, "signed with key %.32s, not with the key given (%s)", skid, kid);
        goto out;
    }
    if (sodium_base642bin(sig, sizeof(sig), s64, strlen(s64), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != sizeof(sig)) {
        snprintf(why, whylen, "the signature is not 64 bytes of base64url");
        goto out;
    }
    if (!(canon = passport_canonical(passport))) {
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    if (crypto_sign_verify_detached(sig, (const unsigned char *)canon, strlen(canon), pk) != 0) {
        snprintf(why, whylen,
                 "the signature does not match: the passport was changed, or was "
                 "not signed with this key");
        goto out;
    }
    rc = 0;
out:
    free(canon);
    json_decref(doc);
    return rc;
}

/* The whole of a file (at most `max` bytes), malloc'd and NUL-terminated; NULL with why. */
static char *read_all(const char *path, size_t max, size_t *len, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (!f) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (!(buf = malloc(max + 1))) {
        fclose(f);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    n = fread(buf, 1, max + 1, f);
    if (ferror(f) || n > max) {
        snprintf(why, whylen, "%s: %s", path, ferror(f) ? "cannot be read" : "too large");
        fclose(f);
        free(buf);
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return buf;
}

int passport_read_key_file(const char *path, unsigned char pk[PASSPORT_PK_BYTES], char *why,
                           size_t whylen)
{
    size_t len = 0, n = 0;
    char *text = read_all(path, KEY_FILE_MAX, &len, why, whylen);
    const char *b64;
    json_t *doc = NULL;
    int rc = -1;

    if (!text)
        return -1;
    if ((doc = json_loadb(text, len, 0, NULL))) {
        b64 = json_string_value(json_object_get(doc, "public_key"));
    } else {
        while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
            text[--len] = '\0';
        b64 = text;
    }
    if (!b64 ||
        sodium_base642bin(pk, PASSPORT_PK_BYTES, b64, strlen(b64), NULL, &n, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        n != PASSPORT_PK_BYTES) {
        snprintf(why, whylen,
                 "%s: not a passport key (the JSON of GET /api/passport-key, or its public_key)",
                 path);
        goto out;
    }
    rc = 0;
out:
    if (doc)
        json_decref(doc);
    free(text);
    return rc;
}

int passport_verify_cli(const char *file, const char *keyfile)
{
    unsigned char pk[PASSPORT_PK_BYTES];
    char why[300];
    size_t len = 0;
    char *text = NULL;
    int rc = 1;

    if (!keyfile || !*keyfile) {
        snprintf(why, sizeof(why),
                 "no public key: give --passport-key FILE (the JSON of GET "
                 "/api/passport-key)");
        goto out;
    }
    if (passport_read_key_file(keyfile, pk, why, sizeof(why)) < 0 ||
        !(text = read_all(file, PASSPORT_FILE_MAX, &len, why, sizeof(why))) ||
        passport_verify_text(text, len, pk, why, sizeof(why)) < 0)
        goto out;
    printf("valid\n");
    rc = 0;
out:
    if (rc)
        printf("not valid: %s\n", why);
    free(text);
    return rc;
}

/* ---- handlers ---- */

static void on_passport(struct req *r, const struct db_result *res)
{
    json_t *p = api_result_object(r, res), *doc;
    if (!p)
        return;
    if (!(doc = passport_sign(p))) {
        http_reply_oom(r);
        return;
    }
    http_reply_jansson(r, 200, doc);
}

/* Without the key (the database was down when this carnetd started) there is nothing to sign
 * with yet: the key is asked for again, and the caller told to retry in a moment. */
static bool key_ready(struct req *r)
{
    if (passport_ready())
        return true;
    load_async();
    http_reply_retry(r, 1, "unavailable", "passports cannot be signed yet: try again shortly");
    return false;
}

void passport_device(struct req *r)
{
    const char *serial = http_param(r, "serial");
    if (!key_ready(r))
        return;
    const char *params[3] = {r->who.staff_id, serial, r->id};
    api_call(r, &q_device, params, on_passport);
}

void passport_status(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[1] = {hash};
    if (!link_from_path(r, "token", hash) || !key_ready(r))
        return;
    api_call(r, &q_status, params, on_passport);
}

void passport_public_key(struct req *r)
{
    if (!key_ready(r))
        return;
    http_reply_jansson(
        r, 200,
        json_pack("{ssssss}", "alg", PASSPORT_ALG, "key_id", K.kid, "public_key", K.pk_b64));
}
