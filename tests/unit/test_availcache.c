/* Unit tests for the month view's cache (availcache.c): hits and misses, expiry with the clock,
 * drops by day range and by store, the byte bound, fills refused after a drop, and the assembled
 * replies kept whole. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "availcache.h"

static const char *get(int64_t store, int64_t service, int32_t day, double now, bool *found)
{
    size_t len;
    double expires;
    return availcache_get(store, service, day, now, &len, found, &expires);
}

static void put(int64_t store, int64_t service, int32_t day, const char *body, double expires)
{
    availcache_put(store, service, day, body, body ? strlen(body) : 0, expires,
                   availcache_stamp(store));
}

START_TEST(hit_miss_and_empty_days)
{
    bool found;
    ck_assert_int_eq(availcache_init(1 << 20), 0);
    ck_assert_ptr_null(get(1, 2, 100, 0, &found));
    ck_assert(!found);
    put(1, 2, 100, "{\"date\" : \"x\"}", 0);
    put(1, 2, 101, NULL, 0); /* no free slot that day: cached as such */
    ck_assert_str_eq(get(1, 2, 100, 0, &found), "{\"date\" : \"x\"}");
    ck_assert(found);
    ck_assert_ptr_null(get(1, 2, 101, 0, &found));
    ck_assert(found);
    ck_assert_ptr_null(get(1, 3, 100, 0, &found)); /* another service */
    ck_assert(!found);
    put(1, 2, 100, "y", 0); /* replaced */
    ck_assert_str_eq(get(1, 2, 100, 0, &found), "y");
    availcache_free();
    ck_assert(!availcache_on());
}
END_TEST

START_TEST(a_day_expires_when_its_first_slot_passes)
{
    bool found;
    availcache_init(1 << 20);
    put(1, 2, 100, "today", 1000.0);
    ck_assert_str_eq(get(1, 2, 100, 999.9, &found), "today");
    get(1, 2, 100, 1000.0, &found);
    ck_assert(!found);
    availcache_free();
}
END_TEST

START_TEST(drops_by_range_store_and_all)
{
    bool found;
    availcache_init(1 << 20);
    for (int32_t d = 100; d < 110; d++) {
        put(1, 2, d, "a", 0);
        put(7, 2, d, "b", 0);
    }
    put(1, 2, AVAILCACHE_HEAD_DAY, "\"Europe/Paris\"", 0);
    availcache_drop(1, 103, 105, false);
    get(1, 2, 102, 0, &found);
    ck_assert(found);
    for (int32_t d = 103; d <= 105; d++) {
        get(1, 2, d, 0, &found);
        ck_assert(!found);
    }
    get(1, 2, 106, 0, &found);
    ck_assert(found);
    get(1, 2, AVAILCACHE_HEAD_DAY, 0, &found); /* a range keeps the time zone */
    ck_assert(found);
    get(7, 2, 104, 0, &found); /* another store */
    ck_assert(found);
    availcache_drop(1, INT32_MIN, INT32_MAX, true);
    get(1, 2, AVAILCACHE_HEAD_DAY, 0, &found);
    ck_assert(!found);
    get(1, 2, 100, 0, &found);
    ck_assert(!found);
    get(7, 2, 100, 0, &found);
    ck_assert(found);
    availcache_clear();
    get(7, 2, 100, 0, &found);
    ck_assert(!found);
    availcache_free();
}
END_TEST

START_TEST(a_fill_that_started_before_a_drop_is_not_kept)
{
    bool found;
    availcache_init(1 << 20);
    uint64_t stamp = availcache_stamp(1);
    availcache_drop(1, 100, 100, false); /* a change committed while the query ran */
    availcache_put(1, 2, 100, "old", 3, 0, stamp);
    get(1, 2, 100, 0, &found);
    ck_assert(!found);
    stamp = availcache_stamp(1);
    availcache_clear(); /* subscribed again: anything may have changed */
    availcache_put(1, 2, 100, "old", 3, 0, stamp);
    get(1, 2, 100, 0, &found);
    ck_assert(!found);
    availcache_free();
}
END_TEST

START_TEST(the_byte_bound_drops_the_least_recently_used)
{
    char body[1000];
    struct availcache_stats st;
    bool found;
    memset(body, 'x', sizeof body - 1);
    body[sizeof body - 1] = '\0';
    availcache_init(10 * 1024);
    for (int32_t d = 0; d < 100; d++) {
        put(1, 2, d, body, 0);
        get(1, 2, 0, 0, &found); /* day 0 stays the most recently used */
        ck_assert(found);
    }
    availcache_stats(&st);
    ck_assert_uint_le(st.bytes, 10 * 1024);
    ck_assert_uint_ge(st.entries, 5);
    get(1, 2, 99, 0, &found);
    ck_assert(found);
    get(1, 2, 50, 0, &found);
    ck_assert(!found);
    availcache_free();
    /* Off: nothing is kept. */
    availcache_init(0);
    put(1, 2, 0, "a", 0);
    get(1, 2, 0, 0, &found);
    ck_assert(!found);
}
END_TEST

