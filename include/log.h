/*
 * log: the one logging facility of carnetd.
 *
 * Lines go to stderr as "time level [request-id] message". Never pass passwords, tokens or full
 * personal data in a message: the log is read by people who must not see them.
 */
#ifndef CARNET_LOG_H
#define CARNET_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };

void log_set_level(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *reqid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * The access log: one info line per request, called on the loop thread only. Between
 * log_buffer_start(base) and log_buffer_stop() these lines are buffered and written at most
 * 100 ms later (or when 64 KB wait, or before any other line); outside, at once. log_flush
 * writes what waits (also run at exit).
 */
struct event_base;
void log_access(const char *reqid, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int log_buffer_start(struct event_base *base);
void log_buffer_stop(void);
void log_flush(void);

/*
 * Request paths in log lines. log_secret_pattern registers a route pattern ("/api/manage/{token}",
 * kept by reference: a static string) whose {token} segment is a secret; log_path writes `path`
 * into `out` (size `len`, cut at a whole segment) with every secret segment replaced by "…",
 * and returns `out`. Register before any thread starts. log_secret_pattern returns -1 past
 * LOG_SECRET_PATTERNS_MAX; log_secret_clear forgets them all (tests).
 */
#define LOG_SECRET_PATTERNS_MAX 64
#define LOG_PATH_MAX 512
int log_secret_pattern(const char *pattern);
void log_secret_clear(void);
const char *log_path(const char *path, char *out, size_t len);

#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)
/* Request-scoped variants: the line carries the request id so one request can be followed. */
#define rlog_info(r, ...) log_msg(LOG_INFO, (r)->id, __VA_ARGS__)
#define rlog_warning(r, ...) log_msg(LOG_WARNING, (r)->id, __VA_ARGS__)
#define rlog_error(r, ...) log_msg(LOG_ERROR, (r)->id, __VA_ARGS__)

#endif
