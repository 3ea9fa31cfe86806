/*
 * sse: Server-Sent Events fan-out (see sse.h for the contract).
 *
 * Three kinds of objects, each a small state machine:
 *
 *   listener  pglisten's connection; each notification names a topic whose hub should look
 *   hub       one per topic with clients; `last` is the newest event id it has read (-1 until
 *             its first read tells it where the topic stands). Every read of the topic's events
 *             is the hub's, one at a time (`dirty` asks for another when more is wanted
 *             meanwhile), from the oldest position among its clients: a client that resumes
 *             behind the hub, and every client that opens while a read is in flight, is served
 *             by the hub's next (or current) read, so a storm of opens on one topic costs one or
 *             two reads, not one per client.
 *   client    OPENING (its access check, or the hub's first read, is in flight; no 200 yet)
 *             --> STREAMING (in hub->clients; given every batch the hub reads). Events at or
 *             below a client's last id are never sent to it, so a client that is up to date
 *             (Last-Event-ID at the hub's last) costs no read at all.
 *
 * What an open costs: the public board and the staff floor (whose session the dispatcher has
 * checked) need no query of their own once the store's hub has read the topic; a line link and
 * a repair (its store and the staff member's role, or its status link) are checked per client.
 * An open the pool refuses, or one during shutdown, gets 200 with a `retry:` delay and no
 * events, never a 503: a browser's EventSource gives up on a non-200 but comes back after this.
 *
 * Clients cost one struct and their evhttp connection; all reads go through the shared pool, so
 * thousands of quiet streams need no database connection of their own. A client the network
 * does not drain (SSE_MAX_PENDING bytes queued) is dropped: the browser reconnects with
 * Last-Event-ID and replays what it missed from the table.
 */
#include "sse.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "api.h"
#include "http.h"
#include "link.h"
#include "log.h"
#include "pglisten.h"
#include "seal.h"
#include "util.h"

#define SSE_CHANNEL "carnet_events"
#define SSE_HEARTBEAT_S 15
/* What browsers wait before reconnecting: a base plus a random spread, so the clients of a
 * restarted carnetd (or of a refused open) do not all come back in the same millisecond. */
#define SSE_RETRY_MS 1000
#define SSE_RETRY_SPREAD_MS 2000
#define SSE_SHED_RETRY_MS 1000
#define SSE_SHED_SPREAD_MS 4000
#define SSE_BATCH 500     /* events read per query */
#define SSE_REREAD_MS 250 /* a hub read the pool refused is made again after this */
#define SSE_MAX_PENDING (256 * 1024)

static struct sql_stmt q_open = SQL_STMT("sse_open", "select floor_stream_open($1, $2)", 2);
static struct sql_stmt q_repair_open =
    SQL_STMT("sse_repair_open", "select repair_stream_open($1, $2)", 2);
static struct sql_stmt q_repair_status_open =
    SQL_STMT("sse_repair_status_open", "select repair_status_stream_open($1)", 1);
static struct sql_stmt q_events =
    SQL_STMT("sse_events", "select sse_events($1, $2::bigint, $3::int)", 3);

enum sse_mode { SSE_STAFF, SSE_BOARD, SSE_LINE };
/* The kinds of stream, as /metrics names them. */
enum sse_kind { KIND_STAFF, KIND_BOARD, KIND_LINE, KIND_REPAIR, KIND_REPAIR_STATUS, KIND_N };
static const char *const kind_names[KIND_N] = {"staff", "board", "line", "repair", "repair_status"};
enum client_state { CLIENT_OPENING, CLIENT_STREAMING };

struct hub;

struct client {
    struct client *prev, *next; /* in hub->clients, or (OPENING) in hub->waiting */
    struct hub *hub;
    struct req *r; /* NULL once the stream has ended */
    enum sse_mode mode;
    enum sse_kind kind;
    enum client_state state;
    int64_t visit_id;  /* SSE_LINE: the visit whose place is followed */
    int64_t last;      /* newest event id this client has been given (or skipped), -1 unknown */
    uint64_t join_seq; /* the hub's read_seq when it joined: later reads saw it */
};

