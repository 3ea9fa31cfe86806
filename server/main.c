/*
 * main: start-up, signals and shutdown of carnetd.
 *
 * Order matters: configuration (fatal if bad), migrations (blocking, before serving), then the
 * loop's modules. SIGTERM/SIGINT first fail readiness (/readyz 503) and keep serving for
 * --drain-delay-ms, so a balancer that probes /readyz stops sending before the listener closes;
 * then they stop accepting, let requests in flight finish within the shutdown timeout, and leave
 * the loop. A second signal exits at once, in the delay too.
 */
#include <event2/event.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "authcache.h"
#include "config.h"
#include "dispatch.h"
#include "db.h"
#include "http.h"
#include "availcache.h"
#include "booking.h"
#include "jobs.h"
#include "log.h"
#include "metrics.h"
#include "migrate.h"
#include "linkstock.h"
#include "pdstore.h"
#include "seal.h"
#include "outbox.h"
#include "passport.h"
#include "pglisten.h"
#include "pgconn.h"
#include "ready.h"
#include "router.h"
#include "sse.h"
#include "static.h"
#include "system.h"
#include "webhook.h"
#include "worker.h"

#ifndef CARNET_VERSION
#define CARNET_VERSION "0.1.0"
#endif

static struct event_base *base;
static int signals_seen, signal_first;
static struct event *drain_timer;

