/*
 * message: customer <-> store threads, surveys, and the delivery view for managers.
 *
 * Customer links in messages carry tokens minted by the database (the message that carries
 * them is written in the same transaction as the event), stored as SHA-256 hex, the one hash
 * of link.c: the token from the path is checked and hashed there, and only the hash reaches SQL.
 * A token opens one thread or one survey and nothing else. A customer may also write from the
 * links carnetd minted (a booking's manage link, a repair's status link), hashed the same way.
 *
 * A message text is personal data: it is checked here in clear, then sealed (seal.h) before it
 * reaches SQL, with a keyed hash of the clear text, which is what the device's hash-chained
 * record keeps of it (a sealed text in a chain could never be re-sealed or erased). A survey's
 * comment is free text the customer writes too: sealed the same way.
 */
#include "message.h"

#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "http.h"
#include "link.h"
#include "seal.h"

#define MESSAGE_BODY_MAX 4000
#define SURVEY_COMMENT_MAX 2000
#define SURVEY_COMMENT_RULE "a comment is text of at most 2000 characters"
#define MESSAGE_MAC_LABEL "carnet-message-text"
#define REPORT_WEEKS_DEFAULT 8
#define REPORT_WEEKS_MAX 104
#define OUTBOX_LIST_DEFAULT 100
#define OUTBOX_LIST_MAX 500

static struct sql_stmt q_customer_get =
    SQL_STMT("message_customer_get", "select message_customer_get($1)", 1);
static struct sql_stmt q_customer_post =
    SQL_STMT("message_customer_post", "select message_customer_post($1, $2)", 2);
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
static struct sql_stmt q_survey_period =
    SQL_STMT("survey_report_period", "select survey_report_period($1, $2, $3, $4, $5)", 5);
static struct sql_stmt q_survey_csv =
    SQL_STMT("survey_report_csv",
             "select report_csv(survey_report_period($1, $2, $3, $4, $5), $6, 'weeks')", 6);
static struct sql_stmt q_outbox_list =
    SQL_STMT("outbox_list", "select outbox_list($1, $2, $3, $4)", 4);
static struct sql_stmt q_outbox_retry =
    SQL_STMT("outbox_retry", "select outbox_retry($1, $2, $3, $4)", 4);

/* Characters of UTF-8 text once leading and trailing white space is set aside (SQL's
 * length(btrim(..)) rule, which counted characters). */
static size_t text_chars(const char *s, size_t n)
{
    size_t c = 0;
    while (n && strchr(" \t\r\n", s[n - 1]))
        n--;
    while (n && strchr(" \t\r\n", *s)) {
        s++;
        n--;
    }
    for (size_t i = 0; i < n; i++)
        c += ((unsigned char)s[i] & 0xC0) != 0x80;
    return c;
}

/* For a body {"body": "..."} with a message text of 1..4000 characters, the body text for SQL:
 * {"body": the text sealed, "mac": a keyed hash of the clear text (seal_keyed), "mac_key": the
 * data key's id} (malloc'd): what the device's record keeps of the text, which a reader of the
 * database cannot test guesses of a short text against, as they could a bare SHA-256.
 * Otherwise replies and returns NULL. */
static char *message_body_sealed(struct req *r)
{
    char mac[SEAL_BLIND_HEX + 1];
    const char *text;
    size_t len, chars;
    char *marker, *out = NULL;
    json_t *body, *j;

    if (!api_need_body(r))
        return NULL;
    body = json_object_get(r->json, "body");
    text = json_string_value(body);
    len = json_string_length(body);
    if (!text || (chars = text_chars(text, len)) == 0) {
        http_reply_error(r, 422, "invalid", "body", "write a message");
        return NULL;
    }
    /* (no NUL inside either: the text is sealed as C text) */
    if (chars > MESSAGE_BODY_MAX || strlen(text) != len) {
        http_reply_error(r, 422, "invalid", "body", "at most %d characters", MESSAGE_BODY_MAX);
        return NULL;
    }
    if (seal_keyed(MESSAGE_MAC_LABEL, text, mac) < 0 || !(marker = seal_pd(text))) {
        http_reply_oom(r);
        return NULL;
    }
    j = json_pack("{ssssss}", "body", marker, "mac", mac, "mac_key", seal_key_id());
    free(marker);
    if (j)
        out = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!out)
        http_reply_oom(r);
    return out;
}