struct hub {
    struct hub *next;
    char *topic;
    int64_t store; /* a store's topic: its first read checks that the store exists */
    int64_t last;
    int64_t reading_after; /* the position the read in flight started from, -1 from none */
    uint64_t read_seq;     /* reads started */
    int pins;              /* callbacks running over the hub: it must not be freed under them */
    bool fetching, dirty;
    bool reread;  /* its last read failed: made again by the reread timer */
    bool failing; /* reads fail since the last that worked (logged once) */
    struct client *clients;
    struct client *waiting; /* opens waiting for the hub's first read (no 200 sent yet) */
    int nclients, nwaiting;
};

static struct {
    struct event_base *base;
    struct hub *hubs;
    int nclients;
    int nkind[KIND_N];
    uint64_t refused;     /* opens answered with retry: and no stream */
    uint64_t hub_reads;   /* queries made by hubs (first reads and event reads) */
    uint64_t open_checks; /* queries made for one client's access check */
    bool stopping;
    struct event *heartbeat;
    struct event *reread;
} S;

static void hub_fetch(struct hub *h);

int sse_clients(void)
{
    return S.nclients;
}

void sse_metrics_render(struct evbuffer *out)
{
    int waiting = 0;
    for (struct hub *h = S.hubs; h; h = h->next)
        waiting += h->nwaiting;
    evbuffer_add_printf(out, "# HELP carnet_sse_clients Open SSE streams by kind.\n"
                             "# TYPE carnet_sse_clients gauge\n");
    for (int k = 0; k < KIND_N; k++)
        evbuffer_add_printf(out, "carnet_sse_clients{kind=\"%s\"} %d\n", kind_names[k], S.nkind[k]);
    evbuffer_add_printf(out,
                        "# HELP carnet_sse_refused_opens_total SSE opens answered with a retry "
                        "delay and no stream (pool busy, shutting down).\n"
                        "# TYPE carnet_sse_refused_opens_total counter\n"
                        "carnet_sse_refused_opens_total %llu\n"
                        "# HELP carnet_sse_hub_reads_total Queries made by SSE hubs (one per "
                        "topic, shared by its clients).\n"
                        "# TYPE carnet_sse_hub_reads_total counter\n"
                        "carnet_sse_hub_reads_total %llu\n"
                        "# HELP carnet_sse_open_checks_total Queries made to check one SSE "
                        "client's link or repair.\n"
                        "# TYPE carnet_sse_open_checks_total counter\n"
                        "carnet_sse_open_checks_total %llu\n"
                        "# HELP carnet_sse_waiting_opens SSE opens waiting for their hub's first "
                        "read.\n"
                        "# TYPE carnet_sse_waiting_opens gauge\n"
                        "carnet_sse_waiting_opens %d\n",
                        (unsigned long long)S.refused, (unsigned long long)S.hub_reads,
                        (unsigned long long)S.open_checks, waiting);
}

static unsigned retry_ms(unsigned base, unsigned spread)
{
    return base + randombytes_uniform(spread);
}

/* An open that gets no stream now: 200 with a retry delay and nothing else, so EventSource
 * comes back (on a 503 it would give up for good). */
static void shed(struct req *r)
{
    struct evbuffer *buf = evbuffer_new();
    S.refused++;
    if (!buf) {
        http_reply_oom(r);
        return;
    }
    evbuffer_add_printf(buf, "retry: %u\n\n", retry_ms(SSE_SHED_RETRY_MS, SSE_SHED_SPREAD_MS));
    http_reply_buffer(r, 200, "text/event-stream; charset=utf-8", buf);
    evbuffer_free(buf);
}

bool sse_shed_refused(struct req *r, const struct db_result *res)
{
    if (!db_transient(res))
        return false;
    shed(r);
    return true;
}

