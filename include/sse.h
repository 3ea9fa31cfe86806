/*
 * sse: live streams (Server-Sent Events) of the store floor and of repairs, fed by PostgreSQL
 * LISTEN/NOTIFY.
 *
 * Changes write rows into the `events` table and NOTIFY carnet_events (schema/004_floor.sql).
 * Each carnetd keeps ONE extra libpq connection that LISTENs, driven by the event loop, and one
 * hub per topic that has clients: a notification makes the hub read the topic's new rows through
 * the pool and fan them out to its clients. A client that reconnects with Last-Event-ID first
 * replays what it missed from the table, then joins the live feed; ids dedupe the seam.
 */
#ifndef CARNET_SSE_H
#define CARNET_SSE_H

#include <stdbool.h>

struct db_result;
struct event_base;
struct evbuffer;
struct req;

/* Starts the LISTEN connection and the heartbeat timer. */
int sse_init(struct event_base *base);
/* Ends every stream (they must not hold up a graceful shutdown) and stops listening. */
void sse_shutdown(void);
/* Frees what is left; call after db_shutdown (pending callbacks have run by then). */
void sse_free(void);

/* GET /api/stores/{store}/events: the staff board of a store. */
void sse_store_stream(struct req *r);
/* GET /api/stores/{store}/board/events: the public wall board (tickets and initials). */
void sse_board_stream(struct req *r);
/* GET /api/line/{token}/events: one customer's place in line. */
void sse_line_stream(struct req *r);
/* GET /api/repairs/{id}/events: a repair ticket, for its store's staff. */
void sse_repair_stream(struct req *r);
/* GET /api/repair-status/{token}/events: the customer's repair status page. */
void sse_repair_status_stream(struct req *r);

/* For a stream route's open refused before its handler ran (the session check): when `res` is
 * what would answer 503 (the pool refused, the connection broke, a timeout), answers as a
 * refused open does (200, a jittered retry delay, no stream) and returns true; else false. */
bool sse_shed_refused(struct req *r, const struct db_result *res);

/* Open streams and hubs, for tests and metrics. */
int sse_clients(void);
/* /metrics lines: open streams per kind, refused opens, reads by hubs and by access checks. */
void sse_metrics_render(struct evbuffer *out);

#endif
