/*
 * api: see api.h. The handler steps every domain takes, written once, and the one mapping from
 * a PostgreSQL error to an HTTP answer.
 *
 * Errors raised by our SQL functions (carnet_fail) carry SQLSTATE CAnnn, nnn being the HTTP
 * status; MESSAGE is the machine-readable code, DETAIL the offending field or a JSON object of
 * extras (with "field"), HINT the human message. Other SQLSTATEs map by class below.
 */
#include "api.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "seal.h"
#include "util.h"

/* A pending query's hold on its request: the request and the callback to run. */
struct api_pending {
    struct req *r;
    api_cb cb;
};

const char *api_path_id(struct req *r, const char *name)
{
    const char *v = http_param(r, name);
    if (!util_is_id(v)) {
        http_reply_error(r, 404, "not_found", name, "no such %s", name);
        return NULL;
    }
    return v;
}

bool api_query_int(struct req *r, const char *name, long long min, long long max, long long def,
                   char out[24])
{
    const char *v = http_query(r, name);
    long long n = def;
    char *end;

    if (v) {
        errno = 0;
        n = strtoll(v, &end, 10);
        /* Digits only (an optional '-'): no spaces, no '+', no hex, no trailing text. */
        if (!*v || *end || errno || (v[0] != '-' && (v[0] < '0' || v[0] > '9')) || n < min ||
            n > max) {
            http_reply_error(r, 400, "bad_value", name,
                             "%s must be a whole number from %lld to %lld", name, min, max);
            return false;
        }
    }
    snprintf(out, 24, "%lld", n);
    return true;
}

bool api_query_bool(struct req *r, const char *name, bool def, const char **out)
{
    const char *v = http_query(r, name);
    bool b = def;
    if (v) {
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            b = true;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            b = false;
        else {
            http_reply_error(r, 400, "bad_value", name, "%s is true or false", name);
            return false;
        }
    }
    *out = b ? "true" : "false";
    return true;
}

bool api_query_format(struct req *r, bool *csv)
{
    const char *v = http_query(r, "format");
    *csv = v && strcmp(v, "csv") == 0;
    if (v && !*csv && strcmp(v, "json") != 0) {
        http_reply_error(r, 422, "invalid", "format", "format is json or csv");
        return false;
    }
    return true;
}

bool api_need_body(struct req *r)
{
    if (!r->json) {
        http_reply_error(r, 400, "missing_body", "body", "a JSON object body is required");
        return false;
    }
    return true;
}

const char *api_body(struct req *r)
{
    return r->json && r->body ? r->body : "{}";
}

static void on_answer(const struct db_result *res, void *arg)
{
    struct api_pending *p = arg;
    struct req *r = p->r;
    api_cb cb = p->cb;

    free(p);
    if (!http_replied(r))
        cb(r, res);
    http_req_release(r);
}

static void call_on(struct req *r, struct sql_stmt *stmt, const char *const *params, api_cb cb,
                    void (*query)(struct sql_stmt *, const char *const *, db_cb, void *))
{
    struct api_pending *p = malloc(sizeof(*p));
    if (!p) {
        http_reply_oom(r);
        return;
    }
    p->r = r;
    p->cb = cb;
    http_req_hold(r);
    query(stmt, params, on_answer, p);
}

void api_call(struct req *r, struct sql_stmt *stmt, const char *const *params, api_cb cb)
{
    call_on(r, stmt, params, cb, db_query);
}

static void reply_ok(struct req *r, const struct db_result *res)
{
    api_reply_result(r, 200, res);
}

static void reply_created(struct req *r, const struct db_result *res)
{
    api_reply_result(r, 201, res);
}

void api_send(struct req *r, struct sql_stmt *stmt, const char *const *params, int status)
{
    api_call(r, stmt, params, status == 201 ? reply_created : reply_ok);
}

void api_send_read(struct req *r, struct sql_stmt *stmt, const char *const *params)
{
    call_on(r, stmt, params, reply_ok, db_query_read);
}

