/*
 * auth: staff sessions and access rules.
 *
 * A session token is 32 random bytes handed to the browser in an HttpOnly, SameSite=Strict
 * cookie (or to an API client as a bearer token); PostgreSQL keeps only its BLAKE2b hash, so a
 * copy of the database opens no session. A session is checked by auth_session, which also
 * enforces expiry, idle timeout and disabled accounts; its answer is then kept for a few seconds
 * by server/authcache.c, from which every change to a session or staff member drops it on every
 * carnetd through LISTEN/NOTIFY, so most requests cost their own query only and disabling
 * someone takes effect on every carnetd within milliseconds. Cookie sessions must send
 * X-CSRF-Token on writes: the value is a hash of the session token, which a cross-site page
 * cannot read or compute.
 *
 * Login verifies argon2id (crypto_pwhash_str_verify, ~tens of ms) on a worker thread. Unknown
 * accounts are verified against a dummy hash so timing does not reveal which emails exist.
 * Throttling is PostgreSQL's (auth_throttle, shared by every carnetd): each sign-in is an
 * attempt recorded as failed before its password is checked; a correct password turns it into
 * a success, and an attempt whose password was never checked is voided, not counted.
 *
 * Shared tablets: a browser that signs in also gets a tablet cookie (random, HttpOnly; only its
 * hash is stored, beside each session opened on it). An idle session of someone who has a PIN
 * is locked rather than ended (auth_session says so; every route answers 401 `locked`), and
 * POST /api/auth/unlock gives it back for the PIN, checked with argon2id on a CPU worker under
 * the sign-in throttle: the caller's own session, or a colleague's session opened on the same
 * tablet (switching staff). An unlock always mints a new token for the session, so a token is
 * never handed out twice and the one left behind by the previous user of the tablet is dead.
 * Live views keep a session busy without anyone at the tablet, so the staff app also locks it
 * itself after idle_seconds (GET /api/auth/me) without a touch.
 */
#include "auth.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "authcache.h"
#include "config.h"
#include "http.h"
#include "principal.h"
#include "router.h"
#include "seal.h"
#include "sse.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define TOKEN_BYTES 32
#define TABLET_COOKIE_MAX_AGE_S 31536000 /* a year: it names the device, not a person */
#define PIN_MIN_DIGITS 4
#define PIN_MAX_DIGITS 6

static struct sql_stmt q_session = SQL_STMT("auth_session", "select auth_session($1, $2)", 2);
static struct sql_stmt q_login_begin =
    SQL_STMT("auth_login_begin", "select auth_login_begin($1, $2, $3)", 3);
