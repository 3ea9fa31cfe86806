/*
 * The request's life in http.c, on a real loop and real sockets: a handler that replies and then
 * reads its headers, query, body and params; a second reply; a reply from a later callback; a
 * handler that forgets to reply. Run under ASan (make unit-asan) a use after free is a failure.
 */
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <string.h>

#include "config.h"
#include "http.h"

static struct event_base *base;
static int answered_status;
static char answered_body[512];
static char seen[256]; /* what the handler read after replying */

static void late_reply(evutil_socket_t fd, short what, void *arg)
{
    struct req *r = arg;
    (void)fd;
    (void)what;
    http_reply_json(r, 200, "{\"late\":true}", 13);
    /* Read after the reply, from a callback: still ours until the release below. */
    snprintf(seen, sizeof(seen), "%s|%s", http_header(r, "X-Test") ? http_header(r, "X-Test") : "-",
             r->body ? r->body : "-");
    http_req_release(r);
}

static void handler(struct req *r)
{
    if (strcmp(r->path, "/early") == 0) {
        http_reply_error(r, 404, "not_found", "x", "no such thing");
        /* Everything a handler might still touch after an early reply. */
        snprintf(seen, sizeof(seen), "%s|%s|%s|%zu", http_header(r, "X-Test"),
                 http_query(r, "q") ? http_query(r, "q") : "-", r->body, r->body_len);
        http_reply_json(r, 200, "{}", 2); /* a second reply: logged and ignored */
        http_add_header(r, "X-After", "1");
        return;
    }
    if (strcmp(r->path, "/late") == 0) {
        struct timeval tv = {0, 20000};
        http_req_hold(r);
        event_base_once(base, -1, EV_TIMEOUT, late_reply, r, &tv);
        return;
    }
    /* "/forgot": returns without a reply; the transport must still answer. */
}

static void on_response(struct evhttp_request *req, void *arg)
{
    (void)arg;
    answered_status = req ? evhttp_request_get_response_code(req) : -1;
    answered_body[0] = '\0';
    if (req && answered_status > 0) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(b);
        if (n >= sizeof(answered_body))
            n = sizeof(answered_body) - 1;
        evbuffer_copyout(b, answered_body, n);
        answered_body[n] = '\0';
    }
    event_base_loopexit(base, NULL);
}

static void ask(const char *method_path, const char *body)
{
    struct evhttp_connection *c =
        evhttp_connection_base_new(base, NULL, "127.0.0.1", (ev_uint16_t)http_bound_port());
    struct evhttp_request *q = evhttp_request_new(on_response, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(q), "Host", "localhost");
    evhttp_add_header(evhttp_request_get_output_headers(q), "X-Test", "hello");
    if (body)
        evbuffer_add(evhttp_request_get_output_buffer(q), body, strlen(body));
    evhttp_make_request(c, q, body ? EVHTTP_REQ_POST : EVHTTP_REQ_GET, method_path);
    answered_status = 0;
    event_base_dispatch(base);
    evhttp_connection_free(c);
}

static void setup(void)
{
    char err[256];
    char *argv[] = {"test_http", NULL};
    ck_assert_int_eq(config_load(&config, 1, argv, err, sizeof(err)), 0);
    base = event_base_new();
    ck_assert_int_eq(http_init(base, "127.0.0.1", 0, handler), 0);
    seen[0] = '\0';
}

static void teardown(void)
{
    http_free();
    event_base_free(base);
    config_free(&config);
}

START_TEST(reading_after_an_early_reply_is_safe)
{
    for (int i = 0; i < 50; i++) {
        ask("/early?q=abc", "{\"a\":1}");
        ck_assert_int_eq(answered_status, 404);
        ck_assert(strstr(answered_body, "\"not_found\"") != NULL);
        ck_assert_str_eq(seen, "hello|abc|{\"a\":1}|7");
    }
}
END_TEST

START_TEST(a_reply_from_a_later_callback)
{
    ask("/late", "body");
    ck_assert_int_eq(answered_status, 200);
    ck_assert_str_eq(answered_body, "{\"late\":true}");
    ck_assert_str_eq(seen, "hello|body");
}
END_TEST

START_TEST(a_forgotten_reply_is_still_an_answer)
{
    ask("/forgot", NULL);
    ck_assert_int_eq(answered_status, 500);
    ck_assert(strstr(answered_body, "\"internal\"") != NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("life");
    SRunner *sr;
    int failed;

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, reading_after_an_early_reply_is_safe);
    tcase_add_test(tc, a_reply_from_a_later_callback);
    tcase_add_test(tc, a_forgotten_reply_is_still_an_answer);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