/* ---- hubs and clients ---- */

static struct hub *hub_find(const char *topic)
{
    for (struct hub *h = S.hubs; h; h = h->next)
        if (strcmp(h->topic, topic) == 0)
            return h;
    return NULL;
}

static void hub_unlink(struct hub *h)
{
    for (struct hub **p = &S.hubs; *p; p = &(*p)->next) {
        if (*p == h) {
            *p = h->next;
            break;
        }
    }
}

static void hub_free(struct hub *h)
{
    free(h->topic);
    free(h);
}

/* Drops a hub nobody follows, unless a read of it is in flight (its callback frees it then). */
static void hub_maybe_free(struct hub *h)
{
    if (h->nclients > 0 || h->nwaiting > 0 || h->fetching || h->pins > 0)
        return;
    hub_unlink(h);
    hub_free(h);
}

static struct hub *hub_get(const char *topic)
{
    struct hub *h = hub_find(topic);
    if (h)
        return h;
    h = calloc(1, sizeof(*h));
    if (!h || !(h->topic = strdup(topic))) {
        free(h);
        return NULL;
    }
    /* A store's id as its path gave it (0 included: the first read answers 404 for it), -1 for
     * a topic that is not a store's. */
    h->store = strncmp(topic, "store:", 6) == 0 ? strtoll(topic + 6, NULL, 10) : -1;
    h->last = -1;
    h->reading_after = -1;
    h->next = S.hubs;
    S.hubs = h;
    return h;
}

static void list_add(struct client **head, struct client *c)
{
    c->prev = NULL;
    c->next = *head;
    if (*head)
        (*head)->prev = c;
    *head = c;
}

static void list_remove(struct client **head, struct client *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        *head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
}

static void hub_remove(struct client *c)
{
    struct hub *h = c->hub;
    if (!h)
        return;
    list_remove(&h->clients, c);
    c->hub = NULL;
    h->nclients--;
    hub_maybe_free(h);
}

/* Ends a client's stream and forgets it. */
static void client_end(struct client *c)
{
    struct req *r = c->r;
    hub_remove(c);
    if (r) {
        c->r = NULL;
        S.nclients--;
        S.nkind[c->kind]--;
        http_stream_end(r);
    }
    free(c);
}

static void client_on_close(struct req *r, void *arg)
{
    struct client *c = arg;
    (void)r;
    client_end(c);
}

static int client_write(struct client *c, struct evbuffer *buf)
{
    if (!c->r || http_stream_write(c->r, buf) < 0)
        return -1;
    if (http_stream_pending(c->r) > SSE_MAX_PENDING) {
        log_info("sse: dropping a client that does not keep up");
        return -1;
    }
    return 0;
}
/* ---- formatting ---- */

/* One event of a batch, rendered lazily for each kind of reader. */
struct rendered {
    int64_t id;
    const char *type;
    json_t *payload;
    char *staff;
    char *board;
};

static char *render_board(json_t *payload)
{
    json_t *copy = json_copy(payload);
    char *s;
    if (!copy)
        return NULL;
    /* Names and staff details stay off the public board. */
    json_object_del(copy, "staff");
    s = json_dumps(copy, JSON_COMPACT);
    json_decref(copy);
    return s;
}

/* The customer's view of an event: their status, place and wait, or NULL when the event does
 * not concern them. */
static char *render_line(json_t *payload, int64_t visit_id)
{
    json_t *visit = json_object_get(payload, "visit");
    json_t *line = json_object_get(payload, "line");
    json_t *mine = NULL, *e, *out;
    bool subject = json_integer_value(json_object_get(visit, "id")) == visit_id;
    size_t i;
    char *s;

    json_array_foreach(line, i, e)
    {
        if (json_integer_value(json_object_get(e, "visit_id")) == visit_id) {
            mine = e;
            break;
        }
    }
    if (!mine && !subject)
        return NULL;
    if (mine)
        out =
            json_pack("{sIsssOsOsO}", "visit_id", (json_int_t)visit_id, "status", "waiting",
                      "ticket", json_object_get(mine, "ticket"), "position",
                      json_object_get(mine, "position"), "wait_s", json_object_get(mine, "wait_s"));
    else
        out = json_pack("{sIsOsOsnsn}", "visit_id", (json_int_t)visit_id, "status",
                        json_object_get(visit, "status"), "ticket",
                        json_object_get(visit, "ticket"), "position", "wait_s");
    if (!out)
        return NULL;
    s = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    return s;
}

