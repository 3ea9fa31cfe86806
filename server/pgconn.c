/*
 * pgconn: one non-blocking PostgreSQL connection (see pgconn.h for the contract).
 *
 * The connect dance is a state machine, every move through pgconn_set_state():
 *
 *   IDLE --start--> RESOLVING --evdns answer--> CONNECTING --PQconnectPoll OK--> READY
 *     |                 |                           |                             |
 *     +--(no name)------+-------------------------->+                             |
 *   any state --reset--> IDLE          RESOLVING/CONNECTING --error, timeout--> FAILED
 *
 * libpq resolves a host name synchronously inside PQconnectStart, so a name never reaches it:
 * the conninfo is parsed once (PQconninfoParse), a name is looked up with evdns (one evdns_base
 * per event base, from /etc/resolv.conf and /etc/hosts), and libpq gets the addresses as
 * `hostaddr` with the name repeated in `host` (for TLS and its messages) so it tries each in
 * turn. PQconnectPoll does not enforce connect_timeout, so one timer bounds the whole attempt.
 *
 * During CONNECTING libpq may close its socket and open another (next address) that gets the
 * same descriptor number; the socket event is therefore re-created after every poll, which
 * libevent's epoll changelist turns into a fresh registration.
 */
#include "pgconn.h"

#include <assert.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

#define PGCONN_PARAMS_MIN_CAP 16
#define PGCONN_DNS_TIMEOUT "2"  /* seconds per try, so a dead nameserver fails an attempt */
#define PGCONN_DNS_ATTEMPTS "2" /* promptly and the owner's back-off takes over */
#define PGCONN_BLOCKING_CONNECT_TIMEOUT_S "10" /* start-up connections (libpq: text) */

/* One evdns_base per event base, shared by its connections and freed with the last of them. */
struct dns_ref {
    struct dns_ref *next;
    struct event_base *base;
    struct evdns_base *dns;
    int refs;
};

/* A lookup in flight. It outlives its connection when cancelled: evdns calls back later. */
struct lookup {
    struct pgconn *c; /* NULL once abandoned */
    struct evdns_getaddrinfo_request *req;
};

struct pgconn {
    struct event_base *base;
    struct pgconn_params params; /* the conninfo's settings and the owner's overrides */
    char *name;                  /* the host name to resolve, or NULL */
    const struct pgconn_ops *ops;
    void *arg;
    enum pgconn_state state;
    PGconn *pg;
    struct event *ev;
    struct event *timer; /* bounds one attempt */
    int timeout_s;
    void (*watch_cb)(struct pgconn *c, short what, void *arg);
    struct lookup *lookup;
    struct dns_ref *dns;
};

static struct dns_ref *dns_refs;

static const char *state_names[] = {
    [PGCONN_IDLE] = "idle",   [PGCONN_RESOLVING] = "resolving", [PGCONN_CONNECTING] = "connecting",
    [PGCONN_READY] = "ready", [PGCONN_FAILED] = "failed",
};

/* ---- settings (pure) ---- */

static int params_grow(struct pgconn_params *p)
{
    int cap = p->cap ? p->cap * 2 : PGCONN_PARAMS_MIN_CAP;
    char **k = realloc(p->keys, (size_t)(cap + 1) * sizeof(*k));
    char **v;
    if (!k)
        return -1;
    p->keys = k;
    v = realloc(p->values, (size_t)(cap + 1) * sizeof(*v));
    if (!v)
        return -1;
    p->values = v;
    p->cap = cap;
    return 0;
}

int pgconn_params_set(struct pgconn_params *p, const char *key, const char *value)
{
    char *v = strdup(value), *k;

    if (!v)
        return -1;
    for (int i = 0; i < p->n; i++) {
        if (strcmp(p->keys[i], key) == 0) {
            free(p->values[i]);
            p->values[i] = v;
            return 0;
        }
    }
    if ((p->n >= p->cap || !p->keys) && params_grow(p) < 0)
        goto fail;
    k = strdup(key);
    if (!k)
        goto fail;
    p->keys[p->n] = k;
    p->values[p->n] = v;
    p->n++;
    p->keys[p->n] = NULL;
    p->values[p->n] = NULL;
    return 0;
fail:
    free(v);
    return -1;
}

