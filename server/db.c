/*
 * db: the asynchronous libpq pool (see db.h for the contract).
 *
 * Each connection is a small state machine, in the manner of memcached's conn states:
 *
 *   DOWN --timer--> CONNECTING --pgconn ready--> IDLE <--last answer-- BUSY
 *     ^                  |                             |  --job-->          |
 *     +------ fail ------+-----------------------------+--------------------+
 *
 * Connections run in libpq pipeline mode: a BUSY connection may carry up to `pipeline_depth`
 * queries at once, each followed by a sync point so each is its own implicit transaction and one
 * failure cannot abort its neighbours. Answers come back in order, so the in-flight jobs of a
 * connection are a FIFO. New work goes to an idle connection first, then to the least loaded
 * one below the depth, and only then waits in the pool's queue. Depth 1 is classic
 * one-query-per-connection.
 *
 * Statements are prepared lazily, the first time a connection runs them (the prepare rides in
 * the same pipeline as the query), so a reconnect costs nothing up front. Connecting (host name
 * lookup included) is pgconn's; the pool owns the back-off between attempts. Only non-blocking
 * libpq calls run here: PQsend*, PQpipelineSync, PQflush, PQconsumeInput, PQisBusy and
 * PQgetResult when not busy.
 */
#include "db.h"

#include <libpq-fe.h>

#include <assert.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pgconn.h"
#include "util.h"

#define SQL_MAX_STMTS 1024
#define BACKOFF_MIN_MS 100
#define DB_CONNECT_TIMEOUT_S "5" /* a libpq setting: text */

enum conn_state { CONN_DOWN, CONN_CONNECTING, CONN_IDLE, CONN_BUSY };

struct db_job {
    struct db_job *next;
    struct sql_stmt *stmt;
    char **values;
    int nvalues;
    db_cb cb;
    void *arg;
    int64_t deadline_us;
    enum db_status fail_status; /* used when the job is failed without a query */
    PGresult *res;              /* its answer so far (the query's, or the first error) */
    bool failed;
    bool prepared_here; /* its pipeline also carries the PREPARE of its statement */
    bool prepare_seen;  /* the PREPARE's own result has arrived */
    bool prepare_failed;
};

struct pool;

struct db_conn {
    struct pool *pool;
    int index;
    enum conn_state state;
    struct pgconn *pc;
    PGconn *pg; /* pgconn's libpq connection while IDLE or BUSY, else NULL */
    struct event *retry;
    int backoff_ms;
    struct db_job *head, *tail; /* in flight, in the order their answers will come */
    int ninflight;
    unsigned char prepared[SQL_MAX_STMTS];
};

/* A pool: the primary's, and with --read-database-url a second one for reads (db_query_read). */
struct pool {
    const char *name; /* in log lines: "db" or "db-read" */
    struct event_base *base;
    struct db_config cfg;
    char timeout_opt[64];
    struct db_conn *conns;
    struct db_queue queue;
    struct event *deadline;
    bool broken; /* a connection failed and none has come back yet: fail fast */
    bool stopping;
    uint64_t reconnects, rejected_busy, rejected_timeout, failed_conn, queries;
};

static struct pool pool, rpool;
static void read_conn_new(void);

static int next_stmt_id;

static void conn_start(struct db_conn *c);
static void conn_on_io(struct pgconn *pc, short what, void *arg);
static void pool_kick(struct pool *p);

/* ---- jobs and the wait queue (pure, unit-tested) ---- */

struct db_job *db_job_new(struct sql_stmt *stmt, const char *const *values, db_cb cb, void *arg,
                          int64_t deadline_us)
{
    struct db_job *job = calloc(1, sizeof(*job));
    if (!job)
        return NULL;
    job->stmt = stmt;
    job->cb = cb;
    job->arg = arg;
    job->deadline_us = deadline_us;
    job->nvalues = stmt ? stmt->nparams : 0;
    if (job->nvalues > 0) {
        job->values = calloc((size_t)job->nvalues, sizeof(char *));
        if (!job->values)
            goto fail;
        for (int i = 0; i < job->nvalues; i++) {
            if (values && values[i]) {
                job->values[i] = strdup(values[i]);
                if (!job->values[i])
                    goto fail;
            }
        }
    }
    return job;
fail:
    db_job_free(job);
    return NULL;
}

