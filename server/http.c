/*
 * http: evhttp glue and the life of one request (see http.h for the ownership rules).
 *
 *   accepted -> parsed (path, query, body limits) -> the request callback -> replied -> sent
 *
 * A reply is recorded, not sent: the bytes go to evhttp only when the last reference to the
 * request is released (req_flush), because evhttp may free its request as soon as it has the
 * reply, and a handler or a callback may still be reading headers or the query. req_flush is the
 * one place that sends, logs, counts and frees. Errors are always JSON:
 * {"error":{"code":"...","message":"...","field":"..."}}.
 */
#include "http.h"

#include <assert.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <errno.h>
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

#include "acceptpause.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

/* libevent refuses bodies past http_max_body() plus this many times --max-body with its own
 * (HTML) 413; below that we answer in JSON. */
#define HARD_BODY_FACTOR 4
#define HTTP_MAX_SINGLE_WRITE (1 << 20)

static struct {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *sock;
    int port;
    int inflight;
    int unflushed; /* replies handed to evhttp whose bytes are not all written yet */
    bool stopping;
    bool drained;
    void (*on_drained)(void);
    struct event *drain_timer;
    struct accept_pause *accept_pause;
    uint64_t next_id;
    uint32_t prefix;
    http_request_cb on_request;
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

static const char *state_name(enum req_state st)
{
    switch (st) {
    case REQ_OPEN: return "open";
    case REQ_STREAMING: return "streaming";
    case REQ_DONE: return "done";
    }
    return "?";
}

/* The one place a request's life moves: OPEN -> DONE, OPEN -> STREAMING -> DONE. */
static void req_set_state(struct req *r, enum req_state to)
{
    bool legal = (r->life == REQ_OPEN && (to == REQ_STREAMING || to == REQ_DONE)) ||
                 (r->life == REQ_STREAMING && to == REQ_DONE);
    assert(legal);
    (void)legal;
    log_msg(LOG_DEBUG, r->id, "request %s -> %s", state_name(r->life), state_name(to));
    r->life = to;
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
    if (r->reply)
        evbuffer_free(r->reply);
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
    /* bufferevent's default of 16 kB a write costs a loop turn and a writev per 16 kB of a
     * large reply (the month view's is ~90 kB): the kernel takes what its buffer holds. */
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    if (bev)
        bufferevent_set_max_single_write(bev, HTTP_MAX_SINGLE_WRITE);
    evhttp_request_set_on_complete_cb(r->ev, on_reply_sent, evcon);
    evhttp_connection_set_closecb(evcon, on_conn_closed, NULL);
}

/* The last reference is gone: hand the recorded answer to evhttp, log, count, free. From here
 * on evhttp owns (and may free) its request, so nothing reads r->ev afterwards. */
static void req_flush(struct req *r)
{
    int64_t dur = util_now_us() - r->start_us;
    size_t bytes;
    char lpath[LOG_PATH_MAX];

    if (r->life == REQ_STREAMING) {
        /* A stream's owner always ends it before letting go; this is a bug upstream. */
        log_error("http: stream of %s %s released without an end", r->method,
                  log_path(r->path, lpath, sizeof(lpath)));
        req_set_state(r, REQ_DONE);
    }
    if (r->life == REQ_OPEN) {
        /* A handler returned without answering and nothing holds the request: never leave the
         * client hanging. */
        log_msg(LOG_ERROR, r->id, "http: %s %s ended without a reply", r->method,
                log_path(r->path, lpath, sizeof(lpath)));
        http_reply_error(r, 500, "internal", NULL, "the server did not answer this request");
    }
    bytes = r->reply ? evbuffer_get_length(r->reply) : 0;
    if (r->ev) {
        struct evkeyvalq *out = evhttp_request_get_output_headers(r->ev);
        if (r->reply_ctype)
            evhttp_add_header(out, "Content-Type", r->reply_ctype);
        evhttp_add_header(out, "X-Request-Id", r->id);
        evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
        if (!evhttp_find_header(out, "Cache-Control"))
            evhttp_add_header(out, "Cache-Control", "no-store");
        if (H.stopping)
            evhttp_add_header(out, "Connection", "close");
        track_unflushed(r);
        evhttp_send_reply(r->ev, r->status, reason(r->status), r->reply);
        r->ev = NULL;
        log_access(r->id, "%s %s %d %zu %.3fms", r->method,
                   log_path(r->path, lpath, sizeof(lpath)), r->status, bytes,
                   (double)dur / 1000.0);
        metrics_observe(r->match.route ? r->match.index : -1, r->status, dur);
        H.inflight--;
    }
    req_free(r);
    maybe_drained();
}

void http_req_hold(struct req *r)
{
    assert(r->refs > 0);
    r->refs++;
}

void http_req_release(struct req *r)
{
    assert(r->refs > 0);
    if (--r->refs == 0)
        req_flush(r);
}

bool http_replied(const struct req *r)
{
    return r->life != REQ_OPEN;
}

/* Records the answer; req_flush sends it once nobody holds the request. */
static void record_reply(struct req *r, int status, const char *ctype, const char *body,
                         size_t len, struct evbuffer *from)
{
    char lpath[LOG_PATH_MAX];

    if (r->life != REQ_OPEN) {
        log_msg(LOG_ERROR, r->id, "http: second reply (%d) to %s %s ignored", status, r->method,
                log_path(r->path, lpath, sizeof(lpath)));
        return;
    }
    req_set_state(r, REQ_DONE);
    r->status = status;
    r->reply_ctype = ctype;
    r->reply = evbuffer_new();
    if (r->reply) {
        if (body && len)
            evbuffer_add(r->reply, body, len);
        else if (from)
            evbuffer_add_buffer(r->reply, from);
    }
}

void http_reply_raw(struct req *r, int status, const char *content_type, const char *body,
                    size_t len)
{
    record_reply(r, status, content_type, body, len, NULL);
}

void http_reply_json(struct req *r, int status, const char *json, size_t len)
{
    record_reply(r, status, "application/json; charset=utf-8", json, len, NULL);
}

void http_reply_retry(struct req *r, int seconds, const char *code, const char *message)
{
    char v[16];
    if (http_replied(r))
        return;
    snprintf(v, sizeof(v), "%d", seconds > 0 ? seconds : 1);
    http_add_header(r, "Retry-After", v);
    http_reply_error_extra(r, 503, code, NULL, message, NULL);
}

void http_reply_oom(struct req *r)
{
    static const char oom[] = "{\"error\":{\"code\":\"out_of_memory\","
                              "\"message\":\"the server is short of memory, try again\","
                              "\"field\":null}}";
    if (http_replied(r))
        return;
    http_add_header(r, "Retry-After", "1");
    http_reply_json(r, 503, oom, sizeof(oom) - 1);
}

void http_reply_jansson(struct req *r, int status, json_t *obj)
{
    char *s = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    if (obj)
        json_decref(obj);
    if (!s) {
        http_reply_oom(r);
        return;
    }
    http_reply_json(r, status, s, strlen(s));
    free(s);
}

void http_reply_empty(struct req *r, int status)
{
    record_reply(r, status, NULL, NULL, 0, NULL);
}

void http_reply_buffer(struct req *r, int status, const char *ctype, struct evbuffer *buf)
{
    record_reply(r, status, ctype, NULL, 0, buf);
}

void http_reply_error_extra(struct req *r, int status, const char *code, const char *field,
                            const char *message, json_t *extra)
{
    json_t *err;
    if (http_replied(r)) {
        log_msg(LOG_ERROR, r->id, "http: second reply (%d %s) ignored", status, code);
        return;
    }
    err = json_object();
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
    http_reply_error_extra(r, status, code, field, msg, NULL);
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
    struct evkeyvalq *out;
    struct evhttp_connection *evcon;

    if (r->life != REQ_OPEN || !r->ev || !(evcon = evhttp_request_get_connection(r->ev)))
        return -1;
    out = evhttp_request_get_output_headers(r->ev);
    req_set_state(r, REQ_STREAMING);
    http_req_hold(r); /* the stream's own reference, released by http_stream_end */
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
    maybe_drained();
    return 0;
}

int http_stream_write(struct req *r, struct evbuffer *buf)
{
    if (r->life != REQ_STREAMING || !r->ev || !evhttp_request_get_connection(r->ev))
        return -1;
    evhttp_send_reply_chunk(r->ev, buf);
    return 0;
}

size_t http_stream_pending(struct req *r)
{
    struct evhttp_connection *evcon =
        r->life == REQ_STREAMING && r->ev ? evhttp_request_get_connection(r->ev) : NULL;
    struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
    return bev ? evbuffer_get_length(bufferevent_get_output(bev)) : 0;
}

void http_stream_end(struct req *r)
{
    struct evhttp_connection *evcon;
    int64_t dur = util_now_us() - r->start_us;
    char lpath[LOG_PATH_MAX];

    if (r->life != REQ_STREAMING) {
        log_msg(LOG_ERROR, r->id, "http: end of a stream that is not open ignored");
        return;
    }
    evcon = evhttp_request_get_connection(r->ev);
    req_set_state(r, REQ_DONE);
    track_unflushed(r); /* replaces the stream's close callback */
    /* Without a connection this only frees evhttp's request (the client left). */
    evhttp_send_reply_end(r->ev);
    r->ev = NULL;
    log_access(r->id, "%s %s %d stream %.3fs%s", r->method,
               log_path(r->path, lpath, sizeof(lpath)), r->status, (double)dur / 1e6,
               evcon ? "" : " (client left)");
    metrics_observe(r->match.route ? r->match.index : -1, r->status, dur);
    http_req_release(r);
}

const char *http_param(struct req *r, const char *name)
{
    return router_param(&r->match, name);
}

const char *http_query(struct req *r, const char *name)
{
    return r->query ? evhttp_find_header(r->query, name) : NULL;
}

/* Headers are read from evhttp's request, which lives until req_flush hands the reply over:
 * after that nobody holds `r` any more, so r->ev is never read once it may be gone. */
const char *http_header(struct req *r, const char *name)
{
    return r->ev ? evhttp_find_header(evhttp_request_get_input_headers(r->ev), name) : NULL;
}

void http_add_header(struct req *r, const char *name, const char *value)
{
    if (r->ev)
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

void http_peer_addr(struct req *r, char *out, size_t len)
{
    struct evhttp_connection *c = r->ev ? evhttp_request_get_connection(r->ev) : NULL;
    char *addr = NULL;
    ev_uint16_t port = 0;

    if (len == 0)
        return;
    out[0] = '\0';
    if (!c)
        return;
    evhttp_connection_get_peer(c, &addr, &port);
    if (addr)
        snprintf(out, len, "%s", addr);
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
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    default: return "OTHER";
    }
}

size_t http_max_body(void)
{
    return config.max_upload_bytes > config.max_body_bytes ? (size_t)config.max_upload_bytes
                                                           : (size_t)config.max_body_bytes;
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

/* What HTTP itself owns: a path, a query string, a body within the limits. Replies and returns
 * -1 when the request cannot go further. */
static int parse_request(struct req *r)
{
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(r->ev);
    const char *raw_path = uri ? evhttp_uri_get_path(uri) : NULL;
    const char *raw_query = uri ? evhttp_uri_get_query(uri) : NULL;
    size_t body_len = evbuffer_get_length(evhttp_request_get_input_buffer(r->ev));
    size_t dlen = 0;

    if (!raw_path || raw_path[0] != '/') {
        http_reply_error(r, 400, "bad_path", "path", "the request path is malformed");
        return -1;
    }
    r->path = evhttp_uridecode(raw_path, 0, &dlen);
    if (!r->path || strlen(r->path) != dlen) {
        http_reply_error(r, 400, "bad_path", "path", "the request path is malformed");
        return -1;
    }
    if (H.stopping) {
        http_reply_retry(r, 1, "shutting_down", "the server is restarting");
        return -1;
    }
    /* The largest body any route takes; the dispatcher holds each route to its own limit. */
    if (body_len > http_max_body()) {
        http_reply_error(r, 413, "body_too_large", "body",
                         "the request body is larger than %zu bytes", http_max_body());
        return -1;
    }
    r->query = calloc(1, sizeof(*r->query));
    if (!r->query || read_body(r) < 0) {
        http_reply_oom(r);
        return -1;
    }
    TAILQ_INIT(r->query);
    if (raw_query && evhttp_parse_query_str(raw_query, r->query) < 0) {
        http_reply_error(r, 400, "bad_query", "query", "the query string is malformed");
        return -1;
    }
    return 0;
}

static void on_request(struct evhttp_request *ev, void *unused)
{
    struct req *r;
    (void)unused;

    r = calloc(1, sizeof(*r));
    if (!r) {
        evhttp_send_error(ev, 503, "Out of memory");
        return;
    }
    H.inflight++;
    r->ev = ev;
    r->refs = 1; /* ours, for the length of this call */
    r->life = REQ_OPEN;
    r->start_us = util_now_us();
    snprintf(r->id, sizeof(r->id), "%08x%08llx", H.prefix, (unsigned long long)++H.next_id);
    snprintf(r->method, sizeof(r->method), "%s", method_name(evhttp_request_get_command(ev)));
    if (parse_request(r) == 0)
        H.on_request(r);
    http_req_release(r);
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

#define HTTP_BACKLOG 4096

int http_init(struct event_base *base, const char *host, int port, http_request_cb cb)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd;

    H.base = base;
    H.on_request = cb;
    H.prefix = randombytes_random();
    H.http = evhttp_new(base);
    if (!H.http)
        return -1;
    evhttp_set_max_headers_size(H.http, (ev_ssize_t)config.max_header_bytes);
    size_t hard = http_max_body() + (size_t)config.max_body_bytes * HARD_BODY_FACTOR;
    evhttp_set_max_body_size(H.http, (ev_ssize_t)hard);
    evhttp_set_timeout(H.http, config.http_timeout_s);
    /* Every method libevent can parse reaches us, so a method no route has gets our JSON 405
     * rather than libevent's HTML one. (Methods libevent cannot parse at all, like a bad request
     * line or headers past the limit, still get libevent's own short answer: 2.1 has no hook.) */
    evhttp_set_allowed_methods(H.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                           EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS |
                                           EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT);
    evhttp_set_gencb(H.http, on_request, NULL);
    if (config.reuse_port)
        H.sock = bind_reuseport(host, port);
    else
        H.sock = evhttp_bind_socket_with_handle(H.http, host, (ev_uint16_t)port);
    if (!H.sock) {
        log_error("http: cannot listen on %s:%d", host, port);
        return -1;
    }
    H.accept_pause = accept_pause_new(base, H.sock, "http");
    if (!H.accept_pause)
        return -1;
    fd = evhttp_bound_socket_get_fd(H.sock);
    /* evhttp listens with a backlog of 128: when thousands of boards reconnect at once the
     * kernel would drop the SYNs beyond it, and each client would wait a 1 s (then 3 s)
     * retransmit. A second listen() only raises it (Linux caps it at net.core.somaxconn). */
    if (listen(fd, HTTP_BACKLOG) < 0)
        log_warning("http: cannot raise the listen backlog to %d", HTTP_BACKLOG);
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
    accept_pause_free(H.accept_pause); /* its timer would enable a freed listener */
    H.accept_pause = NULL;
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
    accept_pause_free(H.accept_pause);
    H.accept_pause = NULL;
    if (H.http)
        evhttp_free(H.http);
    H.http = NULL;
}
