/*
 * http: evhttp glue and the life of one request.
 *
 *   accepted -> parsed (path, query, body limits) -> routed -> [auth] -> handler -> replied
 *
 * Every request gets a context (struct req) that owns all it allocates; http_finish is the one
 * place that sends, logs, counts and frees. Errors are always JSON:
 * {"error":{"code":"...","message":"...","field":"..."}}.
 */
#include "http.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <netdb.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sodium.h>

#include "auth.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "static.h"
#include "util.h"

/* libevent refuses bodies past this with its own (HTML) 413; below it we answer in JSON. */
#define HARD_BODY_FACTOR 4

static struct {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    int port;
    int inflight;
    int unflushed; /* replies handed to evhttp whose bytes are not all written yet */
    int streams;   /* streaming replies open (not in flight: their owner ends them) */
    bool stopping;
    bool drained;
    void (*on_drained)(void);
    struct event *drain_timer;
    uint64_t next_id;
    uint32_t prefix;
} H;

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Payload Too Large";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static void req_free(struct req *r)
{
    if (r->state_free && r->state)
        r->state_free(r->state);
    router_match_clear(&r->match);
    if (r->query) {
        evhttp_clear_headers(r->query);
        free(r->query);
    }
    if (r->json)
        json_decref(r->json);
    free(r->who.stores);
    free(r->body);
    free(r->path);
    free(r);
}

static void drained(void)
{
    void (*cb)(void) = H.on_drained;
    H.on_drained = NULL;
    if (H.drain_timer)
        evtimer_del(H.drain_timer);
    if (cb)
        cb();
}

/* Requests are done once their reply is handed over, but the process may only exit once the
 * bytes have left: otherwise the last replies of a graceful shutdown would be cut off. */
static void maybe_drained(void)
{
    if (H.stopping && !H.drained && H.inflight == 0 && H.unflushed == 0) {
        H.drained = true;
        drained();
    }
}

/* A reply leaves in one of two ways: written in full (on_reply_sent), or cut off because the
 * connection closed first (on_conn_closed). Each path disarms the other, so a reply is counted
 * out exactly once and a client that vanishes cannot hold up a shutdown. */
static void on_reply_sent(struct evhttp_request *ev, void *arg)
{
    struct evhttp_connection *evcon = arg;
    (void)ev;
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    H.unflushed--;
    maybe_drained();
}

static void on_conn_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    (void)arg;
    H.unflushed--;
    maybe_drained();
}

/* Counts a reply about to be handed to evhttp until its bytes are out (see above). */
static void track_unflushed(struct req *r)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    if (!evcon)
        return;
    H.unflushed++;
    evhttp_request_set_on_complete_cb(r->ev, on_reply_sent, evcon);
    evhttp_connection_set_closecb(evcon, on_conn_closed, NULL);
}

/* The one exit of a request: headers every reply carries, send, log, count, free. */
static void http_finish(struct req *r, int status, const char *ctype, struct evbuffer *buf)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    size_t bytes = buf ? evbuffer_get_length(buf) : 0;
    int64_t dur;

    if (r->replied) {
        log_error("http: double reply to %s %s", r->method, r->path ? r->path : "?");
        return;
    }
    r->replied = true;
    r->status = status;
    if (ctype)
        evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "X-Request-Id", r->id);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    if (!evhttp_find_header(out, "Cache-Control"))
        evhttp_add_header(out, "Cache-Control", "no-store");
    if (H.stopping)
        evhttp_add_header(out, "Connection", "close");
    track_unflushed(r);
    evhttp_send_reply(r->ev, status, reason(status), buf);
    dur = util_now_us() - r->start_us;
    log_msg(LOG_INFO, r->id, "%s %s %d %zu %.3fms", r->method, r->path ? r->path : "-", status,
            bytes, (double)dur / 1000.0);
    metrics_observe(r->match.route ? r->match.index : -1, status, dur);
    req_free(r);
    H.inflight--;
    maybe_drained();
}

