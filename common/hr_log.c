/*  hr_log: leveled, plain or JSON log lines on stderr.  */
#include "hr_log.h"

#include "hr_time.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static hr_log_level_t s_level = HR_LOG_INFO;
static bool s_json = false;
static const char *s_names[] = { "error", "warn", "info", "debug" };

void
hr_log_configure (hr_log_level_t level, bool json)
{
    s_level = level;
    s_json = json;
}

int
hr_log_level_parse (const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp (name, s_names[i]) == 0)
            return i;
    return -1;
}

bool
hr_log_enabled (hr_log_level_t level)
{
    return level <= s_level;
}

//  Appends text to buf (at *pos, capacity cap), escaped for JSON when json.
//  Truncates silently: a log line must never fail.
static void
s_put (char *buf, size_t cap, size_t *pos, const char *text, bool json)
{
    for (const char *p = text; *p && *pos + 7 < cap; p++) {
        unsigned char c = (unsigned char) *p;
        if (json && (c == '"' || c == '\\')) {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char) c;
        }
        else
        if (c < 0x20) {
            if (json)
                *pos += (size_t) snprintf (buf + *pos, cap - *pos, "\\u%04x", c);
            else
                buf[(*pos)++] = ' ';
        }
        else
            buf[(*pos)++] = (char) c;
    }
}

static void
s_raw (char *buf, size_t cap, size_t *pos, const char *text)
{
    size_t len = strlen (text);
    if (*pos + len + 2 > cap)
        len = cap > *pos + 2? cap - *pos - 2: 0;
    memcpy (buf + *pos, text, len);
    *pos += len;
}

//  True when the plain-format value needs quotes to stay one token.
static bool
s_needs_quotes (const char *value)
{
    return *value == 0 || strpbrk (value, " =\"") != NULL;
}

static void s_vlog (hr_log_level_t level, const char *msg, va_list args);

void
hr_log (hr_log_level_t level, const char *msg, ...)
{
    va_list args;
    va_start (args, msg);
    s_vlog (level, msg, args);
    va_end (args);
}

static atomic_ullong s_suppressed;

unsigned long long
hr_log_suppressed (void)
{
    return atomic_load (&s_suppressed);
}

void
hr_log_limited (hr_log_level_t level, const char *msg, ...)
{
    if (level > s_level)
        return;
    //  Per thread, so the limiter itself takes no lock on a delivery path
    static __thread uint64_t second;
    static __thread unsigned lines;
    static __thread unsigned long long dropped;
    uint64_t now = hr_mono_ms () / 1000;
    if (now != second) {
        second = now;
        lines = 0;
    }
    if (lines >= HR_LOG_LIMIT_PER_S) {
        dropped++;
        atomic_fetch_add (&s_suppressed, 1);
        return;
    }
    lines++;
    if (dropped) {
        char count [32];
        snprintf (count, sizeof count, "%llu", dropped);
        dropped = 0;
        hr_log (HR_LOG_WARN, "log lines suppressed by the rate limit", "count", count, NULL);
    }
    va_list args;
    va_start (args, msg);
    s_vlog (level, msg, args);
    va_end (args);
}

static void
s_vlog (hr_log_level_t level, const char *msg, va_list args)
{
    if (level > s_level)
        return;
    char buf[4096];
    size_t pos = 0;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r (&now.tv_sec, &tm);
    char stamp [96];
    snprintf (stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
              tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
              tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
    if (s_json) {
        s_raw (buf, sizeof buf, &pos, "{\"ts\":\"");
        s_raw (buf, sizeof buf, &pos, stamp);
        s_raw (buf, sizeof buf, &pos, "\",\"level\":\"");
        s_raw (buf, sizeof buf, &pos, s_names[level]);
        s_raw (buf, sizeof buf, &pos, "\",\"msg\":\"");
        s_put (buf, sizeof buf, &pos, msg, true);
        s_raw (buf, sizeof buf, &pos, "\"");
    }
    else {
        s_raw (buf, sizeof buf, &pos, stamp);
        s_raw (buf, sizeof buf, &pos, " ");
        s_raw (buf, sizeof buf, &pos, s_names[level]);
        s_raw (buf, sizeof buf, &pos, " ");
        s_put (buf, sizeof buf, &pos, msg, false);
    }
    const char *key;
    while ((key = va_arg (args, const char *)) != NULL) {
        const char *value = va_arg (args, const char *);
        if (!value)
            value = "";
        if (s_json) {
            s_raw (buf, sizeof buf, &pos, ",\"");
            s_put (buf, sizeof buf, &pos, key, true);
            s_raw (buf, sizeof buf, &pos, "\":\"");
            s_put (buf, sizeof buf, &pos, value, true);
            s_raw (buf, sizeof buf, &pos, "\"");
        }
        else {
            bool quote = s_needs_quotes (value);
            s_raw (buf, sizeof buf, &pos, " ");
            s_put (buf, sizeof buf, &pos, key, false);
            s_raw (buf, sizeof buf, &pos, quote? "=\"": "=");
            s_put (buf, sizeof buf, &pos, value, false);
            if (quote)
                s_raw (buf, sizeof buf, &pos, "\"");
        }
    }
    if (s_json)
        s_raw (buf, sizeof buf, &pos, "}");
    buf[pos++] = '\n';
    ssize_t rc = write (STDERR_FILENO, buf, pos);
    (void) rc;
}
