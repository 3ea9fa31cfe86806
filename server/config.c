/*
 * config: one table of settings (flag, environment variable, default, help), applied in the
 * order defaults -> environment -> flags, and validated once. A bad value is fatal at start-up
 * and nowhere else.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct config config;

enum opt_kind { OPT_STR, OPT_INT, OPT_LISTEN, OPT_FLAG };

struct opt {
    const char *flag;
    const char *env;
    enum opt_kind kind;
    size_t offset;
    const char *defval;
    int min, max;
    const char *help;
};

#define OFF(f) offsetof(struct config, f)

static const struct opt options[] = {
    {"listen", "CARNET_LISTEN", OPT_LISTEN, OFF(listen_host), "127.0.0.1:8080", 0, 0,
     "address:port to serve HTTP on"},
    {"database-url", "DATABASE_URL", OPT_STR, OFF(database_url), "postgresql:///carnet", 0, 0,
     "libpq connection string carnetd serves with (a role that owns nothing)"},
    {"read-database-url", "CARNET_READ_DATABASE_URL", OPT_STR, OFF(read_database_url), "", 0, 0,
     "libpq connection string of a standby for reads that may lag (board, availability); "
     "empty: all reads on --database-url"},
    {"read-max-lag-ms", "CARNET_READ_MAX_LAG_MS", OPT_INT, OFF(read_max_lag_ms), "5000", 100,
     3600000, "the standby's largest lag before its reads go to the primary"},
    {"migrate-url", "CARNET_MIGRATE_URL", OPT_STR, OFF(migrate_url), "", 0, 0,
     "libpq connection string of the owner role that runs migrations; empty: --database-url"},
    {"web-root", "CARNET_WEB_ROOT", OPT_STR, OFF(web_root), "web", 0, 0,
     "folder of static pages served under /"},
    {"web-gz", "CARNET_WEB_GZ", OPT_STR, OFF(web_gz), "build/web-gz", 0, 0,
     "folder of the pages compressed at build time (make), sent to clients that take gzip"},
    {"schema-dir", "CARNET_SCHEMA_DIR", OPT_STR, OFF(schema_dir), "schema", 0, 0,
     "folder of NNN_name.sql migrations"},
    {"public-url", "CARNET_PUBLIC_URL", OPT_STR, OFF(public_url), "", 0, 0,
     "base URL put in customer links; empty: http:// and the address --listen serves"},
    {"log-level", "CARNET_LOG_LEVEL", OPT_STR, OFF(log_level), "info", 0, 0,
     "debug, info, warning or error"},
    {"outbox-dir", "CARNET_OUTBOX_DIR", OPT_STR, OFF(outbox_dir), "var/outbox", 0, 0,
     "folder of the file sink for customer messages"},
    {"data-key-file", "CARNET_DATA_KEY_FILE", OPT_STR, OFF(data_key_file), "", 0, 0,
     "file holding the 32-byte data key (mode 0600) that seals customer links; required"},
    {"old-data-key-file", "CARNET_OLD_DATA_KEY_FILE", OPT_STR, OFF(old_data_key_file), "", 0, 0,
     "a previous data key, kept to open what it sealed while a rotation runs"},
    {"pool-size", "CARNET_POOL_SIZE", OPT_INT, OFF(pool_size), "8", 1, 256,
     "PostgreSQL connections in the pool"},
    {"avail-cache", "CARNET_AVAIL_CACHE", OPT_INT, OFF(avail_cache_mb), "16", 0, 4096,
     "megabytes of month-view days cached (kept right by LISTEN carnet_avail; 0: off)"},
    {"queue-max", "CARNET_QUEUE_MAX", OPT_INT, OFF(queue_max), "4096", 0, 1000000,
     "queries that may wait for a free connection before 503"},
    {"queue-timeout-ms", "CARNET_QUEUE_TIMEOUT_MS", OPT_INT, OFF(queue_timeout_ms), "2000", 1,
     600000, "longest wait for a free connection before 503"},
    {"statement-timeout-ms", "CARNET_STATEMENT_TIMEOUT_MS", OPT_INT, OFF(statement_timeout_ms),
     "10000", 0, 3600000, "PostgreSQL statement_timeout for every query (0: none)"},
    {"pipeline-depth", "CARNET_PIPELINE_DEPTH", OPT_INT, OFF(pipeline_depth), "4", 1, 64,
     "queries one pool connection may carry at once when all are busy (1: no pipelining)"},
    {"reconnect-max-ms", "CARNET_RECONNECT_MAX_MS", OPT_INT, OFF(reconnect_max_ms), "5000", 10,
     600000, "longest back-off between reconnection attempts"},
    {"max-body", "CARNET_MAX_BODY", OPT_INT, OFF(max_body_bytes), "1048576", 1024, 1 << 30,
     "largest request body in bytes (413 beyond)"},
    {"max-upload", "CARNET_MAX_UPLOAD", OPT_INT, OFF(max_upload_bytes), "8388608", 1024, 1 << 30,
     "largest body of an upload route (a photo) in bytes (413 beyond); a route's own limit may "
     "be lower"},
    {"max-headers", "CARNET_MAX_HEADERS", OPT_INT, OFF(max_header_bytes), "16384", 1024, 1 << 20,
     "largest request header block in bytes"},
    {"http-timeout", "CARNET_HTTP_TIMEOUT", OPT_INT, OFF(http_timeout_s), "30", 1, 3600,
     "seconds a client may take to send a request or read a reply"},
    {"shutdown-timeout", "CARNET_SHUTDOWN_TIMEOUT", OPT_INT, OFF(shutdown_timeout_s), "10", 0, 3600,
     "seconds in-flight requests get to finish after SIGTERM"},
    {"drain-delay-ms", "CARNET_DRAIN_DELAY_MS", OPT_INT, OFF(drain_delay_ms), "2000", 0, 600000,
     "after SIGTERM, milliseconds /readyz answers 503 while requests are still served, before "
     "the listener closes"},
    {"workers", "CARNET_WORKERS", OPT_INT, OFF(workers), "2", 1, 64,
     "threads for slow CPU work (password hashing, chain verification)"},
    {"send-workers", "CARNET_SEND_WORKERS", OPT_INT, OFF(send_workers), "4", 1, 64,
     "threads for blocking sends (mail, SMS); never shared with the CPU work"},
    {"webhook-workers", "CARNET_WEBHOOK_WORKERS", OPT_INT, OFF(webhook_workers), "2", 1, 64,
     "threads for webhook sends (and as many for URL checks); never shared with mail, SMS"},
    {"session-ttl", "CARNET_SESSION_TTL", OPT_INT, OFF(session_ttl_s), "43200", 60, 31536000,
     "seconds a staff session lives at most"},
    {"session-idle", "CARNET_SESSION_IDLE", OPT_INT, OFF(session_idle_s), "1800", 60, 31536000,
     "seconds of inactivity that end a staff session"},
    {"standby-hold", "CARNET_STANDBY_HOLD", OPT_INT, OFF(standby_hold_s), "600", 10, 86400,
     "seconds a freed slot is held for a standby customer"},
    {"job-interval-ms", "CARNET_JOB_INTERVAL_MS", OPT_INT, OFF(job_interval_ms), "5000", 50,
     3600000, "period of the background jobs (no-shows, offers, reminders, outbox)"},
    {"retain-login-attempts", "CARNET_RETAIN_LOGIN_ATTEMPTS", OPT_INT,
     OFF(retain_login_attempts_days), "7", 1, 3650,
     "days sign-in attempts (email, address) are kept"},
    {"retain-sessions", "CARNET_RETAIN_SESSIONS", OPT_INT, OFF(retain_sessions_days), "1", 1, 3650,
     "days an ended staff session is kept"},
    {"retain-messages", "CARNET_RETAIN_MESSAGES", OPT_INT, OFF(retain_messages_days), "30", 1, 3650,
     "days the text and recipient of a sent, failed or cancelled message are kept"},
    {"retain-visits", "CARNET_RETAIN_VISITS", OPT_INT, OFF(retain_visits_days), "7", 1, 3650,
     "days after its day a visit's or an ended standby place's name and contact are kept"},
    {"retention-interval", "CARNET_RETENTION_INTERVAL", OPT_INT, OFF(retention_interval_s), "3600",
     1, 86400, "seconds between retention runs once there is nothing left to purge"},
    {"reuse-port", "CARNET_REUSE_PORT", OPT_FLAG, OFF(reuse_port), NULL, 0, 0,
     "share the listening port with other carnetd on this machine (SO_REUSEPORT)"},
    {"metrics-listen", "CARNET_METRICS_LISTEN", OPT_STR, OFF(metrics_listen), "", 0, 0,
     "address:port to serve /metrics on, off the public port; empty: /metrics on --listen"},
    {"smtp-url", "CARNET_SMTP_URL", OPT_STR, OFF(smtp_url), "", 0, 0,
     "smtp://host:port (or smtps://) for customer email; empty: write to --outbox-dir"},
    {"smtp-starttls", "CARNET_SMTP_STARTTLS", OPT_STR, OFF(smtp_starttls), "try", 0, 0,
     "STARTTLS on smtp://: try, require or off"},
    {"smtp-user", "CARNET_SMTP_USER", OPT_STR, OFF(smtp_user), "", 0, 0, "SMTP user name"},
    {"smtp-password", "CARNET_SMTP_PASSWORD", OPT_STR, OFF(smtp_password), "", 0, 0,
     "SMTP password (prefer the environment variable)"},
    {"smtp-from", "CARNET_SMTP_FROM", OPT_STR, OFF(smtp_from), "Carnet <no-reply@carnet.invalid>",
     0, 0, "From: of customer email, \"Name <address>\""},
    {"sms-webhook", "CARNET_SMS_WEBHOOK", OPT_STR, OFF(sms_webhook_url), "", 0, 0,
     "URL that receives each SMS as a JSON POST; empty: write to --outbox-dir"},
    {"sms-webhook-token", "CARNET_SMS_WEBHOOK_TOKEN", OPT_STR, OFF(sms_webhook_token), "", 0, 0,
     "bearer token sent to the SMS webhook"},
    {"outbox-interval-ms", "CARNET_OUTBOX_INTERVAL_MS", OPT_INT, OFF(outbox_interval_ms), "1000",
     20, 3600000, "how often the delivery worker looks for due messages"},
    {"outbox-batch", "CARNET_OUTBOX_BATCH", OPT_INT, OFF(outbox_batch), "8", 1, 1000,
     "messages claimed per delivery round"},
    {"outbox-max-attempts", "CARNET_OUTBOX_MAX_ATTEMPTS", OPT_INT, OFF(outbox_max_attempts), "5", 1,
     100, "tries before a message is marked failed"},
    {"outbox-backoff-ms", "CARNET_OUTBOX_BACKOFF_MS", OPT_INT, OFF(outbox_backoff_ms), "30000", 10,
     3600000, "wait before the first retry; doubles on each further try (at most an hour)"},
    {"outbox-lease", "CARNET_OUTBOX_LEASE", OPT_INT, OFF(outbox_lease_s), "120", 5, 3600,
     "seconds a claimed message is reserved for its worker (longer than --send-timeout)"},
    {"send-timeout", "CARNET_SEND_TIMEOUT", OPT_INT, OFF(send_timeout_s), "30", 1, 600,
     "seconds one SMTP or webhook delivery may take"},
    {"webhook-allow-private", "CARNET_WEBHOOK_ALLOW_PRIVATE", OPT_FLAG, OFF(webhook_allow_private),
     NULL, 0, 0, "let webhooks reach loopback, private and link-local addresses (tests only)"},
    {"webhook-ca", "CARNET_WEBHOOK_CA", OPT_STR, OFF(webhook_ca), "", 0, 0,
     "PEM file of the only CAs webhook receivers are verified against: it replaces the "
     "system's CAs, which are then not trusted"},
    {"webhook-interval-ms", "CARNET_WEBHOOK_INTERVAL_MS", OPT_INT, OFF(webhook_interval_ms), "1000",
     20, 3600000, "how often the webhook worker looks for due deliveries"},
    {"webhook-batch", "CARNET_WEBHOOK_BATCH", OPT_INT, OFF(webhook_batch), "8", 1, 1000,
     "webhook deliveries claimed per round"},
    {"webhook-backoff-ms", "CARNET_WEBHOOK_BACKOFF_MS", OPT_INT, OFF(webhook_backoff_ms), "10000",
     10, 3600000,
     "wait before a webhook's first retry; then 6, 30, 180, 720 and 2160 times it, then failed"},
    {"webhook-timeout", "CARNET_WEBHOOK_TIMEOUT", OPT_INT, OFF(webhook_timeout_s), "10", 1, 600,
     "seconds one webhook POST may take (shorter than --outbox-lease)"},
    {"migrate", NULL, OPT_FLAG, OFF(migrate_only), NULL, 0, 0, "apply migrations and exit"},
    {"rotate-data-key", NULL, OPT_STR, OFF(rotate_key_file), "", 0, 0,
     "re-seal all personal data and links under the key in this file, then exit"},
    {"skip-migrate", "CARNET_SKIP_MIGRATE", OPT_FLAG, OFF(skip_migrate), NULL, 0, 0,
     "do not apply migrations at start-up"},
    {"no-jobs", "CARNET_NO_JOBS", OPT_FLAG, OFF(no_jobs), NULL, 0, 0,
     "do not run background jobs or message delivery in this process"},
    {"hash-password", NULL, OPT_FLAG, OFF(hash_password), NULL, 0, 0,
     "read a password on stdin, print its argon2id hash, and exit"},
    {"verify-passport", NULL, OPT_STR, OFF(verify_passport), "", 0, 0,
     "check a device passport file's signature (with --passport-key), print valid or why not, "
     "and exit 0 or 1; no database"},
    {"passport-key", NULL, OPT_STR, OFF(passport_key), "", 0, 0,
     "the chain's passport public key for --verify-passport: the JSON of GET /api/passport-key"},
    {"routes", NULL, OPT_FLAG, OFF(show_routes), NULL, 0, 0,
     "print the route table (method, path, access) as JSON and exit"},
    {"help", NULL, OPT_FLAG, OFF(show_help), NULL, 0, 0, "print this help and exit"},
    {"version", NULL, OPT_FLAG, OFF(show_version), NULL, 0, 0, "print the version and exit"},
};

#define NOPTIONS (sizeof(options) / sizeof(options[0]))

int config_parse_int(const char *val, int min, int max, int *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(val, &end, 10);
    if (errno || end == val || *end || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

enum config_listen config_parse_listen(const char *val, size_t *host_len, int *port)
{
    const char *colon = strrchr(val, ':');
    char *end;
    long p;
    if (!colon || colon == val)
        return CONFIG_LISTEN_NO_HOST;
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return CONFIG_LISTEN_BAD_PORT;
    *host_len = (size_t)(colon - val);
    *port = (int)p;
    return CONFIG_LISTEN_OK;
}

bool config_parse_flag(const char *val)
{
    return !(strcmp(val, "0") == 0 || strcmp(val, "false") == 0 || strcmp(val, "") == 0);
}

static int set_value(struct config *cfg, const struct opt *o, const char *val, char *err,
                     size_t errlen)
{
    char *base = (char *)cfg;

    switch (o->kind) {
    case OPT_STR: {
        char **dst = (char **)(base + o->offset);
        free(*dst);
        *dst = strdup(val);
        return *dst ? 0 : -1;
    }
    case OPT_INT:
        if (config_parse_int(val, o->min, o->max, (int *)(base + o->offset)) < 0) {
            snprintf(err, errlen, "--%s: expected a whole number from %d to %d, got '%s'", o->flag,
                     o->min, o->max, val);
            return -1;
        }
        return 0;
    case OPT_LISTEN: {
        size_t host_len;
        int port;
        switch (config_parse_listen(val, &host_len, &port)) {
        case CONFIG_LISTEN_NO_HOST:
            snprintf(err, errlen, "--%s: expected host:port, got '%s'", o->flag, val);
            return -1;
        case CONFIG_LISTEN_BAD_PORT:
            snprintf(err, errlen, "--%s: bad port in '%s'", o->flag, val);
            return -1;
        case CONFIG_LISTEN_OK:
            break;
        }
        free(cfg->listen_host);
        cfg->listen_host = strndup(val, host_len);
        cfg->listen_port = port;
        return cfg->listen_host ? 0 : -1;
    }
    case OPT_FLAG:
        *(bool *)(base + o->offset) = config_parse_flag(val);
        return 0;
    }
    return -1;
}

int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    struct option longopts[NOPTIONS + 1];
    int c, idx;

    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct opt *o = &options[i];
        if (o->defval && set_value(cfg, o, o->defval, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct opt *o = &options[i];
        const char *v = o->env ? getenv(o->env) : NULL;
        if (v && set_value(cfg, o, v, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < NOPTIONS; i++) {
        longopts[i].name = options[i].flag;
        longopts[i].has_arg = options[i].kind == OPT_FLAG ? no_argument : required_argument;
        longopts[i].flag = NULL;
        longopts[i].val = 0;
    }
    memset(&longopts[NOPTIONS], 0, sizeof(longopts[0]));
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
        if (c != 0) {
            snprintf(err, errlen, "unknown or incomplete option '%s'",
                     optind > 0 && optind <= argc ? argv[optind - 1] : "?");
            return -1;
        }
        if (set_value(cfg, &options[idx], optarg ? optarg : "1", err, errlen) < 0)
            return -1;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") &&
        strcmp(cfg->log_level, "warning") && strcmp(cfg->log_level, "error")) {
        snprintf(err, errlen, "--log-level: expected debug, info, warning or error");
        return -1;
    }
    if (strcmp(cfg->smtp_starttls, "try") && strcmp(cfg->smtp_starttls, "require") &&
        strcmp(cfg->smtp_starttls, "off")) {
        snprintf(err, errlen, "--smtp-starttls: expected try, require or off");
        return -1;
    }
    if (cfg->metrics_listen[0]) {
        size_t host_len;
        if (config_parse_listen(cfg->metrics_listen, &host_len, &cfg->metrics_port) !=
            CONFIG_LISTEN_OK) {
            snprintf(err, errlen, "--metrics-listen: expected host:port, got '%s'",
                     cfg->metrics_listen);
            return -1;
        }
        if (!(cfg->metrics_host = strndup(cfg->metrics_listen, host_len)))
            return -1;
    }
    if (cfg->webhook_ca[0] && access(cfg->webhook_ca, R_OK) < 0) {
        snprintf(err, errlen, "--webhook-ca: cannot read '%s'", cfg->webhook_ca);
        return -1;
    }
    if (cfg->webhook_timeout_s >= cfg->outbox_lease_s) {
        /* The webhook claim uses the same lease. */
        snprintf(err, errlen, "--webhook-timeout must be shorter than --outbox-lease");
        return -1;
    }
    if (cfg->send_timeout_s >= cfg->outbox_lease_s) {
        /* A send outliving its lease could be claimed and sent again by another worker. */
        snprintf(err, errlen, "--send-timeout must be shorter than --outbox-lease");
        return -1;
    }
    return 0;
}