/* Sends the events of `ev` newer than the client's last id. -1 when the client must go. */
static int client_send(struct client *c, struct rendered *ev, size_t n)
{
    struct evbuffer *buf = evbuffer_new();
    int rc = 0;

    if (!buf)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *data = NULL;
        char *own = NULL;
        if (ev[i].id <= c->last)
            continue;
        switch (c->mode) {
        case SSE_STAFF:
            if (!ev[i].staff)
                ev[i].staff = json_dumps(ev[i].payload, JSON_COMPACT);
            data = ev[i].staff;
            break;
        case SSE_BOARD:
            if (!ev[i].board)
                ev[i].board = render_board(ev[i].payload);
            data = ev[i].board;
            break;
        case SSE_LINE:
            data = own = render_line(ev[i].payload, c->visit_id);
            break;
        }
        c->last = ev[i].id;
        if (data)
            evbuffer_add_printf(buf, "id: %lld\nevent: %s\ndata: %s\n\n", (long long)ev[i].id,
                                c->mode == SSE_LINE ? "place" : ev[i].type, data);
        free(own);
    }
    if (evbuffer_get_length(buf) > 0)
        rc = client_write(c, buf);
    evbuffer_free(buf);
    return rc;
}

/* Parses the answer of sse_events(): {"max": id, "events": [{id, type, payload}]}. */
static json_t *events_parse(const struct db_result *res, int64_t *max, struct rendered **out,
                            size_t *n)
{
    json_t *j, *events, *e;
    size_t i;

    *out = NULL;
    *n = 0;
    if (res->status != DB_OK || db_rows(res) < 1)
        return NULL;
    /* A staff stream may carry a name: personal data is opened here, once per batch, for
     * every client it fans out to (the board's events hold initials only). */
    {
        size_t len;
        char *open = seal_open_json(db_value(res, 0, 0), (size_t)db_length(res, 0, 0), &len, NULL);
        j = open ? json_loadb(open, len, 0, NULL) : NULL;
        free(open);
    }
    if (!j)
        return NULL;
    *max = (int64_t)json_integer_value(json_object_get(j, "max"));
    events = json_object_get(j, "events");
    if (json_array_size(events) > 0) {
        *out = calloc(json_array_size(events), sizeof(**out));
        if (!*out) {
            json_decref(j);
            return NULL;
        }
    }
    json_array_foreach(events, i, e)
    {
        (*out)[i].id = (int64_t)json_integer_value(json_object_get(e, "id"));
        (*out)[i].type = json_string_value(json_object_get(e, "type"));
        (*out)[i].payload = json_object_get(e, "payload");
        if (!(*out)[i].type)
            (*out)[i].type = "message";
    }
    *n = json_array_size(events);
    return j;
}

static void rendered_free(struct rendered *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(ev[i].staff);
        free(ev[i].board);
    }
    free(ev);
}

/* ---- reading events: every read is a hub's ---- */

static void events_query(const char *topic, int64_t after, db_cb cb, void *arg)
{
    char a[24], lim[16];
    const char *params[3] = {topic, NULL, lim};
    if (after >= 0) {
        snprintf(a, sizeof(a), "%lld", (long long)after);
        params[1] = a;
    }
    snprintf(lim, sizeof(lim), "%d", SSE_BATCH);
    db_query(&q_events, params, cb, arg);
}

