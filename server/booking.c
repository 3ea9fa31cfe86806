/*
 * booking: the HTTP side of appointments. Each handler checks what HTTP owns (path ids, the
 * link's format, a body) with the kit, then makes one call to a booking_* SQL function with the
 * body as received; SQL is the transaction and keeps the invariants (slot on the grid, staff on
 * shift, no double booking by exclusion constraint, a booking lock per staff member and half
 * hour, never per store). The exception is a customer's booking, whose contact and serial C
 * still checks and normalises (booking_input) because booking_create_do stores them as given.
 *
 * Customer links: the manage link is minted and checked by link.c; PostgreSQL stores only its
 * hash. Idempotent booking (Idempotency-Key): SQL remembers the first reply per key; a success's
 * token is kept only sealed with a key derived from the Idempotency-Key and the data key, which
 * the database never sees, so a retry gets the same link back and a copy of the database opens
 * nothing, even for a key that is easy to guess. (A retry that reaches a carnetd under a new
 * data key, after a rotation, is a new request.) The
 * token itself also goes to SQL once, for the confirmation message that carries the link (the
 * outbox keeps a message until it is delivered).
 *
 * Personal data (seal.h): the customer's name, email and phone reach SQL only sealed, with the
 * blind indexes of email and phone and the name's initial computed here; so C checks them
 * (booking_input), and the request's fingerprint for an idempotent retry is a keyed hash of the
 * clear body that C computes too (a sealed body differs at every try).
 */
#include "booking.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdint.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "availcache.h"
#include "config.h"
#include "http.h"
#include "link.h"
#include "seal.h"
#include "log.h"
#include "pglisten.h"
#include "util.h"

#define NAME_MAX_CHARS 200
#define EMAIL_MAX 254
#define SERIAL_MIN 5
#define SERIAL_MAX 32
#define IMEI_DIGITS 15
#define PROBLEM_MAX_CHARS 2000
/* booking_max_days() in schema/api/booking.sql: the longest range the month view answers. */
#define AVAIL_MAX_DAYS 42

static struct sql_stmt q_stores = SQL_STMT("booking_stores", "select booking_list_stores()", 0);
static struct sql_stmt q_store = SQL_STMT("booking_store", "select booking_store_detail($1)", 1);
static struct sql_stmt q_shifts =
    SQL_STMT("booking_shifts", "select booking_shifts($1, $2, $3, $4)", 4);
static struct sql_stmt q_delete_shift =
    SQL_STMT("booking_delete_shift", "select booking_delete_shift($1, $2, $3, $4)", 4);
static struct sql_stmt q_services =
    SQL_STMT("booking_services", "select booking_list_services($1)", 1);
static struct sql_stmt q_availability =
    SQL_STMT("booking_availability", "select booking_availability($1, $2, $3, $4)", 4);
static struct sql_stmt q_availability_days =
    SQL_STMT("booking_availability_days",
             "select local_day, body, first_start, timezone "
             "from booking_availability_days($1, $2, $3, $4)",
             4);
static struct sql_stmt q_create =
    SQL_STMT("booking_create", "select booking_create($1, $2, $3, $4, $5, $6, $7, $8)", 8);
static struct sql_stmt q_manage_get =
    SQL_STMT("booking_manage_get", "select booking_manage_get($1)", 1);
static struct sql_stmt q_manage_reschedule =
    SQL_STMT("booking_manage_reschedule", "select booking_manage_reschedule($1, $2)", 2);
static struct sql_stmt q_manage_cancel =
    SQL_STMT("booking_manage_cancel", "select booking_manage_cancel($1)", 1);
