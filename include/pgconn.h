/*
 * pgconn: one non-blocking PostgreSQL connection, driven by the event loop. Used by the pool
 * (db.c) for each of its connections and by the LISTEN connection of live streams (sse.c), so
 * the connect dance (PQconnectStart, PQconnectPoll, socket events) is written once.
 *
 * Host names are resolved with libevent's evdns and libpq is handed the address (hostaddr) with
 * the name kept for TLS and logs, so no libpq call ever resolves a name on the loop. A name that
 * does not resolve fails the attempt (the owner's back-off retries it), never a stall.
 *
 * Alongside, a blocking form for start-up only (migrations, before the loop runs).
 */
#ifndef CARNET_PGCONN_H
#define CARNET_PGCONN_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct pgconn;
struct pg_conn; /* libpq's PGconn */

enum pgconn_state {
    PGCONN_IDLE,       /* not connected; pgconn_start begins an attempt */
    PGCONN_RESOLVING,  /* waiting for evdns */
    PGCONN_CONNECTING, /* PQconnectPoll in progress */
    PGCONN_READY,      /* connected: the owner drives it */
    PGCONN_FAILED,     /* the attempt or the connection failed; pgconn_reset to go again */
};

/*
 * Called from the loop: `ready` once connected (the owner then sets its own socket callback
 * with pgconn_watch), `failed` when an attempt fails (with libpq's or the resolver's message).
 */
struct pgconn_ops {
    void (*ready)(struct pgconn *c, void *arg);
    void (*failed)(struct pgconn *c, const char *why, void *arg);
};

/* Checked once at start-up: the conninfo parses. -1 with a message in `err` otherwise. */
int pgconn_check_conninfo(const char *conninfo, char *err, size_t errlen);

struct pgconn *pgconn_new(struct event_base *base, const char *conninfo,
                          const struct pgconn_ops *ops, void *arg);
void pgconn_free(struct pgconn *c);
/* Begins an attempt (resolve, then connect). */
void pgconn_start(struct pgconn *c);
/* Closes the connection and goes back to IDLE. */
void pgconn_reset(struct pgconn *c);
enum pgconn_state pgconn_state(const struct pgconn *c);
struct pg_conn *pgconn_pq(struct pgconn *c);
/* Once READY: `cb(c, what, arg)` on socket events `what` (EV_READ/EV_WRITE), persistent until
 * changed; `events` is EV_READ, or EV_READ|EV_WRITE while output is pending. */
void pgconn_watch(struct pgconn *c, short events, void (*cb)(struct pgconn *c, short what,
                                                              void *arg));

/* ---- start-up only: blocking ---- */

/* Connects, resolving the host name with the system resolver (fine before the loop runs).
 * NULL with a message in `err` on failure. */
struct pg_conn *pgconn_connect_blocking(const char *conninfo, char *err, size_t errlen);
/* Runs `sql` (several statements allowed, no parameters) or one statement with text `params`;
 * 0 on success, else -1 with the server's message in `err`. When `first` is given it receives
 * a malloc'd copy of the first value of the first row (NULL when none). */
int pgconn_exec_blocking(struct pg_conn *conn, const char *sql, int nparams,
                         const char *const *params, char **first, char *err, size_t errlen);
void pgconn_close_blocking(struct pg_conn *conn);

#endif
