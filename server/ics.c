/*
 * ics: see ics.h. The feed's text is written here rather than in SQL because RFC 5545 counts
 * octets: a line folds at 75 bytes and must not split a UTF-8 sequence, which C sees and SQL's
 * characters hide. SQL gathers the feed (which events, local times, the zone's offsets); this
 * file only escapes and folds, so the writer is pure and unit-tested.
 *
 * The fetch is public (the token is the secret) and answers every miss the same 404, before any
 * query when the token is malformed. The feed's ETag is a hash of its text: each event's DTSTAMP
 * is its last change rather than the time of the fetch (RFC 5545 3.8.7.2, for an object without
 * METHOD), so a feed that did not change has the same text and a client polling with
 * If-None-Match gets 304.
 */
#include "ics.h"

#include <event2/buffer.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "http.h"
#include "link.h"
#include "log.h"

#define ICS_SUFFIX ".ics"
#define ICS_CTYPE "text/calendar; charset=utf-8"
/* Clients may poll every five minutes; the feed is per person, so no shared cache keeps it. */
#define ICS_CACHE "private, max-age=300"
#define ICS_PRODID "-//Carnet//carnetd//EN"
/* Bytes of the text's SHA-256 in the ETag. */
#define ICS_ETAG_BYTES 16
#define HOST_MAX 256

static struct sql_stmt q_read = SQL_STMT("ics_feed_read", "select ics_feed_read($1, $2)", 2);
static struct sql_stmt q_list = SQL_STMT("ics_feed_list", "select ics_feed_list($1, $2, $3)", 3);
static struct sql_stmt q_create =
    SQL_STMT("ics_feed_create", "select ics_feed_create($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_revoke =
    SQL_STMT("ics_feed_revoke", "select ics_feed_revoke($1, $2, $3, $4)", 4);

int ics_escape(struct evbuffer *out, const char *s)
{
    for (; s && *s; s++) {
        const char *esc = NULL;
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '\\':
            esc = "\\\\";
            break;
        case ';':
            esc = "\\;";
            break;
        case ',':
            esc = "\\,";
            break;
        case '\n':
            esc = "\\n";
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                continue; /* a CR, a tab or another control has no place in a TEXT value */
        }
        if (esc ? evbuffer_add(out, esc, strlen(esc)) : evbuffer_add(out, s, 1))
            return -1;
    }
    return 0;
}

int ics_fold(struct evbuffer *out, const char *line, size_t len)
{
    size_t at = 0;
    /* The first line holds 75 octets; each continuation's leading space is one of its 75. */
    size_t room = ICS_LINE_OCTETS;

    while (len - at > room) {
        size_t cut = at + room;
        /* Back off to the first byte of a UTF-8 sequence (10xxxxxx continues one). */
        while (cut > at && ((unsigned char)line[cut] & 0xC0) == 0x80)
            cut--;
        if (cut == at)
            cut = at + room; /* not UTF-8: cut where the octets say */
        if (evbuffer_add(out, line + at, cut - at) || evbuffer_add(out, "\r\n ", 3))
            return -1;
        at = cut;
        room = ICS_LINE_OCTETS - 1;
    }
    if (evbuffer_add(out, line + at, len - at) || evbuffer_add(out, "\r\n", 2))
        return -1;
    return 0;
}

/* Folds what `tmp` holds (one line) into `out` and empties `tmp`. */
static int flush_line(struct evbuffer *out, struct evbuffer *tmp)
{
    size_t n = evbuffer_get_length(tmp);
    const char *line = (const char *)evbuffer_pullup(tmp, -1);
    int rc = n && !line ? -1 : ics_fold(out, line ? line : "", n);
    evbuffer_drain(tmp, n);
    return rc;
}

/* NAME:value, with `value` as given (dates, numbers, keywords). */
static int prop(struct evbuffer *out, struct evbuffer *tmp, const char *name, const char *value)
{
    if (evbuffer_add_printf(tmp, "%s:%s", name, value) < 0)
        return -1;
    return flush_line(out, tmp);
}

/* NAME:text, escaped. */
static int prop_text(struct evbuffer *out, struct evbuffer *tmp, const char *name, const char *text)
{
    if (evbuffer_add_printf(tmp, "%s:", name) < 0 || ics_escape(tmp, text) < 0)
        return -1;
    return flush_line(out, tmp);
}

