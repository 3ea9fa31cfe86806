/*
 * repair: repair order handlers and the customer's private links.
 *
 * A repair order moves through enum repair_state; which moves make sense is data in SQL
 * (repair_transitions), checked under a row lock in repair_transition(), so two technicians
 * pressing buttons at once cannot both move it. C only refuses names that are not states.
 *
 * Customer links: opening an order makes a status link, writing an estimate makes an approval
 * link. Each is 32 random bytes made here; PostgreSQL keeps only the BLAKE2b hash with the
 * repair it opens and its purpose, so a status link cannot approve anything, and a copy of the
 * database holds no working link. The token is shown once, in the reply that created it, and
 * handed to SQL for the one message that carries the link to the device's owner (the outbox
 * keeps a message until it is delivered).
 */
#include "repair.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define LINK_TOKEN_BYTES 32
/* util_random_token needs 2*bytes+1; base64url of 32 bytes is 43 characters. */
#define LINK_TOKEN_BUF (LINK_TOKEN_BYTES * 2 + 1)
#define LINK_TOKEN_LEN 43

static const char *const state_names[REPAIR_NSTATES] = {
    [REPAIR_INTAKE] = "intake",
    [REPAIR_DIAGNOSING] = "diagnosing",
    [REPAIR_AWAITING_APPROVAL] = "awaiting_approval",
    [REPAIR_AWAITING_PARTS] = "awaiting_parts",
    [REPAIR_REPAIRING] = "repairing",
    [REPAIR_TESTING] = "testing",
    [REPAIR_READY] = "ready",
    [REPAIR_COLLECTED] = "collected",
    [REPAIR_RETURNED_UNREPAIRED] = "returned_unrepaired",
    [REPAIR_CANCELLED] = "cancelled",
};

