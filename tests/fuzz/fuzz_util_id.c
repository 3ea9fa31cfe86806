/*
 * util_is_digits / util_is_id: what makes a path id safe to hand to SQL as a bigint. An accepted
 * id is 1..18 ASCII digits, so it always fits in a signed 64-bit integer.
 */
#include <errno.h>

#include "fuzz.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max = size ? data[0] % 24 : 0;
    char *s = fuzz_cstr(size ? data + 1 : data, size ? size - 1 : 0);
    size_t len = strlen(s);

    if (util_is_digits(s, max)) {
        FUZZ_CHECK(len >= 1 && len <= max && strspn(s, "0123456789") == len);
    }
    if (util_is_id(s)) {
        char *end;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        FUZZ_CHECK(len <= UTIL_ID_MAX_DIGITS && errno == 0 && *end == '\0' && v >= 0);
    }
    FUZZ_CHECK(!util_is_digits(NULL, max) && !util_is_id(NULL));
    free(s);
    return 0;
}
