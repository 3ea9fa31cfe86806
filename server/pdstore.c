/*
 * pdstore: see pdstore.h. One round: pd_due -> seal each value in C -> pd_store. Sealing a
 * round (at most PDSTORE_BATCH values per column) costs microseconds per value, so the async
 * round runs on the loop thread.
 */
#include "pdstore.h"

#include <event2/event.h>
#include <jansson.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "pgconn.h"
#include "seal.h"

#define DUE_SQL "select pd_due($1, $2::int, $3::text[], $4::boolean)"
#define STORE_SQL "select pd_store($1::json)"

static struct sql_stmt q_due = SQL_STMT("pd_due", DUE_SQL, 4);
static struct sql_stmt q_store = SQL_STMT("pd_store", STORE_SQL, 1);

/* The key ids of the ring as a text array literal, current first. */
static void ring_ids(char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "{");
    for (int i = 0; seal_key_id_at(i) && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "", seal_key_id_at(i));
    if (n < len)
        snprintf(out + n, len - n, "}");
}

static struct {
    struct event *timer;
    struct timeval every;
    bool busy, stopping;
    long sealed;
} S;

/* The clear value of a personal field: a whole marker under an older key is opened; anything
 * else is the clear value. malloc'd, or NULL with `err`. */
static char *clear_value(const char *v, char *err, size_t errlen)
{
    char *plain = seal_is_pd(v) ? seal_open_text(v, err, errlen) : NULL;
    /* A marker that does not open with any key of the ring is taken as typed: a value that
     * only looks like one, or one under a key that is gone (unreadable either way). */
    if (!plain)
        plain = strdup(v);
    if (!plain)
        snprintf(err, errlen, "out of memory");
    return plain;
}

/* A JSON object (text) with its members named in `keys` sealed as personal data and its other
 * markers re-sealed under the current key. */
static char *seal_json_members(const char *v, json_t *keys, char *err, size_t errlen)
{
    json_t *o = json_loads(v, 0, NULL), *k;
    char *text = NULL, *out = NULL;
    size_t i;

    err[0] = '\0';
    if (!json_is_object(o)) {
        snprintf(err, errlen, "not a JSON object");
        goto out;
    }
    json_array_foreach(keys, i, k)
    {
        const char *name = json_string_value(k);
        const char *cur = name ? json_string_value(json_object_get(o, name)) : NULL;
        if (!cur || !*cur || seal_is_current_pd(cur))
            continue;
        char *plain = clear_value(cur, err, errlen), *sealed;
        if (!plain)
            goto out;
        sealed = seal_pd(plain);
        sodium_memzero(plain, strlen(plain));
        free(plain);
        if (!sealed || json_object_set_new(o, name, json_string(sealed)) < 0) {
            free(sealed);
            snprintf(err, errlen, "cannot seal member %s", name);
            goto out;
        }
        free(sealed);
    }
    if ((text = json_dumps(o, JSON_COMPACT)))
        out = seal_reseal_text(text, err, errlen);
out:
    free(text);
    if (o)
        json_decref(o);
    return out;
}

/* The new value of one due item, and its blind index into `bi` (empty when none). */
static char *seal_item(json_t *it, char bi[SEAL_BLIND_HEX + 1], char *err, size_t errlen)
{
    const char *v = json_string_value(json_object_get(it, "v"));
    const char *mode = json_string_value(json_object_get(it, "mode"));
    const char *kind = json_string_value(json_object_get(it, "bi"));
    char *plain = NULL, *out = NULL;

    bi[0] = '\0';
    if (!v || !mode) {
        snprintf(err, errlen, "pd_due answered an item without a value");
        return NULL;
    }
    if (strcmp(mode, "text") == 0)
        return seal_reseal_text(v, err, errlen);
    if (strcmp(mode, "json") == 0)
        return seal_json_members(v, json_object_get(it, "keys"), err, errlen);
    err[0] = '\0';
    if (!(plain = clear_value(v, err, errlen)))
        return NULL;
    if (kind) {
        const char *k =
            strcmp(kind, "contact") == 0 ? (strchr(plain, '@') ? "email" : "phone") : kind;
        seal_blind(0, k, plain, bi);
    }
    if (!(out = seal_pd(plain)))
        snprintf(err, errlen, "cannot seal a value (too long?)");
    sodium_memzero(plain, strlen(plain));
    free(plain);
    return out;
}

/* The pd_store argument for the items of a pd_due answer (malloc'd JSON), or NULL when there
 * is nothing to store; *n counts the items. */
