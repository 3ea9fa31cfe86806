/*
 * outbox: the delivery worker. See outbox.h for the round; its states are sender.c's
 *
 *   IDLE -> CLAIMING (outbox_claim in flight) -> SENDING (n messages on worker threads, each
 *   then marked through the pool) -> IDLE
 *
 * so at most one round per process is under way. Several carnetd run rounds at once safely:
 * the claim hands each row to one of them, and the claim id each message carries must still
 * match when its outcome is recorded. A worker that dies mid-send leaves its rows "sending";
 * their lease runs out and another worker takes them. The lease is longer than any send may
 * take (config checks send_timeout < lease), so a live worker never loses a row it is sending.
 *
 * Transports, picked per message from the configuration:
 *   email -> SMTP through libcurl (STARTTLS, credentials) when --smtp-url is set
 *   sms   -> an HTTP POST of JSON to --sms-webhook when set
 *   else  -> one JSON file per message in --outbox-dir (the demo and the tests read these)
 * Errors say whether they are permanent (the server refused this message: SMTP 5xx, HTTP 4xx)
 * or transient (timeouts, 4xx SMTP, 5xx HTTP); only transient ones are retried.
 *
 * Sends run on the WORKER_IO pool, never beside password hashing. Each is bounded by its own
 * timeouts (connect, then the whole send), and outbox_stop cancels them: a send not yet started
 * is not started, and one under way is aborted by libcurl's progress callback (called about once
 * a second even while the server says nothing), so a stalled mail server does not hold up
 * shutdown. A cancelled message is a transient failure: recorded if the pool still can, else its
 * lease runs out, and either way it is tried again later.
 */
#include "outbox.h"

#include <errno.h>
#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "seal.h"
#include "sender.h"
#include "util.h"

#define OUTBOX_ERR_MAX 512
/* RFC 2047 encoded words are at most 75 characters: 45 bytes of text give 60 of base64. */
#define OUTBOX_SUBJECT_CHUNK 45
/* RFC 2045: base64 lines of at most 76 characters; 57 bytes give 76. */
#define OUTBOX_BASE64_LINE 57

static struct sql_stmt q_claim = SQL_STMT("outbox_claim", "select outbox_claim($1, $2, $3)", 3);
static struct sql_stmt q_mark =
    SQL_STMT("outbox_mark", "select outbox_mark($1, $2, $3, $4, $5, $6, $7)", 7);

/* One claimed message; owned by the round from the claim until its outcome is recorded. */
struct outbox_msg {
    char id[24];
    char claim[40];
    char *kind, *channel, *recipient, *subject, *body, *sms, *created_at;
    int attempts;
    /* outcome, written by the worker thread */
    const char *transport;
    char error[OUTBOX_ERR_MAX];
    bool failed;
    bool permanent;
};

static struct sender ob_sender; /* its ops are set below, where the functions they name are */

static void msg_free(struct outbox_msg *m)
{
    if (!m)
        return;
    free(m->kind);
    free(m->channel);
    util_wipe_free(m->recipient);
    util_wipe_free(m->subject);
    util_wipe_free(m->body);
    util_wipe_free(m->sms);
    free(m->created_at);
    free(m);
}

static void fail(struct outbox_msg *m, bool permanent, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(struct outbox_msg *m, bool permanent, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->error, sizeof(m->error), fmt, ap);
    va_end(ap);
    m->failed = true;
    m->permanent = permanent;
}

/* ---- email formatting ---- */

