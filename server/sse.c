/*
 * sse: Server-Sent Events fan-out (see sse.h for the contract).
 *
 * Three kinds of objects, each a small state machine:
 *
 *   listener  pglisten's connection; each notification names a topic whose hub should look
 *   hub       one per topic with clients; `last` is the newest event id handed to its live
 *             clients (-1 until the first read tells it where the topic stands). A notification
 *             or a listener reconnect makes it read `events` after `last` (one read at a time;
 *             `dirty` asks for another when more arrived meanwhile).
 *   client    OPENING (resolving what to follow) --> CATCHUP (replaying from its own last id)
 *             --> LIVE (fed by the hub). A client whose last id falls behind the hub goes back
 *             to CATCHUP, so nothing is skipped; events at or below its last id are never sent
 *             twice.
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
#define SSE_RETRY_MS 2000 /* what browsers wait before reconnecting */
#define SSE_BATCH 500     /* events read per query */
#define SSE_MAX_PENDING (256 * 1024)

static struct sql_stmt q_open = SQL_STMT("sse_open", "select floor_stream_open($1, $2)", 2);
static struct sql_stmt q_repair_open =
    SQL_STMT("sse_repair_open", "select repair_stream_open($1, $2)", 2);
static struct sql_stmt q_repair_status_open =
    SQL_STMT("sse_repair_status_open", "select repair_status_stream_open($1)", 1);
static struct sql_stmt q_events =
    SQL_STMT("sse_events", "select sse_events($1, $2::bigint, $3::int)", 3);

enum sse_mode { SSE_STAFF, SSE_BOARD, SSE_LINE };
enum client_state { CLIENT_OPENING, CLIENT_CATCHUP, CLIENT_LIVE };

struct hub;

struct client {
    struct client *prev, *next; /* in hub->clients */
    struct hub *hub;
    struct req *r; /* NULL once the stream has ended */
    enum sse_mode mode;
    enum client_state state;
    int64_t visit_id; /* SSE_LINE: the visit whose place is followed */
    int64_t last;     /* newest event id this client has been given (or skipped), -1 unknown */
    bool busy;        /* a catch-up read is in flight: free in its callback */
    bool gone;
};

struct hub {
    struct hub *next;
    char *topic;
    int64_t last;
    bool fetching, dirty;
    struct client *clients;
    int nclients;
};

static struct {
    struct event_base *base;
    struct hub *hubs;
    int nclients;
    bool stopping;
    struct event *heartbeat;
} S;

static void client_catchup(struct client *c);
static void hub_fetch(struct hub *h);

int sse_clients(void)
{
    return S.nclients;
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
    if (h->nclients > 0 || h->fetching)
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
    h->last = -1;
    h->next = S.hubs;
    S.hubs = h;
    hub_fetch(h); /* learns where the topic stands */
    return h;
}

static void hub_add(struct hub *h, struct client *c)
{
    c->hub = h;
    c->prev = NULL;
    c->next = h->clients;
    if (h->clients)
        h->clients->prev = c;
    h->clients = c;
    h->nclients++;
}

static void hub_remove(struct client *c)
{
    struct hub *h = c->hub;
    if (!h)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        h->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->hub = NULL;
    h->nclients--;
    hub_maybe_free(h);
}

static void client_free(struct client *c)
{
    free(c);
}

