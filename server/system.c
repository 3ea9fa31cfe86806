/*
 * system: health, metrics and the API description. /healthz makes a real round trip through the
 * pool, so it reports what a request would meet, not what the process believes.
 *
 * The API description is merged from web/openapi/ once, at start-up (system_init): the loop
 * never parses files, and a document that does not parse stops carnetd before it serves. Each
 * request gets the same cached text, with an ETag so a client that has it gets a 304.
 */
#include "system.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authcache.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "webhook.h"

static struct sql_stmt q_ping = SQL_STMT("system_ping", "select 1", 0);

static void on_ping(struct req *r, const struct db_result *res)
{
    struct db_stats s;

    db_stats(&s);
    if (res->status != DB_OK) {
        http_add_header(r, "Retry-After", "1");
        http_reply_jansson(r, 503,
                           json_pack("{sss{sssisi}}", "status", "unavailable", "database", "state",
                                     "down", "connected", s.connected, "size", s.size));
        return;
    }
    http_reply_jansson(r, 200,
                       json_pack("{sss{sssisisi}}", "status", "ok", "database", "state", "up",
                                 "connected", s.connected, "size", s.size, "waiting", s.waiting));
}

void system_healthz(struct req *r)
{
    api_call(r, &q_ping, NULL, on_ping);
}

void system_metrics_render(struct evbuffer *out)
{
    metrics_render(out);
    outbox_metrics_render(out);
    webhook_metrics_render(out);
    authcache_metrics_render(out);
}

void system_metrics(struct req *r)
{
    struct evbuffer *buf;
    if (config.metrics_host) {
        /* Served on --metrics-listen only: here it is a path like any unknown one. */
        http_reply_error(r, 404, "not_found", "path", "no such endpoint");
        return;
    }
    if (!(buf = evbuffer_new())) {
        http_reply_oom(r);
        return;
    }
    system_metrics_render(buf);
    http_reply_buffer(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
    evbuffer_free(buf);
}

/* The merged document as sent, and its entity tag (a quoted hash prefix of the text). */
#define OPENAPI_ETAG_BYTES 16
static char *openapi_text;
static size_t openapi_len;
static char openapi_etag[2 + OPENAPI_ETAG_BYTES * 2 + 1];

/* Adds each member of `from` to `into`; a member both have is merged one level down (the
 * methods of one path, the schemas of components), the first part's entries winning. */
static void merge_members(json_t *into, json_t *from)
{
    const char *key;
    json_t *val;

    json_object_foreach(from, key, val)
    {
        json_t *have = json_object_get(into, key);
        if (have)
            json_object_update_missing(have, val);
        else
            json_object_set(into, key, val);
    }
}

/* Adds `part`'s "paths" and "components" into `doc`. Two parts may serve one path with
 * different methods (003 opens repairs, 007 lists them): paths merge per method. */
static void openapi_merge(json_t *doc, json_t *part)
{
    merge_members(json_object_get(doc, "paths"), json_object_get(part, "paths"));
    merge_members(json_object_get(doc, "components"), json_object_get(part, "components"));
}

/* A part is a JSON object whose "paths" and "components", when present, are objects; the
 * first part (the whole document's frame) must have both. */
static bool openapi_part_ok(json_t *part, bool first)
{
    json_t *paths = json_object_get(part, "paths");
    json_t *comps = json_object_get(part, "components");
    if (!json_is_object(part))
        return false;
    if (first)
        return json_is_object(paths) && json_is_object(comps);
    return (!paths || json_is_object(paths)) && (!comps || json_is_object(comps));
}

/* Merges <web_root>/openapi/NNN_name.json in name order: the first is the whole document, each
 * later one adds its "paths" and "components", so each domain keeps its part of the API beside
 * the others without one file that everybody edits. */
int system_init(const char *web_root)
{
    char dir[4096];
    struct dirent **names = NULL;
    json_t *doc = NULL;
    unsigned char h[OPENAPI_ETAG_BYTES]; /* crypto_generichash gives 16 to 64 bytes */
    int n, rc = -1;

    snprintf(dir, sizeof(dir), "%s/openapi", web_root);
    n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        log_warning("openapi: no API description in %s", dir);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        /* the folder, a slash, and a directory entry's name: never truncated */
        char path[sizeof(dir) + 1 + sizeof(names[i]->d_name)];
        json_error_t err;
        json_t *part;
        size_t len = strlen(names[i]->d_name);

        if (len < 6 || strcmp(names[i]->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        part = json_load_file(path, 0, &err);
        if (!part) {
            log_error("openapi: %s:%d: %s", path, err.line, err.text);
            goto out;
        }
        if (!openapi_part_ok(part, !doc)) {
            log_error("openapi: %s: not an OpenAPI part (an object; paths and components are "
                      "objects)",
                      path);
            json_decref(part);
            goto out;
        }
        if (!doc) {
            doc = part;
            continue;
        }
        openapi_merge(doc, part);
        json_decref(part);
    }
    if (!doc) {
        log_warning("openapi: no API description in %s", dir);
        rc = 0;
        goto out;
    }
    openapi_text = json_dumps(doc, JSON_COMPACT);
    if (!openapi_text) {
        log_error("openapi: out of memory");
        goto out;
    }
    openapi_len = strlen(openapi_text);
    crypto_generichash(h, sizeof(h), (const unsigned char *)openapi_text, openapi_len, NULL, 0);
    openapi_etag[0] = '"';
    sodium_bin2hex(openapi_etag + 1, sizeof(openapi_etag) - 1, h, OPENAPI_ETAG_BYTES);
    strcat(openapi_etag, "\"");
    rc = 0;
out:
    if (doc)
        json_decref(doc);
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

void system_free(void)
{
    free(openapi_text);
    openapi_text = NULL;
    openapi_len = 0;
}

void system_openapi(struct req *r)
{
    const char *have = http_header(r, "If-None-Match");

    if (!openapi_text) {
        http_reply_error(r, 404, "not_found", NULL, "no API description installed");
        return;
    }
    http_add_header(r, "Cache-Control", "no-cache");
    http_add_header(r, "ETag", openapi_etag);
    if (have && strstr(have, openapi_etag)) {
        http_reply_empty(r, 304);
        return;
    }
    http_reply_json(r, 200, openapi_text, openapi_len);
}
