/*
 * device: handlers for devices and their health record.
 *
 * Each handler checks what C can check cheaply (a body is present, top-level types, lengths,
 * query parameters) and then makes one SQL call (schema/003_device.sql) that is the whole
 * transaction: serial normalisation, store scoping, the append to the hash-chained record and
 * the audit line all happen there, so there is one place where those rules hold.
 *
 * Verification is the exception that runs in C on purpose: the chain is written by PostgreSQL
 * (sha256() under the device lock, so appends stay race-free and one round trip), and carnetd
 * recomputes it with libsodium from the stored rows. A rewrite in the database therefore cannot
 * also rewrite the code that checks it. The recomputation runs on a worker thread: a device with
 * thousands of entries is megabytes of hashing that must not stall the event loop.
 */
#include "device.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "diagimport.h"
#include "http.h"
#include "log.h"
#include "seal.h"
#include "util.h"
#include "worker.h"

#define HASH_BYTES crypto_hash_sha256_BYTES
#define HASH_HEX_LEN (HASH_BYTES * 2)
#define RECORD_PAGE_DEFAULT 50
#define RECORD_PAGE_MAX 200
#define SEARCH_DEFAULT 20
#define SEARCH_MAX 100
#define SEARCH_QUERY_MAX 254
#define METRIC_NAME_MAX 64
#define OWNER_NAME_MAX 200
#define OWNER_EMAIL_MAX 254
#define PHONE_DIGITS_MIN 6
#define PHONE_DIGITS_MAX 15

static struct sql_stmt q_search =
    SQL_STMT("device_search", "select device_search($1, $2, $3, $4, $5, $6, $7)", 7);