/* The address inside "Name <address>", or the whole string. */
static char *bare_address(const char *from)
{
    const char *lt = strchr(from, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        return strndup(lt + 1, (size_t)(gt - lt - 1));
    return strdup(from);
}

static bool is_ascii_printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

static void put_base64(FILE *f, const unsigned char *p, size_t n)
{
    char out[sodium_base64_ENCODED_LEN(OUTBOX_BASE64_LINE, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(out, sizeof(out), p, n, sodium_base64_VARIANT_ORIGINAL);
    fputs(out, f);
}

/* Subject as is when plain ASCII, else as UTF-8 encoded words split on character boundaries. */
static void put_subject(FILE *f, const char *subject)
{
    size_t len = strlen(subject), at = 0;
    fputs("Subject: ", f);
    if (is_ascii_printable(subject)) {
        fputs(subject, f);
        fputs("\r\n", f);
        return;
    }
    while (at < len) {
        size_t n = len - at > OUTBOX_SUBJECT_CHUNK ? OUTBOX_SUBJECT_CHUNK : len - at;
        /* never cut inside a UTF-8 sequence: back up over continuation bytes */
        while (at + n < len && n > 1 && ((unsigned char)subject[at + n] & 0xC0) == 0x80)
            n--;
        fprintf(f, "%s=?UTF-8?B?", at ? "\r\n " : "");
        put_base64(f, (const unsigned char *)subject + at, n);
        fputs("?=", f);
        at += n;
    }
    fputs("\r\n", f);
}

char *outbox_format_email(const char *from, const char *to, const char *subject, const char *body,
                          const char *message_id, long long when)
{
    char *out = NULL, date[64];
    size_t outlen = 0, len = strlen(body);
    time_t t = (time_t)when;
    struct tm tm;
    FILE *f = open_memstream(&out, &outlen);

    if (!f)
        return NULL;
    gmtime_r(&t, &tm);
    /* The C locale is in force (carnetd never calls setlocale), so names are English. */
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    fprintf(f, "Date: %s\r\nFrom: %s\r\nTo: <%s>\r\nMessage-ID: <%s>\r\n", date, from, to,
            message_id);
    put_subject(f, subject);
    fputs("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
          "Content-Transfer-Encoding: base64\r\nAuto-Submitted: auto-generated\r\n\r\n",
          f);
    for (size_t at = 0; at < len; at += OUTBOX_BASE64_LINE) {
        put_base64(f, (const unsigned char *)body + at,
                   len - at > OUTBOX_BASE64_LINE ? OUTBOX_BASE64_LINE : len - at);
        fputs("\r\n", f);
    }
    if (fclose(f) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* ---- transports (worker threads) ---- */

struct upload {
    const char *data;
    size_t len, at;
};

static size_t upload_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nmemb;
    if (n > u->len - u->at)
        n = u->len - u->at;
    memcpy(buf, u->data + u->at, n);
    u->at += n;
    return n;
}

static void send_smtp(struct outbox_msg *m)
{
    CURL *c = NULL;
    struct curl_slist *rcpt = NULL;
    char *from = NULL, *text = NULL, *mail_from = NULL, *to = NULL;
    char msgid[160], rnd[32], errbuf[CURL_ERROR_SIZE] = "";
    const char *domain;
    struct upload up;
    CURLcode rc;
    long code = 0;

    m->transport = "smtp";
    from = bare_address(config.smtp_from);
    if (!from)
        goto nomem;
    domain = strchr(from, '@') ? strchr(from, '@') + 1 : "carnet.invalid";
    util_random_token(rnd, sizeof(rnd), 12);
    snprintf(msgid, sizeof(msgid), "outbox-%s.%s@%s", m->id, rnd, domain);
    text = outbox_format_email(config.smtp_from, m->recipient, m->subject, m->body, msgid,
                               (long long)time(NULL));
    if (asprintf(&mail_from, "<%s>", from) < 0)
        mail_from = NULL;
    if (asprintf(&to, "<%s>", m->recipient) < 0)
        to = NULL;
    c = curl_easy_init();
    if (!text || !mail_from || !to || !c || !(rcpt = curl_slist_append(NULL, to)))
        goto nomem;
    up.data = text;
    up.len = strlen(text);
    up.at = 0;
    curl_easy_setopt(c, CURLOPT_URL, config.smtp_url);
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, upload_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_USE_SSL,
                     strcmp(config.smtp_starttls, "require") == 0 ? (long)CURLUSESSL_ALL
                     : strcmp(config.smtp_starttls, "try") == 0   ? (long)CURLUSESSL_TRY
                                                                  : (long)CURLUSESSL_NONE);
    if (config.smtp_user[0]) {
        curl_easy_setopt(c, CURLOPT_USERNAME, config.smtp_user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, config.smtp_password);
    }
    sender_bounds(c, &ob_sender, (long)config.send_timeout_s, errbuf);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        fail(m, false, "smtp: cancelled, carnetd is stopping");
    else if (rc != CURLE_OK)
        fail(m, code >= 500 && code < 600 && rc != CURLE_LOGIN_DENIED, "smtp %ld: %s", code,
             errbuf[0] ? errbuf : curl_easy_strerror(rc));
    goto out;
nomem:
    fail(m, false, "out of memory");
out:
    curl_slist_free_all(rcpt);
    if (c)
        curl_easy_cleanup(c);
    free(to);
    free(mail_from);
    free(text);
    free(from);
}

static void send_webhook(struct outbox_msg *m)
{
    CURL *c = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    char *payload = NULL, *authz = NULL, idem[64], errbuf[CURL_ERROR_SIZE] = "";
    json_t *j = json_pack("{sssssssssi}", "id", m->id, "to", m->recipient, "text", m->sms, "kind",
                          m->kind, "attempt", m->attempts);
    CURLcode rc;
    long code = 0;

    m->transport = "webhook";
    payload = j ? json_dumps(j, JSON_COMPACT) : NULL;
    /* The same key on every retry lets the SMS gateway drop a repeat after a lost reply. */
    snprintf(idem, sizeof(idem), "Idempotency-Key: carnet-outbox-%s", m->id);
    hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    hdrs = hdrs ? curl_slist_append(hdrs, idem) : NULL;
    if (hdrs && config.sms_webhook_token[0]) {
        if (asprintf(&authz, "Authorization: Bearer %s", config.sms_webhook_token) < 0)
            authz = NULL;
        hdrs = authz ? curl_slist_append(hdrs, authz) : NULL;
    }
    if (!c || !payload || !hdrs) {
        fail(m, false, "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, config.sms_webhook_url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sender_discard);
    sender_bounds(c, &ob_sender, (long)config.send_timeout_s, errbuf);
    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc != CURLE_OK)
        fail(m, false, "webhook: %s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
    else if (code < 200 || code > 299)
        /* 4xx: the gateway refuses this message; 408/429/5xx: it may take it later. */
        fail(m, code >= 400 && code < 500 && code != 408 && code != 429, "webhook: HTTP %ld", code);
out:
    curl_slist_free_all(hdrs);
    if (c)
        curl_easy_cleanup(c);
    free(authz);
    free(payload);
    if (j)
        json_decref(j);
}

static int mkdir_p(const char *dir)
{
    char *p = strdup(dir), *s;
    int rc = 0;
    if (!p)
        return -1;
    for (s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (mkdir(p, 0755) < 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

/* One file per message, written under a temporary name and renamed so a reader never sees
 * half a message. */
static void send_file(struct outbox_msg *m)
{
    char *path = NULL, *tmp = NULL;
    json_t *j = json_pack("{sssssssssssssssssi}", "id", m->id, "kind", m->kind, "channel",
                          m->channel, "to", m->recipient, "subject", m->subject, "body", m->body,
                          "sms", m->sms, "created_at", m->created_at, "attempt", m->attempts);

    m->transport = "file";
    if (!j || mkdir_p(config.outbox_dir) < 0 ||
        asprintf(&path, "%s/%s-%s.json", config.outbox_dir, m->id, m->kind) < 0 ||
        asprintf(&tmp, "%s/.%s.tmp", config.outbox_dir, m->id) < 0) {
        fail(m, false, "file sink: cannot prepare %s: %s", config.outbox_dir, strerror(errno));
        goto out;
    }
    if (json_dump_file(j, tmp, JSON_INDENT(2) | JSON_ENSURE_ASCII) < 0 || rename(tmp, path) < 0) {
        fail(m, false, "file sink: cannot write in %s: %s", config.outbox_dir, strerror(errno));
        unlink(tmp);
    }
out:
    if (j)
        json_decref(j);
    free(path);
    free(tmp);
}

/* The links and personal data in a message rest sealed (seal.h): the recipient, the name in
 * the text, the link. They are opened here, on the sending thread, just before the send, and
 * wiped with the message. -1 (the message failed for good) when one
 * does not open. */
static int open_sealed(struct outbox_msg *m)
{
    char **fields[4] = {&m->subject, &m->body, &m->sms, &m->recipient};
    char err[160] = "";

    for (int i = 0; i < 4; i++) {
        char *open = seal_open_text(*fields[i], err, sizeof(err));
        if (!open) {
            fail(m, true, "cannot open the message's links: %s", err);
            return -1;
        }
        util_wipe_free(*fields[i]);
        *fields[i] = open;
    }
    return 0;
}

static void msg_send(void *arg)
{
    struct outbox_msg *m = arg;
    bool smtp = strcmp(m->channel, "email") == 0 && config.smtp_url[0];
    bool webhook = strcmp(m->channel, "sms") == 0 && config.sms_webhook_url[0];

    if (sender_cancelled(&ob_sender)) {
        m->transport = smtp ? "smtp" : webhook ? "webhook" : "file";
        fail(m, false, "not sent: carnetd is stopping");
    } else if (open_sealed(m) < 0) {
        /* Another try would open it no better (a key that is not this one, a damaged marker). */
        m->transport = smtp ? "smtp" : webhook ? "webhook" : "file";
    } else if (smtp)
        send_smtp(m);
    else if (webhook)
        send_webhook(m);
    else
        send_file(m);
}

/* ---- the round (loop thread) ---- */

static void on_marked(const struct db_result *res, void *arg)
{
    struct outbox_msg *m = arg;
    enum sender_outcome o = sender_marked(&ob_sender, res);

    if (o == SENDER_UNRECORDED && res->status != DB_OK)
        /* The outcome is unknown to the database: the lease will expire and the message be
         * tried again (a repeat is possible only here). */
        log_warning("outbox: cannot record the outcome of message %s", m->id);
    else if (o == SENDER_UNRECORDED)
        log_warning("outbox: message %s was claimed by another worker meanwhile", m->id);
    else if (o == SENDER_DONE)
        log_info("outbox: message %s (%s) sent by %s", m->id, m->kind, m->transport);
    else if (o == SENDER_FAILED)
        log_warning("outbox: message %s (%s) failed for good after %d tries: %s", m->id, m->kind,
                    m->attempts, m->error);
    else
        log_info("outbox: message %s (%s) will be retried: %s", m->id, m->kind, m->error);
    msg_free(m);
    sender_item_done(&ob_sender);
}

static void msg_sent(void *arg)
{
    struct outbox_msg *m = arg;
    char max[16], backoff[16];
    const char *params[7];

    snprintf(max, sizeof(max), "%d", config.outbox_max_attempts);
    snprintf(backoff, sizeof(backoff), "%d", config.outbox_backoff_ms);
    params[0] = m->id;
    params[1] = m->claim;
    params[2] = m->transport;
    params[3] = m->failed ? m->error : NULL;
    params[4] = m->permanent ? "true" : "false";
    params[5] = max;
    params[6] = backoff;
    db_query(&q_mark, params, on_marked, m);
}

static void *msg_from_json(json_t *o)
{
    struct outbox_msg *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    snprintf(m->id, sizeof(m->id), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(o, "id")));
    snprintf(m->claim, sizeof(m->claim), "%s",
             json_string_value(json_object_get(o, "claim"))
                 ? json_string_value(json_object_get(o, "claim"))
                 : "");
    m->attempts = (int)json_integer_value(json_object_get(o, "attempts"));
    m->kind = sender_dup_field(o, "kind");
    m->channel = sender_dup_field(o, "channel");
    m->recipient = sender_dup_field(o, "recipient");
    m->subject = sender_dup_field(o, "subject");
    m->body = sender_dup_field(o, "body");
    m->sms = sender_dup_field(o, "sms");
    m->created_at = sender_dup_field(o, "created_at");
    if (!m->kind || !m->channel || !m->recipient || !m->subject || !m->body || !m->sms ||
        !m->created_at) {
        msg_free(m);
        return NULL;
    }
    return m;
}

static void msg_free_item(void *m)
{
    msg_free(m);
}

/* outbox_claim answers the array of messages itself. */
static json_t *claimed_messages(json_t *answer)
{
    return answer;
}

static const struct sender_ops ob_ops = {
    .name = "outbox",
    .done_status = "sent",
    .metric_help = "Outcomes of customer message deliveries by this process.",
    .claim = &q_claim,
    .batch = &config.outbox_batch,
    .lease = &config.outbox_lease_s,
    .claim_arg = &config.public_url, /* the links' base */
    .items = claimed_messages,
    .item_new = msg_from_json,
    .item_free = msg_free_item,
    .pool = WORKER_IO,
    .send = msg_send,
    .sent = msg_sent,
};

static struct sender ob_sender = {.ops = &ob_ops};

int outbox_init(struct event_base *base)
{
    if (sender_start(&ob_sender, base, config.outbox_interval_ms) < 0)
        return -1;
    log_info("outbox: email by %s, sms by %s", config.smtp_url[0] ? "smtp" : "file",
             config.sms_webhook_url[0] ? "webhook" : "file");
    return 0;
}

void outbox_stop(void)
{
    sender_stop(&ob_sender);
}

void outbox_free(void)
{
    sender_free(&ob_sender);
}

void outbox_metrics_render(struct evbuffer *out)
{
    sender_metrics_render(&ob_sender, out);
}