/* Starts the stream of an open whose access is settled, at the hub `h` (whose `last` is known
 * when the client has no position of its own). The client hangs on r->state until here; from
 * http_stream_start on it outlives the request's handler and client_end frees it. */
static void client_start(struct client *c, struct hub *h)
{
    struct req *r = c->r;
    struct evbuffer *buf;

    if (c->last < 0) /* no Last-Event-ID: from where the topic stood before our 200 */
        c->last = h->last;
    if (http_stream_start(r, "text/event-stream; charset=utf-8", client_on_close, c) < 0) {
        http_reply_error(r, 500, "internal", NULL, "cannot start the stream");
        return;
    }
    r->state = NULL;
    r->state_free = NULL;
    c->state = CLIENT_STREAMING;
    c->hub = h;
    c->join_seq = h->read_seq;
    list_add(&h->clients, c);
    h->nclients++;
    S.nclients++;
    S.nkind[c->kind]++;
    buf = evbuffer_new();
    if (buf) {
        evbuffer_add_printf(buf, "retry: %u\n\n", retry_ms(SSE_RETRY_MS, SSE_RETRY_SPREAD_MS));
        if (client_write(c, buf) < 0) {
            evbuffer_free(buf);
            client_end(c);
            return;
        }
        evbuffer_free(buf);
    }
    /* Up to date: the hub's next batches are all it needs. */
    if (h->last >= 0 && c->last == h->last)
        return;
    /* Behind the hub but not behind the read in flight: that read serves it too. (A position
     * past the hub's last waits for a read that starts after it came, which tells whether it is
     * ahead of a hub that has not heard yet or foreign to the topic.) */
    if (h->fetching && h->reading_after >= 0 && c->last >= h->reading_after && c->last < h->last)
        return;
    hub_fetch(h); /* one more read from the oldest position, after the one in flight if any */
}

/* Answers the opens waiting for the hub's first read: their stream, or `res`'s error (a store
 * that does not exist), or a retry delay when the read did not happen. */
static void hub_answer_waiting(struct hub *h, const struct db_result *res)
{
    struct client *c;
    bool fetching = h->fetching;
    /* Those behind ask for one read together, made once they are all in (hub_read_done). */
    h->fetching = true;
    h->reading_after = -1;
    while ((c = h->waiting) != NULL) {
        struct req *r = c->r;
        list_remove(&h->waiting, c);
        h->nwaiting--;
        c->hub = NULL;
        if (S.stopping || (res && db_transient(res)) || (!res && h->last < 0))
            shed(r); /* (or the read's answer made no sense: try again) */
        else if (res)
            api_reply_db_error(r, res);
        else
            client_start(c, h);
        http_req_release(r); /* frees c with the request unless its stream started */
    }
    h->fetching = fetching;
}

/* After a read: another if one was asked for meanwhile and someone still follows. */
static void hub_read_done(struct hub *h)
{
    h->pins--;
    if (h->dirty && !S.stopping && (h->nclients > 0 || h->nwaiting > 0))
        hub_fetch(h);
    else
        h->dirty = false;
    hub_maybe_free(h);
}

/* A store's first read (floor_stream_open): does the store exist, and where does it stand. */
static void on_hub_open(const struct db_result *res, void *arg)
{
    struct hub *h = arg;
    json_t *j;

    h->fetching = false;
    h->pins++;
    if (res->status != DB_OK) {
        if (!db_transient(res) && res->status != DB_ERR_SQL)
            log_warning("sse: cannot open %s", h->topic);
        hub_answer_waiting(h, res);
        hub_read_done(h);
        return;
    }
    j = json_loads(db_value(res, 0, 0), 0, NULL);
    if (!j || !json_is_integer(json_object_get(j, "max"))) {
        log_warning("sse: unexpected answer opening %s", h->topic);
        if (j)
            json_decref(j);
        while (h->waiting) {
            struct client *c = h->waiting;
            struct req *r = c->r;
            list_remove(&h->waiting, c);
            h->nwaiting--;
            c->hub = NULL;
            http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
            http_req_release(r);
        }
        hub_read_done(h);
        return;
    }
    if (h->last < 0)
        h->last = (int64_t)json_integer_value(json_object_get(j, "max"));
    json_decref(j);
    hub_answer_waiting(h, NULL);
    hub_read_done(h);
}