void http_reply_raw(struct req *r, int status, const char *content_type, const char *body,
                    size_t len)
{
    struct evbuffer *buf = evbuffer_new();
    if (buf && len)
        evbuffer_add(buf, body, len);
    http_finish(r, status, content_type, buf);
    if (buf)
        evbuffer_free(buf);
}

void http_reply_json(struct req *r, int status, const char *json, size_t len)
{
    http_reply_raw(r, status, "application/json; charset=utf-8", json, len);
}

void http_reply_jansson(struct req *r, int status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (obj)
        json_decref(obj);
    if (!s) {
        static const char oom[] =
            "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        http_reply_json(r, 500, oom, sizeof(oom) - 1);
        return;
    }
    http_reply_json(r, status, s, strlen(s));
    free(s);
}

void http_reply_empty(struct req *r, int status)
{
    http_finish(r, status, NULL, NULL);
}

void http_reply_buffer(struct req *r, int status, const char *ctype, struct evbuffer *buf)
{
    http_finish(r, status, ctype, buf);
}

static void reply_error_obj(struct req *r, int status, const char *code, const char *field,
                            const char *message, json_t *extra)
{
    json_t *err = json_object();
    json_object_set_new(err, "code", json_string(code));
    json_object_set_new(err, "message", json_string(message ? message : reason(status)));
    json_object_set_new(err, "field", field && *field ? json_string(field) : json_null());
    if (extra)
        json_object_update_missing(err, extra);
    if (status >= 500)
        rlog_warning(r, "%d %s: %s", status, code, message ? message : "");
    http_reply_jansson(r, status, json_pack("{so}", "error", err));
}

void http_reply_error(struct req *r, int status, const char *code, const char *field,
                      const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_error_obj(r, status, code, field, msg, NULL);
}

int http_status_for_sqlstate(const char *s)
{
    if (!s || strlen(s) != 5)
        return 500;
    /* Our own functions raise CAnnn where nnn is the HTTP status they mean. */
    if (s[0] == 'C' && s[1] == 'A') {
        int st = atoi(s + 2);
        return st >= 400 && st < 600 ? st : 500;
    }
    if (strcmp(s, "23505") == 0 || strcmp(s, "23P01") == 0)
        return 409; /* unique / exclusion: someone else got there first */
    if (strcmp(s, "23514") == 0 || strcmp(s, "23502") == 0 || strcmp(s, "23503") == 0)
        return 422;
    if (strncmp(s, "22", 2) == 0)
        return 400; /* data exceptions: a value that does not parse */
    if (strcmp(s, "57014") == 0 || strcmp(s, "40001") == 0 || strcmp(s, "40P01") == 0 ||
        strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 || strcmp(s, "57P03") == 0)
        return 503; /* timeout, serialization, lost connection, shutting down: try again */
    return 500;
}

static const char *code_for_sqlstate(const char *s, int status)
{
    if (strcmp(s, "23505") == 0 || strcmp(s, "23P01") == 0)
        return "conflict";
    if (status == 422)
        return "invalid";
    if (status == 400)
        return "bad_value";
    if (strcmp(s, "57014") == 0)
        return "timeout";
    if (status == 503)
        return "retry";
    return "internal";
}

static void set_retry_after(struct req *r, int seconds)
{
    char v[16];
    snprintf(v, sizeof(v), "%d", seconds);
    http_add_header(r, "Retry-After", v);
}

void http_reply_db_error(struct req *r, const struct db_result *res)
{
    const char *state = res->sqlstate;

    switch (res->status) {
    case DB_ERR_BUSY:
    case DB_ERR_TIMEOUT:
        set_retry_after(r, db_retry_after());
        http_reply_error(r, 503, "overloaded", NULL,
                         "the server is busy, try again in a moment");
        return;
    case DB_ERR_CONN:
        set_retry_after(r, 1);
        http_reply_error(r, 503, "database_unavailable", NULL,
                         "the database cannot be reached, try again in a moment");
        return;
    case DB_OK:
    case DB_ERR_SQL:
        break;
    }
    if (!res->res || !state) {
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return;
    }
    http_reply_sql_error(r, state, PQresultErrorField(res->res, PG_DIAG_MESSAGE_PRIMARY),
                         PQresultErrorField(res->res, PG_DIAG_MESSAGE_DETAIL),
                         PQresultErrorField(res->res, PG_DIAG_MESSAGE_HINT),
                         PQresultErrorField(res->res, PG_DIAG_CONSTRAINT_NAME));
}