static struct sql_stmt q_record =
    SQL_STMT("device_record", "select device_record($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_put = SQL_STMT("device_put", "select device_put($1, $2, $3, $4)", 4);
static struct sql_stmt q_owner =
    SQL_STMT("device_owner_add", "select device_owner_add($1, $2, $3, $4)", 4);
static struct sql_stmt q_diag = SQL_STMT(
    "device_diagnostic_add_keyed", "select device_diagnostic_add_keyed($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_import =
    SQL_STMT("device_diagnostic_import", "select device_diagnostic_import($1, $2, $3, $4)", 4);
static struct sql_stmt q_import_tool = SQL_STMT(
    "device_diagnostic_import_tool", "select device_diagnostic_import_tool($1, $2, $3, $4)", 4);
static struct sql_stmt q_trends =
    SQL_STMT("device_trends", "select device_trends($1, $2, $3, $4)", 4);
/* The same reads in two, for a standby (api_send_audited_read): the read, and its audit row. */
static struct sql_stmt q_search_read =
    SQL_STMT("device_search_read", "select device_search_read($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_search_audit =
    SQL_STMT("device_search_audit", "select device_search_audit($1, $2, $3)", 3);
static struct sql_stmt q_record_read =
    SQL_STMT("device_record_read", "select device_record_read($1, $2, $3, $4)", 4);
static struct sql_stmt q_trends_read =
    SQL_STMT("device_trends_read", "select device_trends_read($1, $2)", 2);
static struct sql_stmt q_audit_read =
    SQL_STMT("device_audit_read", "select device_audit_read($1, $2, $3)", 3);
static struct sql_stmt q_conversations =
    SQL_STMT("message_device_conversations", "select message_device_conversations($1, $2, $3)", 3);
static struct sql_stmt q_note =
    SQL_STMT("device_note_add_keyed", "select device_note_add_keyed($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_chain = SQL_STMT("device_chain", "select device_chain($1, $2, $3)", 3);

/* The serial from the path, or NULL after replying 422: the one check every serial route makes
 * first, before it reads anything else of the request. Normalisation happens in SQL. */
static const char *serial_param(struct req *r)
{
    const char *s = http_param(r, "serial");
    if (!s || strlen(s) > DEVICE_SERIAL_RAW_MAX) {
        http_reply_error(r, 422, "bad_serial", "serial",
                         "a serial number has at most %d characters", DEVICE_SERIAL_RAW_MAX);
        return NULL;
    }
    return s;
}

struct import_state {
    enum diagimport_kind kind;
};

/* A body field that must be a store id when present (or always, when `required`). */
static bool check_store_field(struct req *r, bool required)
{
    json_t *v = json_object_get(r->json, "store_id");
    if ((!v && !required) || (json_is_null(v) && !required))
        return true;
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        http_reply_error(r, 422, "invalid", "store_id", "a store id is required");
        return false;
    }
    return true;
}

/* ---- owners: checked in clear, sealed before SQL ---- */

/* Characters (not bytes) of UTF-8 text. */
static size_t utf8_chars(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* A malloc'd copy of `s` without leading and trailing white space (NULL when out of memory). */
static char *trimmed(const char *s)
{
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1]))
        n--;
    while (n && strchr(" \t\r\n", *s)) {
        s++;
        n--;
    }
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* The rule the outbox can write to: local@domain.tld, no white space or angle brackets, one @. */
static bool email_ok(const char *e)
{
    const char *at = strchr(e, '@');
    size_t n = strlen(e);

    if (!at || at == e || strchr(at + 1, '@') || n > OWNER_EMAIL_MAX || strpbrk(e, " \t\r\n\v\f<>"))
        return false;
    /* a dot inside the domain, with something on both sides */
    for (const char *p = at + 2; *p; p++)
        if (*p == '.' && p[1])
            return true;
    return false;
}

int device_phone_normalize(const char *in, char *out, size_t outlen)
{
    size_t n = 0, digits = 0;
    for (const char *p = in; *p; p++) {
        if (!(*p >= '0' && *p <= '9') && *p != '+')
            continue;
        if (n + 1 >= outlen)
            return -1;
        if (*p != '+')
            digits++;
        else if (n > 0)
            return -1; /* a + only in front */
        out[n++] = *p;
    }
    out[n] = '\0';
    return digits >= PHONE_DIGITS_MIN && digits <= PHONE_DIGITS_MAX ? 0 : -1;
}

bool device_owner_seal(struct req *r, json_t *owner, const char *field)
{
    json_t *name = json_object_get(owner, "name"), *email = json_object_get(owner, "email"),
           *phone = json_object_get(owner, "phone");
    char f[64], ph[PHONE_DIGITS_MAX + 2];
    char *nm = NULL, *em = NULL;
    bool ok = false, has_phone = phone && !json_is_null(phone);

    if (!json_is_object(owner)) {
        http_reply_error(r, 422, "invalid", field, "an owner is {name, email?, phone?}");
        return false;
    }
    snprintf(f, sizeof(f), "%s.name", field);
    if (!json_is_string(name) || !(nm = trimmed(json_string_value(name))) ||
        utf8_chars(nm, strlen(nm)) < 1 || utf8_chars(nm, strlen(nm)) > OWNER_NAME_MAX) {
        if (json_is_string(name) && !nm)
            http_reply_oom(r);
        else
            http_reply_error(r, 422, "invalid", f, "a name of 1 to %d characters", OWNER_NAME_MAX);
        goto out;
    }
    snprintf(f, sizeof(f), "%s.email", field);
    if (email && !json_is_null(email)) {
        if (!json_is_string(email) || !(em = trimmed(json_string_value(email))) ||
            (*em && !email_ok(em))) {
            if (json_is_string(email) && !em)
                http_reply_oom(r);
            else
                http_reply_error(r, 422, "invalid", f, "an email address");
            goto out;
        }
        if (!*em) {
            free(em);
            em = NULL;
        }
    }
    if (has_phone && (!json_is_string(phone) ||
                      device_phone_normalize(json_string_value(phone), ph, sizeof(ph)) < 0)) {
        snprintf(f, sizeof(f), "%s.phone", field);
        http_reply_error(r, 422, "invalid", f, "a phone number of %d to %d digits",
                         PHONE_DIGITS_MIN, PHONE_DIGITS_MAX);
        goto out;
    }
    if (!em && !has_phone) {
        http_reply_error(r, 422, "required", f, "an email address or a phone number is required");
        goto out;
    }
    if (api_seal_member(owner, "name", nm, NULL, NULL) < 0 ||
        api_seal_member(owner, "email", em, "email", "email_bi") < 0 ||
        api_seal_member(owner, "phone", has_phone ? ph : NULL, "phone", "phone_bi") < 0) {
        http_reply_oom(r);
        goto out;
    }
    ok = true;
out:
    if (nm)
        sodium_memzero(nm, strlen(nm));
    if (em)
        sodium_memzero(em, strlen(em));
    sodium_memzero(ph, sizeof(ph));
    free(nm);
    free(em);
    return ok;
}

/* ---- handlers ---- */

void device_search(struct req *r)
{
    const char *q = http_query(r, "q");
    char limit[24];

    if (!q || !*q || strlen(q) > SEARCH_QUERY_MAX) {
        http_reply_error(r, 422, "invalid", "q",
                         "search for a serial, an email, a phone or a repair number");
        return;
    }
    if (!api_query_int(r, "limit", 1, SEARCH_MAX, SEARCH_DEFAULT, limit))
        return;
    /* Emails and phones rest sealed: SQL matches them by blind index, computed here from the
     * query read as an email, as an owner's phone (digits and a leading +, as stored) and as a
     * booking's phone (always with a +). A query that is neither gets no index. */
    char email_bi[SEAL_BLIND_HEX + 1], phone_bi[SEAL_BLIND_HEX + 1], aphone_bi[SEAL_BLIND_HEX + 1];
    char ph[SEARCH_QUERY_MAX + 2], aph[SEARCH_QUERY_MAX + 3];
    char *tq = trimmed(q);
    bool is_email = tq && strchr(tq, '@'),
         is_phone = !is_email && tq && device_phone_normalize(tq, ph, sizeof(ph)) == 0;
    if (!tq) {
        http_reply_oom(r);
        return;
    }
    if (is_phone)
        snprintf(aph, sizeof(aph), "+%s", ph[0] == '+' ? ph + 1 : ph);
    if ((is_email && seal_blind(0, "email", tq, email_bi) < 0) ||
        (is_phone && (seal_blind(0, "phone", ph, phone_bi) < 0 ||
                      seal_blind(0, "phone", aph, aphone_bi) < 0))) {
        free(tq);
        http_reply_error(r, 500, "internal", NULL, "the search could not be prepared");
        return;
    }
    free(tq);
    const char *params[7] = {r->who.staff_id,
                             q,
                             limit,
                             r->id,
                             is_email ? email_bi : NULL,
                             is_phone ? phone_bi : NULL,
                             is_phone ? aphone_bi : NULL};
    const char *rparams[6] = {params[0], params[1], params[2], params[4], params[5], params[6]};
    const char *aparams[3] = {r->who.staff_id, q, r->id};
    api_send_audited_read(r, (struct api_stmt){&q_search, params},
                          (struct api_stmt){&q_search_read, rparams},
                          (struct api_stmt){&q_search_audit, aparams});
}

void device_record(struct req *r)
{
    const char *serial = serial_param(r);
    char before[24], limit[24];

    if (!serial || !api_query_int(r, "before", 1, UTIL_ID_MAX, 0, before) ||
        !api_query_int(r, "limit", 1, RECORD_PAGE_MAX, RECORD_PAGE_DEFAULT, limit))
        return;
    const char *params[5] = {r->who.staff_id, serial, http_query(r, "before") ? before : NULL,
                             limit, r->id};
    const char *aparams[3] = {r->who.staff_id, serial, r->id};
    api_send_audited_read(r, (struct api_stmt){&q_record, params},
                          (struct api_stmt){&q_record_read, params},
                          (struct api_stmt){&q_audit_read, aparams});
}

/* PUT answers 201 when it created the device, 200 when it updated (or found) it. */
static void on_put(struct req *r, const struct db_result *res)
{
    json_t *j = api_result_object(r, res);
    if (j)
        http_reply_jansson(r, json_is_true(json_object_get(j, "created")) ? 201 : 200, j);
}

void device_put(struct req *r)
{
    const char *serial = serial_param(r);
    json_t *model, *end;

    if (!serial || !api_need_body(r))
        return;
    model = json_object_get(r->json, "model");
    end = json_object_get(r->json, "warranty_end");
    if (model && !json_is_null(model) && !json_is_string(model)) {
        http_reply_error(r, 422, "invalid", "model", "a model name");
        return;
    }
    if (end && !json_is_null(end) && !json_is_string(end)) {
        http_reply_error(r, 422, "invalid", "warranty_end", "a date, YYYY-MM-DD");
        return;
    }
    const char *params[4] = {r->who.staff_id, serial, api_body(r), r->id};
    api_call(r, &q_put, params, on_put);
}

/* The owner is checked and sealed here (device_owner_seal): SQL receives markers and blind
 * indexes, never the clear name, email or phone. */
void device_owner_add(struct req *r)
{
    const char *serial = serial_param(r);
    char *body;

    if (!serial || !api_need_body(r) || !check_store_field(r, true) ||
        !device_owner_seal(r, r->json, "owner"))
        return;
    if (!(body = json_dumps(r->json, JSON_COMPACT))) {
        http_reply_oom(r);
        return;
    }
    const char *params[4] = {r->who.staff_id, serial, body, r->id};
    api_send(r, &q_owner, params, 201);
    free(body);
}

void device_diagnostic_add(struct req *r)
{
    const char *serial = serial_param(r);
    if (!serial || !api_need_body(r) || !check_store_field(r, true))
        return;
    if (!json_is_array(json_object_get(r->json, "results"))) {
        http_reply_error(r, 422, "invalid", "results", "results: a list of test results");
        return;
    }
    /* With an Idempotency-Key (scoped to the actor) a retry answers the first session. */
    char key_hash[API_IDEM_HASH_HEX + 1], fingerprint[API_IDEM_HASH_HEX + 1];
    int k =
        api_idempotency(r, "carnet-idempotency-diagnostic", r->who.staff_id, key_hash, fingerprint);
    if (k < 0)
        return;
    const char *params[6] = {r->who.staff_id,       serial, api_body(r), r->id, k ? key_hash : NULL,
                             k ? fingerprint : NULL};
    api_send(r, &q_diag, params, 201);
}

/* The import answers what diag_store answers, and which kind of report it read. */
static void on_import(struct req *r, const struct db_result *res)
{
    json_t *j = api_result_object(r, res);
    struct import_state *st = r->state;
    if (!j)
        return;
    json_object_set_new(j, "kind", json_string(diagimport_kind_name(st->kind)));
    http_reply_jansson(r, 201, j);
}

static void import_state_free(void *p)
{
    free(p);
}

/* The store the report is for: ?store_id=, or store_id in Carnet's {store_id, report} body
 * (`wrapper`), which must then agree with the query. Writes its decimal text into `out`, or
 * replies 400/422 and returns false. */
static bool import_store(struct req *r, json_t *wrapper, char out[24])
{
    const char *q = http_query(r, "store_id");
    json_t *b = json_object_get(wrapper, "store_id");

    if (q && !api_query_int(r, "store_id", 1, UTIL_ID_MAX, 0, out))
        return false;
    if (b && !json_is_null(b)) {
        if (!json_is_integer(b) || json_integer_value(b) < 1) {
            http_reply_error(r, 422, "invalid", "store_id", "a store id is required");
            return false;
        }
        if (q && strtoll(out, NULL, 10) != json_integer_value(b)) {
            http_reply_error(r, 422, "invalid", "store_id",
                             "the query and the body name two different stores");
            return false;
        }
        snprintf(out, 24, "%lld", (long long)json_integer_value(b));
        return true;
    }
    if (!q) {
        http_reply_error(r, 422, "invalid", "store_id",
                         "a store id is required: ?store_id= names the store");
        return false;
    }
    return true;
}

/* The body is the tool's report as the tool wrote it (an upload route: raw bytes, router.h),
 * read by diagimport.c. Carnet's own format goes to its SQL importer as before, whole; a tool's
 * report goes as the session diagimport built from it. */
void device_diagnostic_import(struct req *r)
{
    const char *serial = serial_param(r);
    struct diagimport_error err;
    struct import_state *st;
    enum diagimport_kind kind;
    json_t *doc = NULL, *body = NULL;
    char store[24], *text = NULL;
    bool wrapped;

    if (!serial)
        return;
    if (r->body_len > (size_t)config.max_body_bytes) {
        http_reply_error(r, 413, "body_too_large", "body",
                         "the request body is larger than %d bytes", config.max_body_bytes);
        return;
    }
    if (r->body_len == 0) {
        http_reply_error(r, 400, "missing_body", "body",
                         "send the tool's report as the body: " DIAGIMPORT_KINDS);
        return;
    }
    if (diagimport_read(r->body, r->body_len, &kind, &doc, &err) < 0) {
        if (err.status == 500) {
            http_reply_oom(r);
        } else if (strcmp(err.code, "unknown_report") == 0) {
            json_t *extra =
                json_pack("{s[ssss]}", "kinds", "carnet", "smartctl", "system_profiler", "upower");
            http_reply_error_extra(r, err.status, err.code, err.field, err.message, extra);
            json_decref(extra);
        } else {
            http_reply_error(r, err.status, err.code, err.field, "%s", err.message);
        }
        return;
    }
    /* What was read goes to SQL and comes back in replies, which open sealed markers: no text
     * from outside may hold one (dispatch.c says why). */
    if (api_json_has_marker(doc)) {
        http_reply_error(r, 422, "invalid", "report",
                         "text shaped like carnet's sealed data is not accepted");
        goto out;
    }
    /* Carnet's report goes to SQL as {store_id, report}, as it may also be sent. */
    wrapped = kind == DIAGIMPORT_CARNET && json_object_get(doc, "report");
    body =
        kind == DIAGIMPORT_CARNET && !wrapped ? json_pack("{sO}", "report", doc) : json_incref(doc);
    if (!body) {
        http_reply_oom(r);
        goto out;
    }
    if (!import_store(r, wrapped ? doc : NULL, store))
        goto out;
    if (json_object_set_new(body, "store_id", json_integer(strtoll(store, NULL, 10))) < 0 ||
        !(text = json_dumps(body, JSON_COMPACT)) || !(st = calloc(1, sizeof(*st)))) {
        http_reply_oom(r);
        goto out;
    }
    st->kind = kind;
    r->state = st;
    r->state_free = import_state_free;
    const char *params[4] = {r->who.staff_id, serial, text, r->id};
    api_call(r, kind == DIAGIMPORT_CARNET ? &q_import : &q_import_tool, params, on_import);
out:
    free(text);
    json_decref(body);
    json_decref(doc);
}

void device_trends(struct req *r)
{
    const char *serial = serial_param(r);
    const char *metric;

    if (!serial)
        return;
    metric = http_query(r, "metric");
    if (metric && (!*metric || strlen(metric) > METRIC_NAME_MAX)) {
        http_reply_error(r, 422, "invalid", "metric", "a measured value's name");
        return;
    }
    const char *params[4] = {r->who.staff_id, serial, metric, r->id};
    const char *aparams[3] = {r->who.staff_id, serial, r->id};
    api_send_audited_read(r, (struct api_stmt){&q_trends, params},
                          (struct api_stmt){&q_trends_read, params + 1},
                          (struct api_stmt){&q_audit_read, aparams});
}

/* The messages with customers about the device, at every store (schema/api/messages.sql). */
void device_conversations(struct req *r)
{
    const char *serial = serial_param(r);
    if (!serial)
        return;
    const char *params[3] = {r->who.staff_id, serial, r->id};
    api_send(r, &q_conversations, params, 200);
}

void device_note_add(struct req *r)
{
    const char *serial = serial_param(r);
    json_t *corrects;

    if (!serial || !api_need_body(r) || !check_store_field(r, false))
        return;
    if (!json_is_string(json_object_get(r->json, "text"))) {
        http_reply_error(r, 422, "invalid", "text", "the note's text is required");
        return;
    }
    corrects = json_object_get(r->json, "corrects");
    if (corrects && !json_is_null(corrects) &&
        (!json_is_integer(corrects) || json_integer_value(corrects) < 1)) {
        http_reply_error(r, 422, "invalid", "corrects", "the id of the entry this corrects");
        return;
    }
    /* A tablet resends its offline notes with their Idempotency-Key (scoped to the actor). */
    char key_hash[API_IDEM_HASH_HEX + 1], fingerprint[API_IDEM_HASH_HEX + 1];
    int k = api_idempotency(r, "carnet-idempotency-device-note", r->who.staff_id, key_hash,
                            fingerprint);
    if (k < 0)
        return;
    const char *params[6] = {r->who.staff_id,       serial, api_body(r), r->id, k ? key_hash : NULL,
                             k ? fingerprint : NULL};
    api_send(r, &q_note, params, 201);
}

/* ---- verification ---- */

static void hex_of(const unsigned char *bin, char out[HASH_HEX_LEN + 1])
{
    sodium_bin2hex(out, HASH_HEX_LEN + 1, bin, HASH_BYTES);
}

/* True when an "erasure" entry after entries[i] vouches for entries[i] as redacted: it names
 * the entry's id and stored hash, and the SHA-256 of the entry's canonical text as it is now. */
static bool redaction_vouched(const struct device_chain_entry *entries, size_t n, size_t i)
{
    const struct device_chain_entry *e = &entries[i];
    unsigned char digest[HASH_BYTES];
    char hex[HASH_HEX_LEN + 1];
    bool ok = false;

    if (!e->hash_hex)
        return false;
    crypto_hash_sha256(digest, (const unsigned char *)e->canonical, strlen(e->canonical));
    hex_of(digest, hex);
    for (size_t j = i + 1; j < n && !ok; j++) {
        json_t *doc, *list, *item;
        size_t k;

        if (!strstr(entries[j].canonical, "\"erasure\""))
            continue;
        doc = json_loads(entries[j].canonical, 0, NULL);
        if (!doc)
            continue;
        list = json_object_get(json_object_get(doc, "content"), "redacted");
        if (json_is_string(json_object_get(doc, "kind")) &&
            strcmp(json_string_value(json_object_get(doc, "kind")), "erasure") == 0) {
            json_array_foreach(list, k, item)
            {
                const char *h = json_string_value(json_object_get(item, "hash"));
                const char *c = json_string_value(json_object_get(item, "canonical_sha256"));
                if (json_integer_value(json_object_get(item, "entry")) == e->id && h && c &&
                    strcmp(h, e->hash_hex) == 0 && strcmp(c, hex) == 0) {
                    ok = true;
                    break;
                }
            }
        }
        json_decref(doc);
    }
    return ok;
}

int device_chain_check(const struct device_chain_entry *entries, size_t n, const char *head_hex,
                       long long head_entry, struct device_chain_report *out)
{
    unsigned char expect_prev[HASH_BYTES] = {0}; /* the first entry follows 32 zero bytes */
    unsigned char digest[HASH_BYTES];
    char hex[HASH_HEX_LEN + 1], expect_hex[HASH_HEX_LEN + 1];
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        const struct device_chain_entry *e = &entries[i];
        crypto_hash_sha256_state st;

        hex_of(expect_prev, expect_hex);
        if (!e->prev_hex || strcmp(e->prev_hex, expect_hex) != 0) {
            out->broken_at = e->id;
            out->reason = "prev_mismatch";
            return -1;
        }
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, expect_prev, sizeof(expect_prev));
        crypto_hash_sha256_update(&st, (const unsigned char *)e->canonical, strlen(e->canonical));
        crypto_hash_sha256_final(&st, digest);
        hex_of(digest, hex);
        if (!e->hash_hex || strcmp(hex, e->hash_hex) != 0) {
            /* A redacted entry: the chain goes on from its stored hash. */
            if (!redaction_vouched(entries, n, i) ||
                sodium_hex2bin(digest, sizeof(digest), e->hash_hex, strlen(e->hash_hex), NULL, NULL,
                               NULL) != 0) {
                out->broken_at = e->id;
                out->reason = "hash_mismatch";
                return -1;
            }
            out->redacted++;
        }
        memcpy(expect_prev, digest, sizeof(digest));
        out->checked++;
    }
    /* The device row remembers the last hash: entries removed from the end show up here. */
    hex_of(expect_prev, expect_hex);
    if (!head_hex || strcmp(head_hex, expect_hex) != 0) {
        out->broken_at = head_entry > 0 ? head_entry : -1;
        out->reason = "head_mismatch";
        return -1;
    }
    return 0;
}