static struct sql_stmt q_open =
    SQL_STMT("repair_open", "select repair_open($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_get = SQL_STMT("repair_get", "select repair_get($1, $2, $3)", 3);
static struct sql_stmt q_transition =
    SQL_STMT("repair_transition", "select repair_transition($1, $2, $3, $4)", 4);
static struct sql_stmt q_estimate =
    SQL_STMT("repair_estimate", "select repair_estimate($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_part =
    SQL_STMT("repair_part_add", "select repair_part_add($1, $2, $3, $4)", 4);
static struct sql_stmt q_note =
    SQL_STMT("repair_note_add", "select repair_note_add($1, $2, $3, $4)", 4);
static struct sql_stmt q_promise =
    SQL_STMT("repair_promise", "select repair_promise($1, $2, $3, $4)", 4);
static struct sql_stmt q_status = SQL_STMT("repair_status", "select repair_status($1)", 1);
static struct sql_stmt q_estimate_view =
    SQL_STMT("repair_estimate_view", "select repair_estimate_view($1)", 1);
static struct sql_stmt q_decide =
    SQL_STMT("repair_estimate_decide", "select repair_estimate_decide($1, $2)", 2);

const char *repair_state_name(enum repair_state s)
{
    return (unsigned)s < REPAIR_NSTATES ? state_names[s] : "?";
}

int repair_state_parse(const char *name, enum repair_state *out)
{
    for (int i = 0; name && i < REPAIR_NSTATES; i++) {
        if (strcmp(name, state_names[i]) == 0) {
            *out = (enum repair_state)i;
            return 0;
        }
    }
    return -1;
}

/* Runs `stmt` with (actor, repair id, body, request id) and replies with its JSON. */
static void call_repair(struct req *r, struct sql_stmt *stmt, const char *id, int status)
{
    char *body = json_dumps(r->json, JSON_COMPACT);
    const char *params[4] = {r->who.staff_id, id, body, r->id};
    if (!body) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    device_db_reply(r, stmt, params, status);
    free(body);
}

/* ---- calls that hand out a new customer link ---- */

struct link_call {
    struct req *r;
    char token[LINK_TOKEN_BUF];
    const char *key; /* where the token goes in the reply */
    int status;
};

static void link_free(void *p)
{
    struct link_call *l = p;
    sodium_memzero(l->token, sizeof(l->token));
    free(l);
}

static void on_link_reply(struct req *r, const struct db_result *res)
{
    struct link_call *l = r->state;
    json_t *j;

    if (res->status != DB_OK || db_rows(res) < 1 || db_isnull(res, 0, 0)) {
        api_reply_result(r, l->status, res);
        return;
    }
    j = json_loads(db_value(res, 0, 0), 0, NULL);
    if (!j) {
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return;
    }
    json_object_set_new(j, l->key, json_string(l->token));
    http_reply_jansson(r, l->status, j);
}

/* Makes a link token owned by the request; fills `hash` with what SQL stores. */
static struct link_call *link_new(struct req *r, const char *key, int status, char hash[65])
{
    struct link_call *l = calloc(1, sizeof(*l));
    if (!l) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return NULL;
    }
    l->key = key;
    l->status = status;
    r->state = l;
    r->state_free = link_free;
    util_random_token(l->token, sizeof(l->token), LINK_TOKEN_BYTES);
    util_token_hash(l->token, hash);
    return l;
}

/* ---- staff handlers ---- */

/* A call that mints a customer link: (actor, `key`, body, link hash, request id, link token);
 * the reply carries the token under `field`, the only time it is ever shown. */
static void call_with_link(struct req *r, struct sql_stmt *stmt, const char *key,
                           const char *field, int status)
{
    char hash[65], *body;
    const char *params[6];
    struct link_call *l = link_new(r, field, status, hash);

    if (!l)
        return;
    body = json_dumps(r->json, JSON_COMPACT);
    if (!body) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    params[0] = r->who.staff_id;
    params[1] = key;
    params[2] = body;
    params[3] = hash;
    params[4] = r->id;
    params[5] = l->token;
    api_call(r, stmt, params, on_link_reply);
    free(body);
}

void repair_open(struct req *r)
{
    char store[24];

    if (!device_id_param(r, "store", store) || !device_need_body(r))
        return;
    if (!json_is_string(json_object_get(r->json, "serial"))) {
        http_reply_error(r, 422, "required", "serial", "the device's serial number is required");
        return;
    }
    if (strlen(json_string_value(json_object_get(r->json, "serial"))) > DEVICE_SERIAL_RAW_MAX) {
        http_reply_error(r, 422, "bad_serial", "serial", "that serial number is too long");
        return;
    }
    if (!json_is_string(json_object_get(r->json, "problem"))) {
        http_reply_error(r, 422, "invalid", "problem", "describe the problem");
        return;
    }
    if (!json_is_object(json_object_get(r->json, "intake"))) {
        http_reply_error(r, 422, "required", "intake",
                         "the intake condition checklist is required");
        return;
    }
    call_with_link(r, &q_open, store, "status_token", 201);
}

void repair_get(struct req *r)
{
    char id[24];
    const char *params[3];
    if (!device_id_param(r, "id", id))
        return;
    params[0] = r->who.staff_id;
    params[1] = id;
    params[2] = r->id;
    device_db_reply(r, &q_get, params, 200);
}

void repair_transition(struct req *r)
{
    char id[24];
    enum repair_state to;
    json_t *note;

    if (!device_id_param(r, "id", id) || !device_need_body(r))
        return;
    if (repair_state_parse(json_string_value(json_object_get(r->json, "to")), &to) < 0) {
        http_reply_error(r, 422, "invalid", "to", "not a repair state");
        return;
    }
    note = json_object_get(r->json, "note");
    if (note && !json_is_string(note)) {
        http_reply_error(r, 422, "invalid", "note", "a note is text");
        return;
    }
    call_repair(r, &q_transition, id, 200);
}

void repair_estimate(struct req *r)
{
    char id[24];

    if (!device_id_param(r, "id", id) || !device_need_body(r))
        return;
    if (!json_is_integer(json_object_get(r->json, "amount_cents"))) {
        http_reply_error(r, 422, "invalid", "amount_cents", "the estimate in cents is required");
        return;
    }
    call_with_link(r, &q_estimate, id, "approval_token", 200);
}

void repair_part_add(struct req *r)
{
    char id[24];
    if (!device_id_param(r, "id", id) || !device_need_body(r))
        return;
    if (!json_is_string(json_object_get(r->json, "part_number"))) {
        http_reply_error(r, 422, "invalid", "part_number", "the part number is required");
        return;
    }
    call_repair(r, &q_part, id, 201);
}

void repair_note_add(struct req *r)
{
    char id[24];
    if (!device_id_param(r, "id", id) || !device_need_body(r))
        return;
    if (!json_is_string(json_object_get(r->json, "text"))) {
        http_reply_error(r, 422, "invalid", "text", "the note's text is required");
        return;
    }
    call_repair(r, &q_note, id, 201);
}

void repair_promise(struct req *r)
{
    char id[24];
    json_t *at, *overnight;

    if (!device_id_param(r, "id", id) || !device_need_body(r))
        return;
    at = json_object_get(r->json, "promised_at");
    overnight = json_object_get(r->json, "kept_overnight");
    if (at && !json_is_null(at) && !json_is_string(at)) {
        http_reply_error(r, 422, "invalid", "promised_at", "an ISO 8601 date and time");
        return;
    }
    if (overnight && !json_is_boolean(overnight)) {
        http_reply_error(r, 422, "invalid", "kept_overnight", "true or false");
        return;
    }
    call_repair(r, &q_promise, id, 200);
}

/* ---- customer handlers ---- */

/* Hashes the path's token into `hash`, or replies 404 when it cannot be one of ours. */
static bool link_token(struct req *r, char hash[65])
{
    const char *t = http_param(r, "token");
    size_t n = t ? strlen(t) : 0;
    if (n != LINK_TOKEN_LEN || strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789-_") != n) {
        http_reply_error(r, 404, "not_found", "token", "this link is not valid");
        return false;
    }
    util_token_hash(t, hash);
    return true;
}

static void by_token(struct req *r, struct sql_stmt *stmt)
{
    char hash[65];
    const char *params[1] = {hash};
    if (!link_token(r, hash))
        return;
    device_db_reply(r, stmt, params, 200);
}

void repair_status_view(struct req *r)
{
    by_token(r, &q_status);
}

void repair_estimate_view(struct req *r)
{
    by_token(r, &q_estimate_view);
}

static void decide(struct req *r, bool approve)
{
    char hash[65];
    const char *params[2] = {hash, approve ? "true" : "false"};
    if (!link_token(r, hash))
        return;
    rlog_info(r, "estimate %s by customer link", approve ? "approved" : "declined");
    device_db_reply(r, &q_decide, params, 200);
}

void repair_estimate_approve(struct req *r)
{
    decide(r, true);
}

void repair_estimate_decline(struct req *r)
{
    decide(r, false);
}
