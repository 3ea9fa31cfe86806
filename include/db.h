/*
 * db: the asynchronous PostgreSQL connection pool.
 *
 * N libpq connections in non-blocking mode, each driven by an event on its socket. A caller
 * submits one named statement with text parameters and a callback, and returns to the loop; the
 * callback fires later, always from the event loop and never from inside db_query itself, with
 * the result or the reason there is none. When every connection is busy the query waits in a
 * bounded FIFO; a full queue or an expired wait fails fast so the HTTP layer can answer 503 with
 * Retry-After instead of hanging. A broken connection is re-opened in the background with
 * exponential back-off; queries in flight on it fail (they were never acknowledged).
 *
 * Multi-statement work is done inside PL/pgSQL functions (schema/), so one call is one
 * transaction and the invariants live in PostgreSQL.
 */
#ifndef CARNET_DB_H
#define CARNET_DB_H

#include <stdbool.h>
#include <stdint.h>

struct event_base;

/* A named statement. Define them as static objects next to their callers; `id` is assigned on
 * first use and lets each connection remember what it has prepared. */
struct sql_stmt {
    const char *name;
    const char *text;
    int nparams;
    int id;
};
#define SQL_STMT(nm, txt, n)                                                                       \
    {                                                                                              \
        .name = (nm), .text = (txt), .nparams = (n), .id = -1                                      \
    }

enum db_status {
    DB_OK,          /* res holds a successful result */
    DB_ERR_SQL,     /* the statement failed: res holds the error (see sqlstate) */
    DB_ERR_BUSY,    /* the wait queue was full: nothing was sent */
    DB_ERR_TIMEOUT, /* waited longer than the queue deadline: nothing was sent */
    DB_ERR_CONN,    /* no usable connection, or it broke: the outcome of a write is unknown */
};

struct db_result {
    enum db_status status;
    struct pg_result *res; /* owned by the pool, valid only during the callback; may be NULL */
    const char *sqlstate;  /* for DB_ERR_SQL, else NULL */
};

/* Reading an answer without libpq: rows, columns, values (text, valid during the callback). */
int db_rows(const struct db_result *r);
int db_cols(const struct db_result *r);
bool db_isnull(const struct db_result *r, int row, int col);
/* The value's text ("" for NULL or out of range). */
const char *db_value(const struct db_result *r, int row, int col);
int db_length(const struct db_result *r, int row, int col);
/* For DB_ERR_SQL: the error's parts (NULL when absent). */
enum db_error_field { DB_ERROR_PRIMARY, DB_ERROR_DETAIL, DB_ERROR_HINT, DB_ERROR_CONSTRAINT };
const char *db_error_field(const struct db_result *r, enum db_error_field f);
/* True when the call may simply be tried again (a request would answer 503): the pool refused,
 * the connection broke, the statement timed out, or a transient SQLSTATE. */
bool db_transient(const struct db_result *r);

typedef void (*db_cb)(const struct db_result *result, void *arg);

struct db_config {
    const char *conninfo;
    int size;
    int queue_max;
    int queue_timeout_ms;
    int statement_timeout_ms;
    int reconnect_max_ms;
    int pipeline_depth; /* queries one connection may carry at once (1: no pipelining) */
};

struct db_stats {
    int size;
    int connected;
    int busy;
    int inflight;
    int waiting;
    uint64_t reconnects;
    uint64_t rejected_busy;
    uint64_t rejected_timeout;
    uint64_t failed_conn;
    uint64_t queries;
};

int db_init(struct event_base *base, const struct db_config *cfg);
void db_shutdown(void);

/*
 * Submits `stmt` with `nparams` text values (NULL for SQL NULL). The values are copied, so the
 * caller may free them at once. `cb(result, arg)` runs exactly once, later, from the loop.
 */
void db_query(struct sql_stmt *stmt, const char *const *values, db_cb cb, void *arg);

void db_stats(struct db_stats *out);

/*
 * Reads from a standby (--read-database-url): a second pool of the same size on `cfg`, whose
 * lag behind the primary is polled on a timer. db_query_read sends a read there while the
 * standby is connected and lags at most `max_lag_ms`, else (and when it fails there for want
 * of a connection) to the primary; without db_init_read it is db_query. Only for statements
 * that write nothing and need not see the caller's own writes.
 */
int db_init_read(struct event_base *base, const struct db_config *cfg, int max_lag_ms);
void db_query_read(struct sql_stmt *stmt, const char *const *values, db_cb cb, void *arg);
struct db_read_stats {
    bool on, usable;
    int64_t lag_ms; /* INT64_MAX while unknown */
    uint64_t routed, fell_back;
};
void db_read_stats(struct db_read_stats *out);
/* True when at least one connection is established (used by /healthz before a round trip). */
bool db_any_connected(void);
/* Seconds to put in Retry-After when the pool refuses work. */
int db_retry_after(void);

/* Pure FIFO helpers exposed for unit tests of the queueing logic. */
struct db_job;
struct db_queue {
    struct db_job *head, *tail;
    int len, max;
};
void db_queue_init(struct db_queue *q, int max);
int db_queue_push(struct db_queue *q, struct db_job *job);
struct db_job *db_queue_pop(struct db_queue *q);
struct db_job *db_queue_pop_expired(struct db_queue *q, int64_t now_us);
struct db_job *db_job_new(struct sql_stmt *stmt, const char *const *values, db_cb cb, void *arg,
                          int64_t deadline_us);
void db_job_free(struct db_job *job);

#endif
