/*
 * routes: every endpoint of carnetd, who may call it, and what it does. Review access here.
 *
 * access: ACCESS_PUBLIC needs no session (customer endpoints check their link token in SQL);
 * any other value is a set of roles, checked in the {store} of the path when there is one, and
 * otherwise by the handler's SQL against the object's store.
 */
#include "router.h"

#include "auth.h"
#include "floor.h"
#include "sse.h"
#include "system.h"

const struct route routes[] = {
    /* operations */
    {"GET", "/healthz", system_healthz, ACCESS_PUBLIC, "database round trip"},
    {"GET", "/metrics", system_metrics, ACCESS_PUBLIC, "Prometheus metrics"},
    {"GET", "/api/openapi.json", system_openapi, ACCESS_PUBLIC, "this API, described"},

    /* staff sessions */
    {"POST", "/api/auth/login", auth_login, ACCESS_PUBLIC, "sign in"},
    {"POST", "/api/auth/logout", auth_logout, ACCESS_PUBLIC, "sign out"},
    {"GET", "/api/auth/me", auth_me, ACCESS_STAFF, "who am I"},

    /* ---- staff accounts (staff.c) ---- */

    /* ---- stores, services, availability, booking (booking.c) ---- */

    /* ---- the store floor: check-in, line, call next, standby, live streams (floor.c, sse.c) ---- */
    {"POST", "/api/stores/{store}/line", floor_join_line, ACCESS_PUBLIC,
     "join the walk-in line (kiosk, phone or staff); returns the private line link"},
    {"GET", "/api/line/{token}", floor_line_status, ACCESS_PUBLIC, "my place in line and wait"},
    {"POST", "/api/line/{token}/leave", floor_line_leave, ACCESS_PUBLIC, "leave the line"},
    {"GET", "/api/line/{token}/events", sse_line_stream, ACCESS_PUBLIC,
     "live stream of my place in line (SSE)"},
    {"GET", "/api/stores/{store}/board", floor_board, ACCESS_PUBLIC,
     "wall board: tickets and initials"},
    {"GET", "/api/stores/{store}/board/events", sse_board_stream, ACCESS_PUBLIC,
     "live stream of the wall board (SSE)"},
    {"GET", "/api/stores/{store}/events", sse_store_stream, ACCESS_FLOOR,
     "live stream of the store floor for staff (SSE)"},
    {"GET", "/api/stores/{store}/queue", floor_queue, ACCESS_FLOOR, "the line and who is served"},
    {"POST", "/api/stores/{store}/queue/next", floor_call_next, ACCESS_FLOOR,
     "call the next customer"},
    {"POST", "/api/visits/{id}/start", floor_visit_start, ACCESS_FLOOR, "service starts"},
    {"POST", "/api/visits/{id}/done", floor_visit_done, ACCESS_FLOOR, "service done"},
    {"POST", "/api/visits/{id}/skip", floor_visit_skip, ACCESS_FLOOR,
     "called customer absent: back of the line"},
    {"POST", "/api/visits/{id}/requeue", floor_visit_requeue, ACCESS_FLOOR,
     "send back to the line at their place"},
    {"POST", "/api/visits/{id}/left", floor_visit_left, ACCESS_FLOOR, "customer left"},

    /* ---- devices, diagnostics, repairs, the health record (device.c, repair.c) ---- */

    /* ---- messages, outbox, surveys (message.c) ---- */
};

const int nroutes = (int)(sizeof(routes) / sizeof(routes[0]));
