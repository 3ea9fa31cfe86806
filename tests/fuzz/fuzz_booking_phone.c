/*
 * api_phone_normalise: "+33 6 12-34-56-78" -> "+33612345678". The first input byte is the
 * output buffer's size, allocated exactly so ASan sees a write past it. An accepted number is
 * '+' and 7..15 digits, keeps the input's digits in order, and normalising it again gives itself.
 */
#include <ctype.h>

#include "api.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t outlen = size ? data[0] % 40 : 0;
    char *in = fuzz_cstr(size ? data + 1 : data, size ? size - 1 : 0);
    char *out = fuzz_outbuf(outlen), again[32], digits[512];
    size_t nd = 0, len;

    if (api_phone_normalise(in, out, outlen)) {
        len = strlen(out);
        FUZZ_CHECK(len < outlen && out[0] == '+' && len >= 8 && len <= 16);
        for (size_t i = 1; i < len; i++)
            FUZZ_CHECK(isdigit((unsigned char)out[i]));
        for (const char *p = in; *p && nd < sizeof(digits) - 1; p++)
            if (isdigit((unsigned char)*p))
                digits[nd++] = *p;
        digits[nd] = '\0';
        FUZZ_CHECK(strcmp(out + 1, digits) == 0);
        FUZZ_CHECK(api_phone_normalise(out, again, sizeof(again)) && !strcmp(again, out));
    }
    fuzz_outbuf_free(out, outlen);
    free(in);
    return 0;
}
