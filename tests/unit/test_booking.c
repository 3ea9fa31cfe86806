/* Unit tests for booking.c's input checks: email and device serial normalisation, and the kit's
 * phone normalisation (api.c) that bookings use. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "booking.h"

START_TEST(emails)
{
    char longest[300];
    ck_assert(booking_email_ok("camille@example.com"));
    ck_assert(booking_email_ok("c.d+tag@sub.example.fr"));
    ck_assert(!booking_email_ok("camille"));
    ck_assert(!booking_email_ok("@example.com"));
    ck_assert(!booking_email_ok("a@b"));
    ck_assert(!booking_email_ok("a@@b.com"));
    ck_assert(!booking_email_ok("a b@example.com"));
    ck_assert(!booking_email_ok("a@exa mple.com"));
    ck_assert(!booking_email_ok("a@.example.com"));
    ck_assert(!booking_email_ok("a@example..com"));
    ck_assert(!booking_email_ok("a@example.com."));
    memset(longest, 'x', 250);
    strcpy(longest + 250, "@ab.fr");
    ck_assert(!booking_email_ok(longest)); /* 256 > 254 */
}
END_TEST

START_TEST(phones)
{
    char out[32];
    ck_assert(api_phone_normalise("+33 6 12-34.56 (78)", out, sizeof(out)));
    ck_assert_str_eq(out, "+33612345678");
    ck_assert(api_phone_normalise(" +1234567", out, sizeof(out)));
    ck_assert_str_eq(out, "+1234567");
    ck_assert(!api_phone_normalise("+123456", out, sizeof(out)));           /* 6 digits */
    ck_assert(!api_phone_normalise("+1234567890123456", out, sizeof(out))); /* 16 */
    ck_assert(!api_phone_normalise("0612345678", out, sizeof(out)));        /* no + */
    ck_assert(!api_phone_normalise("+33 6 12 34 56 7x", out, sizeof(out)));
    ck_assert(!api_phone_normalise("+", out, sizeof(out)));
}
END_TEST

START_TEST(serials)
{
    char out[40];
    ck_assert(booking_serial_normalise("  c02xk1 23abc ", out, sizeof(out)));
    ck_assert_str_eq(out, "C02XK123ABC");
    ck_assert(booking_serial_normalise("490154203237518", out, sizeof(out))); /* valid IMEI */
    ck_assert(booking_serial_normalise("35 209900 176148 1", out, sizeof(out)));
    ck_assert_str_eq(out, "352099001761481");
    ck_assert(!booking_serial_normalise("490154203237519", out, sizeof(out))); /* bad Luhn */
    ck_assert(booking_serial_normalise("49015420323751", out, sizeof(out)));   /* 14: not an IMEI */
    ck_assert(!booking_serial_normalise("AB-123", out, sizeof(out)));
    ck_assert(!booking_serial_normalise("AB12", out, sizeof(out)));
    ck_assert(!booking_serial_normalise("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456", out, sizeof(out)));
    ck_assert(booking_serial_normalise("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", out, sizeof(out)));
}
END_TEST

START_TEST(state_names)
{
    ck_assert_str_eq(appointment_state_name(APPT_BOOKED), "booked");
    ck_assert_str_eq(appointment_state_name(APPT_CHECKED_IN), "checked_in");
    ck_assert_str_eq(appointment_state_name(APPT_NO_SHOW), "no_show");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("booking");
    TCase *tc = tcase_create("input");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, emails);
    tcase_add_test(tc, phones);
    tcase_add_test(tc, serials);
    tcase_add_test(tc, state_names);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
