/*
 * config: carnetd's settings, read once at start-up from defaults, then the environment, then
 * command-line flags (each later source wins). Every setting lives in one table in config.c so
 * --help, the README and the parser cannot drift apart.
 */
#ifndef CARNET_CONFIG_H
#define CARNET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct config {
    char *listen_host;
    int listen_port;
    char *database_url; /* the serving role: executes the API's functions, owns nothing */
    char *migrate_url;  /* the owner role, for migrations; "" = database_url (one role) */
    char *web_root;
    char *web_gz; /* compressed copies of web_root's files, built by make */
    char *schema_dir;
    char *public_url;
    char *log_level;
    char *outbox_dir;
    char *data_key_file; /* seal.h: required to serve */
    char *old_data_key_file;
    char *rotate_key_file; /* --rotate-data-key NEWFILE */
    int pool_size;
    int avail_cache_mb; /* booking.c's month-view cache; 0: off */
    /* a standby for reads that may lag (db_query_read); "" = none */
    char *read_database_url;
    int read_max_lag_ms;
    int queue_max;
    int pipeline_depth;
    int queue_timeout_ms;
    int statement_timeout_ms;
    int reconnect_max_ms;
    int max_body_bytes;
    int max_upload_bytes; /* bodies of upload routes (router.h), not JSON */
    int max_header_bytes;
    int http_timeout_s;
    int shutdown_timeout_s;
    int drain_delay_ms;
    int workers;         /* CPU threads: password hashing, chain verification */
    int send_workers;    /* I/O threads: mail and SMS delivery (blocking calls) */
    int webhook_workers; /* webhook sends, and as many for URL resolution */
    int session_ttl_s;
    int session_idle_s;
    int standby_hold_s;
    int job_interval_ms;
    /* retention (schema/api/retention.sql): terms in days, and how often the job looks */
    int retain_login_attempts_days;
    int retain_sessions_days;
    int retain_messages_days;
    int retain_visits_days;
    int retention_interval_s;
    bool reuse_port;
    /* --metrics-listen: "" serves /metrics on the public port; host:port serves it there only */
    char *metrics_listen;
    char *metrics_host; /* split from metrics_listen by config_load, NULL when unset */
    int metrics_port;
    /* customer messages (outbox.c): SMTP for email, an HTTP webhook for SMS, else the file sink */
    char *smtp_url;
    char *smtp_starttls;
    char *smtp_user;
    char *smtp_password;
    char *smtp_from;
    char *sms_webhook_url;
    char *sms_webhook_token;
    int outbox_interval_ms;
    int outbox_batch;
    int outbox_max_attempts;
    int outbox_backoff_ms;
    int outbox_lease_s;
    int send_timeout_s;
    /* webhooks (webhook.c) */
    bool webhook_allow_private;
    char *webhook_ca;
    int webhook_interval_ms;
    int webhook_batch;
    int webhook_backoff_ms;
    int webhook_timeout_s;
    bool migrate_only;
    bool skip_migrate;
    bool no_jobs;
    bool hash_password;
    bool show_routes;
    char *verify_passport; /* passport.h: check this file and exit */
    char *passport_key;
    bool show_help;
    bool show_version;
};

extern struct config config;

/*
 * Fills `cfg` from defaults, `envp`-style getenv and argv. Returns 0, or -1 with a message in
 * `err` (size `errlen`) naming the offending setting. Strings in cfg are owned by cfg.
 */
int config_load(struct config *cfg, int argc, char **argv, char *err, size_t errlen);
void config_free(struct config *cfg);
/* When --public-url is empty, makes it the address carnetd serves: http://, the --listen host
 * (the loopback for a wildcard) and `port`, the port actually bound. 0, or -1 out of memory. */
int config_public_url_default(struct config *cfg, int port);

/*
 * The value parsers behind config_load, pure so they can be tested and fuzzed alone.
 * config_parse_int: a whole decimal number in [min, max] into *out; 0, or -1 leaving *out alone.
 * config_parse_listen: "host:port" split at the last ':'; on success the host is the first
 * *host_len bytes of val and *port is 0..65535. config_parse_flag: false for "", "0", "false".
 */
enum config_listen { CONFIG_LISTEN_OK, CONFIG_LISTEN_NO_HOST, CONFIG_LISTEN_BAD_PORT };
int config_parse_int(const char *val, int min, int max, int *out);
enum config_listen config_parse_listen(const char *val, size_t *host_len, int *port);
bool config_parse_flag(const char *val);
void config_usage(FILE *out);

#endif
