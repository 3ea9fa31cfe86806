/* The load generator of `make bench` (tests/bench/case_chain_day.sh, case_sse_storm.sh): one
 * libevent loop holding thousands of HTTP streams, which Python threads cannot on 2 cores.
 *
 *   loadgen chain PORT FILE SECONDS RUN   the chain day: SSE streams of staff tablets, boards and
 *                                         line pages, then bookings, check-ins, calls and
 *                                         diagnoses at fixed rates
 *   loadgen storm PORT CLIENTS STORES PIDS   CLIENTS board streams opened at once over the
 *                                         comma-separated STORES; PIDS (comma-separated) are
 *                                         carnetd's, for the RSS per idle client
 *
 * FILE has one line per fact: "T store token" (a staff bearer token of that store), "A store id"
 * (a booking to check in), "D store serial" (a device to diagnose), "V store service".
 * Results are "key=value" lines on stdout; the case scripts turn them into goal lines.
 *
 * Requests are HTTP/1.1 with "Connection: close" (one connection each: the latency includes the
 * connect, as a phone's first request does); streams count "data:" lines as events. */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum kind { K_BOOK, K_CHECKIN, K_CALL, K_DIAG, K_JOIN, K_STAFF_SSE, K_BOARD_SSE, K_LINE_SSE, K_N };
static const char *kind_name[K_N] = {"booking",   "checkin",   "call",      "diagnosis",
                                     "line_join", "staff_sse", "board_sse", "line_sse"};

struct conn {
    struct bufferevent *bev;
    enum kind kind;
    double t0;
    int status;
    bool stream, headers_done, got_body, closed;
    int mpos;              /* how much of "data:" the current line has matched, -1 when not */
    double first_after;    /* storm: when the first event after the trigger arrived, 0 before */
    struct evbuffer *body; /* one-shot requests: the whole response */
};

struct stats {
    double *lat;
    size_t n, cap;
    long errors, opened, failed;
    long status_count[6]; /* by first digit */
};

static struct event_base *base;
static struct sockaddr_in addr;
static struct stats st[K_N];
static long sse_events, sse_open, sse_503;
static int outstanding; /* one-shot requests in flight */
static double trigger_at;
static bool counting_after_trigger;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void add_lat(struct stats *s, double ms)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->lat = realloc(s->lat, s->cap * sizeof(double));
        if (!s->lat)
            abort();
    }
    s->lat[s->n++] = ms;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * n);
    if (i >= n)
        i = n - 1;
    return v[i];
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        fprintf(stderr, "loadgen: %ld descriptors\n", (long)rl.rlim_cur);
}

/* ---- the chain day's hooks, set below ---- */
static void on_joined(struct conn *c);

static void conn_free(struct conn *c)
{
    if (c->bev)
        bufferevent_free(c->bev);
    if (c->body)
        evbuffer_free(c->body);
    free(c);
}

/* A stream's record outlives its connection: the storm reads it after the end. */
static void stream_close(struct conn *c)
{
    if (c->got_body)
        sse_open--;
    bufferevent_free(c->bev);
    c->bev = NULL;
    c->closed = true;
}

static void oneshot_done(struct conn *c, bool ok)
{
    struct stats *s = &st[c->kind];
    if (ok && c->status >= 100)
        s->status_count[c->status / 100]++;
    if (!ok || c->status < 200 || c->status > 299) {
        s->errors++;
        if (s->errors <= 3) {
            size_t n = evbuffer_get_length(c->body);
            char *p = (char *)evbuffer_pullup(c->body, n > 300 ? 300 : (ssize_t)n);
            fprintf(stderr, "loadgen: %s failed (%d): %.*s\n", kind_name[c->kind], c->status,
                    (int)(n > 300 ? 300 : n), p ? p : "");
        }
    } else {
        add_lat(s, now_ms() - c->t0);
        if (c->kind == K_JOIN)
            on_joined(c);
    }
    outstanding--;
    conn_free(c);
}

static void on_event_line(struct conn *c)
{
    if (counting_after_trigger)
        sse_events++;
    if (trigger_at > 0 && c->first_after == 0)
        c->first_after = now_ms() - trigger_at;
}

