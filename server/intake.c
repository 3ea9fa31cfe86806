/*
 * intake: see intake.h. The condition record and the signature are JSON calls like any other;
 * photos are the API's one upload: the route's body is the image's raw bytes (router.h), already
 * in memory when the handler runs, checked here by their own signature and sent to PostgreSQL as
 * one base64 parameter (bytea there), so the loop never waits on anything but the pool.
 *
 * The signature is the customer's personal data (017): its PNG is checked here, then its base64
 * is sealed (seal_pd) before SQL sees it, and opened only on its way to a staff reply. Its
 * SHA-256 and size are computed here and go beside it (the health record keeps the hash).
 */
#include "intake.h"

#include <jansson.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "http.h"
#include "log.h"
#include "seal.h"

#define B64 sodium_base64_VARIANT_ORIGINAL
#define DATA_URL_PNG "data:image/png;base64,"

static struct sql_stmt q_get = SQL_STMT("intake_get", "select intake_get($1, $2, $3)", 3);
static struct sql_stmt q_record =
    SQL_STMT("intake_record", "select intake_record($1, $2, $3, $4)", 4);
static struct sql_stmt q_photo_add =
    SQL_STMT("intake_photo_add", "select intake_photo_add($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_photo_get = SQL_STMT(
    "intake_photo_get", "select content_type, data from intake_photo_get($1, $2, $3, $4)", 4);
static struct sql_stmt q_sign = SQL_STMT("intake_sign", "select intake_sign($1, $2, $3, $4)", 4);

static const char *const image_types[] = {
    [INTAKE_IMAGE_NONE] = NULL,
    [INTAKE_IMAGE_JPEG] = "image/jpeg",
    [INTAKE_IMAGE_PNG] = "image/png",
    [INTAKE_IMAGE_WEBP] = "image/webp",
};

const char *intake_image_type(enum intake_image t)
{
    return (unsigned)t < sizeof(image_types) / sizeof(image_types[0]) ? image_types[t] : NULL;
}

enum intake_image intake_image_from_header(const char *ct)
{
    size_t n;

