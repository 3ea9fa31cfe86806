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
#include "http.h"
#include "log.h"
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

static struct sql_stmt q_search =
    SQL_STMT("device_search", "select device_search($1, $2, $3, $4)", 4);
static struct sql_stmt q_record =
    SQL_STMT("device_record", "select device_record($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_put = SQL_STMT("device_put", "select device_put($1, $2, $3, $4)", 4);
static struct sql_stmt q_owner =
    SQL_STMT("device_owner_add", "select device_owner_add($1, $2, $3, $4)", 4);
static struct sql_stmt q_diag =
    SQL_STMT("device_diagnostic_add", "select device_diagnostic_add($1, $2, $3, $4)", 4);
static struct sql_stmt q_import =
    SQL_STMT("device_diagnostic_import", "select device_diagnostic_import($1, $2, $3, $4)", 4);
static struct sql_stmt q_trends =
    SQL_STMT("device_trends", "select device_trends($1, $2, $3, $4)", 4);
static struct sql_stmt q_note =
    SQL_STMT("device_note_add", "select device_note_add($1, $2, $3, $4)", 4);
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

/* Runs `stmt` with (actor, serial, body as received, request id) and replies with its JSON. */
static void call_with_body(struct req *r, struct sql_stmt *stmt, const char *serial, int status)
{
    const char *params[4] = {r->who.staff_id, serial, api_body(r), r->id};
    api_send(r, stmt, params, status);
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
    const char *params[4] = {r->who.staff_id, q, limit, r->id};
    api_send(r, &q_search, params, 200);
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
    api_send(r, &q_record, params, 200);
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

void device_owner_add(struct req *r)
{
    const char *serial = serial_param(r);
    if (!serial || !api_need_body(r) || !check_store_field(r, true))
        return;
    if (!json_is_string(json_object_get(r->json, "name"))) {
        http_reply_error(r, 422, "invalid", "owner.name", "the owner's name is required");
        return;
    }
    call_with_body(r, &q_owner, serial, 201);
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
    call_with_body(r, &q_diag, serial, 201);
}

void device_diagnostic_import(struct req *r)
{
    const char *serial = serial_param(r);
    if (!serial || !api_need_body(r) || !check_store_field(r, true))
        return;
    if (!json_is_object(json_object_get(r->json, "report"))) {
        http_reply_error(r, 422, "invalid", "report", "report: the diagnostics tool's JSON report");
        return;
    }
    call_with_body(r, &q_import, serial, 201);
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
    api_send(r, &q_trends, params, 200);
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
    call_with_body(r, &q_note, serial, 201);
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
    json_t *row;
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