static void scan_stream(struct conn *c, const unsigned char *p, size_t n)
{
    static const char want[] = "data:";
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            c->mpos = 0;
            continue;
        }
        if (c->mpos < 0)
            continue;
        if (p[i] == (unsigned char)want[c->mpos]) {
            if (++c->mpos == 5) {
                on_event_line(c);
                c->mpos = -1;
            }
        } else {
            c->mpos = -1;
        }
    }
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    if (!c->stream) {
        evbuffer_add_buffer(c->body, in);
        return;
    }
    if (!c->headers_done) {
        struct evbuffer_ptr e = evbuffer_search(in, "\r\n\r\n", 4, NULL);
        if (e.pos < 0)
            return;
        char line[16] = {0};
        evbuffer_copyout(in, line, sizeof(line) - 1);
        c->status = atoi(line + 9);
        evbuffer_drain(in, e.pos + 4);
        c->headers_done = true;
        st[c->kind].status_count[c->status / 100 % 6]++;
        if (c->status != 200) {
            st[c->kind].failed++;
            sse_503 += c->status == 503;
            stream_close(c);
            return;
        }
    }
    size_t n = evbuffer_get_length(in);
    if (!n)
        return;
    if (!c->got_body) {
        c->got_body = true;
        st[c->kind].opened++;
        sse_open++;
        add_lat(&st[c->kind], now_ms() - c->t0);
    }
    struct evbuffer_iovec v[8];
    int k = evbuffer_peek(in, -1, NULL, v, 8);
    for (int i = 0; i < k && i < 8; i++)
        scan_stream(c, v[i].iov_base, v[i].iov_len);
    evbuffer_drain(in, n);
}

static void on_bev_event(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if (!c->stream) {
        if (what & BEV_EVENT_EOF) {
            evbuffer_add_buffer(c->body, bufferevent_get_input(c->bev));
            char line[16] = {0};
            evbuffer_copyout(c->body, line, sizeof(line) - 1);
            c->status = strncmp(line, "HTTP/1.", 7) == 0 ? atoi(line + 9) : 0;
            oneshot_done(c, true);
        } else {
            oneshot_done(c, false);
        }
        return;
    }
    /* a stream that ends before its headers is a failure */
    if (!c->headers_done)
        st[c->kind].failed++;
    stream_close(c);
}

static struct conn *start(enum kind kind, bool stream, const char *method, const char *path,
                          const char *token, const char *json)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->kind = kind;
    c->stream = stream;
    c->t0 = now_ms();
    c->body = evbuffer_new();
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_setcb(c->bev, on_read, NULL, on_bev_event, c);
    bufferevent_enable(c->bev, EV_READ);
    struct evbuffer *out = bufferevent_get_output(c->bev);
    evbuffer_add_printf(out, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n", method, path);
    if (token)
        evbuffer_add_printf(out, "Authorization: Bearer %s\r\n", token);
    if (stream)
        evbuffer_add_printf(out, "Accept: text/event-stream\r\n\r\n");
    else if (json)
        evbuffer_add_printf(out,
                            "Connection: close\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n%s",
                            strlen(json), json);
    else
        evbuffer_add_printf(out, "Connection: close\r\n\r\n");
    if (!stream)
        outstanding++;
    if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        /* the callback has not run: count the failure here */
        if (stream) {
            st[kind].failed++;
            stream_close(c);
            return c;
        } else {
            oneshot_done(c, false);
        }
        return NULL;
    }
    return c;
}

/* ---------------- the chain day ---------------- */

#define STAFF_PER_STORE 8
struct store {
    long id, service;
    char *tokens[STAFF_PER_STORE];
    int ntokens;
    char serial[200];
    long *appts;
    int nappts, next_appt;
};
static struct store *stores;
static int nstores;
static int run_no;
static long joins_left, joins_next;
static long n_book, n_checkin, n_call, n_diag;
static double phase_end, acc_book, acc_checkin, acc_call, acc_diag;
static struct event *tick;

