/*
 * http: the evhttp glue. Owns the listening socket, the request context, limits and timeouts,
 * JSON replies and errors, the access log, and graceful shutdown.
 *
 * A handler receives a `struct req` and must finish it exactly once with one of the http_reply_*
 * calls, either at once or later from a db/worker callback. The reply frees the request; the
 * handler must not touch it afterwards.
 */
#ifndef CARNET_HTTP_H
#define CARNET_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "router.h"

struct event_base;
struct evhttp_request;
struct evkeyvalq;

struct principal_store {
    char store_id[24];
    unsigned roles;
};

/* A staff name is at most 200 characters (schema/001_core.sql), of up to 4 UTF-8 bytes each: the
 * whole name fits, so it is never cut inside a character (which would not be valid JSON). */
#define PRINCIPAL_NAME_BYTES (200 * 4 + 1)

/* The staff member behind a request, filled by auth before a protected handler runs. */
struct principal {
    bool authenticated;
    bool admin;
    bool via_cookie;
    char staff_id[24];
    char name[PRINCIPAL_NAME_BYTES];
    char csrf[65]; /* the session's CSRF value, for cookie sessions (empty otherwise) */
    int nstores;
    struct principal_store *stores; /* owned by the req */
};

struct req {
    struct evhttp_request *ev;
    char id[20];
    char method[8];
    char *path; /* percent-decoded path, owned */
    struct route_match match;
    struct evkeyvalq *query; /* parsed query string, owned */
    char *body;              /* request body as received, NUL-terminated, owned */
    size_t body_len;
    json_t *json; /* parsed body for JSON requests, owned */
    struct principal who;
    int64_t start_us;
    int status;
    bool replied;
    void *state; /* handler-owned context, freed with state_free when the request ends */
    void (*state_free)(void *state);
    /* A streaming reply (http_stream_start): who to tell when the client goes away. */
    bool streaming;
    void (*on_close)(struct req *r, void *arg);
    void *close_arg;
};

int http_init(struct event_base *base, const char *host, int port);
int http_bound_port(void);
/* Stops accepting; calls `done` once no request is in flight or after `timeout_s`. */
void http_shutdown(int timeout_s, void (*done)(void));
int http_inflight(void);

const char *http_param(struct req *r, const char *name);
const char *http_query(struct req *r, const char *name);
const char *http_header(struct req *r, const char *name);
void http_add_header(struct req *r, const char *name, const char *value);

void http_reply_raw(struct req *r, int status, const char *content_type, const char *body,
                    size_t len);
void http_reply_json(struct req *r, int status, const char *json, size_t len);
/* Steals the reference to `obj`. */
void http_reply_jansson(struct req *r, int status, json_t *obj);
void http_reply_empty(struct req *r, int status);
void http_reply_error(struct req *r, int status, const char *code, const char *field,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Turns a failed db result into the one right error reply (503, 409, 422 ...). */
void http_reply_db_error(struct req *r, const struct db_result *res);
/* The same from the fields of a SQL error (SQLSTATE, message, detail, hint, constraint; any may
 * be NULL, an empty hint counts as none): for errors a function returns as data, such as the
 * first answer of an idempotent booking. */
void http_reply_sql_error(struct req *r, const char *state, const char *primary,
                          const char *detail, const char *hint, const char *constraint);
/* Replies with the first column of the first row of `res` (a json value built by SQL). */
void http_reply_db_json(struct req *r, int status, const struct db_result *res);

struct evbuffer;
/* Sends `buf` (not taken: the caller frees it after the call). */
void http_reply_buffer(struct req *r, int status, const char *content_type, struct evbuffer *buf);
void http_free(void);

/*
 * Streaming replies (Server-Sent Events). http_stream_start sends 200 with `content_type` and
 * chunked encoding; the request then stays open and no longer counts as in flight (a stream
 * must not hold up a graceful shutdown: its owner ends it). If the client goes away first,
 * `on_close(r, arg)` runs once, from the loop; the owner must then call http_stream_end(r).
 * http_stream_end finishes the reply (when the client is still there), logs it and frees r.
 */
int http_stream_start(struct req *r, const char *content_type,
                      void (*on_close)(struct req *r, void *arg), void *arg);
/* Queues the bytes of `buf` (drained, not taken). -1 when the client is gone. */
int http_stream_write(struct req *r, struct evbuffer *buf);
/* Bytes written to the stream but not yet accepted by the client's socket. */
size_t http_stream_pending(struct req *r);
void http_stream_end(struct req *r);
/* Streams currently open. */
int http_streams(void);

/* db_query callbacks for the common case, with the req as `arg`: reply with the JSON the SQL
 * function built, 200 or 201 on success, the mapped error otherwise. */
void http_db_ok(const struct db_result *res, void *arg);
void http_db_created(const struct db_result *res, void *arg);

/* Maps a SQLSTATE to an HTTP status; exposed for unit tests. */
int http_status_for_sqlstate(const char *sqlstate);

/* Runs the route's handler after access checks; called by auth once the caller is known. */
void http_dispatch_handler(struct req *r);

#endif