void api_call_read(struct req *r, struct sql_stmt *stmt, const char *const *params, api_cb cb)
{
    call_on(r, stmt, params, cb, db_query_read);
}

/*
 * An answer's text as it may leave carnetd: its personal data opened (seal.h). Most answers hold
 * none, and are handed back as they are, without a copy (*opened NULL); one that does is opened
 * into a copy (*opened, for result_text_free). NULL when out of memory.
 */
static const char *open_text(struct req *r, const char *v, size_t *n, char **opened)
{
    int unreadable;

    *opened = NULL;
    if (!memmem(v, *n, "{{pd:", 5))
        return v;
    if (!(*opened = seal_open_json(v, *n, n, &unreadable)))
        return NULL;
    if (unreadable)
        rlog_warning(r, "%d personal field(s) could not be opened with the loaded keys",
                     unreadable);
    return *opened;
}

/* open_text of the first value of a result. */
static const char *result_text(struct req *r, const struct db_result *res, size_t *n, char **opened)
{
    *n = (size_t)db_length(res, 0, 0);
    return open_text(r, db_value(res, 0, 0), n, opened);
}

/* Erases and frees what result_text opened (clear personal data). */
static void result_text_free(char *opened, size_t n)
{
    if (opened) {
        sodium_memzero(opened, n);
        free(opened);
    }
}

/* Replies with the JSON text v (n bytes), its personal data opened. */
static void reply_text(struct req *r, int status, const char *v, size_t n)
{
    char *opened;
    const char *text = open_text(r, v, &n, &opened);
    if (!text) {
        http_reply_oom(r);
        return;
    }
    http_reply_json(r, status, text, n);
    result_text_free(opened, n);
}

static bool result_is_empty(const struct db_result *res)
{
    return db_rows(res) < 1 || db_cols(res) < 1 || db_isnull(res, 0, 0);
}

void api_reply_result(struct req *r, int status, const struct db_result *res)
{
    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    if (result_is_empty(res)) {
        http_reply_error(r, 404, "not_found", NULL, "no such object");
        return;
    }
    reply_text(r, status, db_value(res, 0, 0), (size_t)db_length(res, 0, 0));
}

/* An audited read split in two (api_send_audited_read): its two answers, in either order. */
struct audited_read {
    struct req *r;
    int waiting;  /* answers still to come */
    bool audited; /* the audit row is written */
    bool done;    /* the reply is decided (sent, or the request is gone) */
    char *text;   /* the read's answer, kept until the audit row is written */
    size_t n;
};

static void audited_read_end(struct audited_read *a)
{
    if (--a->waiting > 0)
        return;
    if (a->text) {
        sodium_memzero(a->text, a->n);
        free(a->text);
    }
    http_req_release(a->r);
    free(a);
}

static void on_audited_read(const struct db_result *res, void *arg)
{
    struct audited_read *a = arg;

    if (a->done || http_replied(a->r)) {
        a->done = true;
    } else if (res->status != DB_OK || result_is_empty(res) || a->audited) {
        /* A refusal or failure shows nothing, so it need not wait for the audit row. */
        api_reply_result(a->r, 200, res);
        a->done = true;
    } else {
        a->n = (size_t)db_length(res, 0, 0);
        if (!(a->text = malloc(a->n ? a->n : 1))) {
            http_reply_oom(a->r);
            a->done = true;
        } else {
            memcpy(a->text, db_value(res, 0, 0), a->n);
        }
    }
    audited_read_end(a);
}

static void on_audited_write(const struct db_result *res, void *arg)
{
    struct audited_read *a = arg;

    if (a->done || http_replied(a->r)) {
        a->done = true;
    } else if (res->status != DB_OK) {
        api_reply_db_error(a->r, res);
        a->done = true;
    } else {
        a->audited = true;
        if (a->text) {
            reply_text(a->r, 200, a->text, a->n);
            a->done = true;
        }
    }
    audited_read_end(a);
}