static struct availcache_body *body_of(const char *text)
{
    struct availcache_body *b = availcache_body_new(strlen(text));
    ck_assert_ptr_nonnull(b);
    memcpy(b->data, text, b->len);
    return b;
}

START_TEST(a_reply_is_kept_until_a_drop_of_its_store_or_its_expiry)
{
    struct availcache_body *b = body_of("{\"days\" : []}"), *got;
    struct availcache_stats st;
    uint64_t hits0;

    availcache_init(1 << 20);
    availcache_stats(&st); /* the counters run on across inits (and tests, without fork) */
    hits0 = st.hits;
    availcache_reply_put(1, 2, 100, 127, b, 5000.0, availcache_stamp(1));
    ck_assert_uint_eq(b->refs, 2); /* the cache's and ours */
    got = availcache_reply_get(1, 2, 100, 127, 4999.0);
    ck_assert_ptr_eq(got, b);
    availcache_stats(&st);
    ck_assert_uint_eq(st.hits - hits0, 29); /* 28 days and the time zone */
    ck_assert_ptr_null(availcache_reply_get(1, 2, 100, 126, 0)); /* another range */
    ck_assert_ptr_null(availcache_reply_get(1, 3, 100, 127, 0)); /* another service */
    ck_assert_ptr_null(availcache_reply_get(1, 2, 100, 127, 5000.0)); /* expired */
    ck_assert_uint_eq(b->refs, 1);

    availcache_reply_put(1, 2, 100, 127, b, 0, availcache_stamp(1));
    availcache_drop(9, 100, 100, false); /* another store */
    ck_assert_ptr_eq(availcache_reply_get(1, 2, 100, 127, 0), b);
    availcache_drop(1, 300, 300, false); /* any day of the store, even outside the range */
    ck_assert_ptr_null(availcache_reply_get(1, 2, 100, 127, 0));
    ck_assert_uint_eq(b->refs, 1);

    /* Assembled from rows of a query that started before a drop: not kept. */
    uint64_t stamp = availcache_stamp(1);
    availcache_drop(1, 100, 100, false);
    availcache_reply_put(1, 2, 100, 127, b, 0, stamp);
    ck_assert_ptr_null(availcache_reply_get(1, 2, 100, 127, 0));

    /* A body still being sent outlives its entry. */
    availcache_reply_put(1, 2, 100, 127, b, 0, availcache_stamp(1));
    availcache_body_hold(b); /* an evbuffer's reference */
    availcache_clear();
    ck_assert_ptr_null(availcache_reply_get(1, 2, 100, 127, 0));
    ck_assert_uint_eq(b->refs, 2);
    availcache_body_release(b); /* sent */
    availcache_stats(&st);
    ck_assert_uint_eq(st.bytes, 0);
    availcache_free();
    ck_assert_uint_eq(b->refs, 1);
    availcache_body_release(b);
}
END_TEST

START_TEST(replies_take_a_quarter_of_the_bound_at_most)
{
    char big[400];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct availcache_body *b = body_of(big);

    availcache_init(1000); /* a quarter: 250 bytes, less than the body */
    availcache_reply_put(1, 2, 100, 127, b, 0, availcache_stamp(1));
    ck_assert_ptr_null(availcache_reply_get(1, 2, 100, 127, 0));
    ck_assert_uint_eq(b->refs, 1);
    availcache_free();
    availcache_body_release(b);
}
END_TEST

START_TEST(parse_day_is_strict)
{
    int32_t d;
    ck_assert(availcache_parse_day("1970-01-01", &d) && d == 0);
    ck_assert(availcache_parse_day("2024-02-29", &d) && d == 19782);
    ck_assert(availcache_parse_day("2000-03-01", &d) && d == 11017);
    ck_assert(!availcache_parse_day("2023-02-29", &d));
    ck_assert(!availcache_parse_day("1900-02-29", &d));
    ck_assert(!availcache_parse_day("2027-13-01", &d));
    ck_assert(!availcache_parse_day("2027-1-05", &d));
    ck_assert(!availcache_parse_day("2027-01-05 ", &d));
    ck_assert(!availcache_parse_day("1899-12-31", &d));
    ck_assert(!availcache_parse_day("2027-04-31", &d));
    ck_assert(!availcache_parse_day(NULL, &d));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("availcache");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, hit_miss_and_empty_days);
    tcase_add_test(tc, a_day_expires_when_its_first_slot_passes);
    tcase_add_test(tc, drops_by_range_store_and_all);
    tcase_add_test(tc, a_fill_that_started_before_a_drop_is_not_kept);
    tcase_add_test(tc, the_byte_bound_drops_the_least_recently_used);
    tcase_add_test(tc, a_reply_is_kept_until_a_drop_of_its_store_or_its_expiry);
    tcase_add_test(tc, replies_take_a_quarter_of_the_bound_at_most);
    tcase_add_test(tc, parse_day_is_strict);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
