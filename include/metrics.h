/*
 * metrics: request counts by route and status, a latency histogram, and the pool's gauges, in
 * Prometheus text format. Counters live in this process only: Prometheus sums across processes.
 */
#ifndef CARNET_METRICS_H
#define CARNET_METRICS_H

#include <stdint.h>

struct evbuffer;
struct event_base;

int metrics_init(int nroutes);
/* `route` is an index in the route table, or -1 for static files and unmatched paths. */
void metrics_observe(int route, int status, int64_t duration_us);
void metrics_render(struct evbuffer *out);
void metrics_free(void);

/*
 * Serves GET /metrics on host:port with a listener of its own on `base` (--metrics-listen);
 * `render` writes the text, the same as the public route's. -1 (logged) when it cannot listen.
 * metrics_listen_port is the bound port (-1 when not listening); metrics_listen_free closes it.
 */
int metrics_listen(struct event_base *base, const char *host, int port,
                   void (*render)(struct evbuffer *out));
int metrics_listen_port(void);
void metrics_listen_free(void);

#endif
