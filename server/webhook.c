/*
 * webhook: endpoints of a store, and the delivery of its events. See webhook.h for the parts;
 * this file owns two state machines.
 *
 * A request that sets a URL: the caller's right to the store and the endpoint is checked in SQL
 * first (webhook_check_access), so no one probes hosts through what is not theirs; then the URL
 * is parsed here (curl's parser, the one that will send), then, unless --webhook-allow-private,
 * its host is resolved on the resolve pool (getaddrinfo blocks) and refused when any address is one
 * webhook_address_refused names; then SQL saves it.
 *
 * The delivery round, the outbox's (sender.c):
 *
 *   IDLE -> CLAIMING (webhook_claim in flight) -> SENDING (n sends on worker threads, each then
 *   marked through the pool) -> IDLE
 *
 * Several carnetd may run rounds: the claim hands a delivery to one of them under a lease
 * (longer than --webhook-timeout, checked by config), and the claim id must still match when
 * the try is recorded. A send is bounded by --webhook-timeout, follows no redirect, speaks
 * https only with the peer verified (--webhook-ca replaces the system's CAs, file and
 * directory, for tests), and its connection is refused at the socket when the address it
 * resolved to is private: DNS may answer differently than when the URL was saved. webhook_stop
 * aborts sends under way through libcurl's progress callback; each is recorded as a failed try
 * and retried later.
 */
#include "webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "api.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "seal.h"
#include "sender.h"
#include "util.h"

#define WEBHOOK_SECRET_PREFIX "whsec_"
#define WEBHOOK_SECRET_BYTES 32
/* "whsec_" + url-safe base64 of 32 bytes (43) + NUL, with room to spare. */
#define WEBHOOK_SECRET_MAX 64
#define WEBHOOK_HOST_MAX 256
#define WEBHOOK_ERR_MAX 512
#define WEBHOOK_LOG_LIMIT_DEFAULT 50
#define WEBHOOK_LOG_LIMIT_MAX 200

