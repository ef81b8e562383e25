/*
 * cmd_sync.c — `lastmile sync`: push local work, pull the server's, until
 * both sides are up to date; with --retry, again after a dropped or stalled
 * link until it is. Also the session runner `init` shares.
 *
 * Retrying is safe because of what one session already guarantees (see
 * sync_client.h): every acknowledged PUSH batch and every applied CHANGES
 * batch is committed with its watermark or cursor, so a new session resumes
 * after the last acknowledged batch and anything the server applied without
 * managing to acknowledge it is a no-op when it comes again.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sync_client.h"

/* Waits between attempts: RETRY_FIRST_MS, doubling up to RETRY_MAX_MS, back
 * to the first after an attempt that moved changes; each wait is spread by
 * up to ±20 % so agents cut off by the same outage do not all come back in
 * the same second. */
#define RETRY_FIRST_MS 1000u
#define RETRY_MAX_MS 30000u
#define RETRIES_MAX 10000
#define TIMEOUT_MAX_S 3600

static const char usage[] =
    "usage: lastmile sync [--retry N] [--timeout SEC] [--insecure-plaintext] [--db PATH]\n"
    "                     [--json]\n"
    "\n"
    "Pushes every change recorded on this replica to the server, then pulls\n"
    "what the server has for this user, until both sides are up to date.\n"
    "Prints one summary line: \"synced: pushed N changes (B bytes), pulled M\n"
    "changes (B bytes)\" (bytes: everything sent / received on the wire).\n"
    "On a failure nothing is lost: unacknowledged work stays queued and the\n"
    "next sync resumes. Exit 0 when fully synced, 1 otherwise.\n"
    "\n"
    "  --retry N      when the link fails (cannot connect, connection lost,\n"
    "                 stalled, server busy), try again up to N more times,\n"
    "                 resuming after the last acknowledged batch; waits 1 s,\n"
    "                 2 s, 4 s ... up to 30 s between attempts (1 s again\n"
    "                 after an attempt that moved changes); one line on\n"
    "                 stderr per failed attempt. Default 0.\n"
    "  --timeout SEC  a link silent for SEC seconds (nothing received and\n"
    "                 nothing more accepted for sending) is stalled and the\n"
    "                 attempt fails; also the limit for connecting.\n"
    "                 Default: 10 s to connect, 30 s of silence.\n"
    "  --insecure-plaintext  no TLS (debugging only: anyone on the path reads\n"
    "                 and can change the session); the server must run with\n"
    "                 the same flag. The session is TLS 1.3 with the server\n"
    "                 identity pinned at enrolment otherwise.\n";

/* The TLS session ticket of the last session, kept as hex in meta
 * "tls_session" so the next `lastmile sync` (a new process) resumes: one
 * round trip and no certificate on a 2G link. Best effort both ways. */
static uint8_t *load_ticket(lm_replica *r, size_t *len)
{
    char *hex = lm_cli_meta(r, "tls_session");
    size_t n = hex ? strlen(hex) / 2 : 0;
    uint8_t *der = n ? lm_malloc(n) : NULL;
    *len = 0;
    for (size_t i = 0; der && i < n; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            lm_free(der);
            der = NULL;
            break;
        }
        der[i] = (uint8_t)v;
    }
    if (der)
        *len = n;
    lm_free(hex);
    return der;
}

static void save_ticket(lm_replica *r, const uint8_t *der, size_t len)
{
    char *hex = lm_malloc(2 * len + 1);
    if (!hex)
        return;
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", der[i]);
    hex[2 * len] = '\0';
    lm_replica_meta_set(r, "tls_session", hex);
    lm_free(hex);
}

/* meta key as a fingerprint; LM_ENOTFOUND when absent or empty. */
static int meta_fp(lm_replica *r, const char *key, uint8_t out[LM_FINGERPRINT_SIZE])
{
    char *hex = lm_cli_meta(r, key);
    int rc = hex && *hex ? lm_key_from_hex(hex, out) : LM_ENOTFOUND;
    lm_free(hex);
    return rc;
}

/* The server key rotation, agent side (docs/security.md, key lifecycle).
 * "server_fp" is the pin; "server_fp_next" the identity the server
 * announced in WELCOME, which only a channel authenticated by the pin can
 * carry. Once a session was welcomed: a server that presented the next
 * identity makes it the pin; the announcement (or its absence: an aborted
 * rotation) becomes the next pin. Best effort: the old pin stays valid
 * until the server switches. */
