/*
 * log: level-filtered lines on stderr, each written whole with one write(2) so lines from the
 * worker threads do not interleave mid-line.
 *
 * The access log (log_access, one line per request) is the bulk of it, and a write(2) per
 * request on the loop was a measurable share of a cheap request. While the loop runs
 * (log_buffer_start .. log_buffer_stop) access lines collect in memory and leave in one write
 * when the buffer fills or ACCESS_FLUSH_MS after the first line waiting; every other line first
 * writes out what waits, so the order of lines is kept. A crash loses at most the lines waiting
 * (ACCESS_FLUSH_MS worth, at most ACCESS_BUF_SIZE bytes); an orderly exit loses none.
 *
 * Request paths are written through log_path, because a customer's link is a path segment
 * (/api/manage/<token>) and the log is read by people who must not be able to open it. A
 * segment is withheld when a registered route pattern has {token} there and every segment
 * before it matches the pattern: by position, not by method or what follows, so a 405, an
 * unknown sub-path or a junk token typed by someone is withheld as surely as a real link. A
 * segment that merely looks like a token (long, url-safe alphabet only, perhaps with a short file
 * extension, as a calendar feed's "<token>.ics") is withheld wherever it is, for a link pasted
 * into a path no route has. The query string is never logged.
 */
#include "log.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warning", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

#define ACCESS_BUF_SIZE (64 * 1024)
#define ACCESS_FLUSH_MS 100
#define LINE_MAX_BYTES 1200

static struct {
    pthread_mutex_t mu; /* buf and len: worker threads write lines too */
    char buf[ACCESS_BUF_SIZE];
    size_t len;
    struct event *timer; /* non-NULL while buffering; touched on the loop only */
    bool armed;
} A = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* nowhere to report a broken stderr */
        p += w;
        n -= (size_t)w;
    }
}

/* Caller holds A.mu. */
static void flush_locked(void)
{
    if (A.len) {
        write_all(A.buf, A.len);
        A.len = 0;
    }
}

static int format_line(char *line, size_t size, enum log_level level, const char *reqid,
                       const char *fmt, va_list ap)
{
    char msg[1024];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    int n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = snprintf(line, size, "%s.%03ldZ %s%s%s%s %s\n", stamp, ts.tv_nsec / 1000000L,
                 level_names[level], reqid ? " [" : "", reqid ? reqid : "", reqid ? "]" : "", msg);
    if (n < 0)
        return 0;
    if ((size_t)n >= size) {
        line[size - 2] = '\n';
        n = (int)size - 1;
    }
    return n;
}

void log_msg(enum log_level level, const char *reqid, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    va_list ap;
    int n;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    n = format_line(line, sizeof(line), level, reqid, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&A.mu);
    flush_locked();
    write_all(line, (size_t)n);
    pthread_mutex_unlock(&A.mu);
}

static void on_flush_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    A.armed = false;
    log_flush();
}

void log_access(const char *reqid, const char *fmt, ...)
{
    char line[LINE_MAX_BYTES];
    va_list ap;
    int n;

    if (LOG_INFO < min_level)
        return;
    va_start(ap, fmt);
    n = format_line(line, sizeof(line), LOG_INFO, reqid, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&A.mu);
    if (!A.timer) {
        flush_locked();
        write_all(line, (size_t)n);
    } else {
        if (A.len + (size_t)n > sizeof(A.buf))
            flush_locked();
        memcpy(A.buf + A.len, line, (size_t)n);
        A.len += (size_t)n;
    }
    pthread_mutex_unlock(&A.mu);
    if (A.timer && !A.armed) {
        struct timeval tv = {0, ACCESS_FLUSH_MS * 1000};
        A.armed = evtimer_add(A.timer, &tv) == 0;
    }
}

void log_flush(void)
{
    pthread_mutex_lock(&A.mu);
    flush_locked();
    pthread_mutex_unlock(&A.mu);
}

