/*
 * pglisten: one connection per process that LISTENs on the channels its modules register,
 * driven by the loop. It connects through pgconn, subscribes to them all, hands each
 * notification's payload to the channel's owner, and reconnects with back-off when the
 * connection is lost. Every time it is subscribed (again) it tells every owner, so each can read
 * whatever was committed while nobody listened, or drop what it cached: a notification is a hint
 * to look, never the data itself. A cache may trust its entries only while pglisten_ready().
 *
 *   DOWN --timer--> CONNECTING --> SUBSCRIBING (LISTEN sent) --> READY --fail--> DOWN
 */
#ifndef CARNET_PGLISTEN_H
#define CARNET_PGLISTEN_H
#include <stdbool.h>

struct event_base;

struct pglisten_ops {
    void (*subscribed)(void *arg);                    /* READY, after every (re)subscribe */
    void (*notified)(const char *payload, void *arg); /* one notification */
};

#define PGLISTEN_MAX_CHANNELS 8

/* Registers `channel` (a plain identifier) with its owner; before pglisten_start. -1 when the
 * name is not a plain identifier or there are too many channels. */
int pglisten_add(const char *channel, const struct pglisten_ops *ops, void *arg);
/* Starts listening on every registered channel. -1 on a start-up failure. */
int pglisten_start(struct event_base *base, const char *conninfo);
/* True while subscribed: a notification sent now will be delivered. */
bool pglisten_ready(void);
/* Hands out at once whatever notifications have already reached the connection (one
 * non-blocking read), instead of when the loop gets to them: a cache calls it before trusting an
 * entry, so a change announced before a request arrived is never answered from memory. */
void pglisten_drain(void);
/* Stops listening and reconnecting (the connection is closed). */
void pglisten_stop(void);
void pglisten_free(void);

#endif
