"""integration_ledger_rules: the attacks of issue 19 that one valid agent key
can make with plain SQL into its own replica (which the engine captures)
and `lastmile sync`. Each is refused by the server with its reason, kept on
the agent (`lastmile list refusals`), and headquarters' figures stay those
of the honest records:

- ledger values: a weight of INT64_MAX, a negative weight and amount, an
  amount of 10^12 fen for 1 kg at 1.80 yuan, product and grade codes not in
  the catalog (spreadsheet formulas among them), a farmer's name with TAB,
  newline and a terminal escape (also refused by `farmer add` at entry);
- rights: a route stop on another county's route, a loaded stop's weight
  rewritten after the load, a colleague's farmer deleted;
- clocks: a change stamped 9 minutes ahead no longer beats a later real
  edit (clamped at max_clock_ahead_ms, shown in `report agents`);
- a flood of refused changes ends the session at max_refusals_per_session,
  is stored as a few counted rows, and an honest sync right after stays
  fast.
"""
import json
import sqlite3
import time

from lmtest import Agent, Server, amount, check, done, run, tempdir, SERVER

DAY = time.strftime("%Y-%m-%d", time.gmtime())
NOW_MS = int(time.time() * 1000)
FLOOD_CAP = 500


def sql(agent, *statements):
    """Plain SQL into the agent's replica, as another app on the phone would."""
    con = sqlite3.connect(agent.db, timeout=30)
    with con:
        for s in statements:
            con.execute(*s) if isinstance(s, tuple) else con.execute(s)
    con.close()