void message_customer_get(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[1] = {hash};
    if (!link_from_path(r, "token", hash))
        return;
    api_send(r, &q_customer_get, params, 200);
}

void message_customer_post(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    char *body;
    if (!link_from_path(r, "token", hash) || !(body = message_body_sealed(r)))
        return;
    const char *params[2] = {hash, body};
    api_send(r, &q_customer_post, params, 201);
    free(body);
}

void message_threads_list(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *unread;
    if (!store || !api_query_bool(r, "unread", false, &unread))
        return;
    const char *params[3] = {r->who.staff_id, store, unread};
    api_send(r, &q_threads, params, 200);
}

void message_thread_get(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *thread = store ? api_path_id(r, "thread") : NULL;
    if (!thread)
        return;
    const char *params[4] = {r->who.staff_id, store, thread, r->id};
    api_send(r, &q_thread_get, params, 200);
}

void message_staff_post(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *thread = store ? api_path_id(r, "thread") : NULL;
    char *body;
    if (!thread || !(body = message_body_sealed(r)))
        return;
    const char *params[5] = {r->who.staff_id, store, thread, body, r->id};
    api_send(r, &q_staff_post, params, 201);
    free(body);
}

void message_survey_get(struct req *r)
{
    char hash[LINK_HASH_LEN + 1];
    const char *params[1] = {hash};
    if (!link_from_path(r, "token", hash))
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
    char hash[LINK_HASH_LEN + 1];
    char *body;

    if (!link_from_path(r, "token", hash) || !api_need_body(r))
        return;
    /* Either part may come alone: the score from the tap on the link, the rest later. */
    if (!body_int(r, "satisfaction", false) || !body_int(r, "effort", false) ||
        !body_int(r, "recommendation", false))
        return;
    /* The comment is personal data like a message text. */
    if (!(body =
              api_body_sealed_text(r, "comment", SURVEY_COMMENT_MAX, false, SURVEY_COMMENT_RULE)))
        return;
    const char *params[2] = {hash, body};
    api_send(r, &q_survey_answer, params, 200);
    free(body);
}

/* ?weeks=N is the report's first form, kept for its callers; from, to or format=csv ask for the
 * dashboard's: a range of dates beside the period before (survey_report_period). */
void message_survey_report(struct req *r)
{
    static const struct api_report survey = {.count = "weeks",
                                             .count_max = REPORT_WEEKS_MAX,
                                             .count_default = REPORT_WEEKS_DEFAULT,
                                             .first = &q_survey_report,
                                             .ranged = &q_survey_period,
                                             .csv = &q_survey_csv};
    api_send_report(r, &survey);
}

void message_outbox_list(struct req *r)
{
    const char *store = api_path_id(r, "store");
    char limit[24];
    if (!store || !api_query_int(r, "limit", 1, OUTBOX_LIST_MAX, OUTBOX_LIST_DEFAULT, limit))
        return;
    const char *params[4] = {r->who.staff_id, store, http_query(r, "status"), limit};
    api_send(r, &q_outbox_list, params, 200);
}

void message_outbox_retry(struct req *r)
{
    const char *store = api_path_id(r, "store");
    const char *id = store ? api_path_id(r, "id") : NULL;
    if (!id)
        return;
    const char *params[4] = {r->who.staff_id, store, id, r->id};
    api_send(r, &q_outbox_retry, params, 200);
}
