/*
 * outbox: delivery of customer messages written to the outbox table (schema/006_messages.sql).
 *
 * On a timer, one round claims a small batch of due messages (outbox_claim: FOR UPDATE SKIP
 * LOCKED, under a lease), sends each on a worker thread (SMTP or SMS webhook through libcurl,
 * or the file sink when neither is configured), and records each outcome through the pool
 * (outbox_mark). The event loop never waits on the network or the disk.
 */
#ifndef CARNET_OUTBOX_H
#define CARNET_OUTBOX_H

#include <stdbool.h>

struct event_base;
struct evbuffer;

/* Starts the delivery timer; call after db_init and worker_init. */
int outbox_init(struct event_base *base);
/* Stops claiming; messages already being sent still get their outcome recorded. */
void outbox_stop(void);
/* Releases what outbox_init set up (libcurl); call after worker_shutdown. */
void outbox_free(void);

/* Delivery counters of this process, in Prometheus text format. */
void outbox_metrics_render(struct evbuffer *out);

/* An RFC 5322 email (headers and base64 body, CRLF lines) in a malloc'ed string, or NULL.
 * Exposed for unit tests. */
char *outbox_format_email(const char *from, const char *to, const char *subject, const char *body,
                          const char *message_id, long long when);

#endif
