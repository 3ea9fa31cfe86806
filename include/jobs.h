/*
 * jobs: periodic background work (no-shows, expired standby offers, due reminders, retention;
 * outbox delivery has its own worker). Each job is one SQL function call that is safe to run
 * from several carnetd at once (it locks what it works on with SKIP LOCKED or an advisory
 * lock), so no job depends on a timer that dies with one process.
 */
#ifndef CARNET_JOBS_H
#define CARNET_JOBS_H

struct event_base;

int jobs_init(struct event_base *base);
void jobs_stop(void);

#endif