/* Ends a client's stream and forgets it; the struct waits for a read in flight, if any. */
static void client_end(struct client *c)
{
    struct req *r = c->r;
    hub_remove(c);
    if (r) {
        c->r = NULL;
        S.nclients--;
        http_stream_end(r);
    }
    if (c->busy)
        c->gone = true;
    else
        client_free(c);
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

/* ---- reading events ---- */

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

static void on_catchup(const struct db_result *res, void *arg)
{
    struct client *c = arg;
    struct rendered *ev;
    size_t n;
    int64_t max = 0;
    json_t *j;

    c->busy = false;
    if (c->gone) {
        client_free(c);
        return;
    }
    j = events_parse(res, &max, &ev, &n);
    if (!j) {
        /* The pool is busy or down: end the stream; the client comes back with its id. */
        client_end(c);
        return;
    }
    /* No position, or one past the topic's end (an id from another database, say): from now. */
    if (c->last < 0 || c->last > max)
        c->last = max;
    if (client_send(c, ev, n) < 0) {
        rendered_free(ev, n);
        json_decref(j);
        client_end(c);
        return;
    }
    rendered_free(ev, n);
    json_decref(j);
    if (n == SSE_BATCH || (c->hub && c->hub->last > c->last)) {
        client_catchup(c);
        return;
    }
    c->state = CLIENT_LIVE;
}

static void client_catchup(struct client *c)
{
    c->state = CLIENT_CATCHUP;
    c->busy = true;
    events_query(c->hub->topic, c->last, on_catchup, c);
}

static void on_hub_fetch(const struct db_result *res, void *arg)
{
    struct hub *h = arg;
    struct rendered *ev;
    size_t n;
    int64_t max = 0, old = h->last;
    json_t *j;
    struct client *c, *next;

    h->fetching = false;
    if (h->nclients == 0 || S.stopping) {
        hub_maybe_free(h);
        return;
    }
    j = events_parse(res, &max, &ev, &n);
    if (!j) {
        /* Nothing is lost: the next notification or reconnect reads from `last` again. */
        log_warning("sse: cannot read events of %s", h->topic);
        h->dirty = false;
        return;
    }
    if (old < 0)
        h->last = max;
    else if (n > 0)
        h->last = ev[n - 1].id;
    for (c = h->clients; c; c = next) {
        next = c->next;
        if (c->state != CLIENT_LIVE)
            continue;
        /* Behind what this batch starts from (the hub only now learned where the topic
         * stands): replay from the table instead. */
        if (c->last < (old < 0 ? h->last : old)) {
            client_catchup(c);
            continue;
        }
        if (client_send(c, ev, n) < 0)
            client_end(c);
    }
    rendered_free(ev, n);
    json_decref(j);
    if (n == SSE_BATCH)
        h->dirty = true;
    if (h->dirty) {
        h->dirty = false;
        hub_fetch(h);
    }
}

static void hub_fetch(struct hub *h)
{
    if (h->fetching) {
        h->dirty = true;
        return;
    }
    h->fetching = true;
    events_query(h->topic, h->last, on_hub_fetch, h);
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

/* The open's answer. Until the stream starts the client hangs on r->state and goes with the
 * request (whatever the answer); from http_stream_start on it outlives the handler's call and
 * client_end frees it. */
static void on_open(struct req *r, const struct db_result *res)
{
    struct client *c = r->state;
    json_t *j;
    const char *topic;
    struct hub *h;
    struct evbuffer *buf;

    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    if (S.stopping) {
        http_reply_retry(r, 1, "shutting_down", "the server is restarting");
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
    if (http_stream_start(r, "text/event-stream; charset=utf-8", client_on_close, c) < 0) {
        hub_maybe_free(h);
        http_reply_error(r, 500, "internal", NULL, "cannot start the stream");
        return;
    }
    r->state = NULL;
    r->state_free = NULL;
    S.nclients++;
    hub_add(h, c);
    buf = evbuffer_new();
    if (buf) {
        evbuffer_add_printf(buf, "retry: %d\n\n", SSE_RETRY_MS);
        if (client_write(c, buf) < 0) {
            evbuffer_free(buf);
            client_end(c);
            return;
        }
        evbuffer_free(buf);
    }
    client_catchup(c);
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

/* Opens a stream of `mode`: `stmt` (with `params`) checks the caller and answers {topic, max,
 * visit_id?}. */
static void stream_open(struct req *r, enum sse_mode mode, struct sql_stmt *stmt,
                        const char *const *params)
{
    struct client *c;
    int64_t last;

    if (S.stopping) {
        http_reply_retry(r, 1, "shutting_down", "the server is restarting");
        return;
    }
    if (!last_event_id(r, &last))
        return;
    if (!(c = calloc(1, sizeof(*c)))) {
        http_reply_oom(r);
        return;
    }
    c->r = r;
    c->mode = mode;
    c->state = CLIENT_OPENING;
    c->last = last;
    r->state = c;
    r->state_free = free;
    api_call(r, stmt, params, on_open);
}

static void floor_stream(struct req *r, enum sse_mode mode, const char *kind, const char *key)
{
    const char *params[2] = {kind, key};
    stream_open(r, mode, &q_open, params);
}

void sse_store_stream(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (store)
        floor_stream(r, SSE_STAFF, "store", store);
}

void sse_board_stream(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (store)
        floor_stream(r, SSE_BOARD, "store", store);
}

/* A customer's place in line: the link is checked before any query, as on /api/line/{token}. */
void sse_line_stream(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    if (link_from_path(r, "token", hash))
        floor_stream(r, SSE_LINE, "line", hash);
}

/* A repair's events carry its state and times, nothing personal: the staff ticket and the
 * customer's status page get them as they are (SSE_STAFF rendering). The staff stream's store
 * is checked in SQL; the status link before any query. */
void sse_repair_stream(struct req *r)
{
    const char *id = api_path_id(r, "id");
    if (id) {
        const char *params[2] = {r->who.staff_id, id};
        stream_open(r, SSE_STAFF, &q_repair_open, params);
    }
}

void sse_repair_status_stream(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    if (link_from_path(r, "token", hash)) {
        const char *params[1] = {hash};
        stream_open(r, SSE_STAFF, &q_repair_status_open, params);
    }
}

/* ---- life cycle ---- */

int sse_init(struct event_base *base)
{
    static const struct pglisten_ops ops = {.subscribed = on_subscribed, .notified = on_notified};
    struct timeval hb = {SSE_HEARTBEAT_S, 0};
    S.base = base;
    S.heartbeat = event_new(base, -1, EV_PERSIST, on_heartbeat, NULL);
    if (!S.heartbeat || event_add(S.heartbeat, &hb) < 0)
        return -1;
    return pglisten_add(SSE_CHANNEL, &ops, NULL);
}

void sse_shutdown(void)
{
    int n = S.nclients;
    S.stopping = true;
    if (S.heartbeat)
        event_del(S.heartbeat);
    for (struct hub *h = S.hubs, *hn; h; h = hn) {
        hn = h->next;
        while (h->clients && h->clients->next)
            client_end(h->clients->next);
        if (h->clients)
            client_end(h->clients); /* may free h */
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
}