static struct sql_stmt q_day = SQL_STMT("booking_day", "select booking_day($1, $2, $3, $4)", 4);
static struct sql_stmt q_staff_reschedule =
    SQL_STMT("booking_staff_reschedule", "select booking_staff_reschedule($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_staff_cancel =
    SQL_STMT("booking_staff_cancel", "select booking_staff_cancel($1, $2, $3, $4)", 4);
static struct sql_stmt q_set_hours =
    SQL_STMT("booking_set_hours", "select booking_set_hours($1, $2, $3, $4)", 4);
static struct sql_stmt q_add_closure =
    SQL_STMT("booking_add_closure", "select booking_add_closure($1, $2, $3, $4)", 4);
static struct sql_stmt q_add_service =
    SQL_STMT("booking_add_service", "select booking_add_service($1, $2, $3, $4)", 4);
static struct sql_stmt q_set_skills =
    SQL_STMT("booking_set_skills", "select booking_set_skills($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_add_shift =
    SQL_STMT("booking_add_shift", "select booking_add_shift($1, $2, $3, $4)", 4);

const char *appointment_state_name(enum appointment_state s)
{
    switch (s) {
    case APPT_BOOKED:
        return "booked";
    case APPT_CHECKED_IN:
        return "checked_in";
    case APPT_IN_SERVICE:
        return "in_service";
    case APPT_DONE:
        return "done";
    case APPT_CANCELLED:
        return "cancelled";
    case APPT_NO_SHOW:
        return "no_show";
    }
    return "unknown";
}

/* ---- input checks ---- */

/* Characters, not bytes: UTF-8 continuation bytes do not count. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static bool all_space(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* Deliberately simple: local@domain.tld, printable ASCII, no spaces, a dot in the domain whose
 * labels do not start or end with '-' or '.'. Anything stricter rejects real addresses. */
bool booking_email_ok(const char *email)
{
    const char *at = strchr(email, '@');
    const char *dom, *p;
    size_t len = strlen(email);

    if (len < 3 || len > EMAIL_MAX || !at || at == email || strchr(at + 1, '@'))
        return false;
    for (p = email; p < at; p++)
        if (!isgraph((unsigned char)*p) || strchr("()<>,;:\\\"[]", *p))
            return false;
    dom = at + 1;
    if (!*dom || !strchr(dom, '.') || dom[0] == '.' || dom[0] == '-' || email[len - 1] == '.' ||
        email[len - 1] == '-' || strstr(dom, ".."))
        return false;
    for (p = dom; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return false;
    return true;
}

static bool luhn_ok(const char *digits)
{
    size_t len = strlen(digits);
    int sum = 0;
    for (size_t i = 0; i < len; i++) {
        int d = digits[len - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9)
                d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

/* Trimmed, upper-case, no spaces; 5 to 32 letters and digits; 15 digits is an IMEI and must
 * pass its Luhn check. */
bool booking_serial_normalise(const char *in, char *out, size_t outlen)
{
    size_t n = 0;
    bool digits_only = true;

    if (outlen == 0)
        return false;
    for (const char *p = in; *p; p++) {
        if (isspace((unsigned char)*p))
            continue;
        if (!isalnum((unsigned char)*p) || n + 1 >= outlen || n >= SERIAL_MAX)
            return false;
        if (!isdigit((unsigned char)*p))
            digits_only = false;
        out[n++] = (char)toupper((unsigned char)*p);
    }
    out[n] = '\0';
    if (n < SERIAL_MIN)
        return false;
    return !(digits_only && n == IMEI_DIGITS) || luhn_ok(out);
}

/* ---- the shapes of staff calls ---- */

/* Staff calls: (actor, store, body, request id) -> one function, `status` on success. */
static void staff_call(struct req *r, struct sql_stmt *stmt, int status)
{
    const char *store = api_path_id(r, "store");
    if (!store || !api_need_body(r))
        return;
    const char *params[4] = {r->who.staff_id, store, api_body(r), r->id};
    api_send(r, stmt, params, status);
}

/* ---- public reads ---- */

void booking_stores_list(struct req *r)
{
    api_send(r, &q_stores, NULL, 200);
}

void booking_store_get(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[1] = {store};
    if (store)
        api_send(r, &q_store, params, 200);
}

void booking_services_list(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[1] = {store};
    if (store)
        api_send(r, &q_services, params, 200);
}

/*
 * The month view, cached (availcache.h) while the carnet_avail notifications (046) reach us:
 * an answer is put together from the cached days when all are there, else every day of the
 * range is computed once more (booking_availability_days) and kept; the answer itself is kept
 * whole too, so a repeated month view is one lookup and no copy. Requests the cache does
 * not take as they are (a leading zero, a range it would not parse the same way) go to
 * booking_availability, which answers them, errors included. Nothing in this answer depends on
 * who asks.
 */
struct avail_req {
    int64_t store, service;
    int32_t from, to;
    uint64_t stamp;
};

static bool avail_id(const char *s, int64_t *out)
{
    char *end;
    if (!s || s[0] < '1' || s[0] > '9' || strlen(s) > 18)
        return false;
    long long v = strtoll(s, &end, 10);
    *out = v;
    return *end == '\0';
}

/* The wall clock, against the epochs of slots that PostgreSQL's now() passes (this machine's
 * clock and the database's are assumed to agree, as NTP keeps them). */
static double avail_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void avail_body_sent(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    availcache_body_release(arg);
}

/* By reference: the body's bytes go from the cache to the socket without another copy. */
static void avail_send(struct req *r, struct availcache_body *body)
{
    struct evbuffer *b = evbuffer_new();

    if (!b) {
        http_reply_oom(r);
        return;
    }
    availcache_body_hold(body);
    if (evbuffer_add_reference(b, body->data, body->len, avail_body_sent, body) < 0) {
        availcache_body_release(body);
        evbuffer_free(b);
        http_reply_oom(r);
        return;
    }
    http_reply_buffer(r, 200, "application/json; charset=utf-8", b);
    evbuffer_free(b);
}

/* The reply as booking_availability writes it, from the time zone and the days' texts (NULL
 * ones left out), kept whole (with `keep`) until one of its days is dropped or `expires`. The
 * ids and dates are the request's own texts, which booking_availability found canonical (no
 * leading zero, strict dates), so the key says the bytes. */
static void avail_reply(struct req *r, const struct avail_req *a, const char *store,
                        const char *service, const char *from, const char *to, const char *tz,
                        size_t tzlen, const char *const *days, const size_t *lens, int n,
                        double expires, bool keep)
{
    char head[128], mid[160];
    int hl = snprintf(head, sizeof(head), "{\"store_id\" : %s, \"timezone\" : ", store);
    int ml =
        snprintf(mid, sizeof(mid),
                 ", \"service_id\" : %s, \"from\" : \"%s\", \"to\" : \"%s\", \"days\" : ", service,
                 from, to);
    size_t len, k = 0;

    if (hl < 0 || ml < 0 || (size_t)hl >= sizeof(head) || (size_t)ml >= sizeof(mid)) {
        http_reply_error(r, 500, "internal", NULL, "month view: request texts too long");
        return;
    }
    len = (size_t)hl + tzlen + (size_t)ml + 1;
    for (int i = 0; i < n; i++)
        if (days[i]) {
            len += lens[i] + (k ? 2 : 0);
            k++;
        }
    len += 2; /* "]}", the "[" counted above */
    struct availcache_body *body = availcache_body_new(len);
    if (!body) {
        http_reply_oom(r);
        return;
    }
    char *p = body->data;
    memcpy(p, head, (size_t)hl);
    p += hl;
    memcpy(p, tz, tzlen);
    p += tzlen;
    memcpy(p, mid, (size_t)ml);
    p += ml;
    *p++ = '[';
    k = 0;
    for (int i = 0; i < n; i++) {
        if (!days[i])
            continue;
        if (k++) {
            *p++ = ',';
            *p++ = ' ';
        }
        memcpy(p, days[i], lens[i]);
        p += lens[i];
    }
    *p++ = ']';
    *p++ = '}';
    if (keep)
        availcache_reply_put(a->store, a->service, a->from, a->to, body, expires, a->stamp);
    avail_send(r, body);
    availcache_body_release(body);
}

/* The earliest of two expiries (0: never). */
static double avail_earliest(double x, double y)
{
    return x <= 0 ? y : y <= 0 || x < y ? x : y;
}

static void on_availability_days(struct req *r, const struct db_result *res)
{
    struct avail_req *a = r->state;
    int n = db_rows(res);
    const char *days[AVAIL_MAX_DAYS];
    size_t lens[AVAIL_MAX_DAYS];

    if (res->status != DB_OK || n < 1 || n > AVAIL_MAX_DAYS || db_cols(res) < 4 ||
        db_isnull(res, 0, 3)) {
        api_reply_result(r, 200, res);
        return;
    }
    /* Kept only when nothing of the store was dropped since the query left, and while the
     * notifications of what changes it reach us. */
    bool keep = pglisten_ready();
    if (keep)
        availcache_put(a->store, a->service, AVAILCACHE_HEAD_DAY, db_value(res, 0, 3),
                       (size_t)db_length(res, 0, 3), 0, a->stamp);
    double expires = 0;
    for (int i = 0; i < n; i++) {
        days[i] = db_isnull(res, i, 1) ? NULL : db_value(res, i, 1);
        lens[i] = days[i] ? (size_t)db_length(res, i, 1) : 0;
        double e = db_isnull(res, i, 2) ? 0 : strtod(db_value(res, i, 2), NULL);
        expires = avail_earliest(expires, e);
        if (keep)
            availcache_put(a->store, a->service, a->from + i, days[i], lens[i], e, a->stamp);
    }
    /* Whole only when it has every day of the range (as a hit does). */
    avail_reply(r, a, api_path_id(r, "store"), http_query(r, "service"), http_query(r, "from"),
                http_query(r, "to"), db_value(res, 0, 3), (size_t)db_length(res, 0, 3), days, lens,
                n, expires, keep && n == a->to - a->from + 1);
}

void booking_availability(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[4];
    struct avail_req a;

    if (!store)
        return;
    params[0] = store;
    params[1] = http_query(r, "service");
    params[2] = http_query(r, "from");
    params[3] = http_query(r, "to");
    /* Notifications already on the listener's socket are read first: a change committed
     * before this request came (the customer's own booking, say) has been announced by then. */
    if (availcache_on())
        pglisten_drain();
    if (!availcache_on() || !pglisten_ready() || !avail_id(store, &a.store) ||
        !avail_id(params[1], &a.service) || !availcache_parse_day(params[2], &a.from) ||
        !availcache_parse_day(params[3], &a.to) || a.to < a.from ||
        a.to - a.from >= AVAIL_MAX_DAYS) {
        /* Not cached: may be read from a standby (db_query_read; its lag is bounded). Fills of
         * the cache stay on the primary, whose notifications say what they may hold. */
        api_send_read(r, &q_availability, params);
        return;
    }
    /* The reply kept whole, else put together when every day is there. */
    double now = avail_now();
    struct availcache_body *kept = availcache_reply_get(a.store, a.service, a.from, a.to, now);
    if (kept) {
        avail_send(r, kept);
        return;
    }
    const char *days[AVAIL_MAX_DAYS];
    size_t lens[AVAIL_MAX_DAYS], tzlen;
    bool found;
    double expires, e;
    a.stamp = availcache_stamp(a.store);
    const char *tz =
        availcache_get(a.store, a.service, AVAILCACHE_HEAD_DAY, now, &tzlen, &found, &expires);
    int n = a.to - a.from + 1;
    for (int i = 0; tz && i < n; i++) {
        days[i] = availcache_get(a.store, a.service, a.from + i, now, &lens[i], &found, &e);
        if (!found) {
            tz = NULL;
            break;
        }
        expires = avail_earliest(expires, e);
    }
    if (tz) {
        avail_reply(r, &a, store, params[1], params[2], params[3], tz, tzlen, days, lens, n,
                    expires, true);
        return;
    }
    struct avail_req *st = malloc(sizeof *st);
    if (!st) {
        http_reply_oom(r);
        return;
    }
    a.stamp = availcache_stamp(a.store);
    *st = a;
    r->state = st;
    r->state_free = free;
    api_call(r, &q_availability_days, params, on_availability_days);
}

/* carnet_avail: "<store>" or "<store> <first day> <last day>" (046). */
/* A booking changed through this carnetd: its own month views are dropped at once, before the
 * reply leaves, so the customer's next look never meets the entry from before (other carnetd
 * drop theirs when the notification arrives, a few milliseconds later). A link's change names
 * no store in its path: every store's entries go then (a cancellation is rare beside reads). */
static void avail_changed_here(struct req *r)
{
    const char *store = router_param(&r->match, "store");
    int64_t id;

    if (!availcache_on())
        return;
    if (store && avail_id(store, &id))
        availcache_drop(id, INT32_MIN, INT32_MAX, true);
    else
        availcache_clear();
}

static void on_booking_changed(struct req *r, const struct db_result *res)
{
    if (res->status == DB_OK)
        avail_changed_here(r);
    api_reply_result(r, 200, res);
}

static void on_avail_notified(const char *payload, void *arg)
{
    char id[24], d1[16], d2[16];
    int64_t store;
    int32_t from, to;
    (void)arg;

    int k = sscanf(payload, "%23s %15s %15s", id, d1, d2);
    if (k < 1 || !avail_id(id, &store)) {
        availcache_clear();
        return;
    }
    if (k == 3 && availcache_parse_day(d1, &from) && availcache_parse_day(d2, &to))
        availcache_drop(store, from, to, false);
    else
        availcache_drop(store, INT32_MIN, INT32_MAX, true);
}

/* (Re)subscribed: what changed while nobody listened is unknown. */
static void on_avail_subscribed(void *arg)
{
    (void)arg;
    availcache_clear();
}

int booking_init(void)
{
    static const struct pglisten_ops ops = {.subscribed = on_avail_subscribed,
                                            .notified = on_avail_notified};
    if (availcache_init((size_t)config.avail_cache_mb << 20) < 0)
        return -1;
    return config.avail_cache_mb ? pglisten_add("carnet_avail", &ops, NULL) : 0;
}

/* ---- booking ---- */

/* A booking in flight: its manage link, and with an Idempotency-Key the key that seals it. */
struct booking_ctx {
    struct link link;
    unsigned char seal_key[crypto_secretbox_KEYBYTES];
};

static void booking_ctx_free(void *p)
{
    struct booking_ctx *b = p;
    sodium_memzero(b, sizeof(*b));
    free(b);
}

/* Hex of nonce || secretbox(token) under b->seal_key, malloc'd (caller frees), or NULL. */
static char *seal_token(const struct booking_ctx *b)
{
    size_t tlen = strlen(b->link.token);
    size_t blen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + tlen;
    unsigned char *box = malloc(blen);
    char *hex = malloc(blen * 2 + 1);

    if (!box || !hex)
        goto fail;
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, (const unsigned char *)b->link.token,
                          tlen, box, b->seal_key);
    sodium_bin2hex(hex, blen * 2 + 1, box, blen);
    free(box);
    return hex;
fail:
    free(box);
    free(hex);
    return NULL;
}

/* Opens what seal_token made into `out`; -1 when it does not open with this key. */
static int unseal_token(const struct booking_ctx *b, const char *hex, char *out, size_t outlen)
{
    unsigned char box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + LINK_TOKEN_LEN];
    size_t blen = 0;

    if (sodium_hex2bin(box, sizeof(box), hex, strlen(hex), NULL, &blen, NULL) < 0 ||
        blen <= crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return -1;
    if (blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES >= outlen)
        return -1;
    if (crypto_secretbox_open_easy((unsigned char *)out, box + crypto_secretbox_NONCEBYTES,
                                   blen - crypto_secretbox_NONCEBYTES, box, b->seal_key) < 0)
        return -1;
    out[blen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES] = '\0';
    return 0;
}

/* SQL answers {"status", "body", "sealed"?, "replayed"?}, and a success gets the link added; or
 * {"error": {"sqlstate", "message", "detail", "hint", "constraint"}} for a failure it stored. */
static void on_booked(struct req *r, const struct db_result *res)
{
    struct booking_ctx *b = r->state;
    json_t *env, *body, *err;
    const char *sealed;
    char token[LINK_TOKEN_LEN + 1];
    char *url = NULL;
    int status;

    if (res->status != DB_OK || db_isnull(res, 0, 0)) {
        api_reply_db_error(r, res);
        return;
    }
    env = api_result_json(r, res);
    err = env ? json_object_get(env, "error") : NULL;
    if (json_is_object(err)) {
        /* The first answer of an idempotent request that failed: stored, so not raised. */
        api_reply_sql_error(r, json_string_value(json_object_get(err, "sqlstate")),
                            json_string_value(json_object_get(err, "message")),
                            json_string_value(json_object_get(err, "detail")),
                            json_string_value(json_object_get(err, "hint")),
                            json_string_value(json_object_get(err, "constraint")));
        goto out;
    }
    body = env ? json_object_get(env, "body") : NULL;
    status = env ? (int)json_integer_value(json_object_get(env, "status")) : 0;
    if (!body || status < 200) {
        http_reply_error(r, 500, "internal", NULL, "unexpected booking result");
        goto out;
    }
    json_incref(body);
    if (json_is_true(json_object_get(env, "replayed")))
        http_add_header(r, "Idempotent-Replayed", "true");
    if (status == 201) {
        avail_changed_here(r);
        sealed = json_string_value(json_object_get(env, "sealed"));
        snprintf(token, sizeof(token), "%s", b->link.token);
        if (sealed && unseal_token(b, sealed, token, sizeof(token)) < 0) {
            json_decref(body);
            http_reply_error(r, 500, "internal", NULL, "stored booking link does not open");
            goto out;
        }
        if (asprintf(&url, "%s/manage/#%s", config.public_url, token) < 0)
            url = NULL;
        json_object_set_new(body, "manage_token", json_string(token));
        json_object_set_new(body, "manage_url", url ? json_string(url) : json_null());
        sodium_memzero(token, sizeof(token));
        free(url);
    }
    http_reply_jansson(r, status, body);
out:
    if (env)
        json_decref(env);
}

/* Reads an optional string member; replies 422 and returns -1 when it is not a string or is too
 * long (`max` characters). *out is NULL when absent, null or blank. */
static int opt_string(struct req *r, const char *name, size_t max, const char **out)
{
    json_t *v = json_object_get(r->json, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        http_reply_error(r, 422, "invalid", name, "%s must be a string", name);
        return -1;
    }
    if (utf8_chars(json_string_value(v)) > max) {
        http_reply_error(r, 422, "too_long", name, "%s is longer than %zu characters", name, max);
        return -1;
    }
    if (!all_space(json_string_value(v)))
        *out = json_string_value(v);
    return 0;
}

/*
 * The one place where C rebuilds a body before SQL: booking_create_do stores name, email,
 * phone and serial as given, and the first three sealed, so they are checked and normalised
 * here. Returns the clear, normalised body (caller owns it; booking_sealed seals it for SQL),
 * or NULL after replying with the error.
 */
static json_t *booking_input(struct req *r)
{
    json_t *service = json_object_get(r->json, "service_id");
    json_t *starts = json_object_get(r->json, "starts_at");
    const char *name, *email, *phone, *serial, *problem;
    char phone_n[API_PHONE_MAX], serial_n[SERIAL_MAX + 1];
    json_t *in;

    if (!json_is_integer(service) || json_integer_value(service) <= 0) {
        http_reply_error(r, 422, "invalid", "service_id", "a service id is required");
        return NULL;
    }
    if (!json_is_string(starts) || json_string_length(starts) == 0 ||
        json_string_length(starts) > 64) {
        http_reply_error(r, 422, "invalid", "starts_at", "a slot start time is required");
        return NULL;
    }
    if (opt_string(r, "name", NAME_MAX_CHARS, &name) < 0 ||
        opt_string(r, "email", EMAIL_MAX, &email) < 0 || opt_string(r, "phone", 64, &phone) < 0 ||
        opt_string(r, "serial", 64, &serial) < 0 ||
        opt_string(r, "problem", PROBLEM_MAX_CHARS, &problem) < 0)
        return NULL;
    if (!name) {
        http_reply_error(r, 422, "invalid", "name", "a name is required");
        return NULL;
    }
    if (!email && !phone) {
        http_reply_error(r, 422, "contact_required", "email",
                         "an email or a phone number is required");
        return NULL;
    }
    if (email && !booking_email_ok(email)) {
        http_reply_error(r, 422, "invalid", "email", "that email address is not valid");
        return NULL;
    }
    if (phone && !api_phone_normalise(phone, phone_n, sizeof(phone_n))) {
        http_reply_error(r, 422, "invalid", "phone",
                         "a phone number is + and 7 to 15 digits, e.g. +33 6 12 34 56 78");
        return NULL;
    }
    if (serial && !booking_serial_normalise(serial, serial_n, sizeof(serial_n))) {
        http_reply_error(
            r, 422, "invalid", "serial",
            "a serial is 5 to 32 letters and digits; an IMEI must pass its check digit");
        return NULL;
    }
    /* Absent members (not "") for what was not given: SQL stores NULL for them. */
    in = json_pack("{sOsOssss?}", "service_id", service, "starts_at", starts, "name", name,
                   "problem", problem);
    if (in && ((email && json_object_set_new(in, "email", json_string(email)) < 0) ||
               (phone && json_object_set_new(in, "phone", json_string(phone_n)) < 0) ||
               (serial && json_object_set_new(in, "serial", json_string(serial_n)) < 0))) {
        json_decref(in);
        in = NULL;
    }
    if (!in)
        http_reply_oom(r);
    return in;
}

/* The body for SQL: `in` with name, email and phone sealed, email_bi and phone_bi, and the
 * name's initial (what a public board may show once the booking is checked in). Compact JSON
 * text (caller frees), or NULL when out of memory. */
static char *booking_sealed(const json_t *in)
{
    json_t *out = json_copy((json_t *)in);
    const char *email = json_string_value(json_object_get(in, "email"));
    const char *phone = json_string_value(json_object_get(in, "phone"));
    const char *name = json_string_value(json_object_get(in, "name"));
    char initial[API_INITIAL_MAX];
    char *text = NULL, *trimmed = NULL;
    size_t len;

    if (!out)
        return NULL;
    /* Stored without the spaces around it (SQL trimmed it when it could read it). */
    while (isspace((unsigned char)*name))
        name++;
    for (len = strlen(name); len && isspace((unsigned char)name[len - 1]); len--)
        ;
    if (!(trimmed = strndup(name, len)))
        goto out;
    api_initial(trimmed, initial);
    if (api_seal_member(out, "name", trimmed, NULL, NULL) < 0 ||
        (email && api_seal_member(out, "email", email, "email", "email_bi") < 0) ||
        (phone && api_seal_member(out, "phone", phone, "phone", "phone_bi") < 0) ||
        json_object_set_new(out, "initial", json_string(initial)) < 0)
        goto out;
    text = json_dumps(out, JSON_COMPACT);
out:
    free(trimmed);
    json_decref(out);
    return text;
}

void booking_create(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *key = http_header(r, "Idempotency-Key");
    struct booking_ctx *b;
    json_t *in;
    char *body = NULL, *sealed = NULL, *material = NULL, *marker = NULL, *clear = NULL;
    char idem_hash[LINK_HASH_LEN + 1];
    char fingerprint[crypto_generichash_BYTES * 2 + 1];
    unsigned char fp_key[crypto_generichash_KEYBYTES], fp[crypto_generichash_BYTES];

    if (!store || !api_need_body(r))
        return;
    if (key && !api_idem_key_ok(key)) {
        http_reply_error(r, 400, "invalid", "Idempotency-Key",
                         "an Idempotency-Key is 1 to %d visible characters", API_IDEM_KEY_MAX);
        return;
    }
    if (!(in = booking_input(r)))
        return;
    body = booking_sealed(in);
    /* Sorted keys: the same request gives the same text, whatever order the client sent. */
    if (key)
        clear = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(in);
    if (!body || (key && !clear))
        goto oom;
    if (!(b = calloc(1, sizeof(*b))))
        goto oom;
    /* From here the request owns b and frees (and wipes) it with the reply. */
    r->state = b;
    r->state_free = booking_ctx_free;
    link_mint(&b->link);
    if (key) {
        /* Two derivations of (store, key): one names the record, the other seals the link.
         * Both start from a keyed hash under the data key: a client's key may be short or
         * predictable ("1", a counter), and a reader of the database must not find it by
         * guessing against key_hash and then open the link kept with it. */
        char raw_key[SEAL_BLIND_HEX + 1];
        if (asprintf(&material, "%s:%s", store, key) < 0) {
            material = NULL;
            goto oom;
        }
        if (seal_keyed("carnet-idempotency", material, raw_key) < 0)
            goto oom;
        sodium_memzero(material, strlen(material));
        free(material);
        if (asprintf(&material, "carnet-idempotency:%s", raw_key) < 0) {
            material = NULL;
            goto oom;
        }
        sodium_memzero(raw_key, sizeof(raw_key));
        util_token_hash(material, idem_hash);
        crypto_generichash(b->seal_key, sizeof(b->seal_key), (const unsigned char *)material,
                           strlen(material), (const unsigned char *)"seal", 4);
        if (!(sealed = seal_token(b)))
            goto oom;
        /* The fingerprint is keyed by (store, key) as well: the database cannot test guesses of
         * a customer's details against it. */
        crypto_generichash(fp_key, sizeof(fp_key), (const unsigned char *)material,
                           strlen(material), (const unsigned char *)"request", 7);
        crypto_generichash(fp, sizeof(fp), (const unsigned char *)clear, strlen(clear), fp_key,
                           sizeof(fp_key));
        sodium_bin2hex(fingerprint, sizeof(fingerprint), fp, sizeof(fp));
        sodium_memzero(fp_key, sizeof(fp_key));
    }
    /* The confirmation message carries the link sealed under the data key (seal.h): the
     * database never holds the token in clear. */
    if (!(marker = seal_marker(b->link.token)))
        goto oom;
    const char *params[8] = {store,  body,  b->link.hash, key ? idem_hash : NULL,
                             sealed, r->id, marker,       key ? fingerprint : NULL};
    api_call(r, &q_create, params, on_booked);
    goto out;
oom:
    http_reply_oom(r);
out:
    if (material) {
        sodium_memzero(material, strlen(material));
        free(material);
    }
    if (clear) {
        sodium_memzero(clear, strlen(clear));
        free(clear);
    }
    free(sealed);
    free(marker);
    free(body);
}

/* ---- the customer's link ---- */

void booking_manage_get(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[1] = {hash};
    if (link_from_path(r, "token", hash))
        api_send(r, &q_manage_get, params, 200);
}

void booking_manage_reschedule(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[2] = {hash, api_body(r)};
    if (link_from_path(r, "token", hash) && api_need_body(r))
        api_call(r, &q_manage_reschedule, params, on_booking_changed);
}

void booking_manage_cancel(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[1] = {hash};
    if (link_from_path(r, "token", hash))
        api_call(r, &q_manage_cancel, params, on_booking_changed);
}

/* ---- staff ---- */

void booking_day(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[4];

    if (!store)
        return;
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = http_query(r, "date");
    params[3] = r->id;
    api_send(r, &q_day, params, 200);
}

/* A staff write on one object of the store: (actor, store, the object's id, body, request id). */
static void store_object_call(struct req *r, struct sql_stmt *stmt, const char *param)
{
    const char *store = api_path_id(r, "store");
    const char *obj = store ? api_path_id(r, param) : NULL;
    if (!obj || !api_need_body(r))
        return;
    const char *params[5] = {r->who.staff_id, store, obj, api_body(r), r->id};
    api_send(r, stmt, params, 200);
}

void booking_staff_reschedule(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *id = store ? api_path_id(r, "id") : NULL;
    if (!id || !api_need_body(r))
        return;
    const char *params[5] = {r->who.staff_id, store, id, api_body(r), r->id};
    api_call(r, &q_staff_reschedule, params, on_booking_changed);
}

void booking_staff_cancel(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *id = store ? api_path_id(r, "id") : NULL;
    const char *params[4];

    if (!id)
        return;
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = id;
    params[3] = r->id;
    api_call(r, &q_staff_cancel, params, on_booking_changed);
}

/* ---- managers ---- */

void booking_set_hours(struct req *r)
{
    staff_call(r, &q_set_hours, 200);
}

void booking_add_closure(struct req *r)
{
    staff_call(r, &q_add_closure, 201);
}

void booking_add_service(struct req *r)
{
    staff_call(r, &q_add_service, 201);
}

void booking_add_shift(struct req *r)
{
    staff_call(r, &q_add_shift, 201);
}

void booking_set_skills(struct req *r)
{
    store_object_call(r, &q_set_skills, "staff");
}

void booking_shifts_list(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *params[4];

    if (!store)
        return;
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = http_query(r, "from");
    params[3] = http_query(r, "to");
    api_send(r, &q_shifts, params, 200);
}

void booking_delete_shift(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *id = store ? api_path_id(r, "id") : NULL;
    const char *params[4];

    if (!id)
        return;
    params[0] = r->who.staff_id;
    params[1] = store;
    params[2] = id;
    params[3] = r->id;
    api_send(r, &q_delete_shift, params, 200);
}
