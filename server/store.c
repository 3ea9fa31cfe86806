/*
 * store: see store.h. Each handler checks what HTTP owns (path ids, a JSON object body) and
 * makes one call to a store_* SQL function with the body as received: SQL decides who may
 * change which field (a manager of the store: name, address, phone; an admin: everything),
 * checks the values and writes the audit entry in the same transaction. A store holds no
 * personal data, so nothing here is sealed.
 */
#include "store.h"

#include "api.h"
#include "http.h"

static struct sql_stmt q_create = SQL_STMT("store_create", "select store_create($1, $2, $3)", 3);
static struct sql_stmt q_update =
    SQL_STMT("store_update", "select store_update($1, $2, $3, $4)", 4);
static struct sql_stmt q_chain = SQL_STMT("store_chain", "select store_chain($1, $2)", 2);
static struct sql_stmt q_service_update =
    SQL_STMT("store_service_update", "select store_service_update($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_staff_stores =
    SQL_STMT("store_staff_stores", "select store_staff_stores($1, $2)", 2);
static struct sql_stmt q_services_all =
    SQL_STMT("store_services_all", "select store_services_all($1, $2, $3)", 3);

void store_create(struct req *r)
{
    if (!api_need_body(r))
        return;
    const char *params[3] = {r->who.staff_id, r->id, api_body(r)};
    api_send(r, &q_create, params, 201);
}

void store_chain(struct req *r)
{
    const char *params[2] = {r->who.staff_id, r->id};
    api_send(r, &q_chain, params, 200);
}

void store_update(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (!store || !api_need_body(r))
        return;
    const char *params[4] = {r->who.staff_id, r->id, store, api_body(r)};
    api_send(r, &q_update, params, 200);
}

void store_service_update(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *id = store ? api_path_id(r, "id") : NULL;
    if (!id || !api_need_body(r))
        return;
    const char *params[5] = {r->who.staff_id, r->id, store, id, api_body(r)};
    api_send(r, &q_service_update, params, 200);
}

void store_services_all(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (!store)
        return;
    const char *params[3] = {r->who.staff_id, r->id, store};
    api_send(r, &q_services_all, params, 200);
}

void store_staff_stores(struct req *r)
{
    const char *params[2] = {r->who.staff_id, r->id};
    api_send(r, &q_staff_stores, params, 200);
}
