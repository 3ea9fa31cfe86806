/*
 * static_path_ok and static_content_type: the web root's first line of defence. An accepted
 * path starts with '/', holds no backslash and no segment starting with '.' (so no "..", no
 * hidden file); every name gets a content type.
 */
#include "fuzz.h"
#include "static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = fuzz_cstr(data, size);

    if (static_path_ok(path)) {
        FUZZ_CHECK(path[0] == '/' && !strchr(path, '\\'));
        for (const char *s = path; (s = strchr(s, '/')) != NULL; s++)
            FUZZ_CHECK(s[1] != '.');
    }
    FUZZ_CHECK(static_content_type(path) != NULL);
    free(path);
    return 0;
}
