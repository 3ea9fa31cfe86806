/* Unit tests for pure helpers of api.c, link.c, static.c and util.c. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "link.h"
#include "seal.h"
#include "static.h"
#include "util.h"

START_TEST(initials)
{
    char out[API_INITIAL_MAX];
    const struct {
        const char *name, *want;
    } cases[] = {
        {"zoé Martin", "Z."},
        {"  alice", "A."},
        {"élodie", "\xc3\x89."},
        {"Émile", "\xc3\x89."},
        {"ñu", "\xc3\x91."},
        {"÷x", "\xc3\xb7."},
        {"Łukasz", "\xc5\x81."},
        {"山田", "\xe5\xb1\xb1."},
        {"😀 smile", "\xf0\x9f\x98\x80."},
        {"", ""},
        {" \t ", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        api_initial(cases[i].name, out);
        ck_assert_msg(strcmp(out, cases[i].want) == 0, "%s -> %s", cases[i].name, out);
    }
}
END_TEST

START_TEST(sealed_members)
{
    unsigned char key[SEAL_KEY_BYTES];
    char bi[SEAL_BLIND_HEX + 1];
    json_t *o = json_object();
    char *opened, err[128];

    randombytes_buf(key, sizeof(key));
    seal_init_key(key);
    ck_assert_int_eq(api_seal_member(o, "email", "Ann@Example.com", "email", "email_bi"), 0);
    ck_assert_int_eq(api_seal_member(o, "name", "Ann", NULL, NULL), 0);
    ck_assert(seal_is_pd(json_string_value(json_object_get(o, "email"))));
    opened = seal_open_text(json_string_value(json_object_get(o, "email")), err, sizeof(err));
    ck_assert_str_eq(opened, "Ann@Example.com");
    free(opened);
    ck_assert_int_eq(seal_blind(0, "email", "ann@example.com", bi), 0);
    ck_assert_str_eq(json_string_value(json_object_get(o, "email_bi")), bi);
    ck_assert_ptr_null(json_object_get(o, "name_bi"));
    ck_assert_int_eq((int)json_object_size(o), 3);
    json_decref(o);
    seal_free();
}
END_TEST

START_TEST(sqlstate_mapping)
{
    ck_assert_int_eq(api_status_for_sqlstate("CA409"), 409);
    ck_assert_int_eq(api_status_for_sqlstate("CA422"), 422);
    ck_assert_int_eq(api_status_for_sqlstate("CA999"), 500);
    ck_assert_int_eq(api_status_for_sqlstate("23505"), 409);
    ck_assert_int_eq(api_status_for_sqlstate("23P01"), 409);
    ck_assert_int_eq(api_status_for_sqlstate("23514"), 422);
    ck_assert_int_eq(api_status_for_sqlstate("22P02"), 400);
    ck_assert_int_eq(api_status_for_sqlstate("57014"), 503);
    ck_assert_int_eq(api_status_for_sqlstate("40001"), 503);
    ck_assert_int_eq(api_status_for_sqlstate("08006"), 503);
    ck_assert_int_eq(api_status_for_sqlstate("57P02"), 503);
    ck_assert_int_eq(api_status_for_sqlstate("25006"), 503);
    ck_assert_int_eq(api_status_for_sqlstate("40003"), 503);
    ck_assert_int_eq(api_status_for_sqlstate("XX000"), 500);
    ck_assert_int_eq(api_status_for_sqlstate(NULL), 500);
    ck_assert_int_eq(api_status_for_sqlstate("123"), 500);
}
END_TEST

START_TEST(links)
{
    struct link a, b;
    char h[65];
    link_mint(&a);
    link_mint(&b);
    ck_assert_int_eq(strlen(a.token), LINK_TOKEN_LEN);
    ck_assert(link_format_ok(a.token));
    ck_assert_str_ne(a.token, b.token);
    link_hash(a.token, h);
    ck_assert_str_eq(h, a.hash);
    /* SHA-256, as PostgreSQL's sha256() computes it for the links it mints. */
    link_hash("abc", h);
    ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert(!link_format_ok(NULL));
    ck_assert(!link_format_ok(""));
    ck_assert(!link_format_ok("short"));
    a.token[5] = '/';
    ck_assert(!link_format_ok(a.token));
    link_wipe(&a);
    ck_assert_int_eq(a.token[0], 0);
}
END_TEST

START_TEST(static_paths)
{
    ck_assert(static_path_ok("/"));
    ck_assert(static_path_ok("/staff/index.html"));
    ck_assert(static_path_ok("/a/b-c_d.js"));
    ck_assert(!static_path_ok("/../etc/passwd"));
    ck_assert(!static_path_ok("/a/../../x"));
    ck_assert(!static_path_ok("/.git/config"));
    ck_assert(!static_path_ok("/a/.hidden"));
    ck_assert(!static_path_ok("/a\\..\\b"));
    ck_assert(!static_path_ok("relative"));
}
END_TEST

START_TEST(content_types)
{
    ck_assert_str_eq(static_content_type("x.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(static_content_type("a/b.CSS"), "text/css; charset=utf-8");
    ck_assert_str_eq(static_content_type("app.js"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(static_content_type("i.svg"), "image/svg+xml");
    ck_assert_str_eq(static_content_type("noext"), "application/octet-stream");
}
END_TEST

START_TEST(tokens_are_random_and_hashed)
{
    char a[64], b[64], ha[65], hb[65], ha2[65];
    util_random_token(a, sizeof(a), 32);
    util_random_token(b, sizeof(b), 32);
    ck_assert_int_eq(strlen(a), 43); /* 32 bytes, url-safe base64 without padding */
    ck_assert_str_ne(a, b);
    ck_assert(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              strlen(a));
    util_token_hash(a, ha);
    util_token_hash(a, ha2);
    util_token_hash(b, hb);
    ck_assert_int_eq(strlen(ha), 64);
    ck_assert_str_eq(ha, ha2);
    ck_assert_str_ne(ha, hb);
    ck_assert(util_streq_ct("abc", "abc"));
    ck_assert(!util_streq_ct("abc", "abd"));
    ck_assert(!util_streq_ct("abc", "abcd"));
}
END_TEST

START_TEST(ids_and_digits)
{
    ck_assert(util_is_id("1"));
    ck_assert(util_is_id("123456789012345678"));
    ck_assert(!util_is_id("1234567890123456789")); /* 19 digits could overflow a bigint */
    ck_assert(!util_is_id(""));
    ck_assert(!util_is_id(NULL));
    ck_assert(!util_is_id("12a"));
    ck_assert(!util_is_id("-1"));
    ck_assert(!util_is_id(" 1"));
    ck_assert(util_is_digits("007", 3));
    ck_assert(!util_is_digits("0007", 3));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    if (sodium_init() < 0)
        return EXIT_FAILURE;
    tcase_add_test(tc, sqlstate_mapping);
    tcase_add_test(tc, links);
    tcase_add_test(tc, static_paths);
    tcase_add_test(tc, content_types);
    tcase_add_test(tc, tokens_are_random_and_hashed);
    tcase_add_test(tc, ids_and_digits);
    tcase_add_test(tc, initials);
    tcase_add_test(tc, sealed_members);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
