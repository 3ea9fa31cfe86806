/*
 * sender: what carnetd's two senders of outgoing traffic share, below both: outbox.c (customer
 * messages) and webhook.c (webhook events). Each claims a batch of due rows under a lease, sends
 * each row on its own worker pool through libcurl and records each outcome through the pool.
 * This module owns that round's states, libcurl's start and end, and the bounds and the
 * cancellation of a transfer; what is claimed, how it is sent and how it is recorded stay with
 * each sender, through its `struct sender_ops`.
 *
 * The round, one at a time per sender and process:
 *
 *   IDLE -> CLAIMING (the sender's claim in flight) -> SENDING (n items on worker threads, each
 *   then recorded by the sender) -> IDLE
 *
 * A claim that filled the batch starts the next round at once rather than on the next tick.
 */
#ifndef CARNET_SENDER_H
#define CARNET_SENDER_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worker.h"

struct event;
struct event_base;
struct evbuffer;
struct db_result;
struct sql_stmt;

/* Seconds a send may take to connect, whatever its whole bound. */
#define SENDER_CONNECT_TIMEOUT_S 10

struct sender_ops {
    const char *name;        /* the log lines' prefix and the metric's: "outbox", "webhook" */
    const char *done_status; /* the mark's answer for an item sent: "sent", "delivered" */
    const char *metric_help; /* the HELP line of carnet_<name>_deliveries_total */
    /* The claim: select x_claim(batch, lease seconds[, claim_arg]), read at each claim. A
     * claim that returns a full batch starts the next round at once. */
    struct sql_stmt *claim;
    const int *batch, *lease;
    char *const *claim_arg; /* NULL: the claim takes two parameters */
    /* The claimed items (a JSON array) in the claim's decoded answer, borrowed from it. */
    json_t *(*items)(json_t *answer);
    /* One item from its JSON, or NULL (its lease runs out and a later round takes it). */
    void *(*item_new)(json_t *o);
    void (*item_free)(void *item);
    /* send(item) runs on a thread of `pool`; sent(item) then on the loop, records the outcome
     * and, once that is done, frees the item and calls sender_item_done. Senders never share a
     * pool: one whose receivers hang must not hold the other's threads. */
    enum worker_kind pool;
    worker_fn send, sent;
};

enum sender_state { SENDER_IDLE, SENDER_CLAIMING, SENDER_SENDING };

/* What recording a send came to. */
enum sender_outcome {
    SENDER_DONE,       /* sent: the row is final */
    SENDER_RETRY,      /* failed, to be tried again after its back-off */
    SENDER_FAILED,     /* failed for good */
    SENDER_UNRECORDED, /* the mark did not take (pool failure, lease lost): the lease decides */
    SENDER_OUTCOMES
};

/* One sender: a static object of its module, {.ops = &its_ops} and the rest zero. */
struct sender {
    const struct sender_ops *ops;
    struct event *timer;
    enum sender_state state;
    int inflight; /* items handed out and not yet recorded (+1 while they are handed out) */
    bool full_batch;
    bool stopping;
    bool curl_ready;
    atomic_bool cancelled; /* set by sender_stop on the loop, read by the sending threads */
    uint64_t outcomes[SENDER_OUTCOMES];
};

/* Starts libcurl (reference-counted: each sender holds one) and the round's timer. Call after
 * db_init and worker_init. */
int sender_start(struct sender *s, struct event_base *base, int interval_ms);
/* Stops claiming and cancels the sends: one not yet started is not started, one under way is
 * aborted within about a second. Items already handed out are still recorded. */
void sender_stop(struct sender *s);
/* Releases what sender_start set up; call after worker_shutdown. */
void sender_free(struct sender *s);

/* The claim's db callback (arg: the sender). */
void sender_claimed(const struct db_result *res, void *arg);
/* The outcome of the mark's answer `res` (the row's status as text, or NULL when the claim no
 * longer held), counted for sender_metrics_render. */
enum sender_outcome sender_marked(struct sender *s, const struct db_result *res);
/* An item's outcome is recorded and the item freed: the round ends with its last item. */
void sender_item_done(struct sender *s);
/* The outcomes of this process's sends, carnet_<name>_deliveries_total, in Prometheus text. */
void sender_metrics_render(struct sender *s, struct evbuffer *out);

/* True once the sender is stopping; any thread. */
bool sender_cancelled(struct sender *s);
/* The bounds every libcurl send gets: the connect timeout, `timeout_s` for the whole transfer,
 * the sender's cancellation (the transfer then ends with CURLE_ABORTED_BY_CALLBACK), and
 * `errbuf` (CURL_ERROR_SIZE bytes) for libcurl's message. */
void sender_bounds(CURL *c, struct sender *s, long timeout_s, char *errbuf);
/* A libcurl write callback that drops the answer's body. */
size_t sender_discard(char *buf, size_t size, size_t nmemb, void *arg);
/* A malloc'ed copy of the text member `key` of a claimed item ("" when absent), or NULL. */
char *sender_dup_field(json_t *o, const char *key);

#endif
