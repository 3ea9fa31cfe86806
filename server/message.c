/*
 * message: customer <-> store threads, surveys, and the delivery view for managers.
 *
 * Customer links in messages carry tokens minted by the database (the message that carries
 * them is written in the same transaction as the event), stored as SHA-256 hex: here the token
 * from the path is hashed the same way and only the hash reaches SQL. A token opens one thread
 * or one survey and nothing else. A customer may also write from the links carnetd minted (a
 * booking's manage link, a repair's status link), stored as util_token_hash (BLAKE2b): thread
 * requests send both hashes and SQL tries each against its own table.
 */
#include "message.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "log.h"
#include "util.h"

#define MESSAGE_BODY_MAX 4000
#define SURVEY_COMMENT_MAX 2000
#define TOKEN_MIN 20
#define TOKEN_MAX 128
#define REPORT_WEEKS_DEFAULT "8"
#define REPORT_WEEKS_MAX 104
#define OUTBOX_LIST_DEFAULT "100"
#define OUTBOX_LIST_MAX 500

static struct sql_stmt q_customer_get =
    SQL_STMT("message_customer_get", "select message_customer_get($1, $2)", 2);
static struct sql_stmt q_customer_post =
    SQL_STMT("message_customer_post", "select message_customer_post($1, $2, $3)", 3);
static struct sql_stmt q_threads =
    SQL_STMT("message_threads_list", "select message_threads_list($1, $2, $3)", 3);
static struct sql_stmt q_thread_get =
    SQL_STMT("message_thread_get", "select message_thread_get($1, $2, $3, $4)", 4);
static struct sql_stmt q_staff_post =
    SQL_STMT("message_staff_post", "select message_staff_post($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_survey_get = SQL_STMT("survey_get", "select survey_get($1)", 1);
static struct sql_stmt q_survey_answer =
    SQL_STMT("survey_answer", "select survey_answer($1, $2)", 2);
static struct sql_stmt q_survey_report =
    SQL_STMT("survey_report", "select survey_report($1, $2, $3, $4)", 4);
static struct sql_stmt q_outbox_list =
    SQL_STMT("outbox_list", "select outbox_list($1, $2, $3, $4)", 4);
static struct sql_stmt q_outbox_retry =
    SQL_STMT("outbox_retry", "select outbox_retry($1, $2, $3, $4)", 4);

/* An id from the path: digits only, else 404 (no such object can exist). */
static const char *path_id(struct req *r, const char *name)
{
    const char *v = http_param(r, name);
    if (!util_is_digits(v, 18)) {
        http_reply_error(r, 404, "not_found", name, "no such %s", name);
        return NULL;
    }
    return v;
}

/* Hashes the {token} of the path into `out`; replies 404 and returns -1 for a malformed one. */
static int path_token_hash(struct req *r, char out[65])
{
    const char *t = http_param(r, "token");
    unsigned char h[crypto_hash_sha256_BYTES];
    size_t n = t ? strlen(t) : 0;

    if (n < TOKEN_MIN || n > TOKEN_MAX ||
        strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                  "qrstuvwxyz0123456789-_") != n) {
        http_reply_error(r, 404, "not_found", "token", "this link is unknown or has expired");
        return -1;
    }
    crypto_hash_sha256(h, (const unsigned char *)t, n);
    sodium_bin2hex(out, 65, h, sizeof(h));
    return 0;
}

/* {"body": "..."}: a message text of 1..4000 characters. Replies and returns NULL if not. */
static char *message_body_json(struct req *r)
{
    json_t *body;
    char *out;

    if (!json_is_object(r->json)) {
        http_reply_error(r, 400, "missing_body", "body", "send {\"body\": \"your message\"}");
        return NULL;
    }
    body = json_object_get(r->json, "body");
    if (!json_is_string(body) || json_string_length(body) == 0 ||
        strspn(json_string_value(body), " \t\r\n") == json_string_length(body)) {
        http_reply_error(r, 422, "invalid", "body", "write a message");
        return NULL;
    }
    if (json_string_length(body) > MESSAGE_BODY_MAX * 4) { /* bytes; SQL counts characters */
        http_reply_error(r, 422, "invalid", "body", "at most %d characters", MESSAGE_BODY_MAX);
        return NULL;
    }
    out = json_dumps(r->json, JSON_COMPACT);
    if (!out)
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
    return out;
}

void message_customer_get(struct req *r)
{
    char hash[65], hash_b2[65];
    const char *params[2] = {hash, hash_b2};
    if (path_token_hash(r, hash) < 0)
        return;
    util_token_hash(http_param(r, "token"), hash_b2);
    api_send(r, &q_customer_get, params, 200);
}

void message_customer_post(struct req *r)
{
    char hash[65], hash_b2[65], *json;
    const char *params[3];
    if (path_token_hash(r, hash) < 0 || !(json = message_body_json(r)))
        return;
    util_token_hash(http_param(r, "token"), hash_b2);
    params[0] = hash;
    params[1] = json;
    params[2] = hash_b2;
    api_send(r, &q_customer_post, params, 201);
    free(json);
}

