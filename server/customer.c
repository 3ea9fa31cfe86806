/*
 * customer: access to and erasure of one person's data (GDPR articles 15 and 17), and the
 * erasure requests customers make from their manage or status links.
 *
 * A person is named by an email or a phone, which never reaches SQL: C checks its shape and
 * computes its blind index (seal_blind under the current data key), and the SQL functions of
 * schema/api/customers.sql find the person's rows by that index alone, decide the caller's scope
 * and do the whole read or erasure in one transaction. Replies open the personal-data markers
 * on their way out (api.c), so the person's own data reaches the caller in clear.
 */
#include "customer.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "link.h"
#include "seal.h"

#define EMAIL_MAX 254
#define PHONE_MAX 32
#define PHONE_DIGITS_MIN 6
#define PHONE_DIGITS_MAX 15

static struct sql_stmt q_access =
    SQL_STMT("customer_access", "select customer_access($1, $2, $3, $4)", 4);
static struct sql_stmt q_erase =
    SQL_STMT("customer_erase", "select customer_erase($1, $2, $3, $4)", 4);
static struct sql_stmt q_req_booking =
    SQL_STMT("customer_erasure_request_manage", "select customer_erasure_request_manage($1)", 1);
static struct sql_stmt q_req_repair =
    SQL_STMT("customer_erasure_request_repair", "select customer_erasure_request_repair($1)", 1);
static struct sql_stmt q_requests =
    SQL_STMT("customer_erasure_requests", "select customer_erasure_requests($1, $2, $3)", 3);

/* An email: one '@' with something either side, no spaces, at most EMAIL_MAX characters. */
static bool email_ok(const char *s)
{
    const char *at = strchr(s, '@');
    size_t n = strlen(s);
    if (n < 3 || n > EMAIL_MAX || !at || at == s || !at[1] || strchr(at + 1, '@'))
        return false;
    for (const char *p = s; *p; p++)
        if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
            return false;
    return true;
}

/* A phone: an optional leading '+', then 6 to 15 digits, spaces, dots, dashes and brackets
 * between them (seal_blind ignores those). */
static bool phone_ok(const char *s)
{
    int digits = 0;
    if (strlen(s) > PHONE_MAX)
        return false;
    if (*s == '+')
        s++;
    for (; *s; s++) {
        if (isdigit((unsigned char)*s))
            digits++;
        else if (!strchr(" .-()", *s))
            return false;
    }
    return digits >= PHONE_DIGITS_MIN && digits <= PHONE_DIGITS_MAX;
}

/* The blind index of the one email or phone given: writes it into `bi` and returns the field
 * used ("email" or "phone"); otherwise NULL with the offending field in *field and a message in
 * *why. */
static const char *blind_of(const char *email, const char *phone, char bi[SEAL_BLIND_HEX + 1],
                            const char **field, const char **why)
{
    if (!email && !phone) {
        *field = "email";
        *why = "give the customer's email or phone";
        return NULL;
    }
    if (email && phone) {
        *field = "phone";
        *why = "give an email or a phone, not both";
        return NULL;
    }
    if (email && !email_ok(email)) {
        *field = "email";
        *why = "an email address such as name@example.com";
        return NULL;
    }
    if (phone && !phone_ok(phone)) {
        *field = "phone";
        *why = "a phone number of 6 to 15 digits";
        return NULL;
    }
    if (seal_blind(0, email ? "email" : "phone", email ? email : phone, bi) < 0) {
        *field = email ? "email" : "phone";
        *why = "no data key";
        return NULL;
    }
    return email ? "email" : "phone";
}

/* Computes the blind index and sends `stmt` (actor, email bi, phone bi, request id); replies
 * 422 naming the field when the person is not named well. */
static void send_for(struct req *r, struct sql_stmt *stmt, const char *email, const char *phone)
{
    char bi[SEAL_BLIND_HEX + 1];
    const char *field, *why;
    const char *kind = blind_of(email, phone, bi, &field, &why);
    if (!kind) {
        http_reply_error(r, 422, "invalid", field, "%s", why);
        return;
    }
    bool is_email = strcmp(kind, "email") == 0;
    const char *params[4] = {r->who.staff_id, is_email ? bi : NULL, is_email ? NULL : bi, r->id};
    api_send(r, stmt, params, 200);
}

void customer_access(struct req *r)
{
    const char *email = http_query(r, "email");
    const char *phone = http_query(r, "phone");
    send_for(r, &q_access, email, phone);
}

/* A body member that must be a string when present: its value, or NULL. *bad is set when it is
 * present but not a string. */
static const char *body_string(struct req *r, const char *name, bool *bad)
{
    json_t *v = json_object_get(r->json, name);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *bad = true;
        return NULL;
    }
    return json_string_value(v);
}

void customer_erase(struct req *r)
{
    bool bad_email = false, bad_phone = false;
    const char *email, *phone;

    if (!api_need_body(r))
        return;
    email = body_string(r, "email", &bad_email);
    phone = body_string(r, "phone", &bad_phone);
    if (bad_email || bad_phone) {
        http_reply_error(r, 422, "invalid", bad_email ? "email" : "phone", "a string");
        return;
    }
    send_for(r, &q_erase, email, phone);
}

static void request_by_link(struct req *r, struct sql_stmt *stmt)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[1] = {hash};
    if (link_from_path(r, "token", hash))
        api_send(r, stmt, params, 201);
}

void customer_request_from_booking(struct req *r)
{
    request_by_link(r, &q_req_booking);
}

void customer_request_from_repair(struct req *r)
{
    request_by_link(r, &q_req_repair);
}

void customer_erasure_requests(struct req *r)
{
    const char *store = api_path_id(r, "store");
    if (!store)
        return;
    const char *params[3] = {r->who.staff_id, store, r->id};
    api_send(r, &q_requests, params, 200);
}