/* CPU seconds of the processes named in the environment variable (comma-separated pids, or
 * "pg:DIR" for the postmaster of the cluster in DIR and its children) */
static double cpu_of(const char *var)
{
    const char *v = getenv(var);
    char list[8192] = "", path[300], line[512];
    double ticks = 0;
    if (!v)
        return 0;
    if (strncmp(v, "pg:", 3) == 0) {
        long pm = 0;
        snprintf(path, sizeof(path), "%s/data/postmaster.pid", v + 3);
        FILE *f = fopen(path, "r");
        if (f && fscanf(f, "%ld", &pm) == 1) {
            snprintf(line, sizeof(line), "ps -o pid= --ppid %ld", pm);
            FILE *ps = popen(line, "r");
            size_t len = (size_t)snprintf(list, sizeof(list), "%ld", pm);
            long pid;
            while (ps && fscanf(ps, "%ld", &pid) == 1 && len < sizeof(list) - 24)
                len += (size_t)snprintf(list + len, sizeof(list) - len, ",%ld", pid);
            if (ps)
                pclose(ps);
        }
        if (f)
            fclose(f);
    } else {
        snprintf(list, sizeof(list), "%s", v);
    }
    char *save = NULL;
    for (char *p = strtok_r(list, ", ", &save); p; p = strtok_r(NULL, ", ", &save)) {
        snprintf(path, sizeof(path), "/proc/%s/stat", p);
        FILE *f = fopen(path, "r");
        if (f && fgets(line, sizeof(line), f)) {
            /* utime and stime are fields 14 and 15, after the ")" that ends the name */
            char *q = strrchr(line, ')');
            unsigned long ut = 0, st_ = 0;
            if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
                            &st_) == 2)
                ticks += ut + st_;
        }
        if (f)
            fclose(f);
    }
    return ticks / sysconf(_SC_CLK_TCK);
}

/* The whole machine's busy and total CPU ticks (/proc/stat): other work on a shared machine
 * shows as busy time that is none of the three parties'. */
static void machine_ticks(double *busy, double *total)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    *busy = *total = 0;
    if (f && fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                    &v[4], &v[5], &v[6], &v[7]) == 8) {
        for (int i = 0; i < 8; i++)
            *total += v[i];
        *busy = *total - v[3] - v[4];
    }
    if (f)
        fclose(f);
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static struct store *store_by_id(long id)
{
    for (int i = 0; i < nstores; i++)
        if (stores[i].id == id)
            return &stores[i];
    stores = realloc(stores, (nstores + 1) * sizeof(*stores));
    if (!stores)
        abort();
    memset(&stores[nstores], 0, sizeof(*stores));
    stores[nstores].id = id;
    return &stores[nstores++];
}

static void read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    char kind[4], val[200];
    long store;
    if (!f) {
        perror(path);
        exit(2);
    }
    while (fscanf(f, "%3s %ld %199s", kind, &store, val) == 3) {
        struct store *s = store_by_id(store);
        if (kind[0] == 'T' && s->ntokens < STAFF_PER_STORE)
            s->tokens[s->ntokens++] = strdup(val);
        else if (kind[0] == 'A') {
            s->appts = realloc(s->appts, (s->nappts + 1) * sizeof(long));
            s->appts[s->nappts++] = atol(val);
        } else if (kind[0] == 'D')
            snprintf(s->serial, sizeof(s->serial), "%s", val);
        else if (kind[0] == 'V')
            s->service = atol(val);
    }
    fclose(f);
}

static void on_joined(struct conn *c)
{
    /* the body is JSON with "token": "..." */
    size_t n = evbuffer_get_length(c->body);
    char *p = (char *)evbuffer_pullup(c->body, n);
    char *b = p ? strstr(p, "\r\n\r\n") : NULL;
    char *t = b ? strstr(b, "\"token\"") : NULL;
    char path[256], tok[160];
    if (!t)
        return;
    t = strchr(t + 7, '"');
    if (!t || sscanf(t + 1, "%159[^\"]", tok) != 1)
        return;
    snprintf(path, sizeof(path), "/api/line/%s/events", tok);
    start(K_LINE_SSE, true, "GET", path, NULL, NULL);
}

