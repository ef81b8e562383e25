"""integration_checkpoint: the server copies its WAL into the database file
on a connection of its own, on the thread pool, once a batch leaves
--checkpoint-pages in the WAL (the writer's own automatic checkpoint is
off: it made batches wait for the copy). With a small threshold a few
thousand records must start such checkpoints (the debug log says so, and
the database file grows while the server runs), lose nothing and
duplicate nothing. A reader holding a snapshot pins the WAL: the writer
then checkpoints inside its commits and warns once. After SIGTERM the last
close folds the rest of the WAL in, and the database alone holds every
record."""
import os
import re
import sqlite3

from lmtest import agent_li_with_farmer, bulk_insert, check, done, tempdir, use_server

ROUNDS = 3
ROWS = 1500
CKPT = re.compile(r"checkpoint: (\d+) of (\d+) WAL pages")


def count(server):
    """(rows, distinct ids) of this test's collections in the server's file."""
    r = server.rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM collections "
                    "WHERE id LIKE 'CKPT%'")[0]
    return (r["n"], r["d"])


def main():
    with tempdir() as tmp:
        server, a, farmer = agent_li_with_farmer(
            tmp, ["--checkpoint-pages", "100", "--log-level", "debug"])
        size_before = os.path.getsize(server.db)

        for r in range(ROUNDS):
            bulk_insert(a, farmer, ROWS, "CKPT%d-" % r)
            code, _, err = a.sync(ok=False)
            check(code == 0, "round %d: sync exits 0 (%s)" % (r, err.strip()))

        log = server.log()
        runs = [(int(d), int(n)) for d, n in CKPT.findall(log)]
        print("background checkpoints: %d, pages copied %d; writer's own: %d"
              % (len(runs), sum(d for d, _ in runs), log.count("checkpointing in the writer")))
        check(any(d > 0 for d, _ in runs), "background checkpoints copied pages: %r" % runs[:5])
        check("checkpoint failed" not in log, "no checkpoint failed")
        grown = os.path.getsize(server.db) - size_before
        check(grown > 256 * 1024,
              "the database file grew while the server ran (%d bytes): pages were copied" % grown)
        # A reader holding one snapshot pins the WAL: no checkpoint can
        # finish, so it grows past 4 x 100 pages and the writer checkpoints
        # inside its commits, saying so once, not per batch.
        pin = sqlite3.connect(server.db, isolation_level=None, timeout=30)
        pin.execute("BEGIN")
        pin.execute("SELECT count(*) FROM collections").fetchone()
        for r in range(ROUNDS, ROUNDS + 2):
            bulk_insert(a, farmer, ROWS, "CKPT%d-" % r)
            code, _, err = a.sync(ok=False)
            check(code == 0, "round %d, WAL pinned: sync exits 0 (%s)" % (r, err.strip()))
        pin.execute("COMMIT")
        pin.close()
        forced = server.log().count("checkpointing in the writer")
        check(forced == 1, "WAL pinned: the writer says once that it checkpoints (%d)" % forced)
        want = ((ROUNDS + 2) * ROWS, (ROUNDS + 2) * ROWS)
        check(count(server) == want, "server holds each record once: %r" % (count(server),))
        check(a.status().get("pending_changes") == 0, "nothing left queued on the agent")

        check(server.stop() == 0, "server exits 0 on SIGTERM")
        wal = server.db + "-wal"
        check(not os.path.exists(wal) or os.path.getsize(wal) == 0,
              "the last close folded the WAL into the database")
        check(count(server) == want, "after the stop the database alone holds every record")

        server.start()
        use_server(a, server.address)
        code, _, err = a.sync(ok=False)
        check(code == 0, "sync after a restart (%s)" % err.strip())
        check(count(server) == want, "still each record once after the restart")
        check(server.stop() == 0, "server exits 0")
    done("integration_checkpoint")


if __name__ == "__main__":
    main()