void db_job_free(struct db_job *job)
{
    if (!job)
        return;
    if (job->res)
        PQclear(job->res);
    for (int i = 0; i < job->nvalues && job->values; i++)
        free(job->values[i]);
    free(job->values);
    free(job);
}

void db_queue_init(struct db_queue *q, int max)
{
    q->head = q->tail = NULL;
    q->len = 0;
    q->max = max;
}

int db_queue_push(struct db_queue *q, struct db_job *job)
{
    if (q->len >= q->max)
        return -1;
    job->next = NULL;
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->len++;
    return 0;
}

struct db_job *db_queue_pop(struct db_queue *q)
{
    struct db_job *job = q->head;
    if (!job)
        return NULL;
    q->head = job->next;
    if (!q->head)
        q->tail = NULL;
    q->len--;
    job->next = NULL;
    return job;
}

/* Jobs share one timeout, so the FIFO is also ordered by deadline: only the head can expire. */
struct db_job *db_queue_pop_expired(struct db_queue *q, int64_t now_us)
{
    if (q->head && q->head->deadline_us <= now_us)
        return db_queue_pop(q);
    return NULL;
}

/* ---- completing jobs ---- */

static void job_finish(struct db_job *job, enum db_status status, PGresult *res)
{
    struct db_result r = {.status = status, .res = res, .sqlstate = NULL};
    if (status == DB_ERR_SQL && res)
        r.sqlstate = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    job->cb(&r, job->arg);
    db_job_free(job);
}

static void job_deferred_fail(evutil_socket_t fd, short what, void *arg)
{
    struct db_job *job = arg;
    (void)fd;
    (void)what;
    job_finish(job, job->fail_status, NULL);
}

/* Fails a job from a fresh loop iteration, so db_query never calls back into its caller. */
static void job_fail_later(struct db_job *job, enum db_status status)
{
    static const struct timeval zero = {0, 0};
    job->fail_status = status;
    if (event_base_once(pool.base, -1, EV_TIMEOUT, job_deferred_fail, job, &zero) < 0) {
        log_error("db: cannot schedule a failure callback");
        job_finish(job, status, NULL);
    }
}

static void fail_queue(struct pool *p, enum db_status status)
{
    struct db_job *job;
    while ((job = db_queue_pop(&p->queue)) != NULL) {
        if (status == DB_ERR_CONN)
            p->failed_conn++;
        job_fail_later(job, status);
    }
}

/* ---- connections ---- */

static bool conn_is_up(const struct db_conn *c)
{
    return c->state == CONN_IDLE || c->state == CONN_BUSY;
}

static int count_up(const struct pool *p)
{
    int n = 0;
    for (int i = 0; i < p->cfg.size && p->conns; i++)
        n += conn_is_up(&p->conns[i]);
    return n;
}

/* Watches the connection's socket with the interest `what`. */
static int conn_watch(struct db_conn *c, short what)
{
    return pgconn_watch(c->pc, what, conn_on_io);
}

static void conn_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_start(arg);
}

static const char *conn_state_name(enum conn_state st)
{
    switch (st) {
    case CONN_DOWN:
        return "down";
    case CONN_CONNECTING:
        return "connecting";
    case CONN_IDLE:
        return "idle";
    case CONN_BUSY:
        return "busy";
    }
    return "?";
}

/* The one place a pool connection's state moves: DOWN -> CONNECTING -> IDLE <-> BUSY, and any
 * state -> DOWN when the connection fails or the pool closes. */
