/*
 * linkstock: see linkstock.h. A batch is up to LINKSTOCK_BATCH fresh tokens: their hashes and
 * sealed markers go to link_stock_add as two text arrays; the tokens themselves are wiped at
 * once (only the sealed form is ever delivered). A tick sends only what the last answer said
 * was missing, so a full stock costs one empty call a period.
 */
#include "linkstock.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "link.h"
#include "log.h"
#include "pgconn.h"
#include "seal.h"

#define LINKSTOCK_BATCH 64

static struct sql_stmt q_add =
    SQL_STMT("link_stock_add", "select link_stock_add($1::text[], $2::text[], $3::int, $4)", 4);
#define ADD_SQL "select link_stock_add($1::text[], $2::text[], $3::int, $4)"

static struct {
    struct event *timer;
    struct timeval every;
    int need; /* what the stock lacked at the last answer: a full stock costs an empty batch */
    bool busy, stopping;
} S;

/* Two array literals ({"..","..",...}) of `n` new hashes and sealed tokens; 0, or -1 when out of
 * memory. Neither form holds a quote or a backslash, so no element needs escaping. */
static int batch(int n, char **hashes, char **sealed)
{
    size_t hcap = (size_t)n * (LINK_HASH_LEN + 3) + 3, scap = 3, hl = 0, sl = 0;
    if (n == 0) {
        *hashes = strdup("{}");
        *sealed = strdup("{}");
        if (*hashes && *sealed)
            return 0;
        free(*hashes);
        free(*sealed);
        return -1;
    }
    char *h = malloc(hcap), *s = NULL, *m[LINKSTOCK_BATCH];
    struct link l;
    int i, rc = -1;

    memset(m, 0, sizeof(m));
    if (!h)
        return -1;
    for (i = 0; i < n; i++) {
        link_mint(&l);
        m[i] = seal_marker(l.token);
        hl += (size_t)snprintf(h + hl, hcap - hl, "%s\"%s\"", i ? "," : "{", l.hash);
        link_wipe(&l);
        if (!m[i])
            goto out;
        scap += strlen(m[i]) + 3;
    }
    hl += (size_t)snprintf(h + hl, hcap - hl, "}");
    if (!(s = malloc(scap)))
        goto out;
    for (i = 0; i < n; i++)
        sl += (size_t)snprintf(s + sl, scap - sl, "%s\"%s\"", i ? "," : "{", m[i]);
    snprintf(s + sl, scap - sl, "}");
    *hashes = h;
    *sealed = s;
    h = s = NULL;
    rc = 0;
out:
    for (i = 0; i < n; i++)
        free(m[i]);
    free(h);
    free(s);
    return rc;
}

int linkstock_fill_blocking(const char *conninfo, char *err, size_t errlen)
{
    char target[16], *first = NULL;
    struct pg_conn *c = pgconn_connect_blocking(conninfo, err, errlen);
    int rc = -1;

    if (!c)
        return -1;
    snprintf(target, sizeof(target), "%d", LINKSTOCK_TARGET);
    for (int round = 0; round < LINKSTOCK_TARGET / LINKSTOCK_BATCH + 1; round++) {
        char *h, *s;
        if (batch(LINKSTOCK_BATCH, &h, &s) < 0) {
            snprintf(err, errlen, "link stock: out of memory");
            goto out;
        }
        const char *params[4] = {h, s, target, seal_key_id()};
        free(first);
        first = NULL;
        int r = pgconn_exec_blocking(c, ADD_SQL, 4, params, &first, err, errlen);
        free(h);
        free(s);
        if (r < 0)
            goto out;
        if (first && atoi(first) == 0)
            break;
    }
    rc = 0;
out:
    free(first);
    pgconn_close_blocking(c);
    return rc;
}

static void arm(bool now)
{
    struct timeval zero = {0, 0};
    if (!S.stopping)
        evtimer_add(S.timer, now ? &zero : &S.every);
}

static void on_added(const struct db_result *res, void *arg)
{
    (void)arg;
    S.busy = false;
    if (res->status != DB_OK || db_rows(res) < 1) {
        if (res->status == DB_ERR_SQL)
            log_warning("link stock: top-up failed: %s", db_error_field(res, DB_ERROR_PRIMARY)
                                                             ? db_error_field(res, DB_ERROR_PRIMARY)
                                                             : "?");
        arm(false);
        return;
    }
    /* Still short after this batch (a burst took many): go again at once. */
    S.need = atoi(db_value(res, 0, 0));
    arm(S.need > 0);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    static char target[16];
    char *h, *s;

    (void)fd;
    (void)what;
    (void)arg;
    if (S.busy || S.stopping)
        return;
    if (!db_any_connected() ||
        batch(S.need < LINKSTOCK_BATCH ? S.need : LINKSTOCK_BATCH, &h, &s) < 0) {
        arm(false);
        return;
    }
    snprintf(target, sizeof(target), "%d", LINKSTOCK_TARGET);
    const char *params[4] = {h, s, target, seal_key_id()};
    S.busy = true;
    db_query(&q_add, params, on_added, NULL);
    free(h);
    free(s);
}

int linkstock_init(struct event_base *base, int interval_ms)
{
    S.every.tv_sec = interval_ms / 1000;
    S.every.tv_usec = (interval_ms % 1000) * 1000;
    S.need = 0; /* filled at start-up; the first tick asks what is missing */
    S.timer = evtimer_new(base, on_tick, NULL);
    if (!S.timer)
        return -1;
    arm(false);
    return 0;
}

void linkstock_stop(void)
{
    S.stopping = true;
    if (S.timer) {
        event_free(S.timer);
        S.timer = NULL;
    }
}
