/*
 * staff: staff account management and the audit log reader.
 *
 * Every operation is one SQL function of schema/005_staff.sql, which re-checks the store scope
 * and holds the rules that depend on the target (a manager acts only on staff of their store,
 * never on an admin; only admins create admins) and writes the audit entry in the same
 * transaction. carnetd checks types, presence and lengths first, so a bad field is named before
 * any work is done.
 *
 * Operations that carry a new password (create, reset, change own) hash it with argon2id on a
 * worker thread (crypto_pwhash_str: tens of milliseconds and 64 MiB, far too slow for the loop)
 * and send only the hash to PostgreSQL. Plain passwords live in one heap buffer, wiped when the
 * request ends, and are never logged. A PIN for shared tablets (POST /api/auth/pin) goes the same
 * way: the account's password is verified and the PIN hashed on the worker; weak PINs (one digit
 * repeated, a run up or down, two digits alternating) are refused here, the only place the PIN
 * is seen in clear.
 */
#include "staff.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "authcache.h"
#include "api.h"
#include "http.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define STAFF_PASSWORD_MIN_CHARS 10
#define STAFF_PASSWORD_MAX_BYTES 1024
#define STAFF_EMAIL_MIN_BYTES 3
#define STAFF_EMAIL_MAX_BYTES 254
#define STAFF_NAME_MAX_CHARS 200
#define AUDIT_LIMIT_DEFAULT 100
#define AUDIT_LIMIT_MAX 500
#define AUDIT_FILTER_MAX_BYTES 64

static struct sql_stmt q_list = SQL_STMT("staff_list", "select staff_list($1, $2, $3)", 3);
static struct sql_stmt q_create =
    SQL_STMT("staff_create", "select staff_create($1, $2, $3::jsonb, $4, $5)", 5);
static struct sql_stmt q_roles =
    SQL_STMT("staff_set_roles", "select staff_set_roles($1, $2, $3, $4::jsonb, $5)", 5);
static struct sql_stmt q_reset =
    SQL_STMT("staff_reset_password", "select staff_reset_password($1, $2, $3, $4, $5, $6)", 6);
static struct sql_stmt q_disable =
    SQL_STMT("staff_disable", "select staff_disable($1, $2, $3, $4)", 4);
static struct sql_stmt q_enable =
    SQL_STMT("staff_enable", "select staff_enable($1, $2, $3, $4)", 4);
static struct sql_stmt q_pw_begin =
    SQL_STMT("staff_password_begin", "select staff_password_begin($1, $2, $3)", 3);
static struct sql_stmt q_pw_finish = SQL_STMT(
    "staff_password_finish", "select staff_password_finish($1, $2, $3, $4, $5, $6, $7, $8)", 8);
static struct sql_stmt q_pin_finish =
    SQL_STMT("staff_pin_finish", "select staff_pin_finish($1, $2, $3, $4, $5, $6, $7)", 7);
static struct sql_stmt q_audit =
    SQL_STMT("staff_audit_list", "select staff_audit_list($1, $2, $3, $4, $5)", 5);

/* ---- input checks ---- */

/* Characters (code points) of valid UTF-8, which jansson guarantees for its strings. */
static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

static bool has_control(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7F)
            return true;
    return false;
}

/* Something that can receive mail: local@domain, no spaces or control characters. Anything
 * else (quotes, angle brackets, percent signs) is kept verbatim: it is data, not markup. */
static bool email_ok(const char *s)
{
    size_t len = strlen(s);
    const char *at = strrchr(s, '@');
    if (len < STAFF_EMAIL_MIN_BYTES || len > STAFF_EMAIL_MAX_BYTES || !at || at == s || !at[1])
        return false;
    for (const char *p = s; *p; p++)
        if (*p == ' ' || (unsigned char)*p < 0x20 || *p == 0x7F)
            return false;
    return true;
}