static void do_book(void)
{
    long k = n_book++;
    struct store *s = &stores[k % nstores];
    long j = (run_no - 1) * 50 + k / nstores;
    time_t day0 = time(NULL) / 86400 * 86400;
    time_t at = day0 + (2 + j / 24) * 86400 + 8 * 3600 + (j % 24) * 1800;
    char when[32], path[96], body[400];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&at));
    snprintf(path, sizeof(path), "/api/stores/%ld/appointments", s->id);
    snprintf(body, sizeof(body),
             "{\"name\":\"Chain Customer %ld\",\"email\":\"c%ld@example.com\","
             "\"phone\":\"+33 6 12 34 56 78\",\"problem\":\"cracked screen\","
             "\"service_id\":%ld,\"starts_at\":\"%s\"}",
             k, k, s->service, when);
    start(K_BOOK, false, "POST", path, NULL, body);
}

static void do_checkin(void)
{
    for (int tries = 0; tries < nstores; tries++) {
        struct store *s = &stores[n_checkin++ % nstores];
        if (s->next_appt < s->nappts && s->ntokens) {
            char path[96], body[64];
            snprintf(path, sizeof(path), "/api/stores/%ld/checkin", s->id);
            snprintf(body, sizeof(body), "{\"appointment_id\":%ld}", s->appts[s->next_appt]);
            start(K_CHECKIN, false, "POST", path, s->tokens[s->next_appt % s->ntokens], body);
            s->next_appt++;
            return;
        }
    }
}

static void do_call(void)
{
    long k = n_call++;
    struct store *s = &stores[k % nstores];
    char path[96];
    if (!s->ntokens)
        return;
    snprintf(path, sizeof(path), "/api/stores/%ld/queue/next", s->id);
    start(K_CALL, false, "POST", path, s->tokens[(k / nstores + run_no * 2) % s->ntokens], "{}");
}

static void do_diag(void)
{
    long k = n_diag++;
    struct store *s = &stores[(k * 7) % nstores];
    char path[256], body[400];
    if (!s->ntokens || !s->serial[0])
        return;
    snprintf(path, sizeof(path), "/api/devices/%s/diagnostics", s->serial);
    snprintf(body, sizeof(body),
             "{\"store_id\":%ld,\"results\":[{\"test\":\"battery\",\"passed\":true,\"values\":"
             "[{\"name\":\"battery_health\",\"value\":%ld,\"unit\":\"%%\"},{\"name\":"
             "\"cycle_count\",\"value\":%ld,\"unit\":\"cycles\"}]},{\"test\":\"speaker\","
             "\"passed\":true}]}",
             s->id, 80 + k % 20, 100 + k);
    start(K_DIAG, false, "POST", path, s->tokens[k % s->ntokens], body);
}

static double rate_book = 20, rate_checkin = 2, rate_call = 2, rate_diag = 1;

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    double dt = 0.05;
    if (now_ms() >= phase_end) {
        event_del(tick);
        return;
    }
    for (acc_book += rate_book * dt; acc_book >= 1; acc_book -= 1)
        do_book();
    for (acc_checkin += rate_checkin * dt; acc_checkin >= 1; acc_checkin -= 1)
        do_checkin();
    for (acc_call += rate_call * dt; acc_call >= 1; acc_call -= 1)
        do_call();
    for (acc_diag += rate_diag * dt; acc_diag >= 1; acc_diag -= 1)
        do_diag();
}

/* Runs the loop for ms milliseconds, or until done() says so. */
static void run_for(double ms, bool (*done)(void))
{
    double end = now_ms() + ms;
    struct timeval tv = {0, 20000};
    while (now_ms() < end && !(done && done())) {
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
}

static bool joins_settled(void)
{
    return joins_left == 0 && outstanding == 0;
}

static void open_pacer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct event *self = arg;
    /* at most 32 line joins in flight: a walk-in's join is a write */
    while (joins_left > 0 && outstanding < 32) {
        struct store *s = &stores[joins_next % nstores];
        char path[96], body[96];
        snprintf(path, sizeof(path), "/api/stores/%ld/line", s->id);
        snprintf(body, sizeof(body), "{\"name\":\"Walker %ld-%d\"}", joins_next, run_no);
        joins_next++;
        joins_left--;
        start(K_JOIN, false, "POST", path, NULL, body);
    }
    if (joins_left > 0) {
        struct timeval tv = {0, 5000};
        evtimer_add(self, &tv);
    }
}