void http_reply_sql_error(struct req *r, const char *state, const char *primary,
                          const char *detail, const char *hint, const char *constraint)
{
    json_t *extra = NULL;
    int status = http_status_for_sqlstate(state);

    if (hint && !*hint)
        hint = NULL;
    if (state && state[0] == 'C' && state[1] == 'A') {
        /* Convention of schema/: MESSAGE = code, DETAIL = field or a JSON object of extras. */
        const char *field = detail;
        if (detail && detail[0] == '{') {
            extra = json_loads(detail, 0, NULL);
            field = extra ? json_string_value(json_object_get(extra, "field")) : NULL;
        }
        reply_error_obj(r, status, primary ? primary : "error", field, hint ? hint : primary,
                        extra);
        if (extra)
            json_decref(extra);
        return;
    }
    if (status >= 500) {
        rlog_error(r, "database error %s: %s", state ? state : "?", primary ? primary : "");
        if (status == 503)
            set_retry_after(r, 1);
        reply_error_obj(r, status, code_for_sqlstate(state ? state : "", status), NULL,
                        status == 503 ? "temporary database problem, try again" : "internal error",
                        NULL);
        return;
    }
    reply_error_obj(r, status, code_for_sqlstate(state, status), constraint,
                    primary ? primary : "invalid value", NULL);
}

void http_reply_db_json(struct req *r, int status, const struct db_result *res)
{
    const char *v;
    if (res->status != DB_OK) {
        http_reply_db_error(r, res);
        return;
    }
    if (PQntuples(res->res) < 1 || PQnfields(res->res) < 1 || PQgetisnull(res->res, 0, 0)) {
        http_reply_error(r, 404, "not_found", NULL, "no such object");
        return;
    }
    v = PQgetvalue(res->res, 0, 0);
    http_reply_json(r, status, v, (size_t)PQgetlength(res->res, 0, 0));
}

/* ---- streaming replies ---- */

/* An SSE stream is quiet between events; its owner sends heartbeats well within this, so a
 * connection silent for longer is dead and evhttp may drop it. */
#define STREAM_TIMEOUT_S 120

static void stream_closed(struct evhttp_connection *evcon, void *arg)
{
    struct req *r = arg;
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    if (r->on_close)
        r->on_close(r, r->close_arg);
}

int http_stream_start(struct req *r, const char *ctype, void (*on_close)(struct req *r, void *arg),
                      void *arg)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);

    if (!evcon || r->replied)
        return -1;
    r->replied = true;
    r->streaming = true;
    r->status = 200;
    r->on_close = on_close;
    r->close_arg = arg;
    evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "X-Request-Id", r->id);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    evhttp_add_header(out, "Cache-Control", "no-store");
    /* Proxies such as nginx would otherwise hold events back to fill their buffers. */
    evhttp_add_header(out, "X-Accel-Buffering", "no");
    evhttp_connection_set_timeout(evcon, STREAM_TIMEOUT_S);
    evhttp_connection_set_closecb(evcon, stream_closed, r);
    evhttp_send_reply_start(r->ev, 200, reason(200));
    H.inflight--;
    H.streams++;
    maybe_drained();
    return 0;
}

int http_stream_write(struct req *r, struct evbuffer *buf)
{
    if (!r->streaming || !evhttp_request_get_connection(r->ev))
        return -1;
    evhttp_send_reply_chunk(r->ev, buf);
    return 0;
}

size_t http_stream_pending(struct req *r)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

