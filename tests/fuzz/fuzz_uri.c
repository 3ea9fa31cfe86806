/*
 * A request target as carnetd reads it (http.c on_request): libevent parses the URI, the path is
 * percent-decoded with evhttp_uridecode (a path whose decoding holds a NUL is refused), the query
 * is split by evhttp_parse_query_str, then the decoded path goes to the web root's path check or
 * to router_match. Checks: decoding never grows the text, re-encoding then decoding gives the
 * same bytes, every query pair has a key and a value, and the route found by router_match
 * captures values that appear in the decoded path.
 */
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include "fuzz.h"
#include "router.h"
#include "static.h"

static void check_decode(const char *raw)
{
    size_t dlen = 0, rlen = 0;
    char *path = evhttp_uridecode(raw, 0, &dlen);
    char *again, *back;

    FUZZ_CHECK(path != NULL);
    FUZZ_CHECK(dlen <= strlen(raw));
    again = evhttp_uriencode(path, (ev_ssize_t)dlen, 0);
    FUZZ_CHECK(again != NULL);
    back = evhttp_uridecode(again, 0, &rlen);
    FUZZ_CHECK(back != NULL && rlen == dlen && memcmp(back, path, dlen) == 0);
    free(again);
    free(back);

    if (strlen(path) == dlen) { /* http.c refuses the rest with 400 bad_path */
        if (static_path_ok(path))
            FUZZ_CHECK(path[0] == '/' && strstr(path, "/.") == NULL);
        struct route_match m;
        if (router_match(routes, nroutes, "GET", path, &m) == 0) {
            for (int i = 0; i < m.nparams; i++)
                FUZZ_CHECK(strstr(path, m.values[i]) != NULL);
            router_match_clear(&m);
        }
    }
    free(path);
}

static void check_query(const char *raw)
{
    struct evkeyvalq q;
    struct evkeyval *kv;
    TAILQ_INIT(&q);
    if (evhttp_parse_query_str(raw, &q) == 0)
        TAILQ_FOREACH(kv, &q, next)
    FUZZ_CHECK(kv->key != NULL && kv->value != NULL && strlen(kv->value) <= strlen(raw));
    evhttp_clear_headers(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = fuzz_cstr(data, size);
    struct evhttp_uri *uri = evhttp_uri_parse_with_flags(in, EVHTTP_URI_NONCONFORMANT);

    if (uri) {
        const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
        if (path && path[0] == '/')
            check_decode(path);
        if (query)
            check_query(query);
        evhttp_uri_free(uri);
    }
    /* The decoders also see bytes the URI parser would have refused. */
    check_decode(in);
    check_query(in);
    free(in);
    return 0;
}
