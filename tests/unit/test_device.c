/*
 * Unit tests of the pure parts of device.c and repair.c: the libsodium chain check (built here
 * from scratch, so it does not depend on the SQL that writes chains) and repair state names.
 */
#include <check.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "repair.h"

#define N 4

static char prev_hex[N][65], hash_hex[N][65];
static const char *canon[N] = {"{\"id\": 1}", "{\"id\": 2, \"text\": \"é\"}", "{\"id\": 3}",
                               "{\"id\": 4}"};
static struct device_chain_entry e[N];

/* Builds a valid chain of N entries the way the database does. */
static void build(void)
{
    unsigned char prev[crypto_hash_sha256_BYTES] = {0}, h[crypto_hash_sha256_BYTES];
    for (int i = 0; i < N; i++) {
        crypto_hash_sha256_state st;
        sodium_bin2hex(prev_hex[i], 65, prev, sizeof(prev));
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, prev, sizeof(prev));
        crypto_hash_sha256_update(&st, (const unsigned char *)canon[i], strlen(canon[i]));
        crypto_hash_sha256_final(&st, h);
        sodium_bin2hex(hash_hex[i], 65, h, sizeof(h));
        memcpy(prev, h, sizeof(h));
        e[i] = (struct device_chain_entry){i + 1, prev_hex[i], hash_hex[i], canon[i]};
    }
}

START_TEST(test_valid_chain)
{
    struct device_chain_report rep;
    build();
    ck_assert_int_eq(device_chain_check(e, N, hash_hex[N - 1], N, &rep), 0);
    ck_assert_uint_eq(rep.checked, N);
    ck_assert_int_eq(rep.broken_at, 0);
    ck_assert_ptr_null(rep.reason);
}
END_TEST

START_TEST(test_empty_chain)
{
    struct device_chain_report rep;
    char zeros[65];
    memset(zeros, '0', 64);
    zeros[64] = '\0';
    ck_assert_int_eq(device_chain_check(NULL, 0, zeros, 0, &rep), 0);
    ck_assert_int_eq(device_chain_check(NULL, 0, "ab", 7, &rep), -1);
    ck_assert_str_eq(rep.reason, "head_mismatch");
}
END_TEST

START_TEST(test_changed_content)
{
    struct device_chain_report rep;
    build();
    e[2].canonical = "{\"id\": 3, \"x\": 1}";
    ck_assert_int_eq(device_chain_check(e, N, hash_hex[N - 1], N, &rep), -1);
    ck_assert_int_eq(rep.broken_at, 3);
    ck_assert_str_eq(rep.reason, "hash_mismatch");
    ck_assert_uint_eq(rep.checked, 2);
}
END_TEST

START_TEST(test_removed_entry)
{
    struct device_chain_report rep;
    struct device_chain_entry gap[N - 1];
    build();
    gap[0] = e[0];
    gap[1] = e[2];
    gap[2] = e[3];
    ck_assert_int_eq(device_chain_check(gap, N - 1, hash_hex[N - 1], N, &rep), -1);
    ck_assert_int_eq(rep.broken_at, 3);
    ck_assert_str_eq(rep.reason, "prev_mismatch");
}
END_TEST

START_TEST(test_truncated_tail)
{
    struct device_chain_report rep;
    build();
    ck_assert_int_eq(device_chain_check(e, N - 1, hash_hex[N - 1], N, &rep), -1);
    ck_assert_str_eq(rep.reason, "head_mismatch");
    ck_assert_int_eq(rep.broken_at, N);
}
END_TEST

/* A chain of N entries as the database writes it, whose entry `at` (1-based; 0: none) is an
 * erasure entry vouching for entry 2 as redacted to `redacted`: naming the hash `hash_of` (NULL:
 * entry 2's stored hash) and `sha_hex` (NULL: the SHA-256 of `redacted`). Entry 2 is then
 * redacted. Returns device_chain_check's answer. */
static char rcanon[N][512];
static int check_redacted(const char *redacted, int at, const char *sha_hex, const char *hash_of,
                          struct device_chain_report *rep)
{
    unsigned char prev[crypto_hash_sha256_BYTES] = {0}, h[crypto_hash_sha256_BYTES];
    char sha[65];

