/*
 * dispatch: route -> authenticate -> authorise -> handler, for every request, in that order and
 * in this one file, so what protects an endpoint can be read in one place.
 *
 * The route table (routes.c) says who may call what. Paths outside the API that no row has go
 * to the table's fallback row (the web root). A body sent to the API must be a JSON object; it is
 * parsed once here (handlers that need fields read r->json; SQL gets the text as received).
 * An upload route's body (router.h) is raw bytes, held to --max-upload and left to its handler.
 * No text in it may hold a marker of sealed data (seal.h): replies and messages open every
 * marker in what they carry, so a marker copied out of the database and typed into a field kept
 * as typed (a booking's problem, a note) would come back opened, the API decrypting a stolen
 * dump for whoever asks. Checked on the parsed strings, so a \u-escaped brace counts too.
 * Authentication is asynchronous (a session lookup), so auth continues the request through the
 * callback it is handed; the request stays alive meanwhile because auth's query holds it.
 */
#include "dispatch.h"

#include <string.h>

#include "api.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "router.h"
#include "seal.h"

static bool is_api_path(const char *p)
{
    return strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0 || strcmp(p, "/healthz") == 0 ||
           strcmp(p, "/livez") == 0 || strcmp(p, "/readyz") == 0 || strcmp(p, "/metrics") == 0;
}

static bool has_body_method(const char *m)
{
    return strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0 ||
           strcmp(m, "DELETE") == 0;
}

/* Authorise, then run the handler: the continuation auth is handed. */
static void authorised(struct req *r)
{
    const struct route *rt = r->match.route;
    if (rt->access != ACCESS_PUBLIC &&
        !auth_allows(&r->who, rt->access, router_param(&r->match, "store"))) {
        http_reply_error(r, 403, "forbidden", NULL, "your role does not allow this here");
        return;
    }
    rt->handler(r);
}

static int parse_json_body(struct req *r)
{
    json_error_t jerr;
    const char *k;
    json_t *v;
    if (r->body_len == 0 || !has_body_method(r->method))
        return 0;
    r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!r->json || !json_is_object(r->json)) {
        http_reply_error(r, 400, "invalid_json", "body",
                         "the body must be a JSON object (%s at character %d)",
                         r->json ? "not an object" : jerr.text, r->json ? 0 : jerr.position);
        return -1;
    }
    json_object_foreach(r->json, k, v)
    {
        if (seal_has_marker(k) || api_json_has_marker(v)) {
            http_reply_error(r, 422, "invalid", seal_has_marker(k) ? "body" : k,
                             "text shaped like carnet's sealed data is not accepted");
            return -1;
        }
    }
    return 0;
}

void dispatch_request(struct req *r)
{
    if (router_match(routes, nroutes, r->method, r->path, &r->match) < 0) {
        const struct route *fb = router_fallback(routes, nroutes);
        if (!is_api_path(r->path) && fb) {
            r->match.route = fb;
            r->match.index = (int)(fb - routes);
            fb->handler(r);
        } else if (r->match.path_found) {
            http_reply_error(r, 405, "method_not_allowed", "method",
                             "%s is not allowed on this path", r->method);
        } else {
            http_reply_error(r, 404, "not_found", "path", "no such endpoint");
        }
        return;
    }
    /* An upload's body is raw bytes for its handler; any other is a JSON object, smaller. */
    bool upload = router_is_upload(r->match.route);
    size_t limit = (size_t)(upload ? config.max_upload_bytes : config.max_body_bytes);
    if (r->body_len > limit) {
        http_reply_error(r, 413, "body_too_large", "body",
                         "the request body is larger than %zu bytes", limit);
        return;
    }
    if (!upload && parse_json_body(r) < 0)
        return;
    if (r->match.route->access == ACCESS_PUBLIC)
        authorised(r);
    else
        auth_resolve(r, authorised);
}
