/*
 * floor: handlers of the store floor: the walk-in line (public join with a private line link),
 * the staff queue, call next, calling one given person, handing a visit to a colleague, the
 * moves of a visit, the serving card, the public wall board. The hand-over of a visit to a
 * repair order and the bench queue are handover.c's.
 *
 * Each handler checks what HTTP owns (path ids, link format, a body), then makes one call to a
 * function of schema/004_floor.sql with the body as received; SQL is the transaction and guards
 * the invariants (call next's SKIP LOCKED, the allowed moves of a visit, store scope). Links
 * (a place in line, a standby place, the manage link of a claimed slot) are minted and checked
 * by link.c. The live streams of the same data are in sse.c.
 *
 * Personal data (seal.h): a walk-in's name, contact and problem and a standby place's name, email
 * and phone reach SQL only sealed, so they are checked here, and what SQL used to derive from them
 * is computed here and sent beside them: the initial a public board shows, blind indexes, and
 * how a walk-in's free-text contact is reached. The check-in desk's search by name filters
 * today's bookings here, once their names are opened.
 */
#include "floor.h"

#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "auth.h"
#include "authcache.h"
#include "device.h"
#include "http.h"
#include "link.h"
#include "seal.h"
#include "log.h"

#define FLOOR_NAME_MAX 100
#define FLOOR_CONTACT_MAX 200
#define FLOOR_PROBLEM_MAX 2000
#define FLOOR_PARTY_MAX 10
#define FLOOR_CODE_MAX 16
#define FLOOR_STANDBY_NAME_MAX 200
#define FLOOR_EMAIL_MAX 254
#define FLOOR_SMS_MIN_DIGITS 6
#define FLOOR_SMS_MAX_DIGITS 15
#define FLOOR_STANDBY_PHONE_MIN 7
#define FLOOR_STANDBY_PHONE_MAX 15
#define FLOOR_CALL_REASON_MAX 200
#define FLOOR_CALL_REASON_RULE "a reason of 1 to 200 characters"

static struct sql_stmt q_join =
    SQL_STMT("floor_join_line_keyed",
             "select floor_join_line_keyed($1::bigint, $2::jsonb, $3, $4, $5, $6)", 6);
static struct sql_stmt q_line_status =
    SQL_STMT("floor_line_status", "select floor_line_status($1)", 1);
static struct sql_stmt q_line_leave =
    SQL_STMT("floor_line_leave", "select floor_line_leave($1)", 1);
static struct sql_stmt q_queue =
    SQL_STMT("floor_queue", "select floor_queue($1::bigint, $2::bigint)", 2);
static struct sql_stmt q_call_next = SQL_STMT(
    "floor_call_next", "select floor_call_next($1::bigint, $2::bigint, $3::bigint, $4, $5)", 5);
static struct sql_stmt q_move =
    SQL_STMT("floor_visit_move", "select floor_visit_move($1::bigint, $2::bigint, $3, $4)", 4);
static struct sql_stmt q_card =
    SQL_STMT("floor_visit_card", "select floor_visit_card($1::bigint, $2::bigint, $3)", 3);
static struct sql_stmt q_call = SQL_STMT(
    "floor_visit_call", "select floor_visit_call($1::bigint, $2::bigint, $3, $4, $5::jsonb)", 5);
static struct sql_stmt q_recall =
    SQL_STMT("floor_visit_recall", "select floor_visit_recall($1::bigint, $2::bigint, $3, $4)", 4);
static struct sql_stmt q_desk =
    SQL_STMT("floor_desk_set", "select floor_desk_set($1::bigint, $2, $3, $4::jsonb)", 4);
static struct sql_stmt q_transfer =
    SQL_STMT("floor_visit_transfer",
             "select floor_visit_transfer($1::bigint, $2::bigint, $3::jsonb, $4)", 4);
static struct sql_stmt q_board = SQL_STMT("floor_board", "select floor_board($1::bigint)", 1);
static struct sql_stmt q_checkin = SQL_STMT(
    "floor_checkin_keyed",
    "select floor_checkin_keyed($1::bigint, $2::bigint, $3::jsonb, $4, $5, $6, $7, $8)", 8);
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

static bool all_blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* ---- replies that hand out a link ---- */