static const char *str(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int render_zone(struct evbuffer *out, struct evbuffer *tmp, json_t *feed, const char *tz)
{
    json_t *zone;
    size_t i;
    json_t *zones = json_object_get(feed, "zones");

    if (!json_is_array(zones) || json_array_size(zones) == 0)
        return -1;
    if (prop(out, tmp, "BEGIN", "VTIMEZONE") || prop(out, tmp, "TZID", tz))
        return -1;
    json_array_foreach(zones, i, zone)
    {
        const char *kind = str(zone, "kind"), *start = str(zone, "start");
        const char *from = str(zone, "offset_from"), *to = str(zone, "offset_to");
        const char *name = str(zone, "name");
        if (!kind || !start || !from || !to)
            return -1;
        if (prop(out, tmp, "BEGIN", kind) || prop(out, tmp, "DTSTART", start) ||
            prop(out, tmp, "TZOFFSETFROM", from) || prop(out, tmp, "TZOFFSETTO", to) ||
            (name && *name && prop_text(out, tmp, "TZNAME", name)) || prop(out, tmp, "END", kind))
            return -1;
    }
    return prop(out, tmp, "END", "VTIMEZONE");
}

/* DTSTART or DTEND: a local time with the zone's TZID, or a UTC time (ending in Z) as is. */
static int prop_time(struct evbuffer *out, struct evbuffer *tmp, const char *name, const char *tz,
                     const char *when)
{
    size_t n = strlen(when);
    int rc = n && when[n - 1] == 'Z' ? evbuffer_add_printf(tmp, "%s:%s", name, when)
                                     : evbuffer_add_printf(tmp, "%s;TZID=%s:%s", name, tz, when);
    return rc < 0 ? -1 : flush_line(out, tmp);
}

static int render_event(struct evbuffer *out, struct evbuffer *tmp, json_t *ev, const char *tz,
                        const char *host)
{
    const char *uid = str(ev, "uid"), *start = str(ev, "start"), *end = str(ev, "end");
    const char *stamp = str(ev, "stamp"), *created = str(ev, "created");
    const char *summary = str(ev, "summary"), *desc = str(ev, "description");
    bool cancelled = json_is_true(json_object_get(ev, "cancelled"));
    bool transparent = json_is_true(json_object_get(ev, "transparent"));
    char seq[24];

    if (!uid || !start || !end || !stamp || !summary)
        return -1;
    snprintf(seq, sizeof(seq), "%lld",
             (long long)json_integer_value(json_object_get(ev, "sequence")));
    if (prop(out, tmp, "BEGIN", "VEVENT") || evbuffer_add_printf(tmp, "UID:%s@%s", uid, host) < 0 ||
        flush_line(out, tmp) || prop(out, tmp, "DTSTAMP", stamp) ||
        (created && prop(out, tmp, "CREATED", created)) || prop(out, tmp, "LAST-MODIFIED", stamp) ||
        prop(out, tmp, "SEQUENCE", seq) || prop_time(out, tmp, "DTSTART", tz, start) ||
        prop_time(out, tmp, "DTEND", tz, end) || prop_text(out, tmp, "SUMMARY", summary) ||
        (desc && prop_text(out, tmp, "DESCRIPTION", desc)) ||
        prop(out, tmp, "STATUS", cancelled ? "CANCELLED" : "CONFIRMED") ||
        prop(out, tmp, "TRANSP", transparent ? "TRANSPARENT" : "OPAQUE") ||
        prop(out, tmp, "END", "VEVENT"))
        return -1;
    return 0;
}

int ics_render(struct evbuffer *out, json_t *feed, const char *host)
{
    const char *name = str(feed, "name"), *tz = str(feed, "timezone");
    json_t *events = json_object_get(feed, "events"), *ev;
    struct evbuffer *tmp;
    size_t i;
    int rc = -1;

    /* A zone name goes unquoted into TZID parameters: only the tz database's own shapes. */
    if (!name || !tz || !*tz ||
        strspn(tz, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                   "0123456789/_+-") != strlen(tz) ||
        !json_is_array(events) || !(tmp = evbuffer_new()))
        return -1;
    if (prop(out, tmp, "BEGIN", "VCALENDAR") || prop(out, tmp, "VERSION", "2.0") ||
        prop(out, tmp, "PRODID", ICS_PRODID) || prop(out, tmp, "CALSCALE", "GREGORIAN") ||
        prop_text(out, tmp, "X-WR-CALNAME", name) || prop(out, tmp, "X-WR-TIMEZONE", tz) ||
        prop(out, tmp, "REFRESH-INTERVAL;VALUE=DURATION", "PT5M") ||
        prop(out, tmp, "X-PUBLISHED-TTL", "PT5M") || render_zone(out, tmp, feed, tz))
        goto out;
    json_array_foreach(events, i, ev)
    {
        if (render_event(out, tmp, ev, tz, host))
            goto out;
    }
    rc = prop(out, tmp, "END", "VCALENDAR");
out:
    evbuffer_free(tmp);
    return rc;
}

/* The host of --public-url (no scheme, port or path): the domain of the events' UIDs. */
static void public_host(char out[HOST_MAX])
{
    const char *u = config.public_url ? config.public_url : "";
    const char *s = strstr(u, "://");
    s = s ? s + 3 : u;
    size_t n = strcspn(s, ":/?#");
    if (n == 0 || n >= HOST_MAX)
        snprintf(out, HOST_MAX, "carnet.invalid");
    else
        snprintf(out, HOST_MAX, "%.*s", (int)n, s);
}

static void feed_unknown(struct req *r)
{
    http_reply_error(r, 404, "not_found", "token", "this calendar link is unknown or was revoked");
}

static void on_feed(struct req *r, const struct db_result *res)
{
    struct evbuffer *buf = NULL;
    json_t *feed;
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[ICS_ETAG_BYTES * 2 + 1], etag[ICS_ETAG_BYTES * 2 + 3], host[HOST_MAX];
    const char *inm;

    /* The mapped error or 404; an answer that is not an object is the internal error it is. */
    if (!(feed = api_result_object(r, res)))
        return;
    if (!(buf = evbuffer_new())) {
        json_decref(feed);
        http_reply_oom(r);
        return;
    }
    public_host(host);
    if (ics_render(buf, feed, host) < 0) {
        rlog_error(r, "ics: the feed could not be written");
        http_reply_error(r, 500, "internal", NULL, "the calendar could not be written");
        goto out;
    }
    crypto_hash_sha256(h, evbuffer_pullup(buf, -1), evbuffer_get_length(buf));
    sodium_bin2hex(hex, sizeof(hex), h, ICS_ETAG_BYTES);
    snprintf(etag, sizeof(etag), "\"%s\"", hex);
    http_add_header(r, "ETag", etag);
    http_add_header(r, "Cache-Control", ICS_CACHE);
    inm = http_header(r, "If-None-Match");
    if (inm && strcmp(inm, etag) == 0)
        http_reply_empty(r, 304);
    else
        http_reply_buffer(r, 200, ICS_CTYPE, buf);
out:
    evbuffer_free(buf);
    json_decref(feed);
}

void ics_feed_get(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *seg = http_param(r, "token");
    char token[LINK_TOKEN_LEN + 1], hash[LINK_HASH_LEN + 1];
    size_t n = seg ? strlen(seg) : 0;

    if (!store)
        return;
    if (n != LINK_TOKEN_LEN + strlen(ICS_SUFFIX) || strcmp(seg + LINK_TOKEN_LEN, ICS_SUFFIX)) {
        feed_unknown(r);
        return;
    }
    memcpy(token, seg, LINK_TOKEN_LEN);
    token[LINK_TOKEN_LEN] = '\0';
    if (!link_format_ok(token)) {
        feed_unknown(r);
        return;
    }
    link_hash(token, hash);
    sodium_memzero(token, sizeof(token));
    const char *p[] = {store, hash};
    api_call(r, &q_read, p, on_feed);
}

void ics_feeds_list(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (!store)
        return;
    const char *p[] = {r->who.staff_id, r->id, store};
    api_send(r, &q_list, p, 200);
}

/* A feed being made: its token, until the answer carries it. */
struct feed_ctx {
    struct link link;
    char store[24];
};

static void feed_ctx_free(void *state)
{
    struct feed_ctx *c = state;
    link_wipe(&c->link);
    free(c);
}

static void on_created(struct req *r, const struct db_result *res)
{
    struct feed_ctx *c = r->state;
    json_t *obj = api_result_object(r, res);
    char *url = NULL;

    if (!obj)
        return;
    if (asprintf(&url, "%s/api/stores/%s/calendar/%s%s", config.public_url, c->store, c->link.token,
                 ICS_SUFFIX) < 0) {
        json_decref(obj);
        http_reply_oom(r);
        return;
    }
    json_object_set_new(obj, "token", json_string(c->link.token));
    json_object_set_new(obj, "url", json_string(url));
    sodium_memzero(url, strlen(url));
    free(url);
    http_reply_jansson(r, 201, obj);
}

void ics_feed_create(struct req *r)
{
    const char *store = api_path_id(r, "store");
    struct feed_ctx *c;

    if (!store)
        return;
    if (!(c = calloc(1, sizeof(*c)))) {
        http_reply_oom(r);
        return;
    }
    link_mint(&c->link);
    snprintf(c->store, sizeof(c->store), "%s", store);
    r->state = c;
    r->state_free = feed_ctx_free;
    const char *p[] = {r->who.staff_id, r->id, store, api_body(r), c->link.hash};
    api_call(r, &q_create, p, on_created);
}

void ics_feed_revoke(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *id = store ? api_path_id(r, "id") : NULL;
    if (!id)
        return;
    const char *p[] = {r->who.staff_id, r->id, store, id};
    api_send(r, &q_revoke, p, 200);
}