static void conn_set_state(struct db_conn *c, enum conn_state to)
{
    bool legal = to == CONN_DOWN || (c->state == CONN_DOWN && to == CONN_CONNECTING) ||
                 (c->state == CONN_CONNECTING && to == CONN_IDLE) ||
                 (c->state == CONN_IDLE && to == CONN_BUSY) ||
                 (c->state == CONN_BUSY && (to == CONN_IDLE || to == CONN_BUSY));
    assert(legal);
    (void)legal;
    if (c->state != to)
        log_debug("%s: connection %d %s -> %s", c->pool->name, c->index, conn_state_name(c->state),
                  conn_state_name(to));
    c->state = to;
}

static void conn_fail(struct db_conn *c, const char *why)
{
    struct db_job *jobs = c->head;
    struct timeval tv;
    struct pool *p = c->pool;
    bool was_up = conn_is_up(c);

    log_warning("%s: connection %d %s: %s", p->name, c->index, was_up ? "lost" : "failed",
                why ? why : (c->pg ? PQerrorMessage(c->pg) : "out of memory"));
    pgconn_reset(c->pc);
    c->pg = NULL;
    c->head = c->tail = NULL;
    c->ninflight = 0;
    conn_set_state(c, CONN_DOWN);
    p->reconnects++;
    p->broken = true;
    while (jobs) {
        struct db_job *next = jobs->next;
        p->failed_conn++;
        job_finish(jobs, DB_ERR_CONN, NULL);
        jobs = next;
    }
    /* With no connection left, waiting would only turn a fast 503 into a slow one. */
    if (count_up(p) == 0)
        fail_queue(p, DB_ERR_CONN);
    if (p->stopping)
        return;
    tv = util_backoff(&c->backoff_ms, BACKOFF_MIN_MS, p->cfg.reconnect_max_ms);
    evtimer_add(c->retry, &tv);
}

/* The state is set first: pgconn may report a failure before pgconn_start returns. */
static void conn_start(struct db_conn *c)
{
    conn_set_state(c, CONN_CONNECTING);
    pgconn_start(c->pc);
}

static void conn_on_failed(struct pgconn *pc, const char *why, void *arg)
{
    (void)pc;
    conn_fail(arg, why);
}

static void conn_on_ready(struct pgconn *pc, void *arg)
{
    struct db_conn *c = arg;

    c->pg = pgconn_pq(pc);
    if (PQenterPipelineMode(c->pg) != 1 || conn_watch(c, EV_READ) < 0) {
        conn_fail(c, NULL);
        return;
    }
    memset(c->prepared, 0, sizeof(c->prepared));
    conn_set_state(c, CONN_IDLE);
    c->backoff_ms = 0;
    c->pool->broken = false;
    if (c->pool == &rpool)
        read_conn_new();
    log_info("%s: connection %d ready", c->pool->name, c->index);
    pool_kick(c->pool);
}

/* After a send, wait for the socket to drain (PQflush 1) and for the answers. */
static int conn_after_send(struct db_conn *c)
{
    int r = PQflush(c->pg);
    if (r < 0 || conn_watch(c, r == 1 ? EV_READ | EV_WRITE : EV_READ) < 0) {
        conn_fail(c, NULL);
        return -1;
    }
    return 0;
}

static void conn_assign(struct db_conn *c, struct db_job *job)
{
    struct sql_stmt *st = job->stmt;

    c->pool->queries++;
    if (st->id < 0) {
        if (next_stmt_id >= SQL_MAX_STMTS) {
            log_error("db: more than %d statements", SQL_MAX_STMTS);
            job_fail_later(job, DB_ERR_CONN);
            return;
        }
        st->id = next_stmt_id++;
    }
    /* The job joins the FIFO first, so a failure below fails it with the rest. */
    job->next = NULL;
    if (c->tail)
        c->tail->next = job;
    else
        c->head = job;
    c->tail = job;
    c->ninflight++;
    conn_set_state(c, CONN_BUSY);
    if (!c->prepared[st->id]) {
        if (!PQsendPrepare(c->pg, st->name, st->text, st->nparams, NULL)) {
            conn_fail(c, NULL);
            return;
        }
        c->prepared[st->id] = 1;
        job->prepared_here = true;
    }
    if (!PQsendQueryPrepared(c->pg, st->name, job->nvalues, (const char *const *)job->values, NULL,
                             NULL, 0) ||
        !PQpipelineSync(c->pg)) {
        conn_fail(c, NULL);
        return;
    }
    conn_after_send(c);
}

