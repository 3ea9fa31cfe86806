/*
 * jobs: one timer; on each tick the jobs run one after another through the pool (never more
 * than one query of ours at a time, so background work cannot crowd out requests).
 *
 * A job with a rest (`every_s`, retention) runs on a tick only when its rest is over; while it
 * finds work (returns more than 0) it runs again on the next tick, so a backlog drains at the
 * pace of the ticks, and once a run finds nothing it rests again.
 */
#include "jobs.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "util.h"

#define JOB_MAX_PARAMS 5

struct job {
    struct sql_stmt stmt;
    /* Settings passed as $1.., read at each run. */
    const int *params[JOB_MAX_PARAMS];
    /* Seconds to rest after a run that found nothing; NULL: every tick. */
    const int *every_s;
    int64_t due_us; /* a resting job's next run */
};

/* Each function returns how much it did; see schema/ for what they do and how they lock. */
/* The rota's window moves a day a day: an hour's rest is plenty (schema/api/rota.sql). */
static const int rota_every_s = 3600;
/* The slip job predicts every open promised repair: it rests this many ticks after a run that
 * moved no promise (a minute at the default tick), set from the tick at start (jobs_init). */
#define PROMISE_REST_TICKS 12
static int promise_every_s = 60;

static struct job table[] = {
    /* booking */
    {.stmt = SQL_STMT("job_booking_idempotency", "select job_booking_idempotency()", 0)},
    {.stmt = SQL_STMT("job_rota_extend", "select job_rota_extend()", 0), .every_s = &rota_every_s},
    /* floor */
    {.stmt = SQL_STMT("job_prune_events", "select job_prune_events()", 0)},
    {.stmt = SQL_STMT("job_mark_no_shows", "select job_mark_no_shows()", 0)},
    {.stmt = SQL_STMT("job_expire_standby_offers", "select job_expire_standby_offers($1::int)", 1),
     .params = {&config.standby_hold_s}},

    /* messages: a repair promise the bench's prediction has passed is moved and told
     * (schema/api/promise.sql); the early warnings leave repair promises still ahead to it */
    {.stmt = SQL_STMT("job_promise_slips", "select job_promise_slips()", 0),
     .every_s = &promise_every_s},
    {.stmt = SQL_STMT("job_early_warnings", "select job_early_warnings()", 0)},

    /* retention: sessions and login attempts, message texts, visit and standby contacts */
    {.stmt = SQL_STMT("job_retention",
                      "select job_retention($1::int, $2::int, $3::int, $4::int, $5::int)", 5),
     .params = {&config.retain_login_attempts_days, &config.retain_sessions_days,
                &config.session_idle_s, &config.retain_messages_days, &config.retain_visits_days},
     .every_s = &config.retention_interval_s},
};
#define NJOBS ((int)(sizeof(table) / sizeof(table[0])))

static struct event *timer;
static int current = -1; /* index of the job in flight, -1 when idle */
static bool stopping;

static void run_next(void);

/* The next job from `from` on that is due this round, or NJOBS. */
static int next_due(int from)
{
    int64_t now = util_now_us();
    while (from < NJOBS && table[from].every_s && table[from].due_us > now)
        from++;
    return from;
}

static void on_done(const struct db_result *res, void *arg)
{
    struct job *j = arg;
    if (res->status == DB_ERR_SQL)
        log_warning("jobs: %s failed: %s", j->stmt.name,
                    db_error_field(res, DB_ERROR_PRIMARY) ? db_error_field(res, DB_ERROR_PRIMARY)
                                                          : "?");
    if (j->every_s) {
        bool found = res->status == DB_OK && db_rows(res) == 1 && atoi(db_value(res, 0, 0)) > 0;
        j->due_us = found ? 0 : util_now_us() + (int64_t)*j->every_s * 1000000;
    }
    current = next_due(current + 1);
    if (current >= NJOBS || stopping) {
        current = -1;
        return;
    }
    run_next();
}

static void run_next(void)
{
    char v[JOB_MAX_PARAMS][16];
    const char *params[JOB_MAX_PARAMS];
    struct job *j = &table[current];

    for (int i = 0; i < j->stmt.nparams && i < JOB_MAX_PARAMS; i++) {
        snprintf(v[i], sizeof(v[i]), "%d", *j->params[i]);
        params[i] = v[i];
    }
    db_query(&j->stmt, j->stmt.nparams ? params : NULL, on_done, j);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (current >= 0 || stopping || !db_any_connected())
        return; /* the previous round is still running, or there is no database to ask */
    current = next_due(0);
    if (current >= NJOBS) {
        current = -1;
        return;
    }
    run_next();
}

int jobs_init(struct event_base *base)
{
    struct timeval tv = {config.job_interval_ms / 1000, (config.job_interval_ms % 1000) * 1000};
    promise_every_s = PROMISE_REST_TICKS * config.job_interval_ms / 1000;
    if (promise_every_s < 1)
        promise_every_s = 1;
    timer = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    if (!timer || event_add(timer, &tv) < 0)
        return -1;
    return 0;
}

void jobs_stop(void)
{
    stopping = true;
    if (timer) {
        event_free(timer);
        timer = NULL;
    }
}
