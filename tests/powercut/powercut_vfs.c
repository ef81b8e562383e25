/*
 * powercut_vfs.c — a SQLite VFS for the power-cut test builds of
 * `lastmile` and `lastmile-server` (tests/integration/test_powercut.py).
 *
 * A process killed with SIGKILL loses nothing the kernel already holds:
 * every write(2) SQLite made is still in the page cache. A power cut loses
 * every write not yet fsync'ed. This VFS wraps the default one and, each
 * time a named file is synced, copies it whole to "<file>.durable": what
 * the disk would hold if the power failed now. The test kills the process
 * and puts the ".durable" copies back (a file never synced is gone), which
 * is the harshest outcome a power cut can have on a disk that honours
 * fsync; SQLite's WAL checksums handle torn writes, so the cases in between
 * add nothing this one misses.
 *
 * Linked into the two test executables only; it registers itself as the
 * default VFS before main() runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct pc_file {
    sqlite3_file base;   /* pMethods: pc_io */
    const char *path;    /* SQLite's own copy, valid until close; NULL = temp */
    sqlite3_file real[]; /* the wrapped VFS's file, szOsFile bytes */
} pc_file;

static sqlite3_vfs *g_real;

/* Copies path to path.durable through a temporary name and rename(2), so
 * a process killed mid-copy leaves the previous durable copy whole. */
static int copy_durable(const char *path)
{
    char dst[4096], tmp[4096 + 16];
    if (snprintf(dst, sizeof dst, "%s.durable", path) >= (int)sizeof dst)
        return SQLITE_IOERR_FSYNC;
    snprintf(tmp, sizeof tmp, "%s.tmp", dst);
    int in = open(path, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return SQLITE_IOERR_FSYNC;
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        close(in);
        return SQLITE_IOERR_FSYNC;
    }
    char buf[65536];
    int rc = SQLITE_OK;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                rc = SQLITE_IOERR_FSYNC;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = SQLITE_IOERR_FSYNC;
                break;
            }
            off += w;
        }
        if (rc)
            break;
    }
    close(in);
    if (close(out) != 0)
        rc = SQLITE_IOERR_FSYNC;
    if (rc == SQLITE_OK && rename(tmp, dst) != 0)
        rc = SQLITE_IOERR_FSYNC;
    if (rc)
        unlink(tmp);
    return rc;
}

#define REAL(f) (((pc_file *)(f))->real)

static int pc_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}

static int pc_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int pc_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int pc_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

/* The one place where data becomes durable. */
static int pc_sync(sqlite3_file *f, int flags)
{
    int rc = REAL(f)->pMethods->xSync(REAL(f), flags);
    const char *path = ((pc_file *)f)->path;
    if (rc == SQLITE_OK && path)
        rc = copy_durable(path);
    return rc;
}

static int pc_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int pc_lock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int pc_unlock(sqlite3_file *f, int level)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int pc_check_reserved(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int pc_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int pc_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int pc_device_chars(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int pc_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int pc_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void pc_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int pc_shm_unmap(sqlite3_file *f, int delete_flag)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

/* Memory-mapped reads stay off (iVersion 2 below), so every read goes
 * through xRead and nothing bypasses this file. */
static const sqlite3_io_methods pc_io = {
    2,
    pc_close,
    pc_read,
    pc_write,
    pc_truncate,
    pc_sync,
    pc_file_size,
    pc_lock,
    pc_unlock,
    pc_check_reserved,
    pc_file_control,
    pc_sector_size,
    pc_device_chars,
    pc_shm_map,
    pc_shm_lock,
    pc_shm_barrier,
    pc_shm_unmap,
    NULL,
    NULL,
};

static int pc_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    pc_file *p = (pc_file *)f;
    p->base.pMethods = NULL;
    p->path = name;
    int rc = g_real->xOpen(g_real, name, p->real, flags, out_flags);
    if (rc == SQLITE_OK)
        p->base.pMethods = &pc_io;
    return rc;
}

/* A deleted file is gone from the disk too: SQLite deletes a WAL or a
 * journal only once what it held is durable elsewhere. */
static int pc_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    (void)vfs;
    int rc = g_real->xDelete(g_real, name, sync_dir);
    char durable[4096];
    if (snprintf(durable, sizeof durable, "%s.durable", name) < (int)sizeof durable)
        unlink(durable);
    return rc;
}

static int pc_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    (void)vfs;
    return g_real->xAccess(g_real, name, flags, out);
}

static int pc_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    (void)vfs;
    return g_real->xFullPathname(g_real, name, n, out);
}

static void *pc_dlopen(sqlite3_vfs *vfs, const char *name)
{
    (void)vfs;
    return g_real->xDlOpen(g_real, name);
}

static void pc_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
    (void)vfs;
    g_real->xDlError(g_real, n, msg);
}

static void (*pc_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    (void)vfs;
    return g_real->xDlSym(g_real, h, sym);
}

static void pc_dlclose(sqlite3_vfs *vfs, void *h)
{
    (void)vfs;
    g_real->xDlClose(g_real, h);
}

static int pc_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return g_real->xRandomness(g_real, n, out);
}

static int pc_sleep(sqlite3_vfs *vfs, int us)
{
    (void)vfs;
    return g_real->xSleep(g_real, us);
}

static int pc_current_time(sqlite3_vfs *vfs, double *out)
{
    (void)vfs;
    return g_real->xCurrentTime(g_real, out);
}

static int pc_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    (void)vfs;
    return g_real->xGetLastError(g_real, n, out);
}

static int pc_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    (void)vfs;
    return g_real->xCurrentTimeInt64(g_real, out);
}

static sqlite3_vfs pc_vfs = {
    .iVersion = 2,
    .zName = "lm-powercut",
    .xOpen = pc_open,
    .xDelete = pc_delete,
    .xAccess = pc_access,
    .xFullPathname = pc_full_pathname,
    .xDlOpen = pc_dlopen,
    .xDlError = pc_dlerror,
    .xDlSym = pc_dlsym,
    .xDlClose = pc_dlclose,
    .xRandomness = pc_randomness,
    .xSleep = pc_sleep,
    .xCurrentTime = pc_current_time,
    .xGetLastError = pc_last_error,
    .xCurrentTimeInt64 = pc_current_time64,
};

__attribute__((constructor)) static void pc_register(void)
{
    g_real = sqlite3_vfs_find(NULL);
    if (!g_real || g_real->iVersion < 2) {
        fputs("powercut_vfs: no default VFS to wrap\n", stderr);
        abort();
    }
    pc_vfs.szOsFile = (int)sizeof(pc_file) + g_real->szOsFile;
    pc_vfs.mxPathname = g_real->mxPathname;
    if (sqlite3_vfs_register(&pc_vfs, 1) != SQLITE_OK) {
        fputs("powercut_vfs: cannot register\n", stderr);
        abort();
    }
}
