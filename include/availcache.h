/*
 * availcache: the month view's free slots cached per (store, service, day), bounded in bytes
 * (least recently used first out). It knows nothing of the database: booking.c fills it from
 * booking_availability_days and drops what the carnet_avail notifications name (046).
 *
 * An entry may also expire with time: a day's answer changes when its first free slot passes,
 * so an entry is kept with that instant and is a miss from then on.
 *
 * A fill races with changes: the rows of a query that started before a change may arrive after
 * its notification. availcache_stamp(store) is taken when the query is sent and passed back to
 * availcache_put, which stores nothing when anything of that store was dropped meanwhile.
 */
#ifndef CARNET_AVAILCACHE_H
#define CARNET_AVAILCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The key of a (store, service)'s time zone, kept beside its days. */
#define AVAILCACHE_HEAD_DAY INT32_MIN

/* Sets the bound (0: off) and empties the cache. -1 when out of memory. */
int availcache_init(size_t max_bytes);
void availcache_free(void);
bool availcache_on(void);

/* The cached text of a day (NULL with *found true: a day without a free slot), or NULL with
 * *found false on a miss; an entry whose first slot is at or before `now` (epoch seconds) is a
 * miss and is dropped. Valid until the next call that changes the cache. */
const char *availcache_get(int64_t store, int64_t service, int32_t day, double now, size_t *len,
                           bool *found, double *expires);
/* Stores a day (body NULL: no free slot; expires 0: never) unless `stamp` is no longer
 * availcache_stamp(store). Replaces an entry of the same key. */
void availcache_put(int64_t store, int64_t service, int32_t day, const char *body, size_t len,
                    double expires, uint64_t stamp);
uint64_t availcache_stamp(int64_t store);

/*
 * Assembled replies: the whole answer for (store, service, from, to), kept beside the days it
 * was made of and good while none of the store's days was dropped since (its stamp) and until
 * the earliest of their expiries. A body is counted: the cache holds one reference and each
 * evbuffer it is sent from another (evbuffer_add_reference with availcache_body_release), so a
 * body dropped while its bytes are still being written lives until they are out.
 */
struct availcache_body {
    unsigned refs;
    size_t len;
    char data[];
};
/* A new body of `len` bytes (one reference, the caller's), NULL when out of memory. */
struct availcache_body *availcache_body_new(size_t len);
struct availcache_body *availcache_body_hold(struct availcache_body *b);
void availcache_body_release(struct availcache_body *b);
/* The kept reply, or NULL (a stale one is dropped); counts the n days and the time zone it
 * stands for as hits. Not held: hold it to keep it past the next call that changes the cache. */
struct availcache_body *availcache_reply_get(int64_t store, int64_t service, int32_t from,
                                             int32_t to, double now);
/* Keeps a reply (a reference of its own) unless `stamp` is no longer availcache_stamp(store);
 * expires 0: never. */
void availcache_reply_put(int64_t store, int64_t service, int32_t from, int32_t to,
                          struct availcache_body *b, double expires, uint64_t stamp);

/* Drops the store's days in [from, to] of every service (and with `all` its time zones too:
 * use INT32_MIN..INT32_MAX with all for the whole store). */
void availcache_drop(int64_t store, int32_t from, int32_t to, bool all);
/* Drops everything (the notifications may have been missed). */
void availcache_clear(void);

struct availcache_stats {
    size_t entries, bytes;
    uint64_t hits, misses;
};
void availcache_stats(struct availcache_stats *out);

/* Days since 1970-01-01 of a strict YYYY-MM-DD (years 1900-9999, real dates); false otherwise. */
bool availcache_parse_day(const char *s, int32_t *day);

#endif
