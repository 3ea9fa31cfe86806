/* Unit tests for log.c's log_path: which path segments the log withholds. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define HIDDEN "\u2026"
#define TOKEN "PFUVx3rV9q2Zk7mLw0aB4cD5eF6gH7iJ8kL9mN0oP1q" /* 43 url-safe characters */

static void setup(void)
{
    log_secret_clear();
    ck_assert_int_eq(log_secret_pattern("/api/manage/{token}"), 0);
    ck_assert_int_eq(log_secret_pattern("/api/manage/{token}/cancel"), 0);
    ck_assert_int_eq(log_secret_pattern("/api/stores/{store}/links/{token}"), 0);
}

static const char *lp(const char *path)
{
    static char out[LOG_PATH_MAX];
    return log_path(path, out, sizeof(out));
}

START_TEST(a_token_segment_is_withheld_whatever_follows)
{
    ck_assert_str_eq(lp("/api/manage/" TOKEN), "/api/manage/" HIDDEN);
    ck_assert_str_eq(lp("/api/manage/" TOKEN "/cancel"), "/api/manage/" HIDDEN "/cancel");
    /* No route has these, but the segment sits where a link goes: a 404 or 405 is logged too. */
    ck_assert_str_eq(lp("/api/manage/" TOKEN "/nothing/here"),
                     "/api/manage/" HIDDEN "/nothing/here");
    ck_assert_str_eq(lp("/api/stores/7/links/" TOKEN), "/api/stores/7/links/" HIDDEN);
}
END_TEST

START_TEST(junk_typed_as_a_link_is_withheld_too)
{
    ck_assert_str_eq(lp("/api/manage/x"), "/api/manage/" HIDDEN);
    ck_assert_str_eq(lp("/api/manage/my secret!"), "/api/manage/" HIDDEN);
    ck_assert_str_eq(lp("/api/manage/"), "/api/manage/");
}
END_TEST

START_TEST(other_segments_are_kept)
{
    ck_assert_str_eq(lp("/api/stores/7/links"), "/api/stores/7/links");
    ck_assert_str_eq(lp("/api/devices/F2LPARIS0001"), "/api/devices/F2LPARIS0001");
    ck_assert_str_eq(lp("/api/managers/abc"), "/api/managers/abc");
    ck_assert_str_eq(lp("/"), "/");
    ck_assert_str_eq(lp("/staff/index.html"), "/staff/index.html");
    ck_assert_str_eq(lp(NULL), "-");
    ck_assert_str_eq(lp("no-slash"), "-");
}
END_TEST

START_TEST(a_token_shaped_segment_is_withheld_anywhere)
{
    ck_assert_str_eq(lp("/manage/" TOKEN), "/manage/" HIDDEN);
    ck_assert_str_eq(lp("/api//manage/" TOKEN), "/api//manage/" HIDDEN);
    /* A calendar feed's "<token>.ics" under a path no route has (a typo). */
    ck_assert_str_eq(lp("/api/stores/3/calendars/" TOKEN ".ics"),
                     "/api/stores/3/calendars/" HIDDEN);
    ck_assert_str_eq(lp("/feeds/" TOKEN ".ics/x"), "/feeds/" HIDDEN "/x");
    /* A serial (at most 32 characters) is no link. */
    ck_assert_str_eq(lp("/api/devices/ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"),
                     "/api/devices/ABCDEFGHIJKLMNOPQRSTUVWXYZ012345");
    ck_assert_str_eq(lp("/api/devices/ABCDEFGHIJKLMNOPQRSTUVWXYZ.ics"),
                     "/api/devices/ABCDEFGHIJKLMNOPQRSTUVWXYZ.ics");
}
END_TEST

START_TEST(a_long_path_is_cut_at_a_whole_segment)
{
    char small[20];
    ck_assert_str_eq(log_path("/api/manage/" TOKEN "/cancel", small, sizeof(small)),
                     "/api/manage/" HIDDEN);
    ck_assert_str_eq(log_path("/api/devices/ABCDEFGHIJ", small, sizeof(small)), "/api/devices");
    ck_assert_str_eq(log_path("/api/manage/" TOKEN, small, 1), "");
}
END_TEST

START_TEST(the_pattern_table_is_bounded)
{
    log_secret_clear();
    for (int i = 0; i < LOG_SECRET_PATTERNS_MAX; i++)
        ck_assert_int_eq(log_secret_pattern("/api/x/{token}"), 0);
    ck_assert_int_eq(log_secret_pattern("/api/y/{token}"), -1);
    ck_assert_str_eq(lp("/api/y/abc"), "/api/y/abc");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("path");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, a_token_segment_is_withheld_whatever_follows);
    tcase_add_test(tc, junk_typed_as_a_link_is_withheld_too);
    tcase_add_test(tc, other_segments_are_kept);
    tcase_add_test(tc, a_token_shaped_segment_is_withheld_anywhere);
    tcase_add_test(tc, a_long_path_is_cut_at_a_whole_segment);
    tcase_add_test(tc, the_pattern_table_is_bounded);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
