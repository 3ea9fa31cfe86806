/*
 * authcache: this process's memory of recently checked sessions, so that an authenticated
 * request usually costs one round trip (its own query) instead of two (auth_session first).
 * Keyed by the session token's hash, never the token. An entry is trusted only while pglisten
 * is subscribed to carnet_auth, on which the database announces every change to a session, a
 * staff member or their roles (schema/api/core.sql); after a loss everything is dropped.
 */
#ifndef CARNET_AUTHCACHE_H
#define CARNET_AUTHCACHE_H

#include <stdbool.h>
#include <stdint.h>

struct principal;
struct evbuffer;

/* At most this long, whatever the session's own limits (seconds). */
#define AUTHCACHE_TTL_S 30
/* At most this many sessions; the one closest to its end makes room for a new one. */
#define AUTHCACHE_MAX 4096

/* Registers the carnet_auth channel with pglisten; before pglisten_start. */
int authcache_init(void);
/* Fills `p` (its stores newly allocated, owned by the caller; csrf and via_cookie untouched)
 * from a live entry for `hash`: true on a hit. False, and `p` untouched, on a miss or while
 * the cache cannot be trusted. */
bool authcache_get(const char *hash, struct principal *p);
/* The generation to hand to authcache_put: take it before asking the database. */
uint64_t authcache_generation(void);
/* Remembers `p` for `hash` for `life_s` seconds (capped at AUTHCACHE_TTL_S), unless anything
 * was announced since `gen` was taken (the answer may predate it) or the cache cannot be
 * trusted now. */
void authcache_put(const char *hash, const struct principal *p, uint64_t gen, int life_s);
/* Forgets one session, or every session of a staff member (a change this process makes; the
 * announcement of it follows). */
void authcache_forget(const char *hash);
void authcache_forget_staff(const char *staff_id);
void authcache_metrics_render(struct evbuffer *out);
void authcache_free(void);

#endif