    crypto_hash_sha256(h, (const unsigned char *)redacted, strlen(redacted));
    sodium_bin2hex(sha, sizeof(sha), h, sizeof(h));
    for (int i = 0; i < N; i++) {
        crypto_hash_sha256_state st;
        if (i + 1 == at)
            snprintf(
                rcanon[i], sizeof(rcanon[i]),
                "{\"id\": %d, \"kind\": \"erasure\", \"content\": {\"redacted\": [{\"entry\": 2, "
                "\"hash\": \"%s\", \"canonical_sha256\": \"%s\"}]}}",
                i + 1, hash_of ? hash_of : hash_hex[1], sha_hex ? sha_hex : sha);
        else
            snprintf(rcanon[i], sizeof(rcanon[i]), "{\"id\": %d, \"text\": \"t%d\"}", i + 1, i);
        sodium_bin2hex(prev_hex[i], 65, prev, sizeof(prev));
        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, prev, sizeof(prev));
        crypto_hash_sha256_update(&st, (const unsigned char *)rcanon[i], strlen(rcanon[i]));
        crypto_hash_sha256_final(&st, h);
        sodium_bin2hex(hash_hex[i], 65, h, sizeof(h));
        memcpy(prev, h, sizeof(h));
        e[i] = (struct device_chain_entry){i + 1, prev_hex[i], hash_hex[i], rcanon[i]};
    }
    snprintf(rcanon[1], sizeof(rcanon[1]), "%s", redacted);
    return device_chain_check(e, N, hash_hex[N - 1], N, rep);
}

START_TEST(test_redaction_vouched_by_a_later_erasure_entry)
{
    struct device_chain_report rep;
    const char *red = "{\"id\": 2, \"text\": \"erased\", \"erased\": true}";
    ck_assert_int_eq(check_redacted(red, 4, NULL, NULL, &rep), 0);
    ck_assert_uint_eq(rep.redacted, 1);
    ck_assert_uint_eq(rep.checked, N);
    /* The vouched-for text is the redacted one: any other change still breaks the chain. */
    ck_assert_int_eq(check_redacted(red, 4, "00", NULL, &rep), -1);
    ck_assert_int_eq(rep.broken_at, 2);
    ck_assert_str_eq(rep.reason, "hash_mismatch");
    /* It must name the entry's stored hash. */
    ck_assert_int_eq(check_redacted(red, 4, NULL, "ab", &rep), -1);
    ck_assert_int_eq(rep.broken_at, 2);
    /* An erasure entry before the redacted one vouches for nothing. */
    ck_assert_int_eq(check_redacted(red, 1, NULL, NULL, &rep), -1);
    ck_assert_int_eq(rep.broken_at, 2);
    /* Without any erasure entry, a redaction is a broken chain. */
    ck_assert_int_eq(check_redacted(red, 0, NULL, NULL, &rep), -1);
    ck_assert_int_eq(rep.broken_at, 2);
    ck_assert_uint_eq(rep.redacted, 0);
}
END_TEST

START_TEST(test_repair_state_names)
{
    enum repair_state s;
    for (int i = 0; i < REPAIR_NSTATES; i++) {
        ck_assert_int_eq(repair_state_parse(repair_state_name((enum repair_state)i), &s), 0);
        ck_assert_int_eq(s, i);
    }
    ck_assert_int_eq(repair_state_parse("fixed", &s), -1);
    ck_assert_int_eq(repair_state_parse(NULL, &s), -1);
    ck_assert_str_eq(repair_state_name(REPAIR_AWAITING_APPROVAL), "awaiting_approval");
    ck_assert_str_eq(repair_state_name(REPAIR_NSTATES), "?");
}
END_TEST

/* Owners' phones are kept as digits with a leading + (6..15 digits): the form their blind
 * index is computed from, at write and at search alike. */
START_TEST(test_phone_normalize)
{
    char out[32];
    ck_assert_int_eq(device_phone_normalize("+33 6 12-34.56 78", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "+33612345678");
    ck_assert_int_eq(device_phone_normalize("(06) 12 34 56 78", out, sizeof(out)), 0);
    ck_assert_str_eq(out, "0612345678");
    ck_assert_int_eq(device_phone_normalize("123456", out, sizeof(out)), 0);
    ck_assert_int_eq(device_phone_normalize("12345", out, sizeof(out)), -1);
    ck_assert_int_eq(device_phone_normalize("1234567890123456", out, sizeof(out)), -1);
    ck_assert_int_eq(device_phone_normalize("06 12+34 56 78", out, sizeof(out)), -1);
    ck_assert_int_eq(device_phone_normalize("++33612345678", out, sizeof(out)), -1);
    ck_assert_int_eq(device_phone_normalize("", out, sizeof(out)), -1);
    ck_assert_int_eq(device_phone_normalize("+33612345678", out, 8), -1); /* does not fit */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    if (sodium_init() < 0)
        return 1;
    tcase_add_test(tc, test_valid_chain);
    tcase_add_test(tc, test_empty_chain);
    tcase_add_test(tc, test_changed_content);
    tcase_add_test(tc, test_removed_entry);
    tcase_add_test(tc, test_truncated_tail);
    tcase_add_test(tc, test_redaction_vouched_by_a_later_erasure_entry);
    tcase_add_test(tc, test_repair_state_names);
    tcase_add_test(tc, test_phone_normalize);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
