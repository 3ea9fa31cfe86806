/*
 * seal_open_text / seal_marker: whatever a database row holds, opening its markers never reads
 * out of bounds and never grows the text; and any plain text sealed then opened comes back as it
 * was (a marker's payload has no '}', so its own "}}" ends it).
 */
#include <sodium.h>

#include "fuzz.h"
#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char err[160];

    if (!ready) {
        unsigned char key[SEAL_KEY_BYTES] = {7};
        if (sodium_init() < 0)
            abort();
        seal_init_key(key);
        ready = 1;
    }
    char *s = fuzz_cstr(data, size);
    char *open = seal_open_text(s, err, sizeof(err));
    if (open) {
        FUZZ_CHECK(strlen(open) <= strlen(s));
        free(open);
    } else {
        FUZZ_CHECK(err[0] != '\0');
    }
    char *m = seal_marker(s);
    if (m) {
        char *back = seal_open_text(m, err, sizeof(err));
        FUZZ_CHECK(back && strcmp(back, s) == 0);
        free(back);
        free(m);
    } else {
        FUZZ_CHECK(strlen(s) > 1024);
    }
    free(s);
    return 0;
}
