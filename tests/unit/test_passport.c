/* Unit tests for passport.c: the canonical form byte for byte (what web/js/passport.js and any
 * other verifier must reproduce), and a signed document that verifies until one byte changes. */
#include <check.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "passport.h"

static const unsigned char SEED[32] = {7, 7, 7};

START_TEST(canonical_form)
{
    /* Keys sorted by their bytes, no whitespace, integers as they are, past-ASCII characters as
     * \uXXXX with upper-case hex (UTF-16: a pair for an emoji), controls but \b\f\n\r\t as
     * \u00XX, DEL and "/" as they are. */
    json_t *p = json_loads("{\"b\": \"\\u00e9cran \\u0001\\u007f/\\ud83d\\ude00\\t\", \"a\": [1, "
                           "-20, \"x\"], \"Z\": {\"y\": \"\", \"x\": 0}, \"\\u00e9k\": \"v\"}",
                           0, NULL);
    ck_assert_ptr_nonnull(p);
    char *c = passport_canonical(p);
    ck_assert_str_eq(c, "{\"Z\":{\"x\":0,\"y\":\"\"},\"a\":[1,-20,\"x\"],"
                        "\"b\":\"\\u00E9cran \\u0001\x7f/\\uD83D\\uDE00\\t\",\"\\u00E9k\":\"v\"}");
    free(c);
    json_decref(p);
}
END_TEST

START_TEST(key_id_is_sha256_prefix)
{
    unsigned char pk[32] = {0}, h[32];
    char kid[PASSPORT_KID_HEX + 1], hex[17];
    passport_key_id(pk, kid);
    crypto_hash_sha256(h, pk, sizeof(pk));
    sodium_bin2hex(hex, sizeof(hex), h, 8);
    ck_assert_str_eq(kid, hex);
}
END_TEST

static char *signed_doc(unsigned char pk[32])
{
    unsigned char sk[64];
    crypto_sign_seed_keypair(pk, sk, SEED);
    passport_key_from_seed(SEED);
    json_t *p = json_pack("{sssss{ssss}}", "format", "carnet-passport/1", "issued_at",
                          "2026-12-05T08:00:00Z", "device", "serial", "ABC12345", "model",
                          "Pixel \xc3\xa9");
    json_t *doc = passport_sign(p);
    ck_assert_ptr_nonnull(doc);
    char *text = json_dumps(doc, JSON_INDENT(2)); /* any layout: the content is what counts */
    json_decref(doc);
    return text;
}

START_TEST(sign_verify_tamper)
{
    unsigned char pk[32], other[32] = {1};
    char why[300];
    char *text = signed_doc(pk);

    ck_assert_int_eq(passport_verify_text(text, strlen(text), pk, why, sizeof(why)), 0);
    /* One byte of the serial changed. */
    char *at = strstr(text, "ABC12345");
    ck_assert_ptr_nonnull(at);
    at[3] = '9';
    ck_assert_int_eq(passport_verify_text(text, strlen(text), pk, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "does not match"));
    at[3] = '1';
    /* One byte of the signature changed. */
    char *sig = strstr(text, "\"sig\": \"");
    ck_assert_ptr_nonnull(sig);
    sig[10] = sig[10] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(passport_verify_text(text, strlen(text), pk, why, sizeof(why)), -1);
    /* Another key: named. */
    ck_assert_int_eq(passport_verify_text(text, strlen(text), other, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "not with the key given"));
    /* Not JSON, not a passport. */
    ck_assert_int_eq(passport_verify_text("{", 1, pk, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "not JSON"));
    ck_assert_int_eq(passport_verify_text("{\"passport\": {}}", 16, pk, why, sizeof(why)), -1);
    ck_assert_ptr_nonnull(strstr(why, "not a passport"));
    free(text);
    passport_free();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("passport");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    if (sodium_init() < 0)
        return EXIT_FAILURE;
    tcase_add_test(tc, canonical_form);
    tcase_add_test(tc, key_id_is_sha256_prefix);
    tcase_add_test(tc, sign_verify_tamper);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