int log_buffer_start(struct event_base *base)
{
    if (A.timer)
        return 0;
    A.timer = evtimer_new(base, on_flush_timer, NULL);
    if (!A.timer)
        return -1;
    A.armed = false;
    atexit(log_flush);
    return 0;
}

void log_buffer_stop(void)
{
    if (A.timer) {
        event_free(A.timer);
        A.timer = NULL;
        A.armed = false;
    }
    log_flush();
}

/* Set once at start-up, before any thread is started, and only read afterwards. */
static const char *secret_patterns[LOG_SECRET_PATTERNS_MAX];
static int nsecret;

/* Link tokens are 43 characters; a serial, the longest other key in a path, is at most 32. */
#define SECRET_SHAPE_MIN 40
#define SECRET_MARK "\u2026"

int log_secret_pattern(const char *pattern)
{
    if (nsecret >= LOG_SECRET_PATTERNS_MAX)
        return -1;
    secret_patterns[nsecret++] = pattern;
    return 0;
}

void log_secret_clear(void)
{
    nsecret = 0;
}

/* Segment `k` (from 0, the text after the first '/') of a path or pattern. */
static bool segment(const char *s, int k, const char **start, size_t *len)
{
    if (*s != '/')
        return false;
    s++;
    for (int i = 0; i < k; i++) {
        const char *slash = strchr(s, '/');
        if (!slash)
            return false;
        s = slash + 1;
    }
    *start = s;
    *len = strcspn(s, "/");
    return true;
}

static bool seg_is(const char *seg, size_t len, const char *text)
{
    return strlen(text) == len && memcmp(seg, text, len) == 0;
}

/* Segment k of `path` sits where `pattern` has {token}, and the segments before it match. */
static bool pattern_hides(const char *pattern, const char *path, int k)
{
    const char *ps, *s;
    size_t plen, slen;

    for (int j = 0; j <= k; j++) {
        if (!segment(pattern, j, &ps, &plen) || !segment(path, j, &s, &slen))
            return false;
        if (j == k)
            return seg_is(ps, plen, "{token}");
        if (plen == 0 || ps[0] != '{') {
            if (plen != slen || memcmp(ps, s, plen) != 0)
                return false;
        }
    }
    return false;
}

/* A calendar feed's segment is its token and a file extension ("<token>.ics"). */
#define SECRET_EXT_MAX 5

static bool looks_like_token(const char *seg, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = 0;
    while (n < len && seg[n] && strchr(alphabet, seg[n]))
        n++;
    if (n < len && seg[n] == '.' && len - n - 1 >= 1 && len - n - 1 <= SECRET_EXT_MAX) {
        size_t ext = n + 1;
        while (ext < len && strchr(alphabet, seg[ext]) && seg[ext] != '-' && seg[ext] != '_')
            ext++;
        if (ext == len)
            len = n;
    }
    return len >= SECRET_SHAPE_MIN && n == len;
}

static bool secret_segment(const char *path, int k, const char *seg, size_t len)
{
    if (looks_like_token(seg, len))
        return true;
    for (int i = 0; i < nsecret; i++)
        if (pattern_hides(secret_patterns[i], path, k))
            return true;
    return false;
}

const char *log_path(const char *path, char *out, size_t len)
{
    size_t used = 0;
    const char *seg;
    size_t seglen;

    if (len == 0)
        return out;
    out[0] = '\0';
    if (!path)
        path = "-";
    if (*path != '/') {
        snprintf(out, len, "-");
        return out;
    }
    for (int k = 0; segment(path, k, &seg, &seglen); k++) {
        bool hide = seglen > 0 && secret_segment(path, k, seg, seglen);
        int n = snprintf(out + used, len - used, "/%.*s",
                         hide ? (int)strlen(SECRET_MARK) : (int)seglen, hide ? SECRET_MARK : seg);
        if (n < 0 || (size_t)n >= len - used) {
            out[used] = '\0'; /* cut short at the last whole segment */
            break;
        }
        used += (size_t)n;
    }
    return out;
}
