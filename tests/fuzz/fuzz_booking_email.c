/*
 * booking_email_ok: a customer's email. What it accepts must hold what its comment promises:
 * 3..254 bytes, one '@' not first, printable ASCII without specials before it, and a domain of
 * letters, digits, '-' and '.' holding a dot, not starting or ending with '.' or '-', no "..".
 */
#include <ctype.h>

#include "booking.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    const char *at, *dom;
    size_t len = strlen(s);

    if (booking_email_ok(s)) {
        at = strchr(s, '@');
        FUZZ_CHECK(len >= 3 && len <= 254);
        FUZZ_CHECK(at && at > s && strchr(at + 1, '@') == NULL);
        for (const char *p = s; p < at; p++)
            FUZZ_CHECK(isgraph((unsigned char)*p) && !strchr("()<>,;:\\\"[]", *p));
        dom = at + 1;
        FUZZ_CHECK(*dom && strchr(dom, '.') && !strstr(dom, ".."));
        FUZZ_CHECK(!strchr(".-", dom[0]) && !strchr(".-", s[len - 1]));
        for (const char *p = dom; *p; p++)
            FUZZ_CHECK(isalnum((unsigned char)*p) || *p == '-' || *p == '.');
        FUZZ_CHECK(booking_email_ok(s)); /* deterministic */
    }
    free(s);
    return 0;
}
