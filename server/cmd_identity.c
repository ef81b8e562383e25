/*
 * cmd_identity.c — `lastmile-server identity show|rotate`: the server's
 * own key and its rotation without visiting every device.
 *
 *   identity rotate           stages a new key: DB.next.key / DB.next.crt.
 *                             A running server announces its fingerprint
 *                             in every WELCOME from now on (read per login,
 *                             no restart), inside the channel the device's
 *                             current pin authenticated; each device that
 *                             syncs stores it as its next pin.
 *   identity rotate --finish  the switch: DB.key / DB.crt become DB.old.*,
 *                             DB.next.* become DB.key / DB.crt. Restart
 *                             serve: it presents the new identity, devices
 *                             that stored it move their pin on the first
 *                             session; a device that did not sync during
 *                             the window is refused with the pin error,
 *                             which tells it to enrol again.
 *   identity rotate --abort   drops the staged key (devices drop their next
 *                             pin at their next sync).
 *   identity show             the current (and staged) fingerprints, and
 *                             while a rotation is staged the users with no
 *                             session since it was staged.
 */
#include <errno.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "identity.h"
#include "srvdb.h"
#include "args.h"

static const char usage[] =
    "usage: lastmile-server identity show --db PATH\n"
    "       lastmile-server identity rotate --db PATH [--finish | --abort]\n"
    "\n"
    "show      prints the server's fingerprint (sha256 of its certificate), and\n"
    "          while a rotation is staged the next one and the users who have\n"
    "          not synced since it was staged (they would have to enrol again).\n"
    "rotate    stages a new key (DB.next.key, DB.next.crt). The running server\n"
    "          announces its fingerprint to every device that syncs, inside the\n"
    "          channel the device's pin authenticated; the device stores it.\n"
    "--finish  switches: the current key becomes DB.old.key / DB.old.crt, the\n"
    "          staged one DB.key / DB.crt. Restart serve to present it. Devices\n"
    "          that synced during the window follow; the others are refused\n"
    "          with a message to enrol again (user rekey).\n"
    "--abort   drops the staged key.\n";

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int
fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lastmile-server identity: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

static void print_fp(const char *what, const uint8_t fp[LM_FINGERPRINT_SIZE])
{
    char hex[LM_FINGERPRINT_HEX_SIZE];
    lm_fingerprint_hex(fp, hex);
    printf("%s sha256 %s\n", what, hex);
}

/* Users (not revoked) whose devices no WELCOME has told the staged
 * fingerprint fp: a session that began before the stage and ended after it
 * does not count, a session of the window does. */
