/*
 * observation: handlers for a repair kept under observation overnight and the store's
 * call-back list.
 *
 * Each is one SQL call (schema/api/observation.sql) whose answer is the reply: the repair's
 * observations with the diagnostic sessions logged while each was open, or the list of
 * call-backs still to make. Which sessions belong to a night is decided there, from the time
 * their record entry was written, so the diagnostics handlers (device.c) know nothing of it.
 * The call-back list carries the customers' names and contacts sealed; the kit opens them on
 * the way out (api_send), as it does for every reply.
 */
#include "observation.h"

#include <stdbool.h>

#include "api.h"
#include "http.h"

static struct sql_stmt q_start =
    SQL_STMT("observation_start", "select observation_start($1, $2, $3, $4)", 4);
static struct sql_stmt q_end =
    SQL_STMT("observation_end", "select observation_end($1, $2, $3, $4)", 4);
static struct sql_stmt q_get = SQL_STMT("observation_get", "select observation_get($1, $2, $3)", 3);
static struct sql_stmt q_done =
    SQL_STMT("observation_callback_done", "select observation_callback_done($1, $2, $3, $4)", 4);
static struct sql_stmt q_list =
    SQL_STMT("observation_callbacks", "select observation_callbacks($1, $2, $3)", 3);

/* (actor, repair id, body as received, request id) -> the repair's observations. A call that
 * needs no body (`body_needed` false) takes none as {}. */
static void call_with_body(struct req *r, struct sql_stmt *stmt, bool body_needed)
{
    const char *id = api_path_id(r, "id");

    if (!id || (body_needed && !api_need_body(r)))
        return;
    const char *params[4] = {r->who.staff_id, id, api_body(r), r->id};
    api_send(r, stmt, params, 200);
}

void observation_start(struct req *r)
{
    call_with_body(r, &q_start, true);
}

void observation_end(struct req *r)
{
    call_with_body(r, &q_end, false);
}

void observation_callback_done(struct req *r)
{
    call_with_body(r, &q_done, true);
}

void observation_get(struct req *r)
{
    const char *id = api_path_id(r, "id");

    if (!id)
        return;
    const char *params[3] = {r->who.staff_id, id, r->id};
    api_send(r, &q_get, params, 200);
}

void observation_callbacks(struct req *r)
{
    const char *store = api_path_id(r, "store");

    if (!store)
        return;
    const char *params[3] = {r->who.staff_id, store, r->id};
    api_send(r, &q_list, params, 200);
}
