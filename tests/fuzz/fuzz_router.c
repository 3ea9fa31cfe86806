/*
 * router_match against the real route table: any method, any path bytes. A match must name the
 * row it returns, capture one non-empty, slash-free, NUL-terminated value per {name} of the
 * pattern (each no longer than the path), and putting the values back into the pattern must
 * give the path again. Input: method, NUL, path (no NUL: a method picked by the first byte).
 */
#include "fuzz.h"
#include "router.h"

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size), *method, *path, rebuilt[4096];
    const char *nul = memchr(data, '\0', size);
    struct route_match m;
    size_t pathlen, used = 0;
    int names = 0;

    if (nul) {
        method = in;
        path = in + (nul - (const char *)data) + 1;
    } else {
        method = (char *)(size ? methods[data[0] % 7] : "GET");
        path = size ? in + 1 : in;
    }
    pathlen = strlen(path);

    if (router_match(routes, nroutes, method, path, &m) < 0) {
        FUZZ_CHECK(m.route == NULL && m.nparams == 0);
        free(in);
        return 0;
    }
    FUZZ_CHECK(m.index >= 0 && m.index < nroutes && m.route == &routes[m.index] && m.path_found);
    FUZZ_CHECK(strcmp(m.route->method, method) == 0 ||
               (strcmp(method, "HEAD") == 0 && strcmp(m.route->method, "GET") == 0));
    FUZZ_CHECK(m.nparams >= 0 && m.nparams <= ROUTE_MAX_PARAMS);
    for (const char *p = m.route->pattern; *p; p++)
        names += *p == '{';
    FUZZ_CHECK(names == m.nparams);

    for (int i = 0; i < m.nparams; i++) {
        size_t len;
        FUZZ_CHECK(m.values[i] != NULL);
        len = strnlen(m.values[i], pathlen + 1); /* NUL-terminated within the path's length */
        FUZZ_CHECK(len >= 1 && len <= pathlen);
        FUZZ_CHECK(strchr(m.values[i], '/') == NULL);
        FUZZ_CHECK(m.names[i][-1] == '{' && strchr(m.names[i], '}') != NULL);
    }
    /* Fill the pattern with the captured values: it must spell the path. */
    {
        int k = 0;
        for (const char *p = m.route->pattern; *p && used < sizeof(rebuilt) - 1;) {
            if (*p == '{') {
                size_t n = strlen(m.values[k]);
                if (used + n >= sizeof(rebuilt))
                    break;
                memcpy(rebuilt + used, m.values[k++], n);
                used += n;
                p = strchr(p, '}') + 1;
            } else {
                rebuilt[used++] = *p++;
            }
        }
        rebuilt[used] = '\0';
        if (pathlen < sizeof(rebuilt) - 1)
            FUZZ_CHECK(strcmp(rebuilt, path) == 0);
    }
    /* router_param finds each captured name. */
    for (int i = 0; i < m.nparams; i++) {
        char name[64];
        size_t n = (size_t)(strchr(m.names[i], '}') - m.names[i]);
        FUZZ_CHECK(n < sizeof(name));
        memcpy(name, m.names[i], n);
        name[n] = '\0';
        FUZZ_CHECK(router_param(&m, name) != NULL);
    }
    router_match_clear(&m);
    FUZZ_CHECK(m.nparams == 0);
    free(in);
    return 0;
}