static int print_laggards(const char *db, const uint8_t fp[LM_FINGERPRINT_SIZE])
{
    lm_replica *r;
    char err[512];
    if (lm__server_db_open(db, 0, 0, &r, err, sizeof err) != LM_OK)
        return fail("%s", err);
    /* a file last served by an older build gets next_pin_sent here */
    if (lm__srvdb_ensure_schema(lm_replica_db(r), err, sizeof err) != LM_OK) {
        lm_replica_close(r);
        return fail("%s", err);
    }
    sqlite3_stmt *st = NULL;
    int n = 0;
    if (sqlite3_prepare_v2(lm_replica_db(r),
                           "SELECT id FROM lm_users WHERE revoked = 0 AND pubkey IS NOT NULL"
                           " AND (next_pin_sent IS NULL OR next_pin_sent <> ?1) ORDER BY id",
                           -1, &st, NULL) != SQLITE_OK) {
        snprintf(err, sizeof err, "%s", sqlite3_errmsg(lm_replica_db(r)));
        lm_replica_close(r);
        return fail("reading the users: %s", err);
    }
    sqlite3_bind_blob(st, 1, fp, LM_FINGERPRINT_SIZE, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        printf("%s%s",
               n++ ? " " : "not synced since staged: ", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    lm_replica_close(r);
    printf(n ? "\n" : "every enrolled user has synced since it was staged\n");
    return 0;
}

static int show(const char *db)
{
    char key[1100], cert[1100], err[512];
    uint8_t fp[LM_FINGERPRINT_SIZE];
    int settled = 0;
    if (lm__identity_settle(db, &settled, err, sizeof err) != LM_OK)
        return fail("%s", err);
    if (settled)
        printf("finished a key switch that was cut short (identity rotate --finish)\n");
    if (lm__identity_paths(db, key, cert) != LM_OK)
        return fail("database path too long");
    if (access(cert, F_OK) != 0)
        return fail("%s has no identity yet (run lastmile-server init --db %s)", db, db);
    if (lm_identity_fingerprint(cert, fp, err, sizeof err) != LM_OK)
        return fail("%s", err);
    print_fp("current", fp);
    int has = 0;
    lm__identity_next(db, &has, fp);
    if (!has) {
        printf("no rotation staged\n");
        return 0;
    }
    print_fp("next   ", fp);
    return print_laggards(db, fp);
}

static int stage(const char *db)
{
    char key[1100], cert[1100], err[512];
    uint8_t fp[LM_FINGERPRINT_SIZE];
    int created = 0;
    /* the current identity must exist: it authenticates the announcement */
    if (lm__identity_ensure(db, &created, fp, err, sizeof err) != LM_OK)
        return fail("%s", err);
    if (lm__identity_next_paths(db, key, cert) != LM_OK)
        return fail("database path too long");
    int has = 0;
    uint8_t next[LM_FINGERPRINT_SIZE];
    lm__identity_next(db, &has, next);
    if (has || access(key, F_OK) == 0 || access(cert, F_OK) == 0)
        return fail("a rotation is already staged (%s): finish it with --finish or drop it "
                    "with --abort",
                    cert);
    if (lm_identity_create(key, cert, err, sizeof err) != LM_OK)
        return fail("%s", err);
    lm_identity_fingerprint(cert, next, err, sizeof err);
    print_fp("current", fp);
    print_fp("next   ", next);
    printf("staged: every device that syncs from now on learns the next identity; when they\n"
           "have (identity show lists who has not), run identity rotate --finish and restart "
           "serve\n");
    return 0;
}

static int finish(const char *db)
{
    char key[1100], cert[1100], nkey[1100], ncert[1100], okey[1100], ocert[1100];
    uint8_t fp[LM_FINGERPRINT_SIZE];
    if (lm__identity_paths(db, key, cert) != LM_OK || lm__identity_next_paths(db, nkey, ncert) ||
        lm__identity_old_paths(db, okey, ocert))
        return fail("database path too long");
    char err[512];
    int has = 0, settled = 0;
    if (lm__identity_settle(db, &settled, err, sizeof err) != LM_OK)
        return fail("%s", err);
    if (settled) {
        printf("finished a key switch that was cut short; restart lastmile-server serve\n");
        return 0;
    }
    lm__identity_next(db, &has, fp);
    if (!has)
        return fail("no rotation is staged (%s is missing): start one with identity rotate", ncert);
    if (access(key, F_OK) != 0 || access(cert, F_OK) != 0)
        return fail("the current identity (%s) is incomplete", key);
    /* The retired identity is kept (an operator may have to step back);
     * a rotation before this one's retired files are replaced. The journal
     * makes the four renames one step: cut anywhere, the next command that
     * reads the identity finishes them (identity.h). */
    if (lm__identity_begin_switch(db, err, sizeof err) != LM_OK ||
        lm__identity_settle(db, &settled, err, sizeof err) != LM_OK)
        return fail("%s (the next identity command or serve takes the switch up again)", err);
    print_fp("current", fp);
    printf("switched: restart lastmile-server serve to present the new identity; the old one "
           "is kept as %s\n",
           okey);
    return 0;
}

static int abort_rotation(const char *db)
{
    char key[1100], cert[1100], err[512];
    int settled = 0;
    /* a switch cut short is finished, not undone: its renames had begun */
    if (lm__identity_settle(db, &settled, err, sizeof err) != LM_OK)
        return fail("%s", err);
    if (settled)
        return fail("a key switch that was cut short has just been finished: nothing is staged "
                    "any more; restart lastmile-server serve");
    if (lm__identity_next_paths(db, key, cert) != LM_OK)
        return fail("database path too long");
    if (access(key, F_OK) != 0 && access(cert, F_OK) != 0)
        return fail("no rotation is staged");
    unlink(key);
    unlink(cert);
    printf("dropped the staged identity\n");
    return 0;
}

int lm__cmd_identity(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0) {
        fputs(usage, argc < 1 ? stderr : stdout);
        return argc < 1 ? 2 : 0;
    }
    const char *sub = argv[0];
    const char *db = NULL;
    int fin = 0, abt = 0;
    lm_opt opts[] = {{"db", LM_OPT_VALUE, &db, NULL},
                     {"finish", LM_OPT_FLAG, NULL, &fin},
                     {"abort", LM_OPT_FLAG, NULL, &abt}};
    int is_show = strcmp(sub, "show") == 0;
    if (!is_show && strcmp(sub, "rotate") != 0) {
        fprintf(stderr, "lastmile-server identity: unknown subcommand '%s' (show, rotate)\n", sub);
        return 2;
    }
    int prc = lm_args_run(
        argc - 1, argv + 1, opts, is_show ? 1 : 3,
        is_show ? "lastmile-server identity show" : "lastmile-server identity rotate", usage, "db");
    if (prc != LM_ARGS_GO)
        return prc;
    if (access(db, F_OK) != 0)
        return fail("%s: no such database (run lastmile-server init --db %s)", db, db);
    if (is_show)
        return show(db);
    if (fin && abt) {
        fprintf(stderr,
                "lastmile-server identity rotate: --finish and --abort exclude each other\n");
        return 2;
    }
    return fin ? finish(db) : abt ? abort_rotation(db) : stage(db);
}
