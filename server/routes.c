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
#include "customer.h"
#include "device.h"
#include "floor.h"
#include "handover.h"
#include "ics.h"
#include "intake.h"
#include "kiosk.h"
#include "message.h"
#include "observation.h"
#include "passport.h"
#include "ready.h"
#include "repair.h"
#include "rota.h"
#include "report.h"
#include "sse.h"
#include "staff.h"
#include "static.h"
#include "store.h"
#include "system.h"
#include "webhook.h"

const struct route routes[] = {
    /* operations */
    {"GET", "/healthz", system_healthz, ACCESS_PUBLIC, "database round trip"},
    {"GET", "/livez", ready_livez, ACCESS_PUBLIC, "the process runs (no database)"},
    {"GET", "/readyz", ready_readyz, ACCESS_PUBLIC,
     "this node takes traffic: not draining, its database a writable primary"},
    {"GET", "/metrics", system_metrics, ACCESS_PUBLIC, "Prometheus metrics"},
    {"GET", "/api/openapi.json", system_openapi, ACCESS_PUBLIC, "this API, described"},

    /* staff sessions */
    {"POST", "/api/auth/login", auth_login, ACCESS_PUBLIC, "sign in"},
    {"POST", "/api/auth/logout", auth_logout, ACCESS_PUBLIC, "sign out"},
    {"GET", "/api/auth/me", auth_me, ACCESS_STAFF, "who am I"},
    {"POST", "/api/auth/pin", staff_set_pin, ACCESS_STAFF, "set my PIN for shared tablets"},
    {"POST", "/api/auth/lock", auth_lock, ACCESS_STAFF, "lock my session (PIN to come back)"},
    {"POST", "/api/auth/unlock", auth_unlock, ACCESS_PUBLIC,
     "unlock my session, or a colleague's on this tablet, with a PIN"},
    {"GET", "/api/auth/tablet", auth_tablet, ACCESS_PUBLIC,
     "who signed in on this tablet can come back with a PIN"},

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

    /* ---- the rota: weekly patterns, the week grid, closures (rota.c) ---- */
    {"GET", "/api/stores/{store}/rota", rota_week, ACCESS_STAFF, "the week's rota as a grid"},
    {"POST", "/api/stores/{store}/rota/patterns", rota_add_pattern, ACCESS_MANAGER,
     "a shift every week"},
    {"PATCH", "/api/stores/{store}/rota/patterns/{id}", rota_update_pattern, ACCESS_MANAGER,
     "end a weekly shift, or change its times from a day on"},
    {"POST", "/api/stores/{store}/rota/copy-week", rota_copy_week, ACCESS_MANAGER,
     "copy a week's one-off shifts"},
    {"PATCH", "/api/stores/{store}/shifts/{id}", rota_update_shift, ACCESS_MANAGER,
     "move or resize a shift"},
    {"PATCH", "/api/stores/{store}/closures/{id}", rota_update_closure, ACCESS_MANAGER,
     "change a closure's day or reason"},
    {"DELETE", "/api/stores/{store}/closures/{id}", rota_delete_closure, ACCESS_MANAGER,
     "reopen a closed day"},
    /* ---- the chain: stores and services set up (store.c) ---- */
    {"POST", "/api/stores", store_create, ACCESS_ADMIN, "create a store"},
    {"GET", "/api/chain", store_chain, ACCESS_ADMIN, "every store with today's load"},
    {"GET", "/api/auth/stores", store_staff_stores, ACCESS_STAFF,
     "the stores I may use, closed ones too"},
    {"PATCH", "/api/stores/{store}", store_update, ACCESS_MANAGER,
     "edit a store (managers: name, address, phone), close or reopen it (admins)"},
    {"GET", "/api/stores/{store}/services/all", store_services_all, ACCESS_STAFF,
     "every service of a store, archived ones too"},
    {"PATCH", "/api/stores/{store}/services/{id}", store_service_update, ACCESS_MANAGER,
     "edit, price, archive or restore a service"},

    /* ---- the store floor: check-in, line, call next, standby, live streams (floor.c, sse.c) ----
     */
    {"POST", "/api/stores/{store}/checkin", floor_checkin, ACCESS_FLOOR,
     "check a booked customer in (code, appointment id or manage-link QR token; "
     "Idempotency-Key)"},
    {"GET", "/api/stores/{store}/checkin/search", floor_checkin_search, ACCESS_FLOOR,
     "find today's bookings by name"},
    {"POST", "/api/checkin/{token}", floor_self_checkin, ACCESS_PUBLIC,
     "self check-in with the manage link"},
    {"POST", "/api/stores/{store}/standby", floor_standby_join, ACCESS_PUBLIC,
     "join a full day's standby list; returns the private standby link"},
    {"GET", "/api/standby/{token}", floor_standby_status, ACCESS_PUBLIC,
     "my standby place, or the slot offered to me"},
    {"POST", "/api/standby/{token}/claim", floor_standby_claim, ACCESS_PUBLIC,
     "take the offered slot: it becomes my booking"},
    {"POST", "/api/standby/{token}/leave", floor_standby_leave, ACCESS_PUBLIC,
     "leave the standby list (an offer held for me passes on)"},
    /* ---- the kiosk at the door: self check-in, rate-limited per address (kiosk.c) ---- */
    {"POST", "/api/stores/{store}/kiosk/checkin", kiosk_checkin, ACCESS_PUBLIC,
     "kiosk self check-in by code, QR token, or name and phone; one answer to every miss"},
    {"POST", "/api/stores/{store}/line", floor_join_line, ACCESS_PUBLIC,
     "join the walk-in line (kiosk, phone or staff); returns the private line link "
     "(Idempotency-Key)"},
    {"GET", "/api/line/{token}", floor_line_status, ACCESS_PUBLIC, "my place in line and wait"},
    {"POST", "/api/line/{token}/leave", floor_line_leave, ACCESS_PUBLIC, "leave the line"},
    {"GET", "/api/line/{token}/events", sse_line_stream, ACCESS_PUBLIC,
     "live stream of my place in line (SSE)"},
    {"GET", "/api/stores/{store}/board", floor_board, ACCESS_PUBLIC,
     "wall board: tickets and initials"},
    {"GET", "/api/stores/{store}/board/events", sse_board_stream, ACCESS_PUBLIC,
     "live stream of the wall board (SSE)"},
    {"GET", "/api/stores/{store}/events", sse_store_stream, ACCESS_STAFF,
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
    {"GET", "/api/visits/{id}", floor_visit_card, ACCESS_STAFF,
     "the serving card: service, the customer's words, the device and its history"},
    {"POST", "/api/visits/{id}/call", floor_visit_call, ACCESS_FLOOR, "call this person"},
    {"POST", "/api/visits/{id}/recall", floor_visit_recall, ACCESS_FLOOR,
     "call a called person again (the board chimes again)"},
    {"PUT", "/api/session/desk", floor_desk_set, ACCESS_FLOOR,
     "the desk I serve from in this session, shown on the board when I call"},
    {"POST", "/api/visits/{id}/transfer", floor_visit_transfer, ACCESS_FLOOR,
     "hand a visit to a colleague of the floor"},
    {"POST", "/api/visits/{id}/handover", handover_visit, ACCESS_FLOOR,
     "hand the visit being served over to a repair order (Idempotency-Key)"},
    {"GET", "/api/stores/{store}/bench", handover_bench_list, ACCESS_STAFF,
     "the bench queue: handed-over repairs no technician has taken"},
    {"POST", "/api/repairs/{id}/take", handover_bench_take, ACCESS_REPAIR,
     "take a repair off the bench queue"},
    {"GET", "/api/stores/{store}/floor/settings", floor_settings_get, ACCESS_FLOOR,
     "the store's floor rules"},
    {"PUT", "/api/stores/{store}/floor/settings", floor_settings_put, ACCESS_MANAGER,
     "change the store's floor rules"},

    /* ---- devices, diagnostics, repairs, the health record (device.c, repair.c) ---- */
    {"GET", "/api/devices", device_search, ACCESS_STAFF,
     "find devices by serial (exact or prefix), owner email or phone, repair number"},
    {"GET", "/api/devices/{serial}", device_record, ACCESS_STAFF,
     "the health record: device, owners (redacted by store), repairs, entries newest first"},
    {"PUT", "/api/devices/{serial}", device_put, ACCESS_STAFF, "create or update a device"},
    {"POST", "/api/devices/{serial}/owners", device_owner_add, ACCESS_STAFF, "record a new owner"},
    {"POST", "/api/devices/{serial}/diagnostics", device_diagnostic_add, ACCESS_REPAIR,
     "log a diagnostic session (Idempotency-Key)"},
    {"POST", "/api/devices/{serial}/diagnostics/import", device_diagnostic_import, ACCESS_REPAIR,
     "import a tool's report as written (carnet, smartctl, system_profiler, upower)"},
    {"GET", "/api/devices/{serial}/trends", device_trends, ACCESS_STAFF,
     "measured values across diagnostic sessions"},
    {"POST", "/api/devices/{serial}/notes", device_note_add, ACCESS_STAFF,
     "add a note, or a correction of an earlier entry"},
    {"GET", "/api/devices/{serial}/verify", device_verify, ACCESS_STAFF,
     "verify the record's hash chain"},
    {"GET", "/api/devices/{serial}/passport", passport_device, ACCESS_STAFF,
     "the device's history without personal data, signed with the chain's key"},
    {"GET", "/api/passport-key", passport_public_key, ACCESS_PUBLIC,
     "the chain's public key that signs device passports"},
    {"GET", "/api/devices/{serial}/conversations", device_conversations, ACCESS_REPAIR,
     "messages with customers about the device at every store, by repair, booking or visit"},
    {"POST", "/api/stores/{store}/repairs", repair_open, ACCESS_REPAIR,
     "open a repair order with its intake checklist"},
    {"GET", "/api/repairs/{id}", repair_get, ACCESS_STAFF, "a repair order"},
    {"POST", "/api/repairs/{id}/transition", repair_transition, ACCESS_REPAIR,
     "move a repair to another state"},
    {"PUT", "/api/repairs/{id}/estimate", repair_estimate, ACCESS_REPAIR,
     "write a new version of the estimate (lines, VAT); returns its approval link token"},
    {"POST", "/api/repairs/{id}/parts", repair_part_add, ACCESS_REPAIR, "record a part used"},
    {"POST", "/api/repairs/{id}/notes", repair_note_add, ACCESS_REPAIR, "add a labour note"},
    {"PUT", "/api/repairs/{id}/promise", repair_promise, ACCESS_REPAIR,
     "set the promised date and the kept-overnight observation"},
    /* ---- kept under observation overnight, the call-back list (observation.c) ---- */
    {"POST", "/api/repairs/{id}/observation", observation_start, ACCESS_REPAIR,
     "keep a repair under observation with a call-back time promised to the customer"},
    {"GET", "/api/repairs/{id}/observation", observation_get, ACCESS_STAFF,
     "the repair's observations: call-backs and the diagnostics logged meanwhile"},
    {"POST", "/api/repairs/{id}/observation/end", observation_end, ACCESS_REPAIR,
     "end the observation (the call-back stays due)"},
    {"POST", "/api/repairs/{id}/callback/done", observation_callback_done, ACCESS_STAFF,
     "mark the repair's pending call-back made"},
    {"GET", "/api/stores/{store}/callbacks", observation_callbacks, ACCESS_STAFF,
     "who to call back, when, with the night's results"},
    /* ---- a repair's intake: condition, photos, signature (intake.c) ---- */
    {"GET", "/api/repairs/{id}/intake", intake_get, ACCESS_STAFF,
     "the intake: condition records, photos, signature, terms (for the ticket and the receipt)"},
    {"POST", "/api/repairs/{id}/intake", intake_record, ACCESS_REPAIR,
     "record the device's condition at intake, or a correction of the current record"},
    {"POST", "/api/repairs/{id}/photos", intake_photo_add, ACCESS_REPAIR,
     "attach a photo: the raw JPEG, PNG or WebP bytes (5 MiB at most)"},
    {"GET", "/api/repairs/{id}/photos/{photo}", intake_photo_get, ACCESS_STAFF,
     "a photo's bytes, to staff of the repair's store"},
    {"POST", "/api/repairs/{id}/signature", intake_sign, ACCESS_REPAIR,
     "the customer's signature of the intake terms (a PNG, base64)"},
    {"GET", "/api/repair-status/{token}", repair_status_view, ACCESS_PUBLIC,
     "the customer's repair status page"},
    {"GET", "/api/repair-status/{token}/passport", passport_status, ACCESS_PUBLIC,
     "my device's signed passport, from my repair status link"},
    {"GET", "/api/repairs/{id}/events", sse_repair_stream, ACCESS_STAFF,
     "live stream of a repair order (SSE)"},
    {"GET", "/api/repair-status/{token}/events", sse_repair_status_stream, ACCESS_PUBLIC,
     "live stream of my repair's status (SSE)"},
    {"GET", "/api/stores/{store}/repair-settings", repair_settings_get, ACCESS_MANAGER,
     "which repair moves send the customer a message, and the store's language"},
    {"PUT", "/api/stores/{store}/repair-settings", repair_settings_put, ACCESS_MANAGER,
     "choose which repair moves send the customer a message, and the store's language"},
    {"GET", "/api/estimates/{token}", repair_estimate_view, ACCESS_PUBLIC,
     "the estimate behind a customer's approval link"},
    {"POST", "/api/estimates/{token}/approve", repair_estimate_approve, ACCESS_PUBLIC,
     "the customer approves the estimate"},
    {"POST", "/api/estimates/{token}/decline", repair_estimate_decline, ACCESS_PUBLIC,
     "the customer declines the estimate, with a reason"},
    {"POST", "/api/estimates/{token}/callback", repair_estimate_callback, ACCESS_PUBLIC,
     "the customer asks to be called back about the estimate"},

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

    /* ---- reports (report.c) ---- */
    {"GET", "/api/stores/{store}/reports/floor", report_floor, ACCESS_MANAGER,
     "bookings, no-shows, walk-ins, waits and service times per local day"},
    {"GET", "/api/stores/{store}/reports/repairs", report_repair_figures, ACCESS_MANAGER,
     "repair figures over a range of dates, beside the period before (CSV too)"},
    {"GET", "/api/stores/{store}/reports/staff", report_staff, ACCESS_MANAGER,
     "per staff member: served, service time, satisfaction, over a range (CSV too)"},
    {"GET", "/api/reports/chain", report_chain, ACCESS_ADMIN,
     "every store's headline figures and the chain's total over a range (CSV too)"},
    {"GET", "/api/stores/{store}/reports/promises", report_promises, ACCESS_MANAGER,
     "the share of promised dates kept (CSV with format=csv)"},
    {"GET", "/api/reports/promises", report_promises_chain, ACCESS_ADMIN,
     "the share of promised dates kept per store, for the chain (CSV with format=csv)"},
    {"GET", "/api/stores/{store}/repairs", report_repairs, ACCESS_STAFF,
     "the store's repair orders, newest first, by state"},

    /* ---- customers' personal data: access, erasure, erasure requests (customer.c) ---- */
    {"GET", "/api/customers", customer_access, ACCESS_MANAGER,
     "everything held about one customer, by email or phone (GDPR art. 15)"},
    {"POST", "/api/customers/erase", customer_erase, ACCESS_MANAGER,
     "erase one customer's contact data and message texts (GDPR art. 17)"},
    {"POST", "/api/manage/{token}/erasure-request", customer_request_from_booking, ACCESS_PUBLIC,
     "customer: ask the store to erase my data, by my booking's link"},
    {"POST", "/api/repair-status/{token}/erasure-request", customer_request_from_repair,
     ACCESS_PUBLIC, "customer: ask the store to erase my data, by my repair's status link"},
    {"GET", "/api/stores/{store}/erasure-requests", customer_erasure_requests, ACCESS_MANAGER,
     "customers' erasure requests to this store"},

    /* ---- calendar feeds: private .ics URLs of the store's or one person's diary (ics.c) ---- */
    {"GET", "/api/stores/{store}/calendar/{token}", ics_feed_get, ACCESS_PUBLIC,
     "a calendar feed (text/calendar), by its private URL ({token} is the token and .ics)"},
    {"GET", "/api/stores/{store}/calendar-feeds", ics_feeds_list, ACCESS_STAFF,
     "my calendar feeds of this store (a manager: all of them), without their URLs"},
    {"POST", "/api/stores/{store}/calendar-feeds", ics_feed_create, ACCESS_STAFF,
     "make a calendar feed: the store's (managers) or a staff member's; the URL is shown once"},
    {"DELETE", "/api/stores/{store}/calendar-feeds/{id}", ics_feed_revoke, ACCESS_STAFF,
     "revoke a calendar feed: its URL stops working"},
    /* ---- webhooks: a store's HTTPS endpoints for its events (webhook.c) ---- */
    {"GET", "/api/stores/{store}/webhooks", webhook_list, ACCESS_MANAGER,
     "the store's webhook endpoints (never their secrets)"},
    {"POST", "/api/stores/{store}/webhooks", webhook_create, ACCESS_MANAGER,
     "register an https endpoint for events; the signing secret is shown this once"},
    {"PATCH", "/api/stores/{store}/webhooks/{id}", webhook_update, ACCESS_MANAGER,
     "change an endpoint's URL, events or description, or disable and enable it"},
    {"DELETE", "/api/stores/{store}/webhooks/{id}", webhook_delete, ACCESS_MANAGER,
     "delete an endpoint and its delivery log"},
    {"POST", "/api/stores/{store}/webhooks/{id}/rotate-secret", webhook_rotate_secret,
     ACCESS_MANAGER, "a new signing secret, shown this once; the old one stops at once"},
    {"GET", "/api/stores/{store}/webhooks/{id}/deliveries", webhook_deliveries, ACCESS_MANAGER,
     "the endpoint's delivery log: each event, its tries and their outcomes"},

    /* ---- the web root (static.c): every other path outside /api/ ---- */
    {"GET", ROUTE_FALLBACK, static_serve, ACCESS_PUBLIC, "pages, scripts and styles"},
};

const int nroutes = (int)(sizeof(routes) / sizeof(routes[0]));

const route_handler route_uploads[] = {intake_photo_add, device_diagnostic_import};
const int nroute_uploads = (int)(sizeof(route_uploads) / sizeof(route_uploads[0]));

const route_handler route_streams[] = {sse_store_stream, sse_board_stream, sse_line_stream,
                                       sse_repair_stream, sse_repair_status_stream};
const int nroute_streams = (int)(sizeof(route_streams) / sizeof(route_streams[0]));
