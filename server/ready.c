/*
 * ready: see ready.h. The connect dance is pgconn's, as for pglisten; this file adds the one
 * probe query, the requests waiting for its answer, the short cache, and the back-off between
 * attempts. Nothing here goes through the pool: that is the point of the module.
 */
#include "ready.h"

#include <assert.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "pgconn.h"
#include "util.h"

#define READY_CONNECT_TIMEOUT_S "2" /* a libpq setting: text */

enum ready_state { RS_DOWN, RS_CONNECTING, RS_IDLE, RS_PROBING, RS_DRAINING };

static struct {
    enum ready_state state;
    struct event_base *base;
    struct pgconn *pc;
    PGconn *pg; /* pgconn's libpq connection while IDLE or PROBING, else NULL */
    struct event *retry, *timeout;
    int backoff_ms;
    /* The last answer the database gave, and when (monotonic). */
    bool have_answer, answer_ok;
    const char *answer_why;
    int64_t answer_us;
    PGresult *res; /* the probe's answer, kept until the end of its query arrives */
    /* Probes waiting for the query in flight; each holds its request. */
    struct req **waiting;
    size_t nwaiting, capwaiting;
} R;

static const char *state_name(enum ready_state s)
{
    switch (s) {
    case RS_DOWN:
        return "down";
    case RS_CONNECTING:
        return "connecting";
    case RS_IDLE:
        return "idle";
    case RS_PROBING:
        return "probing";
    case RS_DRAINING:
        return "draining";
    }
    return "?";
}

/* The one place the reserved connection's state moves. */
static void set_state(enum ready_state to)
{
    enum ready_state from = R.state;
    bool legal = (from != RS_DRAINING && to == RS_DRAINING) ||
                 (from == RS_DOWN && to == RS_CONNECTING) ||
                 (from == RS_CONNECTING && (to == RS_IDLE || to == RS_DOWN)) ||
                 (from == RS_IDLE && (to == RS_PROBING || to == RS_DOWN)) ||
                 (from == RS_PROBING && (to == RS_IDLE || to == RS_DOWN));
    assert(legal);
    (void)legal;
    log_debug("ready: %s -> %s", state_name(from), state_name(to));
    R.state = to;
}

static void reply(struct req *r, bool ok, const char *why)
{
    if (ok)
        http_reply_jansson(r, 200, json_pack("{ss}", "status", "ready"));
    else
        http_reply_retry(r, 1, "not_ready", why);
}

/* Answers every waiting probe, and lets each request go. */
static void answer_waiting(bool ok, const char *why)
{
    for (size_t i = 0; i < R.nwaiting; i++) {
        reply(R.waiting[i], ok, why);
        http_req_release(R.waiting[i]);
    }
    R.nwaiting = 0;
}

static void on_event(struct pgconn *pc, short what, void *arg);

/* The connection is lost, failed, or did not answer in time: waiting probes hear why, and the
 * next attempt comes after the back-off. */
static void lost(const char *why)
{
    struct timeval tv;

    if (R.state == RS_DOWN || R.state == RS_DRAINING)
        return;
    log_warning("ready: database connection %s: %s", R.state == RS_CONNECTING ? "failed" : "lost",
                why);
    evtimer_del(R.timeout);
    PQclear(R.res);
    R.res = NULL;
    pgconn_reset(R.pc);
    R.pg = NULL;
    R.have_answer = false;
    set_state(RS_DOWN);
    answer_waiting(false, "the database is unreachable");
    tv = util_backoff(&R.backoff_ms, READY_BACKOFF_MIN_MS, READY_BACKOFF_MAX_MS);
    evtimer_add(R.retry, &tv);
}

static void lost_pq(void)
{
    const char *m = R.pg ? PQerrorMessage(R.pg) : "";
    lost(*m ? m : "connection closed");
}

/* The state is set first: pgconn may report a failure before pgconn_start returns. */
static void start(void)
{
    set_state(RS_CONNECTING);
    pgconn_start(R.pc);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (R.state == RS_DOWN)
        start();
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (R.state == RS_PROBING)
        lost("the probe was not answered in time");
}

static void on_ready(struct pgconn *pc, void *arg)
{
    (void)arg;
    R.pg = pgconn_pq(pc);
    set_state(RS_IDLE);
    R.backoff_ms = 0;
    /* Watched while idle too, so a connection the server closes is noticed before a probe. */
    if (pgconn_watch(R.pc, EV_READ, on_event) < 0)
        lost("cannot watch the socket");
}

static void on_failed(struct pgconn *pc, const char *why, void *arg)
{
    (void)pc;
    (void)arg;
    lost(why);
}

