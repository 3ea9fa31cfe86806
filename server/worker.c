/*
 * worker: threads for CPU-heavy work. Jobs go to the threads through a mutex-guarded list; done
 * jobs come back through a second list and a pipe whose read end is an event on the loop, so the
 * `done` callbacks run on the loop thread and never race with it.
 */
#include "worker.h"

#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"

struct wjob {
    struct wjob *next;
    worker_fn work, done;
    void *arg;
};

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct wjob *todo_head, *todo_tail, *done_head, *done_tail;
    pthread_t *threads;
    int nthreads;
    bool stopping;
    int pipefd[2];
    struct event *ev;
} w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .pipefd = {-1, -1}};

static void push(struct wjob **head, struct wjob **tail, struct wjob *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void *thread_main(void *unused)
{
    (void)unused;
    pthread_mutex_lock(&w.lock);
    for (;;) {
        struct wjob *j;
        while (!w.todo_head && !w.stopping)
            pthread_cond_wait(&w.cond, &w.lock);
        if (w.stopping && !w.todo_head)
            break;
        j = w.todo_head;
        w.todo_head = j->next;
        if (!w.todo_head)
            w.todo_tail = NULL;
        pthread_mutex_unlock(&w.lock);
        j->work(j->arg);
        pthread_mutex_lock(&w.lock);
        push(&w.done_head, &w.done_tail, j);
        /* One byte wakes the loop; a full pipe already means it will wake. */
        if (write(w.pipefd[1], "x", 1) < 0) {
        }
    }
    pthread_mutex_unlock(&w.lock);
    return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *unused)
{
    char buf[256];
    struct wjob *list;
    (void)what;
    (void)unused;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    pthread_mutex_lock(&w.lock);
    list = w.done_head;
    w.done_head = w.done_tail = NULL;
    pthread_mutex_unlock(&w.lock);
    while (list) {
        struct wjob *next = list->next;
        list->done(list->arg);
        free(list);
        list = next;
    }
}

int worker_init(struct event_base *base, int nthreads)
{
    if (pipe(w.pipefd) < 0)
        return -1;
    for (int i = 0; i < 2; i++)
        fcntl(w.pipefd[i], F_SETFL, fcntl(w.pipefd[i], F_GETFL) | O_NONBLOCK);
    w.ev = event_new(base, w.pipefd[0], EV_READ | EV_PERSIST, on_done, NULL);
    if (!w.ev || event_add(w.ev, NULL) < 0)
        return -1;
    w.threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!w.threads)
        return -1;
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&w.threads[i], NULL, thread_main, NULL) != 0) {
            log_error("worker: cannot start thread %d", i);
            return -1;
        }
        w.nthreads++;
    }
    return 0;
}

int worker_submit(worker_fn work, worker_fn done, void *arg)
{
    struct wjob *j = calloc(1, sizeof(*j));
    if (!j)
        return -1;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&w.lock);
    push(&w.todo_head, &w.todo_tail, j);
    pthread_cond_signal(&w.cond);
    pthread_mutex_unlock(&w.lock);
    return 0;
}

void worker_shutdown(void)
{
    pthread_mutex_lock(&w.lock);
    w.stopping = true;
    pthread_cond_broadcast(&w.cond);
    pthread_mutex_unlock(&w.lock);
    for (int i = 0; i < w.nthreads; i++)
        pthread_join(w.threads[i], NULL);
    /* Jobs finished after the loop stopped still own memory: run their done callbacks now. */
    if (w.ev)
        on_done(w.pipefd[0], EV_READ, NULL);
    free(w.threads);
    w.threads = NULL;
    w.nthreads = 0;
    if (w.ev)
        event_free(w.ev);
    w.ev = NULL;
    for (int i = 0; i < 2; i++)
        if (w.pipefd[i] >= 0)
            close(w.pipefd[i]);
    w.pipefd[0] = w.pipefd[1] = -1;
}