    if (!ct)
        return INTAKE_IMAGE_NONE;
    while (*ct == ' ' || *ct == '\t')
        ct++;
    n = strcspn(ct, "; \t");
    for (int t = INTAKE_IMAGE_JPEG; t <= INTAKE_IMAGE_WEBP; t++) {
        if (strlen(image_types[t]) == n && strncasecmp(ct, image_types[t], n) == 0)
            return (enum intake_image)t;
    }
    return INTAKE_IMAGE_NONE;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
static const unsigned char png_iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
/* The smallest whole files: SOI + EOI; signature + IHDR chunk + IEND chunk; RIFF header + a
 * chunk header. */
#define JPEG_MIN 4
#define PNG_MIN (8 + 25 + 12)
#define WEBP_MIN 20

enum intake_image intake_image_sniff(const unsigned char *p, size_t n, bool *whole)
{
    *whole = false;
    if (n >= JPEG_MIN && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        size_t end = n;
        while (end > JPEG_MIN && p[end - 1] == 0)
            end--;
        *whole = p[end - 2] == 0xff && p[end - 1] == 0xd9;
        return INTAKE_IMAGE_JPEG;
    }
    if (n >= PNG_MIN && memcmp(p, png_sig, sizeof(png_sig)) == 0 && be32(p + 8) == 13 &&
        memcmp(p + 12, "IHDR", 4) == 0) {
        *whole = memcmp(p + n - sizeof(png_iend), png_iend, sizeof(png_iend)) == 0;
        return INTAKE_IMAGE_PNG;
    }
    if (n >= WEBP_MIN && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0 &&
        (memcmp(p + 12, "VP8 ", 4) == 0 || memcmp(p + 12, "VP8L", 4) == 0 ||
         memcmp(p + 12, "VP8X", 4) == 0)) {
        *whole = (uint64_t)le32(p + 4) + 8 == n;
        return INTAKE_IMAGE_WEBP;
    }
    return INTAKE_IMAGE_NONE;
}

/* (actor, repair id, body as received, request id) -> the JSON reply with `status`. */
static void call_json(struct req *r, struct sql_stmt *stmt, const char *id, const char *body,
                      int status)
{
    const char *params[4] = {r->who.staff_id, id, body ? body : api_body(r), r->id};
    api_send(r, stmt, params, status);
}

void intake_get(struct req *r)
{
    const char *id = api_path_id(r, "id");
    if (!id)
        return;
    const char *params[3] = {r->who.staff_id, id, r->id};
    api_send(r, &q_get, params, 200);
}

void intake_record(struct req *r)
{
    const char *id = api_path_id(r, "id");
    if (!id || !api_need_body(r))
        return;
    call_json(r, &q_record, id, NULL, 201);
}

void intake_photo_add(struct req *r)
{
    const char *id = api_path_id(r, "id");
    enum intake_image declared, found;
    bool whole;
    char *b64;
    size_t b64len;

    if (!id)
        return;
    declared = intake_image_from_header(http_header(r, "Content-Type"));
    if (declared == INTAKE_IMAGE_NONE) {
        http_reply_error(r, 415, "unsupported_type", "content_type",
                         "send the photo's bytes as image/jpeg, image/png or image/webp");
        return;
    }
    if (r->body_len == 0) {
        http_reply_error(r, 422, "empty", "photo", "the photo is empty");
        return;
    }
    if (r->body_len > INTAKE_PHOTO_MAX) {
        http_reply_error(r, 413, "too_large", "photo", "a photo is %u bytes at most",
                         INTAKE_PHOTO_MAX);
        return;
    }
    found = intake_image_sniff((const unsigned char *)r->body, r->body_len, &whole);
    if (found == INTAKE_IMAGE_NONE) {
        http_reply_error(r, 422, "not_an_image", "photo",
                         "the bytes are not a JPEG, PNG or WebP image");
        return;
    }
    if (found != declared) {
        http_reply_error(r, 422, "type_mismatch", "photo", "the bytes are %s, not %s",
                         intake_image_type(found), intake_image_type(declared));
        return;
    }
    if (!whole) {
        http_reply_error(r, 422, "truncated", "photo", "the image is cut short: send it again");
        return;
    }
    b64len = sodium_base64_ENCODED_LEN(r->body_len, B64);
    if (!(b64 = malloc(b64len))) {
        http_reply_oom(r);
        return;
    }
    sodium_bin2base64(b64, b64len, (const unsigned char *)r->body, r->body_len, B64);
    const char *params[5] = {r->who.staff_id, id, intake_image_type(found), b64, r->id};
    api_send(r, &q_photo_add, params, 201);
    free(b64);
}

static void on_photo(struct req *r, const struct db_result *res)
{
    enum intake_image t;
    unsigned char *bin;
    size_t n, len;

    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    if (db_rows(res) < 1 || db_cols(res) < 2 || db_isnull(res, 0, 1)) {
        http_reply_error(r, 404, "not_found", "photo", "no such photo of this repair");
        return;
    }
    /* The type names one of ours: the reply keeps a pointer to a constant, not to the result. */
    t = intake_image_from_header(db_value(res, 0, 0));
    n = (size_t)db_length(res, 0, 1);
    if (t == INTAKE_IMAGE_NONE || !(bin = malloc(n / 4 * 3 + 3))) {
        if (t == INTAKE_IMAGE_NONE) {
            rlog_error(r, "a stored photo has an unknown type");
            http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        } else {
            http_reply_oom(r);
        }
        return;
    }
    if (sodium_base642bin(bin, n / 4 * 3 + 3, db_value(res, 0, 1), n, "\r\n", &len, NULL, B64) <
        0) {
        free(bin);
        rlog_error(r, "a stored photo did not decode");
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return;
    }
    /* An image, never a page: nothing in it may run, whatever a browser makes of it. */
    http_add_header(r, "Content-Security-Policy", "default-src 'none'; sandbox");
    http_reply_raw(r, 200, intake_image_type(t), (const char *)bin, len);
    free(bin);
}

void intake_photo_get(struct req *r)
{
    const char *id = api_path_id(r, "id");
    const char *photo = id ? api_path_id(r, "photo") : NULL;
    if (!photo)
        return;
    const char *params[4] = {r->who.staff_id, id, photo, r->id};
    api_call(r, &q_photo_get, params, on_photo);
}

/*
 * The signature's PNG from the body's `png` (base64, a data: URL prefix allowed), checked,
 * sealed, hashed: the body for SQL with png the marker, sha256 and size beside it (malloc'd),
 * or NULL after replying.
 */
static char *signature_body(struct req *r)
{
    json_t *png = json_object_get(r->json, "png");
    const char *b64;
    size_t b64len, len = 0;
    unsigned char *bin = NULL, hash[crypto_hash_sha256_BYTES];
    char *clear = NULL, *marker = NULL, *body = NULL, hex[crypto_hash_sha256_BYTES * 2 + 1];
    const char *end;
    bool whole;
    json_t *copy = NULL;

    if (!json_is_string(png) || json_string_length(png) == 0) {
        http_reply_error(r, 422, "required", "png", "the customer's signature is required");
        return NULL;
    }
    b64 = json_string_value(png);
    b64len = json_string_length(png);
    if (b64len > strlen(DATA_URL_PNG) && strncmp(b64, DATA_URL_PNG, strlen(DATA_URL_PNG)) == 0) {
        b64 += strlen(DATA_URL_PNG);
        b64len -= strlen(DATA_URL_PNG);
    }
    if (b64len > sodium_base64_ENCODED_LEN(INTAKE_SIGNATURE_MAX, B64) - 1) {
        http_reply_error(r, 413, "too_large", "png", "a signature is %u bytes at most",
                         INTAKE_SIGNATURE_MAX);
        return NULL;
    }
    if (!(bin = malloc(INTAKE_SIGNATURE_MAX))) {
        http_reply_oom(r);
        return NULL;
    }
    if (sodium_base642bin(bin, INTAKE_SIGNATURE_MAX, b64, b64len, NULL, &len, &end, B64) < 0 ||
        end != b64 + b64len || len == 0) {
        http_reply_error(r, 422, "invalid", "png", "the signature is a PNG in base64");
        goto out;
    }
    if (intake_image_sniff(bin, len, &whole) != INTAKE_IMAGE_PNG) {
        http_reply_error(r, 422, "not_png", "png", "the signature's bytes are not a PNG image");
        goto out;
    }
    if (!whole) {
        http_reply_error(r, 422, "truncated", "png", "the signature is cut short: sign again");
        goto out;
    }
    /* Sealed as canonical base64 of the bytes checked, not as the text received. */
    b64len = sodium_base64_ENCODED_LEN(len, B64);
    crypto_hash_sha256(hash, bin, len);
    sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
    if (!(clear = malloc(b64len)) || !sodium_bin2base64(clear, b64len, bin, len, B64) ||
        !(marker = seal_pd(clear)) || !(copy = json_copy(r->json)) ||
        json_object_set_new(copy, "png", json_string(marker)) < 0 ||
        json_object_set_new(copy, "sha256", json_string(hex)) < 0 ||
        json_object_set_new(copy, "size", json_integer((json_int_t)len)) < 0 ||
        !(body = json_dumps(copy, JSON_COMPACT)))
        http_reply_oom(r);
out:
    if (clear) {
        sodium_memzero(clear, b64len);
        free(clear);
    }
    sodium_memzero(bin, INTAKE_SIGNATURE_MAX);
    free(bin);
    free(marker);
    if (copy)
        json_decref(copy);
    return body;
}

void intake_sign(struct req *r)
{
    const char *id = api_path_id(r, "id");
    char *body;

    if (!id || !api_need_body(r))
        return;
    if (!(body = signature_body(r)))
        return;
    call_json(r, &q_sign, id, body, 201);
    free(body);
}
