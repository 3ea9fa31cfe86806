/*
 * acceptpause: see acceptpause.h. Below http.c and metrics.c, whose listeners both use it, so
 * neither needs the other.
 */
#include "acceptpause.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/* Out of descriptors (EMFILE, ENFILE) the listening socket stays readable and libevent would
 * call accept() again at once, spinning the loop and logging each failure: instead new
 * connections wait in the kernel's backlog for ACCEPT_PAUSE_MS, and one line per
 * ACCEPT_LOG_EVERY_S says so. Any other accept error pauses the same way: none is worth a spin. */
#define ACCEPT_PAUSE_MS 100
#define ACCEPT_LOG_EVERY_S 10

struct accept_pause {
    struct evconnlistener *lev;
    struct event *timer; /* accepting again after a pause */
    const char *who;
    uint64_t pauses; /* since the last log line about them */
    int64_t logged_us;
};

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct accept_pause *p = arg;
    (void)fd;
    (void)what;
    evconnlistener_enable(p->lev);
}

/* A listener's error callback gets the argument evhttp gave the listener, not ours: the pause
 * is found by its listener. */
#define ACCEPT_LISTENERS_MAX 4
static struct accept_pause *accept_pauses[ACCEPT_LISTENERS_MAX];

static void accept_error(struct evconnlistener *lev, void *arg)
{
    struct accept_pause *p = NULL;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
    int64_t now = util_now_us();

    (void)arg;
    for (int i = 0; i < ACCEPT_LISTENERS_MAX && !p; i++)
        if (accept_pauses[i] && accept_pauses[i]->lev == lev)
            p = accept_pauses[i];
    evconnlistener_disable(lev);
    if (!p)
        return; /* not ours: cannot happen */
    evtimer_add(p->timer, &tv);
    p->pauses++;
    if (p->logged_us == 0 || now - p->logged_us >= ACCEPT_LOG_EVERY_S * 1000000LL) {
        log_warning("%s: cannot accept a connection (%s): pausing new connections for %d ms "
                    "(%llu pause(s) in the last %d s at most)",
                    p->who,
                    err == EMFILE   ? "out of file descriptors, EMFILE"
                    : err == ENFILE ? "system out of file descriptors, ENFILE"
                                    : evutil_socket_error_to_string(err),
                    ACCEPT_PAUSE_MS, (unsigned long long)p->pauses, ACCEPT_LOG_EVERY_S);
        p->pauses = 0;
        p->logged_us = now;
    }
}

struct accept_pause *accept_pause_new(struct event_base *base, struct evhttp_bound_socket *sock,
                                      const char *who)
{
    struct accept_pause *p = calloc(1, sizeof(*p));

    if (!p)
        return NULL;
    p->lev = evhttp_bound_socket_get_listener(sock);
    p->who = who;
    p->timer = evtimer_new(base, accept_resume, p);
    if (!p->timer) {
        free(p);
        return NULL;
    }
    for (int i = 0; i < ACCEPT_LISTENERS_MAX; i++) {
        if (!accept_pauses[i]) {
            accept_pauses[i] = p;
            evconnlistener_set_error_cb(p->lev, accept_error);
            return p;
        }
    }
    event_free(p->timer);
    free(p);
    return NULL;
}

void accept_pause_free(struct accept_pause *p)
{
    if (!p)
        return;
    for (int i = 0; i < ACCEPT_LISTENERS_MAX; i++)
        if (accept_pauses[i] == p)
            accept_pauses[i] = NULL;
    event_free(p->timer);
    free(p);
}
