/*
 * config.c — defaults, key=value file and per-key validation for
 * lastmile-server (see config.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lm_protocol.h"
#include "lm_text.h"

void lm_server_config_defaults(lm_server_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen, sizeof c->listen, "127.0.0.1:7070");
    c->log_level = LM_LOG_INFO;
    c->max_sessions = 4096;
    c->idle_timeout_ms = 120000;
    c->handshake_timeout_ms = 10000;
    c->max_frame = LM_FRAME_DEFAULT_MAX;
    /* SQLite's default (2 MiB) holds a few thousand purchases' log; past
     * that every merge and every PULL reads its index pages back from the
     * OS (100,000 records pushed: server CPU 7.2-8.6 s -> 4.8-4.9 s). */
    c->cache_mib = 32;
    /* store.c: a bigger WAL between checkpoints copies a page rewritten by
     * many batches once (100,000 records pushed: 6.4-6.7 s with 1,000
     * pages, 6.3 s with 8,000; two runs each). */
    c->checkpoint_pages = 8000;
    /* session.c: past this a session's next PUSH waits, undecoded. The
     * writer needs only a few batches ahead of it: 1,000 agents at once,
     * server peak RSS 185-189 MiB with 256, 125 with 32, 103.5 with 16, 88
     * with 2, and no slower (23-31 s either way, runs vary that much). */
    c->max_queued_mib = 16;
    /* Agents take the server's time at WELCOME, so an honest device is
     * seconds off; a version further ahead would win every later edit of
     * its cell (a change 9 minutes ahead beat a later real edit under the
     * engine's 10-minute default). */
    c->max_clock_ahead_ms = 120000;
    /* An honest agent's refusals are a handful (a farmer outside its
     * villages); 10,000 is far past that and keeps a flood's cost to the
     * writer (each refusal is a row write) to a fraction of a second. */
    c->max_refusals_per_session = 10000;
    /* A user whose session ended on refusals waits this long before its
     * next login is let in, twice as long after each further one (at most
     * an hour), so a flood of refused changes costs it time. */
    c->refusal_backoff_ms = 10000;
    /* A reply is at most one 1 MiB CHANGES frame; a client that reads its
     * answers never has more than one queued. */
    c->max_unsent_kib = 1024;
    /* An agent runs one sync at a time; the second covers a reconnect
     * while the cut session is still open on this side. */
    c->max_sessions_per_user = 2;
    /* A login takes a TLS handshake and one round trip; strangers get
     * this many sockets, never the logged-in sessions' room. */
    c->max_prelogin = 256;
    /* 1,000 agents pushing at once hold a few MiB of frames in flight. */
    c->max_partial_mib = 64;
    /* lastmile ends a batch at 2 MiB of estimated bytes, 43 bytes a change
     * at the least (sync/src/outgoing.c): at most ~48,800 changes. */
    c->max_changes_per_push = 50000;
    /* gzip's window for a client's session stream: 3.8 % fewer bytes on a
     * 2G day than 8 KiB, for about 25 KB more inflate state a session
     * (docs/server.md "Limits"). */
    c->stream_window_kib = 32;
}

