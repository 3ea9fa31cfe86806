/*
 * routes: every endpoint of carnetd, who may call it, and what it does. Review access here.
 *
 * access: ACCESS_PUBLIC needs no session (customer endpoints check their link token in SQL);
 * any other value is a set of roles, checked in the {store} of the path when there is one, and
 * otherwise by the handler's SQL against the object's store.
 */
#include "router.h"

#include "auth.h"
#include "staff.h"
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
    {"POST", "/api/auth/password", staff_change_password, ACCESS_STAFF, "change my password"},
    {"GET", "/api/stores/{store}/staff", staff_list, ACCESS_MANAGER, "staff of a store"},
    {"POST", "/api/stores/{store}/staff", staff_create, ACCESS_MANAGER, "create a staff account"},
    {"PUT", "/api/stores/{store}/staff/{staff}/roles", staff_set_roles, ACCESS_MANAGER,
     "set someone's roles in this store"},
    {"POST", "/api/stores/{store}/staff/{staff}/password", staff_reset_password, ACCESS_MANAGER,
     "reset someone's password; ends their sessions"},
    {"POST", "/api/stores/{store}/staff/{staff}/disable", staff_disable, ACCESS_MANAGER,
     "disable an account; ends its sessions at once"},
    {"POST", "/api/stores/{store}/staff/{staff}/enable", staff_enable, ACCESS_MANAGER,
     "enable an account again"},
    {"GET", "/api/audit", staff_audit, ACCESS_MANAGER, "who read or changed what"},

    /* ---- stores, services, availability, booking (booking.c) ---- */

    /* ---- the store floor: check-in, line, call next, standby, live streams (floor.c, sse.c) ---- */

    /* ---- devices, diagnostics, repairs, the health record (device.c, repair.c) ---- */

    /* ---- messages, outbox, surveys (message.c) ---- */
};

const int nroutes = (int)(sizeof(routes) / sizeof(routes[0]));