static char *round_build(const char *due, int *n)
{
    json_t *items = json_loads(due, 0, NULL), *out = json_array(), *it;
    char err[200], bi[SEAL_BLIND_HEX + 1], *text = NULL;
    size_t i;

    *n = 0;
    if (!json_is_array(items) || !out)
        goto done;
    json_array_foreach(items, i, it)
    {
        char *v = seal_item(it, bi, err, sizeof(err));
        if (!v) {
            log_warning("personal data: %s.%s of row %lld left as it is: %s",
                        json_string_value(json_object_get(it, "t")),
                        json_string_value(json_object_get(it, "c")),
                        (long long)json_integer_value(json_object_get(it, "id")), err);
            continue;
        }
        json_array_append_new(out,
                              json_pack("{sOsOsOsOssso}", "t", json_object_get(it, "t"), "id",
                                        json_object_get(it, "id"), "c", json_object_get(it, "c"),
                                        "old", json_object_get(it, "h"), "v", v, "bi",
                                        bi[0] ? json_string(bi) : json_null()));
        sodium_memzero(v, strlen(v));
        free(v);
        (*n)++;
    }
    if (*n)
        text = json_dumps(out, JSON_COMPACT);
done:
    if (items)
        json_decref(items);
    if (out)
        json_decref(out);
    return text;
}

long pdstore_run_blocking(const char *conninfo, int max_rounds, char *err, size_t errlen)
{
    char batch[16], *due = NULL, *stored = NULL;
    struct pg_conn *c = pgconn_connect_blocking(conninfo, err, errlen);
    long total = 0;

    if (!c)
        return -1;
    snprintf(batch, sizeof(batch), "%d", PDSTORE_BATCH);
    for (int round = 0; max_rounds == 0 || round < max_rounds; round++) {
        char ring[SEAL_MAX_KEYS * (SEAL_KID_HEX + 1) + 4];
        ring_ids(ring, sizeof(ring));
        const char *p[4] = {seal_key_id(), batch, ring, "true"};
        int n;
        free(due);
        due = NULL;
        if (pgconn_exec_blocking(c, DUE_SQL, 4, p, &due, err, errlen) < 0) {
            total = -1;
            break;
        }
        char *arg = due ? round_build(due, &n) : NULL;
        if (!arg)
            break; /* nothing due (or only values that cannot be opened: logged) */
        const char *sp[1] = {arg};
        free(stored);
        stored = NULL;
        int rc = pgconn_exec_blocking(c, STORE_SQL, 1, sp, &stored, err, errlen);
        free(arg);
        if (rc < 0) {
            total = -1;
            break;
        }
        total += stored ? atol(stored) : 0;
        if (stored && atol(stored) == 0)
            break; /* everything due changed under us or could not be stored: next time */
    }
    free(due);
    free(stored);
    pgconn_close_blocking(c);
    return total;
}

static void arm(bool now)
{
    struct timeval zero = {0, 0};
    if (!S.stopping && S.timer)
        evtimer_add(S.timer, now ? &zero : &S.every);
}

static void on_stored(const struct db_result *res, void *arg)
{
    long n = 0;
    (void)arg;
    S.busy = false;
    if (res->status == DB_OK && db_rows(res) > 0)
        n = atol(db_value(res, 0, 0));
    else if (res->status == DB_ERR_SQL)
        log_warning("personal data: storing sealed values failed: %s",
                    db_error_field(res, DB_ERROR_PRIMARY) ? db_error_field(res, DB_ERROR_PRIMARY)
                                                          : "?");
    S.sealed += n;
    arm(n > 0); /* found work: look again at once */
}

static void on_due(const struct db_result *res, void *arg)
{
    int n = 0;
    char *text = NULL;
    (void)arg;

    if (res->status == DB_OK && db_rows(res) > 0 && !db_isnull(res, 0, 0))
        text = round_build(db_value(res, 0, 0), &n);
    else if (res->status == DB_ERR_SQL)
        log_warning("personal data: pd_due failed: %s", db_error_field(res, DB_ERROR_PRIMARY)
                                                            ? db_error_field(res, DB_ERROR_PRIMARY)
                                                            : "?");
    if (!text) {
        S.busy = false;
        arm(false);
        return;
    }
    const char *p[1] = {text};
    db_query(&q_store, p, on_stored, NULL);
    free(text);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    static char batch[16];
    (void)fd;
    (void)what;
    (void)arg;
    if (S.busy || S.stopping)
        return;
    if (!db_any_connected()) {
        arm(false);
        return;
    }
    static char ring[SEAL_MAX_KEYS * (SEAL_KID_HEX + 1) + 4];
    snprintf(batch, sizeof(batch), "%d", PDSTORE_BATCH);
    ring_ids(ring, sizeof(ring));
    /* Between rotations only clear values can be due (cheap); with an older key in the ring,
     * everything it sealed too. */
    const char *p[4] = {seal_key_id(), batch, ring, seal_key_id_at(1) ? "true" : "false"};
    S.busy = true;
    db_query(&q_due, p, on_due, NULL);
}

int pdstore_init(struct event_base *base, int interval_ms)
{
    S.every.tv_sec = interval_ms / 1000;
    S.every.tv_usec = (interval_ms % 1000) * 1000;
    if (!(S.timer = evtimer_new(base, on_tick, NULL)))
        return -1;
    arm(false);
    return 0;
}

void pdstore_stop(void)
{
    S.stopping = true;
    if (S.timer) {
        event_free(S.timer);
        S.timer = NULL;
    }
}
