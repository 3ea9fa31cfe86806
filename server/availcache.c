/*
 * availcache: a chained hash table of (store, service, day) entries on one LRU list, bounded by
 * the bytes of their texts plus a fixed cost per entry. Used from the loop thread only.
 */
#include "availcache.h"

#include <stdlib.h>
#include <string.h>

#define NBUCKETS 16384 /* power of two */
#define NSTAMPS 4096   /* power of two; stores sharing one only lose a fill now and then */
#define ENTRY_COST 96  /* what an entry costs beside its text */
#define NREPLIES 1024  /* power of two: assembled replies, one per slot, the newer wins */
/* The share of the bound that assembled replies may take (they repeat the days' texts). */
#define REPLY_SHARE 4

struct entry {
    int64_t store, service;
    int32_t day;
    double expires;
    struct entry *chain;
    struct entry *prev, *next; /* LRU: head is the most recent */
    size_t len;
    char *body; /* NULL: no free slot */
};

static struct {
    size_t max, bytes, entries;
    struct entry **buckets;
    struct entry *head, *tail;
    uint64_t stamps[NSTAMPS];
    uint64_t epoch;
    uint64_t hits, misses;
    struct reply {
        int64_t store, service;
        int32_t from, to;
        uint64_t stamp;
        double expires;
        struct availcache_body *body; /* NULL: an empty slot */
    } * replies;
    size_t rbytes;
} C;

static size_t hash(int64_t store, int64_t service, int32_t day)
{
    uint64_t h = (uint64_t)store * 0x9E3779B97F4A7C15ull;
    h ^= (uint64_t)service * 0xC2B2AE3D27D4EB4Full + (h << 6) + (h >> 2);
    h ^= (uint64_t)(uint32_t)day * 0x165667B19E3779F9ull + (h << 6) + (h >> 2);
    return (size_t)(h ^ (h >> 29)) & (NBUCKETS - 1);
}

static size_t stamp_slot(int64_t store)
{
    return (size_t)(((uint64_t)store * 0x9E3779B97F4A7C15ull) >> 40) & (NSTAMPS - 1);
}

