"""integration_dates: impossible dates are refused by every command that
takes one (price set --from, route create/suggest --date, points --date,
report reconcile/poverty --from/--to), with a clear reason and nothing
written; a purchase dated a year ahead (a phone clock a year ahead,
written by plain SQL) is refused by the server's ledger rules (times at
most a day past its clock), so `report volumes --by day` and `report
agents` count no future-dated purchase and the refusal is reported; and
`collect` warns when the clock was more than a day off the server's at the
last sync."""
import json
import sqlite3

from lmtest import Agent, Server, check, done, run, tempdir, SERVER

BAD = ("2026-02-30", "2026-13-01", "2025-02-29", "2026-1-01", "26-01-01", "1999-12-31")


def refused(code, err, what):
    check(code == 2 and err.count("\n") == 1 and "--" in err,
          "%s refused with one line: %d %r" % (what, code, err))


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start()
        a = Agent(tmp, "agent-li")
        a.init(server, key)
        prices = server.rows("SELECT COUNT(*) AS n FROM prices")[0]["n"]
        for bad in BAD + ("2020-01-01", "2031-01-01"):
            if bad != "2020-01-01":  # a past price is history, a far future one a slip
                code, _, err = run([SERVER, "price", "set", "--db", server.db, "--product",
                                    "potato", "--grade", "A", "--price", "1.80", "--from", bad],
                                   ok=False)
                refused(code, err, "price set --from " + bad)
            code, _, err = a.cli("route", "create", "--date", bad, "--vehicle", "T1", "--driver",
                                 "Zhang", "--stops", "shangba", ok=False)
            refused(code, err, "route create --date " + bad)
        check("has no such day in that month" in err or "too far" in err, "says why: %r" % err)
        check(server.rows("SELECT COUNT(*) AS n FROM prices")[0]["n"] == prices,
              "no price written")
        check(a.list("routes") == [], "no route written")
        for bad in BAD:
            code, _, err = a.cli("points", "--date", bad, ok=False)
            refused(code, err, "points --date " + bad)
            code, _, err = a.cli("route", "suggest", "--date", bad, "--capacity-kg", "100",
                                 ok=False)
            refused(code, err, "route suggest --date " + bad)
            for report in ("reconcile", "poverty"):
                for opt in ("--from", "--to"):
                    code, out, err = run([SERVER, "report", report, "--db", server.db, opt, bad],
                                         ok=False)
                    refused(code, err, "report %s %s %s" % (report, opt, bad))
                    check(out == "", "nothing printed")
        code, _, _ = a.cli("points", "--date", "2028-02-29")
        check(code == 0, "a leap day is a date")

        farmer = a.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba")
        cid = a.new_id("collect", "--farmer", farmer, "--product", "potato", "--grade", "A",
                       "--kg", "10", "--price", "1.80")
        con = sqlite3.connect(a.db)
        with con:  # the same purchase from a phone whose clock is a year ahead
            con.execute("INSERT INTO collections (id, agent_id, farmer_id, village, product,"
                        " grade, weight_g, unit_price_fen, amount_fen, collected_at)"
                        " SELECT 'AHEAD', agent_id, farmer_id, village, product, grade, weight_g,"
                        " unit_price_fen, amount_fen, collected_at + 366 * 86400000"
                        " FROM collections WHERE id = ?", (cid,))
        con.close()
        check(a.sync()[0] == 0, "sync")
        days = server.report("day")
        check(len(days) == 1 and days[0].get("future_dated") == 0,
              "the year-ahead purchase is not in the figures: %r" % days)
        refusals = [r for r in a.list("refusals") if r.get("pk") == "AHEAD"]
        check(refusals and all(r.get("table") == "collections" for r in refusals),
              "the agent sees its year-ahead purchase refused: %r" % refusals)
        code, out, _ = run([SERVER, "report", "agents", "--db", server.db, "--format", "json"])
        rows = json.loads(out) if code == 0 else []
        check([(r.get("future_dated"), r.get("refusals", 0) > 0) for r in rows] == [(0, True)],
              "report agents: refused, not future-dated: %r" % rows)

        # The agent is told at entry: its clock was a year ahead at the last sync.
        args = ("collect", "--farmer", farmer, "--product", "potato", "--grade", "A", "--kg", "1",
                "--price", "1.80")
        code, _, err = a.cli(*args)
        check(code == 0 and "clock" not in err, "no warning with a right clock: %r" % err)
        con = sqlite3.connect(a.db)
        with con:
            con.execute("UPDATE lm_meta SET value = ? WHERE key = 'clock_offset'",
                        (str(-366 * 86400000),))
        con.close()
        code, _, err = a.cli(*args)
        check(code == 0 and "clock was 8784 hours ahead of the server's" in err,
              "warned of a clock a year ahead: %r" % err)
        server.stop()
    done("integration_dates")


if __name__ == "__main__":
    main()