void api_send_audited_read(struct req *r, struct api_stmt both, struct api_stmt read,
                           struct api_stmt audit)
{
    struct db_read_stats rs;
    struct audited_read *a;

    /* Without a standby to read on, one round trip to the primary. */
    db_read_stats(&rs);
    if (!rs.usable) {
        api_send(r, both.stmt, both.params, 200);
        return;
    }
    if (!(a = calloc(1, sizeof(*a)))) {
        http_reply_oom(r);
        return;
    }
    a->r = r;
    a->waiting = 2;
    http_req_hold(r);
    db_query(audit.stmt, audit.params, on_audited_write, a);
    db_query_read(read.stmt, read.params, on_audited_read, a);
}

json_t *api_result_json(struct req *r, const struct db_result *res)
{
    size_t n;
    char *opened;
    const char *text = result_text(r, res, &n, &opened);
    json_t *j = text ? json_loadb(text, n, 0, NULL) : NULL;

    result_text_free(opened, n);
    return j;
}

json_t *api_result_object(struct req *r, const struct db_result *res)
{
    json_t *j;

    if (res->status != DB_OK || db_rows(res) < 1 || db_cols(res) < 1 || db_isnull(res, 0, 0)) {
        api_reply_result(r, 200, res); /* an error or 404: the status is not used */
        return NULL;
    }
    j = api_result_json(r, res);
    if (!json_is_object(j)) {
        if (j)
            json_decref(j);
        rlog_error(r, "the database answered something that is not a JSON object");
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return NULL;
    }
    return j;
}

#define CSV_DISPOSITION "attachment; filename=\"\""

static void reply_csv(struct req *r, const struct db_result *res)
{
    json_t *j = api_result_object(r, res);
    if (!j)
        return;
    const char *name = json_string_value(json_object_get(j, "filename"));
    json_t *csv = json_object_get(j, "csv");
    /* The name is SQL's, made of [A-Za-z0-9._-] only, so it needs no quoting rules. */
    size_t len = name ? sizeof CSV_DISPOSITION + strlen(name) : 0;
    char *disp = name ? malloc(len) : NULL;
    if (disp)
        snprintf(disp, len, "attachment; filename=\"%s\"", name);
    if (!json_is_string(csv) || !disp) {
        if (name && !disp)
            http_reply_oom(r);
        else
            http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
    } else {
        http_add_header(r, "Content-Disposition", disp);
        http_reply_raw(r, 200, "text/csv; charset=utf-8", json_string_value(csv),
                       json_string_length(csv));
    }
    free(disp);
    json_decref(j);
}

void api_send_csv(struct req *r, struct sql_stmt *stmt, const char *const *params)
{
    api_call(r, stmt, params, reply_csv);
}

void api_send_report(struct req *r, const struct api_report *rep)
{
    const char *store = NULL;
    const char *from, *to;
    char n[24];
    bool csv;
    if (!rep->no_store && !(store = api_path_id(r, "store")))
        return;
    if ((rep->count && !api_query_int(r, rep->count, 1, rep->count_max, rep->count_default, n)) ||
        !api_query_format(r, &csv))
        return;
    from = http_query(r, "from");
    to = http_query(r, "to");
    if (rep->count && rep->first && !from && !to && !csv) {
        const char *params[4] = {r->who.staff_id, store, n, r->id};
        api_send(r, rep->first, params, 200);
        return;
    }
    const char *params[7];
    size_t k = 0;
    params[k++] = r->who.staff_id;
    if (store)
        params[k++] = store;
    params[k++] = from;
    params[k++] = to;
    if (rep->count && rep->count_ranged)
        params[k++] = n;
    params[k++] = r->id;
    params[k] = http_query(r, "table");
    if (csv)
        api_send_csv(r, rep->csv, params);
    else
        api_send(r, rep->ranged, params, 200);
}

struct api_job {
    struct req *r;
    worker_fn work;
    void (*done)(struct req *r);
};

static void job_work(void *arg)
{
    struct api_job *j = arg;
    j->work(j->r->state);
}

