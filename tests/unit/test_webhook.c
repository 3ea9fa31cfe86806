/* Unit tests for webhook.c's pure parts: the signature a receiver recomputes (the same bytes as
 * Python's hmac over timestamp "." body, with the secret's bytes as key) and the addresses a
 * webhook may not reach. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "webhook.h"

START_TEST(signature_matches_a_receivers_hmac)
{
    char sig[WEBHOOK_SIGNATURE_MAX];
    const char *body = "{\"id\":\"e1\",\"type\":\"booking.created\"}";
    char key[101];

    webhook_sign("whsec_test", 1700000000LL, body, strlen(body), sig);
    ck_assert_str_eq(sig, "v1=fae5d68516257862af6504121b74b3b8bcaca54d7c922b83e7b58a556561dbbc");
    /* Another timestamp or body signs differently. */
    webhook_sign("whsec_test", 1700000001LL, body, strlen(body), sig);
    ck_assert_str_ne(sig, "v1=fae5d68516257862af6504121b74b3b8bcaca54d7c922b83e7b58a556561dbbc");
    /* A key longer than a block (HMAC hashes it first) and an empty body. */
    memset(key, 'k', 100);
    key[100] = '\0';
    webhook_sign(key, 0, "", 0, sig);
    ck_assert_str_eq(sig, "v1=243c2f8200e1d4ee892e7a7ded377a65e2beb1c64b997c54b8b0f516216d4b0f");
}
END_TEST

static bool refused4(const char *ip)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    ck_assert_int_eq(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return webhook_address_refused((struct sockaddr *)&sin);
}

static bool refused6(const char *ip)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    ck_assert_int_eq(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
    return webhook_address_refused((struct sockaddr *)&sin6);
}

START_TEST(private_addresses_are_refused)
{
    const char *no4[] = {"0.0.0.0",         "0.255.255.255", "10.0.0.1",        "127.0.0.1",
                         "127.255.0.9",     "169.254.1.1",   "172.16.0.1",      "172.31.255.255",
                         "192.168.1.1",     "100.64.0.1",    "100.127.255.254", "192.0.0.1",
                         "192.0.0.170",     "198.18.0.1",    "198.19.255.255",  "224.0.0.1",
                         "239.255.255.255", "240.0.0.1",     "255.255.255.255", NULL};
    const char *yes4[] = {"8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1",
                          "100.63.255.255", "192.169.0.1", "192.0.1.1", "192.0.3.1",
                          "198.17.255.255", "198.20.0.1", "223.255.255.254", "1.1.1.1",
                          /* documentation nets receive nothing but are no private place: the
                           * browser journey saves one */
                          "192.0.2.1", "198.51.100.7", "203.0.113.10", NULL};
    const char *no6[] = {"::",
                         "::1",
                         "::7f00:1",
                         "fc00::1",
                         "fd12:3456::1",
                         "fe80::1",
                         "febf::1",
                         "fec0::1",
                         "ff02::1",
                         "::ffff:127.0.0.1",
                         "::ffff:10.1.2.3",
                         "::ffff:0.0.0.0",
                         "64:ff9b::7f00:1",
                         "64:ff9b::a01:203",
                         "64:ff9b::a9fe:a9fe",
                         "64:ff9b::c000:1",
                         "64:ff9b:1::808:808",
                         "2002:7f00:1::",
                         "2002:a00:1::1",
                         "2002:c0a8:101::1",
                         "2002:c612:1::1",

                         "100::1",
                         NULL};
    const char *yes6[] = {"2001:4860:4860::8888", "2606:4700::1111", "::ffff:8.8.8.8",
                          "64:ff9b::808:808",     "2002:808:808::1", "fe00::1",
                          "64:ff9c::1",           "2001:db8::1",     NULL};
    for (int i = 0; no4[i]; i++)
        ck_assert_msg(refused4(no4[i]), "%s should be refused", no4[i]);
    for (int i = 0; yes4[i]; i++)
        ck_assert_msg(!refused4(yes4[i]), "%s should be allowed", yes4[i]);
    for (int i = 0; no6[i]; i++)
        ck_assert_msg(refused6(no6[i]), "%s should be refused", no6[i]);
    for (int i = 0; yes6[i]; i++)
        ck_assert_msg(!refused6(yes6[i]), "%s should be allowed", yes6[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("webhook");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    if (sodium_init() < 0)
        return EXIT_FAILURE;
    tcase_add_test(tc, signature_matches_a_receivers_hmac);
    tcase_add_test(tc, private_addresses_are_refused);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
