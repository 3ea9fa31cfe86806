/*
 * system: health, metrics and the API description. /healthz makes a real round trip through the
 * pool, so it reports what a request would meet, not what the process believes.
 */
#include "system.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "metrics.h"

static struct sql_stmt q_ping = SQL_STMT("system_ping", "select 1", 0);

static void on_ping(const struct db_result *res, void *arg)
{
    struct req *r = arg;
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
    db_query(&q_ping, NULL, on_ping, r);
}

void system_metrics(struct req *r)
{
    struct evbuffer *buf = evbuffer_new();
    if (!buf) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    metrics_render(buf);
    http_reply_buffer(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
    evbuffer_free(buf);
}

/* The document lives in the web root so it can be edited like a page and served the same way. */
void system_openapi(struct req *r)
{
    char path[4096];
    FILE *f;
    struct evbuffer *buf;
    char chunk[8192];
    size_t n;

    snprintf(path, sizeof(path), "%s/openapi.json", config.web_root);
    f = fopen(path, "rb");
    if (!f) {
        http_reply_error(r, 404, "not_found", NULL, "no API description installed");
        return;
    }
    buf = evbuffer_new();
    while (buf && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        evbuffer_add(buf, chunk, n);
    fclose(f);
    if (!buf) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    http_add_header(r, "Cache-Control", "no-cache");
    http_reply_buffer(r, 200, "application/json; charset=utf-8", buf);
    evbuffer_free(buf);
}