static void print_kind(enum kind k)
{
    struct stats *s = &st[k];
    qsort(s->lat, s->n, sizeof(double), cmp_double);
    printf("%s n=%zu p50_ms=%.1f p99_ms=%.1f errors=%ld failed=%ld 2xx=%ld 4xx=%ld 5xx=%ld\n",
           kind_name[k], s->n, pct(s->lat, s->n, 0.5), pct(s->lat, s->n, 0.99), s->errors,
           s->failed, s->status_count[2], s->status_count[4], s->status_count[5]);
}

static int chain(const char *file, int seconds)
{
    read_file(file);
    if (!nstores) {
        fprintf(stderr, "loadgen: no stores in %s\n", file);
        return 2;
    }
    long staff = 0;
    double t = now_ms();
    /* staff tablets and boards, a few hundred per 10 ms */
    for (int i = 0; i < nstores; i++) {
        char path[96];
        for (int j = 0; j < stores[i].ntokens; j++) {
            snprintf(path, sizeof(path), "/api/stores/%ld/events", stores[i].id);
            start(K_STAFF_SSE, true, "GET", path, stores[i].tokens[j], NULL);
            staff++;
        }
        snprintf(path, sizeof(path), "/api/stores/%ld/board/events", stores[i].id);
        start(K_BOARD_SSE, true, "GET", path, NULL, NULL);
        if (i % 20 == 19)
            run_for(10, NULL);
    }
    joins_left = 10L * nstores;
    struct event *pacer = event_new(base, -1, 0, open_pacer, event_self_cbarg());
    struct timeval zero = {0, 0};
    evtimer_add(pacer, &zero);
    run_for(120000, joins_settled);
    run_for(3000, NULL); /* the last streams open, catch-ups arrive */
    long want = staff + nstores + st[K_JOIN].n;
    printf("streams_wanted=%ld streams_open=%ld set_up_s=%.1f\n", want, sse_open,
           (now_ms() - t) / 1000);
    fflush(stdout);

    double cc0 = cpu_of("LOADGEN_CARNETD"), cp0 = cpu_of("LOADGEN_PG"), cl0 = self_cpu();
    double mb0, mt0, mb1, mt1;
    machine_ticks(&mb0, &mt0);
    counting_after_trigger = true;
    phase_end = now_ms() + seconds * 1000.0;
    tick = event_new(base, -1, EV_PERSIST, on_tick, NULL);
    struct timeval tick_tv = {0, 50000};
    event_add(tick, &tick_tv);
    run_for(seconds * 1000.0 + 50, NULL);
    machine_ticks(&mb1, &mt1);
    printf("cpu_carnetd_s=%.2f cpu_postgres_s=%.2f cpu_loadgen_s=%.2f machine_busy_pct=%.0f\n",
           cpu_of("LOADGEN_CARNETD") - cc0, cpu_of("LOADGEN_PG") - cp0, self_cpu() - cl0,
           mt1 > mt0 ? 100 * (mb1 - mb0) / (mt1 - mt0) : 0);
    run_for(20000, joins_settled); /* the last requests answer */
    run_for(2000, NULL);           /* their events arrive */

    for (int k = 0; k < K_N; k++)
        print_kind(k);
    printf("sse_events=%ld streams_open_at_end=%ld\n", sse_events, sse_open);
    return 0;
}

/* ---------------- the storm ---------------- */

static long rss_kb(const char *pids)
{
    long total = 0;
    char *copy = strdup(pids), *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        char path[64], line[256];
        snprintf(path, sizeof(path), "/proc/%s/status", p);
        FILE *f = fopen(path, "r");
        while (f && fgets(line, sizeof(line), f))
            if (strncmp(line, "VmRSS:", 6) == 0)
                total += atol(line + 6);
        if (f)
            fclose(f);
    }
    free(copy);
    return total;
}

