/*
 * routes: every endpoint of carnetd, who may call it, and what it does. Review access here.
 *
 * access: ACCESS_PUBLIC needs no session (customer endpoints check their link token in SQL);
 * any other value is a set of roles, checked in the {store} of the path when there is one, and
 * otherwise by the handler's SQL against the object's store.
 */
#include "router.h"

#include "auth.h"
#include "message.h"
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

    /* ---- devices, diagnostics, repairs, the health record (device.c, repair.c) ---- */

    /* ---- messages, outbox, surveys (message.c) ---- */
    {"GET", "/api/messages/{token}", message_customer_get, ACCESS_PUBLIC,
     "customer: the thread of their booking or repair"},
    {"POST", "/api/messages/{token}", message_customer_post, ACCESS_PUBLIC,
     "customer: write to the store"},
    {"GET", "/api/surveys/{token}", message_survey_get, ACCESS_PUBLIC,
     "customer: what a survey link is about"},
    {"POST", "/api/surveys/{token}", message_survey_answer, ACCESS_PUBLIC,
     "customer: answer a survey (once)"},
    {"GET", "/api/stores/{store}/threads", message_threads_list, ACCESS_STAFF,
     "customer threads with unread counts"},
    {"GET", "/api/stores/{store}/threads/{thread}", message_thread_get, ACCESS_STAFF,
     "read a thread (marks it read)"},
    {"POST", "/api/stores/{store}/threads/{thread}/messages", message_staff_post, ACCESS_STAFF,
     "write to the customer"},
    {"GET", "/api/stores/{store}/outbox", message_outbox_list, ACCESS_MANAGER,
     "customer messages and their delivery"},
    {"POST", "/api/stores/{store}/outbox/{id}/retry", message_outbox_retry, ACCESS_MANAGER,
     "send a failed message again"},
    {"GET", "/api/stores/{store}/reports/satisfaction", message_survey_report, ACCESS_MANAGER,
     "CSAT, CES and NPS per week"},
};

const int nroutes = (int)(sizeof(routes) / sizeof(routes[0]));
