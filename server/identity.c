/* identity.c — the server identity's files (see identity.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
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

/* Makes the renames and removals in db's directory durable. */
static int sync_dir(const char *db)
{
    char copy[1100];
    snprintf(copy, sizeof copy, "%s", db);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int lm__identity_begin_switch(const char *db, char *err, size_t err_size)
{
    char journal[1100];
    if ((size_t)snprintf(journal, sizeof journal, "%s.rotating", db) >= sizeof journal) {
        snprintf(err, err_size, "database path too long");
        return LM_EINVAL;
    }
    int fd = open(journal, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int ok = fd >= 0 && fsync(fd) == 0;
    if (fd >= 0)
        close(fd);
    if (!ok || sync_dir(db) != 0) {
        snprintf(err, err_size, "cannot write %s: %s", journal, strerror(errno));
        return LM_EIO;
    }
    return LM_OK;
}

/* Test hook: LASTMILE_TEST_ROTATE_CRASH_AFTER=k ends the process after the
 * switch's k-th rename (0: right after the journal is written), as a power
 * cut would. */
static void maybe_crash(int done)
{
    const char *at = getenv("LASTMILE_TEST_ROTATE_CRASH_AFTER");
    if (at && *at && atoi(at) == done)
        _exit(3);
}

/* One rename of the switch, when its source is still there. */
static int step(const char *from, const char *to, int *done, char *err, size_t err_size)
{
    if (access(from, F_OK) != 0)
        return LM_OK;
    if (rename(from, to) != 0) {
        snprintf(err, err_size, "cannot rename %s to %s: %s", from, to, strerror(errno));
        return LM_EIO;
    }
    maybe_crash(++*done);
    return LM_OK;
}

int lm__identity_settle(const char *db, int *settled, char *err, size_t err_size)
{
    char journal[1100], key[1100], cert[1100], nkey[1100], ncert[1100], okey[1100], ocert[1100];
    *settled = 0;
    if ((size_t)snprintf(journal, sizeof journal, "%s.rotating", db) >= sizeof journal ||
        lm__identity_paths(db, key, cert) || lm__identity_next_paths(db, nkey, ncert) ||
        lm__identity_old_paths(db, okey, ocert)) {
        snprintf(err, err_size, "database path too long");
        return LM_EINVAL;
    }
    if (access(journal, F_OK) != 0)
        return LM_OK;
    maybe_crash(0);
    /* Each step is done only while its source is still there, so a switch
     * cut anywhere (this one included) is taken up where it stopped: the
     * current pair is retired while the next one waits, then the next one
     * becomes current. */
    int done = 0, rc = LM_OK;
    if (access(nkey, F_OK) == 0)
        rc = step(key, okey, &done, err, err_size);
    if (rc == LM_OK && access(ncert, F_OK) == 0)
        rc = step(cert, ocert, &done, err, err_size);
    if (rc == LM_OK)
        rc = step(nkey, key, &done, err, err_size);
    if (rc == LM_OK)
        rc = step(ncert, cert, &done, err, err_size);
    if (rc != LM_OK)
        return rc;
    if (sync_dir(db) != 0 || unlink(journal) != 0 || sync_dir(db) != 0) {
        snprintf(err, err_size, "cannot finish the switch (%s): %s", journal, strerror(errno));
        return LM_EIO;
    }
    *settled = 1;
    return LM_OK;
}

int lm__identity_ensure(const char *db, int *created, uint8_t fp[LM_FINGERPRINT_SIZE], char *err,
                        size_t err_size)
{
    char key[1100], cert[1100];
    int settled = 0;
    *created = 0;
    /* a key switch cut by a crash is finished before anyone reads the key */
    int src = lm__identity_settle(db, &settled, err, err_size);
    if (src != LM_OK)
        return src;
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