/* The sync point of the head job arrived: its answer is complete. */
static void conn_job_done(struct db_conn *c)
{
    struct db_job *job = c->head;
    PGresult *res = job->res;
    enum db_status status = job->failed || !res ? DB_ERR_SQL : DB_OK;

    c->head = job->next;
    if (!c->head)
        c->tail = NULL;
    c->ninflight--;
    if (c->ninflight == 0)
        conn_set_state(c, CONN_IDLE);
    if (job->prepare_failed)
        c->prepared[job->stmt->id] = 0; /* the PREPARE itself failed: redo it next time */
    if (status != DB_OK)
        log_debug("db: %s failed: %s", job->stmt->name, res ? PQresultErrorMessage(res) : "");
    job->res = NULL;
    job_finish(job, status, res);
    PQclear(res);
}

/* Sorts one result into the head job: keep the last good one, or the first error. */
static void conn_take_result(struct db_conn *c, PGresult *res)
{
    struct db_job *job = c->head;
    ExecStatusType st = PQresultStatus(res);

    /* A job that carries a PREPARE gets its result first; only its failure unprepares (a query
     * that fails after a good PREPARE leaves the statement prepared on the server). */
    if (job->prepared_here && !job->prepare_seen) {
        job->prepare_seen = true;
        job->prepare_failed = st != PGRES_COMMAND_OK;
    }
    if (st == PGRES_PIPELINE_ABORTED || job->failed) {
        PQclear(res);
        return;
    }
    if (job->res)
        PQclear(job->res);
    job->res = res;
    job->failed = !(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK);
}

static void conn_read_results(struct db_conn *c)
{
    int nulls = 0;

    if (!PQconsumeInput(c->pg)) {
        conn_fail(c, NULL);
        return;
    }
    while (c->head && c->pg) {
        PGresult *res;
        if (PQisBusy(c->pg))
            return; /* the rest of the answer is still on its way */
        res = PQgetResult(c->pg);
        if (!res) {
            /* NULL ends one query's results; two in a row mean nothing more is ready. */
            if (++nulls > 1)
                return;
            continue;
        }
        nulls = 0;
        if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
            PQclear(res);
            conn_job_done(c); /* may run callbacks that queue more work on this connection */
            continue;
        }
        conn_take_result(c, res);
    }
    if (c->pg && PQstatus(c->pg) == CONNECTION_BAD)
        conn_fail(c, NULL);
    else if (c->state == CONN_IDLE)
        pool_kick(c->pool);
}

static void conn_on_io(struct pgconn *pc, short what, void *arg)
{
    struct db_conn *c = arg;
    (void)pc;

    switch (c->state) {
    case CONN_IDLE:
        /* Nothing is expected: a readable idle socket means the server closed or notified. */
        if (!PQconsumeInput(c->pg) || PQstatus(c->pg) == CONNECTION_BAD) {
            conn_fail(c, NULL);
            break;
        }
        for (PGnotify *n; (n = PQnotifies(c->pg)) != NULL;)
            PQfreemem(n);
        break;
    case CONN_BUSY:
        if (what & EV_WRITE) {
            int r = PQflush(c->pg);
            if (r < 0 || (r == 0 && conn_watch(c, EV_READ) < 0)) {
                conn_fail(c, NULL);
                break;
            }
        }
        if (what & EV_READ)
            conn_read_results(c);
        break;
    case CONN_DOWN:
    case CONN_CONNECTING:
        break;
    }
}

/* ---- the pool ---- */