/* Replies 422 and returns false unless `v` is a password we accept. */
static bool check_password(struct req *r, json_t *v, const char *field)
{
    if (!json_is_string(v)) {
        http_reply_error(r, 422, "invalid", field, "%s must be a string", field);
        return false;
    }
    if (json_string_length(v) > STAFF_PASSWORD_MAX_BYTES ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        http_reply_error(r, 422, "invalid", field, "%s is too long", field);
        return false;
    }
    if (utf8_chars(json_string_value(v)) < STAFF_PASSWORD_MIN_CHARS) {
        http_reply_error(r, 422, "too_short", field, "%s needs at least %d characters", field,
                         STAFF_PASSWORD_MIN_CHARS);
        return false;
    }
    return true;
}

/* Replies 422 and returns false unless `v` is a list of store role names. */
static bool check_roles(struct req *r, json_t *v)
{
    size_t i;
    json_t *e;
    if (!json_is_array(v)) {
        http_reply_error(r, 422, "invalid", "roles", "roles must be a list of role names");
        return false;
    }
    json_array_foreach(v, i, e)
    {
        enum role role;
        if (!json_is_string(e) || role_parse(json_string_value(e), &role) < 0 ||
            role == ROLE_ADMIN) {
            http_reply_error(r, 422, "invalid", "roles",
                             "roles are specialist, technician and manager");
            return false;
        }
    }
    return true;
}

/* Replies 404 and returns false unless the path's {store} (and {staff} when `staff`) are ids.
 * Only an admin gets this far with a malformed store: the dispatcher refused everyone else. */
static bool check_path(struct req *r, bool staff)
{
    return api_path_id(r, "store") && (!staff || api_path_id(r, "staff"));
}

/* ---- password work, off the loop ---- */

enum pw_kind { PW_CREATE, PW_RESET, PW_CHANGE, PW_PIN };

/* The state of a request that carries a password: r->state, freed (and wiped) by pw_free. The
 * worker owns it between api_offload and its done callback. */
struct pw {
    enum pw_kind kind;
    char *password;     /* the new password (PW_PIN: the new PIN) */
    char *old_password; /* PW_CHANGE, PW_PIN: the current password, to verify */
    char *stored;       /* PW_CHANGE, PW_PIN: the stored hash it is verified against */
    char *body;         /* PW_CREATE: the other fields, as JSON for staff_create */
    bool old_ok;
    int rc;
    char hash[crypto_pwhash_STRBYTES];
    char session[65]; /* PW_CHANGE: the caller's session, which stays open */
    char ip[64];
};

static void pw_free(void *p)
{
    struct pw *w = p;
    util_wipe_free(w->password);
    util_wipe_free(w->old_password);
    free(w->stored);
    free(w->body);
    sodium_memzero(w, sizeof(*w));
    free(w);
}

static struct pw *pw_new(struct req *r, enum pw_kind kind, const char *password)
{
    struct pw *w = calloc(1, sizeof(*w));
    if (!w)
        return NULL;
    w->kind = kind;
    r->state = w;
    r->state_free = pw_free;
    w->password = strdup(password);
    return w->password ? w : NULL;
}

