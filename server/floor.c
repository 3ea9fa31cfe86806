/*
 * floor: handlers of the store floor: the walk-in line (public join with a private line link),
 * the staff queue, call next and the moves of a visit, the public wall board.
 *
 * Each handler validates its input, then makes one call to a function of schema/004_floor.sql,
 * which is the transaction and guards the invariants (call next's SKIP LOCKED, the allowed moves
 * of a visit, store scope). The live streams of the same data are in sse.c.
 */
#include "floor.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define FLOOR_TOKEN_BYTES 24
#define FLOOR_NAME_MAX 100
#define FLOOR_CONTACT_MAX 200
#define FLOOR_PARTY_MAX 10
#define FLOOR_CODE_MAX 16
#define FLOOR_LINK_MAX 128 /* longest link token we accept: ours are 43 characters */

static struct sql_stmt q_join =
    SQL_STMT("floor_join_line", "select floor_join_line($1::bigint, $2::jsonb, $3)", 3);
static struct sql_stmt q_line_status =
    SQL_STMT("floor_line_status", "select floor_line_status($1)", 1);
static struct sql_stmt q_line_leave =
    SQL_STMT("floor_line_leave", "select floor_line_leave($1)", 1);
static struct sql_stmt q_queue =
    SQL_STMT("floor_queue", "select floor_queue($1::bigint, $2::bigint)", 2);
static struct sql_stmt q_call_next = SQL_STMT(
    "floor_call_next", "select floor_call_next($1::bigint, $2::bigint, $3::bigint, $4)", 4);
static struct sql_stmt q_move =
    SQL_STMT("floor_visit_move", "select floor_visit_move($1::bigint, $2::bigint, $3, $4)", 4);
static struct sql_stmt q_board = SQL_STMT("floor_board", "select floor_board($1::bigint)", 1);
static struct sql_stmt q_checkin =
    SQL_STMT("floor_checkin", "select floor_checkin($1::bigint, $2::bigint, $3::jsonb, $4, $5)", 5);
static struct sql_stmt q_self_checkin =
    SQL_STMT("floor_self_checkin", "select floor_self_checkin($1, $2)", 2);
static struct sql_stmt q_standby_join =
    SQL_STMT("floor_standby_join", "select floor_standby_join($1::bigint, $2::jsonb, $3)", 3);
static struct sql_stmt q_standby_status =
    SQL_STMT("floor_standby_status", "select floor_standby_status($1)", 1);
static struct sql_stmt q_standby_claim =
    SQL_STMT("floor_standby_claim", "select floor_standby_claim($1, $2, $3)", 3);
static struct sql_stmt q_standby_leave =
    SQL_STMT("floor_standby_leave", "select floor_standby_leave($1)", 1);
static struct sql_stmt q_settings_get =
    SQL_STMT("floor_settings_get", "select floor_settings_get($1::bigint)", 1);
static struct sql_stmt q_settings_put = SQL_STMT(
    "floor_settings_put", "select floor_settings_put($1::bigint, $2::bigint, $3::jsonb, $4)", 4);
static struct sql_stmt q_checkin_search = SQL_STMT(
    "floor_checkin_search", "select floor_checkin_search($1::bigint, $2::bigint, $3, $4)", 4);

/* ---- helpers ---- */

/* An optional string member: NULL when absent or null; -1 (after replying 422) when wrong. */
static int opt_string(struct req *r, const char *field, size_t max, const char **out)
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

/* ---- replies that hand out a line link ---- */

/* A request that creates a place in line: the link's token is drawn here, only its hash goes
 * to SQL, and the token is added to the reply once the transaction has committed. */
struct linked {
    struct req *r;
    char token[FLOOR_TOKEN_BYTES * 2];
    char hash[65];
    int status;
    const char *key; /* the reply member that carries the token */
};

static struct linked *linked_new(struct req *r, int status, const char *key)
{
    struct linked *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->r = r;
    j->status = status;
    j->key = key;
    r->state = j;
    r->state_free = free;
    util_random_token(j->token, sizeof(j->token), FLOOR_TOKEN_BYTES);
    util_token_hash(j->token, j->hash);
    return j;
}

static void on_linked(struct req *r, const struct db_result *res)
{
    struct linked *j = r->state;
    json_t *out;

    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    out = json_loads(db_value(res, 0, 0), 0, NULL);
    if (!out) {
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return;
    }
    /* The private link of this place in line: shown once, stored only as a hash. */
    json_object_set_new(out, j->key, json_string(j->token));
    http_reply_jansson(r, j->status, out);
}

/* ---- the walk-in line (public) ---- */

