/*
 * auth_watch.c — ends the open sessions of a user who was revoked,
 * unrevoked or rekeyed (by `lastmile-server user ...`, another process)
 * within a second.
 *
 * Those commands bump lm_users.auth_gen past every other value. Every
 * AUTH_POLL_MS a reader job asks for the users whose auth_gen is above the
 * highest seen so far (an index-free scan of a table of hundreds of rows,
 * some microseconds); each session of such a user that logged in under an
 * older generation is ended with ERROR LM_EAUTH.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "server.h"
#include "srvdb.h"

#define AUTH_POLL_MS 250u
#define CHANGED_MAX 64u /* per poll; more are seen at the next one */

typedef struct watch_job {
    lm_store_job base;
    lm_server *srv;
    int64_t after;
    struct {
        char user[LM_USER_ID_MAX + 1];
        int64_t gen;
    } changed[CHANGED_MAX];
    unsigned n;
} watch_job;

static void watch_run(lm_store_job *job, lm_replica *r)
{
    watch_job *j = (watch_job *)job;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(lm_replica_db(r),
                           "SELECT id, auth_gen FROM lm_users WHERE auth_gen > ?1"
                           " ORDER BY auth_gen LIMIT ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, j->after);
    sqlite3_bind_int(st, 2, (int)CHANGED_MAX);
    while (j->n < CHANGED_MAX && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(j->changed[j->n].user, sizeof j->changed[j->n].user, "%s",
                 (const char *)sqlite3_column_text(st, 0));
        j->changed[j->n].gen = sqlite3_column_int64(st, 1);
        j->n++;
    }
    sqlite3_finalize(st);
}

static void watch_done(lm_store_job *job, int status)
{
    watch_job *j = (watch_job *)job;
    lm_server *srv = j->srv;
    srv->auth_busy = 0;
    srv->auth_polls++;
    for (unsigned i = 0; i < j->n; i++) {
        if (j->changed[i].gen > srv->auth_seen)
            srv->auth_seen = j->changed[i].gen;
        lm__session_auth_changed(srv, j->changed[i].user, j->changed[i].gen);
    }
    lm_free(j);
}

static void poll_cb(uv_timer_t *t)
{
    lm_server *srv = t->data;
    if (srv->auth_busy || srv->stopping)
        return;
    watch_job *j = lm_calloc(1, sizeof *j);
    if (!j)
        return; /* the next tick tries again */
    j->srv = srv;
    j->after = srv->auth_seen;
    j->base.run = watch_run;
    j->base.done = watch_done;
    srv->auth_busy = 1;
    lm__store_submit(srv->store, &j->base, 0);
}

void lm__auth_watch_start(lm_server *srv)
{
    uv_timer_init(srv->loop, &srv->auth_timer);
    srv->auth_timer.data = srv;
    uv_timer_start(&srv->auth_timer, poll_cb, 0, AUTH_POLL_MS);
}

static void noop_close_cb(uv_handle_t *h)
{
}

void lm__auth_watch_stop(lm_server *srv)
{
    uv_close((uv_handle_t *)&srv->auth_timer, noop_close_cb);
}
