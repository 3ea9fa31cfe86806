/*
 * log: the one logging facility of carnetd.
 *
 * Lines go to stderr as "time level [request-id] message". Never pass passwords, tokens or full
 * personal data in a message: the log is read by people who must not see them.
 */
#ifndef CARNET_LOG_H
#define CARNET_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARNING, LOG_ERROR };

void log_set_level(enum log_level level);
int log_level_parse(const char *name, enum log_level *out);
void log_msg(enum log_level level, const char *reqid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)
/* Request-scoped variants: the line carries the request id so one request can be followed. */
#define rlog_info(r, ...) log_msg(LOG_INFO, (r)->id, __VA_ARGS__)
#define rlog_warning(r, ...) log_msg(LOG_WARNING, (r)->id, __VA_ARGS__)
#define rlog_error(r, ...) log_msg(LOG_ERROR, (r)->id, __VA_ARGS__)

#endif
