/*
 * booking_serial_normalise: the one place a device serial is normalised. The first input byte
 * is the output buffer's size, allocated exactly. An accepted serial is 5..32 upper-case letters
 * and digits, a 15-digit one passes Luhn, and normalising it again gives itself (idempotent).
 */
#include <ctype.h>

#include "booking.h"
#include "fuzz.h"

static bool luhn(const char *d)
{
    size_t n = strlen(d);
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = d[n - 1 - i] - '0';
        if (i % 2)
            v = v * 2 > 9 ? v * 2 - 9 : v * 2;
        sum += v;
    }
    return sum % 10 == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t outlen = size ? data[0] % 48 : 0;
    char *in = fuzz_cstr(size ? data + 1 : data, size ? size - 1 : 0);
    char *out = fuzz_outbuf(outlen), again[64];
    size_t len;
    bool digits = true;

    if (booking_serial_normalise(in, out, outlen)) {
        len = strlen(out);
        FUZZ_CHECK(len < outlen && len >= 5 && len <= 32);
        for (size_t i = 0; i < len; i++) {
            FUZZ_CHECK(isdigit((unsigned char)out[i]) || isupper((unsigned char)out[i]));
            digits = digits && isdigit((unsigned char)out[i]);
        }
        FUZZ_CHECK(!(digits && len == 15) || luhn(out));
        FUZZ_CHECK(booking_serial_normalise(out, again, sizeof(again)) && !strcmp(again, out));
    }
    fuzz_outbuf_free(out, outlen);
    free(in);
    return 0;
}