/* For operators creating the first account by hand: the hash never leaves this terminal. */
static int hash_password_stdin(void)
{
    char pw[1024], out[crypto_pwhash_STRBYTES];
    size_t len;

    if (!fgets(pw, sizeof(pw), stdin))
        return 1;
    len = strcspn(pw, "\r\n");
    pw[len] = '\0';
    if (len == 0 || crypto_pwhash_str(out, pw, len, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return 1;
    sodium_memzero(pw, sizeof(pw));
    printf("%s\n", out);
    return 0;
}

static void on_drained(void)
{
    event_base_loopexit(base, NULL);
}

/* After the drain delay: stop accepting, and drain what is in flight. */
static void stop_serving(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    int inflight = http_inflight();
    jobs_stop();
    sse_shutdown();
    pglisten_stop();
    outbox_stop();
    webhook_stop();
    http_shutdown(config.shutdown_timeout_s, on_drained);
    /* Said once the listening socket is closed, so whoever reads it may rely on it. */
    log_info("signal %d: shutting down (in flight: %d)", signal_first, inflight);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct timeval tv = {config.drain_delay_ms / 1000, (config.drain_delay_ms % 1000) * 1000};
    (void)what;
    (void)arg;
    if (++signals_seen > 1) {
        log_warning("second signal: exiting now");
        event_base_loopbreak(base);
        return;
    }
    signal_first = (int)sig;
    ready_drain();
    if (config.drain_delay_ms == 0) {
        stop_serving(-1, 0, NULL);
        return;
    }
    log_info("signal %d: not ready; still serving for %d ms, then the listener closes", (int)sig,
             config.drain_delay_ms);
    drain_timer = evtimer_new(base, stop_serving, NULL);
    if (!drain_timer || evtimer_add(drain_timer, &tv) < 0)
        stop_serving(-1, 0, NULL);
}

int main(int argc, char **argv)
{
    char err[256];
    enum log_level level;
    struct event *sigterm = NULL, *sigint = NULL;
    struct db_config dbc;
    int rc = 1;

    if (config_load(&config, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "carnetd: %s\n(see carnetd --help)\n", err);
        return 2;
    }
    if (config.show_help) {
        config_usage(stdout);
        rc = 0;
        goto out;
    }
    if (config.show_version) {
        printf("carnetd %s\n", CARNET_VERSION);
        rc = 0;
        goto out;
    }
    if (config.show_routes) {
        for (int i = 0; i < nroutes; i++) {
            if (&routes[i] == router_fallback(routes, nroutes))
                continue;
            char access[64];
            router_access_text(routes[i].access, access, sizeof(access));
            printf("%s{\"method\":\"%s\",\"path\":\"%s\",\"access\":\"%s\"}", i ? ",\n" : "[",
                   routes[i].method, routes[i].pattern, access);
        }
        printf("]\n");
        rc = 0;
        goto out;
    }
    if (log_level_parse(config.log_level, &level) == 0)
        log_set_level(level);
    /* The route table says which path segments are customers' links: the log withholds them. */
    for (int i = 0; i < nroutes; i++) {
        if (strstr(routes[i].pattern, "{token}") && log_secret_pattern(routes[i].pattern) < 0) {
            log_error("more link routes than the log can withhold (%d)", LOG_SECRET_PATTERNS_MAX);
            goto out;
        }
    }
    if (sodium_init() < 0) {
        log_error("libsodium cannot start");
        goto out;
    }
    if (config.verify_passport[0]) {
        rc = passport_verify_cli(config.verify_passport, config.passport_key);
        goto out;
    }
    if (config.hash_password) {
        rc = hash_password_stdin();
        goto out;
    }
    /* Without the data key no customer link could be sealed or delivered: refuse now, not at
     * the first booking. */
    if (config.rotate_key_file[0]) {
        /* A rotation seals under the new key and opens with the one the servers used. */
        if (seal_init(config.rotate_key_file, err, sizeof(err)) < 0 ||
            seal_add_old_key(config.data_key_file, err, sizeof(err)) < 0) {
            log_error("%s", err);
            goto out;
        }
    } else if ((!config.migrate_only || config.data_key_file[0]) &&
               seal_init(config.data_key_file, err, sizeof(err)) < 0) {
        log_error("%s", err);
        goto out;
    }
    if (config.old_data_key_file[0] &&
        seal_add_old_key(config.old_data_key_file, err, sizeof(err)) < 0) {
        log_error("%s", err);
        goto out;
    }
    signal(SIGPIPE, SIG_IGN);
    system_raise_fd_limit();
    /* A host name that does not resolve is bad configuration: say so now rather than retry it
     * forever on the loop. (At run time a failed lookup is a failed attempt, retried.) */
    if (pgconn_check_conninfo(config.database_url, err, sizeof(err)) < 0 ||
        (*config.migrate_url && pgconn_check_conninfo(config.migrate_url, err, sizeof(err)) < 0)) {
        log_error("%s", err);
        goto out;
    }
    if ((!config.skip_migrate || config.migrate_only) && !config.rotate_key_file[0]) {
        int n = migrate_run(*config.migrate_url ? config.migrate_url : config.database_url,
                            config.database_url, config.schema_dir);
        if (n < 0)
            goto out;
        log_info("migrations: %d applied", n);
    }
    /* Ready links before the first request that may need one (and in a freshly migrated
     * database, before anything else runs its SQL). A database that is down now is filled by
     * the top-up on the loop later. */
    if (seal_ready() && linkstock_fill_blocking(config.database_url, err, sizeof(err)) < 0)
        log_warning("link stock: not filled at start-up: %s", err);
    if (config.rotate_key_file[0]) {
        long n = pdstore_run_blocking(config.database_url, 0, err, sizeof(err));
        if (n < 0) {
            log_error("rotation: %s", err);
            goto out;
        }
        log_info("rotation: %ld values sealed again under data key %s", n, seal_key_id());
        rc = 0;
        goto out;
    }
    /* What is still in clear (written before migration 017, or by the demo seed) is sealed
     * before serving; a large backlog is finished by the job on the loop. */
    if (seal_ready()) {
        long n =
            pdstore_run_blocking(config.database_url, PDSTORE_STARTUP_ROUNDS, err, sizeof(err));
        if (n < 0)
            log_warning("personal data: not sealed at start-up: %s", err);
        else if (n > 0)
            log_info("personal data: %ld values sealed under data key %s", n, seal_key_id());
    }
    if (config.migrate_only) {
        rc = 0;
        goto out;
    }
    /* The chain's passport key: made by the first carnetd, read by every other. Without it
     * (the database is down now) passports answer 503 until a restart; the rest serves. */
    if (passport_key_load_blocking(config.database_url, err, sizeof(err)) < 0)
        log_warning("device passports: no signing key: %s", err);
    if (config.skip_migrate)
        migrate_check_serving(config.database_url);
    /* The changelist folds the enable/disable pairs evhttp makes around every request into one
     * epoll_ctl per loop iteration: without it, epoll_ctl is ~40% of carnetd's system calls. */
    {
        struct event_config *ecfg = event_config_new();
        if (!ecfg)
            goto out;
        event_config_set_flag(ecfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
        base = event_base_new_with_config(ecfg);
        event_config_free(ecfg);
    }
    if (!base || log_buffer_start(base) < 0)
        goto out;
    dbc.conninfo = config.database_url;
    dbc.size = config.pool_size;
    dbc.queue_max = config.queue_max;
    dbc.queue_timeout_ms = config.queue_timeout_ms;
    dbc.statement_timeout_ms = config.statement_timeout_ms;
    dbc.reconnect_max_ms = config.reconnect_max_ms;
    dbc.pipeline_depth = config.pipeline_depth;
    if (auth_init() < 0 || metrics_init(nroutes) < 0 || db_init(base, &dbc) < 0 ||
        sse_init(base) < 0 || booking_init() < 0 || pglisten_start(base, config.database_url) < 0 ||
        ready_init(base, config.database_url) < 0 ||
        worker_init(base, config.workers, config.send_workers, config.webhook_workers) < 0) {
        log_error("start-up failed");
        goto out;
    }
    if (config.read_database_url[0]) {
        struct db_config rdbc = dbc;
        rdbc.conninfo = config.read_database_url;
        if (db_init_read(base, &rdbc, config.read_max_lag_ms) < 0) {
            log_error("start-up failed: the read pool");
            goto out;
        }
    }
    static_init(config.web_root, config.web_gz);
    if (system_init(config.web_root) < 0) {
        log_error("start-up failed: the API description in %s/openapi is not valid",
                  config.web_root);
        goto out;
    }
    if (http_init(base, config.listen_host, config.listen_port, dispatch_request) < 0)
        goto out;
    if (config_public_url_default(&config, http_bound_port()) < 0)
        goto out;
    if (config.metrics_host &&
        metrics_listen(base, config.metrics_host, config.metrics_port, system_metrics_render) < 0)
        goto out;
    /* The stock's top-up is background work too: a --no-jobs process lives on its start-up
     * fill and the top-ups of the processes that run jobs. */
    if (!config.no_jobs &&
        (jobs_init(base) < 0 || outbox_init(base) < 0 || webhook_init(base) < 0 ||
         linkstock_init(base, LINKSTOCK_INTERVAL_MS) < 0 ||
         pdstore_init(base, PDSTORE_INTERVAL_MS) < 0))
        goto out;
    sigterm = evsignal_new(base, SIGTERM, on_signal, NULL);
    sigint = evsignal_new(base, SIGINT, on_signal, NULL);
    if (!sigterm || !sigint || event_add(sigterm, NULL) < 0 || event_add(sigint, NULL) < 0)
        goto out;
    log_info("carnetd %s listening on http://%s:%d", CARNET_VERSION, config.listen_host,
             http_bound_port());
    if (config.metrics_host)
        log_info("metrics on http://%s:%d/metrics", config.metrics_host, metrics_listen_port());
    event_base_dispatch(base);
    log_info("carnetd stopped");
    rc = 0;
out:
    jobs_stop();
    linkstock_stop();
    pdstore_stop();
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (drain_timer)
        event_free(drain_timer);
    outbox_stop();
    webhook_stop();
    ready_free(); /* before http_free: a probe it still holds is answered on a live connection */
    http_free();
    metrics_listen_free();
    worker_shutdown();
    outbox_free();
    webhook_free();
    db_shutdown();
    sse_free();
    pglisten_free();
    availcache_free();
    authcache_free();
    static_free();
    system_free();
    metrics_free();
    log_buffer_stop(); /* before the base its timer lives on */
    if (base)
        event_base_free(base);
    passport_free();
    seal_free();
    config_free(&config);
    return rc;
}