static struct sql_stmt q_create =
    SQL_STMT("webhook_create", "select webhook_create($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_list = SQL_STMT("webhook_list", "select webhook_list($1, $2, $3)", 3);
static struct sql_stmt q_update =
    SQL_STMT("webhook_update", "select webhook_update($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_delete =
    SQL_STMT("webhook_delete", "select webhook_delete($1, $2, $3, $4)", 4);
static struct sql_stmt q_rotate =
    SQL_STMT("webhook_rotate_secret", "select webhook_rotate_secret($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_log =
    SQL_STMT("webhook_delivery_log", "select webhook_delivery_log($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_access =
    SQL_STMT("webhook_check_access", "select webhook_check_access($1, $2, $3, $4)", 4);
static struct sql_stmt q_claim = SQL_STMT("webhook_claim", "select webhook_claim($1, $2)", 2);
static struct sql_stmt q_mark =
    SQL_STMT("webhook_mark", "select webhook_mark($1, $2, $3, $4, $5, $6)", 6);

/* ---- pure helpers ---- */

void webhook_sign(const char *secret, long long timestamp, const char *body, size_t body_len,
                  char out[WEBHOOK_SIGNATURE_MAX])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char ts[24];
    int n = snprintf(ts, sizeof(ts), "%lld.", timestamp);

    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, body_len);
    crypto_auth_hmacsha256_final(&st, mac);
    memcpy(out, "v1=", 3);
    sodium_bin2hex(out + 3, WEBHOOK_SIGNATURE_MAX - 3, mac, sizeof(mac));
    sodium_memzero(&st, sizeof(st));
}

static bool ipv4_refused(const unsigned char *a)
{
    return a[0] == 0 ||                               /* 0.0.0.0/8 "this network" */
           a[0] == 10 || a[0] == 127 ||               /* private, loopback */
           (a[0] == 100 && (a[1] & 0xC0) == 64) ||    /* 100.64.0.0/10 carrier-grade NAT */
           (a[0] == 169 && a[1] == 254) ||            /* link-local, cloud metadata */
           (a[0] == 172 && (a[1] & 0xF0) == 16) ||    /* private */
           (a[0] == 192 && a[1] == 0 && a[2] == 0) || /* 192.0.0.0/24 protocol assignments */
           (a[0] == 192 && a[1] == 168) ||            /* private */
           (a[0] == 198 && (a[1] & 0xFE) == 18) ||    /* 198.18.0.0/15 benchmarking */
           a[0] >= 224;                               /* multicast 224/4, reserved 240/4 */
}

bool webhook_address_refused(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return ipv4_refused((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
    if (sa->sa_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
        static const unsigned char nat64[12] = {0, 0x64, 0xFF, 0x9B};
        static const unsigned char zero[12] = {0};
        /* Prefixes that carry an IPv4 address reach that address: it is judged as one. NAT64
         * (64:ff9b::/96) is how an IPv6-only host with DNS64 reaches every IPv4 site, so its
         * public addresses stay allowed; 6to4 (2002::/16) carries it in bits 16-47. */
        if (memcmp(a, mapped, sizeof(mapped)) == 0 || memcmp(a, nat64, sizeof(nat64)) == 0)
            return ipv4_refused(a + 12);
        if (a[0] == 0x20 && a[1] == 0x02)
            return ipv4_refused(a + 2);
        if (memcmp(a, zero, sizeof(zero)) == 0)
            return true; /* ::/96: ::, ::1 and the deprecated IPv4-compatible addresses */
        return (a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xFF && a[3] == 0x9B && a[4] == 0x00 &&
                a[5] == 0x01) || /* 64:ff9b:1::/48 local NAT64 */
               (a[0] == 0x01 && a[1] == 0x00 && !a[2] && !a[3] && !a[4] && !a[5] && !a[6] &&
                !a[7]) ||                                 /* 100::/64 discard */
               (a[0] & 0xFE) == 0xFC ||                   /* fc00::/7 unique local */
               (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) || /* fe80::/10 link-local */
               (a[0] == 0xFE && (a[1] & 0xC0) == 0xC0) || /* fec0::/10 old site-local */
               a[0] == 0xFF;                              /* multicast */
    }
    return true; /* anything else is no place to POST to */
}

/* ---- endpoints (handlers, loop thread) ---- */

enum url_verdict { URL_OK, URL_PRIVATE, URL_UNRESOLVED };

/* A request's state across the resolution on the I/O pool and the SQL call. */
struct hook_req {
    char host[WEBHOOK_HOST_MAX];
    enum url_verdict verdict;
    const char *store, *id;          /* path ids, valid for the request's life */
    bool rotate;                     /* the SQL call is webhook_rotate_secret, not create/update */
    char secret[WEBHOOK_SECRET_MAX]; /* in clear, for the one reply that shows it */
    char *sealed;
    char *url_sealed; /* the body's url, sealed: it may carry the receiver's own secret */
};

static void hook_req_free(void *p)
{
    struct hook_req *h = p;
    if (!h)
        return;
    sodium_memzero(h->secret, sizeof(h->secret));
    free(h->sealed);
    free(h->url_sealed);
    free(h);
}

static struct hook_req *hook_state(struct req *r)
{
    struct hook_req *h = calloc(1, sizeof(*h));
    if (!h) {
        http_reply_oom(r);
        return NULL;
    }
    r->state = h;
    r->state_free = hook_req_free;
    return h;
}

/*
 * Checks the body's url member, when it is text, in what carnetd owns of it: it parses, it is
 * https without credentials, and when the host is an address literal that address is allowed.
 * Copies the host name into h->host when it must still be resolved. false after replying; a
 * missing or non-text url is left to SQL, which says what it needs.
 */
static bool url_check(struct req *r, struct hook_req *h)
{
    const char *url = json_string_value(json_object_get(r->json, "url"));
    CURLU *u;
    char *scheme = NULL, *host = NULL, *user = NULL;
    bool ok = false;
    unsigned char buf[sizeof(struct in6_addr)];

    if (!url)
        return true;
    if (!(u = curl_url())) {
        http_reply_oom(r);
        return false;
    }
    if (strlen(url) > 2000 || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host[0]) {
        http_reply_error(r, 422, "invalid", "url", "an https:// URL is required");
        goto out;
    }
    if (strcmp(scheme, "http") == 0) {
        http_reply_error(r, 422, "not_https", "url", "webhooks are delivered over https:// only");
        goto out;
    }
    if (strcmp(scheme, "https") != 0 || curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK ||
        strlen(host) >= sizeof(h->host)) {
        http_reply_error(r, 422, "invalid", "url",
                         "an https:// URL is required, without a user name or password");
        goto out;
    }
    ok = true;
    if (config.webhook_allow_private)
        goto out;
    /* An address literal is judged here; IPv6 literals come bracketed. */
    snprintf(h->host, sizeof(h->host), "%s", host);
    if (h->host[0] == '[') {
        size_t n = strlen(h->host);
        memmove(h->host, h->host + 1, n - 1);
        h->host[n - 2] = '\0';
    }
    struct sockaddr_in sin = {.sin_family = AF_INET};
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, h->host, buf) == 1) {
        memcpy(&sin.sin_addr, buf, sizeof(sin.sin_addr));
        h->verdict = webhook_address_refused((struct sockaddr *)&sin) ? URL_PRIVATE : URL_OK;
        h->host[0] = '\0';
    } else if (inet_pton(AF_INET6, h->host, buf) == 1) {
        memcpy(&sin6.sin6_addr, buf, sizeof(sin6.sin6_addr));
        h->verdict = webhook_address_refused((struct sockaddr *)&sin6) ? URL_PRIVATE : URL_OK;
        h->host[0] = '\0';
    }
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return ok;
}

/* Resolve pool (getaddrinfo blocks for as long as DNS takes: not on the loop, not beside the
 * customer messages, not behind sends that hang): resolves h->host; any refused address refuses
 * the URL. */
static void resolve_work(void *p)
{
    struct hook_req *h = p;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL, *ai;

    if (getaddrinfo(h->host, "443", &hints, &res) != 0 || !res) {
        h->verdict = URL_UNRESOLVED;
        return;
    }
    h->verdict = URL_OK;
    for (ai = res; ai; ai = ai->ai_next)
        if (webhook_address_refused(ai->ai_addr))
            h->verdict = URL_PRIVATE;
    freeaddrinfo(res);
}

/* A fresh secret in h->secret and sealed in h->sealed; false after replying. */
static bool new_secret(struct req *r, struct hook_req *h)
{
    memcpy(h->secret, WEBHOOK_SECRET_PREFIX, strlen(WEBHOOK_SECRET_PREFIX));
    util_random_token(h->secret + strlen(WEBHOOK_SECRET_PREFIX),
                      sizeof(h->secret) - strlen(WEBHOOK_SECRET_PREFIX), WEBHOOK_SECRET_BYTES);
    if (!(h->sealed = seal_pd(h->secret))) {
        http_reply_oom(r);
        return false;
    }
    return true;
}

/* The endpoint SQL answered, with the secret it was given, in clear, this once. */
static void on_with_secret(struct req *r, const struct db_result *res)
{
    struct hook_req *h = r->state;
    json_t *j = api_result_object(r, res);
    char *text;

    if (!j)
        return;
    json_object_set_new(j, "secret", json_string(h->secret));
    /* The URL as given, this once too: lists show it masked (webhook_url_shown). */
    if (!h->rotate)
        json_object_set(j, "url", json_object_get(r->json, "url"));
    text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text) {
        http_reply_oom(r);
        return;
    }
    http_reply_json(r, h->rotate ? 200 : 201, text, strlen(text));
    sodium_memzero(text, strlen(text));
    free(text);
}

/* The URL is judged (or needs no judging): on to SQL. */
static void url_judged(struct req *r)
{
    struct hook_req *h = r->state;

    if (h->verdict == URL_PRIVATE) {
        http_reply_error(r, 422, "private_address", "url",
                         "this host is a loopback, private or link-local address");
        return;
    }
    if (h->verdict == URL_UNRESOLVED) {
        http_reply_error(r, 422, "unresolvable", "url", "this host name does not resolve");
        return;
    }
    /* A url that is not text is left to SQL, which says what it needs. */
    const char *url = json_string_value(json_object_get(r->json, "url"));
    if (url && !(h->url_sealed = seal_pd(url))) {
        http_reply_oom(r);
        return;
    }
    if (h->id) {
        const char *params[6] = {r->who.staff_id, r->id,       h->store,
                                 h->id,           api_body(r), h->url_sealed};
        api_send(r, &q_update, params, 200);
        return;
    }
    if (!new_secret(r, h))
        return;
    const char *params[6] = {r->who.staff_id, r->id,     h->store,
                             api_body(r),     h->sealed, h->url_sealed};
    api_call(r, &q_create, params, on_with_secret);
}

/* The caller may save here: check the URL, resolve it when needed, then SQL. */
static void on_access(struct req *r, const struct db_result *res)
{
    struct hook_req *h = r->state;

    if (res->status != DB_OK) {
        api_reply_result(r, 200, res);
        return;
    }
    if (!url_check(r, h))
        return;
    if (h->host[0])
        api_offload(r, WORKER_RESOLVE, resolve_work, url_judged);
    else
        url_judged(r);
}

/* Create (id NULL) or update. The store and the endpoint are checked first: a caller who may
 * not see them learns nothing of what carnetd would say of the URL (its host's resolution). */
static void save(struct req *r, const char *id)
{
    const char *store = api_path_id(r, "store");
    struct hook_req *h;

    if (!store || !api_need_body(r))
        return;
    if (!(h = hook_state(r)))
        return;
    h->store = store;
    h->id = id;
    const char *params[4] = {r->who.staff_id, r->id, store, id};
    api_call(r, &q_access, params, on_access);
}

void webhook_create(struct req *r)
{
    save(r, NULL);
}

void webhook_update(struct req *r)
{
    const char *store = api_path_id(r, "store"), *id = store ? api_path_id(r, "id") : NULL;

    if (id)
        save(r, id);
}

void webhook_list(struct req *r)
{
    const char *store = api_path_id(r, "store");

    if (!store)
        return;
    const char *params[3] = {r->who.staff_id, r->id, store};
    api_send(r, &q_list, params, 200);
}

void webhook_delete(struct req *r)
{
    const char *store = api_path_id(r, "store"), *id = store ? api_path_id(r, "id") : NULL;

    if (!id)
        return;
    const char *params[4] = {r->who.staff_id, r->id, store, id};
    api_send(r, &q_delete, params, 200);
}

void webhook_rotate_secret(struct req *r)
{
    const char *store = api_path_id(r, "store"), *id = store ? api_path_id(r, "id") : NULL;
    struct hook_req *h;

    if (!id || !(h = hook_state(r)) || !new_secret(r, h))
        return;
    h->rotate = true;
    const char *params[5] = {r->who.staff_id, r->id, store, id, h->sealed};
    api_call(r, &q_rotate, params, on_with_secret);
}

void webhook_deliveries(struct req *r)
{
    const char *store = api_path_id(r, "store"), *id = store ? api_path_id(r, "id") : NULL;
    char limit[24];

    if (!id ||
        !api_query_int(r, "limit", 1, WEBHOOK_LOG_LIMIT_MAX, WEBHOOK_LOG_LIMIT_DEFAULT, limit))
        return;
    const char *params[5] = {r->who.staff_id, r->id, store, id, limit};
    api_send(r, &q_log, params, 200);
}

/* ---- delivery: sends (worker threads) ---- */

/* One claimed delivery; owned by the round from the claim until its try is recorded. */
struct delivery {
    char id[24];
    char claim[40];
    char event_id[40];
    char *type, *url, *secret, *body; /* url and secret sealed */
    int attempt;
    /* outcome, written by the worker thread */
    long status_code; /* 0: no HTTP answer */
    long duration_ms;
    bool failed;
    char error[WEBHOOK_ERR_MAX];
};

static struct sender wh_sender; /* its ops are set below, where the functions they name are */
/* Deliveries pending or being sent, as the last claim saw them. */
static long long wh_backlog;

static void delivery_free(struct delivery *d)
{
    if (!d)
        return;
    free(d->type);
    util_wipe_free(d->url);
    util_wipe_free(d->secret);
    free(d->body);
    free(d);
}

/* libcurl opens each connection through here: the last word on where a webhook may go. */
static curl_socket_t open_checked(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    bool *refused = arg;
    (void)purpose;
    if (!config.webhook_allow_private && webhook_address_refused(&a->addr)) {
        *refused = true;
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static void delivery_send(void *arg)
{
    struct delivery *d = arg;
    CURL *c = NULL;
    struct curl_slist *hdrs = NULL;
    char *secret = NULL, *url = NULL, err[160] = "", errbuf[CURL_ERROR_SIZE] = "";
    char sig[WEBHOOK_SIGNATURE_MAX], line[160];
    long long ts = (long long)time(NULL);
    int64_t start = util_now_us();
    bool refused = false, ok = true;
    CURLcode rc;

    d->failed = true;
    if (sender_cancelled(&wh_sender)) {
        snprintf(d->error, sizeof(d->error), "not sent: carnetd is stopping");
        return;
    }
    if (!(secret = seal_open_text(d->secret, err, sizeof(err)))) {
        snprintf(d->error, sizeof(d->error), "cannot open the signing secret: %s", err);
        return;
    }
    webhook_sign(secret, ts, d->body, strlen(d->body), sig);
    util_wipe_free(secret);
    if (!(url = seal_open_text(d->url, err, sizeof(err)))) {
        snprintf(d->error, sizeof(d->error), "cannot open the URL: %s", err);
        return;
    }
    /* curl_slist_append answers NULL on failure and leaves the list as it was: the list so far
     * is kept in hdrs (freed at out) and ok says whether every header made it. */
#define HDR(...)                                                                                   \
    do {                                                                                           \
        struct curl_slist *more;                                                                   \
        snprintf(line, sizeof(line), __VA_ARGS__);                                                 \
        if (ok && (more = curl_slist_append(hdrs, line)))                                          \
            hdrs = more;                                                                           \
        else                                                                                       \
            ok = false;                                                                            \
    } while (0)
    HDR("Content-Type: application/json");
    HDR("User-Agent: Carnet-Webhook/1");
    HDR("Carnet-Webhook-Id: %s", d->event_id);
    HDR("Carnet-Event: %s", d->type);
    HDR("Carnet-Timestamp: %lld", ts);
    HDR("Carnet-Signature: %s", sig);
    HDR("Carnet-Delivery-Attempt: %d", d->attempt);
#undef HDR
    c = curl_easy_init();
    if (!c || !ok) {
        snprintf(d->error, sizeof(d->error), "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* No proxy from the environment: the address check below must see the receiver's. */
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    /* --webhook-ca replaces the system's CAs: libcurl's default CA directory (Debian builds it
     * with /etc/ssl/certs) would otherwise still be trusted beside the file. */
    if (config.webhook_ca[0]) {
        curl_easy_setopt(c, CURLOPT_CAINFO, config.webhook_ca);
        curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sender_discard);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_checked);
    curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &refused);
    sender_bounds(c, &wh_sender, (long)config.webhook_timeout_s, errbuf);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &d->status_code);
    if (refused)
        snprintf(d->error, sizeof(d->error),
                 "refused: the host resolves to a loopback, private or link-local address");
    else if (rc == CURLE_ABORTED_BY_CALLBACK)
        snprintf(d->error, sizeof(d->error), "cancelled: carnetd is stopping");
    else if (rc != CURLE_OK)
        snprintf(d->error, sizeof(d->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (d->status_code < 200 || d->status_code > 299)
        snprintf(d->error, sizeof(d->error), "HTTP %ld", d->status_code);
    else
        d->failed = false;
out:
    d->duration_ms = (long)((util_now_us() - start) / 1000);
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    util_wipe_free(url);
}

/* ---- delivery: the round (loop thread) ---- */

static void on_marked(const struct db_result *res, void *arg)
{
    struct delivery *d = arg;

    switch (sender_marked(&wh_sender, res)) {
    case SENDER_UNRECORDED:
        /* The lease ran out, the endpoint went, or the pool failed: the row (if any) goes
         * again when its lease expires. */
        log_warning("webhook: the try of delivery %s was not recorded", d->id);
        break;
    case SENDER_DONE:
        log_info("webhook: delivery %s (%s) delivered, HTTP %ld in %ld ms", d->id, d->type,
                 d->status_code, d->duration_ms);
        break;
    case SENDER_FAILED:
        log_warning("webhook: delivery %s (%s) failed for good after %d tries: %s", d->id, d->type,
                    d->attempt, d->error);
        break;
    default:
        log_info("webhook: delivery %s (%s) will be retried: %s", d->id, d->type, d->error);
    }
    delivery_free(d);
    sender_item_done(&wh_sender);
}

static void delivery_sent(void *arg)
{
    struct delivery *d = arg;
    char code[24], ms[24], backoff[24];
    const char *params[6];

    snprintf(code, sizeof(code), "%ld", d->status_code);
    snprintf(ms, sizeof(ms), "%ld", d->duration_ms);
    snprintf(backoff, sizeof(backoff), "%d", config.webhook_backoff_ms);
    params[0] = d->id;
    params[1] = d->claim;
    params[2] = d->status_code ? code : NULL;
    params[3] = d->failed ? d->error : NULL;
    params[4] = ms;
    params[5] = backoff;
    db_query(&q_mark, params, on_marked, d);
}

static void *delivery_from_json(json_t *o)
{
    struct delivery *d = calloc(1, sizeof(*d));
    const char *claim = json_string_value(json_object_get(o, "claim"));
    const char *event = json_string_value(json_object_get(o, "event_id"));

    if (!d)
        return NULL;
    snprintf(d->id, sizeof(d->id), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(o, "id")));
    snprintf(d->claim, sizeof(d->claim), "%s", claim ? claim : "");
    snprintf(d->event_id, sizeof(d->event_id), "%s", event ? event : "");
    d->attempt = (int)json_integer_value(json_object_get(o, "attempt"));
    d->type = sender_dup_field(o, "type");
    d->url = sender_dup_field(o, "url");
    d->secret = sender_dup_field(o, "secret");
    d->body = sender_dup_field(o, "body");
    if (!d->type || !d->url || !d->secret || !d->body) {
        delivery_free(d);
        return NULL;
    }
    return d;
}

static void delivery_free_item(void *d)
{
    delivery_free(d);
}

/* webhook_claim answers {backlog, deliveries}: the backlog is the metrics' gauge. */
static json_t *claimed_deliveries(json_t *answer)
{
    wh_backlog = json_integer_value(json_object_get(answer, "backlog"));
    return json_object_get(answer, "deliveries");
}

static const struct sender_ops wh_ops = {
    .name = "webhook",
    .done_status = "delivered",
    .metric_help = "Outcomes of webhook tries by this process.",
    .claim = &q_claim,
    .batch = &config.webhook_batch,
    .lease = &config.outbox_lease_s,
    .items = claimed_deliveries,
    .item_new = delivery_from_json,
    .item_free = delivery_free_item,
    .pool = WORKER_WEBHOOK,
    .send = delivery_send,
    .sent = delivery_sent,
};

static struct sender wh_sender = {.ops = &wh_ops};

int webhook_init(struct event_base *base)
{
    if (sender_start(&wh_sender, base, config.webhook_interval_ms) < 0)
        return -1;
    if (config.webhook_allow_private)
        log_warning("webhook: --webhook-allow-private: endpoints may reach private addresses");
    return 0;
}

void webhook_stop(void)
{
    sender_stop(&wh_sender);
}

void webhook_free(void)
{
    sender_free(&wh_sender);
}

void webhook_metrics_render(struct evbuffer *out)
{
    sender_metrics_render(&wh_sender, out);
    evbuffer_add_printf(out,
                        "# HELP carnet_webhook_backlog Webhook deliveries pending or being sent, "
                        "at this process's last claim.\n"
                        "# TYPE carnet_webhook_backlog gauge\n"
                        "carnet_webhook_backlog %lld\n",
                        wh_backlog);
}
