/* Unit tests for seal.c: markers round-trip, and every way a marker can be wrong is refused. */
#include <check.h>
#include <jansson.h>
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

START_TEST(personal_data_in_json)
{
    const char *name = "Zoé \"Zo\" O'Hara\\\n\x01";
    seal_init_key(KEY_A);
    char *m = seal_pd(name), *doc, *open;
    size_t n;
    int unreadable;
    ck_assert_ptr_nonnull(m);
    ck_assert(seal_is_pd(m) && seal_is_current_pd(m));
    ck_assert_int_gt(asprintf(&doc, "{\"name\": \"%s\", \"link\": \"x\"}", m), 0);
    open = seal_open_json(doc, strlen(doc), &n, &unreadable);
    ck_assert_ptr_nonnull(open);
    ck_assert_int_eq(unreadable, 0);
    json_error_t e;
    json_t *j = json_loadb(open, n, 0, &e);
    ck_assert_msg(j != NULL, "not JSON: %s (%s)", open, e.text);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), name);
    json_decref(j);
    free(open);
    /* under a key the ring does not hold: "(unreadable)", counted */
    seal_init_key(KEY_B);
    open = seal_open_json(doc, strlen(doc), &n, &unreadable);
    ck_assert_int_eq(unreadable, 1);
    ck_assert_ptr_nonnull(strstr(open, "\"name\": \"(unreadable)\""));
    free(open);
    free(doc);
    free(m);
}
END_TEST

START_TEST(ring_rotation_and_blind_index)
{
    char err[160], a[SEAL_BLIND_HEX + 1], b[SEAL_BLIND_HEX + 1], c[SEAL_BLIND_HEX + 1];
    seal_free();
    seal_init_key(KEY_A);
    char *old_pd = seal_pd("Ada"), *old_link = seal_marker("tok");
    char *text;
    ck_assert_int_gt(asprintf(&text, "Hello %s, see #%s", old_pd, old_link), 0);
    ck_assert_int_eq(seal_blind(0, "email", " Ada@Example.COM ", a), 0);
    ck_assert_int_eq(seal_blind(0, "email", "ada@example.com", b), 0);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(seal_blind(0, "phone", "+33 6-12.34 (56) 78", a), 0);
    ck_assert_int_eq(seal_blind(0, "phone", "+3361234 5678", b), 0);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(seal_blind(0, "email", "+33612345678", c), 0);
    ck_assert_str_ne(a, c); /* the kind is part of what is hashed */
    ck_assert_int_eq(seal_blind(0, "fax", "x", c), -1);
    ck_assert_int_eq(seal_blind(1, "email", "x", c), -1);

    /* a rotation: B current, A kept to open */
    seal_free();
    seal_init_key(KEY_B);
    seal_add_old_key_bytes(KEY_A);
    ck_assert_ptr_nonnull(seal_key_id_at(1));
    ck_assert_ptr_null(seal_key_id_at(2));
    ck_assert(!seal_is_current_pd(old_pd) && seal_is_pd(old_pd));
    char *re = seal_reseal_text(text, err, sizeof(err));
    ck_assert_ptr_nonnull(re);
    ck_assert_ptr_null(strstr(re, seal_key_id_at(1)));
    ck_assert_ptr_nonnull(strstr(re, seal_key_id_at(0)));
    char *open = seal_open_text(re, err, sizeof(err));
    ck_assert_str_eq(open, "Hello Ada, see #tok");
    /* the blind index follows the current key */
    ck_assert_int_eq(seal_blind(0, "phone", "+33612345678", b), 0);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(seal_blind(1, "phone", "+33612345678", c), 0);
    ck_assert_str_eq(a, c);
    /* once A is gone, what it sealed no longer opens */
    seal_free();
    seal_init_key(KEY_B);
    ck_assert_ptr_null(seal_open_text(text, err, sizeof(err)));
    ck_assert_ptr_null(seal_reseal_text(text, err, sizeof(err)));
    free(open);
    free(re);
    free(text);
    free(old_pd);
    free(old_link);
}
END_TEST

START_TEST(keyed_hash)
{
    char a[SEAL_BLIND_HEX + 1], b[SEAL_BLIND_HEX + 1], c[SEAL_BLIND_HEX + 1];
    unsigned char plain[SEAL_BLIND_HEX / 2];
    char unkeyed[SEAL_BLIND_HEX + 1];

    seal_free();
    ck_assert_int_eq(seal_keyed("idem", "1:k-1", a), -1); /* no key, no hash */
    seal_init_key(KEY_A);
    ck_assert_int_eq(seal_keyed("idem", "1:k-1", a), 0);
    ck_assert_int_eq(seal_keyed("idem", "1:k-1", b), 0);
    ck_assert_str_eq(a, b);
    ck_assert_int_eq(strlen(a), SEAL_BLIND_HEX);
    /* what a reader without the key computes from a guess is not it */
    crypto_generichash(plain, sizeof(plain), (const unsigned char *)"idem:1:k-1", 10, NULL, 0);
    sodium_bin2hex(unkeyed, sizeof(unkeyed), plain, sizeof(plain));
    ck_assert_str_ne(a, unkeyed);
    /* the label and the value both count, taken as they are (no normalising) */
    ck_assert_int_eq(seal_keyed("other", "1:k-1", c), 0);
    ck_assert_str_ne(a, c);
    ck_assert_int_eq(seal_keyed("idem", "1:K-1", c), 0);
    ck_assert_str_ne(a, c);
    /* it follows the current key */
    ck_assert(seal_has_marker("see {{pd:0123456789abcdef:AAAA}} here"));
    ck_assert(seal_has_marker("{{sealed:x"));
    ck_assert(!seal_has_marker("{{store}} and {pd: and {{ pd:"));
    ck_assert(!seal_has_marker(NULL));
    seal_free();
    seal_init_key(KEY_B);
    ck_assert_int_eq(seal_keyed("idem", "1:k-1", c), 0);
    ck_assert_str_ne(a, c);
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
    tcase_add_test(tc, personal_data_in_json);
    tcase_add_test(tc, ring_rotation_and_blind_index);
    tcase_add_test(tc, keyed_hash);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    seal_free();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
