"""integration_restore: an agent restores its replica from an older copy
(issue 20's walk-through) and records a purchase on it before its first
sync. Real processes: one server, agent-li's replica and a copy of its
file taken after a sync.

The server already has more of this site's changes than the restored
file ever counted, so the sync takes a fresh site id (one line says so)
and sends what the copy recorded under it: the purchase reaches the
server once, every purchase is there once, nothing stays queued, and the
restored replica lists every purchase whole (no row made of nothing but
the server's received_at stamp).

Fails before the change: `sync` said "pushed 0 changes", exit 0, the
purchase never left, and two rows of nothing but received_at appeared."""
import os
import shutil

from lmtest import agent_li_with_farmer, check, done, tempdir

BUY = ("--product", "corn", "--grade", "A", "--price", "2.60")


def main():
    with tempdir() as tmp:
        server, li, farmer = agent_li_with_farmer(tmp)
        first = [li.new_id("collect", "--farmer", farmer, "--kg", "10", *BUY) for _ in range(2)]
        check(li.sync()[0] == 0, "sync before the backup")
        backup = os.path.join(tmp, "backup.db")
        shutil.copy(li.db, backup)  # the CLI's last close checkpointed the WAL
        site = li.status().get("site")
        later = [li.new_id("collect", "--farmer", farmer, "--kg", "20", *BUY) for _ in range(2)]
        check(li.sync()[0] == 0, "sync after the backup")

        for suffix in ("-wal", "-shm"):
            if os.path.exists(li.db + suffix):
                os.unlink(li.db + suffix)
        shutil.copy(backup, li.db)
        corn = li.new_id("collect", "--farmer", farmer, "--kg", "40", *BUY)
        check(li.status().get("pending_changes", 0) > 0, "the new purchase is queued")
        code, summary, err = li.sync(ok=False)
        check(code == 0, "the restored replica syncs (%s)" % err.strip())
        check(err.count("restored or copied") == 1, "one line says what happened: %r" % err)
        print(err.strip())
        st = li.status()
        check(st.get("site") != site, "it goes on under a new site id")
        check(st.get("pending_changes") == 0, "nothing left queued: %r" % st)

        ids = first + later + [corn]
        rows = server.rows("SELECT id, weight_g FROM collections")
        on_server = [r["id"] for r in rows]
        for i in ids:
            check(on_server.count(i) == 1, "server holds %s once" % i)
        check(len(on_server) == len(ids), "nothing else on the server: %d" % len(on_server))
        check([r["weight_g"] for r in rows if r["id"] == corn] == [40000],
              "the 40 kg purchase reached the server")
        mine = li.list("collections")
        check(sorted(c["id"] for c in mine) == sorted(ids),
              "the restored replica lists every purchase: %r" % [c["id"] for c in mine])
        check(all(c["farmer_id"] and c["weight_g"] for c in mine),
              "no phantom rows: %r" % [c for c in mine if not c["farmer_id"]])

        # later syncs are ordinary
        code, summary, err = li.sync(ok=False)
        check(code == 0 and "restored" not in err, "the next sync is quiet (%s)" % err.strip())
        check(li.new_id("collect", "--farmer", farmer, "--kg", "5", *BUY) is not None, "collect")
        check(li.sync()[0] == 0 and li.status().get("pending_changes") == 0, "and syncs")
        check(len(server.rows("SELECT id FROM collections")) == len(ids) + 1, "once")
        check(server.stop() == 0, "server exits 0")
    done("integration_restore")


if __name__ == "__main__":
    main()
