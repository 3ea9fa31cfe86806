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
#include "worker.h"
#include "util.h"

#define HASH_BYTES crypto_hash_sha256_BYTES
#define HASH_HEX_LEN (HASH_BYTES * 2)
#define RECORD_PAGE_DEFAULT "50"
#define RECORD_PAGE_MAX 200
#define SEARCH_DEFAULT "20"
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

/* ---- shared helpers ---- */

bool device_need_body(struct req *r)
{
    if (r->json)
        return true;
    http_reply_error(r, 400, "missing_body", "body", "send a JSON object");
    return false;
}

bool device_id_param(struct req *r, const char *name, char out[24])
{
    const char *v = http_param(r, name);
    if (!util_is_digits(v, UTIL_ID_MAX_DIGITS)) {
        http_reply_error(r, 404, "not_found", name, "no such %s", name);
        return false;
    }
    snprintf(out, 24, "%s", v);
    return true;
}

void device_db_reply(struct req *r, struct sql_stmt *stmt, const char *const *params, int status)
{
    api_send(r, stmt, params, status);
}

/* The serial from the path, or NULL after replying 422. Normalisation happens in SQL. */
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

/* Reads an optional positive integer query parameter bounded by `max` (0: any 18-digit id). */
static bool query_int(struct req *r, const char *name, long long max, const char **out)
{
    const char *v = http_query(r, name);
    if (!v)
        return true;
    if (!util_is_digits(v, UTIL_ID_MAX_DIGITS) || atoll(v) < 1 || (max > 0 && atoll(v) > max)) {
        if (max > 0)
            http_reply_error(r, 422, "invalid", name, "%s is a whole number from 1 to %lld", name,
                             max);
        else
            http_reply_error(r, 422, "invalid", name, "%s is an entry id", name);
        return false;
    }
    *out = v;
    return true;
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

/* Dumps the body for SQL, runs `stmt` with (actor, serial, body, request id). */
static void call_with_body(struct req *r, struct sql_stmt *stmt, const char *serial, int status)
{
    char *body = json_dumps(r->json, JSON_COMPACT);
    const char *params[4] = {r->who.staff_id, serial, body, r->id};
    if (!body) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    device_db_reply(r, stmt, params, status);
    free(body);
}

/* ---- handlers ---- */

void device_search(struct req *r)
{
    const char *q = http_query(r, "q");
    const char *limit = SEARCH_DEFAULT;
    const char *params[4];

    if (!q || !*q || strlen(q) > SEARCH_QUERY_MAX) {
        http_reply_error(r, 422, "invalid", "q",
                         "search for a serial, an email, a phone or a repair number");
        return;
    }
    if (!query_int(r, "limit", SEARCH_MAX, &limit))
        return;
    params[0] = r->who.staff_id;
    params[1] = q;
    params[2] = limit;
    params[3] = r->id;
    device_db_reply(r, &q_search, params, 200);
}

void device_record(struct req *r)
{
    const char *serial = serial_param(r);
    const char *before = NULL, *limit = RECORD_PAGE_DEFAULT;
    const char *params[5];

    if (!serial || !query_int(r, "before", 0, &before) ||
        !query_int(r, "limit", RECORD_PAGE_MAX, &limit))
        return;
    params[0] = r->who.staff_id;
    params[1] = serial;
    params[2] = before;
    params[3] = limit;
    params[4] = r->id;
    device_db_reply(r, &q_record, params, 200);
}

/* PUT answers 201 when it created the device, 200 when it updated (or found) it. */
static void on_put(struct req *r, const struct db_result *res)
{
    json_t *j;
    int status;

    if (res->status != DB_OK || db_rows(res) < 1 || db_isnull(res, 0, 0)) {
        api_reply_result(r, 200, res);
        return;
    }
    j = json_loads(db_value(res, 0, 0), 0, NULL);
    if (!j) {
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return;
    }
    status = json_is_true(json_object_get(j, "created")) ? 201 : 200;
    http_reply_jansson(r, status, j);
}

void device_put(struct req *r)
{
    const char *serial = serial_param(r);
    json_t *model, *end;
    char *body;
    const char *params[4];

    if (!serial || !device_need_body(r))
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
    body = json_dumps(r->json, JSON_COMPACT);
    if (!body) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    params[0] = r->who.staff_id;
    params[1] = serial;
    params[2] = body;
    params[3] = r->id;
    api_call(r, &q_put, params, on_put);
    free(body);
}

void device_owner_add(struct req *r)
{
    const char *serial = serial_param(r);
    if (!serial || !device_need_body(r) || !check_store_field(r, true))
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
    if (!serial || !device_need_body(r) || !check_store_field(r, true))
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
    if (!serial || !device_need_body(r) || !check_store_field(r, true))
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
    const char *metric = http_query(r, "metric");
    const char *params[4];

    if (!serial)
        return;
    if (metric && (!*metric || strlen(metric) > METRIC_NAME_MAX)) {
        http_reply_error(r, 422, "invalid", "metric", "a measured value's name");
        return;
    }
    params[0] = r->who.staff_id;
    params[1] = serial;
    params[2] = metric;
    params[3] = r->id;
    device_db_reply(r, &q_trends, params, 200);
}

void device_note_add(struct req *r)
{
    const char *serial = serial_param(r);
    json_t *corrects;

    if (!serial || !device_need_body(r) || !check_store_field(r, false))
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
            out->broken_at = e->id;
            out->reason = "hash_mismatch";
            return -1;
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
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    r->state = v;
    r->state_free = verify_free;
    params[0] = r->who.staff_id;
    params[1] = serial;
    params[2] = r->id;
    api_call(r, &q_chain, params, on_chain);
}
