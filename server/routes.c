/*
 * routes: every endpoint of carnetd, who may call it, and what it does. Review access here.
 *
 * access: ACCESS_PUBLIC needs no session (customer endpoints check their link token in SQL);
 * any other value is a set of roles, checked in the {store} of the path when there is one, and
 * otherwise by the handler's SQL against the object's store.
 */
#include "router.h"

#include "auth.h"
#include "booking.h"
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
    {"GET", "/api/stores", booking_stores_list, ACCESS_PUBLIC, "stores"},
    {"GET", "/api/stores/{store}", booking_store_get, ACCESS_PUBLIC,
     "a store: time zone, opening hours, closures"},
    {"GET", "/api/stores/{store}/services", booking_services_list, ACCESS_PUBLIC,
     "a store's bookable services"},
    {"GET", "/api/stores/{store}/availability", booking_availability, ACCESS_PUBLIC,
     "free slots of a service over a date range"},
    {"POST", "/api/stores/{store}/appointments", booking_create, ACCESS_PUBLIC,
     "book a slot (Idempotency-Key)"},
    {"GET", "/api/manage/{token}", booking_manage_get, ACCESS_PUBLIC, "a booking, by its link"},
    {"POST", "/api/manage/{token}/reschedule", booking_manage_reschedule, ACCESS_PUBLIC,
     "move a booking, by its link"},
    {"POST", "/api/manage/{token}/cancel", booking_manage_cancel, ACCESS_PUBLIC,
     "cancel a booking, by its link"},
    {"GET", "/api/stores/{store}/appointments", booking_day, ACCESS_STAFF, "a day's appointments"},
    {"POST", "/api/stores/{store}/appointments/{id}/reschedule", booking_staff_reschedule,
     ACCESS_FLOOR, "move a booking"},
    {"POST", "/api/stores/{store}/appointments/{id}/cancel", booking_staff_cancel, ACCESS_FLOOR,
     "cancel a booking"},
    {"PUT", "/api/stores/{store}/hours", booking_set_hours, ACCESS_MANAGER, "set opening hours"},
    {"POST", "/api/stores/{store}/closures", booking_add_closure, ACCESS_MANAGER,
     "close the store for a day"},
    {"POST", "/api/stores/{store}/services", booking_add_service, ACCESS_MANAGER, "add a service"},
    {"PUT", "/api/stores/{store}/staff/{staff}/skills", booking_set_skills, ACCESS_MANAGER,
     "set a staff member's skills"},
    {"GET", "/api/stores/{store}/shifts", booking_shifts_list, ACCESS_STAFF, "the rota"},
    {"POST", "/api/stores/{store}/shifts", booking_add_shift, ACCESS_MANAGER, "add a shift"},
    {"DELETE", "/api/stores/{store}/shifts/{id}", booking_delete_shift, ACCESS_MANAGER,
     "remove a shift without bookings"},

    /* ---- the store floor: check-in, line, call next, standby, live streams (floor.c, sse.c) ---- */

    /* ---- devices, diagnostics, repairs, the health record (device.c, repair.c) ---- */

    /* ---- messages, outbox, surveys (message.c) ---- */
};

const int nroutes = (int)(sizeof(routes) / sizeof(routes[0]));