static void on_hub_read(const struct db_result *res, void *arg)
{
    struct hub *h = arg;
    struct rendered *ev;
    size_t n;
    int64_t max = 0, from = h->reading_after;
    bool full;
    json_t *j;
    struct client *c, *next;

    h->fetching = false;
    if (S.stopping || (h->nclients == 0 && h->nwaiting == 0)) {
        h->dirty = false;
        hub_maybe_free(h);
        return;
    }
    h->pins++;
    j = events_parse(res, &max, &ev, &n);
    if (!j) {
        /* Nothing is lost: read again in a moment (a busy pool is no reason to keep clients
         * waiting for the heartbeat). */
        if (!h->failing)
            log_warning("sse: cannot read events of %s (read again every %d ms)", h->topic,
                        SSE_REREAD_MS);
        h->failing = true;
        hub_answer_waiting(h, res->status == DB_OK ? NULL : res);
        h->dirty = false;
        if (!h->reread && h->nclients > 0 && S.reread) {
            struct timeval tv = {0, SSE_REREAD_MS * 1000};
            h->reread = true;
            if (!evtimer_pending(S.reread, NULL))
                evtimer_add(S.reread, &tv);
        }
        h->pins--;
        hub_maybe_free(h);
        return;
    }
    if (h->failing)
        log_info("sse: reading events of %s again", h->topic);
    h->failing = false;
    full = n == SSE_BATCH;
    if (!full) /* the whole rest of the topic: where it stands now */
        h->last = max;
    else if (ev[n - 1].id > h->last)
        h->last = ev[n - 1].id;
    for (c = h->clients; c; c = next) {
        next = c->next;
        /* Came while this read was in flight, from further back: the next read is for it. */
        if (c->last < from)
            continue;
        /* Past the topic's end in a read that started after it came (an id from another
         * database, say): from now. */
        if (!full && c->last > max && c->join_seq < h->read_seq)
            c->last = max;
        if (client_send(c, ev, n) < 0)
            client_end(c);
    }
    rendered_free(ev, n);
    json_decref(j);
    hub_answer_waiting(h, NULL);
    if (full)
        h->dirty = true;
    hub_read_done(h);
}

/* The hub's next read, from the oldest position among its clients (they skip what they have);
 * while one is in flight, asks for another after it. */
static void hub_fetch(struct hub *h)
{
    int64_t from = h->last;

    if (h->fetching) {
        h->dirty = true;
        return;
    }
    h->fetching = true;
    h->dirty = false;
    h->read_seq++;
    S.hub_reads++;
    if (h->last < 0 && h->nclients == 0 && h->store >= 0) {
        char id[24];
        const char *params[2] = {"store", id};
        snprintf(id, sizeof(id), "%lld", (long long)h->store);
        h->reading_after = -1;
        db_query(&q_open, params, on_hub_open, h);
        return;
    }
    for (struct client *c = h->clients; c; c = c->next)
        if (from < 0 || c->last < from)
            from = c->last;
    h->reading_after = from;
    events_query(h->topic, from, on_hub_read, h);
}

/* ---- the LISTEN connection (pglisten): a hint that a topic has new rows ---- */

static void on_notified(const char *payload, void *arg)
{
    json_t *j = json_loads(payload, 0, NULL);
    const char *topic = j ? json_string_value(json_object_get(j, "topic")) : NULL;
    struct hub *h = topic ? hub_find(topic) : NULL;
    (void)arg;
    if (h)
        hub_fetch(h);
    if (j)
        json_decref(j);
}

static void on_reread(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    for (struct hub *h = S.hubs; h; h = h->next) {
        if (h->reread) {
            h->reread = false;
            hub_fetch(h);
        }
    }
}

