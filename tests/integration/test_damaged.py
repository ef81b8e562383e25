"""integration_damaged: a replica with garbage written over two pages of
its purchases (as a failing flash card does) takes no new money records,
and `lastmile salvage` rebuilds it without losing or duplicating any.
Real processes: one server, agent-li's replica damaged by this script.

- check: exit 3, the damage listed; collect, sync: exit 3, "damaged", the
  file left as it was.
- salvage --db BAD --out NEW: NEW takes a new site id of the same user;
  the server then holds every purchase once, those only the damaged
  replica had (never synced) included; NEW lists them all, nothing queued.
- A second salvage of the same file re-sends nothing.
- Moved into the damaged file's place, the new replica takes purchases.
- On a replica past the quick check's size limit (16 MiB) a write does
  not check, sync does, and every later write checks and refuses.

Fails before the change: collect wrote into the damaged file without a
word, and there was no check or salvage."""
import hashlib
import json
import os
import sqlite3

from lmtest import Agent, agent_li_with_farmer, bulk_insert, check, done, run, tempdir

SYNCED = 400
LOCAL = 10


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def damage(path):
    """Garbage over two leaf pages of collections in the middle of the file
    (rows the server already has); returns their numbers."""
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    leaves = [r[0] for r in con.execute(
        "SELECT pageno FROM dbstat WHERE name = 'collections' AND pagetype = 'leaf' "
        "ORDER BY path")]
    size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    pages = leaves[len(leaves) // 3: len(leaves) // 3 + 2]
    with open(path, "r+b") as f:
        for p in pages:
            f.seek((p - 1) * size)
            f.write(bytes((i * 37 + 11) % 256 for i in range(size)))
    return pages


def server_counts(server):
    return server.rows("SELECT count(*) AS n, count(DISTINCT id) AS d, "
                       "sum(id LIKE 'DM-L-%') AS local FROM collections "
                       "WHERE id LIKE 'DM-%' OR note = 'typed'")[0]


def big_replica(server, tmp):
    """Past LM_CLI_QUICK_CHECK_MAX_PAGES (16 MiB) a write does not check;
    the sync always does, and from then on every write checks."""
    key = server.add_user("agent-big", "agent", ["shangba"])
    big = Agent(tmp, "agent-big")
    big.init(server, key)
    farmer = big.new_id("farmer", "add", "--name", "Big", "--village", "shangba")
    bulk_insert(big, farmer, 65000, "BIG-")
    check(big.status().get("pending_changes", 0) > 65000, "big: purchases queued")
    print("big replica: %.1f MiB" % (os.path.getsize(big.db) / 1048576.0))
    damage(big.db)
    buy = ("collect", "--farmer", farmer, "--product", "corn", "--grade", "A", "--kg", "3",
           "--price", "2.60")
    code, _, err = big.cli(*buy, ok=False)
    check(code == 0, "big: a write past the size limit does not check (%d, %s)" % (code, err))
    code, _, err = big.sync(ok=False)
    check(code == 3 and "damaged" in err, "big: sync checks and refuses (%d)" % code)
    code, _, err = big.cli(*buy, ok=False)
    check(code == 3 and "damaged" in err, "big: from then on writes check and refuse (%d)" % code)


def main():
    with tempdir() as tmp:
        server, li, farmer = agent_li_with_farmer(tmp)
        bulk_insert(li, farmer, SYNCED, "DM-A-")
        check(li.sync()[0] == 0, "purchases synced")
        bulk_insert(li, farmer, LOCAL, "DM-L-")
        typed = li.new_id("collect", "--farmer", farmer, "--product", "corn", "--grade", "A",
                          "--kg", "40", "--price", "2.60", "--note", "typed")
        check(typed is not None, "one purchase typed in")
        check(li.status().get("pending_changes", 0) > 0, "local purchases queued")

        pages = damage(li.db)
        print("garbage over pages %r" % pages)
        before = digest(li.db)
        code, out, err = li.cli("check", ok=False)
        check(code == 3, "check exits 3 on the damaged replica (%d): %s" % (code, err.strip()))
        check("damaged" in out, "check lists the damage: %r" % out[:300])
        code, out, err = li.cli("check", "--json", ok=False)
        check(code == 3 and json.loads(out)["ok"] is False, "check --json says not ok")
        code, _, err = li.cli("collect", "--farmer", farmer, "--product", "corn", "--grade",
                              "A", "--kg", "1", "--price", "2.60", ok=False)
        check(code == 3, "collect refused on the damaged replica (%d)" % code)
        check("damaged" in err and "salvage" in err, "collect says why and what to do: %r" % err)
        print(err.strip())
        code, _, err = li.sync(ok=False)
        check(code == 3 and "damaged" in err, "sync refused on the damaged replica (%d)" % code)
        check(digest(li.db) == before, "the refused commands left the file as it was")

        new = os.path.join(tmp, "li-new.db")
        code, out, err = run([os.environ.get("LASTMILE_BIN", "lastmile"), "salvage", "--db",
                              li.db, "--out", new], ok=False)
        print(out.strip(), err.strip())
        check(code == 0, "salvage exits 0 (%s)" % err.strip())
        check(digest(li.db) == before, "salvage only read the damaged file")
        fresh = Agent(tmp, "li-new")
        st = fresh.status()
        check(st.get("user") == "agent-li" and st.get("pending_changes") == 0,
              "the new replica is agent-li's, nothing queued: %r" % st)
        check(st.get("site") != li.status().get("site"), "the new replica has a new site id")
        n = server_counts(server)
        want = SYNCED + LOCAL + 1
        check(n["n"] == want and n["d"] == want and n["local"] == LOCAL,
              "server holds every purchase once, the unsynced ones included: %r" % n)
        ids = {c["id"] for c in fresh.list("collections")}
        check(typed in ids and len([i for i in ids if i.startswith("DM-")]) == SYNCED + LOCAL,
              "the new replica lists every purchase (%d)" % len(ids))
        check(fresh.cli("check")[0] == 0, "the new replica passes the check")

        again = os.path.join(tmp, "li-again.db")
        code, out, err = run([os.environ.get("LASTMILE_BIN", "lastmile"), "salvage", "--db",
                              li.db, "--out", again, "--json"], ok=False)
        check(code == 0 and json.loads(out)["copied"] == 0,
              "a second salvage re-sends nothing: %r %r" % (out.strip(), err.strip()))
        check(server_counts(server)["n"] == want, "still every purchase once")

        # NEW moved into BAD's place: the mark the checks left is cleared
        # by the next write's check, and the replica works
        check(os.path.exists(li.db + "-damaged"), "the damaged file is marked")
        for suffix in ("-wal", "-shm"):
            if os.path.exists(li.db + suffix):
                os.unlink(li.db + suffix)
        os.replace(new, li.db)
        check(li.new_id("collect", "--farmer", farmer, "--product", "corn", "--grade", "A",
                        "--kg", "2", "--price", "2.60") is not None,
              "the salvaged replica, moved into place, takes purchases")
        check(not os.path.exists(li.db + "-damaged"), "its check cleared the mark")
        big_replica(server, tmp)
        check(server.stop() == 0, "server exits 0")
    done("integration_damaged")


if __name__ == "__main__":
    main()
