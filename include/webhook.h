/*
 * webhook: a store's HTTPS endpoints for its events (issue #14), and their delivery.
 *
 * The handlers check what carnetd owns of an endpoint: its URL (https, a host that does not
 * resolve to a loopback, private or link-local address, resolved on the I/O pool) and its
 * signing secret ("whsec_" and 32 random bytes, sealed before SQL sees it, shown in clear once
 * in the reply that made it). The rest (events, store, the log) is schema/api/webhooks.sql.
 *
 * Events are written by triggers where their facts happen; on a timer, one round claims a batch
 * of due deliveries (webhook_claim: FOR UPDATE SKIP LOCKED under a lease), POSTs each signed on
 * the WORKER_IO pool through libcurl, and records each try (webhook_mark), which schedules the
 * retries. The address is checked again as the connection is opened, since DNS may have changed.
 */
#ifndef CARNET_WEBHOOK_H
#define CARNET_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>

struct req;
struct event_base;
struct evbuffer;
struct sockaddr;

void webhook_create(struct req *r);
void webhook_list(struct req *r);
void webhook_update(struct req *r);
void webhook_delete(struct req *r);
void webhook_rotate_secret(struct req *r);
void webhook_deliveries(struct req *r);

/* Starts the delivery timer; call after db_init, worker_init and seal_init. */
int webhook_init(struct event_base *base);
/* Stops claiming and cancels sends under way (each then records a transient failure). */
void webhook_stop(void);
/* Releases what webhook_init set up; call after worker_shutdown. */
void webhook_free(void);
/* Delivery counters of this process and the backlog last seen, in Prometheus text format. */
void webhook_metrics_render(struct evbuffer *out);

/* The signature header's value for `secret` (its bytes are the HMAC key), `timestamp` (Unix
 * seconds) and `body`: "v1=" and the hex HMAC-SHA256 of timestamp "." body. */
#define WEBHOOK_SIGNATURE_MAX (3 + 64 + 1)
void webhook_sign(const char *secret, long long timestamp, const char *body, size_t body_len,
                  char out[WEBHOOK_SIGNATURE_MAX]);
/* True for an address a webhook may not reach: unspecified, loopback, private (RFC 1918, IPv6
 * unique local), link-local, carrier-grade NAT, multicast, broadcast, or IPv4 mapped into IPv6
 * as one of those. */
bool webhook_address_refused(const struct sockaddr *sa);

#endif
