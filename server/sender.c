/*
 * sender: the delivery round and the libcurl plumbing that outbox.c and webhook.c share (see
 * sender.h). One copy, so that a fix to the round's states or to a send's bounds reaches both.
 *
 * Cancellation crosses threads through one atomic flag per sender: sender_stop sets it on the
 * loop; a send reads it before it starts, and libcurl's progress callback reads it about once a
 * second while a transfer runs, even while the server says nothing.
 */
#include "sender.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

/* libcurl's progress callback: non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK). */
static int progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                    curl_off_t ulnow)
{
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return sender_cancelled(arg) ? 1 : 0;
}

bool sender_cancelled(struct sender *s)
{
    return atomic_load(&s->cancelled);
}

void sender_bounds(CURL *c, struct sender *s, long timeout_s, char *errbuf)
{
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)SENDER_CONNECT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
}

size_t sender_discard(char *buf, size_t size, size_t nmemb, void *arg)
{
    (void)buf;
    (void)arg;
    return size * nmemb;
}

char *sender_dup_field(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return strdup(v ? v : "");
}

/* ---- the round (loop thread) ---- */

enum sender_outcome sender_marked(struct sender *s, const struct db_result *res)
{
    const char *status = res->status == DB_OK && !db_isnull(res, 0, 0) ? db_value(res, 0, 0) : NULL;
    enum sender_outcome o = !status                                    ? SENDER_UNRECORDED
                            : strcmp(status, s->ops->done_status) == 0 ? SENDER_DONE
                            : strcmp(status, "failed") == 0            ? SENDER_FAILED
                                                                       : SENDER_RETRY;
    s->outcomes[o]++;
    return o;
}

void sender_metrics_render(struct sender *s, struct evbuffer *out)
{
    const char *name = s->ops->name;
    const char *label[SENDER_OUTCOMES] = {s->ops->done_status, "retry", "failed", "unrecorded"};

    evbuffer_add_printf(out, "# HELP carnet_%s_deliveries_total %s\n", name, s->ops->metric_help);
    evbuffer_add_printf(out, "# TYPE carnet_%s_deliveries_total counter\n", name);
    for (int o = 0; o < SENDER_OUTCOMES; o++)
        evbuffer_add_printf(out, "carnet_%s_deliveries_total{outcome=\"%s\"} %" PRIu64 "\n", name,
                            label[o], s->outcomes[o]);
}

void sender_item_done(struct sender *s)
{
    if (--s->inflight > 0)
        return;
    s->state = SENDER_IDLE;
    if (s->full_batch && !s->stopping && s->timer)
        event_active(s->timer, EV_TIMEOUT, 0); /* more may be due: do not wait a tick */
}

void sender_claimed(const struct db_result *res, void *arg)
{
    struct sender *s = arg;
    const struct sender_ops *ops = s->ops;
    json_t *answer = NULL, *list, *o;
    size_t i;

    s->state = SENDER_IDLE;
    if (res->status != DB_OK) {
        const char *why = res->status == DB_ERR_SQL ? db_error_field(res, DB_ERROR_PRIMARY) : NULL;
        log_warning("%s: claim failed: %s", ops->name, why ? why : "no answer from the pool");
        return;
    }
    answer = json_loads(db_value(res, 0, 0), 0, NULL);
    list = answer ? ops->items(answer) : NULL;
    if (!json_is_array(list) || json_array_size(list) == 0)
        goto out;
    s->full_batch = (int)json_array_size(list) >= *ops->batch;
    s->state = SENDER_SENDING;
    s->inflight = 1; /* held until every item is handed out, so none can end the round */
    json_array_foreach(list, i, o)
    {
        void *item = ops->item_new(o);
        if (!item)
            continue; /* its lease will run out and another round will take it */
        s->inflight++;
        if (worker_submit(ops->pool, ops->send, ops->sent, item) < 0) {
            s->inflight--;
            ops->item_free(item);
        }
    }
    sender_item_done(s);
out:
    if (answer)
        json_decref(answer);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct sender *s = arg;
    const struct sender_ops *ops = s->ops;
    char batch[16], lease[16];
    const char *params[3];
    (void)fd;
    (void)what;

    if (s->state != SENDER_IDLE || s->stopping || !db_any_connected())
        return;
    snprintf(batch, sizeof(batch), "%d", *ops->batch);
    snprintf(lease, sizeof(lease), "%d", *ops->lease);
    params[0] = batch;
    params[1] = lease;
    params[2] = ops->claim_arg ? *ops->claim_arg : NULL;
    s->state = SENDER_CLAIMING;
    s->full_batch = false;
    db_query(ops->claim, params, sender_claimed, s);
}

int sender_start(struct sender *s, struct event_base *base, int interval_ms)
{
    struct timeval tv = {interval_ms / 1000, (interval_ms % 1000) * 1000};

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("%s: libcurl cannot start", s->ops->name);
        return -1;
    }
    s->curl_ready = true;
    s->timer = event_new(base, -1, EV_PERSIST, on_tick, s);
    if (!s->timer || event_add(s->timer, &tv) < 0)
        return -1;
    return 0;
}

void sender_stop(struct sender *s)
{
    s->stopping = true;
    atomic_store(&s->cancelled, true);
    if (s->timer) {
        event_free(s->timer);
        s->timer = NULL;
    }
}

void sender_free(struct sender *s)
{
    sender_stop(s);
    if (s->curl_ready)
        curl_global_cleanup();
    s->curl_ready = false;
}
