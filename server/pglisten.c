/*
 * pglisten: see pglisten.h. The connect dance is pgconn's; this file adds the subscription, the
 * reading of notifications, and the back-off between attempts. One listener per process: every
 * topic's hub shares it, so thousands of live streams cost one database connection.
 */
#include "pglisten.h"

#include <assert.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "pgconn.h"
#include "util.h"

#define PGLISTEN_BACKOFF_MIN_MS 100
#define PGLISTEN_BACKOFF_MAX_MS 5000
#define PGLISTEN_CONNECT_TIMEOUT_S "5" /* a libpq setting: text */
#define PGLISTEN_CHANNEL_MAX 63        /* PostgreSQL's identifier length */

enum listen_state { LISTEN_DOWN, LISTEN_CONNECTING, LISTEN_SUBSCRIBING, LISTEN_READY };

static struct {
    enum listen_state state;
    bool stopping;
    struct pgconn *pc;
    PGconn *pg; /* pgconn's libpq connection once connected, else NULL */
    struct event *retry;
    int backoff_ms;
    char listen_sql[PGLISTEN_MAX_CHANNELS * (PGLISTEN_CHANNEL_MAX + 9) + 1];
    int nchan;
    struct {
        char name[PGLISTEN_CHANNEL_MAX + 1];
        const struct pglisten_ops *ops;
        void *arg;
    } chan[PGLISTEN_MAX_CHANNELS];
} L;

static const char *state_name(enum listen_state s)
{
    switch (s) {
    case LISTEN_DOWN:
        return "down";
    case LISTEN_CONNECTING:
        return "connecting";
    case LISTEN_SUBSCRIBING:
        return "subscribing";
    case LISTEN_READY:
        return "ready";
    }
    return "?";
}

/* The one place the listener's state moves. */
static void set_state(enum listen_state to)
{
    bool legal = to == LISTEN_DOWN || (L.state == LISTEN_DOWN && to == LISTEN_CONNECTING) ||
                 (L.state == LISTEN_CONNECTING && to == LISTEN_SUBSCRIBING) ||
                 (L.state == LISTEN_SUBSCRIBING && to == LISTEN_READY);
    assert(legal);
    (void)legal;
    log_debug("pglisten: %s -> %s", state_name(L.state), state_name(to));
    L.state = to;
}

static void on_event(struct pgconn *pc, short what, void *arg);

static int watch(short what)
{
    return pgconn_watch(L.pc, what, on_event);
}

static void close_conn(void)
{
    if (L.pc)
        pgconn_reset(L.pc);
    L.pg = NULL;
    set_state(LISTEN_DOWN);
}

static void fail(const char *why)
{
    struct timeval tv;
    log_warning("pglisten: connection %s: %s", L.state == LISTEN_READY ? "lost" : "failed",
                why ? why : (L.pg ? PQerrorMessage(L.pg) : "out of memory"));
    close_conn();
    if (L.stopping)
        return;
    tv = util_backoff(&L.backoff_ms, PGLISTEN_BACKOFF_MIN_MS, PGLISTEN_BACKOFF_MAX_MS);
    evtimer_add(L.retry, &tv);
}

/* The state is set first: pgconn may report a failure before pgconn_start returns. */
static void start(void)
{
    set_state(LISTEN_CONNECTING);
    pgconn_start(L.pc);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (!L.stopping)
        start();
}

static void on_read(void)
{
    PGresult *res;
    PGnotify *n;

    if (!PQconsumeInput(L.pg)) {
        fail(NULL);
        return;
    }
    if (L.state == LISTEN_SUBSCRIBING) {
        bool ok = true;
        while (!PQisBusy(L.pg) && (res = PQgetResult(L.pg)) != NULL) {
            if (PQresultStatus(res) != PGRES_COMMAND_OK)
                ok = false;
            PQclear(res);
        }
        if (PQisBusy(L.pg))
            return;
        if (!ok) {
            fail(NULL);
            return;
        }
        set_state(LISTEN_READY);
        L.backoff_ms = 0;
        for (int i = 0; i < L.nchan; i++)
            log_info("pglisten: listening on %s", L.chan[i].name);
        for (int i = 0; i < L.nchan; i++)
            if (L.chan[i].ops->subscribed)
                L.chan[i].ops->subscribed(L.chan[i].arg);
    }
    while (L.pg && (n = PQnotifies(L.pg)) != NULL) {
        for (int i = 0; i < L.nchan; i++)
            if (strcmp(L.chan[i].name, n->relname) == 0 && L.chan[i].ops->notified)
                L.chan[i].ops->notified(n->extra, L.chan[i].arg);
        PQfreemem(n);
    }
    if (L.pg && PQstatus(L.pg) == CONNECTION_BAD)
        fail(NULL);
}