static void deadline_arm(struct pool *p)
{
    struct timeval tv;
    int64_t wait;

    if (!p->queue.head) {
        evtimer_del(p->deadline);
        return;
    }
    wait = p->queue.head->deadline_us - util_now_us();
    if (wait < 0)
        wait = 0;
    tv.tv_sec = (time_t)(wait / 1000000);
    tv.tv_usec = (suseconds_t)(wait % 1000000);
    evtimer_add(p->deadline, &tv);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p = arg;
    struct db_job *job;
    int64_t now = util_now_us();
    (void)fd;
    (void)what;
    while ((job = db_queue_pop_expired(&p->queue, now)) != NULL) {
        p->rejected_timeout++;
        job_finish(job, DB_ERR_TIMEOUT, NULL);
    }
    deadline_arm(p);
}

/* An idle connection if there is one, else the least loaded one with room in its pipeline. */
static struct db_conn *pick_conn(struct pool *p)
{
    struct db_conn *best = NULL;
    for (int i = 0; i < p->cfg.size; i++) {
        struct db_conn *c = &p->conns[i];
        if (c->state == CONN_IDLE)
            return c;
        if (c->state == CONN_BUSY && c->ninflight < p->cfg.pipeline_depth &&
            (!best || c->ninflight < best->ninflight))
            best = c;
    }
    return best;
}

static void pool_kick(struct pool *p)
{
    struct db_conn *c;
    bool popped = false;

    while (p->queue.head && (c = pick_conn(p)) != NULL) {
        conn_assign(c, db_queue_pop(&p->queue));
        popped = true;
    }
    if (popped)
        deadline_arm(p);
}

static void pool_query(struct pool *p, struct sql_stmt *stmt, const char *const *values, db_cb cb,
                       void *arg)
{
    struct db_conn *c;
    int64_t deadline = util_now_us() + (int64_t)p->cfg.queue_timeout_ms * 1000;
    struct db_job *job = db_job_new(stmt, values, cb, arg, deadline);

    if (!job) {
        /* Out of memory: there is no job to defer, so answer through a minimal one. */
        static struct sql_stmt none = SQL_STMT("none", "", 0);
        job = db_job_new(&none, NULL, cb, arg, deadline);
        if (!job) {
            log_error("db: out of memory");
            return;
        }
        job_fail_later(job, DB_ERR_BUSY);
        return;
    }
    if (p->stopping || (p->broken && count_up(p) == 0)) {
        p->failed_conn++;
        job_fail_later(job, DB_ERR_CONN);
        return;
    }
    c = p->queue.head ? NULL : pick_conn(p);
    if (c) {
        conn_assign(c, job);
        return;
    }
    if (db_queue_push(&p->queue, job) < 0) {
        p->rejected_busy++;
        job_fail_later(job, DB_ERR_BUSY);
        return;
    }
    if (p->queue.head == job)
        deadline_arm(p);
}

static int pool_init(struct pool *p, const char *name, struct event_base *base,
                     const struct db_config *cfg)
{
    static const struct pgconn_ops ops = {.ready = conn_on_ready, .failed = conn_on_failed};
    const char *keys[] = {"application_name", "options", "client_encoding", "connect_timeout",
                          NULL};
    const char *vals[] = {strcmp(name, "db") ? "carnetd-read" : "carnetd", p->timeout_opt, "UTF8",
                          DB_CONNECT_TIMEOUT_S, NULL};

    memset(p, 0, sizeof(*p));
    p->name = name;
    p->base = base;
    p->cfg = *cfg;
    snprintf(p->timeout_opt, sizeof(p->timeout_opt), "-c statement_timeout=%d",
             cfg->statement_timeout_ms);
    db_queue_init(&p->queue, cfg->queue_max);
    p->conns = calloc((size_t)cfg->size, sizeof(*p->conns));
    p->deadline = evtimer_new(base, deadline_cb, p);
    if (!p->conns || !p->deadline)
        return -1;
    for (int i = 0; i < cfg->size; i++) {
        struct db_conn *c = &p->conns[i];
        c->pool = p;
        c->index = i;
        c->retry = evtimer_new(base, conn_retry_cb, c);
        c->pc = pgconn_new(base, cfg->conninfo, keys, vals, &ops, c);
        if (!c->retry || !c->pc)
            return -1;
        conn_start(c);
    }
    return 0;
}