void http_stream_end(struct req *r)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(r->ev);
    int64_t dur = util_now_us() - r->start_us;

    track_unflushed(r); /* replaces the stream's close callback */
    /* Without a connection this only frees evhttp's request (the client left). */
    evhttp_send_reply_end(r->ev);
    log_msg(LOG_INFO, r->id, "%s %s %d stream %.3fs%s", r->method, r->path ? r->path : "-",
            r->status, (double)dur / 1e6, evcon ? "" : " (client left)");
    metrics_observe(r->match.route ? r->match.index : -1, r->status, dur);
    req_free(r);
    H.streams--;
    maybe_drained();
}

int http_streams(void)
{
    return H.streams;
}

void http_db_ok(const struct db_result *res, void *arg)
{
    http_reply_db_json(arg, 200, res);
}

void http_db_created(const struct db_result *res, void *arg)
{
    http_reply_db_json(arg, 201, res);
}

const char *http_param(struct req *r, const char *name)
{
    return router_param(&r->match, name);
}

const char *http_query(struct req *r, const char *name)
{
    return r->query ? evhttp_find_header(r->query, name) : NULL;
}

const char *http_header(struct req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

void http_add_header(struct req *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

int http_inflight(void)
{
    return H.inflight;
}

int http_bound_port(void)
{
    return H.port;
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_PATCH: return "PATCH";
    default: return "OTHER";
    }
}

void http_dispatch_handler(struct req *r)
{
    const struct route *rt = r->match.route;
    if (rt->access != ACCESS_PUBLIC &&
        !auth_allows(&r->who, rt->access, router_param(&r->match, "store"))) {
        http_reply_error(r, 403, "forbidden", NULL, "your role does not allow this here");
        return;
    }
    rt->handler(r);
}

static bool is_api_path(const char *p)
{
    return strncmp(p, "/api/", 5) == 0 || strcmp(p, "/api") == 0 || strcmp(p, "/healthz") == 0 ||
           strcmp(p, "/metrics") == 0;
}

static int read_body(struct req *r)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    size_t len = evbuffer_get_length(in);
    r->body = malloc(len + 1);
    if (!r->body)
        return -1;
    evbuffer_copyout(in, r->body, len);
    r->body[len] = '\0';
    r->body_len = len;
    return 0;
}

static void on_request(struct evhttp_request *ev, void *unused)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *raw_query = uri ? evhttp_uri_get_query(uri) : NULL;
    size_t body_len = evbuffer_get_length(evhttp_request_get_input_buffer(ev));
    size_t dlen = 0;
    struct req *r;
    (void)unused;

    r = calloc(1, sizeof(*r));
    if (!r) {
        evhttp_send_error(ev, 503, "Out of memory");
        return;
    }
    H.inflight++;
    r->ev = ev;
    r->start_us = util_now_us();
    snprintf(r->id, sizeof(r->id), "%08x%08llx", H.prefix, (unsigned long long)++H.next_id);
    snprintf(r->method, sizeof(r->method), "%s", method_name(evhttp_request_get_command(ev)));

    if (!raw_path || raw_path[0] != '/') {
        http_reply_error(r, 400, "bad_path", "path", "the request path is malformed");
        return;
    }
    r->path = evhttp_uridecode(raw_path, 0, &dlen);
    if (!r->path || strlen(r->path) != dlen) {
        http_reply_error(r, 400, "bad_path", "path", "the request path is malformed");
        return;
    }
    if (H.stopping) {
        http_add_header(r, "Retry-After", "1");
        http_reply_error(r, 503, "shutting_down", NULL, "the server is restarting");
        return;
    }
    if (body_len > (size_t)config.max_body_bytes) {
        http_reply_error(r, 413, "body_too_large", "body",
                         "the request body is larger than %d bytes", config.max_body_bytes);
        return;
    }
    r->query = calloc(1, sizeof(*r->query));
    if (!r->query || read_body(r) < 0) {
        http_reply_error(r, 503, "out_of_memory", NULL, "out of memory");
        return;
    }
    TAILQ_INIT(r->query);
    if (raw_query && evhttp_parse_query_str(raw_query, r->query) < 0) {
        http_reply_error(r, 400, "bad_query", "query", "the query string is malformed");
        return;
    }
    if (!is_api_path(r->path)) {
        static_serve(r);
        return;
    }
    if (router_match(routes, nroutes, r->method, r->path, &r->match) < 0) {
        if (r->match.path_found)
            http_reply_error(r, 405, "method_not_allowed", "method",
                             "%s is not allowed on this path", r->method);
        else
            http_reply_error(r, 404, "not_found", "path", "no such endpoint");
        return;
    }
    if (r->body_len > 0 && (strcmp(r->method, "POST") == 0 || strcmp(r->method, "PUT") == 0 ||
                            strcmp(r->method, "PATCH") == 0 || strcmp(r->method, "DELETE") == 0)) {
        json_error_t jerr;
        r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!r->json || !json_is_object(r->json)) {
            http_reply_error(r, 400, "invalid_json", "body",
                             "the body must be a JSON object (%s at character %d)",
                             r->json ? "not an object" : jerr.text, jerr.position);
            return;
        }
    }
    if (r->match.route->access == ACCESS_PUBLIC)
        http_dispatch_handler(r);
    else
        auth_resolve(r);
}