int config_public_url_default(struct config *cfg, int port)
{
    const char *host = cfg->listen_host;
    char *url;
    int n;

    if (cfg->public_url && cfg->public_url[0])
        return 0;
    /* A wildcard address is not one a customer can open: this machine's loopback is. */
    if (!host || !host[0] || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
        host = "127.0.0.1";
    else if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
        host = "[::1]";
    if (strchr(host, ':') && host[0] != '[')
        n = asprintf(&url, "http://[%s]:%d", host, port);
    else
        n = asprintf(&url, "http://%s:%d", host, port);
    if (n < 0)
        return -1;
    free(cfg->public_url);
    cfg->public_url = url;
    return 0;
}

void config_free(struct config *cfg)
{
    for (size_t i = 0; i < NOPTIONS; i++) {
        if (options[i].kind == OPT_STR) {
            char **p = (char **)((char *)cfg + options[i].offset);
            free(*p);
            *p = NULL;
        }
    }
    free(cfg->listen_host);
    cfg->listen_host = NULL;
    free(cfg->metrics_host);
    cfg->metrics_host = NULL;
}

void config_usage(FILE *out)
{
    fprintf(out, "usage: carnetd [options]\n\nEach option may also be set by the environment "
                 "variable shown; flags win.\n\n");
    for (size_t i = 0; i < NOPTIONS; i++) {
        const struct opt *o = &options[i];
        char left[64];
        snprintf(left, sizeof(left), "--%s%s", o->flag, o->kind == OPT_FLAG ? "" : "=VALUE");
        fprintf(out, "  %-30s %s", left, o->help);
        if (o->env)
            fprintf(out, " [%s]", o->env);
        if (o->defval)
            fprintf(out, " (default %s)", o->defval);
        fputc('\n', out);
    }
}
