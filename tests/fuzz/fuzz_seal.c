/*
 * seal: whatever a database row holds, opening its markers (as text for a message, as JSON for
 * a reply) or sealing them again under a new key never reads out of bounds, and a text opened
 * as a message never grows; any plain text sealed (link or personal data) then opened comes back
 * as it was, and inside a JSON string it comes back escaped so the document still parses.
 */
#include <jansson.h>
#include <sodium.h>

#include "fuzz.h"
#include "seal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char err[160];
    size_t n;
    int unreadable;

    if (!ready) {
        unsigned char cur[SEAL_KEY_BYTES] = {7}, old[SEAL_KEY_BYTES] = {8};
        if (sodium_init() < 0)
            abort();
        seal_init_key(cur);
        seal_add_old_key_bytes(old);
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
    free(seal_reseal_text(s, err, sizeof(err)));
    free(seal_open_json(s, strlen(s), &n, &unreadable));

    for (int pd = 0; pd < 2; pd++) {
        char *m = pd ? seal_pd(s) : seal_marker(s);
        if (!m) {
            FUZZ_CHECK(strlen(s) > SEAL_PLAIN_MAX);
            continue;
        }
        char *back = seal_open_text(m, err, sizeof(err));
        FUZZ_CHECK(back && strcmp(back, s) == 0);
        free(back);
        if (pd) {
            /* valid UTF-8 only: JSON strings are */
            json_t *probe = json_string(s);
            if (probe) {
                char *doc = NULL;
                FUZZ_CHECK(asprintf(&doc, "[\"%s\"]", m) > 0);
                char *j = seal_open_json(doc, strlen(doc), &n, &unreadable);
                json_t *parsed = json_loadb(j, n, 0, NULL);
                FUZZ_CHECK(parsed && unreadable == 0 &&
                           strcmp(json_string_value(json_array_get(parsed, 0)), s) == 0);
                json_decref(parsed);
                json_decref(probe);
                free(j);
                free(doc);
            }
        }
        free(m);
    }
    free(s);
    return 0;
}
