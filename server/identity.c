/* identity.c — the server identity's files (see identity.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"

static int paths_with(const char *db, const char *infix, char key[1100], char cert[1100]);

int lm__identity_paths(const char *db, char key[1100], char cert[1100])
{
    return paths_with(db, "", key, cert);
}

static int paths_with(const char *db, const char *infix, char key[1100], char cert[1100])
{
    if ((size_t)snprintf(key, 1100, "%s%s.key", db, infix) >= 1100 ||
        (size_t)snprintf(cert, 1100, "%s%s.crt", db, infix) >= 1100)
        return LM_EINVAL;
    return LM_OK;
}

int lm__identity_next_paths(const char *db, char key[1100], char cert[1100])
{
    return paths_with(db, ".next", key, cert);
}

int lm__identity_old_paths(const char *db, char key[1100], char cert[1100])
{
    return paths_with(db, ".old", key, cert);
}

void lm__identity_next(const char *db, int *has, uint8_t fp[LM_FINGERPRINT_SIZE])
{
    char key[1100], cert[1100], err[256];
    *has = lm__identity_next_paths(db, key, cert) == LM_OK && access(key, F_OK) == 0 &&
           access(cert, F_OK) == 0 && lm_identity_fingerprint(cert, fp, err, sizeof err) == LM_OK;
}

int lm__identity_ensure(const char *db, int *created, uint8_t fp[LM_FINGERPRINT_SIZE], char *err,
                        size_t err_size)
{
    char key[1100], cert[1100];
    *created = 0;
    if (lm__identity_paths(db, key, cert) != LM_OK) {
        snprintf(err, err_size, "database path too long");
        return LM_EINVAL;
    }
    int has_key = access(key, F_OK) == 0, has_cert = access(cert, F_OK) == 0;
    if (has_key != has_cert) {
        snprintf(err, err_size,
                 "server identity incomplete: %s %s but %s %s (restore both from a backup)", key,
                 has_key ? "exists" : "is missing", cert, has_cert ? "exists" : "is missing");
        return LM_EIO;
    }
    if (!has_key) {
        int rc = lm_identity_create(key, cert, err, err_size);
        if (rc != LM_OK)
            return rc;
        *created = 1;
    }
    return lm_identity_fingerprint(cert, fp, err, err_size);
}
