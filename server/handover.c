/*
 * handover: the seam between the floor and the bench. POST /api/visits/{id}/handover turns the
 * visit being served into a repair order carrying everything the customer already said (SQL:
 * floor_handover), and without a technician named it waits on the store's bench queue
 * (schema/api/bench.sql) until one takes it.
 *
 * Two calls, because a walk-in's own words are sealed (seal.h) and the repair keeps them in
 * clear like every repair's problem: the first call (floor_handover_words) reads them, carnetd
 * opens them, and the second (floor_handover) makes the repair in one transaction. The status
 * link of the new repair is minted here like repair_open's; the reply is the repair order as
 * GET /api/repairs/{id} returns it, without the token (the customer gets it by message).
 * An Idempotency-Key is kept only as a keyed hash: a retry answers the same repair.
 */
#include "handover.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "link.h"
#include "seal.h"

static struct sql_stmt q_words =
    SQL_STMT("floor_handover_words", "select floor_handover_words($1::bigint, $2::bigint)", 2);
static struct sql_stmt q_handover =
    SQL_STMT("floor_handover",
             "select floor_handover($1::bigint, $2::bigint, $3::jsonb, $4, $5, $6, $7, $8)", 8);
static struct sql_stmt q_bench_list =
    SQL_STMT("bench_list", "select bench_list($1::bigint, $2::bigint)", 2);
static struct sql_stmt q_bench_take =
    SQL_STMT("bench_take", "select bench_take($1::bigint, $2::bigint, $3)", 3);

/* r->state of a hand-over: the new repair's status link and the key's hash (or ""). */
struct handover {
    struct link link;
    char key_hash[SEAL_BLIND_HEX + 1];
};

static void handover_free(void *p)
{
    struct handover *h = p;
    link_wipe(&h->link);
    free(h);
}

/* The visit's words came back (opened): the hand-over itself. */
static void on_words(struct req *r, const struct db_result *res)
{
    struct handover *h = r->state;
    json_t *w = api_result_object(r, res);
    char *marker;

    if (!w)
        return;
    /* Messages get the status link's token sealed: the database never holds it in clear. */
    if (!(marker = seal_marker(h->link.token))) {
        json_decref(w);
        http_reply_oom(r);
        return;
    }
    const char *params[8] = {r->who.staff_id,
                             api_path_id(r, "id"),
                             api_body(r),
                             json_string_value(json_object_get(w, "problem")),
                             h->key_hash[0] ? h->key_hash : NULL,
                             h->link.hash,
                             r->id,
                             marker};
    api_send(r, &q_handover, params, 201);
    free(marker);
    json_decref(w);
}

void handover_visit(struct req *r)
{
    const char *id = api_path_id(r, "id");
    const char *key = http_header(r, "Idempotency-Key");
    struct handover *h;

    if (!id)
        return;
    if (key && !api_idem_key_ok(key)) {
        http_reply_error(r, 400, "invalid", "Idempotency-Key",
                         "an Idempotency-Key is 1 to %d visible characters", API_IDEM_KEY_MAX);
        return;
    }
    if (!(h = calloc(1, sizeof(*h)))) {
        http_reply_oom(r);
        return;
    }
    r->state = h;
    r->state_free = handover_free;
    link_mint(&h->link);
    if (key && seal_keyed("carnet-handover", key, h->key_hash) < 0) {
        http_reply_oom(r);
        return;
    }
    const char *params[2] = {r->who.staff_id, id};
    api_call(r, &q_words, params, on_words);
}

void handover_bench_list(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[2] = {r->who.staff_id, store};
    if (store)
        api_send(r, &q_bench_list, params, 200);
}

void handover_bench_take(struct req *r)
{
    const char *id = api_path_id(r, "id");
    const char *params[3] = {r->who.staff_id, id, r->id};
    if (id)
        api_send(r, &q_bench_take, params, 200);
}