static void pool_shutdown(struct pool *p)
{
    if (!p->conns)
        return;
    p->stopping = true;
    for (int i = 0; i < p->cfg.size; i++) {
        struct db_conn *c = &p->conns[i];
        struct db_job *job = c->head;
        c->head = c->tail = NULL;
        c->ninflight = 0;
        while (job) {
            struct db_job *next = job->next;
            job_finish(job, DB_ERR_CONN, NULL);
            job = next;
        }
        pgconn_free(c->pc);
        c->pc = NULL;
        c->pg = NULL;
        conn_set_state(c, CONN_DOWN);
        if (c->retry)
            event_free(c->retry);
    }
    {
        struct db_job *job;
        while ((job = db_queue_pop(&p->queue)) != NULL)
            job_finish(job, DB_ERR_CONN, NULL);
    }
    if (p->deadline)
        event_free(p->deadline);
    free(p->conns);
    p->conns = NULL;
}

void db_query(struct sql_stmt *stmt, const char *const *values, db_cb cb, void *arg)
{
    pool_query(&pool, stmt, values, cb, arg);
}

int db_init(struct event_base *base, const struct db_config *cfg)
{
    return pool_init(&pool, "db", base, cfg);
}

/* ---- reads from a standby (--read-database-url) ----
 *
 * How far behind the standby is, polled on a timer: the primary's WAL position is sampled at
 * known times; the standby's replay position says which samples it has reached, so everything
 * the primary had committed at the newest such sample's time is on the standby. The lag is the
 * time since then. Reads go to the standby while it is connected, its last poll succeeded and
 * the lag is within --read-max-lag-ms; otherwise, and when a read sent there fails for want of
 * a connection, to the primary. A server that is not in recovery counts as caught up (a read
 * URL that names the primary itself, or a promoted standby). */

#define READ_SAMPLES 64

static struct sql_stmt q_primary_lsn =
    SQL_STMT("db_primary_lsn", "select pg_current_wal_lsn()::text", 0);
static struct sql_stmt q_replay_lsn =
    SQL_STMT("db_replay_lsn", "select pg_is_in_recovery(), pg_last_wal_replay_lsn()::text", 0);

static struct {
    bool on;
    int max_lag_ms;
    struct event *timer;
    bool primary_pending, replica_pending;
    int64_t primary_sent_us;
    struct {
        int64_t at_us;
        uint64_t lsn;
    } samples[READ_SAMPLES];
    int nsamples, next;
    int64_t fresh_at_us; /* the primary's state at this time is on the standby (0: unknown) */
    bool replica_ok;     /* its last poll succeeded */
    int64_t reset_us;    /* a read connection was (re)made then: older polls say nothing */
    uint64_t routed, fell_back;
} rd;

static bool parse_lsn(const char *s, uint64_t *out)
{
    unsigned int hi, lo;
    if (!s || sscanf(s, "%X/%X", &hi, &lo) != 2)
        return false;
    *out = ((uint64_t)hi << 32) | lo;
    return true;
}

static void on_primary_lsn(const struct db_result *res, void *arg)
{
    uint64_t lsn;
    (void)arg;
    rd.primary_pending = false;
    if (res->status != DB_OK || !parse_lsn(db_value(res, 0, 0), &lsn))
        return;
    rd.samples[rd.next].at_us = rd.primary_sent_us;
    rd.samples[rd.next].lsn = lsn;
    rd.next = (rd.next + 1) % READ_SAMPLES;
    if (rd.nsamples < READ_SAMPLES)
        rd.nsamples++;
}

static void on_replay_lsn(const struct db_result *res, void *arg)
{
    uint64_t replayed;
    int64_t sent_us = *(int64_t *)arg;
    free(arg);
    rd.replica_pending = false;
    if (sent_us < rd.reset_us)
        return;
    rd.replica_ok = res->status == DB_OK && db_rows(res) == 1;
    if (!rd.replica_ok)
        return;
    if (strcmp(db_value(res, 0, 0), "t") != 0) {
        rd.fresh_at_us = sent_us; /* not a standby: what it answers is current */
        return;
    }
    if (!parse_lsn(db_value(res, 0, 1), &replayed))
        return;
    for (int i = 0; i < rd.nsamples; i++)
        if (rd.samples[i].lsn <= replayed && rd.samples[i].at_us > rd.fresh_at_us)
            rd.fresh_at_us = rd.samples[i].at_us;
}