/* Parses a decimal unsigned within [lo, hi]; 0 on success. */
static int parse_uint(const char *s, unsigned long long lo, unsigned long long hi,
                      unsigned long long *out)
{
    if (!s || !*s || !isdigit((unsigned char)*s))
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* The numeric keys: bounds and the unsigned field each sets. */
static const struct uint_key {
    const char *name;
    unsigned long long lo, hi;
    size_t offset;
} uint_keys[] = {
    {"max_sessions", 1, 1000000, offsetof(lm_server_config, max_sessions)},
    {"idle_timeout_ms", 100, 86400000ULL, offsetof(lm_server_config, idle_timeout_ms)},
    {"handshake_timeout_ms", 100, 3600000ULL, offsetof(lm_server_config, handshake_timeout_ms)},
    {"cache_mib", 1, 65536, offsetof(lm_server_config, cache_mib)},
    {"checkpoint_pages", 100, 1000000, offsetof(lm_server_config, checkpoint_pages)},
    {"max_queued_mib", 1, 65536, offsetof(lm_server_config, max_queued_mib)},
    {"max_clock_ahead_ms", 1000, 3600000ULL, offsetof(lm_server_config, max_clock_ahead_ms)},
    {"max_refusals_per_session", 1, 100000000ULL,
     offsetof(lm_server_config, max_refusals_per_session)},
    {"refusal_backoff_ms", 0, 3600000ULL, offsetof(lm_server_config, refusal_backoff_ms)},
    {"max_unsent_kib", 64, 1048576ULL, offsetof(lm_server_config, max_unsent_kib)},
    {"max_sessions_per_user", 1, 1000, offsetof(lm_server_config, max_sessions_per_user)},
    {"max_prelogin", 1, 1000000, offsetof(lm_server_config, max_prelogin)},
    {"max_partial_mib", 1, 65536, offsetof(lm_server_config, max_partial_mib)},
    {"max_changes_per_push", 1, 100000, offsetof(lm_server_config, max_changes_per_push)},
};

int lm_server_config_set(lm_server_config *c, const char *key, const char *value, char *err,
                         size_t err_size)
{
    unsigned long long v;
    for (size_t i = 0; i < sizeof uint_keys / sizeof uint_keys[0]; i++) {
        const struct uint_key *k = &uint_keys[i];
        if (strcmp(key, k->name) != 0)
            continue;
        if (parse_uint(value, k->lo, k->hi, &v) != 0)
            goto fail_value;
        *(unsigned *)((char *)c + k->offset) = (unsigned)v;
        return LM_OK;
    }
    if (strcmp(key, "listen") == 0) {
        char host[256];
        int port;
        if (strlen(value) >= sizeof c->listen ||
            lm_text_host_port_parse(value, 0, host, sizeof host, &port) != LM_OK)
            goto fail_value;
        snprintf(c->listen, sizeof c->listen, "%s", value);
    } else if (strcmp(key, "db") == 0) {
        if (!*value || strlen(value) >= sizeof c->db)
            goto fail_value;
        snprintf(c->db, sizeof c->db, "%s", value);
    } else if (strcmp(key, "log_level") == 0) {
        int level = lm_log_parse_level(value);
        if (level < 0)
            goto fail_value;
        c->log_level = level;
    } else if (strcmp(key, "stream_window_kib") == 0) {
        /* the two windows the protocol knows (LM_FEATURE_WIDE_WINDOW) */
        if (parse_uint(value, 8, 32, &v) != 0 || (v != 8 && v != 32))
            goto fail_value;
        c->stream_window_kib = (unsigned)v;
    } else if (strcmp(key, "max_frame") == 0) {
        /* Below 64 KiB a single maximal value (LM_MAX_VALUE) could not travel. */
        if (parse_uint(value, 65536 + 1024, 64ULL << 20, &v) != 0)
            goto fail_value;
        c->max_frame = (size_t)v;
    } else {
        snprintf(err, err_size, "unknown config key '%s'", key);
        return LM_EINVAL;
    }
    return LM_OK;

fail_value:
    snprintf(err, err_size, "bad value '%s' for %s", value, key);
    return LM_EINVAL;
}

/* Trims leading and trailing white space in place; returns the new start. */
static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int lm_server_config_load(lm_server_config *c, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return LM_EIO;
    }
    int rc = LM_OK;
    char line[2048];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, err_size, "%s:%d: line too long", path, lineno);
            rc = LM_EINVAL;
            goto fail_parse;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, err_size, "%s:%d: expected key = value", path, lineno);
            rc = LM_EINVAL;
            goto fail_parse;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        char msg[512];
        rc = lm_server_config_set(c, key, value, msg, sizeof msg);
        if (rc != LM_OK) {
            snprintf(err, err_size, "%s:%d: %s", path, lineno, msg);
            goto fail_parse;
        }
    }
    if (ferror(f)) {
        snprintf(err, err_size, "%s: read error", path);
        rc = LM_EIO;
    }
fail_parse:
    fclose(f);
    return rc;
}
