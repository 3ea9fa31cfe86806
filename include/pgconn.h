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
 * Called from the loop: `ready` once connected (the socket is non-blocking; the owner then sets
 * its own socket callback with pgconn_watch), `failed` when an attempt fails (with libpq's or the
 * resolver's message, valid during the call). Either may free or reset the connection. `failed`
 * may also fire from within pgconn_start (out of memory, a name answered at once as unknown).
 */
struct pgconn_ops {
    void (*ready)(struct pgconn *c, void *arg);
    void (*failed)(struct pgconn *c, const char *why, void *arg);
};

/* Checked once at start-up, blocking: the conninfo parses, and its host name, if it has one,
 * resolves with the system resolver. -1 with a message naming the host in `err` otherwise. */
int pgconn_check_conninfo(const char *conninfo, char *err, size_t errlen);

/*
 * A connection to `conninfo` (a URI or key=value string), with the settings `keys`/`values`
 * (NULL-terminated, may be NULL) overriding it: application_name, options, connect_timeout.
 * NULL when the conninfo does not parse or memory runs out. Nothing happens until pgconn_start.
 */
struct pgconn *pgconn_new(struct event_base *base, const char *conninfo, const char *const *keys,
                          const char *const *values, const struct pgconn_ops *ops, void *arg);
/* Closes the connection and cancels a lookup or attempt in flight; no callback fires. */
void pgconn_free(struct pgconn *c);
/* Begins an attempt (resolve, then connect) from IDLE. It ends in `ready` or `failed`, within
 * connect_timeout (PGCONN_CONNECT_TIMEOUT_S when the conninfo gives none). */
void pgconn_start(struct pgconn *c);
/* Closes the connection, or abandons the attempt, and goes back to IDLE. No callback fires. */
void pgconn_reset(struct pgconn *c);
enum pgconn_state pgconn_state(const struct pgconn *c);
/* The libpq connection while CONNECTING or READY, else NULL. */
struct pg_conn *pgconn_pq(struct pgconn *c);
/* Once READY: `cb(c, what, arg)` on socket events `what` (EV_READ/EV_WRITE), persistent until
 * changed; `events` is EV_READ, or EV_READ|EV_WRITE while output is pending. -1 when the socket
 * cannot be watched (the owner treats the connection as lost). */
int pgconn_watch(struct pgconn *c, short events,
                 void (*cb)(struct pgconn *c, short what, void *arg));

#define PGCONN_CONNECT_TIMEOUT_S 10
#define PGCONN_MAX_ADDRS 8 /* addresses of one name handed to libpq, tried in turn */

/* ---- connection settings as keyword/value arrays (pure, unit-tested) ---- */

/* Both arrays hold `n` entries and a NULL after them, as PQconnectStartParams takes them. */
struct pgconn_params {
    char **keys;
    char **values;
    int n, cap;
};

/* Parses `conninfo` (URI or key=value) into the settings it gives; -1 with a message in `err`. */
int pgconn_params_parse(struct pgconn_params *p, const char *conninfo, char *err, size_t errlen);
/* Adds or replaces `key`. -1 out of memory. */
int pgconn_params_set(struct pgconn_params *p, const char *key, const char *value);
/* The value of `key`, or NULL when not set. */
const char *pgconn_params_get(const struct pgconn_params *p, const char *key);
/*
 * What must be resolved before libpq may connect without a lookup: 0 with *name the host name,
 * or NULL when none (no host, a numeric address, a Unix socket directory, hostaddr given).
 * -1 when several hosts include a name: unsupported (it would be resolved by libpq, blocking).
 */
int pgconn_params_target(const struct pgconn_params *p, const char **name);
/* A copy of `p` for connecting to the name's `naddrs` addresses in turn: host repeated once per
 * address, hostaddr the addresses, both comma-separated. -1 out of memory. */
int pgconn_params_with_addrs(const struct pgconn_params *p, const char *const *addrs, int naddrs,
                             struct pgconn_params *out);
/*
 * Adds the liveness settings every carnetd connection uses where `p` does not give its own: TCP
 * keepalives after 5 s idle, every 2 s, 3 lost, and 15 s for unacknowledged data, so a server
 * that vanished without a reset is noticed within about 15 s instead of the kernel's 2 hours.
 * -1 out of memory. (Unix sockets ignore them.)
 */
int pgconn_params_liveness(struct pgconn_params *p);
void pgconn_params_free(struct pgconn_params *p);

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
