/*
 * repair: repair order handlers and the customer's private links.
 *
 * A repair order moves through enum repair_state; which moves make sense is data in SQL
 * (repair_transitions), checked under a row lock in repair_transition(), so two technicians
 * pressing buttons at once cannot both move it. C only refuses names that are not states.
 *
 * Customer links: opening an order makes a status link, writing an estimate makes an approval
 * link. Each is minted by link.c; PostgreSQL keeps only its hash with the repair it opens and
 * its purpose, so a status link cannot approve anything, and a copy of the
 * database holds no working link. The token is shown once, in the reply that created it, and
 * handed to SQL for the one message that carries the link to the device's owner (the outbox
 * keeps a message until it is delivered).
 *
 * Estimates (schema/api/estimate.sql): each version gets its own approval link, which answers
 * that version only. The customer approves, declines with a reason, or asks to be called back;
 * the reason and the call-back note are their own words, sealed here before SQL sees them.
 */
#include "repair.h"

#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "device.h"
#include "http.h"
#include "link.h"
#include "seal.h"
#include "log.h"

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
    SQL_STMT("repair_note_add_keyed", "select repair_note_add_keyed($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_promise =
    SQL_STMT("repair_promise", "select repair_promise($1, $2, $3, $4)", 4);
static struct sql_stmt q_settings_get =
    SQL_STMT("repair_settings_get", "select repair_settings_get($1, $2, $3)", 3);
static struct sql_stmt q_settings_put =
    SQL_STMT("repair_settings_put", "select repair_settings_put($1, $2, $3, $4)", 4);
static struct sql_stmt q_status = SQL_STMT("repair_status", "select repair_status($1)", 1);
static struct sql_stmt q_estimate_view =
    SQL_STMT("repair_estimate_view", "select repair_estimate_view($1)", 1);
static struct sql_stmt q_decide =
    SQL_STMT("repair_estimate_decide", "select repair_estimate_decide($1, $2, $3)", 3);
static struct sql_stmt q_callback =
    SQL_STMT("repair_estimate_callback", "select repair_estimate_callback($1, $2)", 2);

/* The longest decline reason and call-back note a customer may write, in characters. */
#define ESTIMATE_REASON_MAX 1000
#define ESTIMATE_REASON_RULE "a text of 1 to 1000 characters"
#define ESTIMATE_NOTE_MAX 500
#define ESTIMATE_NOTE_RULE "a text of 1 to 500 characters"

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

/* Runs `stmt` with (actor, repair id, body as received, request id) and replies with its JSON. */
static void call_repair(struct req *r, struct sql_stmt *stmt, const char *id, int status)
{
    const char *params[4] = {r->who.staff_id, id, api_body(r), r->id};
    api_send(r, stmt, params, status);
}

/* ---- calls that hand out a new customer link ---- */

/* r->state of a call that mints a link: the link (wiped with the request) and where its token
 * goes in the reply. */
struct link_call {
    struct link link;
    const char *key;
    int status;
};

static void link_call_free(void *p)
{
    struct link_call *l = p;
    link_wipe(&l->link);
    free(l);
}

static void on_link_reply(struct req *r, const struct db_result *res)
{
    struct link_call *l = r->state;
    json_t *j = api_result_object(r, res);

    if (!j)
        return;
    json_object_set_new(j, l->key, json_string(l->link.token));
    http_reply_jansson(r, l->status, j);
}

/* ---- staff handlers ---- */

/* A call that mints a customer link: (actor, `key`, body, link hash, request id, sealed token);
 * the reply carries the token under `field`, the only time it is ever shown. `body` is the
 * body text for SQL (copied), or NULL for the body as received. */
static void call_with_link(struct req *r, struct sql_stmt *stmt, const char *key, const char *field,
                           int status, const char *body)
{
    struct link_call *l = calloc(1, sizeof(*l));

    if (!l) {
        http_reply_oom(r);
        return;
    }
    l->key = field;
    l->status = status;
    r->state = l;
    r->state_free = link_call_free;
    link_mint(&l->link);
    /* Messages get the token sealed (seal.h): the database never holds it in clear. */
    char *marker = seal_marker(l->link.token);
    if (!marker) {
        http_reply_oom(r);
        return;
    }
    const char *params[6] = {r->who.staff_id, key,   body ? body : api_body(r),
                             l->link.hash,    r->id, marker};
    api_call(r, stmt, params, on_link_reply);
    free(marker);
}

void repair_open(struct req *r)
{
    const char *store = api_path_id(r, "store");
    json_t *owner;
    char *body = NULL;

    if (!store || !api_need_body(r))
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
    /* The owner given at intake is checked and sealed here, like an owner change: SQL never
     * receives it in clear. */
    owner = json_object_get(r->json, "owner");
    if (owner && !json_is_null(owner)) {
        if (!device_owner_seal(r, owner, "owner"))
            return;
        if (!(body = json_dumps(r->json, JSON_COMPACT))) {
            http_reply_oom(r);
            return;
        }
    }
    call_with_link(r, &q_open, store, "status_token", 201, body);
    free(body);
}

void repair_get(struct req *r)
{
    const char *id = api_path_id(r, "id");
    if (!id)
        return;
    const char *params[3] = {r->who.staff_id, id, r->id};
    api_send(r, &q_get, params, 200);
}

void repair_transition(struct req *r)
{
    const char *id = api_path_id(r, "id");
    enum repair_state to;
    json_t *note;

    if (!id || !api_need_body(r))
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

/* The lines, their kinds, quantities, prices and VAT rates are the domain's: SQL checks them all
 * (repair_estimate in schema/api/estimate.sql) and names the line and member at fault. */
void repair_estimate(struct req *r)
{
    const char *id = api_path_id(r, "id");

    if (!id || !api_need_body(r))
        return;
    call_with_link(r, &q_estimate, id, "approval_token", 200, NULL);
}

void repair_part_add(struct req *r)
{
    const char *id = api_path_id(r, "id");
    if (!id || !api_need_body(r))
        return;
    if (!json_is_string(json_object_get(r->json, "part_number"))) {
        http_reply_error(r, 422, "invalid", "part_number", "the part number is required");
        return;
    }
    call_repair(r, &q_part, id, 201);
}

void repair_note_add(struct req *r)
{
    const char *id = api_path_id(r, "id");
    if (!id || !api_need_body(r))
        return;
    if (!json_is_string(json_object_get(r->json, "text"))) {
        http_reply_error(r, 422, "invalid", "text", "the note's text is required");
        return;
    }
    /* A tablet resends its offline notes with their Idempotency-Key (scoped to the actor). */
    char key_hash[API_IDEM_HASH_HEX + 1], fingerprint[API_IDEM_HASH_HEX + 1];
    int k = api_idempotency(r, "carnet-idempotency-repair-note", r->who.staff_id, key_hash,
                            fingerprint);
    if (k < 0)
        return;
    const char *params[6] = {r->who.staff_id,       id, api_body(r), r->id, k ? key_hash : NULL,
                             k ? fingerprint : NULL};
    api_send(r, &q_note, params, 201);
}

void repair_promise(struct req *r)
{
    const char *id = api_path_id(r, "id");
    json_t *at, *overnight;

    if (!id || !api_need_body(r))
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

/* ---- a store's repair messages: which moves send one, and the store's language ---- */

void repair_settings_get(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (!store)
        return;
    const char *params[3] = {r->who.staff_id, store, r->id};
    api_send(r, &q_settings_get, params, 200);
}

void repair_settings_put(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (!store || !api_need_body(r))
        return;
    call_repair(r, &q_settings_put, store, 200);
}

/* ---- customer handlers: the token is checked (link.c) before any query ---- */

static void by_token(struct req *r, struct sql_stmt *stmt)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[1] = {hash};
    if (!link_from_path(r, "token", hash))
        return;
    api_send(r, stmt, params, 200);
}

void repair_status_view(struct req *r)
{
    by_token(r, &q_status);
}

void repair_estimate_view(struct req *r)
{
    by_token(r, &q_estimate_view);
}

/* An answer to the estimate through its approval link: (link hash, body) for `stmt`, or with
 * `approve` as well for the decision. The body's member `text_key`, when given, is sealed
 * (api_body_sealed_text: 1..`text_max` characters, `rule`). */
static void answer(struct req *r, struct sql_stmt *stmt, const char *approve, const char *text_key,
                   size_t text_max, bool required, const char *rule)
{
    char hash[LINK_HASH_LEN + 1];
    char *body;

    if (!link_from_path(r, "token", hash))
        return;
    if (text_key) {
        if (!(body = api_body_sealed_text(r, text_key, text_max, required, rule)))
            return;
    } else if (!(body = strdup(api_body(r)))) {
        http_reply_oom(r);
        return;
    }
    rlog_info(r, "estimate answered by customer link");
    if (approve) {
        const char *params[3] = {hash, approve, body};
        api_send(r, stmt, params, 200);
    } else {
        const char *params[2] = {hash, body};
        api_send(r, stmt, params, 200);
    }
    free(body);
}

void repair_estimate_approve(struct req *r)
{
    answer(r, &q_decide, "true", NULL, 0, false, NULL);
}

void repair_estimate_decline(struct req *r)
{
    answer(r, &q_decide, "false", "reason", ESTIMATE_REASON_MAX, true, ESTIMATE_REASON_RULE);
}

void repair_estimate_callback(struct req *r)
{
    answer(r, &q_callback, NULL, "note", ESTIMATE_NOTE_MAX, false, ESTIMATE_NOTE_RULE);
}