void message_threads_list(struct req *r)
{
    const char *unread = http_query(r, "unread");
    const char *params[3];
    if (!(params[1] = path_id(r, "store")))
        return;
    if (unread && strcmp(unread, "true") && strcmp(unread, "false") && strcmp(unread, "1") &&
        strcmp(unread, "0")) {
        http_reply_error(r, 400, "invalid", "unread", "unread is true or false");
        return;
    }
    params[0] = r->who.staff_id;
    params[2] =
        unread && (strcmp(unread, "true") == 0 || strcmp(unread, "1") == 0) ? "true" : "false";
    api_send(r, &q_threads, params, 200);
}

void message_thread_get(struct req *r)
{
    const char *params[4];
    if (!(params[1] = path_id(r, "store")))
        return;
    if (!(params[2] = path_id(r, "thread")))
        return;
    params[0] = r->who.staff_id;
    params[3] = r->id;
    api_send(r, &q_thread_get, params, 200);
}

void message_staff_post(struct req *r)
{
    const char *params[5];
    char *json;
    if (!(params[1] = path_id(r, "store")))
        return;
    if (!(params[2] = path_id(r, "thread")) || !(json = message_body_json(r)))
        return;
    params[0] = r->who.staff_id;
    params[3] = json;
    params[4] = r->id;
    api_send(r, &q_staff_post, params, 201);
    free(json);
}

void message_survey_get(struct req *r)
{
    char hash[65];
    const char *params[1] = {hash};
    if (path_token_hash(r, hash) < 0)
        return;
    api_send(r, &q_survey_get, params, 200);
}

/* A whole number in the body, or a 422 naming the field. */
static bool body_int(struct req *r, const char *field, bool required)
{
    json_t *v = json_object_get(r->json, field);
    if ((!v && !required) || json_is_integer(v))
        return true;
    http_reply_error(r, 422, "invalid", field, "%s must be a whole number", field);
    return false;
}

void message_survey_answer(struct req *r)
{
    char hash[65], *json;
    const char *params[2];
    json_t *comment;

    if (path_token_hash(r, hash) < 0)
        return;
    if (!json_is_object(r->json)) {
        http_reply_error(r, 400, "missing_body", "body",
                         "send {\"satisfaction\":1-5,\"effort\":1-7,\"recommendation\":0-10}");
        return;
    }
    if (!body_int(r, "satisfaction", true) || !body_int(r, "effort", true) ||
        !body_int(r, "recommendation", true))
        return;
    comment = json_object_get(r->json, "comment");
    if (comment && !json_is_null(comment) &&
        (!json_is_string(comment) || json_string_length(comment) > SURVEY_COMMENT_MAX * 4)) {
        http_reply_error(r, 422, "invalid", "comment",
                         "a comment is text of at most %d "
                         "characters",
                         SURVEY_COMMENT_MAX);
        return;
    }
    json = json_dumps(r->json, JSON_COMPACT);
    if (!json) {
        http_reply_error(r, 503, "overloaded", NULL, "out of memory");
        return;
    }
    params[0] = hash;
    params[1] = json;
    api_send(r, &q_survey_answer, params, 200);
    free(json);
}

void message_survey_report(struct req *r)
{
    const char *weeks = http_query(r, "weeks");
    const char *params[4];
    if (!(params[1] = path_id(r, "store")))
        return;
    if (!weeks)
        weeks = REPORT_WEEKS_DEFAULT;
    if (!util_is_digits(weeks, 3) || atoi(weeks) < 1 || atoi(weeks) > REPORT_WEEKS_MAX) {
        http_reply_error(r, 400, "invalid", "weeks", "weeks is from 1 to %d", REPORT_WEEKS_MAX);
        return;
    }
    params[0] = r->who.staff_id;
    params[2] = weeks;
    params[3] = r->id;
    api_send(r, &q_survey_report, params, 200);
}

void message_outbox_list(struct req *r)
{
    const char *limit = http_query(r, "limit");
    const char *params[4];
    if (!(params[1] = path_id(r, "store")))
        return;
    if (!limit)
        limit = OUTBOX_LIST_DEFAULT;
    if (!util_is_digits(limit, 4) || atoi(limit) < 1 || atoi(limit) > OUTBOX_LIST_MAX) {
        http_reply_error(r, 400, "invalid", "limit", "limit is from 1 to %d", OUTBOX_LIST_MAX);
        return;
    }
    params[0] = r->who.staff_id;
    params[2] = http_query(r, "status");
    params[3] = limit;
    api_send(r, &q_outbox_list, params, 200);
}

void message_outbox_retry(struct req *r)
{
    const char *params[4];
    if (!(params[1] = path_id(r, "store")))
        return;
    if (!(params[2] = path_id(r, "id")))
        return;
    params[0] = r->who.staff_id;
    params[3] = r->id;
    api_send(r, &q_outbox_retry, params, 200);
}