static void lru_unlink(struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        C.head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        C.tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push(struct entry *e)
{
    e->prev = NULL;
    e->next = C.head;
    if (C.head)
        C.head->prev = e;
    C.head = e;
    if (!C.tail)
        C.tail = e;
}

static void entry_remove(struct entry *e)
{
    struct entry **p = &C.buckets[hash(e->store, e->service, e->day)];
    while (*p && *p != e)
        p = &(*p)->chain;
    if (*p)
        *p = e->chain;
    lru_unlink(e);
    C.bytes -= e->len + ENTRY_COST;
    C.entries--;
    free(e->body);
    free(e);
}

static struct entry *entry_find(int64_t store, int64_t service, int32_t day)
{
    for (struct entry *e = C.buckets[hash(store, service, day)]; e; e = e->chain)
        if (e->store == store && e->service == service && e->day == day)
            return e;
    return NULL;
}

struct availcache_body *availcache_body_new(size_t len)
{
    struct availcache_body *b = malloc(sizeof *b + len + 1);
    if (!b)
        return NULL;
    b->refs = 1;
    b->len = len;
    b->data[len] = '\0';
    return b;
}

struct availcache_body *availcache_body_hold(struct availcache_body *b)
{
    b->refs++;
    return b;
}

void availcache_body_release(struct availcache_body *b)
{
    if (b && --b->refs == 0)
        free(b);
}

static void reply_empty(struct reply *p)
{
    if (!p->body)
        return;
    C.rbytes -= p->body->len + ENTRY_COST;
    availcache_body_release(p->body);
    p->body = NULL;
}

static struct reply *reply_slot(int64_t store, int64_t service, int32_t from, int32_t to)
{
    size_t h = hash(store, service, from) * 31 + (size_t)(uint32_t)to * 0x9E3779B1u;
    return &C.replies[(h ^ (h >> 15)) & (NREPLIES - 1)];
}

struct availcache_body *availcache_reply_get(int64_t store, int64_t service, int32_t from,
                                             int32_t to, double now)
{
    struct reply *p = C.replies ? reply_slot(store, service, from, to) : NULL;

    if (!p || !p->body || p->store != store || p->service != service || p->from != from ||
        p->to != to)
        return NULL;
    if (p->stamp != availcache_stamp(store) || (p->expires > 0 && now >= p->expires)) {
        reply_empty(p);
        return NULL;
    }
    C.hits += (uint64_t)(to - from) + 2;
    return p->body;
}

void availcache_reply_put(int64_t store, int64_t service, int32_t from, int32_t to,
                          struct availcache_body *b, double expires, uint64_t stamp)
{
    struct reply *p;

    if (!C.replies || stamp != availcache_stamp(store))
        return;
    p = reply_slot(store, service, from, to);
    reply_empty(p);
    if (C.rbytes + b->len + ENTRY_COST > C.max / REPLY_SHARE)
        return;
    *p = (struct reply){.store = store,
                        .service = service,
                        .from = from,
                        .to = to,
                        .stamp = stamp,
                        .expires = expires,
                        .body = availcache_body_hold(b)};
    C.rbytes += b->len + ENTRY_COST;
}

int availcache_init(size_t max_bytes)
{
    availcache_free();
    C.max = max_bytes;
    if (!max_bytes)
        return 0;
    C.buckets = calloc(NBUCKETS, sizeof *C.buckets);
    C.replies = calloc(NREPLIES, sizeof *C.replies);
    if (!C.buckets || !C.replies) {
        availcache_free();
        return -1;
    }
    return 0;
}

void availcache_free(void)
{
    if (C.buckets || C.replies)
        availcache_clear();
    free(C.buckets);
    free(C.replies);
    C.buckets = NULL;
    C.replies = NULL;
    C.max = 0;
}

bool availcache_on(void)
{
    return C.buckets != NULL;
}

const char *availcache_get(int64_t store, int64_t service, int32_t day, double now, size_t *len,
                           bool *found, double *expires)
{
    struct entry *e = C.buckets ? entry_find(store, service, day) : NULL;

    if (e && e->expires > 0 && now >= e->expires) {
        entry_remove(e);
        e = NULL;
    }
    *found = e != NULL;
    if (!e) {
        C.misses++;
        *len = 0;
        return NULL;
    }
    C.hits++;
    lru_unlink(e);
    lru_push(e);
    *len = e->len;
    *expires = e->expires;
    return e->body;
}

uint64_t availcache_stamp(int64_t store)
{
    return C.stamps[stamp_slot(store)] + C.epoch;
}

void availcache_put(int64_t store, int64_t service, int32_t day, const char *body, size_t len,
                    double expires, uint64_t stamp)
{
    struct entry *e;

    if (!C.buckets || stamp != availcache_stamp(store) || len + ENTRY_COST > C.max)
        return;
    if ((e = entry_find(store, service, day)))
        entry_remove(e);
    e = calloc(1, sizeof *e);
    if (!e)
        return;
    if (body && !(e->body = malloc(len + 1))) {
        free(e);
        return;
    }
    if (body) {
        memcpy(e->body, body, len);
        e->body[len] = '\0';
    }
    e->store = store;
    e->service = service;
    e->day = day;
    e->expires = expires;
    e->len = body ? len : 0;
    size_t b = hash(store, service, day);
    e->chain = C.buckets[b];
    C.buckets[b] = e;
    lru_push(e);
    C.bytes += e->len + ENTRY_COST;
    C.entries++;
    while (C.bytes > C.max && C.tail)
        entry_remove(C.tail);
}

void availcache_drop(int64_t store, int32_t from, int32_t to, bool all)
{
    C.stamps[stamp_slot(store)]++;
    if (!C.buckets)
        return;
    for (struct entry *e = C.head, *n; e; e = n) {
        n = e->next;
        if (e->store == store &&
            ((e->day == AVAILCACHE_HEAD_DAY && all) ||
             (e->day != AVAILCACHE_HEAD_DAY && e->day >= from && e->day <= to)))
            entry_remove(e);
    }
}

void availcache_clear(void)
{
    C.epoch++;
    while (C.tail)
        entry_remove(C.tail);
    for (size_t i = 0; C.replies && i < NREPLIES; i++)
        reply_empty(&C.replies[i]);
}

void availcache_stats(struct availcache_stats *out)
{
    out->entries = C.entries;
    out->bytes = C.bytes + C.rbytes;
    out->hits = C.hits;
    out->misses = C.misses;
}

/* Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = y / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool availcache_parse_day(const char *s, int32_t *day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int v[8];

    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0, k = 0; i < 10; i++) {
        if (i == 4 || i == 7)
            continue;
        if (s[i] < '0' || s[i] > '9')
            return false;
        v[k++] = s[i] - '0';
    }
    int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    int m = v[4] * 10 + v[5];
    int d = v[6] * 10 + v[7];
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        return false;
    *day = days_from_civil(y, m, d);
    return true;
}
