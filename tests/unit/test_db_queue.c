/* Unit tests for the pool's wait queue (db.c): FIFO order, bound, deadlines, value copies. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

static void cb(const struct db_result *r, void *arg)
{
    (void)r;
    (void)arg;
}

static struct sql_stmt st = SQL_STMT("t", "select $1, $2", 2);

START_TEST(fifo_order_and_bound)
{
    struct db_queue q;
    struct db_job *a, *b, *c;
    db_queue_init(&q, 2);
    a = db_job_new(&st, NULL, cb, NULL, 10);
    b = db_job_new(&st, NULL, cb, NULL, 20);
    c = db_job_new(&st, NULL, cb, NULL, 30);
    ck_assert_int_eq(db_queue_push(&q, a), 0);
    ck_assert_int_eq(db_queue_push(&q, b), 0);
    ck_assert_int_eq(db_queue_push(&q, c), -1); /* full: the caller answers 503 */
    ck_assert_int_eq(q.len, 2);
    ck_assert_ptr_eq(db_queue_pop(&q), a);
    ck_assert_ptr_eq(db_queue_pop(&q), b);
    ck_assert_ptr_null(db_queue_pop(&q));
    ck_assert_int_eq(q.len, 0);
    ck_assert_int_eq(db_queue_push(&q, c), 0);
    ck_assert_ptr_eq(db_queue_pop(&q), c);
    db_job_free(a);
    db_job_free(b);
    db_job_free(c);
}
END_TEST

START_TEST(only_expired_heads_pop)
{
    struct db_queue q;
    struct db_job *a, *b;
    db_queue_init(&q, 10);
    a = db_job_new(&st, NULL, cb, NULL, 100);
    b = db_job_new(&st, NULL, cb, NULL, 200);
    db_queue_push(&q, a);
    db_queue_push(&q, b);
    ck_assert_ptr_null(db_queue_pop_expired(&q, 99));
    ck_assert_ptr_eq(db_queue_pop_expired(&q, 150), a);
    ck_assert_ptr_null(db_queue_pop_expired(&q, 150));
    ck_assert_ptr_eq(db_queue_pop_expired(&q, 200), b);
    ck_assert_int_eq(q.len, 0);
    ck_assert_ptr_null(q.tail);
    db_job_free(a);
    db_job_free(b);
}
END_TEST

START_TEST(zero_capacity_refuses_everything)
{
    struct db_queue q;
    struct db_job *a = db_job_new(&st, NULL, cb, NULL, 1);
    db_queue_init(&q, 0);
    ck_assert_int_eq(db_queue_push(&q, a), -1);
    db_job_free(a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("db_queue");
    TCase *tc = tcase_create("core");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, fifo_order_and_bound);
    tcase_add_test(tc, only_expired_heads_pop);
    tcase_add_test(tc, zero_capacity_refuses_everything);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
