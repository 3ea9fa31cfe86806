/*
 * metrics: counters kept per route in fixed arrays sized at start-up, so observing a request is a
 * few increments and no allocation. Status codes are counted individually for the codes the API
 * uses, so a dashboard can tell a 409 race loss from a 422 typo.
 *
 * With --metrics-listen the text is served by a listener of its own, a second evhttp on the same
 * loop: it answers GET /metrics and nothing else, so a scraper's address can be opened where
 * the public one is not, and what the counters tell (routes, load, failures) stays off the public
 * port. It is not the transport of http.c: no routes, sessions, request ids or access log.
 */
#include "metrics.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acceptpause.h"
#include "availcache.h"
#include "config.h"
#include "log.h"

#include "db.h"
#include "router.h"

static const int codes[] = {200, 201, 204, 304, 400, 401, 403, 404, 405,
                            409, 410, 413, 422, 429, 500, 503, 0};
#define NCODES ((int)(sizeof(codes) / sizeof(codes[0]))) /* last slot: any other code */
static const double buckets_ms[] = {1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 10000};
#define NBUCKETS ((int)(sizeof(buckets_ms) / sizeof(buckets_ms[0])))

static int nslots;       /* routes + 1 for "other" */
static uint64_t *counts; /* nslots * NCODES */
static uint64_t hist[NBUCKETS + 1];
static double hist_sum_s;
static uint64_t hist_count;

int metrics_init(int nroutes_)
{
    nslots = nroutes_ + 1;
    counts = calloc((size_t)nslots * NCODES, sizeof(uint64_t));
    return counts ? 0 : -1;
}

void metrics_free(void)
{
    free(counts);
    counts = NULL;
}

void metrics_observe(int route, int status, int64_t duration_us)
{
    int slot = route >= 0 && route < nslots - 1 ? route : nslots - 1;
    int ci = NCODES - 1;
    double ms = (double)duration_us / 1000.0;
    int b = 0;

    if (!counts)
        return;
    for (int i = 0; i < NCODES - 1; i++) {
        if (codes[i] == status) {
            ci = i;
            break;
        }
    }
    counts[slot * NCODES + ci]++;
    while (b < NBUCKETS && ms > buckets_ms[b])
        b++;
    hist[b]++;
    hist_sum_s += ms / 1000.0;
    hist_count++;
}

/* The month view's cache (availcache.h) and, with --read-database-url, the standby's reads. */
static void metrics_render_reads(struct evbuffer *out)
{
    struct availcache_stats a;
    struct db_read_stats r;

    availcache_stats(&a);
    evbuffer_add_printf(out,
                        "# TYPE carnet_avail_cache_bytes gauge\ncarnet_avail_cache_bytes %zu\n"
                        "# TYPE carnet_avail_cache_entries gauge\ncarnet_avail_cache_entries %zu\n"
                        "# TYPE carnet_avail_cache_lookups_total counter\n"
                        "carnet_avail_cache_lookups_total{result=\"hit\"} %llu\n"
                        "carnet_avail_cache_lookups_total{result=\"miss\"} %llu\n",
                        a.bytes, a.entries, (unsigned long long)a.hits,
                        (unsigned long long)a.misses);
    db_read_stats(&r);
    if (!r.on)
        return;
    evbuffer_add_printf(out,
                        "# TYPE carnet_db_read_lag_ms gauge\ncarnet_db_read_lag_ms %lld\n"
                        "# TYPE carnet_db_read_usable gauge\ncarnet_db_read_usable %d\n"
                        "# TYPE carnet_db_read_queries_total counter\n"
                        "carnet_db_read_queries_total{to=\"standby\"} %llu\n"
                        "carnet_db_read_queries_total{to=\"primary\"} %llu\n",
                        r.lag_ms == INT64_MAX ? -1LL : (long long)r.lag_ms, r.usable ? 1 : 0,
                        (unsigned long long)r.routed, (unsigned long long)r.fell_back);
}