/* A request that creates a place in line (or a booking): the link is minted here, only its hash
 * goes to SQL, and the token is added to the reply once the transaction has committed. */
struct linked {
    struct link link;
    int status;
    const char *key; /* the reply member that carries the token */
    /* With an Idempotency-Key SQL keeps the token (sealed) in the answer it stores, so a retry
     * gets the first try's link back: the reply carries SQL's, opened. */
    bool keyed;
    char key_hash[API_IDEM_HASH_HEX + 1], fingerprint[API_IDEM_HASH_HEX + 1];
};

static void linked_free(void *p)
{
    struct linked *j = p;
    link_wipe(&j->link);
    free(j);
}

/* Hangs a fresh link on the request; NULL after replying out of memory. */
static struct linked *linked_new(struct req *r, int status, const char *key)
{
    struct linked *j = calloc(1, sizeof(*j));
    if (!j) {
        http_reply_oom(r);
        return NULL;
    }
    j->status = status;
    j->key = key;
    r->state = j;
    r->state_free = linked_free;
    link_mint(&j->link);
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
    out = api_result_json(r, res);
    if (!out) {
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return;
    }
    /* The private link: shown once, stored only as a hash (and, with an Idempotency-Key,
     * sealed in the stored answer, which carries it here). */
    if (!(j->keyed && json_is_string(json_object_get(out, j->key))) &&
        json_object_set_new(out, j->key, json_string(j->link.token)) < 0) {
        json_decref(out);
        http_reply_oom(r);
        return;
    }
    http_reply_jansson(r, j->status, out);
}

/* A public join (line, standby): (store, the body with its personal data sealed, the new
 * link's hash). Takes `body` (malloc'd JSON text, NULL after replying) and frees it. */
static void join_call(struct req *r, const char *store, struct sql_stmt *stmt, char *body)
{
    struct linked *j = body ? linked_new(r, 201, "token") : NULL;
    if (j) {
        const char *params[3] = {store, body, j->link.hash};
        api_call(r, stmt, params, on_linked);
    }
    free(body);
}

/* The sealed token of `j`'s link for an idempotent call's stored answer: NULL without a key,
 * or (out of memory) after replying with *failed set. */
static char *keyed_token(struct req *r, const struct linked *j, bool *failed)
{
    char *marker = NULL;

    *failed = false;
    if (j->keyed && !(marker = seal_pd(j->link.token))) {
        http_reply_oom(r);
        *failed = true;
    }
    return marker;
}

/* The walk-in join, with its Idempotency-Key (scoped to the store: a walk-in has no account)
 * when it has one. Takes `body` like join_call. */
static void join_line_call(struct req *r, const char *store, char *body)
{
    struct linked *j = body ? linked_new(r, 201, "token") : NULL;
    char *marker = NULL;
    bool failed;
    int k;

    if (!j)
        goto out;
    if ((k = api_idempotency(r, "carnet-idempotency-line", store, j->key_hash, j->fingerprint)) < 0)
        goto out;
    j->keyed = k == 1;
    marker = keyed_token(r, j, &failed);
    if (failed)
        goto out;
    const char *params[6] = {
        store, body, j->link.hash, j->keyed ? j->key_hash : NULL, j->keyed ? j->fingerprint : NULL,
        marker};
    api_call(r, &q_join, params, on_linked);
out:
    free(marker);
    free(body);
}

/* ---- personal data in ---- */

static bool has_space_or(const char *s, size_t len, const char *also)
{
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char)s[i]) || strchr(also, s[i]))
            return true;
    return false;
}

/* What the outbox takes for an address: something@something, no spaces or angle brackets; with
 * `dot`, a dot in the part after the '@' that is neither its first nor its last character. */
static bool floor_email_like(const char *s, bool dot)
{
    const char *at = strchr(s, '@');
    size_t len = strlen(s), dlen;

    if (!at || at == s || !at[1] || strchr(at + 1, '@') || has_space_or(s, len, "<>"))
        return false;
    if (!dot)
        return true;
    dlen = strlen(at + 1);
    for (size_t i = 1; i + 1 < dlen; i++)
        if (at[1 + i] == '.')
            return true;
    return false;
}