static void follow_rotation(lm_replica *r, const lm_sync_config *cfg, const lm_sync_stats *st)
{
    if (cfg->insecure_plaintext || !st->welcomed)
        return;
    uint8_t pin[LM_FINGERPRINT_SIZE];
    memcpy(pin, cfg->pin, sizeof pin);
    char hex[LM_FINGERPRINT_HEX_SIZE];
    if (cfg->has_next_pin && st->has_presented &&
        memcmp(st->presented, cfg->next_pin, sizeof pin) == 0 &&
        memcmp(st->presented, cfg->pin, sizeof pin) != 0) {
        lm_fingerprint_hex(st->presented, hex);
        if (lm_replica_meta_set(r, "server_fp", hex) != LM_OK)
            return;
        memcpy(pin, st->presented, sizeof pin);
        fprintf(stderr,
                "lastmile: sync: the server now uses its rotated identity %s: "
                "pinned\n",
                hex);
    }
    if (st->has_next && memcmp(st->next, pin, sizeof pin) != 0)
        lm_fingerprint_hex(st->next, hex);
    else
        hex[0] = '\0';
    lm_replica_meta_set(r, "server_fp_next", hex);
}

/* One session with the given credentials and timeouts (0: the client's
 * defaults); records last_sync or last_error in the replica's meta. */
static int run_session(lm_replica *r, const lm_sync_config *creds, unsigned timeout_ms,
                       lm_sync_stats *st, char *err, size_t err_size)
{
    lm_sync_config cfg = *creds;
    cfg.connect_timeout_ms = timeout_ms;
    cfg.io_timeout_ms = timeout_ms;
    cfg.progress = isatty(STDERR_FILENO);
    size_t ticket_len = 0;
    uint8_t *ticket = cfg.insecure_plaintext ? NULL : load_ticket(r, &ticket_len);
    cfg.tls_session = ticket;
    cfg.tls_session_len = ticket_len;
    cfg.save_tls_session = !cfg.insecure_plaintext;
    int rc = lm_sync_client_run(r, &cfg, st, err, err_size);
    lm_free(ticket);
    follow_rotation(r, &cfg, st);
    if (st->tls_session) {
        save_ticket(r, st->tls_session, st->tls_session_len);
        lm_free(st->tls_session);
        st->tls_session = NULL;
    }
    char text[32];
    if (rc == LM_OK) {
        snprintf(text, sizeof text, "%llu", (unsigned long long)lm_cli_now_ms());
        if ((rc = lm_replica_meta_set(r, "last_sync", text)) != LM_OK ||
            (rc = lm_replica_meta_set(r, "last_error", "")) != LM_OK) {
            snprintf(err, err_size, "synced, but cannot record the time of this sync: %s",
                     lm_strerror(rc));
            return rc;
        }
    } else {
        /* Best effort: the reason is printed anyway; status shows it later. */
        lm_replica_meta_set(r, "last_error", err);
    }
    return rc;
}

int lm_cli_run_sync(lm_replica *r, const lm_sync_config *cfg, lm_sync_stats *st, char *err,
                    size_t err_size)
{
    return run_session(r, cfg, 0, st, err, err_size);
}

int lm_cli_key_path(const char *db_path, char *out, size_t size)
{
    return (size_t)snprintf(out, size, "%s.key", db_path) < size ? LM_OK : LM_EINVAL;
}

/* The summary of one or more attempts; attempts > 1 is said on the text
 * line, and --json always carries it. */
static int print_summary(const char *cmd, const lm_sync_stats *st, unsigned attempts, int json)
{
    if (!json) {
        printf("synced: pushed %llu changes (%llu bytes), pulled %llu changes (%llu bytes)",
               (unsigned long long)st->pushed_changes, (unsigned long long)st->bytes_sent,
               (unsigned long long)st->pulled_changes, (unsigned long long)st->bytes_received);
        if (attempts > 1)
            printf(" in %u attempts", attempts);
        putchar('\n');
        /* Refused changes are settled, not lost: say where they are kept. */
        if (st->refusals)
            fprintf(stderr,
                    "lastmile: %s: the server refused %llu changes (see 'lastmile list "
                    "refusals')\n",
                    cmd, (unsigned long long)st->refusals);
        if (st->conflicts)
            fprintf(stderr,
                    "lastmile: %s: %llu concurrent writes were merged (see 'lastmile "
                    "conflicts')\n",
                    cmd, (unsigned long long)st->conflicts);
        return fflush(stdout) == 0 ? LM_EXIT_OK : LM_EXIT_RUNTIME;
    }
    lm_buf b;
    lm_json j;
    lm_buf_init(&b);
    lm_json_init(&j, &b);
    lm_json_begin_object(&j);
    lm_json_key(&j, "pushed_changes");
    lm_json_uint(&j, st->pushed_changes);
    lm_json_key(&j, "pushed_bytes");
    lm_json_uint(&j, st->bytes_sent);
    lm_json_key(&j, "pulled_changes");
    lm_json_uint(&j, st->pulled_changes);
    lm_json_key(&j, "pulled_bytes");
    lm_json_uint(&j, st->bytes_received);
    lm_json_key(&j, "conflicts");
    lm_json_uint(&j, st->conflicts);
    lm_json_key(&j, "refusals");
    lm_json_uint(&j, st->refusals);
    lm_json_key(&j, "elapsed_ms");
    lm_json_uint(&j, st->elapsed_ms);
    lm_json_key(&j, "attempts");
    lm_json_uint(&j, attempts);
    lm_json_end_object(&j);
    int code = lm_cli_emit_json(cmd, &j, &b);
    lm_buf_close(&b);
    return code;
}

