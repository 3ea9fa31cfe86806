/* Unit tests for pgconn.c: its settings (parsing conninfo, what must be resolved, the
 * keyword/value arrays that hand libpq the addresses of a name), and attempts that fail on a
 * real event loop (a name that does not resolve, a refused connection, a lookup abandoned). */
#include <check.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgconn.h"

static void parse(struct pgconn_params *p, const char *conninfo)
{
    char err[256];
    ck_assert_msg(pgconn_params_parse(p, conninfo, err, sizeof(err)) == 0, "%s", err);
}

/* The name pgconn_params_target asks to resolve, "" for none, "!" for unsupported. */
static const char *target(const char *conninfo, char *buf, size_t len)
{
    struct pgconn_params p;
    const char *name;
    parse(&p, conninfo);
    if (pgconn_params_target(&p, &name) < 0)
        snprintf(buf, len, "!");
    else
        snprintf(buf, len, "%s", name ? name : "");
    pgconn_params_free(&p);
    return buf;
}

START_TEST(parses_uri_and_key_value)
{
    struct pgconn_params p;

    parse(&p, "postgresql://carnet@db.example:5433/shop?sslmode=require");
    ck_assert_str_eq(pgconn_params_get(&p, "host"), "db.example");
    ck_assert_str_eq(pgconn_params_get(&p, "port"), "5433");
    ck_assert_str_eq(pgconn_params_get(&p, "user"), "carnet");
    ck_assert_str_eq(pgconn_params_get(&p, "dbname"), "shop");
    ck_assert_str_eq(pgconn_params_get(&p, "sslmode"), "require");
    ck_assert_ptr_null(pgconn_params_get(&p, "hostaddr"));
    ck_assert_ptr_null(p.keys[p.n]);
    ck_assert_ptr_null(p.values[p.n]);
    pgconn_params_free(&p);

    parse(&p, "host=db.example port=5433 dbname='my shop'");
    ck_assert_str_eq(pgconn_params_get(&p, "host"), "db.example");
    ck_assert_str_eq(pgconn_params_get(&p, "dbname"), "my shop");
    ck_assert_int_eq(p.n, 3); /* only what the string gives: no defaults */
    pgconn_params_free(&p);
}
END_TEST

/* Every connection finds a silently dead server within ~15 s; a conninfo's own values win. */
START_TEST(liveness_settings_are_added_unless_given)
{
    struct pgconn_params p;

    parse(&p, "host=db.example");
    ck_assert_int_eq(pgconn_params_liveness(&p), 0);
    ck_assert_str_eq(pgconn_params_get(&p, "keepalives"), "1");
    ck_assert_int_le(atoi(pgconn_params_get(&p, "keepalives_idle")) +
                         atoi(pgconn_params_get(&p, "keepalives_interval")) *
                             atoi(pgconn_params_get(&p, "keepalives_count")),
                     20);
    ck_assert_int_le(atoi(pgconn_params_get(&p, "tcp_user_timeout")), 20000);
    ck_assert_int_gt(atoi(pgconn_params_get(&p, "tcp_user_timeout")), 0);
    ck_assert_ptr_null(p.keys[p.n]);
    pgconn_params_free(&p);

    parse(&p, "host=db.example keepalives_idle=30 tcp_user_timeout=0");
    ck_assert_int_eq(pgconn_params_liveness(&p), 0);
    ck_assert_str_eq(pgconn_params_get(&p, "keepalives_idle"), "30");
    ck_assert_str_eq(pgconn_params_get(&p, "tcp_user_timeout"), "0");
    ck_assert_str_eq(pgconn_params_get(&p, "keepalives_interval"), "2");
    pgconn_params_free(&p);
}
END_TEST

START_TEST(bad_conninfo_is_an_error)
{
    struct pgconn_params p;
    char err[256];
    ck_assert_int_eq(pgconn_params_parse(&p, "host=a nonsense", err, sizeof(err)), -1);
    ck_assert(strstr(err, "bad database URL") != NULL);
    ck_assert_int_eq(pgconn_params_parse(&p, "postgresql://x@[::1", err, sizeof(err)), -1);
}
END_TEST

