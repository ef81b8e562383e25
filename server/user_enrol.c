/*
 * user_enrol.c — what `user add`, `user add --csv` and `user rekey` share
 * (user_cmd.h): the one-time enrolment string, its QR code, the server's
 * fingerprint it carries, the database the user commands open.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <qrencode.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmds.h"
#include "identity.h"
#include "srvdb.h"
#include "user_cmd.h"

/* "30m", "12h", "7d" (or plain seconds) -> ms; 0 when malformed. */
uint64_t lm__user_parse_duration(const char *text)
{
    char *end = NULL;
    if (!text || *text < '0' || *text > '9')
        return 0;
    unsigned long long v = strtoull(text, &end, 10);
    uint64_t unit = 1000;
    if (*end == 'm')
        unit = 60 * 1000;
    else if (*end == 'h')
        unit = 3600 * 1000;
    else if (*end == 'd')
        unit = 24 * 3600 * 1000;
    else if (*end == 's')
        unit = 1000;
    else if (*end)
        return 0;
    if (*end && end[1])
        return 0;
    if (v == 0 || v > 366ull * 24 * 3600)
        return 0;
    return v * unit;
}

/* The enrolment string as a QR code (libqrencode, level L, 8-bit mode:
 * what `qrencode -t ANSIUTF8` makes of it) on stdout: two modules per
 * character cell, the upper one the foreground colour of an upper half
 * block, the lower one its background, black on white whatever the
 * terminal's own colours, a quiet zone of QR_MARGIN modules. */
#define QR_MARGIN 2
static void print_qr(const char *text)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
    if (!q) {
        fprintf(stderr,
                "lastmile-server user: cannot make a QR code of the string (%s); "
                "type it instead\n",
                strerror(errno));
        return;
    }
    int n = q->width, side = n + 2 * QR_MARGIN;
    for (int y = 0; y < side; y += 2) {
        for (int x = 0; x < side; x++) {
            int dark[2];
            for (int k = 0; k < 2; k++) {
                int my = y + k - QR_MARGIN, mx = x - QR_MARGIN;
                dark[k] = my >= 0 && my < n && mx >= 0 && mx < n && (q->data[my * n + mx] & 1);
            }
            /* 30/40 black, 37/47 white */
            printf("\x1b[%d;%dm\xe2\x96\x80", dark[0] ? 30 : 37, dark[1] ? 40 : 47);
        }
        printf("\x1b[0m\n");
    }
    QRcode_free(q);
}

/* A new token for user id: its hash and expiry stored (in the caller's
 * transaction) and the enrolment string (server address, fingerprint fp,
 * token) in text. LM_OK, else the reason on stderr. */
int lm__user_make_enrolment(sqlite3 *sdb, const uint8_t fp[LM_FINGERPRINT_SIZE], const char *cmd,
                            const char *id, const char *address, uint64_t expires_ms,
                            char text[LM_ENROL_TEXT_MAX])
{
    lm_enrolment e;
    memset(&e, 0, sizeof e);
    memcpy(e.fingerprint, fp, sizeof e.fingerprint);
    if (lm_random_bytes(e.token, sizeof e.token) != LM_OK) {
        fprintf(stderr, "lastmile-server user %s: no random bytes for the token\n", cmd);
        return LM_EIO;
    }
    snprintf(e.user, sizeof e.user, "%s", id);
    snprintf(e.address, sizeof e.address, "%s", address ? address : "");
    uint8_t hash[32];
    SHA256(e.token, sizeof e.token, hash);
    sqlite3_stmt *st = NULL;
    int rc = LM_EDB;
    if (lm_enrol_encode(&e, text) != LM_OK ||
        sqlite3_prepare_v2(sdb,
                           "UPDATE lm_users SET enrol_hash = ?2, enrol_expires = ?3 WHERE id = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, hash, sizeof hash, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(lm__now_ms() + expires_ms));
    if (sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(sdb) == 1)
        rc = LM_OK;
    sqlite3_finalize(st);
out:
    OPENSSL_cleanse(&e, sizeof e);
    if (rc != LM_OK)
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, sqlite3_errmsg(sdb));
    return rc;
}

/* The server's certificate fingerprint (made with the identity when
 * missing). */
int lm__user_server_fp(const char *db_path, const char *cmd, uint8_t fp[LM_FINGERPRINT_SIZE])
{
    char err[512] = "";
    int created = 0;
    if (lm__identity_ensure(db_path, &created, fp, err, sizeof err) != LM_OK) {
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, err);
        return LM_EIO;
    }
    return LM_OK;
}

/* A new token for user: its hash and expiry stored (in the caller's
 * transaction), the enrolment string printed as the last stdout line
 * (after its QR code when qr, or when stdout is a terminal). */
int lm__user_issue_enrolment(sqlite3 *sdb, const char *db_path, const char *cmd, const char *id,
                             const char *address, uint64_t expires_ms, int qr)
{
    uint8_t fp[LM_FINGERPRINT_SIZE];
    char text[LM_ENROL_TEXT_MAX];
    int rc = lm__user_server_fp(db_path, cmd, fp);
    if (rc == LM_OK)
        rc = lm__user_make_enrolment(sdb, fp, cmd, id, address, expires_ms, text);
    if (rc != LM_OK)
        return rc;
    fprintf(stderr,
            "give this enrolment string to %s's device (lastmile init --enrol ...); it "
            "works once, within %llu h, and is not shown again\n",
            id, (unsigned long long)(expires_ms / 3600000u));
    if (qr || isatty(STDOUT_FILENO))
        print_qr(text);
    printf("%s\n", text);
    OPENSSL_cleanse(text, sizeof text);
    return LM_OK;
}

/* Opens the server database and makes sure the server tables exist. */
int lm__user_open_db(const char *path, lm_replica **r, const char *cmd)
{
    char err[512] = "";
    int rc = lm__server_db_open(path, 0, 0, r, err, sizeof err);
    if (rc == LM_OK)
        rc = lm__srvdb_ensure_schema(lm_replica_db(*r), err, sizeof err);
    if (rc != LM_OK) {
        fprintf(stderr, "lastmile-server user %s: %s\n", cmd, *err ? err : lm_strerror(rc));
        lm_replica_close(*r);
        *r = NULL;
    }
    return rc;
}
