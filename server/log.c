/*
 * log: level-filtered lines on stderr. stderr is unbuffered, and each line is written with one
 * fprintf call so lines from the worker threads do not interleave mid-line.
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

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

void log_msg(enum log_level level, const char *reqid, const char *fmt, ...)
{
    char msg[1024];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    if (level < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %s%s%s%s %s\n", stamp, ts.tv_nsec / 1000000L, level_names[level],
            reqid ? " [" : "", reqid ? reqid : "", reqid ? "]" : "", msg);
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