int lm_cli_print_sync_summary(const char *cmd, const lm_sync_stats *st, int json)
{
    return print_summary(cmd, st, 1, json);
}

/* Parses a whole decimal number in [lo, hi] into *out; 0 when it is one. */
static int parse_count(const char *text, long lo, long hi, long *out)
{
    char *end;
    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* Failures a later attempt may not see: the link (cannot connect, lost,
 * stalled) and a busy or stopping server. A wrong key, a database problem or
 * a protocol error would fail the same way again. */
static int worth_retrying(int rc)
{
    return rc == LM_ENET || rc == LM_ETIMEDOUT || rc == LM_EBUSY;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void add_stats(lm_sync_stats *sum, const lm_sync_stats *one)
{
    sum->pushed_changes += one->pushed_changes;
    sum->pulled_changes += one->pulled_changes;
    sum->bytes_sent += one->bytes_sent;
    sum->bytes_received += one->bytes_received;
    sum->conflicts += one->conflicts;
    sum->refusals += one->refusals;
    sum->scope_changed |= one->scope_changed;
    sum->scope_left += one->scope_left;
    if (one->role[0])
        memcpy(sum->role, one->role, sizeof sum->role);
}

/* The session found this file to be a restored or copied replica and the
 * engine gave it a fresh site id (lm_replica_adopt_watermark), which
 * ended the session. Says so in one line; the next session, as the new
 * site, pulls from the start: what the old site's other copy wrote is not
 * in this file. */
static int went_on_as_new_site(lm_replica *r)
{
    fprintf(stderr,
            "lastmile: sync: this replica is a restored or copied file (the server holds "
            "changes of its site that this file did not make); it goes on as site %016llx and "
            "sends what it recorded since its last sync under it\n",
            (unsigned long long)lm_replica_site(r));
    return lm_replica_meta_set(r, "pull_cursor", "0");
}

/* What needs a person after a sync, on stderr: each record the server
 * refused in it, one line each (refused.c), and a scope hq moved. */
static void say_refused_and_moved(lm_replica *r, const lm_sync_stats *st, int64_t refused_before)
{
    if (st->refusals)
        lm_cli_print_refused(r, refused_before, 20, stderr, "lastmile: sync: refused ");
    if (st->scope_changed) {
        lm_cli_scope s;
        int loaded = lm_cli_scope_load(r, &s);
        fprintf(stderr,
                "lastmile: sync: hq moved this user (now %s %s): its rows were pulled again "
                "from the start, and %llu rows it no longer sees left this replica\n",
                loaded > 0 && s.scope.role == LM_ROLE_AGENT ? "villages" : "county",
                loaded > 0 ? (s.scope.role == LM_ROLE_AGENT ? s.villages_text : s.county) : "?",
                (unsigned long long)st->scope_left);
        if (loaded > 0)
            lm_cli_scope_free(&s);
    }
}

int lm_cmd_sync(int argc, char **argv)
{
    lm_cli_common c = {0};
    const char *retry_text = NULL, *timeout_text = NULL;
    lm_args a;
    int plaintext = 0;
    const lm_opt opts[] = {LM_CLI_COMMON_OPTS(c),
                           LM_CLI_JSON_OPT(c),
                           {"retry", LM_OPT_VALUE, &retry_text, NULL},
                           {"timeout", LM_OPT_VALUE, &timeout_text, NULL},
                           {"insecure-plaintext", LM_OPT_FLAG, NULL, &plaintext}};
    int code = lm_cli_parse("sync", usage, argc, argv, opts, sizeof opts / sizeof opts[0], &a, &c);
    if (code >= 0)
        return code;
    if (a.n_positional)
        return lm_cli_usage_error("sync", "unexpected argument '%s'", a.positional[0]);
    long retries = 0, timeout_s = 0;
    if (retry_text && parse_count(retry_text, 0, RETRIES_MAX, &retries) != 0)
        return lm_cli_usage_error("sync", "--retry '%s' is not a whole number from 0 to %d",
                                  retry_text, RETRIES_MAX);
    if (timeout_text && parse_count(timeout_text, 1, TIMEOUT_MAX_S, &timeout_s) != 0)
        return lm_cli_usage_error("sync", "--timeout '%s' is not a number of seconds from 1 to %d",
                                  timeout_text, TIMEOUT_MAX_S);
    /* A peer that vanishes mid-write must fail the write (EPIPE), not end
     * the process: the next attempt needs it alive. */
    signal(SIGPIPE, SIG_IGN);

    lm_replica *r;
    if ((code = lm_cli_open("sync", c.db, LM_CLI_USER | LM_CLI_WRITE | LM_CLI_SYNC, &r)) !=
        LM_EXIT_OK)
        return code;
    char *server = lm_cli_meta(r, "server");
    char *user = lm_cli_meta(r, "user");
    char *fp_hex = lm_cli_meta(r, "server_fp");
    char *plain = lm_cli_meta(r, "insecure_plaintext");
    char key_path[4200];
    lm_sync_config creds;
    memset(&creds, 0, sizeof creds);
    if (!server || !user || !fp_hex || lm_key_from_hex(fp_hex, creds.pin) != LM_OK ||
        lm_cli_key_path(lm_cli_db_path(c.db), key_path, sizeof key_path) != LM_OK) {
        code = lm_cli_error("sync", "credentials on this replica are incomplete (enrol it again: "
                                    "'lastmile init --enrol ...' with a new string from "
                                    "'lastmile-server user rekey')");
        goto done;
    }
    creds.server = server;
    creds.user = user;
    creds.key_path = key_path;
    creds.insecure_plaintext = plaintext || (plain && strcmp(plain, "1") == 0);
    if (creds.insecure_plaintext)
        fprintf(stderr, "lastmile: sync: WARNING: --insecure-plaintext: this session is not "
                        "encrypted and the server's identity is not checked\n");
    lm_sync_stats total, st;
    memset(&total, 0, sizeof total);
    char err[256];
    unsigned attempts = 0, wait_ms = RETRY_FIRST_MS;
    uint64_t started = mono_ms();
    srand((unsigned)(started ^ (uint64_t)getpid()));
    int rc;
    uint64_t site = lm_replica_site(r);
    int64_t refused_before = lm_cli_refusal_head(r);
    for (;;) {
        attempts++;
        /* the pins as the replica holds them now: a session may have moved
         * them (a rotation) */
        meta_fp(r, "server_fp", creds.pin);
        creds.has_next_pin = meta_fp(r, "server_fp_next", creds.next_pin) == LM_OK;
        rc = run_session(r, &creds, (unsigned)timeout_s * 1000u, &st, err, sizeof err);
        add_stats(&total, &st);
        if (lm_replica_site(r) != site && (rc = went_on_as_new_site(r)) == LM_OK) {
            site = lm_replica_site(r);
            attempts--; /* the session that found the copy is no attempt of its own */
            continue;   /* as the new site, from the start */
        }
        if (rc == LM_OK || !worth_retrying(rc) || attempts > (unsigned long)retries)
            break;
        if (st.pushed_changes + st.pulled_changes > 0)
            wait_ms = RETRY_FIRST_MS;
        unsigned spread = wait_ms / 5u;
        unsigned sleep_for = wait_ms - spread + (unsigned)rand() % (2u * spread + 1u);
        uint64_t pending = 0;
        lm_replica_pending_count(r, &pending);
        fprintf(stderr,
                "lastmile: sync: attempt %u of %ld failed: %s (%llu changes queued); retrying "
                "in %.1f s\n",
                attempts, retries + 1, err, (unsigned long long)pending, sleep_for / 1000.0);
        sleep_ms(sleep_for);
        wait_ms = wait_ms * 2u > RETRY_MAX_MS ? RETRY_MAX_MS : wait_ms * 2u;
    }
    total.elapsed_ms = mono_ms() - started;
    if (rc != LM_OK) {
        uint64_t pending = 0;
        lm_replica_pending_count(r, &pending);
        const char *path = lm_cli_db_path(c.db);
        char outcome[160];
        snprintf(outcome, sizeof outcome,
                 "nothing is lost: %llu changes stay queued and the next sync goes on",
                 (unsigned long long)pending);
        if (rc == LM_ECORRUPT)
            code = lm_cli_damaged_error("sync", path, err);
        else if (lm_cli_disk_full(path, rc))
            code = lm_cli_disk_full_error("sync", path, outcome);
        else if (attempts > 1)
            code = lm_cli_error("sync", "%s (%llu changes still queued; gave up after %u attempts)",
                                err, (unsigned long long)pending, attempts);
        else
            code = lm_cli_error("sync", "%s (%llu changes still queued)", err,
                                (unsigned long long)pending);
        goto done;
    }
    code = print_summary("sync", &total, attempts, c.json);
    say_refused_and_moved(r, &total, refused_before); /* stderr, --json or not */
done:
    lm_free(server);
    lm_free(user);
    lm_free(fp_hex);
    lm_free(plain);
    lm_replica_close(r);
    return code;
}
