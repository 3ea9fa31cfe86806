/*
 * pglisten: one connection that LISTENs on a channel, driven by the loop. It connects through
 * pgconn, subscribes, hands each notification's payload to its owner, and reconnects with
 * back-off when the connection is lost. Every time it is subscribed (again) it says so, so the
 * owner can read whatever was committed while nobody listened: a notification is a hint to
 * look, never the data itself.
 *
 *   DOWN --timer--> CONNECTING --> SUBSCRIBING (LISTEN sent) --> READY --fail--> DOWN
 */
#ifndef CARNET_PGLISTEN_H
#define CARNET_PGLISTEN_H

struct event_base;

struct pglisten_ops {
    void (*subscribed)(void *arg);                    /* READY, after every (re)subscribe */
    void (*notified)(const char *payload, void *arg); /* one notification */
};

/* Starts listening on `channel` (a plain identifier). -1 on a start-up failure. */
int pglisten_start(struct event_base *base, const char *conninfo, const char *channel,
                   const struct pglisten_ops *ops, void *arg);
/* Stops listening and reconnecting (the connection is closed). */
void pglisten_stop(void);
void pglisten_free(void);

#endif
