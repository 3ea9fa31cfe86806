/* Unit tests for ics.c's writer: TEXT escaping, folding at 75 octets without splitting a UTF-8
 * sequence, and a whole calendar from the JSON ics_feed_read answers. */
#include <check.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ics.h"

/* The buffer's bytes as a NUL-terminated string (malloc'd); the buffer is drained. */
static char *take(struct evbuffer *b)
{
    size_t n = evbuffer_get_length(b);
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    evbuffer_remove(b, s, n);
    s[n] = '\0';
    return s;
}

START_TEST(escaping)
{
    struct evbuffer *b = evbuffer_new();
    char *s;
    ck_assert_int_eq(ics_escape(b, "a\\b;c,d\ne\r\tf: é"), 0);
    s = take(b);
    ck_assert_str_eq(s, "a\\\\b\\;c\\,d\\nef: é");
    free(s);
    ck_assert_int_eq(ics_escape(b, NULL), 0);
    ck_assert_uint_eq(evbuffer_get_length(b), 0);
    evbuffer_free(b);
}
END_TEST

START_TEST(short_line_is_not_folded)
{
    struct evbuffer *b = evbuffer_new();
    char line[ICS_LINE_OCTETS + 1], *s;
    memset(line, 'x', ICS_LINE_OCTETS);
    line[ICS_LINE_OCTETS] = '\0';
    ck_assert_int_eq(ics_fold(b, line, strlen(line)), 0);
    s = take(b);
    ck_assert_uint_eq(strlen(s), ICS_LINE_OCTETS + 2);
    ck_assert_str_eq(s + ICS_LINE_OCTETS, "\r\n");
    free(s);
    evbuffer_free(b);
}
END_TEST

/* Every physical line is at most 75 octets, none but the first starts other than with a space,
 * and unfolding gives the line back. */
static void check_folded(const char *s, const char *line)
{
    char *copy = strdup(s), *p = copy, *unfolded = calloc(1, strlen(s) + 1);
    int first = 1;
    ck_assert_ptr_nonnull(copy);
    ck_assert_ptr_nonnull(unfolded);
    while (*p) {
        char *end = strstr(p, "\r\n");
        ck_assert_ptr_nonnull(end);
        ck_assert_int_le(end - p, ICS_LINE_OCTETS);
        if (!first)
            ck_assert_int_eq(p[0], ' ');
        /* a continuation never starts inside a UTF-8 sequence */
        ck_assert_int_ne(((unsigned char)p[first ? 0 : 1]) & 0xC0, 0x80);
        strncat(unfolded, p + (first ? 0 : 1), (size_t)(end - p) - (first ? 0 : 1));
        first = 0;
        p = end + 2;
    }
    ck_assert_str_eq(unfolded, line);
    free(copy);
    free(unfolded);
}

START_TEST(long_lines_fold)
{
    struct evbuffer *b = evbuffer_new();
    char ascii[400], utf8[400] = "SUMMARY:", *s;
    memset(ascii, 'a', sizeof(ascii) - 1);
    ascii[sizeof(ascii) - 1] = '\0';
    ck_assert_int_eq(ics_fold(b, ascii, strlen(ascii)), 0);
    s = take(b);
    check_folded(s, ascii);
    free(s);
    /* two-byte letters from an odd offset: a cut at 75 would fall inside one */
    while (strlen(utf8) + 2 < sizeof(utf8) - 1)
        strcat(utf8, "é");
    ck_assert_int_eq(ics_fold(b, utf8, strlen(utf8)), 0);
    s = take(b);
    check_folded(s, utf8);
    free(s);
    evbuffer_free(b);
}
END_TEST

START_TEST(whole_calendar)
{
    const char *json =
        "{\"name\": \"Paris, Opéra\", \"timezone\": \"Europe/Paris\","
        " \"zones\": [{\"kind\": \"DAYLIGHT\", \"start\": \"20270328T020000\","
        "  \"offset_from\": \"+0100\", \"offset_to\": \"+0200\", \"name\": \"CEST\"}],"
        " \"events\": [{\"uid\": \"appointment-7\", \"start\": \"20270328T100000\","
        "  \"end\": \"20271031T013000Z\", \"stamp\": \"20270301T080000Z\", \"created\": null,"
        "  \"sequence\": 2, \"summary\": \"Battery · K3M7PX · Z.\", \"description\": \"a;b\","
        "  \"cancelled\": true, \"transparent\": false}]}";
    json_t *feed = json_loads(json, 0, NULL);
    struct evbuffer *b = evbuffer_new();
    char *s;

    ck_assert_ptr_nonnull(feed);
    ck_assert_int_eq(ics_render(b, feed, "carnet.example"), 0);
    s = take(b);
    ck_assert(strncmp(s, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:", 37) == 0);
    ck_assert_ptr_nonnull(strstr(s, "X-WR-CALNAME:Paris\\, Opéra\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "BEGIN:VTIMEZONE\r\nTZID:Europe/Paris\r\nBEGIN:DAYLIGHT\r\n"
                                    "DTSTART:20270328T020000\r\nTZOFFSETFROM:+0100\r\n"
                                    "TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nEND:DAYLIGHT\r\n"
                                    "END:VTIMEZONE\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "UID:appointment-7@carnet.example\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "SEQUENCE:2\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "DTSTART;TZID=Europe/Paris:20270328T100000\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "DTEND:20271031T013000Z\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "DESCRIPTION:a\\;b\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "STATUS:CANCELLED\r\n"));
    ck_assert_ptr_null(strstr(s, "CREATED"));
    ck_assert(strcmp(s + strlen(s) - 15, "END:VCALENDAR\r\n") == 0);
    free(s);

    /* A zone name that could break out of the TZID parameter is refused. */
    json_object_set_new(feed, "timezone", json_string("Europe/Paris:X"));
    ck_assert_int_eq(ics_render(b, feed, "carnet.example"), -1);
    json_object_set_new(feed, "timezone", json_string("Europe/Paris"));
    json_object_del(feed, "zones");
    evbuffer_drain(b, evbuffer_get_length(b));
    ck_assert_int_eq(ics_render(b, feed, "carnet.example"), -1);
    json_decref(feed);
    evbuffer_free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ics");
    TCase *tc = tcase_create("writer");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, escaping);
    tcase_add_test(tc, short_line_is_not_folded);
    tcase_add_test(tc, long_lines_fold);
    tcase_add_test(tc, whole_calendar);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
