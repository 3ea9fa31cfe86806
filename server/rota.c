/*
 * rota: the HTTP side of the rota. Each handler takes the store and object ids from the path
 * and the body as received, and makes one call to a rota_* SQL function: patterns are kept in
 * local wall-clock time and materialised into ordinary shifts there, so the booking code keeps
 * reading one table; and whether a booking relies on a shift is decided in the same
 * transaction, under the person's booking lock (booking_lock_staff), as the change itself.
 */
#include "rota.h"

#include "api.h"
#include "http.h"

static struct sql_stmt q_week = SQL_STMT("rota_week", "select rota_week($1, $2, $3)", 3);
static struct sql_stmt q_add_pattern =
    SQL_STMT("rota_add_pattern", "select rota_add_pattern($1, $2, $3, $4)", 4);
static struct sql_stmt q_update_pattern =
    SQL_STMT("rota_update_pattern", "select rota_update_pattern($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_update_shift =
    SQL_STMT("rota_update_shift", "select rota_update_shift($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_copy_week =
    SQL_STMT("rota_copy_week", "select rota_copy_week($1, $2, $3, $4)", 4);
static struct sql_stmt q_update_closure =
    SQL_STMT("rota_update_closure", "select rota_update_closure($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_delete_closure =
    SQL_STMT("rota_delete_closure", "select rota_delete_closure($1, $2, $3, $4)", 4);

/* (actor, store, body, request id) */
static void store_call(struct req *r, struct sql_stmt *stmt, int status)
{
    const char *store = api_path_id(r, "store");
    if (!store || !api_need_body(r))
        return;
    const char *params[4] = {r->who.staff_id, store, api_body(r), r->id};
    api_send(r, stmt, params, status);
}

/* (actor, store, the object's id, body, request id) */
static void object_call(struct req *r, struct sql_stmt *stmt)
{
    const char *store = api_path_id(r, "store");
    const char *id = store ? api_path_id(r, "id") : NULL;
    if (!id || !api_need_body(r))
        return;
    const char *params[5] = {r->who.staff_id, store, id, api_body(r), r->id};
    api_send(r, stmt, params, 200);
}

void rota_week(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (!store)
        return;
    const char *params[3] = {r->who.staff_id, store, http_query(r, "week")};
    api_send(r, &q_week, params, 200);
}

void rota_add_pattern(struct req *r)
{
    store_call(r, &q_add_pattern, 201);
}

void rota_update_pattern(struct req *r)
{
    object_call(r, &q_update_pattern);
}

void rota_update_shift(struct req *r)
{
    object_call(r, &q_update_shift);
}

void rota_copy_week(struct req *r)
{
    store_call(r, &q_copy_week, 200);
}

void rota_update_closure(struct req *r)
{
    object_call(r, &q_update_closure);
}

void rota_delete_closure(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *id = store ? api_path_id(r, "id") : NULL;
    if (!id)
        return;
    const char *params[4] = {r->who.staff_id, store, id, r->id};
    api_send(r, &q_delete_closure, params, 200);
}
