/* Unit tests for config.c: defaults, environment, flags, precedence and validation. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static int load(struct config *c, int argc, char **argv, char *err)
{
    return config_load(c, argc, argv, err, 256);
}

START_TEST(defaults)
{
    struct config c;
    char err[256];
    char *argv[] = {"carnetd", NULL};
    unsetenv("CARNET_LISTEN");
    unsetenv("CARNET_POOL_SIZE");
    ck_assert_int_eq(load(&c, 1, argv, err), 0);
    ck_assert_str_eq(c.listen_host, "127.0.0.1");
    ck_assert_int_eq(c.listen_port, 8080);
    ck_assert_int_eq(c.pool_size, 8);
    ck_assert(!c.migrate_only);
    config_free(&c);
}
END_TEST

/* Without --public-url, links use the address carnetd serves (the port it bound). */
START_TEST(public_url_follows_listen)
{
    struct config c;
    char err[256];
    char *argv[] = {"carnetd", "--listen", "0.0.0.0:9000", NULL};
    char *given[] = {
        "carnetd", "--listen", "127.0.0.1:9001", "--public-url", "https://carnet.example", NULL};
    char *v6[] = {"carnetd", "--listen", "::1:0", NULL};
    unsetenv("CARNET_PUBLIC_URL");
    ck_assert_int_eq(load(&c, 3, argv, err), 0);
    ck_assert_str_eq(c.public_url, "");
    ck_assert_int_eq(config_public_url_default(&c, 9000), 0);
    ck_assert_str_eq(c.public_url, "http://127.0.0.1:9000");
    config_free(&c);
    ck_assert_int_eq(load(&c, 5, given, err), 0);
    ck_assert_int_eq(config_public_url_default(&c, 9001), 0);
    ck_assert_str_eq(c.public_url, "https://carnet.example");
    config_free(&c);
    ck_assert_int_eq(load(&c, 3, v6, err), 0);
    ck_assert_int_eq(config_public_url_default(&c, 41000), 0);
    ck_assert_str_eq(c.public_url, "http://[::1]:41000");
    config_free(&c);
}
END_TEST

START_TEST(env_then_flags_win)
{
    struct config c;
    char err[256];
    char *argv[] = {"carnetd", "--pool-size=3", "--listen", "0.0.0.0:9000", "--migrate", NULL};
    setenv("CARNET_POOL_SIZE", "5", 1);
    setenv("CARNET_QUEUE_MAX", "7", 1);
    ck_assert_int_eq(load(&c, 5, argv, err), 0);
    ck_assert_int_eq(c.pool_size, 3);
    ck_assert_int_eq(c.queue_max, 7);
    ck_assert_str_eq(c.listen_host, "0.0.0.0");
    ck_assert_int_eq(c.listen_port, 9000);
    ck_assert(c.migrate_only);
    config_free(&c);
    unsetenv("CARNET_POOL_SIZE");
    unsetenv("CARNET_QUEUE_MAX");
}
END_TEST

START_TEST(bad_values_name_the_setting)
{
    struct config c;
    char err[256];
    char *a1[] = {"carnetd", "--pool-size=0", NULL};
    char *a2[] = {"carnetd", "--listen=nohostport", NULL};
    char *a3[] = {"carnetd", "--bogus", NULL};
    char *a4[] = {"carnetd", "--log-level=loud", NULL};
    char *a5[] = {"carnetd", "--pool-size=12abc", NULL};
    ck_assert_int_eq(load(&c, 2, a1, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "pool-size"));
    config_free(&c);
    ck_assert_int_eq(load(&c, 2, a2, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "listen"));
    config_free(&c);
    ck_assert_int_eq(load(&c, 2, a3, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "bogus"));
    config_free(&c);
    ck_assert_int_eq(load(&c, 2, a4, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "log-level"));
    config_free(&c);
    ck_assert_int_eq(load(&c, 2, a5, err), -1);
    config_free(&c);
}
END_TEST

START_TEST(bad_environment_is_refused)
{
    struct config c;
    char err[256];
    char *argv[] = {"carnetd", NULL};
    setenv("CARNET_HTTP_TIMEOUT", "-1", 1);
    ck_assert_int_eq(load(&c, 1, argv, err), -1);
    ck_assert_ptr_nonnull(strstr(err, "http-timeout"));
    config_free(&c);
    unsetenv("CARNET_HTTP_TIMEOUT");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, defaults);
    tcase_add_test(tc, env_then_flags_win);
    tcase_add_test(tc, public_url_follows_listen);
    tcase_add_test(tc, bad_values_name_the_setting);
    tcase_add_test(tc, bad_environment_is_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