void metrics_render(struct evbuffer *out)
{
    struct db_stats s;
    uint64_t cum = 0;

    evbuffer_add_printf(out, "# HELP carnet_http_requests_total HTTP requests by route and "
                             "status.\n# TYPE carnet_http_requests_total counter\n");
    for (int slot = 0; slot < nslots; slot++) {
        const char *method = slot < nroutes ? routes[slot].method : "*";
        const char *pattern = slot < nroutes ? routes[slot].pattern : "other";
        for (int ci = 0; ci < NCODES; ci++) {
            uint64_t n = counts[slot * NCODES + ci];
            if (!n)
                continue;
            if (codes[ci])
                evbuffer_add_printf(out,
                                    "carnet_http_requests_total{method=\"%s\",route=\"%s\","
                                    "status=\"%d\"} %llu\n",
                                    method, pattern, codes[ci], (unsigned long long)n);
            else
                evbuffer_add_printf(out,
                                    "carnet_http_requests_total{method=\"%s\",route=\"%s\","
                                    "status=\"other\"} %llu\n",
                                    method, pattern, (unsigned long long)n);
        }
    }
    evbuffer_add_printf(out, "# HELP carnet_http_request_duration_seconds Time from request to "
                             "reply.\n# TYPE carnet_http_request_duration_seconds histogram\n");
    for (int b = 0; b < NBUCKETS; b++) {
        cum += hist[b];
        evbuffer_add_printf(out, "carnet_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                            buckets_ms[b] / 1000.0, (unsigned long long)cum);
    }
    cum += hist[NBUCKETS];
    evbuffer_add_printf(out, "carnet_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                        (unsigned long long)cum);
    evbuffer_add_printf(out, "carnet_http_request_duration_seconds_sum %f\n", hist_sum_s);
    evbuffer_add_printf(out, "carnet_http_request_duration_seconds_count %llu\n",
                        (unsigned long long)hist_count);

    db_stats(&s);
    evbuffer_add_printf(out,
                        "# TYPE carnet_db_pool_size gauge\ncarnet_db_pool_size %d\n"
                        "# TYPE carnet_db_pool_connected gauge\ncarnet_db_pool_connected %d\n"
                        "# TYPE carnet_db_pool_in_use gauge\ncarnet_db_pool_in_use %d\n"
                        "# TYPE carnet_db_pool_inflight gauge\ncarnet_db_pool_inflight %d\n"
                        "# TYPE carnet_db_pool_waiting gauge\ncarnet_db_pool_waiting %d\n"
                        "# TYPE carnet_db_pool_reconnects_total counter\n"
                        "carnet_db_pool_reconnects_total %llu\n"
                        "# TYPE carnet_db_pool_rejected_total counter\n"
                        "carnet_db_pool_rejected_total{reason=\"queue_full\"} %llu\n"
                        "carnet_db_pool_rejected_total{reason=\"queue_timeout\"} %llu\n"
                        "carnet_db_pool_rejected_total{reason=\"no_connection\"} %llu\n"
                        "# TYPE carnet_db_queries_total counter\ncarnet_db_queries_total %llu\n",
                        s.size, s.connected, s.busy, s.inflight, s.waiting,
                        (unsigned long long)s.reconnects, (unsigned long long)s.rejected_busy,
                        (unsigned long long)s.rejected_timeout, (unsigned long long)s.failed_conn,
                        (unsigned long long)s.queries);
    metrics_render_reads(out);
}

/* ---- the listener of its own (--metrics-listen) ---- */

/* A scraper sends a bodiless GET; a body is never read here. */
#define LISTEN_MAX_BODY 1024

static struct {
    struct evhttp *http;
    struct accept_pause *pause; /* EMFILE pauses like the public listener */
    int port;
    void (*render)(struct evbuffer *out);
} L;

static void listen_reply(struct evhttp_request *ev, int status, const char *reason,
                         const char *ctype, struct evbuffer *body)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(ev);
    evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_send_reply(ev, status, reason, body);
}

static void on_listen_request(struct evhttp_request *ev, void *arg)
{
    const char *uri = evhttp_request_get_uri(ev);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);
    struct evbuffer *body = evbuffer_new();
    size_t plen = uri ? strcspn(uri, "?") : 0;
    (void)arg;

    if (!body) {
        evhttp_send_error(ev, 503, "Out of memory");
        return;
    }
    if (!uri || plen != strlen("/metrics") || strncmp(uri, "/metrics", plen) != 0) {
        evbuffer_add_printf(body, "{\"error\":{\"code\":\"not_found\",\"message\":"
                                  "\"this address serves /metrics only\",\"field\":\"path\"}}");
        listen_reply(ev, 404, "Not Found", "application/json; charset=utf-8", body);
    } else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evbuffer_add_printf(body, "{\"error\":{\"code\":\"method_not_allowed\",\"message\":"
                                  "\"/metrics is read with GET\",\"field\":\"method\"}}");
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Allow", "GET, HEAD");
        listen_reply(ev, 405, "Method Not Allowed", "application/json; charset=utf-8", body);
    } else {
        L.render(body);
        listen_reply(ev, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", body);
    }
    evbuffer_free(body);
}

int metrics_listen(struct event_base *base, const char *host, int port,
                   void (*render)(struct evbuffer *out))
{
    struct evhttp_bound_socket *sock;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);

    L.render = render;
    L.http = evhttp_new(base);
    if (!L.http)
        return -1;
    evhttp_set_allowed_methods(L.http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
                                           EVHTTP_REQ_OPTIONS);
    evhttp_set_max_headers_size(L.http, (ev_ssize_t)config.max_header_bytes);
    evhttp_set_max_body_size(L.http, LISTEN_MAX_BODY);
    evhttp_set_timeout(L.http, config.http_timeout_s);
    evhttp_set_gencb(L.http, on_listen_request, NULL);
    sock = evhttp_bind_socket_with_handle(L.http, host, (ev_uint16_t)port);
    if (!sock) {
        log_error("metrics: cannot listen on %s:%d", host, port);
        return -1;
    }
    L.pause = accept_pause_new(base, sock, "metrics");
    if (!L.pause)
        return -1;
    L.port = port;
    if (getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            L.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            L.port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

int metrics_listen_port(void)
{
    return L.http ? L.port : -1;
}

void metrics_listen_free(void)
{
    accept_pause_free(L.pause);
    L.pause = NULL;
    if (L.http)
        evhttp_free(L.http);
    L.http = NULL;
}