START_TEST(set_adds_or_replaces)
{
    struct pgconn_params p;
    parse(&p, "postgresql://carnet@db.example/shop?application_name=psql");
    ck_assert_int_eq(pgconn_params_set(&p, "application_name", "carnetd"), 0);
    ck_assert_int_eq(pgconn_params_set(&p, "keepalives", "1"), 0);
    ck_assert_str_eq(pgconn_params_get(&p, "application_name"), "carnetd");
    ck_assert_str_eq(pgconn_params_get(&p, "keepalives"), "1");
    for (int i = 0; i < 40; i++) { /* grows past its first allocation */
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        ck_assert_int_eq(pgconn_params_set(&p, k, "v"), 0);
    }
    ck_assert_str_eq(pgconn_params_get(&p, "k39"), "v");
    ck_assert_ptr_null(p.keys[p.n]);
    pgconn_params_free(&p);
}
END_TEST

START_TEST(what_needs_a_lookup)
{
    char b[128];
    ck_assert_str_eq(target("postgresql://u@localhost:5432/db", b, sizeof(b)), "localhost");
    ck_assert_str_eq(target("host=db.example", b, sizeof(b)), "db.example");
    ck_assert_str_eq(target("postgresql://u@127.0.0.1/db", b, sizeof(b)), "");
    ck_assert_str_eq(target("postgresql://u@[::1]:5432/db", b, sizeof(b)), "");
    ck_assert_str_eq(target("host=/var/run/postgresql", b, sizeof(b)), "");
    ck_assert_str_eq(target("postgresql:///carnet", b, sizeof(b)), "");
    ck_assert_str_eq(target("host=db.example hostaddr=10.0.0.5", b, sizeof(b)), "");
    ck_assert_str_eq(target("host=10.0.0.1,10.0.0.2", b, sizeof(b)), "");
    ck_assert_str_eq(target("host=/tmp,10.0.0.2", b, sizeof(b)), "");
    ck_assert_str_eq(target("host=a.example,10.0.0.2", b, sizeof(b)), "!");
    ck_assert_str_eq(target("postgresql://u@a.example,b.example/db", b, sizeof(b)), "!");
}
END_TEST

START_TEST(addresses_become_hostaddr)
{
    struct pgconn_params p, out;
    const char *two[] = {"::1", "127.0.0.1"};
    const char *one[] = {"10.1.2.3"};

    parse(&p, "postgresql://carnet@localhost:5433/shop");
    ck_assert_int_eq(pgconn_params_with_addrs(&p, two, 2, &out), 0);
    ck_assert_str_eq(pgconn_params_get(&out, "host"), "localhost,localhost");
    ck_assert_str_eq(pgconn_params_get(&out, "hostaddr"), "::1,127.0.0.1");
    ck_assert_str_eq(pgconn_params_get(&out, "port"), "5433");
    ck_assert_str_eq(pgconn_params_get(&out, "dbname"), "shop");
    ck_assert_int_eq(out.n, p.n + 1);
    ck_assert_ptr_null(out.keys[out.n]);
    ck_assert_ptr_null(out.values[out.n]);
    /* The source is untouched: every attempt starts from the name again. */
    ck_assert_str_eq(pgconn_params_get(&p, "host"), "localhost");
    ck_assert_ptr_null(pgconn_params_get(&p, "hostaddr"));
    pgconn_params_free(&out);

    ck_assert_int_eq(pgconn_params_with_addrs(&p, one, 1, &out), 0);
    ck_assert_str_eq(pgconn_params_get(&out, "host"), "localhost");
    ck_assert_str_eq(pgconn_params_get(&out, "hostaddr"), "10.1.2.3");
    pgconn_params_free(&out);
    pgconn_params_free(&p);
}
END_TEST

START_TEST(check_conninfo)
{
    char err[256];
    ck_assert_int_eq(pgconn_check_conninfo("postgresql://u@127.0.0.1/db", err, sizeof(err)), 0);
    ck_assert_int_eq(pgconn_check_conninfo("postgresql://u@localhost/db", err, sizeof(err)), 0);
    ck_assert_int_eq(pgconn_check_conninfo("host=carnet-db.invalid", err, sizeof(err)), -1);
    ck_assert(strstr(err, "carnet-db.invalid") != NULL);
    ck_assert_int_eq(pgconn_check_conninfo("host=a.invalid,b.invalid", err, sizeof(err)), -1);
    ck_assert(strstr(err, "several hosts") != NULL);
}
END_TEST

/* ---- attempts on a real loop ---- */

#define LOOP_LIMIT_S 20

struct outcome {
    struct event_base *base;
    int ready, failed;
    char why[512];
};

static void on_ready(struct pgconn *c, void *arg)
{
    struct outcome *o = arg;
    (void)c;
    o->ready++;
    event_base_loopexit(o->base, NULL);
}