const char *pgconn_params_get(const struct pgconn_params *p, const char *key)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->keys[i], key) == 0)
            return p->values[i];
    return NULL;
}

int pgconn_params_liveness(struct pgconn_params *p)
{
    /* The caches trust pglisten's connection while it is up, and a query in flight on a dead
     * one waits for its statement timeout at best: both need a dead peer found in seconds. */
    static const char *const keys[] = {"keepalives",          "keepalives_idle",
                                       "keepalives_interval", "keepalives_count",
                                       "tcp_user_timeout",    NULL};
    static const char *const vals[] = {"1", "5", "2", "3", "15000", NULL};

    for (int i = 0; keys[i]; i++)
        if (!pgconn_params_get(p, keys[i]) && pgconn_params_set(p, keys[i], vals[i]) < 0)
            return -1;
    return 0;
}

void pgconn_params_free(struct pgconn_params *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->keys[i]);
        free(p->values[i]);
    }
    free(p->keys);
    free(p->values);
    memset(p, 0, sizeof(*p));
}

int pgconn_params_parse(struct pgconn_params *p, const char *conninfo, char *err, size_t errlen)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &msg);
    int rc = -1;

    memset(p, 0, sizeof(*p));
    if (!opts) {
        snprintf(err, errlen, "bad database URL: %s", msg ? msg : "out of memory");
        if (err[0] && err[strlen(err) - 1] == '\n')
            err[strlen(err) - 1] = '\0';
        goto out;
    }
    if (params_grow(p) < 0)
        goto oom;
    p->keys[0] = p->values[0] = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && pgconn_params_set(p, o->keyword, o->val) < 0)
            goto oom;
    rc = 0;
    goto out;
oom:
    snprintf(err, errlen, "out of memory");
    pgconn_params_free(p);
out:
    if (opts)
        PQconninfoFree(opts);
    if (msg)
        PQfreemem(msg);
    return rc;
}

static bool is_numeric_host(const char *h)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_family = AF_UNSPEC;
    if (getaddrinfo(h, NULL, &hints, &res) != 0)
        return false;
    freeaddrinfo(res);
    return true;
}

/* A host entry libpq connects to without a lookup: empty (the default), a socket directory, or
 * a numeric address. */
static bool needs_no_lookup(const char *h, size_t len)
{
    char buf[NI_MAXHOST];
    if (len == 0 || h[0] == '/' || h[0] == '@') /* '@': an abstract Unix socket */
        return true;
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, h, len);
    buf[len] = '\0';
    return is_numeric_host(buf);
}

int pgconn_params_target(const struct pgconn_params *p, const char **name)
{
    const char *host = pgconn_params_get(p, "host");
    const char *addr = pgconn_params_get(p, "hostaddr");
    bool several, named = false;

    *name = NULL;
    if (!host || !*host || (addr && *addr))
        return 0;
    several = strchr(host, ',') != NULL;
    for (const char *s = host; *s;) {
        size_t len = strcspn(s, ",");
        if (!needs_no_lookup(s, len))
            named = true;
        s += len;
        if (*s == ',')
            s++;
    }
    if (!named)
        return 0;
    /* Several hosts by name would need several lookups and a hostaddr list kept in step with
     * them; not supported (give addresses, or one name). */
    if (several)
        return -1;
    *name = host;
    return 0;
}

int pgconn_params_with_addrs(const struct pgconn_params *p, const char *const *addrs, int naddrs,
                             struct pgconn_params *out)
{
    const char *host = pgconn_params_get(p, "host");
    size_t hlen = host ? strlen(host) : 0, alen = 0;
    char *hosts = NULL, *hostaddrs = NULL, *h, *a;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < p->n; i++)
        if (pgconn_params_set(out, p->keys[i], p->values[i]) < 0)
            goto out;
    if (naddrs <= 0) {
        rc = 0;
        goto out;
    }
    for (int i = 0; i < naddrs; i++)
        alen += strlen(addrs[i]) + 1;
    hosts = malloc((hlen + 1) * (size_t)naddrs);
    hostaddrs = malloc(alen);
    if (!hosts || !hostaddrs)
        goto out;
    h = hosts;
    a = hostaddrs;
    for (int i = 0; i < naddrs; i++) {
        size_t l = strlen(addrs[i]);
        if (i) {
            *h++ = ',';
            *a++ = ',';
        }
        memcpy(h, host ? host : "", hlen);
        h += hlen;
        memcpy(a, addrs[i], l);
        a += l;
    }
    *h = '\0';
    *a = '\0';
    if (pgconn_params_set(out, "host", hosts) < 0 ||
        pgconn_params_set(out, "hostaddr", hostaddrs) < 0)
        goto out;
    rc = 0;
out:
    free(hosts);
    free(hostaddrs);
    if (rc < 0)
        pgconn_params_free(out);
    return rc;
}

/* The conninfo's settings, with PGHOST/PGHOSTADDR filled in as libpq would, so a name given
 * through the environment is resolved here too. */
static int params_load(struct pgconn_params *p, const char *conninfo, char *err, size_t errlen)
{
    const char *env;
    if (pgconn_params_parse(p, conninfo, err, errlen) < 0)
        return -1;
    if (!pgconn_params_get(p, "host") && (env = getenv("PGHOST")) && *env &&
        pgconn_params_set(p, "host", env) < 0)
        goto oom;
    if (!pgconn_params_get(p, "hostaddr") && (env = getenv("PGHOSTADDR")) && *env &&
        pgconn_params_set(p, "hostaddr", env) < 0)
        goto oom;
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    pgconn_params_free(p);
    return -1;
}

int pgconn_check_conninfo(const char *conninfo, char *err, size_t errlen)
{
    struct pgconn_params p;
    struct addrinfo hints, *res = NULL;
    const char *name;
    int rc = -1, gai;

    if (params_load(&p, conninfo, err, errlen) < 0)
        return -1;
    if (pgconn_params_target(&p, &name) < 0) {
        snprintf(err, errlen,
                 "database URL: several hosts by name (%s) are not supported; give one name or "
                 "addresses",
                 pgconn_params_get(&p, "host"));
        goto out;
    }
    if (name) {
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        gai = getaddrinfo(name, NULL, &hints, &res);
        if (gai != 0) {
            snprintf(err, errlen, "database host \"%s\" does not resolve: %s", name,
                     gai_strerror(gai));
            goto out;
        }
        freeaddrinfo(res);
    }
    rc = 0;
out:
    pgconn_params_free(&p);
    return rc;
}

/* ---- the resolver ---- */

static struct dns_ref *dns_get(struct event_base *base)
{
    struct dns_ref *d;

    for (d = dns_refs; d; d = d->next) {
        if (d->base == base) {
            d->refs++;
            return d;
        }
    }
    d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    /* Inactive, the resolver must not keep the loop alive (its UDP socket stays registered). */
    d->dns =
        evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!d->dns) {
        free(d);
        return NULL;
    }
    evdns_base_set_option(d->dns, "timeout:", PGCONN_DNS_TIMEOUT);
    evdns_base_set_option(d->dns, "attempts:", PGCONN_DNS_ATTEMPTS);
    d->base = base;
    d->refs = 1;
    d->next = dns_refs;
    dns_refs = d;
    return d;
}

