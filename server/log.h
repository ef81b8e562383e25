/*
 * log.h — leveled log lines on stderr for lastmile-server:
 *   2026-11-28T13:48:54.123Z info  listening on 127.0.0.1:7070
 * One process-wide level; lines below it are dropped before formatting.
 * Safe to call from thread-pool workers: each line is one fprintf on an
 * unbuffered stream.
 */
#ifndef LM_SERVER_LOG_H
#define LM_SERVER_LOG_H

enum lm_log_level {
    LM_LOG_ERROR = 0,
    LM_LOG_WARN = 1,
    LM_LOG_INFO = 2,
    LM_LOG_DEBUG = 3,
};

/* "error", "warn", "info", "debug" -> level; -1 when unknown. */
int lm_log_parse_level(const char *name);
const char *lm_log_level_name(int level);
void lm_log_set_level(int level);
int lm_log_get_level(void);
/* printf-style; a newline is added. */
void lm_log(int level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif
