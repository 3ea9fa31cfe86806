/*
 * booking: the HTTP side of appointments. Each handler checks types, presence and lengths,
 * normalises what customers type (phone, device serial), then makes one call to a booking_*
 * SQL function, which is the transaction and keeps the invariants (slot on the grid, staff on
 * shift, no double booking by exclusion constraint, one store lock per booking).
 *
 * Customer links: the manage token is 32 random bytes made here; PostgreSQL stores only its
 * hash. Idempotent booking (Idempotency-Key): SQL remembers the first reply per key; a success's
 * token is kept only sealed with a key derived from the Idempotency-Key, which the database
 * never sees, so a retry gets the same link back and a copy of the database opens nothing. The
 * token itself also goes to SQL once, for the confirmation message that carries the link (the
 * outbox keeps a message until it is delivered).
 */
#include "booking.h"

#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define TOKEN_BYTES 32
#define TOKEN_TEXT_MAX (TOKEN_BYTES * 2)
#define NAME_MAX_CHARS 200
#define EMAIL_MAX 254
#define PHONE_MIN_DIGITS 7
#define PHONE_MAX_DIGITS 15
#define SERIAL_MIN 5
#define SERIAL_MAX 32
#define IMEI_DIGITS 15
#define PROBLEM_MAX_CHARS 2000
#define IDEM_KEY_MAX 255

static struct sql_stmt q_stores = SQL_STMT("booking_stores", "select booking_list_stores()", 0);
static struct sql_stmt q_store = SQL_STMT("booking_store", "select booking_store_detail($1)", 1);
static struct sql_stmt q_shifts =
    SQL_STMT("booking_shifts", "select booking_shifts($1, $2, $3, $4)", 4);
static struct sql_stmt q_delete_shift =
    SQL_STMT("booking_delete_shift", "select booking_delete_shift($1, $2, $3, $4)", 4);
static struct sql_stmt q_services =
    SQL_STMT("booking_services", "select booking_list_services($1)", 1);
static struct sql_stmt q_availability =
    SQL_STMT("booking_availability", "select booking_availability($1, $2, $3, $4)", 4);
static struct sql_stmt q_create =
    SQL_STMT("booking_create", "select booking_create($1, $2, $3, $4, $5, $6, $7)", 7);
static struct sql_stmt q_manage_get =
    SQL_STMT("booking_manage_get", "select booking_manage_get($1)", 1);
static struct sql_stmt q_manage_reschedule =
    SQL_STMT("booking_manage_reschedule", "select booking_manage_reschedule($1, $2)", 2);
static struct sql_stmt q_manage_cancel =
    SQL_STMT("booking_manage_cancel", "select booking_manage_cancel($1)", 1);
static struct sql_stmt q_day = SQL_STMT("booking_day", "select booking_day($1, $2, $3, $4)", 4);
static struct sql_stmt q_staff_reschedule =
    SQL_STMT("booking_staff_reschedule", "select booking_staff_reschedule($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_staff_cancel =
    SQL_STMT("booking_staff_cancel", "select booking_staff_cancel($1, $2, $3, $4)", 4);
static struct sql_stmt q_set_hours =
    SQL_STMT("booking_set_hours", "select booking_set_hours($1, $2, $3, $4)", 4);
static struct sql_stmt q_add_closure =
    SQL_STMT("booking_add_closure", "select booking_add_closure($1, $2, $3, $4)", 4);
static struct sql_stmt q_add_service =
    SQL_STMT("booking_add_service", "select booking_add_service($1, $2, $3, $4)", 4);
static struct sql_stmt q_set_skills =
    SQL_STMT("booking_set_skills", "select booking_set_skills($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_add_shift =
    SQL_STMT("booking_add_shift", "select booking_add_shift($1, $2, $3, $4)", 4);

const char *appointment_state_name(enum appointment_state s)
{
    switch (s) {
    case APPT_BOOKED:
        return "booked";
    case APPT_CHECKED_IN:
        return "checked_in";
    case APPT_IN_SERVICE:
        return "in_service";
    case APPT_DONE:
        return "done";
    case APPT_CANCELLED:
        return "cancelled";
    case APPT_NO_SHOW:
        return "no_show";
    }
    return "unknown";
}

/* ---- input checks ---- */

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static bool all_space(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* Deliberately simple: local@domain.tld, printable ASCII, no spaces, a dot in the domain whose
 * labels do not start or end with '-' or '.'. Anything stricter rejects real addresses. */
bool booking_email_ok(const char *email)
{
    const char *at = strchr(email, '@');
    const char *dom, *p;
    size_t len = strlen(email);

    if (len < 3 || len > EMAIL_MAX || !at || at == email || strchr(at + 1, '@'))
        return false;
    for (p = email; p < at; p++)
        if (!isgraph((unsigned char)*p) || strchr("()<>,;:\\\"[]", *p))
            return false;
    dom = at + 1;
    if (!*dom || !strchr(dom, '.') || dom[0] == '.' || dom[0] == '-' || email[len - 1] == '.' ||
        email[len - 1] == '-' || strstr(dom, ".."))
        return false;
    for (p = dom; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return false;
    return true;
}

/* "+33 6 12-34-56-78" -> "+33612345678": a '+' then 7 to 15 digits once spaces, dashes, dots
 * and parentheses are gone. */
bool booking_phone_normalise(const char *in, char *out, size_t outlen)
{
    size_t n = 0, digits = 0;
    const char *p = in;

    while (isspace((unsigned char)*p))
        p++;
    if (*p != '+' || outlen < PHONE_MAX_DIGITS + 2)
        return false;
    out[n++] = '+';
    for (p++; *p; p++) {
        if (isdigit((unsigned char)*p)) {
            if (++digits > PHONE_MAX_DIGITS)
                return false;
            out[n++] = *p;
        } else if (!strchr(" -.()", *p)) {
            return false;
        }
    }
    out[n] = '\0';
    return digits >= PHONE_MIN_DIGITS;
}

static bool luhn_ok(const char *digits)
{
    size_t len = strlen(digits);
    int sum = 0;
    for (size_t i = 0; i < len; i++) {
        int d = digits[len - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* Trimmed, upper-case, no spaces; 5 to 32 letters and digits; 15 digits is an IMEI and must
 * pass its Luhn check. */
bool booking_serial_normalise(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    bool digits_only = true;

    if (outlen == 0)
        return false;
    for (const char *p = in; *p; p++) {
        if (isspace((unsigned char)*p))
            continue;
        if (!isalnum((unsigned char)*p) || n + 1 >= outlen || n >= SERIAL_MAX)
            return false;
        if (!isdigit((unsigned char)*p))
            digits_only = false;
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = '\0';
    if (n < SERIAL_MIN)
        return false;
    return !(digits_only && n == IMEI_DIGITS) || luhn_ok(out);
}

/* A token made by util_random_token(TOKEN_BYTES): url-safe base64 without padding. */
static bool token_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < TOKEN_BYTES || n > TOKEN_TEXT_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

/* Replies 404 naming `name` unless the path parameter is a numeric id. */
static const char *id_param(struct req *r, const char *name)
{
    const char *v = http_param(r, name);
    if (!util_is_id(v)) {
        http_reply_error(r, 404, "not_found", name, "no such %s", name);
        return NULL;
    }
    return v;
}

/* ---- replies ---- */

/* The body as one compact JSON text for SQL (an empty object when there is none); caller frees. */
static char *body_text(struct req *r)
{
    return r->json ? json_dumps(r->json, JSON_COMPACT) : strdup("{}");
}

static bool require_body(struct req *r)
{
    if (!r->json) {
        http_reply_error(r, 400, "missing_body", "body", "a JSON object body is required");
        return false;
    }
    return true;
}

/* Staff calls: (actor, store, body, request id) -> one function, `status` on success. */
static void staff_call(struct req *r, struct sql_stmt *stmt, bool with_body, int status)
{
    const char *store = id_param(r, "store");
    const char *params[4];
    char *body = NULL;

    if (!store || (with_body && !require_body(r)))
        return;
    if (with_body && !(body = body_text(r))) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = body;
    params[3] = r->id;
    db_query(stmt, params, status == 201 ? http_db_created : http_db_ok, r);
    free(body);
}

/* ---- public reads ---- */

void booking_stores_list(struct req *r)
{
    db_query(&q_stores, NULL, http_db_ok, r);
}

void booking_store_get(struct req *r)
{
    const char *store = id_param(r, "store");
    const char *params[1] = {store};
    if (store)
        db_query(&q_store, params, http_db_ok, r);
}

void booking_services_list(struct req *r)
{
    const char *store = id_param(r, "store");
    const char *params[1] = {store};
    if (store)
        db_query(&q_services, params, http_db_ok, r);
}

void booking_availability(struct req *r)
{
    const char *store = id_param(r, "store");
    const char *params[4];

    if (!store)
        return;
    params[0] = store;
    params[1] = http_query(r, "service");
    params[2] = http_query(r, "from");
    params[3] = http_query(r, "to");
    db_query(&q_availability, params, http_db_ok, r);
}

/* ---- booking ---- */

struct booking_ctx {
    struct req *r;
    char token[TOKEN_TEXT_MAX];
    unsigned char seal_key[crypto_secretbox_KEYBYTES];
    bool idempotent;
};

static void booking_ctx_free(void *p)
{
    struct booking_ctx *b = p;
    sodium_memzero(b, sizeof(*b));
    free(b);
}

/* Hex of nonce || secretbox(token) under b->seal_key, malloc'd (caller frees), or NULL. */
static char *seal_token(const struct booking_ctx *b)
{
    size_t tlen = strlen(b->token);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + tlen;
    unsigned char *box = malloc(blen);
    char *hex = malloc(blen * 2 + 1);

    if (!box || !hex)
        goto fail;
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)b->token, tlen,
                          box, b->seal_key);
    sodium_bin2hex(hex, blen * 2 + 1, box, blen);
    free(box);
    return hex;
fail:
    free(box);
    free(hex);
    return NULL;
}

/* Opens what seal_token made into `out`; -1 when it does not open with this key. */
static int unseal_token(const struct booking_ctx *b, const char *hex, char *out, size_t outlen)
{
    unsigned char box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + TOKEN_TEXT_MAX];
    size_t blen = 0;

    if (sodium_hex2bin(box, sizeof(box), hex, strlen(hex), NULL, &blen, NULL) < 0 ||
        blen <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return -1;
    if (blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES >= outlen)
        return -1;
    if (crypto_secretbox_open_easy((unsigned char *)out, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, b->seal_key) < 0)
        return -1;
    out[blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES] = '\0';
    return 0;
}

/* SQL answers {"status", "body", "sealed"?, "replayed"?}; a success gets the link added. */
static void on_booked(const struct db_result *res, void *arg)
{
    struct booking_ctx *b = arg;
    struct req *r = b->r;
    json_t *env, *body;
    const char *sealed;
    char token[TOKEN_TEXT_MAX];
    char *url = NULL;
    int status;

    if (res->status != DB_OK || PQgetisnull(res->res, 0, 0)) {
        http_reply_db_error(r, res);
        return;
    }
    env = json_loads(PQgetvalue(res->res, 0, 0), 0, NULL);
    body = env ? json_object_get(env, "body") : NULL;
    status = env ? (int)json_integer_value(json_object_get(env, "status")) : 0;
    if (!body || status < 200) {
        http_reply_error(r, 500, "internal", NULL, "unexpected booking result");
        goto out;
    }
    json_incref(body);
    if (json_is_true(json_object_get(env, "replayed")))
        http_add_header(r, "Idempotent-Replayed", "true");
    if (status == 201) {
        sealed = json_string_value(json_object_get(env, "sealed"));
        snprintf(token, sizeof(token), "%s", b->token);
        if (sealed && unseal_token(b, sealed, token, sizeof(token)) < 0) {
            json_decref(body);
            http_reply_error(r, 500, "internal", NULL, "stored booking link does not open");
            goto out;
        }
        if (asprintf(&url, "%s/manage/#%s", config.public_url, token) < 0)
            url = NULL;
        json_object_set_new(body, "manage_token", json_string(token));
        json_object_set_new(body, "manage_url", url ? json_string(url) : json_null());
        sodium_memzero(token, sizeof(token));
        free(url);
    }
    http_reply_jansson(r, status, body);
out:
    if (env)
        json_decref(env);
}

/* Reads an optional string member; replies 422 and returns -1 when it is not a string or is too
 * long (`max` characters). *out is NULL when absent, null or blank. */
static int opt_string(struct req *r, const char *name, size_t max, const char **out)
{
    json_t *v = json_object_get(r->json, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        http_reply_error(r, 422, "invalid", name, "%s must be a string", name);
        return -1;
    }
    if (utf8_chars(json_string_value(v)) > max) {
        http_reply_error(r, 422, "too_long", name, "%s is longer than %zu characters", name, max);
        return -1;
    }
    if (!all_space(json_string_value(v)))
        *out = json_string_value(v);
    return 0;
}

/* Validates and normalises the customer's booking; NULL after replying with the error. */
static json_t *booking_input(struct req *r)
{
    json_t *service = json_object_get(r->json, "service_id");
    json_t *starts = json_object_get(r->json, "starts_at");
    const char *name, *email, *phone, *serial, *problem;
    char phone_n[PHONE_MAX_DIGITS + 2], serial_n[SERIAL_MAX + 1];
    json_t *in;

    if (!json_is_integer(service) || json_integer_value(service) <= 0) {
        http_reply_error(r, 422, "invalid", "service_id", "a service id is required");
        return NULL;
    }
    if (!json_is_string(starts) || json_string_length(starts) == 0 ||
        json_string_length(starts) > 64) {
        http_reply_error(r, 422, "invalid", "starts_at", "a slot start time is required");
        return NULL;
    }
    if (opt_string(r, "name", NAME_MAX_CHARS, &name) < 0 ||
        opt_string(r, "email", EMAIL_MAX, &email) < 0 || opt_string(r, "phone", 64, &phone) < 0 ||
        opt_string(r, "serial", 64, &serial) < 0 ||
        opt_string(r, "problem", PROBLEM_MAX_CHARS, &problem) < 0)
        return NULL;
    if (!name) {
        http_reply_error(r, 422, "invalid", "name", "a name is required");
        return NULL;
    }
    if (!email && !phone) {
        http_reply_error(r, 422, "contact_required", "email",
                         "an email or a phone number is required");
        return NULL;
    }
    if (email && !booking_email_ok(email)) {
        http_reply_error(r, 422, "invalid", "email", "that email address is not valid");
        return NULL;
    }
    if (phone && !booking_phone_normalise(phone, phone_n, sizeof(phone_n))) {
        http_reply_error(r, 422, "invalid", "phone",
                         "a phone number is + and 7 to 15 digits, e.g. +33 6 12 34 56 78");
        return NULL;
    }
    if (serial && !booking_serial_normalise(serial, serial_n, sizeof(serial_n))) {
        http_reply_error(
            r, 422, "invalid", "serial",
            "a serial is 5 to 32 letters and digits; an IMEI must pass its check digit");
        return NULL;
    }
    in = json_pack("{sOsOssssssssss?}", "service_id", service, "starts_at", starts, "name", name,
                   "email", email ? email : "", "phone", phone ? phone_n : "", "serial",
                   serial ? serial_n : "", "problem", problem);
    if (!in)
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
    return in;
}

/* Empty strings mean "not given": SQL stores NULL for them. */
static void drop_empty(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (v && !*v)
        json_object_del(o, key);
}

void booking_create(struct req *r)
{
    const char *store = id_param(r, "store");
    const char *key = http_header(r, "Idempotency-Key");
    struct booking_ctx *b = NULL;
    json_t *in = NULL;
    char *body = NULL, *sealed = NULL, *material = NULL;
    char token_hash[65], idem_hash[65];
    const char *params[7];

    if (!store || !require_body(r))
        return;
    if (key) {
        size_t n = strlen(key);
        bool printable = n > 0 && n <= IDEM_KEY_MAX;
        for (size_t i = 0; printable && i < n; i++)
            printable = isgraph((unsigned char)key[i]);
        if (!printable) {
            http_reply_error(r, 400, "invalid", "Idempotency-Key",
                             "an Idempotency-Key is 1 to %d visible characters", IDEM_KEY_MAX);
            return;
        }
    }
    if (!(in = booking_input(r)))
        return;
    drop_empty(in, "email");
    drop_empty(in, "phone");
    drop_empty(in, "serial");
    b = calloc(1, sizeof(*b));
    if (!b)
        goto oom;
    /* From here the request owns b and frees it with the reply. */
    b->r = r;
    r->state = b;
    r->state_free = booking_ctx_free;
    if (!(body = json_dumps(in, JSON_COMPACT)))
        goto oom;
    util_random_token(b->token, sizeof(b->token), TOKEN_BYTES);
    util_token_hash(b->token, token_hash);
    if (key) {
        /* Two derivations of (store, key): one names the record, the other seals the link. */
        b->idempotent = true;
        if (asprintf(&material, "carnet-idempotency:%s:%s", store, key) < 0) {
            material = NULL;
            goto oom;
        }
        util_token_hash(material, idem_hash);
        crypto_generichash(b->seal_key, sizeof(b->seal_key), (const unsigned char *)material,
                           strlen(material), (const unsigned char *)"seal", 4);
        if (!(sealed = seal_token(b)))
            goto oom;
    }
    params[0] = store;
    params[1] = body;
    params[2] = token_hash;
    params[3] = key ? idem_hash : NULL;
    params[4] = sealed;
    params[5] = r->id;
    params[6] = b->token;
    db_query(&q_create, params, on_booked, b);
    goto out;
oom:
    http_reply_error(r, 503, "overloaded", NULL, "out of memory");
out:
    if (material) {
        sodium_memzero(material, strlen(material));
        free(material);
    }
    free(sealed);
    free(body);
    json_decref(in);
}

/* ---- the customer's link ---- */

/* Hashes the {token} path parameter into `hash`; replies 404 when it cannot be one of ours. */
static bool token_param(struct req *r, char hash[65])
{
    const char *token = http_param(r, "token");
    if (!token_ok(token)) {
        http_reply_error(r, 404, "not_found", "token", "this link is unknown or has expired");
        return false;
    }
    util_token_hash(token, hash);
    return true;
}

void booking_manage_get(struct req *r)
{
    char hash[65];
    const char *params[1] = {hash};
    if (token_param(r, hash))
        db_query(&q_manage_get, params, http_db_ok, r);
}

void booking_manage_reschedule(struct req *r)
{
    char hash[65];
    const char *params[2] = {hash, NULL};
    char *body;

    if (!token_param(r, hash) || !require_body(r))
        return;
    if (!(body = body_text(r))) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    params[1] = body;
    db_query(&q_manage_reschedule, params, http_db_ok, r);
    free(body);
}

void booking_manage_cancel(struct req *r)
{
    char hash[65];
    const char *params[1] = {hash};
    if (token_param(r, hash))
        db_query(&q_manage_cancel, params, http_db_ok, r);
}

/* ---- staff ---- */

void booking_day(struct req *r)
{
    const char *store = id_param(r, "store");
    const char *params[4];

    if (!store)
        return;
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = http_query(r, "date");
    params[3] = r->id;
    db_query(&q_day, params, http_db_ok, r);
}

/* A staff write on one object of the store: (actor, store, the object's id, body, request id). */
static void store_object_call(struct req *r, struct sql_stmt *stmt, const char *param)
{
    const char *store = id_param(r, "store");
    const char *obj = store ? id_param(r, param) : NULL;
    const char *params[5];
    char *body;

    if (!obj || !require_body(r))
        return;
    if (!(body = body_text(r))) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = obj;
    params[3] = body;
    params[4] = r->id;
    db_query(stmt, params, http_db_ok, r);
    free(body);
}

void booking_staff_reschedule(struct req *r)
{
    store_object_call(r, &q_staff_reschedule, "id");
}

void booking_staff_cancel(struct req *r)
{
    const char *store = id_param(r, "store");
    const char *id = store ? id_param(r, "id") : NULL;
    const char *params[4];

    if (!id)
        return;
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = id;
    params[3] = r->id;
    db_query(&q_staff_cancel, params, http_db_ok, r);
}

/* ---- managers ---- */

void booking_set_hours(struct req *r)
{
    staff_call(r, &q_set_hours, true, 200);
}

void booking_add_closure(struct req *r)
{
    staff_call(r, &q_add_closure, true, 201);
}

void booking_add_service(struct req *r)
{
    staff_call(r, &q_add_service, true, 201);
}

void booking_add_shift(struct req *r)
{
    staff_call(r, &q_add_shift, true, 201);
}

void booking_set_skills(struct req *r)
{
    store_object_call(r, &q_set_skills, "staff");
}

void booking_shifts_list(struct req *r)
{
    const char *store = id_param(r, "store");
    const char *params[4];

    if (!store)
        return;
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = http_query(r, "from");
    params[3] = http_query(r, "to");
    db_query(&q_shifts, params, http_db_ok, r);
}

void booking_delete_shift(struct req *r)
{
    const char *store = id_param(r, "store");
    const char *id = store ? id_param(r, "id") : NULL;
    const char *params[4];

    if (!id)
        return;
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = id;
    params[3] = r->id;
    db_query(&q_delete_shift, params, http_db_ok, r);
}
