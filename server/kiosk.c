/*
 * kiosk: self check-in on the tablet at a store's door (web/kiosk/), public, without a session.
 *
 * A customer gives their confirmation code, the manage link's QR code, or their name and phone.
 * Two SQL calls (schema/api/kiosk.sql), as a sign-in takes: kiosk_begin throttles the client's
 * address, records the attempt and returns this store's bookings that might be the caller's;
 * kiosk_checkin checks the chosen one in with the floor's own rules and clears the attempt.
 * Names are sealed (seal.h), so the name typed beside a phone is compared here with the opened
 * names of the bookings that phone's blind index found. Every miss, whatever its reason (an
 * unknown code, another store's booking, a name that does not match), gets one answer, 404
 * `no_match`, and counts against the address: the kiosk tells nothing of other bookings, and
 * codes cannot be tried in bulk. The reply shows the first name only.
 */
#include "kiosk.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "link.h"
#include "seal.h"

#define KIOSK_CODE_MAX 16
#define KIOSK_TOKEN_MAX 128
#define KIOSK_NAME_MAX 100
#define KIOSK_PHONE_MAX 64
#define KIOSK_ADDR_MAX 64

static struct sql_stmt q_begin =
    SQL_STMT("kiosk_begin", "select kiosk_begin($1::bigint, $2, $3::jsonb)", 3);
static struct sql_stmt q_checkin =
    SQL_STMT("kiosk_checkin", "select kiosk_checkin($1::bigint, $2::bigint, $3::bigint)", 3);

/* What a check-in keeps between its two calls: the name typed beside a phone, folded. */
struct kiosk {
    char *name;
};

static void kiosk_free(void *p)
{
    struct kiosk *k = p;
    free(k->name);
    free(k);
}

/* The one answer to every miss. */
static void reply_no_match(struct req *r)
{
    http_reply_error(r, 404, "no_match", NULL,
                     "no booking matches here: check it, or ask at the desk");
}

/* True when the folded name typed is the booking's name (folded), or its first words. */
static bool name_matches(const char *typed, const char *booked)
{
    size_t n = strlen(typed);
    return n && strncmp(typed, booked, n) == 0 && (booked[n] == '\0' || booked[n] == ' ');
}

/* The body kiosk_begin takes: {"code"} as typed, {"token_hash"}, or {"phone_bi"}; NULL after
 * replying (422, the neutral 404, or out of memory). Hangs the folded name on the request. */
static char *begin_body(struct req *r)
{
    const char *code, *token, *name, *phone;
    char phone_n[API_PHONE_MAX], h[LINK_HASH_LEN + 1];
    struct kiosk *k;
    json_t *q;
    char *text = NULL;

    if (api_opt_string(r, "code", KIOSK_CODE_MAX, &code) < 0 ||
        api_opt_string(r, "token", KIOSK_TOKEN_MAX, &token) < 0 ||
        api_opt_string(r, "name", KIOSK_NAME_MAX, &name) < 0 ||
        api_opt_string(r, "phone", KIOSK_PHONE_MAX, &phone) < 0)
        return NULL;
    if (!(q = json_object()))
        goto oom;
    if (code) {
        if (json_object_set_new(q, "code", json_string(code)) < 0)
            goto oom;
    } else if (token) {
        /* A QR code that is no link of ours is a miss like any other, without a query. */
        if (!link_format_ok(token)) {
            json_decref(q);
            reply_no_match(r);
            return NULL;
        }
        link_hash(token, h);
        if (json_object_set_new(q, "token_hash", json_string(h)) < 0)
            goto oom;
    } else if (name || phone) {
        if (!(k = calloc(1, sizeof(*k))))
            goto oom;
        r->state = k;
        r->state_free = kiosk_free;
        if (!name || !(k->name = api_name_fold(name)) || !*k->name) {
            json_decref(q);
            if (name && !k->name) {
                http_reply_oom(r);
                return NULL;
            }
            http_reply_error(r, 422, "invalid", "name",
                             "a name of 1 to 100 characters is required");
            return NULL;
        }
        if (!phone || !api_phone_normalise(phone, phone_n, sizeof(phone_n))) {
            json_decref(q);
            http_reply_error(r, 422, "invalid", "phone",
                             "a phone number is + and 7 to 15 digits, e.g. +33 6 12 34 56 78");
            return NULL;
        }
        if (seal_blind(0, "phone", phone_n, h) < 0 ||
            json_object_set_new(q, "phone_bi", json_string(h)) < 0)
            goto oom;
    }
    /* With none of them, SQL says what is missing. */
    text = json_dumps(q, JSON_COMPACT);
    json_decref(q);
    if (!text)
        http_reply_oom(r);
    return text;
oom:
    if (q)
        json_decref(q);
    http_reply_oom(r);
    return NULL;
}

/* The booking checked in: its ticket, with the first word of the name only. */
static void on_checkin(struct req *r, const struct db_result *res)
{
    json_t *out;
    const char *name;
    size_t len;

    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    if (!(out = api_result_object(r, res)))
        return;
    name = json_string_value(json_object_get(out, "name"));
    if (name) {
        while (isspace((unsigned char)*name))
            name++;
        for (len = 0; name[len] && !isspace((unsigned char)name[len]); len++)
            ;
        if (json_object_set_new(out, "first_name", json_stringn(name, len)) < 0) {
            json_decref(out);
            http_reply_oom(r);
            return;
        }
    }
    json_object_del(out, "name");
    http_reply_jansson(r, 200, out);
}

/* kiosk_begin answered the attempt and the bookings it might be: picks the first (whose name
 * matches the one typed, when a phone found them) and checks it in. */
static void on_begin(struct req *r, const struct db_result *res)
{
    struct kiosk *k = r->state;
    json_t *all, *c;
    const char *store = api_path_id(r, "store");
    char attempt[24], id[24];
    bool found = false;
    size_t i;

    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    if (!store || !(all = api_result_object(r, res)))
        return;
    json_array_foreach(json_object_get(all, "candidates"), i, c)
    {
        const char *name = json_string_value(json_object_get(c, "name"));
        char *folded;

        if (!k) { /* a code or a link: the first SQL found */
            found = true;
            break;
        }
        if (!name)
            continue;
        if (!(folded = api_name_fold(name))) {
            json_decref(all);
            http_reply_oom(r);
            return;
        }
        found = name_matches(k->name, folded);
        free(folded);
        if (found)
            break;
    }
    if (found) {
        snprintf(id, sizeof(id), "%lld", (long long)json_integer_value(json_object_get(c, "id")));
        snprintf(attempt, sizeof(attempt), "%lld",
                 (long long)json_integer_value(json_object_get(all, "attempt")));
    }
    json_decref(all);
    if (!found) {
        reply_no_match(r);
        return;
    }
    const char *params[3] = {store, attempt, id};
    api_call(r, &q_checkin, params, on_checkin);
}

void kiosk_checkin(struct req *r)
{
    const char *store = api_path_id(r, "store");
    char addr[KIOSK_ADDR_MAX];
    char *body;

    if (!store || !api_need_body(r) || !(body = begin_body(r)))
        return;
    http_peer_addr(r, addr, sizeof(addr));
    const char *params[3] = {store, addr, body};
    api_call(r, &q_begin, params, on_begin);
    free(body);
}
