/*
 * identity.h — where the server's own identity lives: next to the database,
 * DB.key (Ed25519 private key, 0600) and DB.crt (its self-signed
 * certificate). Agents pin the certificate's SHA-256. The key is not in the
 * database, so a copy of server.db cannot impersonate the server.
 */
#ifndef LM_SERVER_IDENTITY_H
#define LM_SERVER_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#include "lm_net.h"

/* DB.key and DB.crt; LM_EINVAL when the path is too long. */
int lm__identity_paths(const char *db, char key[1100], char cert[1100]);
/* Makes the identity unless both files exist (*created = 1 when made);
 * fills fp. One file without the other is an error naming both. */
int lm__identity_ensure(const char *db, int *created, uint8_t fp[LM_FINGERPRINT_SIZE], char *err,
                        size_t err_size);

/* The staged next identity of a rotation (lastmile-server identity
 * rotate): DB.next.key and DB.next.crt; DB.old.key / DB.old.crt keep the
 * retired one once the rotation is finished. */
int lm__identity_next_paths(const char *db, char key[1100], char cert[1100]);
int lm__identity_old_paths(const char *db, char key[1100], char cert[1100]);
/* *has = 1 and fp when a next identity is staged (both files there and the
 * certificate readable), else *has = 0. */
void lm__identity_next(const char *db, int *has, uint8_t fp[LM_FINGERPRINT_SIZE]);

/* The switch of a rotation (identity rotate --finish) is four renames:
 * DB.key/.crt -> DB.old.*, then DB.next.* -> DB.key/.crt. Begin writes the
 * journal DB.rotating (made durable) that says the switch is under way;
 * settle, when the journal is there, does whichever renames are left and
 * removes it (*settled = 1), so a switch cut by a crash at any point is
 * finished by the next command that reads the identity (serve, init, user,
 * identity) instead of leaving a key without its certificate. */
int lm__identity_begin_switch(const char *db, char *err, size_t err_size);
int lm__identity_settle(const char *db, int *settled, char *err, size_t err_size);

#endif
