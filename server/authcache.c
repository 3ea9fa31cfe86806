/*
 * authcache: sessions checked recently, so that most authenticated requests skip auth_session
 * and cost their own query only.
 *
 * Correctness rests on notifications, never on the time to live alone: every change that alters
 * what auth_session answers (a session ended, locked, moved to another desk, re-tokened; a staff
 * member disabled, renamed, made admin, given or relieved of a PIN or a role) is announced on
 * carnet_auth by triggers (schema/api/core.sql), and each carnetd drops the entries it names. An
 * entry is used only while pglisten is subscribed; whenever it subscribes again everything is
 * dropped, since announcements made meanwhile were lost. A database answer that was in flight
 * while anything was announced is not kept: it may have been read before the change.
 *
 * Time still bounds an entry, for what no trigger sees: the idle limit. An entry lives at most
 * AUTHCACHE_TTL_S, at most until the session's idle limit counted from its last_seen_at and its
 * absolute expiry, and at most the interval at which auth_session moves last_seen_at, so a
 * session in use reaches the database (and is marked seen) as often as it did without the cache,
 * and an idle one is found idle (and locked) by the database, as before.
 *
 * A change made through this carnetd (a sign-out, a lock, a manager's change of someone's roles
 * or account) also forgets the entries itself (a staff change once its answer is back), which
 * may be a little before the announcement arrives. The announcement is what settles it: an entry
 * filled by a concurrent miss before the commit may hold the old state until it arrives, a few
 * milliseconds after the commit, from this carnetd, another one, or straight SQL alike.
 *
 * Memory: at most AUTHCACHE_MAX entries of a few hundred bytes; when full, expired entries go,
 * then the one closest to its end.
 */
#include "authcache.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pglisten.h"
#include "principal.h"
#include "util.h"

#define AUTHCACHE_CHANNEL "carnet_auth"
#define NBUCKETS 8192 /* a power of two, twice AUTHCACHE_MAX */

struct entry {
    struct entry *next;
    char hash[65];
    char staff_id[24];
    bool admin;
    char *name;
    char *desk;
    int nstores;
    struct principal_store *stores;
    int64_t until_us; /* monotonic */
};

static struct {
    struct entry *buckets[NBUCKETS];
    int count;
    uint64_t gen;
    unsigned long long hits, misses, bypassed, evictions, invalidations, flushes;
} C;

static unsigned bucket_of(const char *hash)
{
    /* The key is already a uniform hash (hex); its first characters spread well. */
    unsigned h = 0;
    for (int i = 0; i < 8 && hash[i]; i++)
        h = h * 31u + (unsigned char)hash[i];
    return h & (NBUCKETS - 1);
}

static void entry_free(struct entry *e)
{
    free(e->name);
    free(e->desk);
    free(e->stores);
    free(e);
}

/* Unlinks and frees *pe, which points into a bucket's chain. */
static void unlink_entry(struct entry **pe)
{
    struct entry *e = *pe;
    *pe = e->next;
    entry_free(e);
    C.count--;
}

static void drop_all(void)
{
    for (int b = 0; b < NBUCKETS; b++)
        while (C.buckets[b])
            unlink_entry(&C.buckets[b]);
}

/* Drops entries for which `match` holds (NULL: expired ones, before `now`). */
static int drop_where(bool (*match)(const struct entry *e, const void *arg), const void *arg)
{
    int n = 0;
    for (int b = 0; b < NBUCKETS; b++) {
        struct entry **pe = &C.buckets[b];
        while (*pe) {
            if (match(*pe, arg)) {
                unlink_entry(pe);
                n++;
            } else {
                pe = &(*pe)->next;
            }
        }
    }
    return n;
}

static bool is_staff(const struct entry *e, const void *arg)
{
    return strcmp(e->staff_id, arg) == 0;
}

static bool is_expired(const struct entry *e, const void *arg)
{
    return e->until_us <= *(const int64_t *)arg;
}

static struct entry **find(const char *hash)
{
    struct entry **pe = &C.buckets[bucket_of(hash)];
    while (*pe && strcmp((*pe)->hash, hash) != 0)
        pe = &(*pe)->next;
    return pe;
}

static void make_room(int64_t now)
{
    struct entry **victim = NULL;

    C.evictions += (unsigned long long)drop_where(is_expired, &now);
    if (C.count < AUTHCACHE_MAX)
        return;
    for (int b = 0; b < NBUCKETS; b++)
        for (struct entry **pe = &C.buckets[b]; *pe; pe = &(*pe)->next)
            if (!victim || (*pe)->until_us < (*victim)->until_us)
                victim = pe;
    if (victim) {
        unlink_entry(victim);
        C.evictions++;
    }
}

bool authcache_get(const char *hash, struct principal *p)
{
    struct entry **pe, *e;

    pglisten_drain();
    if (!pglisten_ready()) {
        C.bypassed++;
        return false;
    }
    pe = find(hash);
    e = *pe;
    if (e && e->until_us <= util_now_us()) {
        unlink_entry(pe);
        e = NULL;
    }
    if (!e) {
        C.misses++;
        return false;
    }
    if (e->nstores > 0) {
        p->stores = malloc((size_t)e->nstores * sizeof(*p->stores));
        if (!p->stores) {
            C.misses++;
            return false; /* the database will answer */
        }
        memcpy(p->stores, e->stores, (size_t)e->nstores * sizeof(*p->stores));
    }
    p->nstores = e->nstores;
    p->authenticated = true;
    p->admin = e->admin;
    snprintf(p->staff_id, sizeof(p->staff_id), "%s", e->staff_id);
    snprintf(p->name, sizeof(p->name), "%s", e->name);
    snprintf(p->desk, sizeof(p->desk), "%s", e->desk);
    C.hits++;
    return true;
}

