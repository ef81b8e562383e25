/*
 * user_cmd.h — the pieces the user commands share (server/cmd_user.c,
 * cmd_user_batch.c, user_enrol.c). Each prints its own error as
 * "lastmile-server user CMD: ..." on stderr.
 */
#ifndef LM_SERVER_USER_CMD_H
#define LM_SERVER_USER_CMD_H

#include <sqlite3.h>
#include <stdint.h>

#include "lm_net.h"
#include "lm_sync.h"

#define EXPIRES_DEFAULT_MS (7ull * 24 * 3600 * 1000)

/* "30m", "12h", "7d" (or plain seconds) -> ms; 0 when malformed. */
uint64_t lm__user_parse_duration(const char *text);
/* A new token for user id: its hash and expiry stored (in the caller's
 * transaction) and the enrolment string (server address, fingerprint fp,
 * token) in text. LM_OK, else the reason on stderr. */
int lm__user_make_enrolment(sqlite3 *sdb, const uint8_t fp[LM_FINGERPRINT_SIZE], const char *cmd,
                            const char *id, const char *address, uint64_t expires_ms,
                            char text[LM_ENROL_TEXT_MAX]);
/* The server's certificate fingerprint (made with the identity when
 * missing). */
int lm__user_server_fp(const char *db_path, const char *cmd, uint8_t fp[LM_FINGERPRINT_SIZE]);
/* lm__user_make_enrolment, then the string printed as the last stdout line
 * (after its QR code when qr, or when stdout is a terminal). */
int lm__user_issue_enrolment(sqlite3 *sdb, const char *db_path, const char *cmd, const char *id,
                             const char *address, uint64_t expires_ms, int qr);
/* Opens the server database and makes sure the server tables exist. */
int lm__user_open_db(const char *path, lm_replica **r, const char *cmd);
/* `user add --csv FILE` (cmd_user_batch.c). Exit code 0/1. */
int lm__user_add_csv(const char *db, const char *path, const char *address, uint64_t expires_ms,
                     int json);

#endif