def collection(agent, cid, farmer, product="potato", grade="A", weight=1000, price=180, amt=None):
    amt = amount(weight, price) if amt is None else amt
    return ("INSERT INTO collections (id, agent_id, farmer_id, village, product, grade,"
            " weight_g, unit_price_fen, amount_fen, collected_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (cid, agent.uid, farmer, "shangba", product, grade, weight, price, amt, NOW_MS))


def refused(agent, table, pk):
    return [r for r in agent.list("refusals") if r["table"] == table and r["pk"] == pk]


def volumes(server):
    rows = server.report("agent")
    return (sum(r["weight_g"] for r in rows), sum(r["amount_fen"] for r in rows),
            sum(r["count"] for r in rows))


def ledger_values(server, li, farmer):
    honest = li.new_id("collect", "--farmer", farmer, "--product", "potato", "--grade", "A",
                       "--kg", "1", "--price", "1.80")
    bad = {
        "HUGE": collection(li, "HUGE", farmer, weight=9223372036854775807, amt=1),
        "NEG": collection(li, "NEG", farmer, weight=-1000, amt=-180),
        "TOOMUCH": collection(li, "TOOMUCH", farmer, weight=1000, price=180, amt=10**12),
        "LINK": collection(li, "LINK", farmer, product='=HYPERLINK("http://x.example","click")'),
        "CMD": collection(li, "CMD", farmer, grade="=cmd|' /C calc'!A0"),
    }
    sql(li, *bad.values())
    sql(li, ("UPDATE farmers SET name = ? WHERE id = ?", ("Li\tmatched 999\n\x1b[31mx", farmer)))
    code, summary, err = li.sync()
    check(code == 0 and summary["refusals"] >= len(bad) + 1, "sync exits 0, refusals counted: %r"
          % (summary,))
    for pk in bad:
        check(refused(li, "collections", pk), "collection %s refused and kept on the agent" % pk)
        check(not server.rows("SELECT 1 FROM collections WHERE id = ?", (pk,)),
              "collection %s is not on the server" % pk)
    why = {r["pk"]: r["reason"] for r in li.list("refusals")}
    check("amount_fen" in why.get("TOOMUCH", ""), "the amount's reason: %r" % why.get("TOOMUCH"))
    check("unknown product" in why.get("LINK", ""), "the product's reason: %r" % why.get("LINK"))
    check(refused(li, "farmers", farmer) and "control character" in why.get(farmer, ""),
          "a name with TAB, newline and escape refused: %r" % why.get(farmer))
    name = server.rows("SELECT name FROM farmers WHERE id = ?", (farmer,))[0]["name"]
    check(name == "Li", "the server keeps the farmer's name: %r" % name)
    check(volumes(server) == (1000, 180, 1), "report volumes holds the honest purchase only: %r"
          % (volumes(server),))
    for args in (["collect", "--farmer", farmer, "--product", "potato", "--grade", "A", "--kg",
                  "1", "--price", "1", "--note", "a\tb"],
                 ["farmer", "add", "--name", "x\x1b[2Jy", "--village", "shangba"]):
        before = li.status().get("pending_changes")
        code, _, err = li.cli(*args, ok=False)
        check(code == 2 and "control character" in err, "entry refuses %s: %d %r" % (args[0], code,
                                                                                   err))
        check(li.status().get("pending_changes") == before, "and writes nothing")
    return honest


def rights(server, li, wang, disp_p, disp_y, farmer):
    # another county's route: agent-li plans itself a stop there
    ry = disp_y.new_id("route", "create", "--date", DAY, "--vehicle", "v", "--driver", "d",
                       "--stops", "baishi:agent-zhao")
    rp = disp_p.new_id("route", "create", "--date", DAY, "--vehicle", "v", "--driver", "d",
                       "--stops", "shangba:agent-li")
    check(disp_y.sync()[0] == 0 and disp_p.sync()[0] == 0 and li.sync()[0] == 0,
          "routes planned and synced")
    sql(li, ("INSERT INTO route_stops (id, route_id, seq, village, agent_id, status)"
             " VALUES ('FAKESTOP', ?, 9, 'baishi', 'agent-li', 'planned')", (ry,)))
    # the loaded stop: 100 kg loaded, then rewritten to 999,999 kg
    con = sqlite3.connect(li.db)
    stop = con.execute("SELECT id FROM route_stops WHERE route_id = ?", (rp,)).fetchone()[0]
    con.close()
    li.cli("stop", "arrive", stop)
    li.cli("stop", "load", stop, "--kg", "100")
    check(li.sync()[0] == 0, "the load synced")
    sql(li, ("UPDATE route_stops SET loaded_weight_g = 999999000 WHERE id = ?", (stop,)))
    # a colleague's farmer in the shared village
    wf = wang.new_id("farmer", "add", "--name", "Wang Wu", "--village", "shangba")
    check(wang.sync()[0] == 0 and li.sync()[0] == 0, "the colleague's farmer reached agent-li")
    sql(li, ("DELETE FROM farmers WHERE id = ?", (wf,)))
    check(li.sync()[0] == 0, "sync after the rights attacks")
    check(refused(li, "route_stops", "FAKESTOP"), "a stop on another county's route refused")
    check(not server.rows("SELECT 1 FROM route_stops WHERE id = 'FAKESTOP'"),
          "no such stop on the server")
    check(disp_y.sync()[0] == 0 and all(s["id"] != "FAKESTOP" for s in disp_y.list("stops")),
          "the other county's dispatcher does not list it")
    got = server.rows("SELECT loaded_weight_g, status FROM route_stops WHERE id = ?", (stop,))[0]
    check(got == {"loaded_weight_g": 100000, "status": "loaded"},
          "the loaded stop keeps its 100 kg: %r" % got)
    check(refused(li, "route_stops", stop), "the rewrite is refused with a reason")
    check(server.rows("SELECT 1 FROM farmers WHERE id = ?", (wf,)), "the colleague's farmer stays")
    check(refused(li, "farmers", wf), "the delete is refused with a reason")


def future_clock(server, li, wang, farmer):
    """agent-li's edit stamped 9 minutes ahead, then agent-wang's real edit
    a moment later: the later edit wins (main: the stamped one did)."""
    check(wang.sync()[0] == 0, "agent-wang has the farmer")
    sql(li, ("UPDATE farmers SET phone = 'li-future' WHERE id = ?", (farmer,)))
    li.status()  # stamps the capture
    ahead = (int(time.time() * 1000) + 9 * 60 * 1000) << 16
    sql(li, ("UPDATE lm_versions SET hlc = ? WHERE pk = ? AND hlc IS NOT NULL AND seq ="
             " (SELECT MAX(seq) FROM lm_versions)", (ahead, farmer)))
    check(li.sync()[0] == 0, "the future-stamped edit synced")
    time.sleep(0.05)
    sql(wang, ("UPDATE farmers SET phone = 'wang-later' WHERE id = ?", (farmer,)))
    check(wang.sync()[0] == 0, "the later real edit synced")
    phone = server.rows("SELECT phone FROM farmers WHERE id = ?", (farmer,))[0]["phone"]
    check(phone == "wang-later", "the later real edit wins: %r" % phone)
    code, out, _ = run([SERVER, "report", "agents", "--db", server.db, "--format", "json"])
    rep = {r["user"]: r for r in json.loads(out)} if code == 0 else {}
    skew = rep.get("agent-li", {}).get("clock_ahead_ms") or 0
    check(8 * 60 * 1000 < skew < 10 * 60 * 1000, "report agents shows the skew: %r" % skew)


def timed_sync(agent):
    t = time.monotonic()
    check(agent.sync()[0] == 0, "%s syncs" % agent.uid)
    return time.monotonic() - t


def flood(server, li, wang, farmer):
    """More refused changes than max_refusals_per_session: the session
    ends, the server stores counts, and an honest sync stays fast."""
    idle = timed_sync(wang)
    con = sqlite3.connect(li.db)
    with con:
        con.execute("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?)"
                    " INSERT INTO collections (id, agent_id, farmer_id, village, product, grade,"
                    " weight_g, unit_price_fen, amount_fen, collected_at)"
                    " SELECT printf('FLOOD%06d', i), 'agent-li', ?, 'shangba', 'potato', 'A',"
                    " 1000, 180, 999, ? FROM k", (4 * FLOOD_CAP, farmer, NOW_MS))
    con.close()
    code, _, err = li.sync(ok=False)
    check(code == 1 and "refused in this session" in err, "the flood's session ends: %d %r"
          % (code, err))
    rows = server.rows("SELECT user, tbl, reason, n FROM lm_refusal_counts")
    check(0 < len(rows) < 20 and sum(r["n"] for r in rows) >= FLOOD_CAP,
          "refusals counted in a few rows: %r" % rows)
    check(server.rows("SELECT COUNT(*) AS n FROM lm_refusals")[0]["n"] == 0,
          "no refusal row per change")
    after = timed_sync(wang)
    print("honest sync: %.3f s idle, %.3f s after the flood" % (idle, after))
    check(after < max(2 * idle, 1.0), "an honest sync after the flood stays fast")


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        keys = {"agent-li": server.add_user("agent-li", "agent", ["shangba"]),
                "agent-wang": server.add_user("agent-wang", "agent", ["shangba"]),
                "disp-pingshan": server.add_user("disp-pingshan", "dispatcher", None, "pingshan"),
                "disp-yunxi": server.add_user("disp-yunxi", "dispatcher", None, "yunxi")}
        server.start(extra=["--max-refusals-per-session", str(FLOOD_CAP)])
        users = {u: Agent(tmp, u) for u in keys}
        for u, a in users.items():
            a.init(server, keys[u])
        li, wang = users["agent-li"], users["agent-wang"]
        farmer = li.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        check(li.sync()[0] == 0, "the farmer synced")
        ledger_values(server, li, farmer)
        rights(server, li, wang, users["disp-pingshan"], users["disp-yunxi"], farmer)
        future_clock(server, li, wang, farmer)
        flood(server, li, wang, farmer)
        check(volumes(server) == (1000, 180, 1), "report volumes unchanged by every attack: %r"
              % (volumes(server),))
        server.stop()
    return done("integration_ledger_rules")


if __name__ == "__main__":
    raise SystemExit(main())
