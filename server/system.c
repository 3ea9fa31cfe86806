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
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "api.h"
#include "authcache.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "outbox.h"
#include "util.h"
#include "sse.h"
#include "webhook.h"
#include "worker.h"

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

/* ---- /metrics: the process, the worker pools, the delivery backlogs ---- */

/* Prometheus' standard process metrics, read from /proc/self at each scrape. */
static void render_process(struct evbuffer *out)
{
    struct rusage ru;
    struct rlimit rl;
    long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
    unsigned long long size = 0, resident = 0, start_ticks = 0, btime = 0;
    char line[256];
    FILE *f;
    DIR *d;

    if ((f = fopen("/proc/self/statm", "re"))) {
        if (fscanf(f, "%llu %llu", &size, &resident) != 2)
            resident = 0;
        fclose(f);
        evbuffer_add_printf(out,
                            "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                            "# TYPE process_resident_memory_bytes gauge\n"
                            "process_resident_memory_bytes %llu\n",
                            resident * (unsigned long long)page);
    }
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        evbuffer_add_printf(out,
                            "# HELP process_cpu_seconds_total Total user and system CPU time "
                            "spent in seconds.\n"
                            "# TYPE process_cpu_seconds_total counter\n"
                            "process_cpu_seconds_total %.6f\n",
                            (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                                (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
    if ((d = opendir("/proc/self/fd"))) {
        long n = 0;
        struct dirent *e;
        while ((e = readdir(d)))
            n += e->d_name[0] != '.';
        closedir(d);
        evbuffer_add_printf(out,
                            "# HELP process_open_fds Number of open file descriptors.\n"
                            "# TYPE process_open_fds gauge\n"
                            "process_open_fds %ld\n",
                            n - 1); /* less the one opendir held */
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        evbuffer_add_printf(out,
                            "# HELP process_max_fds Maximum number of open file descriptors.\n"
                            "# TYPE process_max_fds gauge\n"
                            "process_max_fds %llu\n",
                            (unsigned long long)rl.rlim_cur);
    /* Field 22 of /proc/self/stat is the start in ticks after boot; field 2, the command, is in
     * parentheses and may hold spaces, so fields are counted after its closing one. */
    if ((f = fopen("/proc/self/stat", "re"))) {
        char buf[1024];
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        char *p;
        buf[n] = '\0';
        fclose(f);
        p = strrchr(buf, ')');
        for (int field = 2; p && field < 22; field++)
            p = strchr(p + 1, ' ');
        if (p)
            start_ticks = strtoull(p + 1, NULL, 10);
    }
    if ((f = fopen("/proc/stat", "re"))) {
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "btime %llu", &btime) == 1)
                break;
        fclose(f);
    }
    if (btime && start_ticks && ticks > 0)
        evbuffer_add_printf(out,
                            "# HELP process_start_time_seconds Start time of the process since "
                            "unix epoch in seconds.\n"
                            "# TYPE process_start_time_seconds gauge\n"
                            "process_start_time_seconds %.2f\n",
                            (double)btime + (double)start_ticks / (double)ticks);
}

static void render_workers(struct evbuffer *out)
{
    struct worker_stats ws[WORKER_KINDS];

    for (int k = 0; k < WORKER_KINDS; k++)
        worker_stats((enum worker_kind)k, &ws[k]);
    evbuffer_add_printf(out, "# HELP carnet_worker_queue_length Jobs waiting for a thread of the "
                             "pool.\n# TYPE carnet_worker_queue_length gauge\n");
    for (int k = 0; k < WORKER_KINDS; k++)
        evbuffer_add_printf(out, "carnet_worker_queue_length{pool=\"%s\"} %d\n",
                            worker_kind_name((enum worker_kind)k), ws[k].waiting);
    evbuffer_add_printf(out, "# HELP carnet_worker_busy_threads Threads of the pool running a "
                             "job.\n# TYPE carnet_worker_busy_threads gauge\n");
    for (int k = 0; k < WORKER_KINDS; k++)
        evbuffer_add_printf(out, "carnet_worker_busy_threads{pool=\"%s\"} %d\n",
                            worker_kind_name((enum worker_kind)k), ws[k].busy);
    evbuffer_add_printf(out, "# HELP carnet_worker_threads Threads of the pool.\n"
                             "# TYPE carnet_worker_threads gauge\n");
    for (int k = 0; k < WORKER_KINDS; k++)
        evbuffer_add_printf(out, "carnet_worker_threads{pool=\"%s\"} %d\n",
                            worker_kind_name((enum worker_kind)k), ws[k].threads);
}

/*
 * The backlogs live in the database, and the render is synchronous (either address serves it):
 * a scrape shows the figures read by the previous one and starts the next read (one query
 * through the pool, at most one in flight, at most one a second, and only when a connection is
 * idle). So a scrape every 15 s shows figures about 15 s old; the first scrape after start-up
 * has none yet.
 */
static struct sql_stmt q_backlog = SQL_STMT("system_backlog", "select metrics_backlog()", 0);
#define BACKLOG_MIN_INTERVAL_US 1000000

static struct {
    bool inflight, known;
    int64_t asked_us;
    long long outbox_due, webhook_due;
    double outbox_age, webhook_age;
} B;

static void on_backlog(const struct db_result *res, void *arg)
{
    json_t *o;
    (void)arg;
    B.inflight = false;
    if (res->status != DB_OK || db_rows(res) != 1)
        return; /* keep the last figures; the next scrape asks again */
    o = json_loads(db_value(res, 0, 0), 0, NULL);
    if (o &&
        json_unpack(o, "{sIsFsIsF}", "outbox_due", &B.outbox_due, "outbox_oldest_s", &B.outbox_age,
                    "webhook_due", &B.webhook_due, "webhook_oldest_s", &B.webhook_age) == 0)
        B.known = true;
    json_decref(o);
}

static void render_backlog(struct evbuffer *out)
{
    int64_t now = util_now_us();

    struct db_stats ds;

    /* Never a query where it would wait or take a connection a request could have: a scrape of
     * a saturated pool shows the figures from before (and the pool's own gauges say why). */
    db_stats(&ds);
    if (!B.inflight && ds.waiting == 0 && ds.busy < ds.connected &&
        (B.asked_us == 0 || now - B.asked_us >= BACKLOG_MIN_INTERVAL_US)) {
        B.inflight = true;
        B.asked_us = now;
        db_query(&q_backlog, NULL, on_backlog, NULL);
    }
    if (!B.known)
        return;
    evbuffer_add_printf(out,
                        "# HELP carnet_outbox_backlog Messages due and not yet sent (pending or "
                        "being sent), as of the previous scrape.\n"
                        "# TYPE carnet_outbox_backlog gauge\n"
                        "carnet_outbox_backlog %lld\n"
                        "# HELP carnet_outbox_oldest_due_seconds How long the oldest message of "
                        "the backlog has been due.\n"
                        "# TYPE carnet_outbox_oldest_due_seconds gauge\n"
                        "carnet_outbox_oldest_due_seconds %.3f\n"
                        "# HELP carnet_webhook_backlog Webhook deliveries due and not yet made, "
                        "as of the previous scrape.\n"
                        "# TYPE carnet_webhook_backlog gauge\n"
                        "carnet_webhook_backlog %lld\n"
                        "# HELP carnet_webhook_oldest_due_seconds How long the oldest delivery "
                        "of the backlog has been due.\n"
                        "# TYPE carnet_webhook_oldest_due_seconds gauge\n"
                        "carnet_webhook_oldest_due_seconds %.3f\n",
                        B.outbox_due, B.outbox_age, B.webhook_due, B.webhook_age);
}

void system_raise_fd_limit(void)
{
    struct rlimit rl;
    rlim_t was;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warning("fd limit: cannot read it");
        return;
    }
    was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            log_warning("fd limit: %llu, cannot raise it to %llu", (unsigned long long)was,
                        (unsigned long long)rl.rlim_max);
            return;
        }
        log_info("fd limit: %llu open files (raised from %llu)", (unsigned long long)rl.rlim_cur,
                 (unsigned long long)was);
        return;
    }
    log_info("fd limit: %llu open files", (unsigned long long)rl.rlim_cur);
}

void system_metrics_render(struct evbuffer *out)
{
    metrics_render(out);
    outbox_metrics_render(out);
    webhook_metrics_render(out);
    render_process(out);
    render_workers(out);
    render_backlog(out);
    sse_metrics_render(out);
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
