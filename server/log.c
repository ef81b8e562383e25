/*
 * log.c — leveled, timestamped log lines on stderr (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int current_level = LM_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int lm_log_parse_level(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < (int)(sizeof level_names / sizeof level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0)
            return i;
    }
    if (strcmp(name, "warning") == 0)
        return LM_LOG_WARN;
    return -1;
}

const char *lm_log_level_name(int level)
{
    if (level < LM_LOG_ERROR || level > LM_LOG_DEBUG)
        return "?";
    return level_names[level];
}

void lm_log_set_level(int level)
{
    if (level >= LM_LOG_ERROR && level <= LM_LOG_DEBUG)
        current_level = level;
}

int lm_log_get_level(void)
{
    return current_level;
}

/* Formats the whole line into one buffer first so lines from worker threads
 * never interleave mid-line. Over-long messages are cut, not dropped. */
void lm_log(int level, const char *fmt, ...)
{
    if (level > current_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char line[1024];
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000L, lm_log_level_name(level));
    if (n < 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    line[len] = '\0';
    fputs(line, stderr);
}
