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
                           bool *found);
/* Stores a day (body NULL: no free slot; expires 0: never) unless `stamp` is no longer
 * availcache_stamp(store). Replaces an entry of the same key. */
void availcache_put(int64_t store, int64_t service, int32_t day, const char *body, size_t len,
                    double expires, uint64_t stamp);
uint64_t availcache_stamp(int64_t store);

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