static void read_poll(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!rd.primary_pending) {
        rd.primary_pending = true;
        rd.primary_sent_us = util_now_us();
        pool_query(&pool, &q_primary_lsn, NULL, on_primary_lsn, NULL);
    }
    if (!rd.replica_pending) {
        int64_t *sent = malloc(sizeof *sent);
        if (!sent)
            return;
        *sent = util_now_us();
        rd.replica_pending = true;
        pool_query(&rpool, &q_replay_lsn, NULL, on_replay_lsn, sent);
    }
}

/* A read connection was made, maybe to another standby (the replica port balances, nodes swap
 * roles after a failover): the lag measured on the old one does not hold for it. Reads go to
 * the primary until the next poll measures again. */
static void read_conn_new(void)
{
    rd.fresh_at_us = 0;
    rd.replica_ok = false;
    rd.reset_us = util_now_us();
}

static int64_t read_lag_ms(void)
{
    return rd.fresh_at_us ? (util_now_us() - rd.fresh_at_us) / 1000 : INT64_MAX;
}

static bool read_usable(void)
{
    return rd.on && rd.replica_ok && count_up(&rpool) > 0 && read_lag_ms() <= rd.max_lag_ms;
}

int db_init_read(struct event_base *base, const struct db_config *cfg, int max_lag_ms)
{
    /* Polled often enough that the bound holds within a quarter of it (at most every second). */
    int every_ms = max_lag_ms / 4 < 50 ? 50 : max_lag_ms / 4 > 1000 ? 1000 : max_lag_ms / 4;
    struct timeval tv = {every_ms / 1000, (every_ms % 1000) * 1000};

    memset(&rd, 0, sizeof(rd));
    rd.max_lag_ms = max_lag_ms;
    if (pool_init(&rpool, "db-read", base, cfg) < 0)
        return -1;
    rd.timer = event_new(base, -1, EV_PERSIST, read_poll, NULL);
    if (!rd.timer || event_add(rd.timer, &tv) < 0)
        return -1;
    rd.on = true;
    log_info("db-read: reads may go to the standby while it lags at most %d ms (polled every "
             "%d ms)",
             max_lag_ms, every_ms);
    return 0;
}

/* A read sent to the standby, kept so it can be sent to the primary when the standby fails. */
struct read_job {
    struct sql_stmt *stmt;
    char **values;
    int n;
    db_cb cb;
    void *arg;
};

static void read_job_free(struct read_job *j)
{
    for (int i = 0; i < j->n; i++)
        free(j->values[i]);
    free(j->values);
    free(j);
}

static void on_read_answer(const struct db_result *res, void *arg)
{
    struct read_job *j = arg;
    if (res->status == DB_ERR_CONN || res->status == DB_ERR_BUSY ||
        (res->status == DB_ERR_SQL && res->sqlstate &&
         (!strncmp(res->sqlstate, "57P", 3) || !strcmp(res->sqlstate, "40001")))) {
        /* The standby is gone, full or shutting down, or cancelled the read for a conflict
         * with recovery: the primary answers. A read that ran out of time (statement timeout
         * 57014, or its deadline in the queue) is not sent again: it would cost the deadline
         * twice, and the heaviest reads would land on the primary. */
        rd.fell_back++;
        pool_query(&pool, j->stmt, (const char *const *)j->values, j->cb, j->arg);
    } else {
        j->cb(res, j->arg);
    }
    read_job_free(j);
}

