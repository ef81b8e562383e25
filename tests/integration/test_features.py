"""integration_features: what the handshake agrees on for the bytes of a
sync (issue 18, item 7), against the real binaries over TLS.

HELLO names the features a client has; WELCOME grants those the server
has: 2, the session deflate stream; 4, its 32 KiB window (the server's
stream_window_kib); 8, integers in change lists as deltas. An older build
is played by the client's test hook LASTMILE_TEST_HELLO_FEATURES, which
masks what it announces.

1. Three agents of one village push 300 purchases each: one as a build
   before the window and the deltas (features 1|2), one with the window
   only (1|2|4), one as today (all). Each is granted what it asked for
   (the server's debug log) and the server holds every purchase exactly as
   the replica does. Two dispatchers of the county, one old and one new,
   pull all 900 (CHANGES without and with deltas) and hold them exactly as
   the server does.
2. Each purchase's note is one of 40 random 200-character texts, so a
   note last appeared some 12 KB back in the stream: out of reach of the
   8 KiB window, in reach of the 32 KiB one. The window-only push costs
   well under the old one on the wire (bytes_in of its session).
3. The server restarted with --stream-window-kib 8 does not grant the
   window; today's client then deflates with 8 KiB (had it kept 32 KiB,
   the server could not inflate the notes' references, and the sync would
   fail) and its next 300 purchases arrive exact.
4. --stream-window-kib 16 is refused with a clear error (exit 2).
"""
import os
import random
import re
import sqlite3
import time

from lmtest import CLI, SERVER, Agent, Server, check, done, run, tempdir

ROWS = 300
NOW_MS = int(time.time() * 1000)  # purchases are of the last hour: never in the future
COLUMNS = ("id, agent_id, farmer_id, village, product, grade, weight_g, unit_price_fen, "
           "amount_fen, collected_at, note")
_rng = random.Random(18)
NOTES = ["".join(_rng.choice("abcdefghijklmnopqrstuvwxyz ") for _ in range(200))
         for _ in range(40)]


def record(agent, farmer, tag, first_ms):
    """ROWS purchases in one transaction of plain SQL (captured by the
    replica's triggers), collected a few ms apart."""
    con = sqlite3.connect(agent.db)
    with con:
        for i in range(ROWS):
            w = 1000 + 7 * i
            con.execute("INSERT INTO collections (%s) VALUES (?,?,?,?,?,?,?,?,?,?,?)" % COLUMNS,
                        ("%s%06d" % (tag, i), agent.uid, farmer, "shangba",
                         ("potato", "corn", "apple")[i % 3], "B", w, 250, (w * 250 + 500) // 1000,
                         first_ms + 37 * i, NOTES[i % len(NOTES)]))
    con.close()


def rows_of(db, where=""):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return sorted(con.execute("SELECT %s FROM collections %s" % (COLUMNS, where)).fetchall())
    finally:
        con.close()


def sync(agent, mask, what):
    env = dict(os.environ)
    if mask is not None:
        env["LASTMILE_TEST_HELLO_FEATURES"] = str(mask)
    code, _, err = run([CLI, "sync", "--db", agent.db], ok=False, env=env)
    check(code == 0, "%s: %s syncs (%s)" % (what, agent.uid, err.strip()[-300:]))


def granted(server, uid):
    """The features of uid's sessions, in the order of the debug log."""
    return [int(m, 16) for m in re.findall(r" %s authenticated, .* features (0x[0-9a-f]+)"
                                          % re.escape(uid), server.log())]


