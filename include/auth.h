/*
 * auth: who is calling. Staff sessions (cookie or bearer token, stored only as hashes), the role
 * and store checks the dispatcher applies from the route table, CSRF for cookie sessions, and
 * the login/logout handlers with argon2id run off the loop.
 */
#ifndef CARNET_AUTH_H
#define CARNET_AUTH_H

#include <stdbool.h>
#include <stddef.h>

struct req;
struct principal;

#define AUTH_COOKIE "carnet_session"
#define AUTH_CSRF_HEADER "X-CSRF-Token"
/* Names the browser (a shared tablet) that sessions were opened on; see auth.c. */
#define AUTH_TABLET_COOKIE "carnet_tablet"

/*
 * Looks the caller's session up (this process's cache, else one query), fills r->who, and then
 * calls `next(r)`; or replies 401/403 itself. The pending query holds the request meanwhile.
 */
void auth_resolve(struct req *r, void (*next)(struct req *r));
/* True when `p` holds one of the roles in `access` (in `store_id` when given). */
bool auth_allows(const struct principal *p, unsigned access, const char *store_id);
/* The CSRF token that goes with a session token (derived, so every carnetd agrees). */
void auth_csrf_for(const char *session_token, char out[65]);

/* The hash of the caller's session token, as stored in sessions.token_hash. -1 without one. */
int auth_session_hash(struct req *r, char out[65]);

/* Prepares the dummy hash used for unknown accounts; call once at start-up. */
int auth_init(void);

void auth_login(struct req *r);
void auth_logout(struct req *r);
void auth_me(struct req *r);

/* Shared tablets (auth.c): POST /api/auth/unlock {pin, staff_id?} (public), POST
 * /api/auth/lock (the caller's own session), GET /api/auth/tablet (who may unlock here). */
void auth_unlock(struct req *r);
void auth_lock(struct req *r);
void auth_tablet(struct req *r);
/* True when `pin` is 4 to 6 ASCII digits (strength is staff.c's business, when one is set). */
bool auth_pin_format_ok(const char *pin);

/* The key a sign-in attempt's account tag is made with (login_mac in schema/api/core.sql): hex,
 * derived from the data key, handed to SQL with each call and never stored. NULL before the
 * data key is loaded. */
const char *auth_login_key(void);

#endif