/* Connected (pgconn): subscribe. */
static void on_ready(struct pgconn *pc, void *arg)
{
    int r;
    (void)arg;
    L.pg = pgconn_pq(pc);
    if (!PQsendQuery(L.pg, L.listen_sql)) {
        fail(NULL);
        return;
    }
    set_state(LISTEN_SUBSCRIBING);
    r = PQflush(L.pg);
    if (r < 0 || watch(r == 1 ? EV_READ | EV_WRITE : EV_READ) < 0)
        fail(NULL);
}

static void on_failed(struct pgconn *pc, const char *why, void *arg)
{
    (void)pc;
    (void)arg;
    fail(why);
}

static void on_event(struct pgconn *pc, short what, void *arg)
{
    (void)pc;
    (void)arg;
    switch (L.state) {
    case LISTEN_SUBSCRIBING:
    case LISTEN_READY:
        if (what & EV_WRITE) {
            int r = PQflush(L.pg);
            if (r < 0 || (r == 0 && watch(EV_READ) < 0)) {
                fail(NULL);
                break;
            }
        }
        if (what & EV_READ)
            on_read();
        break;
    case LISTEN_DOWN:
    case LISTEN_CONNECTING:
        break;
    }
}

int pglisten_add(const char *channel, const struct pglisten_ops *ops, void *arg)
{
    size_t n = strlen(channel);

    /* The channel is our own constant, never input: still, only a plain identifier is sent. */
    if (n == 0 || n > PGLISTEN_CHANNEL_MAX ||
        strspn(channel, "abcdefghijklmnopqrstuvwxyz_0123456789") != n ||
        L.nchan == PGLISTEN_MAX_CHANNELS)
        return -1;
    memcpy(L.chan[L.nchan].name, channel, n + 1);
    L.chan[L.nchan].ops = ops;
    L.chan[L.nchan].arg = arg;
    L.nchan++;
    return 0;
}

bool pglisten_ready(void)
{
    return L.state == LISTEN_READY;
}

void pglisten_drain(void)
{
    if (L.state == LISTEN_READY)
        on_read();
}

int pglisten_start(struct event_base *base, const char *conninfo)
{
    static const struct pgconn_ops conn_ops = {.ready = on_ready, .failed = on_failed};
    static const char *const keys[] = {"application_name", "client_encoding", "connect_timeout",
                                       NULL};
    static const char *const vals[] = {"carnetd-listen", "UTF8", PGLISTEN_CONNECT_TIMEOUT_S, NULL};
    size_t len = 0;

    if (L.nchan == 0)
        return -1;
    for (int i = 0; i < L.nchan; i++)
        len += (size_t)snprintf(L.listen_sql + len, sizeof(L.listen_sql) - len, "LISTEN %s;",
                                L.chan[i].name);
    L.state = LISTEN_DOWN;
    L.retry = evtimer_new(base, on_retry, NULL);
    L.pc = pgconn_new(base, conninfo, keys, vals, &conn_ops, NULL);
    if (!L.retry || !L.pc)
        return -1;
    start();
    return 0;
}

void pglisten_stop(void)
{
    L.stopping = true;
    if (L.retry)
        evtimer_del(L.retry);
    if (L.state != LISTEN_DOWN)
        close_conn();
}

void pglisten_free(void)
{
    pglisten_stop();
    if (L.retry)
        event_free(L.retry);
    L.retry = NULL;
    pgconn_free(L.pc);
    L.pc = NULL;
}
