/* Unit tests for seal.c: markers round-trip, and every way a marker can be wrong is refused. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"

static const unsigned char KEY_A[SEAL_KEY_BYTES] = {1, 2, 3};
static const unsigned char KEY_B[SEAL_KEY_BYTES] = {9, 9, 9};

START_TEST(round_trip_inside_text)
{
    char err[160];
    seal_init_key(KEY_A);
    char *m = seal_marker("AbC-_123");
    ck_assert_ptr_nonnull(m);
    ck_assert(strncmp(m, "{{sealed:", 9) == 0);
    ck_assert_ptr_null(strstr(m, "AbC-_123"));
    char *text;
    ck_assert_int_gt(asprintf(&text, "Manage: {{public_url}}/manage/#%s and again #%s.", m, m), 0);
    char *open = seal_open_text(text, err, sizeof(err));
    ck_assert_ptr_nonnull(open);
    ck_assert_str_eq(open, "Manage: {{public_url}}/manage/#AbC-_123 and again #AbC-_123.");
    /* Text without markers comes back as it was. */
    char *plain = seal_open_text("no link here {{name}}", err, sizeof(err));
    ck_assert_str_eq(plain, "no link here {{name}}");
    /* Two seals of one text differ (random nonce). */
    char *m2 = seal_marker("AbC-_123");
    ck_assert_str_ne(m, m2);
    free(m);
    free(m2);
    free(text);
    free(open);
    free(plain);
}
END_TEST

START_TEST(refusals)
{
    char err[160], *bad;
    seal_init_key(KEY_A);
    char *m = seal_marker("token");
    size_t n = strlen(m);

    /* another key: refused by its id, before any decryption */
    seal_init_key(KEY_B);
    ck_assert_ptr_null(seal_open_text(m, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "not one loaded"));
    seal_init_key(KEY_A);
    /* one altered payload character */
    bad = strdup(m);
    bad[n - 5] = bad[n - 5] == 'A' ? 'B' : 'A';
    ck_assert_ptr_null(seal_open_text(bad, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "does not open"));
    free(bad);
    /* unterminated, truncated, junk */
    bad = strndup(m, n - 2);
    ck_assert_ptr_null(seal_open_text(bad, err, sizeof(err)));
    free(bad);
    ck_assert_ptr_null(seal_open_text("{{sealed:}}", err, sizeof(err)));
    ck_assert_ptr_null(seal_open_text("{{sealed:0123456789abcdef:}}", err, sizeof(err)));
    ck_assert_ptr_null(seal_open_text("x {{sealed:zz", err, sizeof(err)));
    char kid[80];
    snprintf(kid, sizeof(kid), "{{sealed:%s:!!!!}}", seal_key_id());
    ck_assert_ptr_null(seal_open_text(kid, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "malformed"));
    free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    if (sodium_init() < 0)
        return EXIT_FAILURE;
    tcase_add_test(tc, round_trip_inside_text);
    tcase_add_test(tc, refusals);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    seal_free();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
