/*
 * jobs: one timer; on each tick the jobs run one after another through the pool (never more
 * than one query of ours at a time, so background work cannot crowd out requests).
 */
#include "jobs.h"

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"

struct job {
    struct sql_stmt stmt;
};

/* Jobs that take a setting as $1, read at each run (by statement name, so the table below keeps
 * one plain row per job). */
static const struct {
    const char *name;
    const int *value;
} params_table[] = {
    {"job_expire_standby_offers", &config.standby_hold_s},
};

/* Each function returns how much it did; see schema/ for what they do and how they lock. */
static struct job table[] = {
    {SQL_STMT("job_expire_sessions", "select job_expire_sessions()", 0)},
    /* booking */
    {SQL_STMT("job_booking_idempotency", "select job_booking_idempotency()", 0)},
    /* floor */
    {SQL_STMT("job_prune_events", "select job_prune_events()", 0)},
    {SQL_STMT("job_mark_no_shows", "select job_mark_no_shows()", 0)},
    {SQL_STMT("job_expire_standby_offers", "select job_expire_standby_offers($1::int)", 1)},

    /* messages */
    {SQL_STMT("job_early_warnings", "select job_early_warnings()", 0)},

};
#define NJOBS ((int)(sizeof(table) / sizeof(table[0])))

static struct event *timer;
static int current = -1; /* index of the job in flight, -1 when idle */
static bool stopping;

static void run_next(void);

static void on_done(const struct db_result *res, void *arg)
{
    struct job *j = arg;
    if (res->status == DB_ERR_SQL)
        log_warning("jobs: %s failed: %s", j->stmt.name,
                    db_error_field(res, DB_ERROR_PRIMARY) ? db_error_field(res, DB_ERROR_PRIMARY) : "?");
    current++;
    if (current >= NJOBS || stopping) {
        current = -1;
        return;
    }
    run_next();
}

static void run_next(void)
{
    char v[16];
    const char *params[1] = {v};
    struct job *j = &table[current];
    const int *value = NULL;

    for (size_t i = 0; i < sizeof(params_table) / sizeof(params_table[0]); i++)
        if (strcmp(params_table[i].name, j->stmt.name) == 0)
            value = params_table[i].value;
    if (value)
        snprintf(v, sizeof(v), "%d", *value);
    db_query(&j->stmt, value ? params : NULL, on_done, j);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    if (current >= 0 || stopping || !db_any_connected())
        return; /* the previous round is still running, or there is no database to ask */
    current = 0;
    run_next();
}

int jobs_init(struct event_base *base)
{
    struct timeval tv = {config.job_interval_ms / 1000, (config.job_interval_ms % 1000) * 1000};
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
