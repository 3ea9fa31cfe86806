/*
 * worker: thread pools for work that must not run on the loop. Jobs go to a pool's threads
 * through a mutex-guarded list; done jobs come back through a second list and a pipe whose read
 * end is an event on the loop, so the `done` callbacks run on the loop thread and never race with
 * it. Each kind of work has its own pool (its own threads, queue and pipe): a mail server that
 * stalls for minutes fills the I/O pool only, and sign-ins keep their CPU threads; a webhook
 * receiver that hangs fills the webhook pool only, and customer messages keep theirs.
 */
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "log.h"

struct wjob {
    struct wjob *next;
    worker_fn work, done;
    void *arg;
};

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct wjob *wait_head, *wait_tail, *done_head, *done_tail;
    pthread_t *threads;
    int nthreads;
    int waiting, busy; /* jobs in wait_head's list, jobs a thread is running (for /metrics) */
    bool stopping;
    int pipefd[2];
    struct event *ev;
    int nice; /* the threads' scheduling priority (0: the loop's) */
};

static struct pool pools[WORKER_KINDS] = {
    /* Sign-ins' argon2id takes a core for tens of ms each: at nice 10 (about a tenth of the
     * loop's CPU share when both want it) a burst of them yields to the loop and the database,
     * so other requests keep their latency, and still uses every core when nothing else runs. */
    [WORKER_CPU] = {.lock = PTHREAD_MUTEX_INITIALIZER,
                    .cond = PTHREAD_COND_INITIALIZER,
                    .pipefd = {-1, -1},
                    .nice = WORKER_CPU_NICE},
    [WORKER_IO] = {.lock = PTHREAD_MUTEX_INITIALIZER,
                   .cond = PTHREAD_COND_INITIALIZER,
                   .pipefd = {-1, -1}},
    [WORKER_WEBHOOK] = {.lock = PTHREAD_MUTEX_INITIALIZER,
                        .cond = PTHREAD_COND_INITIALIZER,
                        .pipefd = {-1, -1}},
    [WORKER_RESOLVE] = {.lock = PTHREAD_MUTEX_INITIALIZER,
                        .cond = PTHREAD_COND_INITIALIZER,
                        .pipefd = {-1, -1}},
};

static void push(struct wjob **head, struct wjob **tail, struct wjob *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static void *thread_main(void *arg)
{
    struct pool *p = arg;
    /* On Linux a thread is a task of its own: this lowers this thread only, not the loop. */
    if (p->nice && setpriority(PRIO_PROCESS, (id_t)gettid(), p->nice) < 0)
        log_warning("worker: cannot lower a thread's priority: %s", strerror(errno));
    pthread_mutex_lock(&p->lock);
    for (;;) {
        struct wjob *j;
        while (!p->wait_head && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->stopping && !p->wait_head)
            break;
        j = p->wait_head;
        p->wait_head = j->next;
        if (!p->wait_head)
            p->wait_tail = NULL;
        p->waiting--;
        p->busy++;
        pthread_mutex_unlock(&p->lock);
        j->work(j->arg);
        pthread_mutex_lock(&p->lock);
        p->busy--;
        push(&p->done_head, &p->done_tail, j);
        /* One byte wakes the loop; a full pipe already means it will wake. */
        if (write(p->pipefd[1], "x", 1) < 0) {
        }
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    struct pool *p = arg;
    char buf[256];
    struct wjob *list;
    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    pthread_mutex_lock(&p->lock);
    list = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->lock);
    while (list) {
        struct wjob *next = list->next;
        list->done(list->arg);
        free(list);
        list = next;
    }
}

static int pool_start(struct event_base *base, struct pool *p, int nthreads)
{
    if (pipe(p->pipefd) < 0)
        return -1;
    for (int i = 0; i < 2; i++)
        fcntl(p->pipefd[i], F_SETFL, fcntl(p->pipefd[i], F_GETFL) | O_NONBLOCK);
    p->ev = event_new(base, p->pipefd[0], EV_READ | EV_PERSIST, on_done, p);
    if (!p->ev || event_add(p->ev, NULL) < 0)
        return -1;
    p->threads = calloc((size_t)nthreads, sizeof(pthread_t));
    if (!p->threads)
        return -1;
    for (int i = 0; i < nthreads; i++) {
        if (pthread_create(&p->threads[i], NULL, thread_main, p) != 0) {
            log_error("worker: cannot start thread %d", i);
            return -1;
        }
        p->nthreads++;
    }
    return 0;
}

int worker_init(struct event_base *base, int cpu_threads, int io_threads, int webhook_threads)
{
    return pool_start(base, &pools[WORKER_CPU], cpu_threads) < 0 ||
                   pool_start(base, &pools[WORKER_IO], io_threads) < 0 ||
                   pool_start(base, &pools[WORKER_WEBHOOK], webhook_threads) < 0 ||
                   pool_start(base, &pools[WORKER_RESOLVE], webhook_threads) < 0
               ? -1
               : 0;
}

int worker_submit(enum worker_kind kind, worker_fn work, worker_fn done, void *arg)
{
    struct pool *p = &pools[kind];
    struct wjob *j = calloc(1, sizeof(*j));
    if (!j)
        return -1;
    j->work = work;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&p->lock);
    push(&p->wait_head, &p->wait_tail, j);
    p->waiting++;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    return 0;
}

void worker_stats(enum worker_kind kind, struct worker_stats *out)
{
    struct pool *p = &pools[kind];
    pthread_mutex_lock(&p->lock);
    out->threads = p->nthreads;
    out->waiting = p->waiting;
    out->busy = p->busy;
    pthread_mutex_unlock(&p->lock);
}

const char *worker_kind_name(enum worker_kind kind)
{
    static const char *const names[WORKER_KINDS] = {
        [WORKER_CPU] = "cpu",
        [WORKER_IO] = "io",
        [WORKER_WEBHOOK] = "webhook",
        [WORKER_RESOLVE] = "resolve",
    };
    return kind < WORKER_KINDS ? names[kind] : "?";
}

static void pool_stop(struct pool *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    /* Jobs finished after the loop stopped still own memory: run their done callbacks now. */
    if (p->ev)
        on_done(p->pipefd[0], EV_READ, p);
    free(p->threads);
    p->threads = NULL;
    p->nthreads = 0;
    if (p->ev)
        event_free(p->ev);
    p->ev = NULL;
    for (int i = 0; i < 2; i++)
        if (p->pipefd[i] >= 0)
            close(p->pipefd[i]);
    p->pipefd[0] = p->pipefd[1] = -1;
}

void worker_shutdown(void)
{
    for (int k = 0; k < WORKER_KINDS; k++)
        pool_stop(&pools[k]);
}