static void pw_work(void *arg)
{
    struct pw *w = arg;
    if (w->kind == PW_CHANGE || w->kind == PW_PIN) {
        w->old_ok =
            crypto_pwhash_str_verify(w->stored, w->old_password, strlen(w->old_password)) == 0;
        if (!w->old_ok)
            return;
    }
    w->rc =
        crypto_pwhash_str(w->hash, w->password, strlen(w->password),
                          crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

/* The answer to a password change or a PIN set: 204, or 422 when the current password was
 * wrong. */
static void on_pw_finish(struct req *r, const struct db_result *res)
{
    bool pin = ((struct pw *)r->state)->kind == PW_PIN;
    json_t *j = api_result_object(r, res);
    bool ok;

    if (!j)
        return;
    ok = json_is_true(json_object_get(j, "ok"));
    json_decref(j);
    if (!ok) {
        http_reply_error(r, 422, "bad_credentials", pin ? "password" : "old_password",
                         pin ? "the password is wrong" : "the current password is wrong");
        return;
    }
    /* Committed: the other sessions it ended are forgotten here at once, not only when the
     * announcement arrives. */
    authcache_forget_staff(r->who.staff_id);
    http_reply_empty(r, 204);
}

/* A password change (PW_CHANGE) or a PIN set (PW_PIN) once the current password is verified, and
 * when it was right the new one hashed: SQL counts the attempt and stores the new hash. */
static void pw_finish(struct req *r, struct pw *w)
{
    const char *ok = w->old_ok ? "true" : "false", *hash = w->old_ok ? w->hash : NULL;

    if (w->kind == PW_PIN) {
        const char *p[7] = {r->who.staff_id, ok, w->stored, hash, w->ip, r->id, auth_login_key()};
        api_call(r, &q_pin_finish, p, on_pw_finish);
    } else {
        const char *p[8] = {
            r->who.staff_id, ok, w->old_ok ? w->stored : NULL, hash, w->session, w->ip, r->id,
            auth_login_key()};
        api_call(r, &q_pw_finish, p, on_pw_finish);
    }
}

/* After a change to someone's account or roles has committed (or failed), their cached
 * sessions go: forgotten before the commit, a concurrent miss could cache the old state again
 * until the announcement arrives. */
static void forget_and_reply(struct req *r, const struct db_result *res)
{
    authcache_forget_staff(http_param(r, "staff"));
    api_reply_result(r, 200, res);
}

static void pw_done(struct req *r)
{
    struct pw *w = r->state;
    const char *p[6];

    if ((w->kind == PW_CHANGE || w->kind == PW_PIN) && (!w->old_ok || w->rc == 0)) {
        pw_finish(r, w);
        return;
    }
    if (w->rc != 0) {
        /* crypto_pwhash_str fails only when memory is short. */
        http_reply_oom(r);
        return;
    }
    switch (w->kind) {
    case PW_CREATE:
        p[0] = r->who.staff_id;
        p[1] = http_param(r, "store");
        p[2] = w->body;
        p[3] = w->hash;
        p[4] = r->id;
        api_send(r, &q_create, p, 201);
        break;
    case PW_RESET:
        p[0] = r->who.staff_id;
        p[1] = http_param(r, "store");
        p[2] = http_param(r, "staff");
        p[3] = w->hash;
        p[4] = r->id;
        p[5] = auth_login_key();
        api_call(r, &q_reset, p, forget_and_reply);
        break;
    case PW_CHANGE:
    case PW_PIN:
        break; /* answered above */
    }
}

static void pw_submit(struct req *r)
{
    api_offload(r, WORKER_CPU, pw_work, pw_done);
}

/* ---- handlers ---- */

void staff_list(struct req *r)
{
    const char *p[3];
    if (!check_path(r, false))
        return;
    p[0] = r->who.staff_id;
    p[1] = http_param(r, "store");
    p[2] = r->id;
    api_send(r, &q_list, p, 200);
}

void staff_create(struct req *r)
{
    json_t *email, *name, *password, *roles, *admin, *fields;
    struct pw *w;

    if (!check_path(r, false) || !api_need_body(r))
        return;
    email = json_object_get(r->json, "email");
    name = json_object_get(r->json, "name");
    password = json_object_get(r->json, "password");
    roles = json_object_get(r->json, "roles");
    admin = json_object_get(r->json, "admin");
    if (!json_is_string(email) || !email_ok(json_string_value(email)) ||
        strlen(json_string_value(email)) != json_string_length(email)) {
        http_reply_error(r, 422, "invalid", "email", "an email address is required");
        return;
    }
    if (!json_is_string(name) || json_string_length(name) == 0 ||
        strlen(json_string_value(name)) != json_string_length(name) ||
        utf8_chars(json_string_value(name)) > STAFF_NAME_MAX_CHARS ||
        has_control(json_string_value(name))) {
        http_reply_error(r, 422, "invalid", "name", "a name of 1 to %d characters is required",
                         STAFF_NAME_MAX_CHARS);
        return;
    }
    if (!check_password(r, password, "password"))
        return;
    if (!roles)
        roles = json_array();
    else
        json_incref(roles);
    if (!check_roles(r, roles)) {
        json_decref(roles);
        return;
    }
    if (admin && !json_is_boolean(admin)) {
        json_decref(roles);
        http_reply_error(r, 422, "invalid", "admin", "admin must be true or false");
        return;
    }
    fields = json_pack("{sOsOsosb}", "email", email, "name", name, "roles", roles, "admin",
                       json_is_true(admin));
    w = pw_new(r, PW_CREATE, json_string_value(password));
    if (!w || !fields || !(w->body = json_dumps(fields, JSON_COMPACT))) {
        if (fields)
            json_decref(fields);
        http_reply_oom(r);
        return;
    }
    json_decref(fields);
    pw_submit(r);
}

void staff_set_roles(struct req *r)
{
    json_t *roles;
    char *text;
    const char *p[5];

    if (!check_path(r, true) || !api_need_body(r))
        return;
    roles = json_object_get(r->json, "roles");
    if (!roles) {
        http_reply_error(r, 422, "invalid", "roles", "roles is required");
        return;
    }
    if (!check_roles(r, roles))
        return;
    text = json_dumps(roles, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        http_reply_oom(r);
        return;
    }
    p[0] = r->who.staff_id;
    p[1] = http_param(r, "store");
    p[2] = http_param(r, "staff");
    p[3] = text;
    p[4] = r->id;
    api_call(r, &q_roles, p, forget_and_reply); /* copies the values */
    free(text);
}

void staff_reset_password(struct req *r)
{
    json_t *password;
    struct pw *w;

    if (!check_path(r, true) || !api_need_body(r))
        return;
    password = json_object_get(r->json, "password");
    if (!check_password(r, password, "password"))
        return;
    w = pw_new(r, PW_RESET, json_string_value(password));
    if (!w) {
        http_reply_oom(r);
        return;
    }
    pw_submit(r);
}

static void staff_toggle(struct req *r, struct sql_stmt *stmt)
{
    const char *p[4];
    if (!check_path(r, true))
        return;
    p[0] = r->who.staff_id;
    p[1] = http_param(r, "store");
    p[2] = http_param(r, "staff");
    p[3] = r->id;
    api_call(r, stmt, p, forget_and_reply);
}

void staff_disable(struct req *r)
{
    staff_toggle(r, &q_disable);
}

void staff_enable(struct req *r)
{
    staff_toggle(r, &q_enable);
}

static void on_pw_begin(struct req *r, const struct db_result *res)
{
    struct pw *w = r->state;
    json_t *j = api_result_object(r, res);
    const char *h;

    if (!j)
        return;
    h = json_string_value(json_object_get(j, "hash"));
    w->stored = h ? strdup(h) : NULL;
    json_decref(j);
    if (!w->stored) {
        http_reply_error(r, 500, "internal", NULL, "bad account record");
        return;
    }
    pw_submit(r);
}

/* The caller's current password as a body gives it (`v`, member `field`): text of 1 to
 * STAFF_PASSWORD_MAX_BYTES bytes without NUL, else a 422 saying `rule` and false. */
static bool current_password_ok(struct req *r, json_t *v, const char *field, const char *rule)
{
    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > STAFF_PASSWORD_MAX_BYTES ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        http_reply_error(r, 422, "invalid", field, "%s", rule);
        return false;
    }
    return true;
}

/* A password change (PW_CHANGE: the new password) or a PIN set (PW_PIN: the PIN), both checked,
 * and the caller's current password `current` (checked too): step one reads the stored hash
 * under the sign-in throttle, then pw_work verifies it off the loop. */
static void pw_begin(struct req *r, enum pw_kind kind, const char *secret, const char *current)
{
    struct pw *w = pw_new(r, kind, secret);
    const char *p[3];

    if (!w || !(w->old_password = strdup(current)) ||
        (kind == PW_CHANGE && auth_session_hash(r, w->session) < 0)) {
        http_reply_oom(r);
        return;
    }
    http_peer_addr(r, w->ip, sizeof(w->ip));
    p[0] = r->who.staff_id;
    p[1] = w->ip;
    p[2] = auth_login_key();
    api_call(r, &q_pw_begin, p, on_pw_begin);
}

void staff_change_password(struct req *r)
{
    json_t *old, *new;

    if (!api_need_body(r))
        return;
    old = json_object_get(r->json, "old_password");
    new = json_object_get(r->json, "new_password");
    if (!current_password_ok(r, old, "old_password", "the current password is required") ||
        !check_password(r, new, "new_password"))
        return;
    pw_begin(r, PW_CHANGE, json_string_value(new), json_string_value(old));
}

/* A PIN anyone would try first: one digit repeated (0000), a run up or down (1234, 987654) or
 * two digits alternating (1212). `pin` is 4 to 6 digits. */
static bool pin_weak(const char *pin)
{
    size_t n = strlen(pin);
    bool same = true, up = true, down = true, alternating = pin[0] != pin[1];

    for (size_t i = 1; i < n; i++) {
        same = same && pin[i] == pin[0];
        up = up && pin[i] == pin[i - 1] + 1;
        down = down && pin[i] == pin[i - 1] - 1;
        alternating = alternating && pin[i] == pin[i % 2];
    }
    return same || up || down || alternating;
}

void staff_set_pin(struct req *r)
{
    json_t *pin, *password;

    if (!api_need_body(r))
        return;
    pin = json_object_get(r->json, "pin");
    password = json_object_get(r->json, "password");
    if (!json_is_string(pin) || strlen(json_string_value(pin)) != json_string_length(pin) ||
        !auth_pin_format_ok(json_string_value(pin))) {
        http_reply_error(r, 422, "invalid", "pin", "a PIN is 4 to 6 digits");
        return;
    }
    if (pin_weak(json_string_value(pin))) {
        http_reply_error(r, 422, "weak_pin", "pin", "that PIN is too easy to guess");
        return;
    }
    if (!current_password_ok(r, password, "password", "your password is required"))
        return;
    pw_begin(r, PW_PIN, json_string_value(pin), json_string_value(password));
}

void staff_audit(struct req *r)
{
    const char *type = http_query(r, "object_type");
    const char *id = http_query(r, "object_id");
    char limit[24], before[24];

    /* An empty filter (?object_type=) means no filter, as a form would send it. */
    if (type && !*type)
        type = NULL;
    if (id && !*id)
        id = NULL;
    if (type && strlen(type) > AUDIT_FILTER_MAX_BYTES) {
        http_reply_error(r, 400, "bad_value", "object_type", "object_type is at most %d bytes",
                         AUDIT_FILTER_MAX_BYTES);
        return;
    }
    if (id && strlen(id) > AUDIT_FILTER_MAX_BYTES) {
        http_reply_error(r, 400, "bad_value", "object_id", "object_id is at most %d bytes",
                         AUDIT_FILTER_MAX_BYTES);
        return;
    }
    if (!api_query_int(r, "limit", 1, AUDIT_LIMIT_MAX, AUDIT_LIMIT_DEFAULT, limit) ||
        !api_query_int(r, "before", 1, UTIL_ID_MAX, 0, before))
        return;
    const char *p[5] = {r->who.staff_id, type, id, limit, http_query(r, "before") ? before : NULL};
    api_send(r, &q_audit, p, 200);
}