static struct sql_stmt q_login_finish =
    SQL_STMT("auth_login_finish", "select auth_login_finish($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_login_void = SQL_STMT("auth_login_void", "select auth_login_void($1)", 1);
static struct sql_stmt q_logout = SQL_STMT("auth_logout", "select auth_logout($1)", 1);
static struct sql_stmt q_unlock_begin =
    SQL_STMT("staff_unlock_begin", "select staff_unlock_begin($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_unlock_finish =
    SQL_STMT("staff_unlock_finish", "select staff_unlock_finish($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_tablet = SQL_STMT("staff_tablet_list", "select staff_tablet_list($1)", 1);
static struct sql_stmt q_lock =
    SQL_STMT("staff_session_lock", "select staff_session_lock($1, $2, $3)", 3);

/* A valid argon2id hash of a random string: verifying against it costs what a real check does. */
static char dummy_hash[crypto_pwhash_STRBYTES];

void auth_csrf_for(const char *session_token, char out[65])
{
    char salted[128];
    snprintf(salted, sizeof(salted), "csrf:%s", session_token);
    util_token_hash(salted, out);
}

bool auth_allows(const struct principal *p, unsigned access, const char *store_id)
{
    if (!p->authenticated)
        return false;
    if (p->admin)
        return access != 0; /* admins act in every store */
    for (int i = 0; i < p->nstores; i++) {
        if (store_id && strcmp(p->stores[i].store_id, store_id) != 0)
            continue;
        if (p->stores[i].roles & access)
            return true;
    }
    return false;
}

/* The value of cookie `name`, copied; NULL when absent or empty. */
static char *cookie_value(struct req *r, const char *name)
{
    const char *cookie = http_header(r, "Cookie");
    const char *p;
    size_t n = strlen(name);

    for (p = cookie; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        if (strncmp(p, name, n) == 0 && p[n] == '=') {
            const char *v = p + n + 1;
            size_t len = strcspn(v, ";");
            return len ? strndup(v, len) : NULL;
        }
        p = strchr(p, ';');
    }
    return NULL;
}

/* Extracts the session token from the Authorization header or the cookie. */
static char *token_from(struct req *r, bool *via_cookie)
{
    const char *authz = http_header(r, "Authorization");
    char *v;

    *via_cookie = false;
    if (authz && strncasecmp(authz, "Bearer ", 7) == 0 && authz[7])
        return strdup(authz + 7);
    v = cookie_value(r, AUTH_COOKIE);
    *via_cookie = v != NULL;
    return v;
}

/* The hash of the browser's tablet cookie into `out`; false without one. */
static bool tablet_hash(struct req *r, char out[65])
{
    char *v = cookie_value(r, AUTH_TABLET_COOKIE);

    if (!v)
        return false;
    util_token_hash(v, out);
    sodium_memzero(v, strlen(v));
    free(v);
    return true;
}

static bool is_write(const char *method)
{
    return strcmp(method, "GET") && strcmp(method, "HEAD") && strcmp(method, "OPTIONS");
}

/* A cookie is sent by the browser on its own, even from another site's form: a write made with
 * one must also carry the CSRF value, which only our pages can read. Replies 403 when not. */
static bool csrf_refused(struct req *r, const char *token)
{
    const char *sent = http_header(r, AUTH_CSRF_HEADER);
    char want[65];

    auth_csrf_for(token, want);
    if (sent && util_streq_ct(sent, want))
        return false;
    http_reply_error(r, 403, "csrf", AUTH_CSRF_HEADER, "missing or wrong %s header",
                     AUTH_CSRF_HEADER);
    return true;
}

/* Fills `p` from the JSON built by auth_session()/auth_login_finish(). */
static int principal_from_json(struct principal *p, json_t *j)
{
    json_t *stores = json_object_get(j, "stores");
    size_t i;
    json_t *s;

    if (!json_is_object(j))
        return -1;
    p->authenticated = true;
    p->admin = json_is_true(json_object_get(j, "admin"));
    snprintf(p->staff_id, sizeof(p->staff_id), "%lld",
             (long long)json_integer_value(json_object_get(j, "staff_id")));
    snprintf(p->name, sizeof(p->name), "%s",
             json_string_value(json_object_get(j, "name"))
                 ? json_string_value(json_object_get(j, "name"))
                 : "");
    snprintf(p->desk, sizeof(p->desk), "%s",
             json_string_value(json_object_get(j, "desk"))
                 ? json_string_value(json_object_get(j, "desk"))
                 : "");
    p->nstores = 0;
    if (json_is_array(stores) && json_array_size(stores) > 0) {
        p->stores = calloc(json_array_size(stores), sizeof(*p->stores));
        if (!p->stores)
            return -1;
        json_array_foreach(stores, i, s)
        {
            snprintf(p->stores[p->nstores].store_id, sizeof(p->stores[0].store_id), "%lld",
                     (long long)json_integer_value(json_object_get(s, "store_id")));
            p->stores[p->nstores].roles = (unsigned)json_integer_value(json_object_get(s, "roles"));
            p->nstores++;
        }
    }
    return 0;
}

/* Held on r->state while auth_session runs (no handler owns it yet): what the cache needs to
 * keep the answer. */
struct session_check {
    char hash[65];
    uint64_t gen;
};

/* How long the cache may answer for a session the database just checked: until its idle limit
 * or expiry, and no longer than auth_session's interval between two marks of last_seen_at, so
 * that a session in use is marked as often as without the cache. */
static int cache_life(json_t *j)
{
    int life = config.session_idle_s / 10 < 60 ? config.session_idle_s / 10 : 60;
    json_t *idle = json_object_get(j, "idle_left"), *exp = json_object_get(j, "expires_in");

    if (!json_is_integer(idle) || !json_is_integer(exp))
        return 0;
    if (json_integer_value(idle) < life)
        life = (int)json_integer_value(idle);
    if (json_integer_value(exp) < life)
        life = (int)json_integer_value(exp);
    return life;
}

static void on_session(struct req *r, const struct db_result *res)
{
    struct session_check check = {"", 0};
    json_t *j;

    if (r->state) {
        check = *(struct session_check *)r->state;
        free(r->state);
        r->state = NULL;
        r->state_free = NULL;
    }
    if (res->status != DB_OK) {
        /* EventSource gives up for good on a 503, but comes back after a retry delay. */
        if (!router_is_stream(r->match.route) || !sse_shed_refused(r, res))
            api_reply_db_error(r, res);
        return;
    }
    if (db_isnull(res, 0, 0)) {
        http_reply_error(r, 401, "unauthenticated", NULL,
                         "your session has ended: please sign in again");
        return;
    }
    j = json_loads(db_value(res, 0, 0), 0, NULL);
    if (json_is_true(json_object_get(j, "locked"))) {
        json_decref(j);
        http_reply_error(r, 401, "locked", "pin",
                         "this session is locked: unlock it with your PIN, or sign in");
        return;
    }
    if (!j || principal_from_json(&r->who, j) < 0) {
        if (j)
            json_decref(j);
        http_reply_error(r, 500, "internal", NULL, "bad session record");
        return;
    }
    if (check.hash[0])
        authcache_put(check.hash, &r->who, check.gen, cache_life(j));
    json_decref(j);
    r->resume(r);
}

void auth_resolve(struct req *r, void (*next)(struct req *r))
{
    bool via_cookie;
    char *token = token_from(r, &via_cookie);
    char hash[65], idle[16];
    const char *params[2];
    struct session_check *check;

    if (!token) {
        http_reply_error(r, 401, "unauthenticated", NULL, "sign in first");
        return;
    }
    r->who.via_cookie = via_cookie;
    if (via_cookie && is_write(r->method) && csrf_refused(r, token)) {
        sodium_memzero(token, strlen(token));
        free(token);
        return;
    }
    if (via_cookie)
        auth_csrf_for(token, r->who.csrf); /* a page that lost it can ask /api/auth/me again */
    util_token_hash(token, hash);
    sodium_memzero(token, strlen(token));
    free(token);
    if (authcache_get(hash, &r->who)) {
        next(r);
        return;
    }
    check = malloc(sizeof(*check));
    if (check) { /* without it the answer is used, just not kept */
        memcpy(check->hash, hash, sizeof(check->hash));
        check->gen = authcache_generation();
        r->state = check;
        r->state_free = free;
    }
    snprintf(idle, sizeof(idle), "%d", config.session_idle_s);
    params[0] = hash;
    params[1] = idle;
    r->resume = next;
    api_call(r, &q_session, params, on_session);
}

const char *auth_login_key(void)
{
    /* Derived once from the data key, which does not change while carnetd runs. */
    static char key[SEAL_BLIND_HEX + 1];
    if (!key[0] && seal_keyed("login-attempts", "key", key) < 0)
        return NULL;
    return key;
}

int auth_session_hash(struct req *r, char out[65])
{
    bool via_cookie;
    char *token = token_from(r, &via_cookie);

    if (!token)
        return -1;
    util_token_hash(token, out);
    sodium_memzero(token, strlen(token));
    free(token);
    return 0;
}

/* ---- login ---- */

/* Hangs on r->state; the request is held while the hash is checked on a CPU worker. */
/* A secret someone typed (a password, a PIN), checked on a CPU worker against its stored argon2id
 * hash, and the throttle's attempt it answers. The first member of a sign-in's and an unlock's
 * state, so that one worker function checks both. */
struct guess {
    char *secret;
    char *stored;     /* the hash it is checked against (a sign-in's may be the dummy) */
    char attempt[24]; /* login_attempts.id, once the begin step has recorded it */
    bool checked;     /* the secret was verified: the attempt is a guess, whatever came next */
    bool ok;
};

static void guess_verify_work(void *arg)
{
    struct guess *g = arg;
    g->ok = crypto_pwhash_str_verify(g->stored, g->secret, strlen(g->secret)) == 0;
    g->checked = true;
}

static void on_login_void(const struct db_result *res, void *arg);

/* The request's end settles its attempt: one recorded but never checked (the CPU workers could
 * not take it) is voided, so a refusal of ours never counts against the account or address. */
static void guess_release(struct guess *g)
{
    if (g->attempt[0] && !g->checked) {
        const char *params[1] = {g->attempt};
        db_query(&q_login_void, params, on_login_void, NULL);
    }
    if (g->secret) {
        sodium_memzero(g->secret, strlen(g->secret));
        free(g->secret);
    }
    free(g->stored);
}

struct login {
    struct guess g; /* the password; stored: the account's hash, or the dummy */
    char *email;
    char staff_id[24];
    bool known;
    bool bearer;
    char ip[64];
    char token[TOKEN_BYTES * 2]; /* the new session's token: only its hash reaches the database */
    char tablet[65];             /* the hash of the browser's tablet cookie, or empty */
    char tablet_token[TOKEN_BYTES * 2]; /* a new tablet cookie to set, or empty */
};

static void on_login_void(const struct db_result *res, void *arg)
{
    (void)arg;
    if (res->status != DB_OK)
        log_warning("auth: an unchecked sign-in attempt stays counted as failed");
}

static void login_free(void *p)
{
    struct login *l = p;
    guess_release(&l->g);
    sodium_memzero(l->token, sizeof(l->token));
    sodium_memzero(l->tablet_token, sizeof(l->tablet_token));
    free(l->email);
    free(l);
}

static void reply_bad_credentials(struct req *r)
{
    http_reply_error(r, 401, "bad_credentials", "password",
                     "that email and password do not match an active account");
}

static void add_cookie(struct req *r, const char *name, const char *value, int max_age)
{
    char cookie[256];

    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", name,
             value, max_age, strncmp(config.public_url, "https:", 6) == 0 ? "; Secure" : "");
    http_add_header(r, "Set-Cookie", cookie);
    sodium_memzero(cookie, sizeof(cookie));
}

/* Replies 200 with a new session: its cookie (then the new tablet's, when `tablet_token` is
 * given), {"staff", "csrf"} and, for API clients, the token. Takes a reference to `staff`. */
static void reply_session(struct req *r, const char *token, json_t *staff, bool bearer,
                          const char *tablet_token)
{
    char csrf[65];
    json_t *body;

    auth_csrf_for(token, csrf);
    add_cookie(r, AUTH_COOKIE, token, config.session_ttl_s);
    if (tablet_token && tablet_token[0])
        add_cookie(r, AUTH_TABLET_COOKIE, tablet_token, TABLET_COOKIE_MAX_AGE_S);
    body = json_pack("{sOss}", "staff", staff, "csrf", csrf);
    if (body && bearer)
        json_object_set_new(body, "token", json_string(token));
    if (!body) {
        http_reply_oom(r);
        return;
    }
    http_reply_jansson(r, 200, body);
}

static void on_login_finish(struct req *r, const struct db_result *res)
{
    struct login *l = r->state;
    json_t *staff;

    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    if (db_isnull(res, 0, 0)) {
        reply_bad_credentials(r);
        return;
    }
    staff = json_loads(db_value(res, 0, 0), 0, NULL);
    if (!staff) {
        http_reply_error(r, 500, "internal", NULL, "bad session record");
        return;
    }
    reply_session(r, l->token, staff, l->bearer, l->tablet_token);
    json_decref(staff);
}

static void login_verify_done(struct req *r)
{
    struct login *l = r->state;
    char hash[65], ttl[16];
    const char *params[6];

    /* A failure is already recorded: auth_login_begin counted the attempt as failed. */
    if (!l->g.ok || !l->known) {
        reply_bad_credentials(r);
        return;
    }
    util_random_token(l->token, sizeof(l->token), TOKEN_BYTES);
    util_token_hash(l->token, hash);
    snprintf(ttl, sizeof(ttl), "%d", config.session_ttl_s);
    params[0] = l->g.attempt;
    params[1] = l->staff_id;
    params[2] = hash;
    params[3] = ttl;
    /* The hash the password was checked against: a reset committed meanwhile voids the check. */
    params[4] = l->g.stored;
    params[5] = l->tablet[0] ? l->tablet : NULL;
    api_call(r, &q_login_finish, params, on_login_finish);
}

static void on_login_begin(struct req *r, const struct db_result *res)
{
    struct login *l = r->state;
    json_t *j;
    const char *h;

    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    j = db_isnull(res, 0, 0) ? NULL : json_loads(db_value(res, 0, 0), 0, NULL);
    if (!json_is_integer(json_object_get(j, "attempt"))) {
        if (j)
            json_decref(j);
        http_reply_error(r, 500, "internal", NULL, "bad sign-in record");
        return;
    }
    snprintf(l->g.attempt, sizeof(l->g.attempt), "%lld",
             (long long)json_integer_value(json_object_get(j, "attempt")));
    h = json_string_value(json_object_get(j, "hash"));
    l->known = h != NULL;
    l->g.stored = strdup(h ? h : dummy_hash);
    snprintf(l->staff_id, sizeof(l->staff_id), "%lld",
             (long long)json_integer_value(json_object_get(j, "staff_id")));
    json_decref(j);
    if (!l->g.stored) {
        http_reply_oom(r);
        return;
    }
    api_offload(r, WORKER_CPU, guess_verify_work, login_verify_done);
}

void auth_login(struct req *r)
{
    json_t *email = json_object_get(r->json, "email");
    json_t *password = json_object_get(r->json, "password");
    struct login *l;
    const char *params[3];

    if (!r->json) {
        http_reply_error(r, 400, "missing_body", "body", "send {\"email\":..,\"password\":..}");
        return;
    }
    if (!json_is_string(email) || json_string_length(email) == 0 ||
        json_string_length(email) > 254) {
        http_reply_error(r, 422, "invalid", "email", "an email address is required");
        return;
    }
    if (!json_is_string(password) || json_string_length(password) == 0 ||
        json_string_length(password) > 1024) {
        http_reply_error(r, 422, "invalid", "password", "a password is required");
        return;
    }
    l = calloc(1, sizeof(*l));
    if (!l) {
        http_reply_oom(r);
        return;
    }
    l->email = strdup(json_string_value(email));
    l->g.secret = strdup(json_string_value(password));
    l->bearer = json_is_true(json_object_get(r->json, "bearer"));
    r->state = l;
    r->state_free = login_free;
    if (!l->email || !l->g.secret) {
        http_reply_oom(r);
        return;
    }
    http_peer_addr(r, l->ip, sizeof(l->ip));
    if (!l->ip[0])
        snprintf(l->ip, sizeof(l->ip), "unknown");
    /* A browser signing in for the first time becomes a tablet: its cookie is set with the
     * session's, on success only. */
    if (!l->bearer && !tablet_hash(r, l->tablet)) {
        util_random_token(l->tablet_token, sizeof(l->tablet_token), TOKEN_BYTES);
        util_token_hash(l->tablet_token, l->tablet);
    }
    params[0] = l->email;
    params[1] = l->ip;
    params[2] = auth_login_key();
    api_call(r, &q_login_begin, params, on_login_begin);
}

static void on_logout(struct req *r, const struct db_result *res)
{
    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    http_add_header(r, "Set-Cookie", AUTH_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    http_reply_empty(r, 204);
}

/* Public, so that signing out twice or with a dead session is harmless; but ending a cookie
 * session is a write like any other, or any site could sign our staff out. */
void auth_logout(struct req *r)
{
    bool via_cookie;
    char *token = token_from(r, &via_cookie);
    char hash[65];
    const char *params[1] = {hash};

    if (token && via_cookie && csrf_refused(r, token)) {
        sodium_memzero(token, strlen(token));
        free(token);
        return;
    }
    util_token_hash(token ? token : "", hash);
    if (token)
        sodium_memzero(token, strlen(token));
    free(token);
    authcache_forget(hash);
    api_call(r, &q_logout, params, on_logout);
}

void auth_me(struct req *r)
{
    json_t *stores = json_array(), *me;
    for (int i = 0; i < r->who.nstores; i++) {
        json_t *roles = json_array();
        for (unsigned b = ROLE_SPECIALIST; b <= ROLE_MANAGER; b <<= 1)
            if (r->who.stores[i].roles & b)
                json_array_append_new(roles, json_string(role_name((enum role)b)));
        json_array_append_new(stores, json_pack("{sIso}", "store_id",
                                                (json_int_t)atoll(r->who.stores[i].store_id),
                                                "roles", roles));
    }
    me = json_pack("{sIsssbso}", "staff_id", (json_int_t)atoll(r->who.staff_id), "name",
                   r->who.name, "admin", r->who.admin, "stores", stores);
    /* The staff app locks a shared tablet after this long without a touch (auth.c header). */
    if (me)
        json_object_set_new(me, "idle_seconds", json_integer(config.session_idle_s));
    if (me)
        json_object_set_new(me, "desk", json_string(r->who.desk));
    /* Readable only by same-origin pages (no CORS), so handing it back leaks nothing. */
    if (me && r->who.csrf[0])
        json_object_set_new(me, "csrf", json_string(r->who.csrf));
    http_reply_jansson(r, 200, me);
}

/* ---- shared tablets: lock, unlock, who is on this tablet ---- */

/* The state of an unlock: r->state, wiped and freed with the request. */
struct unlock {
    struct guess g;   /* the PIN; stored: the staff member's PIN hash */
    char session[65]; /* sessions.token_hash of the session to unlock */
    char token[TOKEN_BYTES * 2];
    bool bearer;
};

static void unlock_free(void *p)
{
    struct unlock *u = p;
    guess_release(&u->g);
    sodium_memzero(u, sizeof(*u));
    free(u);
}

static void on_unlock_finish(struct req *r, const struct db_result *res)
{
    struct unlock *u = r->state;
    json_t *j = api_result_object(r, res);

    if (!j)
        return;
    if (json_is_true(json_object_get(j, "ok"))) {
        reply_session(r, u->token, json_object_get(j, "staff"), u->bearer, NULL);
    } else if (json_is_true(json_object_get(j, "ended"))) {
        http_reply_error(r, 401, "pin_ended", "pin",
                         "too many wrong PINs: this session has ended, please sign in");
    } else {
        http_reply_error(r, 401, "bad_pin", "pin", "that PIN is not right");
    }
    json_decref(j);
}

static void unlock_verify_done(struct req *r)
{
    struct unlock *u = r->state;
    char hash[65];
    const char *params[6];

    if (u->g.ok) {
        util_random_token(u->token, sizeof(u->token), TOKEN_BYTES);
        util_token_hash(u->token, hash);
    }
    params[0] = u->g.attempt;
    params[1] = u->session;
    params[2] = u->g.ok ? "true" : "false";
    params[3] = u->g.stored;
    params[4] = u->g.ok ? hash : NULL;
    params[5] = r->id;
    api_call(r, &q_unlock_finish, params, on_unlock_finish);
}

static void on_unlock_begin(struct req *r, const struct db_result *res)
{
    struct unlock *u = r->state;
    json_t *j = api_result_object(r, res);
    const char *h, *s;

    if (!j)
        return;
    h = json_string_value(json_object_get(j, "hash"));
    s = json_string_value(json_object_get(j, "session"));
    if (!h || !s || strlen(s) >= sizeof(u->session) ||
        !json_is_integer(json_object_get(j, "attempt"))) {
        json_decref(j);
        http_reply_error(r, 500, "internal", NULL, "bad session record");
        return;
    }
    snprintf(u->g.attempt, sizeof(u->g.attempt), "%lld",
             (long long)json_integer_value(json_object_get(j, "attempt")));
    snprintf(u->session, sizeof(u->session), "%s", s);
    u->g.stored = strdup(h);
    json_decref(j);
    if (!u->g.stored) {
        http_reply_oom(r);
        return;
    }
    api_offload(r, WORKER_CPU, guess_verify_work, unlock_verify_done);
}

bool auth_pin_format_ok(const char *pin)
{
    size_t n = strlen(pin);

    if (n < PIN_MIN_DIGITS || n > PIN_MAX_DIGITS)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pin[i] < '0' || pin[i] > '9')
            return false;
    return true;
}

/* Public: a locked session cannot pass auth_resolve. {"pin"} unlocks the caller's own session;
 * {"pin", "staff_id"} the session that staff member opened on this tablet (switching). No CSRF
 * value is asked for (the page of a locked session may not have one): the session cookie is
 * SameSite=Strict, and nothing opens without the PIN. */
void auth_unlock(struct req *r)
{
    json_t *pin, *staff;
    struct unlock *u;
    bool via_cookie, bearer;
    char *token = NULL, own[65] = "", tablet[65] = "", ip[64], staff_id[24] = "";
    const char *params[5];

    if (!api_need_body(r))
        return;
    pin = json_object_get(r->json, "pin");
    staff = json_object_get(r->json, "staff_id");
    if (!json_is_string(pin) || strlen(json_string_value(pin)) != json_string_length(pin) ||
        !auth_pin_format_ok(json_string_value(pin))) {
        http_reply_error(r, 422, "invalid", "pin", "a PIN is %d to %d digits", PIN_MIN_DIGITS,
                         PIN_MAX_DIGITS);
        return;
    }
    if (staff && !json_is_null(staff)) {
        if (!json_is_integer(staff) || json_integer_value(staff) < 1) {
            http_reply_error(r, 422, "invalid", "staff_id", "staff_id is a staff member's id");
            return;
        }
        snprintf(staff_id, sizeof(staff_id), "%lld", (long long)json_integer_value(staff));
    }
    token = token_from(r, &via_cookie);
    bearer = token && !via_cookie;
    if (token) {
        util_token_hash(token, own);
        sodium_memzero(token, strlen(token));
        free(token);
    }
    tablet_hash(r, tablet);
    if (staff_id[0] ? !tablet[0] : !own[0]) {
        http_reply_error(r, 401, "unauthenticated", NULL, "sign in first");
        return;
    }
    u = calloc(1, sizeof(*u));
    if (!u || !(u->g.secret = strdup(json_string_value(pin)))) {
        free(u);
        http_reply_oom(r);
        return;
    }
    u->bearer = bearer;
    r->state = u;
    r->state_free = unlock_free;
    http_peer_addr(r, ip, sizeof(ip));
    if (!ip[0])
        snprintf(ip, sizeof(ip), "unknown");
    params[0] = staff_id[0] ? NULL : own;
    params[1] = tablet[0] ? tablet : NULL;
    params[2] = staff_id[0] ? staff_id : NULL;
    params[3] = ip;
    params[4] = auth_login_key();
    api_call(r, &q_unlock_begin, params, on_unlock_begin);
}

static void on_lock(struct req *r, const struct db_result *res)
{
    if (res->status != DB_OK) {
        api_reply_db_error(r, res);
        return;
    }
    http_reply_empty(r, 204);
}

void auth_lock(struct req *r)
{
    char hash[65];
    const char *params[3] = {r->who.staff_id, hash, r->id};

    if (auth_session_hash(r, hash) < 0) {
        http_reply_error(r, 401, "unauthenticated", NULL, "sign in first");
        return;
    }
    authcache_forget(hash);
    api_call(r, &q_lock, params, on_lock);
}

void auth_tablet(struct req *r)
{
    char hash[65];
    const char *params[1] = {hash};

    if (!tablet_hash(r, hash)) {
        http_reply_json(r, 200, "{\"staff\":[]}", strlen("{\"staff\":[]}"));
        return;
    }
    api_send(r, &q_tablet, params, 200);
}

int auth_init(void)
{
    char random_pw[32];
    if (authcache_init() < 0)
        return -1;
    util_random_token(random_pw, sizeof(random_pw), 16);
    /* Start-up only: one hash, before the loop serves anything. */
    return crypto_pwhash_str(dummy_hash, random_pw, strlen(random_pw),
                             crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}
