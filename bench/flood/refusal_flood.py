#!/usr/bin/env python3
"""A refusal flood and what it costs an honest agent (issue 19).

agent-li writes ROWS collections in a village that is not its own (plain
SQL into its replica: the server refuses every cell of them, on main as on
this branch) and runs `lastmile sync` SESSIONS times; agent-wang, of the
same village, syncs before (idle) and after the flood. Prints the flood's
sessions, the server's refusal rows, its database + WAL size, and the
honest agent's sync time before and after.

    python3 bench/flood/refusal_flood.py [--rows N] [--sessions N]

Binaries: LASTMILE_BIN and LASTMILE_SERVER_BIN (a Release build, say
build-rel/); every process it starts is stopped by lmtest.
"""
import argparse
import os
import sqlite3
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from lmtest import Agent, Server, check, done, tempdir  # noqa: E402


def timed_sync(agent, ok=True):
    t = time.monotonic()
    code, _, err = agent.sync(ok=ok)
    return time.monotonic() - t, code, err.strip().splitlines()[-1:] if err else []


def size_mb(path):
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s)) / 1e6


def refusal_rows(server):
    con = sqlite3.connect("file:%s?mode=ro" % server.db, uri=True)
    rows = con.execute("SELECT COUNT(*) FROM lm_refusals").fetchone()[0]
    try:
        counted = con.execute("SELECT COUNT(*), SUM(n) FROM lm_refusal_counts").fetchone()
    except sqlite3.OperationalError:
        counted = (0, 0)
    tombs = con.execute("SELECT COUNT(*) FROM lm_versions WHERE cid = 0").fetchone()[0]
    con.close()
    return rows, counted, tombs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--sessions", type=int, default=10)
    args = ap.parse_args()
    with tempdir() as tmp:
        server = Server(tmp)
        li_key = server.add_user("agent-li", "agent", ["shangba"])
        wang_key = server.add_user("agent-wang", "agent", ["shangba"])
        server.start()
        li, wang = Agent(tmp, "agent-li"), Agent(tmp, "agent-wang")
        li.init(server, li_key)
        wang.init(server, wang_key)
        farmer = wang.new_id("farmer", "add", "--name", "Wang", "--village", "shangba")
        idle = [timed_sync(wang)[0] for _ in range(3)]
        con = sqlite3.connect(li.db)
        with con:
            con.execute("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k"
                        " WHERE i < ?) INSERT INTO collections (id, agent_id, farmer_id, village,"
                        " product, grade, weight_g, unit_price_fen, amount_fen, collected_at)"
                        " SELECT printf('FLOOD%08d', i), 'agent-li', ?, 'baishi', 'potato', 'A',"
                        " 1000, 180, 180, 1700000000000 FROM k", (args.rows, farmer))
        con.close()
        t = time.monotonic()
        last = None
        for _ in range(args.sessions):
            _, code, last = timed_sync(li, ok=False)
        flood_s = time.monotonic() - t
        after = [timed_sync(wang)[0] for _ in range(3)]
        rows, counted, tombs = refusal_rows(server)
        print("flood: %d rows x 10 cells, %d sessions in %.1f s; last: %s"
              % (args.rows, args.sessions, flood_s, last))
        print("server: %d lm_refusals rows, lm_refusal_counts %r, %d tombstones, %.1f MB db+wal"
              % (rows, counted, tombs, size_mb(server.db)))
        print("honest sync: idle %s s, after the flood %s s"
              % (" ".join("%.3f" % x for x in idle), " ".join("%.3f" % x for x in after)))
        check(min(after) < 2 * max(idle) + 0.05, "honest sync within 2x its idle time")
        server.stop()
    return done("refusal_flood")


if __name__ == "__main__":
    raise SystemExit(main())
