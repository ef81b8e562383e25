"""integration_drop: the server is killed (SIGKILL) in the middle of a large
push; after a restart the next sync resumes, and the server ends up with
every record exactly once, the replica with nothing queued."""
import signal
import subprocess
import time

from lmtest import CLI, agent_li_with_farmer, bulk_insert, check, done, tempdir

ROWS = 1500


def main():
    with tempdir() as tmp:
        server, a, farmer = agent_li_with_farmer(tmp)

        interrupted = 0
        for attempt, tag in enumerate(("BULKA0", "BULKB0")):
            bulk_insert(a, farmer, ROWS, tag)
            sync = subprocess.Popen([CLI, "sync", "--json", "--db", a.db],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # Kill the server once the first batches landed: wait until the
            # server holds some but (very likely) not all of this round.
            deadline = time.time() + 60
            while time.time() < deadline and sync.poll() is None:
                have = server.rows("SELECT count(*) AS n FROM collections WHERE id LIKE ?",
                                   (tag + "%",))[0]["n"]
                if have > 0:
                    break
                time.sleep(0.01)
            server.stop(signal.SIGKILL)
            out, err = sync.communicate(timeout=90)
            if sync.returncode != 0:
                interrupted += 1
                check(err.startswith("lastmile: sync: ") and "queued" in err,
                      "interrupted sync says what is queued: %r" % err)
            server.start(server.port)
            code, summary, _ = a.sync()
            check(code == 0, "sync after the restart succeeds (round %d)" % attempt)
            n = server.rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM collections "
                            "WHERE id LIKE ?", (tag + "%",))[0]
            check(n["n"] == ROWS and n["d"] == ROWS,
                  "round %d: server holds each of %d records once: %r" % (attempt, ROWS, n))
            check(a.status().get("pending_changes") == 0, "nothing left queued")
        print("syncs interrupted mid-push: %d of 2" % interrupted)
        check(interrupted > 0, "at least one kill landed mid-sync")

        want_w = sum(2 * (1000 + i) for i in range(1, ROWS + 1))
        report = server.report("agent")
        got = {r["agent"]: r["weight_g"] for r in report}
        check(got.get("agent-li") == want_w, "report weight %r == %d" % (got, want_w))
        mine = sorted(c["id"] for c in a.list("collections"))
        theirs = sorted(c["id"] for c in server.rows("SELECT id FROM collections"))
        check(mine == theirs, "replica and server hold the same collections")
        check(server.stop() == 0, "server exits 0")
    done("integration_drop")


if __name__ == "__main__":
    main()