/* A standby cannot take writes: a node whose database is one is not ready. */
static void probe_done(PGresult *res)
{
    bool ok = false;
    const char *why = "the database did not answer the probe";

    if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        ok = strcmp(PQgetvalue(res, 0, 0), "f") == 0;
        if (!ok)
            why = "the database is a standby (read-only)";
    }
    R.have_answer = true;
    R.answer_ok = ok;
    R.answer_why = why;
    R.answer_us = util_now_us();
    evtimer_del(R.timeout);
    set_state(RS_IDLE);
    answer_waiting(ok, why);
}

static void on_read(void)
{
    PGresult *res;

    if (!PQconsumeInput(R.pg)) {
        lost_pq();
        return;
    }
    if (R.state == RS_PROBING) {
        while (!PQisBusy(R.pg) && (res = PQgetResult(R.pg)) != NULL) {
            if (!R.res)
                R.res = res;
            else
                PQclear(res);
        }
        if (PQisBusy(R.pg)) {
            /* The rest is on its way: the answer so far waits in R.res. */
            if (PQstatus(R.pg) == CONNECTION_BAD)
                lost_pq();
            return;
        }
        res = R.res;
        R.res = NULL;
        probe_done(res);
        PQclear(res);
    }
    if (R.pg && PQstatus(R.pg) == CONNECTION_BAD)
        lost_pq();
}

static void on_event(struct pgconn *pc, short what, void *arg)
{
    (void)pc;
    (void)arg;
    if (R.state != RS_IDLE && R.state != RS_PROBING)
        return;
    if (what & EV_WRITE) {
        int r = PQflush(R.pg);
        if (r < 0 || (r == 0 && pgconn_watch(R.pc, EV_READ, on_event) < 0)) {
            lost_pq();
            return;
        }
    }
    if (what & EV_READ)
        on_read();
}

static void probe(void)
{
    struct timeval tv = {READY_PROBE_TIMEOUT_MS / 1000, (READY_PROBE_TIMEOUT_MS % 1000) * 1000};
    int r;

    if (!PQsendQuery(R.pg, "select pg_is_in_recovery()")) {
        lost_pq();
        return;
    }
    set_state(RS_PROBING);
    evtimer_add(R.timeout, &tv);
    r = PQflush(R.pg);
    if (r < 0 || pgconn_watch(R.pc, r == 1 ? EV_READ | EV_WRITE : EV_READ, on_event) < 0)
        lost_pq();
}

void ready_livez(struct req *r)
{
    http_reply_jansson(r, 200, json_pack("{ss}", "status", "live"));
}

void ready_readyz(struct req *r)
{
    switch (R.state) {
    case RS_DRAINING:
        reply(r, false, "the server is draining");
        return;
    case RS_DOWN:
    case RS_CONNECTING:
        reply(r, false, "the database is unreachable");
        return;
    case RS_IDLE:
        if (R.have_answer && util_now_us() - R.answer_us < (int64_t)READY_CACHE_MS * 1000) {
            reply(r, R.answer_ok, R.answer_why);
            return;
        }
        break;
    case RS_PROBING:
        break;
    }
    if (R.nwaiting == R.capwaiting) {
        size_t cap = R.capwaiting ? R.capwaiting * 2 : 16;
        struct req **w = realloc(R.waiting, cap * sizeof(*w));
        if (!w) {
            http_reply_oom(r);
            return;
        }
        R.waiting = w;
        R.capwaiting = cap;
    }
    http_req_hold(r);
    R.waiting[R.nwaiting++] = r;
    if (R.state == RS_IDLE)
        probe();
}

int ready_init(struct event_base *base, const char *conninfo)
{
    static const struct pgconn_ops conn_ops = {.ready = on_ready, .failed = on_failed};
    static const char *const keys[] = {"application_name", "client_encoding", "connect_timeout",
                                       NULL};
    static const char *const vals[] = {"carnetd-ready", "UTF8", READY_CONNECT_TIMEOUT_S, NULL};

    R.base = base;
    R.state = RS_DOWN;
    R.retry = evtimer_new(base, on_retry, NULL);
    R.timeout = evtimer_new(base, on_timeout, NULL);
    R.pc = pgconn_new(base, conninfo, keys, vals, &conn_ops, NULL);
    if (!R.retry || !R.timeout || !R.pc)
        return -1;
    start();
    return 0;
}

void ready_drain(void)
{
    if (R.state == RS_DRAINING || !R.pc)
        return;
    if (R.retry)
        evtimer_del(R.retry);
    if (R.timeout)
        evtimer_del(R.timeout);
    PQclear(R.res);
    R.res = NULL;
    pgconn_reset(R.pc);
    R.pg = NULL;
    set_state(RS_DRAINING);
    answer_waiting(false, "the server is draining");
}

void ready_free(void)
{
    ready_drain();
    if (R.retry)
        event_free(R.retry);
    if (R.timeout)
        event_free(R.timeout);
    pgconn_free(R.pc);
    free(R.waiting);
    memset(&R, 0, sizeof(R));
}