def bytes_in(server, uid):
    return [int(m) for m in re.findall(r"session end user=%s .*? bytes_in=(\d+)"
                                       % re.escape(uid), server.log())]


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        # (name, mask announced: None = all the client has)
        plan = [("agent-old", 1 | 2), ("agent-window", 1 | 2 | 4), ("agent-new", None)]
        keys = {uid: server.add_user(uid, "agent", ["shangba"]) for uid, _ in plan}
        dispatchers = [("disp-old", 1 | 2), ("disp-new", None)]
        for uid, _ in dispatchers:
            keys[uid] = server.add_user(uid, "dispatcher", county="pingshan")
        server.start(extra=["--log-level", "debug"])
        agents = {}
        for n, (uid, mask) in enumerate(plan):
            a = Agent(tmp, uid)
            check(a.init(server, keys[uid])[0] == 0, "%s enrols" % uid)
            farmer = a.new_id("farmer", "add", "--name", "Li " + uid, "--village", "shangba")
            sync(a, mask, "farmer")
            record(a, farmer, uid + "-", NOW_MS - 3600000 + n * 100000)
            agents[uid] = a

        # 1, 2: each pushes its day with what it announces
        for uid, mask in plan:
            sync(agents[uid], mask, "case 1 push")
            mine = "WHERE id LIKE '%s-%%'" % uid
            check(rows_of(server.db, mine) == rows_of(agents[uid].db, mine),
                  "case 1: the server holds %s's %d purchases exactly" % (uid, ROWS))
        every = rows_of(server.db)
        check(len(every) == 3 * ROWS, "case 1: the server holds %d purchases" % len(every))
        for uid, mask in dispatchers:
            d = Agent(tmp, uid)
            env = {"LASTMILE_TEST_HELLO_FEATURES": str(mask)} if mask is not None else {}
            code, _, err = run([CLI, "init", "--server", server.address, "--user", uid,
                                "--enrol", keys[uid], "--db", d.db], ok=False,
                               env=dict(os.environ, **env))
            check(code == 0, "case 1: %s enrols and pulls (%s)" % (uid, err.strip()[-300:]))
            sync(d, mask, "case 1 pull")
            check(rows_of(d.db) == every,
                  "case 1: %s holds every purchase exactly as the server does" % uid)
        want = {"agent-old": 0x2, "agent-window": 0x6, "agent-new": 0xe, "disp-old": 0x2,
                "disp-new": 0xe}
        for uid in want:
            # an agent's first session (its init) was today's client
            got = granted(server, uid)[1 if uid.startswith("agent") else 0:]
            check(got and all(g == want[uid] for g in got),
                  "case 1: %s is granted 0x%x (%r)" % (uid, want[uid], [hex(g) for g in got]))
        pushed = {uid: max(bytes_in(server, uid)) for uid, _ in plan}
        print("features: bytes in of each push session: %r" % pushed)
        check(pushed["agent-window"] * 10 < pushed["agent-old"] * 8,
              "case 2: the 32 KiB window reaches the notes 12 KB back: %d B against %d B"
              % (pushed["agent-window"], pushed["agent-old"]))
        check(pushed["agent-new"] < pushed["agent-old"],
              "case 2: today's client sends less than the old one")

        # 3: a server that keeps 8 KiB windows
        port = server.port
        server.stop()
        server.start(port=port, extra=["--log-level", "debug", "--stream-window-kib", "8"])
        new = agents["agent-new"]
        farmer = new.new_id("farmer", "add", "--name", "Wang", "--village", "shangba")
        record(new, farmer, "agent-new-day2-", NOW_MS - 1800000)
        sync(new, None, "case 3")
        check(granted(server, "agent-new")[-1] == 0xa,
              "case 3: no window granted, deltas still (%r)" % granted(server, "agent-new")[-1:])
        day2 = "WHERE id LIKE 'agent-new-day2-%'"
        check(len(rows_of(server.db, day2)) == ROWS and
              rows_of(server.db, day2) == rows_of(new.db, day2),
              "case 3: the second day arrives exact through an 8 KiB window")
        server.stop()

        # 4: a window the protocol does not know
        code, out, err = run([SERVER, "serve", "--db", server.db, "--listen", "127.0.0.1:0",
                              "--stream-window-kib", "16"], ok=False)
        check(code == 2 and "stream_window_kib" in err,
              "case 4: --stream-window-kib 16 is refused (%d, %s)" % (code, err.strip()))
    return done("integration_features")


if __name__ == "__main__":
    raise SystemExit(main())
