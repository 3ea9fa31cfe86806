/*
 * diagimport_read: a diagnostic tool's report, as bytes sent by anyone with a technician's
 * session. It reads only inside the buffer (ASan holds it to exactly `size` bytes, no NUL after
 * it) and keeps its promises: a success is one of the kinds with a session whose results each
 * have a test, a passed flag and values that are named numbers with a unit, every text valid
 * UTF-8 within its limit (jansson's encoder refuses anything else); a refusal is a status and
 * code the handler can send, and never leaves a document behind.
 */
#include "diagimport.h"
#include "fuzz.h"

static void check_session(json_t *s)
{
    json_t *results = json_object_get(s, "results"), *r, *v, *c;
    size_t i, j;
    char *text;

    FUZZ_CHECK(json_is_string(json_object_get(s, "tool")));
    FUZZ_CHECK(json_array_size(results) > 0);
    json_array_foreach(results, i, r)
    {
        FUZZ_CHECK(json_is_string(json_object_get(r, "test")));
        FUZZ_CHECK(json_is_boolean(json_object_get(r, "passed")));
        json_array_foreach(json_object_get(r, "values"), j, v)
        {
            FUZZ_CHECK(json_is_string(json_object_get(v, "name")));
            FUZZ_CHECK(json_is_number(json_object_get(v, "value")));
            FUZZ_CHECK(json_is_string(json_object_get(v, "unit")));
        }
        c = json_object_get(r, "component");
        FUZZ_CHECK(!c || json_is_string(json_object_get(c, "kind")));
        FUZZ_CHECK(!json_object_get(c, "serial") ||
                   json_string_length(json_object_get(c, "serial")) <= DIAGIMPORT_SERIAL_MAX);
        FUZZ_CHECK(!json_object_get(c, "model") ||
                   json_string_length(json_object_get(c, "model")) <= DIAGIMPORT_MODEL_MAX);
    }
    text = json_dumps(s, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum diagimport_kind kind;
    struct diagimport_error err;
    json_t *out = NULL;

    if (diagimport_read((const char *)data, size, &kind, &out, &err) == 0) {
        FUZZ_CHECK(out != NULL);
        FUZZ_CHECK(strcmp(diagimport_kind_name(kind), "unknown") != 0);
        if (kind != DIAGIMPORT_CARNET)
            check_session(out);
        json_decref(out);
    } else {
        FUZZ_CHECK(out == NULL);
        FUZZ_CHECK(err.code != NULL && err.status >= 400 && err.status <= 500);
        FUZZ_CHECK(strlen(err.message) > 0);
    }
    return 0;
}