static void on_failed(struct pgconn *c, const char *why, void *arg)
{
    struct outcome *o = arg;
    (void)c;
    o->failed++;
    snprintf(o->why, sizeof(o->why), "%s", why);
    event_base_loopexit(o->base, NULL);
}

static const struct pgconn_ops ops = {.ready = on_ready, .failed = on_failed};

/* Runs one attempt to its end; the outcome says how it ended. */
static void attempt(const char *conninfo, struct outcome *o, enum pgconn_state *end)
{
    static const char *const keys[] = {"connect_timeout", NULL};
    static const char *const vals[] = {"10", NULL};
    struct timeval limit = {LOOP_LIMIT_S, 0};
    struct pgconn *c;

    memset(o, 0, sizeof(*o));
    o->base = event_base_new();
    ck_assert_ptr_nonnull(o->base);
    c = pgconn_new(o->base, conninfo, keys, vals, &ops, o);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(pgconn_state(c), PGCONN_IDLE);
    pgconn_start(c);
    event_base_loopexit(o->base, &limit);
    event_base_dispatch(o->base);
    *end = pgconn_state(c);
    ck_assert_ptr_null(pgconn_pq(c));
    pgconn_reset(c);
    ck_assert_int_eq(pgconn_state(c), PGCONN_IDLE);
    pgconn_free(c);
    event_base_free(o->base);
}

START_TEST(unknown_name_fails_the_attempt)
{
    struct outcome o;
    enum pgconn_state end;
    attempt("postgresql://carnet@carnet-db.invalid:5432/carnet", &o, &end);
    ck_assert_int_eq(o.ready, 0);
    ck_assert_int_eq(o.failed, 1);
    ck_assert_int_eq(end, PGCONN_FAILED);
    ck_assert_msg(strstr(o.why, "carnet-db.invalid") != NULL, "%s", o.why);
}
END_TEST

START_TEST(refused_connection_fails_the_attempt)
{
    struct outcome o;
    enum pgconn_state end;
    /* localhost comes from /etc/hosts; nothing listens on port 1. */
    attempt("postgresql://carnet@localhost:1/carnet", &o, &end);
    ck_assert_int_eq(o.ready, 0);
    ck_assert_int_eq(o.failed, 1);
    ck_assert_int_eq(end, PGCONN_FAILED);
    ck_assert_msg(strstr(o.why, "localhost") != NULL || strstr(o.why, "127.0.0.1") != NULL, "%s",
                  o.why);
}
END_TEST

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

START_TEST(abandoned_lookup_calls_nobody)
{
    struct outcome o;
    struct timeval later = {0, 300000};
    struct pgconn *a, *b;

    memset(&o, 0, sizeof(o));
    o.base = event_base_new();
    a = pgconn_new(o.base, "host=carnet-db.invalid", NULL, NULL, &ops, &o);
    b = pgconn_new(o.base, "host=carnet-db.invalid", NULL, NULL, &ops, &o);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    pgconn_start(a);
    pgconn_start(b);
    ck_assert_int_eq(pgconn_state(a), PGCONN_RESOLVING);
    pgconn_reset(a); /* abandoned, then freed, while evdns still works on them */
    ck_assert_int_eq(pgconn_state(a), PGCONN_IDLE);
    pgconn_free(b);
    event_base_once(o.base, -1, EV_TIMEOUT, stop_cb, o.base, &later);
    event_base_dispatch(o.base);
    ck_assert_int_eq(o.ready + o.failed, 0);
    pgconn_free(a);
    event_base_free(o.base);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pgconn");
    TCase *tc = tcase_create("params");
    SRunner *sr;
    int failed;

    unsetenv("PGHOST");
    unsetenv("PGHOSTADDR");
    tcase_add_test(tc, parses_uri_and_key_value);
    tcase_add_test(tc, bad_conninfo_is_an_error);
    tcase_add_test(tc, set_adds_or_replaces);
    tcase_add_test(tc, what_needs_a_lookup);
    tcase_add_test(tc, addresses_become_hostaddr);
    tcase_add_test(tc, check_conninfo);
    tcase_add_test(tc, liveness_settings_are_added_unless_given);
    suite_add_tcase(s, tc);
    tc = tcase_create("loop");
    tcase_set_timeout(tc, LOOP_LIMIT_S * 2);
    tcase_add_test(tc, unknown_name_fails_the_attempt);
    tcase_add_test(tc, refused_connection_fails_the_attempt);
    tcase_add_test(tc, abandoned_lookup_calls_nobody);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
