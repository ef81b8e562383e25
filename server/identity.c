/* identity.c — the server identity's files (see identity.h). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "identity.h"

int lm__identity_paths(const char *db, char key[1100], char cert[1100])
{
    if ((size_t)snprintf(key, 1100, "%s.key", db) >= 1100 ||
        (size_t)snprintf(cert, 1100, "%s.crt", db) >= 1100)
        return LM_EINVAL;
    return LM_OK;
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