static void dns_put(struct dns_ref *d)
{
    if (!d || --d->refs > 0)
        return;
    for (struct dns_ref **p = &dns_refs; *p; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    evdns_base_free(d->dns, 0);
    free(d);
}

/* ---- the state machine ---- */

static bool move_is_legal(enum pgconn_state from, enum pgconn_state to)
{
    switch (to) {
    case PGCONN_IDLE:
        return true; /* pgconn_reset, from anywhere */
    case PGCONN_RESOLVING:
        return from == PGCONN_IDLE;
    case PGCONN_CONNECTING:
        return from == PGCONN_IDLE || from == PGCONN_RESOLVING;
    case PGCONN_READY:
        return from == PGCONN_CONNECTING;
    case PGCONN_FAILED:
        return from == PGCONN_IDLE || from == PGCONN_RESOLVING || from == PGCONN_CONNECTING;
    }
    return false;
}

static void pgconn_set_state(struct pgconn *c, enum pgconn_state to)
{
    assert(move_is_legal(c->state, to));
    log_debug("pgconn %p: %s -> %s", (void *)c, state_names[c->state], state_names[to]);
    c->state = to;
}

static void on_socket(evutil_socket_t fd, short what, void *arg);

/* Points the socket event at libpq's current socket; always a new registration (see above). */
static int watch_socket(struct pgconn *c, short what)
{
    int fd = PQsocket(c->pg);
    if (c->ev) {
        event_free(c->ev);
        c->ev = NULL;
    }
    if (fd < 0)
        return -1;
    c->ev = event_new(c->base, fd, what | EV_PERSIST, on_socket, c);
    if (!c->ev || event_add(c->ev, NULL) < 0)
        return -1;
    return 0;
}

/* Drops whatever the current state holds: the lookup, the timer, the socket, the connection. */
static void teardown(struct pgconn *c)
{
    if (c->lookup) {
        struct lookup *lk = c->lookup;
        c->lookup = NULL;
        lk->c = NULL;
        if (lk->req)
            evdns_getaddrinfo_cancel(lk->req); /* its callback frees lk later */
    }
    if (c->timer)
        evtimer_del(c->timer);
    if (c->ev) {
        event_free(c->ev);
        c->ev = NULL;
    }
    c->watch_cb = NULL;
    if (c->pg) {
        PQfinish(c->pg);
        c->pg = NULL;
    }
}

/* Ends the attempt: FAILED, then the owner hears why. The owner may free `c` in the callback,
 * so nothing touches it afterwards. */
static void attempt_fail(struct pgconn *c, const char *why)
{
    char *msg;
    size_t len;

    if (!why)
        why = c->pg ? PQerrorMessage(c->pg) : "out of memory";
    msg = strdup(why && *why ? why : "connection failed");
    if (msg) {
        len = strlen(msg);
        while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
            msg[--len] = '\0';
    }
    teardown(c);
    pgconn_set_state(c, PGCONN_FAILED);
    c->ops->failed(c, msg ? msg : "out of memory", c->arg);
    free(msg);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct pgconn *c = arg;
    char why[128];
    (void)fd;
    (void)what;
    if (c->state == PGCONN_RESOLVING)
        snprintf(why, sizeof(why), "database host \"%s\": lookup timed out after %d s", c->name,
                 c->timeout_s);
    else
        snprintf(why, sizeof(why), "connection timed out after %d s", c->timeout_s);
    attempt_fail(c, why);
}

/* Hands the connection to its owner. */
static void connected(struct pgconn *c)
{
    if (PQsetnonblocking(c->pg, 1) != 0) {
        attempt_fail(c, NULL);
        return;
    }
    evtimer_del(c->timer);
    event_free(c->ev);
    c->ev = NULL;
    pgconn_set_state(c, PGCONN_READY);
    c->ops->ready(c, c->arg);
}

static void poll_connect(struct pgconn *c)
{
    switch (PQconnectPoll(c->pg)) {
    case PGRES_POLLING_READING:
        if (watch_socket(c, EV_READ) < 0)
            attempt_fail(c, "no socket");
        break;
    case PGRES_POLLING_WRITING:
        if (watch_socket(c, EV_WRITE) < 0)
            attempt_fail(c, "no socket");
        break;
    case PGRES_POLLING_OK:
        connected(c);
        break;
    default:
        attempt_fail(c, NULL);
        break;
    }
}

static void on_socket(evutil_socket_t fd, short what, void *arg)
{
    struct pgconn *c = arg;
    (void)fd;

    switch (c->state) {
    case PGCONN_CONNECTING:
        poll_connect(c);
        break;
    case PGCONN_READY:
        if (c->watch_cb)
            c->watch_cb(c, what, c->arg);
        break;
    default:
        assert(!"socket event outside CONNECTING/READY");
        break;
    }
}

/* Starts libpq on settings that need no lookup. */
static void connect_with(struct pgconn *c, const struct pgconn_params *p)
{
    pgconn_set_state(c, PGCONN_CONNECTING);
    c->pg = PQconnectStartParams((const char *const *)p->keys, (const char *const *)p->values, 0);
    if (!c->pg || PQstatus(c->pg) == CONNECTION_BAD) {
        attempt_fail(c, NULL);
        return;
    }
    if (watch_socket(c, EV_WRITE) < 0)
        attempt_fail(c, "no socket");
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    struct lookup *lk = arg;
    struct pgconn *c = lk->c;
    char bufs[PGCONN_MAX_ADDRS][INET6_ADDRSTRLEN];
    const char *addrs[PGCONN_MAX_ADDRS];
    struct pgconn_params p;
    int n = 0;

    free(lk);
    if (!c) { /* abandoned (reset or freed): evdns reports the cancel */
        if (res)
            evutil_freeaddrinfo(res);
        return;
    }
    c->lookup = NULL;
    if (result != 0) {
        char why[256];
        snprintf(why, sizeof(why), "database host \"%s\" does not resolve: %s", c->name,
                 evutil_gai_strerror(result));
        if (res)
            evutil_freeaddrinfo(res);
        attempt_fail(c, why);
        return;
    }
    for (struct evutil_addrinfo *ai = res; ai && n < PGCONN_MAX_ADDRS; ai = ai->ai_next) {
        const void *src;
        bool dup = false;
        if (ai->ai_family == AF_INET)
            src = &((struct sockaddr_in *)(void *)ai->ai_addr)->sin_addr;
        else if (ai->ai_family == AF_INET6)
            src = &((struct sockaddr_in6 *)(void *)ai->ai_addr)->sin6_addr;
        else
            continue;
        if (!evutil_inet_ntop(ai->ai_family, src, bufs[n], sizeof(bufs[n])))
            continue;
        for (int i = 0; i < n; i++)
            dup = dup || strcmp(bufs[i], bufs[n]) == 0;
        if (!dup) {
            addrs[n] = bufs[n];
            n++;
        }
    }
    if (res)
        evutil_freeaddrinfo(res);
    if (n == 0) {
        char why[256];
        snprintf(why, sizeof(why), "database host \"%s\" has no address", c->name);
        attempt_fail(c, why);
        return;
    }
    log_debug("pgconn %p: %s is %s%s", (void *)c, c->name, addrs[0], n > 1 ? " (and more)" : "");
    if (pgconn_params_with_addrs(&c->params, addrs, n, &p) < 0) {
        attempt_fail(c, "out of memory");
        return;
    }
    connect_with(c, &p);
    pgconn_params_free(&p);
}

static void resolve(struct pgconn *c)
{
    struct evutil_addrinfo hints;
    struct evdns_getaddrinfo_request *req;
    struct lookup *lk;

    if (!c->dns && !(c->dns = dns_get(c->base))) {
        attempt_fail(c, "cannot start the resolver");
        return;
    }
    lk = calloc(1, sizeof(*lk));
    if (!lk) {
        attempt_fail(c, "out of memory");
        return;
    }
    lk->c = c;
    c->lookup = lk;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    pgconn_set_state(c, PGCONN_RESOLVING);
    /* An answer known at once (/etc/hosts, a cached failure) calls back before this returns and
     * NULL comes back; otherwise the request stays pending and is ours to cancel. */
    req = evdns_getaddrinfo(c->dns->dns, c->name, NULL, &hints, on_resolved, lk);
    if (req)
        lk->req = req;
}

/* ---- the connection ---- */

struct pgconn *pgconn_new(struct event_base *base, const char *conninfo, const char *const *keys,
                          const char *const *values, const struct pgconn_ops *ops, void *arg)
{
    struct pgconn *c = calloc(1, sizeof(*c));
    char err[256];
    const char *name, *t;

    if (!c)
        return NULL;
    c->base = base;
    c->ops = ops;
    c->arg = arg;
    c->state = PGCONN_IDLE;
    if (params_load(&c->params, conninfo, err, sizeof(err)) < 0) {
        log_error("pgconn: %s", err);
        free(c);
        return NULL;
    }
    for (int i = 0; keys && keys[i]; i++)
        if (pgconn_params_set(&c->params, keys[i], values[i]) < 0)
            goto fail;
    if (pgconn_params_liveness(&c->params) < 0)
        goto fail;
    if (pgconn_params_target(&c->params, &name) < 0) {
        log_error("pgconn: several hosts by name are not supported");
        goto fail;
    }
    if (name && !(c->name = strdup(name)))
        goto fail;
    t = pgconn_params_get(&c->params, "connect_timeout");
    c->timeout_s = t ? atoi(t) : 0;
    if (c->timeout_s <= 0)
        c->timeout_s = PGCONN_CONNECT_TIMEOUT_S;
    c->timer = evtimer_new(base, on_timeout, c);
    if (!c->timer)
        goto fail;
    return c;
fail:
    pgconn_free(c);
    return NULL;
}

void pgconn_free(struct pgconn *c)
{
    if (!c)
        return;
    teardown(c);
    if (c->timer)
        event_free(c->timer);
    dns_put(c->dns);
    pgconn_params_free(&c->params);
    free(c->name);
    free(c);
}

void pgconn_start(struct pgconn *c)
{
    struct timeval tv = {c->timeout_s, 0};

    if (c->state != PGCONN_IDLE)
        pgconn_reset(c);
    evtimer_add(c->timer, &tv);
    if (c->name)
        resolve(c);
    else
        connect_with(c, &c->params);
}

void pgconn_reset(struct pgconn *c)
{
    teardown(c);
    if (c->state != PGCONN_IDLE)
        pgconn_set_state(c, PGCONN_IDLE);
}

enum pgconn_state pgconn_state(const struct pgconn *c)
{
    return c->state;
}

struct pg_conn *pgconn_pq(struct pgconn *c)
{
    return c->pg;
}

int pgconn_watch(struct pgconn *c, short events,
                 void (*cb)(struct pgconn *c, short what, void *arg))
{
    int fd;

    assert(c->state == PGCONN_READY);
    c->watch_cb = cb;
    fd = PQsocket(c->pg);
    if (fd < 0)
        return -1;
    if (c->ev && event_get_fd(c->ev) == fd && event_get_events(c->ev) == (events | EV_PERSIST))
        return 0;
    if (c->ev)
        event_free(c->ev);
    c->ev = event_new(c->base, fd, events | EV_PERSIST, on_socket, c);
    if (!c->ev || event_add(c->ev, NULL) < 0)
        return -1;
    return 0;
}

/* ---- start-up only: blocking ---- */

static void copy_message(char *err, size_t errlen, const char *msg)
{
    size_t len;
    snprintf(err, errlen, "%s", msg && *msg ? msg : "unknown error");
    len = strlen(err);
    while (len > 0 && err[len - 1] == '\n')
        err[--len] = '\0';
}

struct pg_conn *pgconn_connect_blocking(const char *conninfo, char *err, size_t errlen)
{
    /* A host that never answers must not stall start-up for the kernel's TCP timeout. The
     * conninfo comes after the default, so a connect_timeout it names wins. */
    static const char *const keys[] = {"connect_timeout", "dbname", NULL};
    const char *vals[] = {PGCONN_BLOCKING_CONNECT_TIMEOUT_S, conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg) {
        copy_message(err, errlen, "out of memory");
        return NULL;
    }
    if (PQstatus(pg) != CONNECTION_OK) {
        copy_message(err, errlen, PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

int pgconn_exec_blocking(struct pg_conn *conn, const char *sql, int nparams,
                         const char *const *params, char **first, char *err, size_t errlen)
{
    PGresult *res;
    ExecStatusType st;
    int rc = -1;

    if (first)
        *first = NULL;
    if (nparams == 0 && !params)
        res = PQexec(conn, sql);
    else
        res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
    st = PQresultStatus(res);
    /* A script of only comments (a migration whose functions moved out) is an empty query. */
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        copy_message(err, errlen, res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
        goto out;
    }
    if (first && PQntuples(res) > 0 && PQnfields(res) > 0 && !PQgetisnull(res, 0, 0)) {
        *first = strdup(PQgetvalue(res, 0, 0));
        if (!*first) {
            copy_message(err, errlen, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    PQclear(res);
    return rc;
}

void pgconn_close_blocking(struct pg_conn *conn)
{
    if (conn)
        PQfinish(conn);
}
