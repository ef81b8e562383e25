/*
 * agent_sync_client_test.c — the sync client's failure modes against fake
 * servers on loopback: nothing listening (refused), a server that accepts
 * but never answers (I/O timeout), one that sends an over-long frame header
 * one that is not TLS where TLS is expected, and one that hangs up before
 * WELCOME. Each must fail with one clear
 * reason, leave the replica's queued work untouched, close its loop and leak
 * nothing; a session that gave up resets its connection rather than closing
 * it. Also the HOST:PORT parser.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lm_test.h"
#include "sync_client.h"

/* A listening socket on 127.0.0.1 with a kernel-chosen port. */
static int listen_any(int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

/* A fake server in a child process: accepts one connection, writes reply
 * (may be empty), then hangs up. */
static pid_t serve_once(int fd, const void *reply, size_t len)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int c = accept(fd, NULL, NULL);
    if (c >= 0) {
        if (len && write(c, reply, len) < 0)
            _exit(1);
        struct timespec nap = {0, 200 * 1000 * 1000};
        nanosleep(&nap, NULL);
        close(c);
    }
    _exit(0);
}

/* Accepts the connection a client left in fd's backlog and reads it to
 * the end: 1 when it ends in a reset (what the client had not sent yet is
 * dropped), 0 when it ends in order (EOF after all of it), -1 otherwise. */
static int peer_sees_reset(int fd)
{
    int c = accept(fd, NULL, NULL);
    if (c < 0)
        return -1;
    struct timeval limit = {5, 0};
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    char buf[4096];
    ssize_t n;
    while ((n = read(c, buf, sizeof buf)) > 0)
        ;
    int result = n == 0 ? 0 : errno == ECONNRESET ? 1 : -1;
    close(c);
    return result;
}

typedef struct fixture {
    char dir[64], path[96], key[104];
    lm_replica *r;
    uint64_t pending;
} fixture;

static int fixture_open(fixture *f)
{
    char err[128];
    lm_replica_options o;
    memset(&o, 0, sizeof o);
    o.create = 1;
    snprintf(f->dir, sizeof f->dir, "/tmp/lm-sync-client-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/a.db", f->dir);
    if (lm_replica_open(f->path, &o, &f->r, err, sizeof err) != LM_OK)
        return -1;
    snprintf(f->key, sizeof f->key, "%s.key", f->path);
    lm_device_key *k = NULL;
    if (lm_device_key_create(f->key, &k, err, sizeof err) != LM_OK)
        return -1;
    lm_device_key_free(k);
    /* Queue some local work: it must survive every failed session. */
    sqlite3 *db = lm_replica_db(f->r);
    char id[LM_ID_SIZE], sql[256];
    if (lm_replica_new_id(f->r, id) != LM_OK)
        return -1;
    snprintf(sql, sizeof sql,
             "INSERT INTO farmers (id, name, village, registered_poor) "
             "VALUES ('%s', 'Li', 'shangba', 1)",
             id);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != 0)
        return -1;
    return lm_replica_pending_count(f->r, &f->pending);
}

static void fixture_close(fixture *f)
{
    char name[128];
    lm_replica_close(f->r);
    static const char *const suffix[] = {"", "-wal", "-shm", ".key"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "%s%s", f->path, suffix[i]);
        unlink(name);
    }
    rmdir(f->dir);
}

static int synchronous_of(lm_replica *r)
{
    sqlite3_stmt *st = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(lm_replica_db(r), "PRAGMA synchronous", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Runs one session against server (HOST:PORT) and checks the outcome. */
static void expect_failure_tls(fixture *f, const char *server, int tls, int want_rc,
                               const char *needle)
{
    lm_sync_config cfg;
    lm_sync_stats st;
    char err[256];
    memset(&cfg, 0, sizeof cfg);
    cfg.server = server;
    cfg.user = "agent-li";
    cfg.connect_timeout_ms = 2000;
    cfg.io_timeout_ms = 300;
    cfg.key_path = f->key;
    cfg.insecure_plaintext = !tls; /* the fake servers speak plain bytes */

    lm_test_heap_install(0);
    int rc = lm_sync_client_run(f->r, &cfg, &st, err, sizeof err);
    lm_test_heap_check_clean(needle);
    CHECK_RC(rc, want_rc);
    if (!strstr(err, needle)) {
        lm_test_failures++;
        fprintf(stderr, "error '%s' does not mention '%s'\n", err, needle);
    }
    CHECK(strchr(err, '\n') == NULL);
    CHECK_EQ_INT(st.pushed_changes, 0);
    /* the session commits without syncing the WAL; a failed one too must
     * leave the replica's own writes durable again (synchronous FULL) */
    CHECK_EQ_INT(synchronous_of(f->r), 2);
    uint64_t pending = 0;
    CHECK_RC(lm_replica_pending_count(f->r, &pending), LM_OK);
    CHECK_EQ_INT(pending, f->pending);
}

static void expect_failure(fixture *f, const char *server, int want_rc, const char *needle)
{
    expect_failure_tls(f, server, 0, want_rc, needle);
}

int main(void)
{
    fixture f;
    char server[64];
    int port, status;
    memset(&f, 0, sizeof f);
    if (fixture_open(&f) != 0) {
        fprintf(stderr, "cannot set up a replica\n");
        return 1;
    }
    CHECK(f.pending > 0);

    /* Accepted by the kernel's backlog, never answered: I/O timeout. */
    int fd = listen_any(&port);
    CHECK(fd >= 0);
    snprintf(server, sizeof server, "127.0.0.1:%d", port);
    expect_failure(&f, server, LM_ETIMEDOUT, "timed out");
    /* The abandoned connection is reset, not closed: a closed one would
     * still deliver its unsent bytes once a cut link came back. */
    CHECK_EQ_INT(peer_sees_reset(fd), 1);

    /* A frame header announcing 4 GiB: refused before any body arrives.
     * Each fake server gets a fresh socket so no stale connection from the
     * case before sits in its backlog. */
    static const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 2, 0};
    close(fd);
    fd = listen_any(&port);
    snprintf(server, sizeof server, "127.0.0.1:%d", port);
    pid_t child = serve_once(fd, huge, sizeof huge);
    expect_failure(&f, server, LM_ETOOBIG, "bad frame");
    CHECK(waitpid(child, &status, 0) == child);

    /* Not TLS where TLS is expected: the handshake fails, in words. */
    close(fd);
    fd = listen_any(&port);
    snprintf(server, sizeof server, "127.0.0.1:%d", port);
    child = serve_once(fd, huge, sizeof huge);
    expect_failure_tls(&f, server, 1, LM_ENET, "TLS failed");
    CHECK(waitpid(child, &status, 0) == child);

    /* Hangs up before WELCOME. */
    close(fd);
    fd = listen_any(&port);
    snprintf(server, sizeof server, "127.0.0.1:%d", port);
    child = serve_once(fd, NULL, 0);
    expect_failure(&f, server, LM_ENET, "connection"); /* EOF or reset */
    CHECK(waitpid(child, &status, 0) == child);

    /* Nobody listening any more: refused. */
    close(fd);
    expect_failure(&f, server, LM_ENET, "cannot connect");
    expect_failure(&f, "127.0.0.1", LM_EINVAL, "HOST:PORT");

    fixture_close(&f);
    return lm_test_done("agent_sync_client");
}
