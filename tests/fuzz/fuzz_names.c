/*
 * The closed vocabularies read from requests: role_parse (staff roles) and repair_state_parse.
 * An accepted name maps to one value whose name is the input again; router_access_text never
 * overruns its buffer, whatever the role bits and size.
 */
#include "fuzz.h"
#include "repair.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    enum role role;
    enum repair_state st;

    if (role_parse(s, &role) == 0)
        FUZZ_CHECK(strcmp(role_name(role), s) == 0);
    if (repair_state_parse(s, &st) == 0)
        FUZZ_CHECK(st >= 0 && st < REPAIR_NSTATES && strcmp(repair_state_name(st), s) == 0);
    if (size >= 2) {
        size_t len = data[1] % 48 + 1;
        char *out = fuzz_outbuf(len);
        router_access_text(data[0] & 0x1f, out, len);
        FUZZ_CHECK(strnlen(out, len) < len);
        fuzz_outbuf_free(out, len);
    }
    free(s);
    return 0;
}