uint64_t authcache_generation(void)
{
    return C.gen;
}

void authcache_put(const char *hash, const struct principal *p, uint64_t gen, int life_s)
{
    struct entry **pe, *e;
    int64_t now = util_now_us();

    if (gen != C.gen || !pglisten_ready() || life_s <= 0 || strlen(hash) != 64)
        return;
    if (life_s > AUTHCACHE_TTL_S)
        life_s = AUTHCACHE_TTL_S;
    pe = find(hash);
    if (*pe)
        unlink_entry(pe);
    if (C.count >= AUTHCACHE_MAX)
        make_room(now);
    e = calloc(1, sizeof(*e));
    if (!e)
        return;
    e->name = strdup(p->name);
    e->desk = strdup(p->desk);
    if (p->nstores > 0) {
        e->stores = malloc((size_t)p->nstores * sizeof(*e->stores));
        if (e->stores)
            memcpy(e->stores, p->stores, (size_t)p->nstores * sizeof(*e->stores));
    }
    if (!e->name || !e->desk || (p->nstores > 0 && !e->stores)) {
        entry_free(e);
        return;
    }
    memcpy(e->hash, hash, sizeof(e->hash));
    snprintf(e->staff_id, sizeof(e->staff_id), "%s", p->staff_id);
    e->admin = p->admin;
    e->nstores = p->nstores;
    e->until_us = now + (int64_t)life_s * 1000000;
    pe = &C.buckets[bucket_of(hash)];
    e->next = *pe;
    *pe = e;
    C.count++;
}

void authcache_forget(const char *hash)
{
    struct entry **pe = find(hash);
    C.gen++;
    if (*pe)
        unlink_entry(pe);
}

void authcache_forget_staff(const char *staff_id)
{
    C.gen++;
    drop_where(is_staff, staff_id);
}

static void on_subscribed(void *arg)
{
    (void)arg;
    /* Whatever was announced while nobody listened is unknown: nothing cached can be trusted. */
    C.gen++;
    drop_all();
}

static void on_notified(const char *payload, void *arg)
{
    (void)arg;
    if (strncmp(payload, "t:", 2) == 0) {
        C.invalidations++;
        authcache_forget(payload + 2);
    } else if (strncmp(payload, "s:", 2) == 0) {
        C.invalidations++;
        authcache_forget_staff(payload + 2);
    } else if (strcmp(payload, "all") == 0) {
        /* An operator's (or a test's) NOTIFY carnet_auth, 'all': forget everything. Its arrival
         * also proves that every announcement committed before it has arrived. */
        C.flushes++;
        C.gen++;
        drop_all();
    } else {
        C.gen++;
        log_warning("authcache: unknown announcement; dropping every session");
        drop_all();
    }
}

int authcache_init(void)
{
    static const struct pglisten_ops ops = {on_subscribed, on_notified};
    return pglisten_add(AUTHCACHE_CHANNEL, &ops, NULL);
}

void authcache_metrics_render(struct evbuffer *out)
{
    evbuffer_add_printf(out,
                        "# HELP carnet_auth_cache_hits_total Authenticated requests whose session "
                        "came from this process's cache (no auth_session query).\n"
                        "# TYPE carnet_auth_cache_hits_total counter\n"
                        "carnet_auth_cache_hits_total %llu\n"
                        "# HELP carnet_auth_cache_misses_total Sessions looked up in the cache "
                        "and checked by the database.\n"
                        "# TYPE carnet_auth_cache_misses_total counter\n"
                        "carnet_auth_cache_misses_total %llu\n"
                        "# HELP carnet_auth_cache_bypassed_total Sessions checked by the database "
                        "because the cache could not be trusted (not listening on carnet_auth).\n"
                        "# TYPE carnet_auth_cache_bypassed_total counter\n"
                        "carnet_auth_cache_bypassed_total %llu\n"
                        "# HELP carnet_auth_cache_evictions_total Entries dropped to make room.\n"
                        "# TYPE carnet_auth_cache_evictions_total counter\n"
                        "carnet_auth_cache_evictions_total %llu\n"
                        "# HELP carnet_auth_cache_invalidations_total Announcements of a changed "
                        "session or staff member received on carnet_auth.\n"
                        "# TYPE carnet_auth_cache_invalidations_total counter\n"
                        "carnet_auth_cache_invalidations_total %llu\n"
                        "# HELP carnet_auth_cache_flushes_total Announcements 'all' received: "
                        "the whole cache dropped.\n"
                        "# TYPE carnet_auth_cache_flushes_total counter\n"
                        "carnet_auth_cache_flushes_total %llu\n"
                        "# HELP carnet_auth_cache_entries Sessions held in the cache.\n"
                        "# TYPE carnet_auth_cache_entries gauge\n"
                        "carnet_auth_cache_entries %d\n",
                        C.hits, C.misses, C.bypassed, C.evictions, C.invalidations, C.flushes,
                        C.count);
}

void authcache_free(void)
{
    drop_all();
}
