/* Unit tests for outbox.c's email formatting and the delivery settings' validation. */
#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "outbox.h"

/* Decodes every "=?UTF-8?B?...?=" word of a folded Subject header into `out`. */
static void decode_subject(const char *mail, char *out, size_t outlen)
{
    const char *p = strstr(mail, "\r\nSubject: ");
    const char *end = strstr(p + 2, "\r\nMIME-Version:");
    size_t used = 0;

    ck_assert_ptr_nonnull(p);
    while ((p = strstr(p, "=?UTF-8?B?")) && p < end) {
        const char *q = strstr(p + 10, "?=");
        size_t got;
        ck_assert_ptr_nonnull(q);
        ck_assert_int_le(q + 2 - p, 75); /* RFC 2047 word length */
        ck_assert_int_eq(sodium_base642bin((unsigned char *)out + used, outlen - used - 1, p + 10,
                                           (size_t)(q - p - 10), NULL, &got, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        /* each word decodes to whole UTF-8 characters: it never starts with a continuation */
        ck_assert((out[used] & 0xC0) != 0x80);
        used += got;
        p = q + 2;
    }
    out[used] = '\0';
}

START_TEST(email_headers_and_body)
{
    const char *subject = "Votre réparation chez Carnet Paris Opéra prendra plus de temps — désolé";
    const char *body = "Bonjour Zoé,\n\n.une ligne qui commence par un point\nÀ bientôt";
    char *m = outbox_format_email("Carnet <no-reply@carnet.test>", "zoe@example.test", subject,
                                  body, "outbox-7.abc@carnet.test", 1795000000LL);
    char decoded[512];
    const char *b, *line;
    unsigned char raw[512];
    size_t got, total = 0;

    ck_assert_ptr_nonnull(m);
    ck_assert_ptr_nonnull(strstr(m, "Date: Wed, 18 Nov 2026 11:06:40 +0000\r\n")); /* 1795000000 */
    ck_assert_ptr_nonnull(strstr(m, "\r\nFrom: Carnet <no-reply@carnet.test>\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "\r\nTo: <zoe@example.test>\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "\r\nMessage-ID: <outbox-7.abc@carnet.test>\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"));
    ck_assert_ptr_nonnull(strstr(m, "\r\nContent-Transfer-Encoding: base64\r\n"));
    decode_subject(m, decoded, sizeof(decoded));
    ck_assert_str_eq(decoded, subject);
    /* the body: base64 lines of at most 76 characters that decode to the text */
    b = strstr(m, "\r\n\r\n");
    ck_assert_ptr_nonnull(b);
    for (line = b + 4; *line;) {
        const char *eol = strstr(line, "\r\n");
        ck_assert_ptr_nonnull(eol);
        ck_assert_int_le(eol - line, 76);
        ck_assert_int_eq(sodium_base642bin(raw + total, sizeof(raw) - total - 1, line,
                                           (size_t)(eol - line), NULL, &got, NULL,
                                           sodium_base64_VARIANT_ORIGINAL),
                         0);
        total += got;
        line = eol + 2;
    }
    raw[total] = '\0';
    ck_assert_str_eq((char *)raw, body);
    free(m);
}
END_TEST

START_TEST(ascii_subject_stays_plain)
{
    char *m = outbox_format_email("a@b.test", "c@d.test", "Your booking is confirmed", "x",
                                  "id@b.test", 0);
    ck_assert_ptr_nonnull(strstr(m, "\r\nSubject: Your booking is confirmed\r\n"));
    free(m);
}
END_TEST

START_TEST(settings_are_checked)
{
    struct config c;
    char err[256];
    char *bad_tls[] = {"carnetd", "--smtp-starttls=maybe", NULL};
    char *bad_lease[] = {"carnetd", "--send-timeout=60", "--outbox-lease=30", NULL};
    char *ok[] = {"carnetd", NULL};

    ck_assert_int_eq(config_load(&c, 2, bad_tls, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "smtp-starttls"));
    config_free(&c);
    ck_assert_int_eq(config_load(&c, 3, bad_lease, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "send-timeout"));
    config_free(&c);
    ck_assert_int_eq(config_load(&c, 1, ok, err, sizeof(err)), 0);
    ck_assert_str_eq(c.smtp_url, "");
    ck_assert_str_eq(c.smtp_starttls, "try");
    ck_assert_int_eq(c.outbox_max_attempts, 5);
    config_free(&c);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("outbox");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    if (sodium_init() < 0)
        return EXIT_FAILURE;
    tcase_add_test(tc, email_headers_and_body);
    tcase_add_test(tc, ascii_subject_stays_plain);
    tcase_add_test(tc, settings_are_checked);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