static void job_done(void *arg)
{
    struct api_job *j = arg;
    struct req *r = j->r;
    void (*done)(struct req * r) = j->done;

    free(j);
    if (!http_replied(r))
        done(r);
    http_req_release(r);
}

void api_offload(struct req *r, enum worker_kind kind, worker_fn work, void (*done)(struct req *r))
{
    struct api_job *j = malloc(sizeof(*j));
    if (!j) {
        http_reply_oom(r);
        return;
    }
    j->r = r;
    j->work = work;
    j->done = done;
    http_req_hold(r);
    if (worker_submit(kind, job_work, job_done, j) < 0) {
        free(j);
        http_reply_oom(r); /* before letting go: the release may be the last reference */
        http_req_release(r);
    }
}

int api_status_for_sqlstate(const char *s)
{
    if (!s || strlen(s) != 5)
        return 500;
    /* Our own functions raise CAnnn where nnn is the HTTP status they mean. */
    if (s[0] == 'C' && s[1] == 'A') {
        int st = atoi(s + 2);
        return st >= 400 && st < 600 ? st : 500;
    }
    if (strcmp(s, "23505") == 0 || strcmp(s, "23P01") == 0)
        return 409; /* unique / exclusion: someone else got there first */
    if (strcmp(s, "23514") == 0 || strcmp(s, "23502") == 0 || strcmp(s, "23503") == 0)
        return 422;
    if (strncmp(s, "22", 2) == 0)
        return 400; /* data exceptions: a value that does not parse */
    if (util_sqlstate_transient(s))
        return 503; /* timeout, serialization, lost connection, shutting down: try again */
    return 500;
}

static const char *code_for_sqlstate(const char *s, int status)
{
    if (strcmp(s, "23505") == 0 || strcmp(s, "23P01") == 0)
        return "conflict";
    if (status == 422)
        return "invalid";
    if (status == 400)
        return "bad_value";
    if (strcmp(s, "57014") == 0)
        return "timeout";
    if (status == 503)
        return "retry";
    return "internal";
}

_Static_assert(API_IDEM_HASH_HEX == SEAL_BLIND_HEX, "an idempotency hash is a seal_keyed hash");

bool api_idem_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > API_IDEM_KEY_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isgraph((unsigned char)key[i]))
            return false;
    return true;
}