void floor_join_line(struct req *r)
{
    const char *store = http_param(r, "store");
    const char *name, *contact, *serial;
    json_t *party;
    struct linked *j;
    char *body;
    const char *params[3];

    if (!util_is_id(store)) {
        http_reply_error(r, 404, "not_found", "store", "no such store");
        return;
    }
    if (!r->json) {
        http_reply_error(r, 400, "invalid_json", "body", "a JSON body is required");
        return;
    }
    /* The serial's form (and an IMEI's check digit) is checked in SQL, with the device module's
     * rules; here only that it is text of a sane length. */
    if (opt_string(r, "name", FLOOR_NAME_MAX, &name) < 0 ||
        opt_string(r, "contact", FLOOR_CONTACT_MAX, &contact) < 0 ||
        opt_string(r, "serial", DEVICE_SERIAL_RAW_MAX, &serial) < 0)
        return;
    if (!name || !*name) {
        http_reply_error(r, 422, "invalid", "name", "a name is required");
        return;
    }
    party = json_object_get(r->json, "party");
    if (party && !json_is_null(party) &&
        (!json_is_integer(party) || json_integer_value(party) < 1 ||
         json_integer_value(party) > FLOOR_PARTY_MAX)) {
        http_reply_error(r, 422, "invalid", "party", "party is a whole number from 1 to %d",
                         FLOOR_PARTY_MAX);
        return;
    }
    body = json_dumps(r->json, JSON_COMPACT);
    j = body ? linked_new(r, 201, "token") : NULL;
    if (!j) {
        free(body);
        http_reply_error(r, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    params[0] = store;
    params[1] = body;
    params[2] = j->hash;
    api_call(r, &q_join, params, on_linked);
    free(body);
}

static void token_call(struct req *r, struct sql_stmt *stmt)
{
    char hash[65];
    const char *params[1] = {hash};
    util_token_hash(http_param(r, "token"), hash);
    api_send(r, stmt, params, 200);
}

void floor_line_status(struct req *r)
{
    token_call(r, &q_line_status);
}

void floor_line_leave(struct req *r)
{
    token_call(r, &q_line_leave);
}

void floor_board(struct req *r)
{
    const char *params[1] = {http_param(r, "store")};
    if (!util_is_id(params[0])) {
        http_reply_error(r, 404, "not_found", "store", "no such store");
        return;
    }
    api_send(r, &q_board, params, 200);
}

/* ---- staff: the queue and call next ---- */

void floor_queue(struct req *r)
{
    const char *params[2] = {r->who.staff_id, http_param(r, "store")};
    api_send(r, &q_queue, params, 200);
}

void floor_call_next(struct req *r)
{
    json_t *sp = r->json ? json_object_get(r->json, "specialist_id") : NULL;
    char spec[24];
    const char *params[4] = {r->who.staff_id, http_param(r, "store"), NULL, r->id};

    if (sp && !json_is_null(sp)) {
        if (!json_is_integer(sp) || json_integer_value(sp) < 1) {
            http_reply_error(r, 422, "invalid", "specialist_id", "specialist_id is a staff id");
            return;
        }
        snprintf(spec, sizeof(spec), "%lld", (long long)json_integer_value(sp));
        params[2] = spec;
    }
    api_send(r, &q_call_next, params, 200);
}

static void visit_move(struct req *r, const char *action)
{
    const char *params[4] = {r->who.staff_id, http_param(r, "id"), action, r->id};
    if (!util_is_id(params[1])) {
        http_reply_error(r, 404, "not_found", "id", "no such visit");
        return;
    }
    api_send(r, &q_move, params, 200);
}

void floor_visit_start(struct req *r)
{
    visit_move(r, "start");
}

void floor_visit_done(struct req *r)
{
    visit_move(r, "done");
}

void floor_visit_skip(struct req *r)
{
    visit_move(r, "skip");
}

void floor_visit_requeue(struct req *r)
{
    visit_move(r, "requeue");
}

void floor_visit_left(struct req *r)
{
    visit_move(r, "left");
}

/* ---- check-in of booked customers ---- */

void floor_checkin(struct req *r)
{
    json_t *in = r->json, *q = NULL, *v;
    const char *code, *token;
    struct linked *j;
    char *body = NULL, thash[65];
    const char *params[5];

    if (!in) {
        http_reply_error(r, 400, "invalid_json", "body", "a JSON body is required");
        return;
    }
    if (opt_string(r, "code", FLOOR_CODE_MAX, &code) < 0 ||
        opt_string(r, "token", FLOOR_LINK_MAX, &token) < 0)
        return;
    v = json_object_get(in, "appointment_id");
    if (v && !json_is_integer(v)) {
        http_reply_error(r, 422, "invalid", "appointment_id", "appointment_id is an id");
        return;
    }
    if (!code && !token && !v) {
        http_reply_error(r, 422, "invalid", "code", "give a code, an appointment_id or a token");
        return;
    }
    /* The manage token never reaches SQL: only its hash, as booking stores it. */
    if (code)
        q = json_pack("{ss}", "code", code);
    else if (v)
        q = json_pack("{sO}", "appointment_id", v);
    else {
        util_token_hash(token, thash);
        q = json_pack("{ss}", "token_hash", thash);
    }
    body = q ? json_dumps(q, JSON_COMPACT) : NULL;
    if (q)
        json_decref(q);
    j = body ? linked_new(r, 200, "token") : NULL;
    if (!j) {
        free(body);
        http_reply_error(r, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    params[0] = r->who.staff_id;
    params[1] = http_param(r, "store");
    params[2] = body;
    params[3] = j->hash;
    params[4] = r->id;
    api_call(r, &q_checkin, params, on_linked);
    free(body);
}

void floor_self_checkin(struct req *r)
{
    char thash[65];
    const char *params[2];
    struct linked *j = linked_new(r, 200, "token");

    if (!j) {
        http_reply_error(r, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    util_token_hash(http_param(r, "token"), thash);
    params[0] = thash;
    params[1] = j->hash;
    api_call(r, &q_self_checkin, params, on_linked);
}

void floor_checkin_search(struct req *r)
{
    const char *params[4] = {r->who.staff_id, http_param(r, "store"), http_query(r, "name"), r->id};
    api_send(r, &q_checkin_search, params, 200);
}

/* ---- standby ---- */

void floor_standby_join(struct req *r)
{
    const char *store = http_param(r, "store");
    const char *name, *email, *phone, *date;
    json_t *sv;
    struct linked *j;
    char *body;
    const char *params[3];

    if (!util_is_id(store)) {
        http_reply_error(r, 404, "not_found", "store", "no such store");
        return;
    }
    if (!r->json) {
        http_reply_error(r, 400, "invalid_json", "body", "a JSON body is required");
        return;
    }
    if (opt_string(r, "name", FLOOR_NAME_MAX, &name) < 0 ||
        opt_string(r, "email", FLOOR_CONTACT_MAX, &email) < 0 ||
        opt_string(r, "phone", FLOOR_CONTACT_MAX, &phone) < 0 ||
        opt_string(r, "date", FLOOR_CODE_MAX, &date) < 0)
        return;
    sv = json_object_get(r->json, "service_id");
    if (!json_is_integer(sv)) {
        http_reply_error(r, 422, "invalid", "service_id", "service_id is required");
        return;
    }
    if (!name || !*name) {
        http_reply_error(r, 422, "invalid", "name", "a name is required");
        return;
    }
    body = json_dumps(r->json, JSON_COMPACT);
    j = body ? linked_new(r, 201, "token") : NULL;
    if (!j) {
        free(body);
        http_reply_error(r, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    params[0] = store;
    params[1] = body;
    params[2] = j->hash;
    api_call(r, &q_standby_join, params, on_linked);
    free(body);
}

void floor_standby_status(struct req *r)
{
    token_call(r, &q_standby_status);
}

void floor_standby_leave(struct req *r)
{
    token_call(r, &q_standby_leave);
}

/* Claiming books the slot: the reply carries the new booking's manage link, drawn here. */
void floor_standby_claim(struct req *r)
{
    char thash[65];
    const char *params[3];
    struct linked *j = linked_new(r, 200, "manage_token");

    if (!j) {
        http_reply_error(r, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    util_token_hash(http_param(r, "token"), thash);
    params[0] = thash;
    params[1] = j->hash;
    params[2] = j->token; /* for the link in the confirmation message */
    api_call(r, &q_standby_claim, params, on_linked);
}

/* ---- the floor rules of a store ---- */

void floor_settings_get(struct req *r)
{
    const char *params[1] = {http_param(r, "store")};
    api_send(r, &q_settings_get, params, 200);
}

void floor_settings_put(struct req *r)
{
    char *body;
    const char *params[4];

    if (!r->json) {
        http_reply_error(r, 400, "invalid_json", "body", "a JSON body is required");
        return;
    }
    body = json_dumps(r->json, JSON_COMPACT);
    if (!body) {
        http_reply_error(r, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    params[0] = r->who.staff_id;
    params[1] = http_param(r, "store");
    params[2] = body;
    params[3] = r->id;
    api_send(r, &q_settings_put, params, 200);
    free(body);
}