void db_query_read(struct sql_stmt *stmt, const char *const *values, db_cb cb, void *arg)
{
    struct read_job *j;

    if (!read_usable() || !(j = calloc(1, sizeof(*j)))) {
        if (rd.on)
            rd.fell_back++;
        pool_query(&pool, stmt, values, cb, arg);
        return;
    }
    j->stmt = stmt;
    j->cb = cb;
    j->arg = arg;
    j->n = stmt->nparams;
    j->values = calloc((size_t)(j->n ? j->n : 1), sizeof(char *));
    for (int i = 0; j->values && i < j->n; i++) {
        if (values[i] && !(j->values[i] = strdup(values[i]))) {
            read_job_free(j);
            pool_query(&pool, stmt, values, cb, arg);
            return;
        }
    }
    if (!j->values) {
        free(j);
        pool_query(&pool, stmt, values, cb, arg);
        return;
    }
    rd.routed++;
    pool_query(&rpool, stmt, values, on_read_answer, j);
}

void db_read_stats(struct db_read_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->on = rd.on;
    out->usable = read_usable();
    out->lag_ms = rd.on ? read_lag_ms() : 0;
    out->routed = rd.routed;
    out->fell_back = rd.fell_back;
}

void db_shutdown(void)
{
    if (rd.timer) {
        event_free(rd.timer);
        rd.timer = NULL;
    }
    rd.on = false;
    pool_shutdown(&rpool);
    pool_shutdown(&pool);
}

void db_stats(struct db_stats *out)
{
    const struct pool *p = &pool;
    memset(out, 0, sizeof(*out));
    out->size = p->cfg.size;
    for (int i = 0; i < p->cfg.size && p->conns; i++) {
        const struct db_conn *c = &p->conns[i];
        out->connected += conn_is_up(c);
        out->busy += c->state == CONN_BUSY;
        out->inflight += c->ninflight;
    }
    out->waiting = p->queue.len;
    out->reconnects = p->reconnects;
    out->rejected_busy = p->rejected_busy;
    out->rejected_timeout = p->rejected_timeout;
    out->failed_conn = p->failed_conn;
    out->queries = p->queries;
}

bool db_any_connected(void)
{
    const struct pool *p = &pool;
    return p->conns && count_up(p) > 0;
}

int db_retry_after(void)
{
    const struct pool *p = &pool;
    int s = p->cfg.queue_timeout_ms / 1000;
    return s < 1 ? 1 : s;
}

/* ---- reading answers: the only libpq the rest of carnetd sees ---- */

int db_rows(const struct db_result *r)
{
    return r && r->res ? PQntuples(r->res) : 0;
}

int db_cols(const struct db_result *r)
{
    return r && r->res ? PQnfields(r->res) : 0;
}

static bool in_range(const struct db_result *r, int row, int col)
{
    return r && r->res && row >= 0 && col >= 0 && row < PQntuples(r->res) &&
           col < PQnfields(r->res);
}

bool db_isnull(const struct db_result *r, int row, int col)
{
    return !in_range(r, row, col) || PQgetisnull(r->res, row, col);
}

const char *db_value(const struct db_result *r, int row, int col)
{
    return in_range(r, row, col) ? PQgetvalue(r->res, row, col) : "";
}

int db_length(const struct db_result *r, int row, int col)
{
    return in_range(r, row, col) ? PQgetlength(r->res, row, col) : 0;
}

bool db_transient(const struct db_result *r)
{
    return r->status == DB_ERR_BUSY || r->status == DB_ERR_TIMEOUT || r->status == DB_ERR_CONN ||
           (r->status == DB_ERR_SQL && util_sqlstate_transient(r->sqlstate));
}

const char *db_error_field(const struct db_result *r, enum db_error_field f)
{
    static const int codes[] = {
        [DB_ERROR_PRIMARY] = PG_DIAG_MESSAGE_PRIMARY,
        [DB_ERROR_DETAIL] = PG_DIAG_MESSAGE_DETAIL,
        [DB_ERROR_HINT] = PG_DIAG_MESSAGE_HINT,
        [DB_ERROR_CONSTRAINT] = PG_DIAG_CONSTRAINT_NAME,
    };
    if (!r || !r->res)
        return NULL;
    return PQresultErrorField(r->res, codes[f]);
}
