/*
 * http: the transport. Owns the listening socket, the life of one request, limits and timeouts,
 * replies (plain, JSON, errors, streams), the access log line, and graceful shutdown. It knows
 * nothing of routes' meaning, sessions, the database or the web root: it is handed one callback
 * at http_init and gives it each parsed request, as PgBouncer's sbuf is handed its proto_fn.
 *
 * Ownership. A request is reference-counted. The transport holds one reference while the
 * request callback runs; whoever keeps the request past a return (a pending query, a worker
 * job, a stream) holds another (http_req_hold / http_req_release). A reply only records the
 * answer and moves the request to DONE: the bytes go to evhttp, and the request is freed, when
 * the last reference is released. So a handler may read its request (headers, query, body,
 * params) after replying without reaching freed memory, and a second reply is logged and
 * ignored. Life: OPEN -> DONE, or OPEN -> STREAMING -> DONE, moved only by req_set_state.
 */
#ifndef CARNET_HTTP_H
#define CARNET_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "principal.h"
#include "router.h"

struct event_base;
struct evbuffer;
struct evhttp_request;
struct evkeyvalq;

enum req_state {
    REQ_OPEN,      /* no answer yet */
    REQ_STREAMING, /* headers sent, chunks follow until http_stream_end */
    REQ_DONE,      /* answered: waiting for the last reference to go */
};

struct req {
    char id[20];
    char method[8];
    char *path; /* percent-decoded path, owned */
    struct route_match match;
    struct evkeyvalq *query; /* parsed query string, owned */
    char *body;              /* request body as received, NUL-terminated, owned */
    size_t body_len;
    json_t *json; /* the body parsed as a JSON object (set by the dispatcher), owned */
    struct principal who;
    int64_t start_us;
    int status;
    enum req_state life; /* moved only by http.c's req_set_state */
    /* Where the pipeline goes on after an asynchronous step (authentication): set by the step's
     * caller, called by the step. */
    void (*resume)(struct req *r);
    void *state; /* handler-owned context, freed with state_free when the request is freed */
    void (*state_free)(void *state);

    /* Private to http.c. */
    int refs;
    struct evhttp_request *ev;
    struct evbuffer *reply; /* the recorded answer, sent when refs reaches 0 */
    const char *reply_ctype;
    void (*on_close)(struct req *r, void *arg);
    void *close_arg;
};

/* Called once for every parsed request. It must answer the request, now or later: a request
 * whose last reference goes without an answer gets a logged 500. */
typedef void (*http_request_cb)(struct req *r);

int http_init(struct event_base *base, const char *host, int port, http_request_cb on_request);
int http_bound_port(void);
/* Stops accepting; calls `done` once no request is in flight or after `timeout_s`. */
void http_shutdown(int timeout_s, void (*done)(void));
int http_inflight(void);
void http_free(void);

/* Keep `r` alive past the current call; every hold is matched by one release. */
void http_req_hold(struct req *r);
void http_req_release(struct req *r);
/* True once the request has an answer (or a stream): a handler stops there. */
bool http_replied(const struct req *r);

/* The largest body the transport reads (--max-body or --max-upload, whichever is larger); a
 * larger one is answered 413 before any route is chosen. */
size_t http_max_body(void);

const char *http_param(struct req *r, const char *name);
const char *http_query(struct req *r, const char *name);
const char *http_header(struct req *r, const char *name);
void http_add_header(struct req *r, const char *name, const char *value);
/* The peer's address as text ("" when unknown). */
void http_peer_addr(struct req *r, char *out, size_t len);

/* Replies. Each records the answer; the first one wins, a later one is logged and ignored. */
void http_reply_raw(struct req *r, int status, const char *content_type, const char *body,
                    size_t len);
void http_reply_json(struct req *r, int status, const char *json, size_t len);
/* Steals the reference to `obj`. */
void http_reply_jansson(struct req *r, int status, json_t *obj);
void http_reply_empty(struct req *r, int status);
/* Takes the bytes of `buf` (drained; the caller still frees the evbuffer itself). */
void http_reply_buffer(struct req *r, int status, const char *content_type, struct evbuffer *buf);
void http_reply_error(struct req *r, int status, const char *code, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Like http_reply_error; `extra`'s members are added to the error object (not taken). */
void http_reply_error_extra(struct req *r, int status, const char *code, const char *field,
                            const char *message, json_t *extra);
/* The one out-of-memory answer: 503 with Retry-After. */
void http_reply_oom(struct req *r);
/* 503 with Retry-After: `seconds`. */
void http_reply_retry(struct req *r, int seconds, const char *code, const char *message);

/*
 * Streaming replies (Server-Sent Events). http_stream_start sends 200 with `content_type` and
 * chunked encoding and holds a reference until http_stream_end; the request no longer counts
 * as in flight (a stream must not hold up a graceful shutdown: its owner ends it). If the client
 * goes away first, `on_close(r, arg)` runs once, from the loop; the owner then calls
 * http_stream_end(r).
 */
int http_stream_start(struct req *r, const char *content_type,
                      void (*on_close)(struct req *r, void *arg), void *arg);
/* Queues the bytes of `buf` (drained, not taken). -1 when the client is gone. */
int http_stream_write(struct req *r, struct evbuffer *buf);
/* Bytes written to the stream but not yet accepted by the client's socket. */
size_t http_stream_pending(struct req *r);
void http_stream_end(struct req *r);

#endif