struct verify {
    char *doc; /* device_chain()'s JSON, owned */
    json_t *reply;
    bool failed;
};

static void verify_free(void *p)
{
    struct verify *v = p;
    free(v->doc);
    if (v->reply)
        json_decref(v->reply);
    free(v);
}

static void verify_work(void *arg)
{
    struct verify *v = arg;
    json_t *doc = json_loads(v->doc, 0, NULL);
    json_t *list = json_object_get(doc, "entries");
    struct device_chain_entry *entries = NULL;
    struct device_chain_report rep;
    size_t n = json_array_size(list), i;
    json_t *row, *derived = NULL;
    int rc;

    if (!doc || !json_is_array(list) || (n && !(entries = calloc(n, sizeof(*entries))))) {
        v->failed = true;
        goto out;
    }
    json_array_foreach(list, i, row)
    {
        entries[i].id = (long long)json_integer_value(json_array_get(row, 0));
        entries[i].prev_hex = json_string_value(json_array_get(row, 1));
        entries[i].hash_hex = json_string_value(json_array_get(row, 2));
        entries[i].canonical = json_string_value(json_array_get(row, 3));
        if (!entries[i].canonical) {
            v->failed = true;
            goto out;
        }
    }
    rc =
        device_chain_check(entries, n, json_string_value(json_object_get(doc, "head")),
                           (long long)json_integer_value(json_object_get(doc, "head_entry")), &rep);
    /* Once the entries are proven, the rows derived from them (trends, repair states) must
     * agree with them; SQL compares, naming the entry each disagreeing row came from. */
    derived = json_object_get(doc, "derived");
    if (rc == 0 && json_array_size(derived) > 0) {
        rc = -1;
        rep.broken_at =
            (long long)json_integer_value(json_array_get(json_array_get(derived, 0), 0));
        rep.reason = "derived_mismatch";
    }
    v->reply = json_pack("{sOsbsIsIssss}", "serial", json_object_get(doc, "serial"), "ok", rc == 0,
                         "entries", (json_int_t)n, "checked", (json_int_t)rep.checked, "algorithm",
                         "sha256(prev_hash || canonical), recomputed with libsodium", "head",
                         json_string_value(json_object_get(doc, "head")));
    if (!v->reply) {
        v->failed = true;
        goto out;
    }
    json_object_set_new(v->reply, "broken_at",
                        rep.broken_at ? json_integer(rep.broken_at) : json_null());
    json_object_set_new(v->reply, "reason", rep.reason ? json_string(rep.reason) : json_null());
    if (json_is_array(derived))
        json_object_set(v->reply, "derived", derived);
    else
        json_object_set_new(v->reply, "derived", json_array());
    json_object_set_new(v->reply, "redacted", json_integer((json_int_t)rep.redacted));
out:
    free(entries);
    if (doc)
        json_decref(doc);
}

static void verify_done(struct req *r)
{
    struct verify *v = r->state;
    json_t *reply = v->reply;

    if (v->failed || !reply) {
        http_reply_error(r, 500, "internal", NULL, "the chain could not be read");
        return;
    }
    v->reply = NULL;
    http_reply_jansson(r, 200, reply);
}

static void on_chain(struct req *r, const struct db_result *res)
{
    struct verify *v = r->state;

    if (res->status != DB_OK || db_rows(res) < 1 || db_isnull(res, 0, 0)) {
        api_reply_result(r, 200, res);
        return;
    }
    v->doc = strdup(db_value(res, 0, 0));
    if (!v->doc) {
        http_reply_oom(r);
        return;
    }
    api_offload(r, WORKER_CPU, verify_work, verify_done);
}

void device_verify(struct req *r)
{
    const char *serial = serial_param(r);
    struct verify *v;
    const char *params[3];

    if (!serial)
        return;
    v = calloc(1, sizeof(*v));
    if (!v) {
        http_reply_oom(r);
        return;
    }
    r->state = v;
    r->state_free = verify_free;
    params[0] = r->who.staff_id;
    params[1] = serial;
    params[2] = r->id;
    api_call(r, &q_chain, params, on_chain);
}
