/*
 * system: health, metrics and the API description. /healthz makes a real round trip through the
 * pool, so it reports what a request would meet, not what the process believes.
 */
#include "system.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "api.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"

static struct sql_stmt q_ping = SQL_STMT("system_ping", "select 1", 0);

static void on_ping(struct req *r, const struct db_result *res)
{
    struct db_stats s;

    db_stats(&s);
    if (res->status != DB_OK) {
        http_add_header(r, "Retry-After", "1");
        http_reply_jansson(r, 503,
                           json_pack("{sss{sssisi}}", "status", "unavailable", "database",
                                     "state", "down", "connected", s.connected, "size", s.size));
        return;
    }
    http_reply_jansson(r, 200,
                       json_pack("{sss{sssisisi}}", "status", "ok", "database", "state", "up",
                                 "connected", s.connected, "size", s.size, "waiting",
                                 s.waiting));
}

void system_healthz(struct req *r)
{
    api_call(r, &q_ping, NULL, on_ping);
}

void system_metrics(struct req *r)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    metrics_render(buf);
    outbox_metrics_render(buf);
    http_reply_buffer(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
    evbuffer_free(buf);
}

/* Merges web/openapi/NNN_name.json in name order: the first is the whole document, each later
 * one adds its "paths" and "components", so each domain keeps its part of the API beside the
 * others without one file that everybody edits. Read per request: it is small and rarely asked. */
static json_t *openapi_load(void)
{
    char dir[4096];
    struct dirent **names = NULL;
    json_t *doc = NULL;
    int n;

    snprintf(dir, sizeof(dir), "%s/openapi", config.web_root);
    n = scandir(dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        /* the folder, a slash, and a directory entry's name: never truncated */
        char path[sizeof(dir) + 1 + sizeof(names[i]->d_name)];
        json_t *part;
        size_t len = strlen(names[i]->d_name);
        if (len < 6 || strcmp(names[i]->d_name + len - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        part = json_load_file(path, 0, NULL);
        if (!part) {
            log_warning("openapi: cannot parse %s", path);
            continue;
        }
        if (!doc) {
            doc = part;
            continue;
        }
        {
            /* Two parts may serve one path with different methods (003 opens repairs, 007
             * lists them): merge per method, not per path. */
            json_t *dp = json_object_get(doc, "paths");
            const char *p;
            json_t *ops;
            json_object_foreach(json_object_get(part, "paths"), p, ops)
            {
                json_t *have = json_object_get(dp, p);
                if (have)
                    json_object_update_missing(have, ops);
                else
                    json_object_set(dp, p, ops);
            }
        }
        {
            json_t *dc = json_object_get(doc, "components"), *pc = json_object_get(part, "components");
            const char *key;
            json_t *val;
            json_object_foreach(pc, key, val)
            {
                json_t *into = json_object_get(dc, key);
                if (into)
                    json_object_update_missing(into, val);
                else
                    json_object_set(dc, key, val);
            }
        }
        json_decref(part);
    }
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return doc;
}

void system_openapi(struct req *r)
{
    json_t *doc = openapi_load();
    if (!doc) {
        http_reply_error(r, 404, "not_found", NULL, "no API description installed");
        return;
    }
    http_add_header(r, "Cache-Control", "no-cache");
    http_reply_jansson(r, 200, doc);
}