static struct conn **storm_conns;
static long storm_n;

static bool storm_settled(void)
{
    return st[K_BOARD_SSE].opened + st[K_BOARD_SSE].failed >= storm_n;
}

static int storm(long n, const char *store_list, const char *pids)
{
    long ids[64];
    int nids = 0;
    char *copy = strdup(store_list), *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p && nids < 64; p = strtok_r(NULL, ",", &save))
        ids[nids++] = atol(p);
    free(copy);
    if (!nids)
        return 2;
    storm_n = n;
    storm_conns = calloc(n, sizeof(*storm_conns));
    long rss0 = rss_kb(pids);
    double t = now_ms();
    for (long i = 0; i < n; i++) {
        char path[96];
        snprintf(path, sizeof(path), "/api/stores/%ld/board/events", ids[i % nids]);
        storm_conns[i] = start(K_BOARD_SSE, true, "GET", path, NULL, NULL);
    }
    run_for(60000, storm_settled);
    double open_s = (now_ms() - t) / 1000;
    run_for(3000, NULL); /* idle: catch-ups done */
    long rss1 = rss_kb(pids);
    struct stats *s = &st[K_BOARD_SSE];
    long open_now = sse_open;

    /* one event per store, at once: a walk-in joins each line */
    trigger_at = now_ms();
    for (int i = 0; i < nids; i++) {
        char path[96];
        snprintf(path, sizeof(path), "/api/stores/%ld/line", ids[i]);
        start(K_JOIN, false, "POST", path, NULL, "{\"name\":\"Storm Walker\"}");
    }
    run_for(10000, NULL);
    double *arr = malloc(n * sizeof(double));
    long got = 0;
    for (long i = 0; i < n; i++) {
        struct conn *c = storm_conns[i];
        if (c->got_body && c->first_after > 0)
            arr[got++] = c->first_after;
    }
    qsort(arr, got, sizeof(double), cmp_double);
    long need = (long)(0.99 * n + 0.999);
    printf("clients=%ld opened=%ld non200=%ld failed_other=%ld open_s=%.2f open_p99_ms=%.0f\n", n,
           s->opened,
           s->status_count[1] + s->status_count[3] + s->status_count[4] + s->status_count[5],
           s->failed -
               (s->status_count[1] + s->status_count[3] + s->status_count[4] + s->status_count[5]),
           open_s, (qsort(s->lat, s->n, sizeof(double), cmp_double), pct(s->lat, s->n, 0.99)));
    long silent = 0;
    for (long i = 0; i < n; i++)
        silent += storm_conns[i]->status == 200 && !storm_conns[i]->got_body;
    printf("status_503=%ld status_200_silent=%ld\n", sse_503, silent);
    printf("open_idle=%ld rss_before_kb=%ld rss_idle_kb=%ld rss_per_client_b=%.0f\n", open_now,
           rss0, rss1, open_now ? (rss1 - rss0) * 1024.0 / open_now : 0);
    printf("event_reached=%ld event_p99_all_ms=%s%.0f event_max_ms=%.0f join_errors=%ld\n", got,
           got >= need ? "" : "-", got >= need ? arr[need - 1] : (got ? arr[got - 1] : 0),
           got ? arr[got - 1] : 0, st[K_JOIN].errors);
    free(arr);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: loadgen chain PORT FILE SECONDS RUN | storm PORT CLIENTS STORES "
                        "PIDS\n");
        return 2;
    }
    raise_nofile();
    base = event_base_new();
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(0x7f000001);
    addr.sin_port = htons(atoi(argv[2]));
    if (strcmp(argv[1], "chain") == 0 && argc == 6) {
        run_no = atoi(argv[5]);
        return chain(argv[3], atoi(argv[4]));
    }
    if (strcmp(argv[1], "storm") == 0 && argc == 6)
        return storm(atol(argv[3]), argv[4], argv[5]);
    fprintf(stderr, "loadgen: bad arguments\n");
    return 2;
}
