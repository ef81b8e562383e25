"""integration_big_rows: rows whose values do not deflate and together
outgrow a frame. An agent writes 120 collections with a note of 60,000
random characters each (plain SQL; the CLI limits notes) between ordinary
ones. Such a row deflates to about 50 KB, so a batch at the 2 MiB budget the
client reaches after a few fast acks would frame at about 1.7 MB, over the
1 MiB frame limit: the client must read it again in smaller batches. The
sync must end fully synced, every note arriving intact. Then one value over
the protocol's 64 KiB limit: the sync must fail with a message naming the
row and column, keep the row queued, and the server must go on serving;
once the value is shortened the row must travel whole.
Last, a server whose max_frame is 192 KiB, below the protocol's 1 MiB: its
WELCOME says so, and the client's PUSH frames must stay within it (four
such rows already pass it)."""
import hashlib
import random
import string

from lmtest import Agent, agent_li_with_farmer, check, done, run, tempdir

BIG = 120
SMALL = 40
NOTE_CHARS = 60000
ALPHABET = (string.ascii_letters + string.digits + string.punctuation).replace("'", "")


def insert_sql(agent, farmer, rows):
    """One plain-SQL transaction inserting rows [(id, note)]."""
    values = ",".join(
        "('%s', '%s', '%s', 'shangba', 'potato', 'B', 1000, 250, 250, %d, '%s')"
        % (cid, agent.uid, farmer, 1700000000000 + i, note) for i, (cid, note) in enumerate(rows))
    return ("BEGIN; INSERT INTO collections (id, agent_id, farmer_id, village, product, grade, "
            "weight_g, unit_price_fen, amount_fen, collected_at, note) VALUES %s; COMMIT;" % values)


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()


def big_rows(rng, n_big, n_small):
    """[(id, note)]: every fourth row small, the others NOTE_CHARS random."""
    rows = []
    for i in range(n_big + n_small):
        big = i % 4 != 3
        note = "".join(rng.choice(ALPHABET) for _ in range(NOTE_CHARS)) if big else "small"
        rows.append(("BIGROW%020d" % i, note))
    return rows


def sync_arrives_intact(server, agent, farmer, rows, what):
    run(["/usr/bin/sqlite3", agent.db], stdin=insert_sql(agent, farmer, rows))
    code, _, err = agent.sync(ok=False)
    check(code == 0, "%s: the sync with large rows exits 0 (%s)" % (what, err.strip()))
    check(agent.status().get("pending_changes") == 0, "%s: nothing is left queued" % what)
    held = {r["id"]: r for r in server.rows(
        "SELECT id, note, length(note) AS n FROM collections WHERE id LIKE 'BIGROW%'")}
    check(len(held) == len(rows),
          "%s: the server holds all %d rows (%d)" % (what, len(rows), len(held)))
    for cid, note in rows:
        got = held.get(cid)
        check(got is not None and got["n"] == len(note) and digest(got["note"]) == digest(note),
              "%s: %s arrives intact" % (what, cid))


def main():
    rng = random.Random(20261202)
    with tempdir() as tmp:
        server, agent, farmer = agent_li_with_farmer(tmp)
        sync_arrives_intact(server, agent, farmer, big_rows(rng, BIG, SMALL), "1 MiB frames")

        # One value over the protocol's limit: refused by the client itself.
        huge = "".join(rng.choice(ALPHABET) for _ in range(70000))
        run(["/usr/bin/sqlite3", agent.db],
            stdin=insert_sql(agent, farmer, [("HUGEROW0000000000000000001", huge)]))
        code, _, err = agent.sync(ok=False)
        check(code != 0, "a value over the limit fails the sync (exit %d)" % code)
        check("HUGEROW0000000000000000001" in err and "its note holds 70000 bytes" in err,
              "the error names the row and column: %r" % err.strip())
        check(agent.status().get("pending_changes", 0) > 0, "the row stays queued")
        check(server.alive(), "the server keeps serving")
        other = Agent(tmp, "agent-zhao")
        key = server.add_user("agent-zhao", "agent", ["shangba"])
        check(other.init(server, key)[0] == 0, "another agent still syncs")
        # The way out: shorten the value; the row then travels whole.
        run(["/usr/bin/sqlite3", agent.db],
            stdin="UPDATE collections SET note = substr(note, 1, 1000) "
                  "WHERE id = 'HUGEROW0000000000000000001';")
        code, _, err = agent.sync(ok=False)
        check(code == 0, "once shortened, the row syncs (%s)" % err.strip())
        check(agent.status().get("pending_changes") == 0, "nothing is left queued")
        got = server.rows("SELECT note, weight_g FROM collections "
                          "WHERE id = 'HUGEROW0000000000000000001'")
        check(len(got) == 1 and got[0]["note"] == huge[:1000] and got[0]["weight_g"] == 1000,
              "the server holds the row with the shortened note")
        check(server.stop() == 0, "server exits 0")

    with tempdir() as tmp:
        server, agent, farmer = agent_li_with_farmer(tmp, extra=("--max-frame", str(192 << 10)))
        sync_arrives_intact(server, agent, farmer, big_rows(rng, 40, 12), "192 KiB frames")
        check(server.stop() == 0, "server exits 0")
    done("integration_big_rows")


if __name__ == "__main__":
    main()
