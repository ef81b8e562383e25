"""security_site_binding: agent B, logged in with its own enrolled key,
names agent A's site id in HELLO (the poisoning of the review: an empty
PUSH up to 2^62 would freeze A's uploads). The server refuses the session
before any PUSH, A's watermark does not move, and A's purchase and farmer
recorded afterwards reach the server."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import Agent, Server, check, done, run, tempdir  # noqa: E402


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key_a = server.add_user("agent-a", "agent", ["shangba"])
        key_b = server.add_user("agent-b", "agent", ["shangba"])
        server.start()
        a, b = Agent(tmp, "agent-a"), Agent(tmp, "agent-b")
        a.init(server, key_a)
        b.init(server, key_b)
        farmer = a.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        check(a.sync()[0] == 0, "A syncs")
        import sqlite3
        con = sqlite3.connect(a.db)
        site_a = con.execute("SELECT value FROM lm_meta WHERE key = 'site'").fetchone()[0]
        con.close()
        check(site_a, "A's site id is known (B sees it in the changes it pulls)")
        wm = server.rows("SELECT * FROM lm_watermarks") if server.rows(
            "SELECT name FROM sqlite_master WHERE name = 'lm_watermarks'") else None

        # B takes A's site id.
        run(["/usr/bin/sqlite3", b.db,
             "UPDATE lm_meta SET value = '%s' WHERE key = 'site'" % site_a])
        code, _, err = b.sync(ok=False)
        check(code != 0 and "belongs to another user" in err,
              "B's HELLO with A's site is refused: %r" % err)
        if wm is not None:
            check(server.rows("SELECT * FROM lm_watermarks") == wm, "no watermark moved")

        a.new_id("farmer", "add", "--name", "Wang", "--village", "shangba")
        coll = a.new_id("collect", "--farmer", farmer, "--product", "potato", "--grade", "B",
                        "--kg", "20", "--price", "1.50")
        code, summary, err = a.sync()
        check(code == 0, "A syncs after the attempt: %s" % err)
        check(a.status().get("pending_changes") == 0, "nothing of A's is left queued")
        check(len(server.rows("SELECT id FROM collections WHERE id = ?", (coll,))) == 1,
              "A's purchase reached the server")
        check(len(server.rows("SELECT id FROM farmers WHERE name = 'Wang'")) == 1,
              "A's new farmer reached the server")
        check(server.stop() == 0, "server exits 0")
    done("security_site_binding")


if __name__ == "__main__":
    main()