/* Subscribed (again): whatever was committed while we were not listening is read now. */
static void on_subscribed(void *arg)
{
    (void)arg;
    for (struct hub *h = S.hubs; h; h = h->next)
        hub_fetch(h);
}

/* ---- streams ---- */

static void on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    for (struct hub *h = S.hubs, *hn; h; h = hn) {
        hn = h->next; /* ending the last client of a hub frees it */
        /* A safety net: a notification lost with a failed read is picked up here. */
        hub_fetch(h);
        for (struct client *c = h->clients, *next; c; c = next) {
            struct evbuffer *buf = evbuffer_new();
            next = c->next;
            if (!buf)
                return;
            /* A comment line: keeps proxies from timing the stream out, and finds dead peers. */
            evbuffer_add(buf, ": ping\n\n", 8);
            if (client_write(c, buf) < 0)
                client_end(c);
            evbuffer_free(buf);
        }
    }
}

/* The answer of a client's own access check: {topic, max, visit_id?}. */
static void on_open(struct req *r, const struct db_result *res)
{
    struct client *c = r->state;
    json_t *j;
    const char *topic;
    struct hub *h;

    if (res->status != DB_OK) {
        if (db_transient(res))
            shed(r);
        else
            api_reply_db_error(r, res);
        return;
    }
    if (S.stopping) {
        shed(r);
        return;
    }
    j = json_loads(db_value(res, 0, 0), 0, NULL);
    topic = j ? json_string_value(json_object_get(j, "topic")) : NULL;
    if (!topic) {
        if (j)
            json_decref(j);
        http_reply_error(r, 500, "internal", NULL, "unexpected database answer");
        return;
    }
    if (!(h = hub_get(topic))) {
        json_decref(j);
        http_reply_oom(r);
        return;
    }
    c->visit_id = (int64_t)json_integer_value(json_object_get(j, "visit_id"));
    if (c->last < 0) /* no Last-Event-ID: start where the topic stood before our 200 */
        c->last = (int64_t)json_integer_value(json_object_get(j, "max"));
    json_decref(j);
    h->pins++;
    client_start(c, h);
    h->pins--;
    hub_maybe_free(h); /* the stream could not start */
}

/* Where the client resumes: Last-Event-ID (the header browsers send on reconnect), else
 * ?last_event_id=; -1 when neither is given. False after replying 400 naming last_event_id. */
static bool last_event_id(struct req *r, int64_t *out)
{
    const char *v = http_header(r, "Last-Event-ID");
    char q[24];

    if (v && *v) {
        if (!util_is_id(v)) {
            http_reply_error(r, 400, "bad_value", "last_event_id",
                             "Last-Event-ID must be an event id");
            return false;
        }
        *out = strtoll(v, NULL, 10);
        return true;
    }
    if (!api_query_int(r, "last_event_id", 0, UTIL_ID_MAX, -1, q))
        return false;
    *out = strtoll(q, NULL, 10);
    return true;
}

/* A new client of `kind`, hung on r->state until its stream starts; NULL when the open is
 * answered already. */
static struct client *client_new(struct req *r, enum sse_mode mode, enum sse_kind kind)
{
    struct client *c;
    int64_t last;

    if (S.stopping) {
        shed(r);
        return NULL;
    }
    if (!last_event_id(r, &last))
        return NULL;
    if (!(c = calloc(1, sizeof(*c)))) {
        http_reply_oom(r);
        return NULL;
    }
    c->r = r;
    c->mode = mode;
    c->kind = kind;
    c->state = CLIENT_OPENING;
    c->last = last;
    r->state = c;
    r->state_free = free;
    return c;
}

/* A stream whose access needs a query of its own (a link, a repair): `stmt` checks the caller
 * and answers {topic, max, visit_id?}. */
static void checked_open(struct req *r, enum sse_mode mode, enum sse_kind kind,
                         struct sql_stmt *stmt, const char *const *params)
{
    if (!client_new(r, mode, kind))
        return;
    S.open_checks++;
    api_call(r, stmt, params, on_open);
}