/* A walk-in's free-text contact as a way to reach them: an email address, or a phone number once
 * spaces, dots, dashes and brackets are dropped ("sms", `recipient` the number); anything else (a
 * table number, a first name) reaches nobody (NULL). */
static const char *floor_contact_channel(const char *contact, char *recipient, size_t len)
{
    size_t n = 0, digits = 0;

    if (strlen(contact) <= FLOOR_EMAIL_MAX && floor_email_like(contact, true)) {
        snprintf(recipient, len, "%s", contact);
        return "email";
    }
    for (const char *p = contact; *p; p++) {
        if (isspace((unsigned char)*p) || strchr(".()-", *p))
            continue;
        if (n + 1 >= len || !(isdigit((unsigned char)*p) || (*p == '+' && n == 0)))
            return NULL;
        digits += *p != '+';
        recipient[n++] = *p;
    }
    recipient[n] = '\0';
    return digits >= FLOOR_SMS_MIN_DIGITS && digits <= FLOOR_SMS_MAX_DIGITS ? "sms" : NULL;
}

/* A copy of `s` without its leading and trailing white space (malloc'd), or NULL. */
static char *trimmed(const char *s)
{
    size_t len;
    while (isspace((unsigned char)*s))
        s++;
    len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return strndup(s, len);
}

/* A copy of the request's body without what only carnetd may put in it: the members it derives
 * from personal data (a client's "initial" would be shown on the public board), and the personal
 * data it seals itself. NULL when out of memory. */
static json_t *body_copy(struct req *r)
{
    static const char *const derived[] = {
        "initial",  "contact_bi", "contact_channel", "contact_recipient",
        "email_bi", "phone_bi",   "contact",         "email",
        "phone",    "problem"};
    json_t *body = json_copy(r->json);
    for (size_t i = 0; body && i < sizeof(derived) / sizeof(derived[0]); i++)
        json_object_del(body, derived[i]);
    return body;
}

/* The request's body with `name` replaced by the trimmed name sealed, and its initial. -1 when
 * out of memory. */
static int seal_name(json_t *body, const char *name)
{
    char initial[API_INITIAL_MAX];
    char *n = trimmed(name);
    int rc = -1;

    if (!n)
        return -1;
    api_initial(n, initial);
    if (api_seal_member(body, "name", n, NULL, NULL) == 0 &&
        json_object_set_new(body, "initial", json_string(initial)) == 0)
        rc = 0;
    free(n);
    return rc;
}

/* A walk-in's body for SQL: name, contact and problem sealed (contact and problem trimmed, ""
 * as none), the contact's blind index, and how it reaches them. JSON text (malloc'd), or NULL
 * when out of memory. */
static char *line_body(struct req *r, const char *name, const char *contact, const char *problem)
{
    json_t *body = body_copy(r);
    char *c = NULL, *pb = NULL, *text = NULL;
    char recipient[FLOOR_EMAIL_MAX + 1];
    const char *channel = NULL;

    if (!body || seal_name(body, name) < 0)
        goto out;
    if (contact && !(c = trimmed(contact)))
        goto out;
    if (c && *c) {
        channel = floor_contact_channel(c, recipient, sizeof(recipient));
        /* The blind index of a contact is an email's when it has an '@', else a phone's. */
        if (api_seal_member(body, "contact", c, strchr(c, '@') ? "email" : "phone", "contact_bi") <
            0)
            goto out;
        if (channel && (json_object_set_new(body, "contact_channel", json_string(channel)) < 0 ||
                        api_seal_member(body, "contact_recipient", recipient, NULL, NULL) < 0))
            goto out;
    }
    if (problem && !(pb = trimmed(problem)))
        goto out;
    if (pb && *pb && api_seal_member(body, "problem", pb, NULL, NULL) < 0)
        goto out;
    text = json_dumps(body, JSON_COMPACT);
out:
    free(pb);
    free(c);
    if (body)
        json_decref(body);
    if (!text)
        http_reply_oom(r);
    return text;
}

/* ---- the walk-in line (public) ---- */