int api_idempotency(struct req *r, const char *label, const char *scope,
                    char key_hash[API_IDEM_HASH_HEX + 1], char fingerprint[API_IDEM_HASH_HEX + 1])
{
    const char *key = http_header(r, "Idempotency-Key");
    char *material = NULL, *body = NULL;
    int rc = -1;

    key_hash[0] = fingerprint[0] = '\0';
    if (!key)
        return 0;
    if (!api_idem_key_ok(key)) {
        http_reply_error(r, 400, "invalid", "Idempotency-Key",
                         "an Idempotency-Key is 1 to %d visible characters", API_IDEM_KEY_MAX);
        return -1;
    }
    if (asprintf(&material, "%s:%s", scope, key) < 0) {
        material = NULL;
        goto out;
    }
    if (seal_keyed(label, material, key_hash) < 0)
        goto out;
    util_wipe_free(material);
    material = NULL;
    /* The body holds personal data in clear: it only goes into the keyed hash, then is wiped. */
    body = r->json ? json_dumps(r->json, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    if (!body || asprintf(&material, "%s\n%s %s\n%s", key_hash, r->method, r->path, body) < 0) {
        material = NULL;
        goto out;
    }
    if (seal_keyed("carnet-idempotency-request", material, fingerprint) < 0)
        goto out;
    rc = 1;
out:
    util_wipe_free(material);
    util_wipe_free(body);
    if (rc < 0) {
        key_hash[0] = fingerprint[0] = '\0';
        http_reply_oom(r);
    }
    return rc;
}

void api_reply_db_error(struct req *r, const struct db_result *res)
{
    const char *state = res->sqlstate;

    switch (res->status) {
    case DB_ERR_BUSY:
    case DB_ERR_TIMEOUT:
        http_reply_retry(r, db_retry_after(), "overloaded",
                         "the server is busy, try again in a moment");
        return;
    case DB_ERR_CONN:
        http_reply_retry(r, 1, "database_unavailable",
                         "the database cannot be reached, try again in a moment");
        return;
    case DB_OK:
    case DB_ERR_SQL:
        break;
    }
    if (!res->res || !state) {
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return;
    }
    api_reply_sql_error(r, state, db_error_field(res, DB_ERROR_PRIMARY),
                        db_error_field(res, DB_ERROR_DETAIL), db_error_field(res, DB_ERROR_HINT),
                        db_error_field(res, DB_ERROR_CONSTRAINT));
}

void api_reply_sql_error(struct req *r, const char *state, const char *primary, const char *detail,
                         const char *hint, const char *constraint)
{
    int status = api_status_for_sqlstate(state);

    if (hint && !*hint)
        hint = NULL;
    if (state && state[0] == 'C' && state[1] == 'A') {
        /* Our convention: MESSAGE = code, DETAIL = field or a JSON object of extras (with
         * "field"), HINT = the human message. */
        const char *field = detail;
        json_t *extra = NULL;
        if (detail && detail[0] == '{') {
            extra = json_loads(detail, 0, NULL);
            field = extra ? json_string_value(json_object_get(extra, "field")) : NULL;
        }
        /* A refusal that says when to come back (a throttle) says it to HTTP clients too. */
        if (json_integer_value(json_object_get(extra, "retry_after")) > 0) {
            char v[24];
            snprintf(v, sizeof(v), "%lld",
                     (long long)json_integer_value(json_object_get(extra, "retry_after")));
            http_add_header(r, "Retry-After", v);
        }
        http_reply_error_extra(r, status, primary ? primary : "error", field, hint ? hint : primary,
                               extra);
        if (extra)
            json_decref(extra);
        return;
    }
    if (!state)
        state = "";
    if (status >= 500) {
        rlog_error(r, "database error %s: %s", state, primary ? primary : "");
        if (status == 503)
            http_reply_retry(r, 1, code_for_sqlstate(state, status),
                             "temporary database problem, try again");
        else
            http_reply_error(r, status, code_for_sqlstate(state, status), NULL, "internal error");
        return;
    }
    http_reply_error(r, status, code_for_sqlstate(state, status), constraint, "%s",
                     primary ? primary : "invalid value");
}

int api_seal_member(json_t *obj, const char *key, const char *plain, const char *bi_kind,
                    const char *bi_key)
{
    char bi[SEAL_BLIND_HEX + 1];
    char *marker;

    if (!plain) {
        /* No value: the member and its index are null, so nothing stale stays beside them. */
        if (json_object_set_new(obj, key, json_null()) < 0)
            return -1;
        return bi_kind ? json_object_set_new(obj, bi_key, json_null()) : 0;
    }
    if (!(marker = seal_pd(plain)) || json_object_set_new(obj, key, json_string(marker)) < 0) {
        free(marker);
        return -1;
    }
    free(marker);
    if (!bi_kind)
        return 0;
    if (seal_blind(0, bi_kind, plain, bi) < 0)
        return -1;
    return json_object_set_new(obj, bi_key, json_string(bi));
}

char *api_body_sealed_text(struct req *r, const char *key, size_t max, bool required,
                           const char *rule)
{
    json_t *v = r->json ? json_object_get(r->json, key) : NULL, *copy = NULL;
    const char *s = json_string_value(v);
    size_t len = json_string_length(v), chars = 0;
    char *trimmed = NULL, *out = NULL;

    /* (no NUL inside: the text is sealed as C text) */
    if ((v && !json_is_null(v) && !s) || (s && memchr(s, 0, len))) {
        http_reply_error(r, 422, "invalid", key, "%s", rule);
        return NULL;
    }
    if (s) {
        while (len && strchr(" \t\r\n", *s)) {
            s++;
            len--;
        }
        while (len && strchr(" \t\r\n", s[len - 1]))
            len--;
        for (size_t i = 0; i < len; i++)
            chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    }
    if (chars > max) {
        http_reply_error(r, 422, "invalid", key, "%s", rule);
        return NULL;
    }
    if (required && chars == 0) {
        http_reply_error(r, 422, "required", key, "%s", rule);
        return NULL;
    }
    if (!(copy = r->json ? json_deep_copy(r->json) : json_object()))
        goto oom;
    if (chars > 0) {
        if (!(trimmed = strndup(s, len)) || api_seal_member(copy, key, trimmed, NULL, NULL) < 0)
            goto oom;
    } else {
        json_object_del(copy, key);
    }
    if (!(out = json_dumps(copy, JSON_COMPACT)))
        goto oom;
    goto done;
oom:
    http_reply_oom(r);
done:
    if (trimmed)
        sodium_memzero(trimmed, len);
    free(trimmed);
    json_decref(copy);
    return out;
}

void api_initial(const char *name, char out[API_INITIAL_MAX])
{
    const unsigned char *p = (const unsigned char *)name;
    size_t n = 0;

    while (*p && isspace(*p))
        p++;
    if (!*p) {
        out[0] = '\0';
        return;
    }
    if (*p < 0x80) {
        out[n++] = (char)toupper(*p);
    } else if (*p == 0xC3 && p[1] >= 0xA0 && p[1] <= 0xBE && p[1] != 0xB7) {
        /* U+00E0..U+00FE (à..þ, not ÷): the capital is 0x20 lower. */
        out[n++] = (char)0xC3;
        out[n++] = (char)(p[1] - 0x20);
    } else {
        /* Any other character whole: its lead byte and continuation bytes. */
        out[n++] = (char)*p++;
        while (n < API_INITIAL_MAX - 2 && (*p & 0xC0) == 0x80)
            out[n++] = (char)*p++;
    }
    out[n++] = '.';
    out[n] = '\0';
}

#define PHONE_MIN_DIGITS 7
#define PHONE_MAX_DIGITS (API_PHONE_MAX - 2)

bool api_phone_normalise(const char *in, char *out, size_t outlen)
{
    size_t n = 0, digits = 0;
    const char *p = in;

    while (isspace((unsigned char)*p))
        p++;
    if (*p != '+' || outlen < API_PHONE_MAX)
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

char *api_name_fold(const char *s)
{
    char *f = malloc(strlen(s) + 1);
    size_t n = 0;

    if (!f)
        return NULL;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isspace(*p)) {
            if (n && f[n - 1] != ' ')
                f[n++] = ' ';
        } else if (*p < 0x80) {
            f[n++] = (char)tolower(*p);
        } else if (*p == 0xC3 && p[1] >= 0x80 && p[1] <= 0x9E && p[1] != 0x97) {
            /* U+00C0..U+00DE (not the multiplication sign): the small letter is 0x20 higher. */
            f[n++] = (char)*p++;
            f[n++] = (char)(*p + 0x20);
        } else {
            f[n++] = (char)*p;
        }
    }
    if (n && f[n - 1] == ' ')
        n--;
    f[n] = '\0';
    return f;
}

bool api_json_has_marker(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;

    if (json_is_string(j))
        return seal_has_marker(json_string_value(j));
    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            if (seal_has_marker(k) || api_json_has_marker(v))
                return true;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            if (api_json_has_marker(v))
                return true;
        }
    }
    return false;
}

int api_opt_string(struct req *r, const char *field, size_t max, const char **out)
{
    json_t *v = r->json ? json_object_get(r->json, field) : NULL;
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        http_reply_error(r, 422, "invalid", field, "%s must be text", field);
        return -1;
    }
    if (json_string_length(v) > max) {
        http_reply_error(r, 422, "invalid", field, "%s is at most %zu characters", field, max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}
