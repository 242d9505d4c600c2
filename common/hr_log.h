/*  hr_log: the one place Herald writes log lines.

    Lines go to stderr, either plain ("2026-11-23T08:46:40.123Z info msg k=v")
    or JSON ({"ts":"…","level":"info","msg":"…","k":"v"}). Each line is
    formatted into a stack buffer and written with one write(2), so lines
    from different threads never interleave.  */
#ifndef HR_LOG_H
#define HR_LOG_H

#include <stdbool.h>

typedef enum { HR_LOG_ERROR, HR_LOG_WARN, HR_LOG_INFO, HR_LOG_DEBUG } hr_log_level_t;

//  Sets the threshold and format. Not thread-safe: call before threads start.
void hr_log_configure (hr_log_level_t level, bool json);

//  Parses "error", "warn", "info", "debug"; returns -1 if unknown.
int hr_log_level_parse (const char *name);

//  True when a message at this level would be written.
bool hr_log_enabled (hr_log_level_t level);

//  Logs msg with key/value pairs given as alternating const char * strings,
//  terminated by NULL: hr_log (HR_LOG_INFO, "ready", "http", url, NULL).
void hr_log (hr_log_level_t level, const char *msg, ...);

#define hr_log_error(...) hr_log (HR_LOG_ERROR, __VA_ARGS__, NULL)
#define hr_log_warn(...)  hr_log (HR_LOG_WARN, __VA_ARGS__, NULL)
#define hr_log_info(...)  hr_log (HR_LOG_INFO, __VA_ARGS__, NULL)
//  Rate-limited logging for anything a peer can trigger per item (a bad
//  frame, a reset per channel, a slow consumer): at most HR_LOG_LIMIT_PER_S
//  lines a second per thread; the rest are dropped and counted, and the
//  next line written after a suppressed stretch says how many were
//  dropped. Never blocks a delivery loop for long.
#define HR_LOG_LIMIT_PER_S 10
void hr_log_limited (hr_log_level_t level, const char *msg, ...);

//  Lines dropped by hr_log_limited since start, all threads (for /metrics).
unsigned long long hr_log_suppressed (void);

#define hr_log_limited_warn(...) hr_log_limited (HR_LOG_WARN, __VA_ARGS__, NULL)
#define hr_log_limited_info(...) hr_log_limited (HR_LOG_INFO, __VA_ARGS__, NULL)

#define hr_log_debug(...) \
    do { if (hr_log_enabled (HR_LOG_DEBUG)) hr_log (HR_LOG_DEBUG, __VA_ARGS__, NULL); } while (0)

#endif