/* SO_REUSEPORT lets several carnetd on one machine share a port, the kernel spreading new
 * connections among them: the way to use more than one core, since each process is one loop. */
static struct evhttp_bound_socket *bind_reuseport(const char *host, int port)
{
    struct addrinfo hints, *ai = NULL;
    char portstr[16];
    evutil_socket_t fd = -1;
    int one = 1;
    struct evhttp_bound_socket *bound = NULL;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
        log_error("http: --reuse-port needs a numeric address, not '%s'", host);
        goto out;
    }
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0)
        goto out;
    bound = evhttp_accept_socket_with_handle(H.http, fd);
out:
    if (!bound && fd >= 0)
        close(fd);
    if (ai)
        freeaddrinfo(ai);
    return bound;
}

int http_init(struct event_base *base, const char *host, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd;

    H.base = base;
    H.prefix = randombytes_random();
    H.http = evhttp_new(base);
    if (!H.http)
        return -1;
    evhttp_set_max_headers_size(H.http, (ev_ssize_t)config.max_header_bytes);
    evhttp_set_max_body_size(H.http, (ev_ssize_t)config.max_body_bytes * HARD_BODY_FACTOR);
    evhttp_set_timeout(H.http, config.http_timeout_s);
    evhttp_set_allowed_methods(H.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(H.http, on_request, NULL);
    if (config.reuse_port)
        H.sock = bind_reuseport(host, port);
    else
        H.sock = evhttp_bind_socket_with_handle(H.http, host, (ev_uint16_t)port);
    if (!H.sock) {
        log_error("http: cannot listen on %s:%d", host, port);
        return -1;
    }
    fd = evhttp_bound_socket_get_fd(H.sock);
    H.port = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            H.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            H.port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return 0;
}

static void drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    log_warning("http: %d request(s) still in flight at the shutdown deadline", H.inflight);
    H.drained = true;
    drained();
}

void http_shutdown(int timeout_s, void (*done)(void))
{
    struct timeval tv = {timeout_s, 0};
    H.stopping = true;
    H.on_drained = done;
    if (H.sock) {
        evhttp_del_accept_socket(H.http, H.sock);
        H.sock = NULL;
    }
    if (H.inflight == 0 && H.unflushed == 0) {
        H.drained = true;
        drained();
        return;
    }
    log_info("http: waiting for %d request(s) in flight", H.inflight);
    H.drain_timer = evtimer_new(H.base, drain_timeout, NULL);
    if (H.drain_timer)
        evtimer_add(H.drain_timer, &tv);
}

void http_free(void)
{
    if (H.drain_timer)
        event_free(H.drain_timer);
    H.drain_timer = NULL;
    if (H.http)
        evhttp_free(H.http);
    H.http = NULL;
}