void floor_join_line(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *name, *contact, *serial, *problem;
    json_t *party;

    if (!store || !api_need_body(r))
        return;
    /* The serial's form (and an IMEI's check digit) is checked in SQL, with the device module's
     * rules; here only that it is text of a sane length. */
    if (api_opt_string(r, "name", FLOOR_NAME_MAX, &name) < 0 ||
        api_opt_string(r, "contact", FLOOR_CONTACT_MAX, &contact) < 0 ||
        api_opt_string(r, "serial", DEVICE_SERIAL_RAW_MAX, &serial) < 0 ||
        api_opt_string(r, "problem", FLOOR_PROBLEM_MAX, &problem) < 0)
        return;
    if (!name || all_blank(name)) {
        http_reply_error(r, 422, "invalid", "name", "a name of 1 to 100 characters is required");
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
    join_line_call(r, store, line_body(r, name, contact, problem));
}

/* A customer's read or move through the link of the path. */
static void token_call(struct req *r, struct sql_stmt *stmt)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[1] = {hash};
    if (link_from_path(r, "token", hash))
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

/* The board's last_event_id (0 when it has none); -1 when the answer is not a board. */
static long long board_event_id(const struct db_result *res)
{
    json_t *o, *id;
    long long v = -1;

    if (res->status != DB_OK || db_rows(res) != 1 || db_isnull(res, 0, 0))
        return -1;
    o = json_loadb(db_value(res, 0, 0), (size_t)db_length(res, 0, 0), 0, NULL);
    id = json_object_get(o, "last_event_id");
    if (json_is_integer(id))
        v = json_integer_value(id);
    else if (json_is_null(id))
        v = 0;
    json_decref(o);
    return v;
}

static void on_board(struct req *r, const struct db_result *res)
{
    const char *after = http_query(r, "after");
    long long seen = board_event_id(res);
    const char *params[1] = {http_param(r, "store")};

    /* The page refetches because it heard event `after` (written on the primary). A standby
     * that has not applied it yet shows the board from before it: a call without its ticket or
     * chime, and no later event may come to correct it. The primary answers instead. */
    if (after && seen >= 0 && seen < atoll(after)) {
        api_send(r, &q_board, params, 200);
        return;
    }
    api_reply_result(r, 200, res);
}

/* A standby may answer (--read-database-url), unless it has not yet applied the event `after`
 * that the page refetches for. */
void floor_board(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[1] = {store};
    char after[24];

    if (store && api_query_int(r, "after", 0, LLONG_MAX, 0, after))
        api_call_read(r, &q_board, params, on_board);
}

/* ---- staff: the queue and call next ---- */

void floor_queue(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[2] = {r->who.staff_id, store};
    if (store)
        api_send(r, &q_queue, params, 200);
}

void floor_call_next(struct req *r)
{
    const char *store = api_path_id(r, "store");
    json_t *sp = r->json ? json_object_get(r->json, "specialist_id") : NULL;
    char spec[24];
    const char *params[5] = {r->who.staff_id, store, NULL, r->id, r->who.desk};

    if (!store)
        return;
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

/* (actor, visit id, request id, the session's desk): the serving card (which takes no desk),
 * calling again. */
static void visit_call(struct req *r, struct sql_stmt *stmt)
{
    const char *id = api_path_id(r, "id");
    const char *params[4] = {r->who.staff_id, id, r->id, r->who.desk};
    if (id)
        api_send(r, stmt, params, 200);
}

void floor_visit_card(struct req *r)
{
    visit_call(r, &q_card);
}

/* Calling one given person: the body's `reason` (why out of turn) is staff free text that may
 * name a customer, so it reaches SQL sealed; SQL decides whether one is needed. */
void floor_visit_call(struct req *r)
{
    const char *id = api_path_id(r, "id");
    char *body;

    if (!id || !(body = api_body_sealed_text(r, "reason", FLOOR_CALL_REASON_MAX, false,
                                             FLOOR_CALL_REASON_RULE)))
        return;
    const char *params[5] = {r->who.staff_id, id, r->id, r->who.desk, body};
    api_send(r, &q_call, params, 200);
    free(body);
}

void floor_visit_recall(struct req *r)
{
    visit_call(r, &q_recall);
}

/* PUT /api/session/desk: the desk rests on the caller's own session, named by its token hash. */
void floor_desk_set(struct req *r)
{
    char hash[65];
    const char *params[4] = {r->who.staff_id, r->id, hash, NULL};

    if (!api_need_body(r))
        return;
    if (auth_session_hash(r, hash) < 0) {
        http_reply_error(r, 401, "unauthenticated", NULL, "sign in first");
        return;
    }
    params[3] = api_body(r);
    authcache_forget(hash); /* the desk is part of the principal: asked again next time */
    api_send(r, &q_desk, params, 200);
}

void floor_visit_transfer(struct req *r)
{
    const char *id = api_path_id(r, "id");
    const char *params[4] = {r->who.staff_id, id, api_body(r), r->id};
    if (id)
        api_send(r, &q_transfer, params, 200);
}

static void visit_move(struct req *r, const char *action)
{
    const char *id = api_path_id(r, "id");
    const char *params[4] = {r->who.staff_id, id, action, r->id};
    if (id)
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

/*
 * SQL checks the code and the appointment_id of the body as received. A manage link's token
 * never reaches SQL: when the body carries one, C checks its format as link.c checks a path's
 * and sends a copy of the body with the token swapped for its hash (the one body C rebuilds
 * here, until SQL hashes links itself).
 */
static char *checkin_body(struct req *r, const char *token)
{
    char hash[LINK_HASH_LEN + 1];
    json_t *q = json_deep_copy(r->json);
    char *text = NULL;

    if (q && json_object_del(q, "token") == 0) {
        link_hash(token, hash);
        if (json_object_set_new(q, "token_hash", json_string(hash)) == 0)
            text = json_dumps(q, JSON_COMPACT);
    }
    if (q)
        json_decref(q);
    if (!text)
        http_reply_oom(r);
    return text;
}

void floor_checkin(struct req *r)
{
    const char *store = api_path_id(r, "store");
    json_t *tok;
    struct linked *j;
    char *swapped = NULL;

    if (!store || !api_need_body(r))
        return;
    if ((tok = json_object_get(r->json, "token")) != NULL) {
        if (!link_format_ok(json_string_value(tok))) {
            http_reply_error(r, 404, "not_found", "token", "this link is unknown or has expired");
            return;
        }
        if (!(swapped = checkin_body(r, json_string_value(tok))))
            return;
    }
    if ((j = linked_new(r, 200, "token")) != NULL) {
        char *scope = NULL, *marker = NULL;
        bool failed = false;
        int k = -1;
        /* Scoped to the actor and the store: another desk's key never replays this answer. */
        if (asprintf(&scope, "%s:%s", r->who.staff_id, store) < 0) {
            scope = NULL;
            http_reply_oom(r);
        } else {
            k = api_idempotency(r, "carnet-idempotency-checkin", scope, j->key_hash,
                                j->fingerprint);
        }
        if (k >= 0) {
            j->keyed = k == 1;
            marker = keyed_token(r, j, &failed);
        }
        if (k >= 0 && !failed) {
            const char *params[8] = {r->who.staff_id,
                                     store,
                                     swapped ? swapped : api_body(r),
                                     j->link.hash,
                                     r->id,
                                     j->keyed ? j->key_hash : NULL,
                                     j->keyed ? j->fingerprint : NULL,
                                     marker};
            api_call(r, &q_checkin, params, on_linked);
        }
        free(marker);
        free(scope);
    }
    free(swapped);
}

void floor_self_checkin(struct req *r)
{
    char thash[LINK_HASH_LEN + 1];
    struct linked *j;

    if (!link_from_path(r, "token", thash) || !(j = linked_new(r, 200, "token")))
        return;
    const char *params[2] = {thash, j->link.hash};
    api_call(r, &q_self_checkin, params, on_linked);
}

/* SQL answered today's bookings of the store that may check in, names opened on the way: keeps
 * those whose customer name contains the searched text, in SQL's order. */
static void on_search(struct req *r, const struct db_result *res)
{
    json_t *all, *hits = NULL, *item;
    const char *name_q = http_query(r, "name");
    char *want = NULL, *q = NULL;
    size_t i;

    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    /* SQL refused a missing or short name: a success always had one. */
    if (!(all = api_result_json(r, res)) || !json_is_array(all) || !name_q) {
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        goto out;
    }
    if (!(q = trimmed(name_q)) || !(want = api_name_fold(q)) || !(hits = json_array()))
        goto oom;
    json_array_foreach(all, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "customer_name"));
        char *folded = name ? api_name_fold(name) : NULL;
        bool hit = folded && strstr(folded, want);
        free(folded);
        if (name && !folded)
            goto oom;
        if (hit && json_array_append(hits, item) < 0)
            goto oom;
    }
    http_reply_jansson(r, 200, hits);
    hits = NULL;
    goto out;
oom:
    http_reply_oom(r);
out:
    if (hits)
        json_decref(hits);
    if (all)
        json_decref(all);
    free(want);
    free(q);
}

void floor_checkin_search(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[4] = {r->who.staff_id, store, http_query(r, "name"), r->id};
    if (store)
        api_call(r, &q_checkin_search, params, on_search);
}

/* ---- standby ---- */

/* A standby offer goes by SMS to a '+' and 7 to 15 digits, nothing else. */
static bool standby_phone_ok(const char *phone)
{
    size_t n = 0;
    if (phone[0] != '+')
        return false;
    for (const char *p = phone + 1; *p; p++, n++)
        if (!isdigit((unsigned char)*p))
            return false;
    return n >= FLOOR_STANDBY_PHONE_MIN && n <= FLOOR_STANDBY_PHONE_MAX;
}

void floor_standby_join(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *name, *email, *phone, *date;
    json_t *body;
    char *text = NULL;

    if (!store || !api_need_body(r))
        return;
    if (api_opt_string(r, "name", FLOOR_STANDBY_NAME_MAX, &name) < 0 ||
        api_opt_string(r, "email", FLOOR_CONTACT_MAX, &email) < 0 ||
        api_opt_string(r, "phone", FLOOR_CONTACT_MAX, &phone) < 0 ||
        api_opt_string(r, "date", FLOOR_CODE_MAX, &date) < 0)
        return;
    if (!json_is_integer(json_object_get(r->json, "service_id"))) {
        http_reply_error(r, 422, "invalid", "service_id", "service_id is required");
        return;
    }
    if (!name || all_blank(name)) {
        http_reply_error(r, 422, "invalid", "name", "a name of 1 to 200 characters is required");
        return;
    }
    if (!email && !phone) {
        http_reply_error(r, 422, "invalid", "email", "an email or a phone number is required");
        return;
    }
    /* The outbox's own test of an address, done here now that the outbox sees it sealed: the
     * offer must be deliverable. */
    if (email && (strlen(email) > FLOOR_EMAIL_MAX || !floor_email_like(email, false))) {
        http_reply_error(r, 422, "invalid", "email", "that is not an email address");
        return;
    }
    if (phone && !standby_phone_ok(phone)) {
        http_reply_error(r, 422, "invalid", "phone", "a phone number in the form +33612345678");
        return;
    }
    if ((body = body_copy(r)) != NULL) {
        if (seal_name(body, name) == 0 &&
            (!email || api_seal_member(body, "email", email, "email", "email_bi") == 0) &&
            (!phone || api_seal_member(body, "phone", phone, "phone", "phone_bi") == 0))
            text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
    }
    if (!text)
        http_reply_oom(r);
    join_call(r, store, &q_standby_join, text);
}

void floor_standby_status(struct req *r)
{
    token_call(r, &q_standby_status);
}

void floor_standby_leave(struct req *r)
{
    token_call(r, &q_standby_leave);
}

/* Claiming books the slot: the reply carries the new booking's manage link, minted here. */
void floor_standby_claim(struct req *r)
{
    char thash[LINK_HASH_LEN + 1];
    struct linked *j;

    if (!link_from_path(r, "token", thash) || !(j = linked_new(r, 200, "manage_token")))
        return;
    /* The token goes once, sealed (seal.h), for the link in the confirmation message. */
    char *marker = seal_marker(j->link.token);
    if (!marker) {
        http_reply_oom(r);
        return;
    }
    const char *params[3] = {thash, j->link.hash, marker};
    api_call(r, &q_standby_claim, params, on_linked);
    free(marker);
}

/* ---- the floor rules of a store ---- */

void floor_settings_get(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[1] = {store};
    if (store)
        api_send(r, &q_settings_get, params, 200);
}

void floor_settings_put(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (!store || !api_need_body(r))
        return;
    const char *params[4] = {r->who.staff_id, store, api_body(r), r->id};
    api_send(r, &q_settings_put, params, 200);
}
