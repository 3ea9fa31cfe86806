/*
 * router: the route table, as data. Every endpoint is one row in routes.c: method, path pattern,
 * handler, and who may call it, so one screen shows the whole API surface and its rules.
 *
 * Patterns are literal segments and "{name}" segments that capture one path segment. A {store}
 * segment is special: the dispatcher checks the caller has one of the route's roles in that store
 * before the handler runs.
 */
#ifndef CARNET_ROUTER_H
#define CARNET_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

struct req;
typedef void (*route_handler)(struct req *r);

/* Roles are bits; a route's `access` is the set of roles that may call it. */
enum role {
    ROLE_SPECIALIST = 1u << 0,
    ROLE_TECHNICIAN = 1u << 1,
    ROLE_MANAGER = 1u << 2,
    ROLE_ADMIN = 1u << 3,
};
#define ACCESS_PUBLIC 0u
#define ACCESS_STAFF (ROLE_SPECIALIST | ROLE_TECHNICIAN | ROLE_MANAGER | ROLE_ADMIN)
#define ACCESS_FLOOR (ROLE_SPECIALIST | ROLE_MANAGER | ROLE_ADMIN)
#define ACCESS_REPAIR (ROLE_TECHNICIAN | ROLE_MANAGER | ROLE_ADMIN)
#define ACCESS_MANAGER (ROLE_MANAGER | ROLE_ADMIN)
#define ACCESS_ADMIN ROLE_ADMIN

#define ROUTE_MAX_PARAMS 6

struct route {
    const char *method;
    const char *pattern;
    route_handler handler;
    unsigned access;
    const char *summary;
};

/* The pattern of the table's fallback row (its last): it serves every path outside the API that
 * no other row has (the web root). It matches no path itself; the dispatcher falls back to it. */
#define ROUTE_FALLBACK "*"

struct route_match {
    const struct route *route;
    int index;
    int nparams;
    const char *names[ROUTE_MAX_PARAMS];
    char *values[ROUTE_MAX_PARAMS]; /* owned by the match: route_match_clear frees them */
    bool path_found;                /* a route has this path but not this method: 405 */
};

extern const struct route routes[];
extern const int nroutes;

/* Upload routes: their body is raw bytes (a photo, a tool's report), handed to the handler as
 * received and held to --max-upload; every other route's body is a JSON object within --max-body.
 * Listed by handler in routes.c, beside the table. */
extern const route_handler route_uploads[];
extern const int nroute_uploads;
bool router_is_upload(const struct route *rt);
/* Stream routes (Server-Sent Events, sse.c): a pool refusal before their handler runs (the
 * session check) answers as their own refused open does, with a retry delay, never a 503 that
 * would make EventSource give up. Listed by handler in routes.c, beside the table. */
extern const route_handler route_streams[];
extern const int nroute_streams;
bool router_is_stream(const struct route *rt);

const char *role_name(enum role role);
/* "public", "staff" (every role) or the roles joined by commas, e.g. "manager,admin". */
void router_access_text(unsigned access, char *out, size_t len);
int role_parse(const char *name, enum role *out);

/* Matches `path` (already percent-decoded) in `table`. Returns 0 when a route matched. */
int router_match(const struct route *table, int n, const char *method, const char *path,
                 struct route_match *m);
void router_match_clear(struct route_match *m);
/* The table's fallback row, or NULL. */
const struct route *router_fallback(const struct route *table, int n);
const char *router_param(const struct route_match *m, const char *name);

#endif