/* A store's floor (staff, whose session the dispatcher checked, or the public board): no query
 * of its own; the store's hub, once it has read the topic, says it exists and where it stands. */
static void store_open(struct req *r, enum sse_mode mode, enum sse_kind kind)
{
    const char *store = api_path_id(r, "store");
    char topic[32];
    struct client *c;
    struct hub *h;

    if (!store || !(c = client_new(r, mode, kind)))
        return;
    snprintf(topic, sizeof(topic), "store:%lld", strtoll(store, NULL, 10));
    if (!(h = hub_get(topic))) {
        http_reply_oom(r);
        return;
    }
    if (h->last >= 0) {
        h->pins++;
        client_start(c, h);
        h->pins--;
        hub_maybe_free(h); /* the stream could not start */
        return;
    }
    http_req_hold(r);
    c->hub = h;
    list_add(&h->waiting, c);
    h->nwaiting++;
    if (!h->fetching)
        hub_fetch(h);
}

void sse_store_stream(struct req *r)
{
    store_open(r, SSE_STAFF, KIND_STAFF);
}

void sse_board_stream(struct req *r)
{
    store_open(r, SSE_BOARD, KIND_BOARD);
}

/* A customer's place in line: the link is checked before any query, as on /api/line/{token}. */
void sse_line_stream(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    if (link_from_path(r, "token", hash)) {
        const char *params[2] = {"line", hash};
        checked_open(r, SSE_LINE, KIND_LINE, &q_open, params);
    }
}

/* A repair's events carry its state and times, nothing personal: the staff ticket and the
 * customer's status page get them as they are (SSE_STAFF rendering). The staff stream's store
 * and role are checked in SQL; the status link before any query. */
void sse_repair_stream(struct req *r)
{
    const char *id = api_path_id(r, "id");
    if (id) {
        const char *params[2] = {r->who.staff_id, id};
        checked_open(r, SSE_STAFF, KIND_REPAIR, &q_repair_open, params);
    }
}

void sse_repair_status_stream(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    if (link_from_path(r, "token", hash)) {
        const char *params[1] = {hash};
        checked_open(r, SSE_STAFF, KIND_REPAIR_STATUS, &q_repair_status_open, params);
    }
}

/* ---- life cycle ---- */

int sse_init(struct event_base *base)
{
    static const struct pglisten_ops ops = {.subscribed = on_subscribed, .notified = on_notified};
    struct timeval hb = {SSE_HEARTBEAT_S, 0};
    S.base = base;
    S.heartbeat = event_new(base, -1, EV_PERSIST, on_heartbeat, NULL);
    S.reread = evtimer_new(base, on_reread, NULL);
    if (!S.heartbeat || !S.reread || event_add(S.heartbeat, &hb) < 0)
        return -1;
    return pglisten_add(SSE_CHANNEL, &ops, NULL);
}

void sse_shutdown(void)
{
    int n = S.nclients;
    S.stopping = true;
    if (S.heartbeat)
        event_del(S.heartbeat);
    if (S.reread)
        event_del(S.reread);
    for (struct hub *h = S.hubs, *hn; h; h = hn) {
        hn = h->next;

        hub_answer_waiting(h, NULL); /* stopping: a retry delay each */
        while (h->clients && h->clients->next)
            client_end(h->clients->next);
        if (h->clients)
            client_end(h->clients); /* may free h */
        else
            hub_maybe_free(h);
    }
    if (n)
        log_info("sse: ended %d stream(s)", n);
}

void sse_free(void)
{
    struct hub *h;
    sse_shutdown();
    while ((h = S.hubs) != NULL) {
        S.hubs = h->next;
        hub_free(h);
    }
    if (S.heartbeat)
        event_free(S.heartbeat);
    S.heartbeat = NULL;
    if (S.reread)
        event_free(S.reread);
    S.reread = NULL;
}
