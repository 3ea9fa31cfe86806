/* Unit tests for router.c: pattern matching, parameters, 405 detection, access text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

static void h(struct req *r)
{
    (void)r;
}

static const struct route table[] = {
    {"GET", "/api/stores", h, ACCESS_PUBLIC, ""},
    {"GET", "/api/stores/{store}/slots", h, ACCESS_PUBLIC, ""},
    {"POST", "/api/stores/{store}/appointments/{id}/cancel", h, ACCESS_FLOOR, ""},
    {"GET", "/api/stores/{store}/appointments/{id}", h, ACCESS_STAFF, ""},
};
static const int n = sizeof(table) / sizeof(table[0]);

START_TEST(literal_route_matches)
{
    struct route_match m;
    ck_assert_int_eq(router_match(table, n, "GET", "/api/stores", &m), 0);
    ck_assert_ptr_eq(m.route, &table[0]);
    ck_assert_int_eq(m.nparams, 0);
    router_match_clear(&m);
}
END_TEST

START_TEST(parameters_are_captured)
{
    struct route_match m;
    ck_assert_int_eq(router_match(table, n, "POST", "/api/stores/12/appointments/345/cancel", &m),
                     0);
    ck_assert_ptr_eq(m.route, &table[2]);
    ck_assert_str_eq(router_param(&m, "store"), "12");
    ck_assert_str_eq(router_param(&m, "id"), "345");
    ck_assert_ptr_null(router_param(&m, "st"));
    router_match_clear(&m);
}
END_TEST

START_TEST(no_partial_or_empty_segments)
{
    struct route_match m;
    ck_assert_int_eq(router_match(table, n, "GET", "/api/stores/", &m), -1);
    ck_assert_int_eq(router_match(table, n, "GET", "/api/stores//slots", &m), -1);
    ck_assert_int_eq(router_match(table, n, "GET", "/api/stores/1/slots/extra", &m), -1);
    ck_assert_int_eq(router_match(table, n, "GET", "/api/storesX", &m), -1);
    ck_assert(!m.path_found);
}
END_TEST

START_TEST(wrong_method_sets_path_found)
{
    struct route_match m;
    ck_assert_int_eq(router_match(table, n, "DELETE", "/api/stores/1/slots", &m), -1);
    ck_assert(m.path_found);
    ck_assert_int_eq(m.nparams, 0);
}
END_TEST

START_TEST(head_matches_get)
{
    struct route_match m;
    ck_assert_int_eq(router_match(table, n, "HEAD", "/api/stores/9/slots", &m), 0);
    ck_assert_ptr_eq(m.route, &table[1]);
    router_match_clear(&m);
}
END_TEST

START_TEST(access_text_and_roles)
{
    char buf[64];
    enum role r;
    router_access_text(ACCESS_PUBLIC, buf, sizeof(buf));
    ck_assert_str_eq(buf, "public");
    router_access_text(ACCESS_STAFF, buf, sizeof(buf));
    ck_assert_str_eq(buf, "staff");
    router_access_text(ACCESS_FLOOR, buf, sizeof(buf));
    ck_assert_str_eq(buf, "specialist,manager,admin");
    ck_assert_int_eq(role_parse("technician", &r), 0);
    ck_assert_int_eq(r, ROLE_TECHNICIAN);
    ck_assert_int_eq(role_parse("boss", &r), -1);
    ck_assert_str_eq(role_name(ROLE_MANAGER), "manager");
}
END_TEST

START_TEST(fallback_matches_nothing)
{
    struct route_match m;
    /* The fallback row is never matched by path, even by a path that looks like its pattern. */
    ck_assert_int_lt(router_match(routes, nroutes, "GET", "*", &m), 0);
    ck_assert_int_lt(router_match(routes, nroutes, "GET", "/index.html", &m), 0);
    router_match_clear(&m);
}
END_TEST

START_TEST(real_table_is_well_formed)
{
    /* Every route in carnetd's own table: a known method, an absolute path, balanced braces,
     * no duplicate (method, pattern), and a summary. Only the last row may be the fallback. */
    const struct route *fb = router_fallback(routes, nroutes);
    ck_assert_msg(fb == &routes[nroutes - 1], "the web root is the table's last row");
    for (int i = 0; i < nroutes; i++) {
        const char *p = routes[i].pattern;
        int depth = 0;
        if (&routes[i] == fb)
            continue;
        ck_assert_msg(p[0] == '/', "%s", p);
        ck_assert_msg(routes[i].summary && routes[i].summary[0], "%s has no summary", p);
        ck_assert(strstr("GET POST PUT PATCH DELETE", routes[i].method) != NULL);
        for (; *p; p++) {
            depth += *p == '{';
            depth -= *p == '}';
            ck_assert(depth == 0 || depth == 1);
        }
        ck_assert_int_eq(depth, 0);
        for (int j = 0; j < i; j++)
            ck_assert_msg(strcmp(routes[i].pattern, routes[j].pattern) != 0 ||
                              strcmp(routes[i].method, routes[j].method) != 0,
                          "duplicate route %s %s", routes[i].method, routes[i].pattern);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, literal_route_matches);
    tcase_add_test(tc, parameters_are_captured);
    tcase_add_test(tc, no_partial_or_empty_segments);
    tcase_add_test(tc, wrong_method_sets_path_found);
    tcase_add_test(tc, head_matches_get);
    tcase_add_test(tc, access_text_and_roles);
    tcase_add_test(tc, real_table_is_well_formed);
    tcase_add_test(tc, fallback_matches_nothing);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
