/*
 * booking: stores' opening hours, services, staff skills and shifts, availability, and
 * customers' appointments (book, manage by private link, reschedule, cancel). The handlers
 * validate and normalise input; the booking_* functions of schema/002_booking.sql own the
 * invariants (no double booking is an exclusion constraint there).
 */
#ifndef CARNET_BOOKING_H
#define CARNET_BOOKING_H

#include <stdbool.h>
#include <stddef.h>

struct req;

/* Sets up the month view's cache (--avail-cache) and its channel; before pglisten_start. */
int booking_init(void);

/* Appointment life cycle, as in the CHECK constraint of appointments.status:
 * BOOKED -> CHECKED_IN -> IN_SERVICE -> DONE; or CANCELLED; or NO_SHOW. The first three hold a
 * staff member's time. */
enum appointment_state {
    APPT_BOOKED,
    APPT_CHECKED_IN,
    APPT_IN_SERVICE,
    APPT_DONE,
    APPT_CANCELLED,
    APPT_NO_SHOW,
};
const char *appointment_state_name(enum appointment_state s);

/* Input checks shared with tests: each returns true when the value is acceptable and writes
 * the normalised form into `out` (size `outlen`). */
bool booking_email_ok(const char *email);
bool booking_serial_normalise(const char *in, char *out, size_t outlen);

/* public */
void booking_stores_list(struct req *r);
void booking_store_get(struct req *r);
void booking_services_list(struct req *r);
void booking_availability(struct req *r);
void booking_create(struct req *r);
void booking_manage_get(struct req *r);
void booking_manage_reschedule(struct req *r);
void booking_manage_cancel(struct req *r);

/* staff of the store in the path */
void booking_day(struct req *r);
void booking_staff_reschedule(struct req *r);
void booking_staff_cancel(struct req *r);
void booking_shifts_list(struct req *r);

/* managers */
void booking_set_hours(struct req *r);
void booking_add_closure(struct req *r);
void booking_add_service(struct req *r);
void booking_set_skills(struct req *r);
void booking_add_shift(struct req *r);
void booking_delete_shift(struct req *r);

#endif
