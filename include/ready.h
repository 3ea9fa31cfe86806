/*
 * ready: liveness and readiness, apart. /livez says the process and its loop run, and touches
 * nothing else. /readyz says this node can take traffic now: not draining, and its database
 * answers and is not a standby. The database is asked over one connection reserved for the
 * probe, never the pool's, so a node whose pool is saturated by slow user requests is busy but
 * ready, and a balancer does not pull it (/healthz, through the pool, would time out there).
 *
 * The connection's life (one set-state function, ready.c):
 *
 *   DOWN --timer--> CONNECTING --> IDLE <--> PROBING
 *     ^                 |            |          |
 *     +----- lost, failed or timed out ---------+        any --ready_drain()--> DRAINING (final)
 *
 * A probe's answer is kept for READY_CACHE_MS, so a flood of probes costs a few queries; the
 * probes that arrive while one is in flight wait for its answer.
 */
#ifndef CARNET_READY_H
#define CARNET_READY_H

struct event_base;
struct req;

#define READY_CACHE_MS 250          /* how long one database answer serves further probes */
#define READY_PROBE_TIMEOUT_MS 1000 /* a probe not answered by then is 503 and reconnects */
#define READY_BACKOFF_MIN_MS 100
#define READY_BACKOFF_MAX_MS 2000

/* Starts connecting to `conninfo` on `base`. -1 on a start-up failure. */
int ready_init(struct event_base *base, const char *conninfo);
/* The drain begins: /readyz answers 503 from now on, and the reserved connection closes. */
void ready_drain(void);
void ready_free(void);

void ready_livez(struct req *r);
void ready_readyz(struct req *r);

#endif
