/*
 * metrics: request counts by route and status, a latency histogram, and the pool's gauges, in
 * Prometheus text format. Counters live in this process only: Prometheus sums across processes.
 */
#ifndef CARNET_METRICS_H
#define CARNET_METRICS_H

#include <stdint.h>

struct evbuffer;

int metrics_init(int nroutes);
/* `route` is an index in the route table, or -1 for static files and unmatched paths. */
void metrics_observe(int route, int status, int64_t duration_us);
void metrics_render(struct evbuffer *out);
void metrics_free(void);

#endif
