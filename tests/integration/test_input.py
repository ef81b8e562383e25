"""integration_input: bad CLI input (negative, zero, non-numeric or
over-precise numbers; unknown farmer, product, grade, collection; missing
options) exits non-zero with one clear line and writes nothing; good input
is stored exactly (grams, fen, amount rounded half up). Values past the
per-record bounds are refused, and a server database holding such values
(written by plain SQL) makes report volumes fail without partial output."""
import json
import sqlite3

from lmtest import Agent, Server, amount, check, done, run, tempdir, CLI, SERVER


def snapshot(agent):
    return (agent.status().get("pending_changes"), agent.list("farmers"),
            agent.list("collections"), agent.list("gradings"), agent.list("adjustments"))


def check_report_overflow(server, cid):
    """Rows only plain SQL can write (past lastmile's bounds) make a total
    pass 64 bits: the report prints nothing, exits 1 and names a row."""
    con = sqlite3.connect(server.db)
    with con:
        for i in (1, 2):
            con.execute("INSERT INTO collections (id, agent_id, farmer_id, village, product,"
                        " grade, weight_g, unit_price_fen, amount_fen, collected_at)"
                        " SELECT ?, agent_id, farmer_id, village, 'corn', grade,"
                        " 9223372036854775807, 1, 9223372036854776, collected_at"
                        " FROM collections WHERE id = ?", ("HUGE%d" % i, cid))
    con.close()
    for fmt in ("table", "csv", "json"):
        code, out, err = run([SERVER, "report", "volumes", "--db", server.db, "--by", "product",
                              "--format", fmt], ok=False)
        check(code == 1 and out == "", "%s: no partial output: %d %r" % (fmt, code, out))
        check("does not fit 64-bit integers: collection HUGE" in err and err.count("\n") == 1,
              "%s: says why and names a row: %r" % (fmt, err))


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start()
        a = Agent(tmp, "agent-li")
        a.init(server, key)
        farmer = a.new_id("farmer", "add", "--name", "Li Si", "--village", "shangba", "--poor",
                          "--household", "HH-1")
        cid = a.new_id("collect", "--farmer", farmer, "--product", "potato", "--grade", "A",
                       "--kg", "12.345", "--price", "3.10", "--note", "早上 \"first\"")
        rows = [c for c in a.list("collections") if c["id"] == cid]
        if check(len(rows) == 1, "collection listed"):
            c = rows[0]
            check(c["weight_g"] == 12345 and c["unit_price_fen"] == 310, "exact grams and fen")
            check(c["amount_fen"] == amount(12345, 310) == 3827, "amount rounded half up")
            check(c["note"] == "早上 \"first\"" and c["village"] == "shangba",
                  "note and village kept")
        f = [x for x in a.list("farmers") if x["id"] == farmer]
        check(f and f[0]["registered_poor"] == 1 and f[0]["household_id"] == "HH-1",
              "poor household recorded")
        # The largest weight and price allowed; no adjustment may add to it.
        big = a.new_id("collect", "--farmer", farmer, "--product", "potato", "--grade", "A",
                       "--kg", "1000000", "--price", "100000")
        rows = [c for c in a.list("collections") if c["id"] == big]
        check(rows and rows[0]["amount_fen"] == 10 ** 13, "the bounds themselves are accepted")
        before = snapshot(a)

        base = ["--farmer", farmer, "--product", "potato", "--grade", "A"]
        bad = [
            (base + ["--kg", "-1", "--price", "2"], "--kg"),
            (base + ["--kg", "0", "--price", "2"], "--kg"),
            (base + ["--kg", "abc", "--price", "2"], "--kg"),
            (base + ["--kg", "1.2345", "--price", "2"], "--kg"),
            (base + ["--kg", "1", "--price", "2.005"], "--price"),
            (base + ["--kg", "1", "--price", "-2"], "--price"),
            (base + ["--kg", "1", "--price", "0"], "--price"),
            (base + ["--kg", "1", "--price", "1e2"], "--price"),
            # Past the per-record bounds, whether or not the value (or the
            # amount) would fit 64 bits: the message names the bound.
            (base + ["--kg", "9223372036854775.807", "--price", "0.01"], "limit of 1000000 kg"),
            (base + ["--kg", "10000000000000", "--price", "100.00"], "limit of 1000000 kg"),
            (base + ["--kg", "1000000.001", "--price", "1"], "limit of 1000000 kg"),
            (base + ["--kg", "1", "--price", "100000.01"], "limit of 100000 yuan/kg"),
            (base + ["--price", "2"], "required"),  # no --kg (--price may be left out)
            (["--farmer", "NOSUCHFARMER", "--product", "potato", "--grade", "A", "--kg", "1",
              "--price", "2"], "unknown farmer"),
            (["--farmer", farmer, "--product", "durian", "--grade", "A", "--kg", "1",
              "--price", "2"], "unknown product"),
            (["--farmer", farmer, "--product", "potato", "--grade", "Z", "--kg", "1",
              "--price", "2"], "unknown grade"),
            (base + ["--kg", "1", "--price", "2", "--weight", "3"], "unknown option"),
        ]
        for args, needle in bad:
            code, out, err = a.cli("collect", *args, ok=False)
            check(code != 0, "collect %s refused" % " ".join(args[-4:]))
            check(code == 2 or "limit" not in needle, "a bound is a usage error: %d" % code)
            check(err.startswith("lastmile: collect: ") and err.count("\n") == 1,
                  "one clear line: %r" % err)
            check(needle in err, "says %r: %r" % (needle, err))
            check(out == "", "prints no id")
        for args, needle in [
            (["grade", "--collection", "NOPE", "--grade", "A"], "unknown collection"),
            (["grade", "--collection", cid, "--grade", "Z"], "unknown grade"),
            (["grade", "--collection", cid, "--grade", "A", "--moisture", "101"], "--moisture"),
            (["grade", "--collection", cid, "--grade", "A", "--moisture", "12.34"], "--moisture"),
            (["adjust", "--collection", cid, "--delta-kg", "0", "--reason", "x"], "--delta-kg"),
            (["adjust", "--collection", cid, "--delta-kg", "-20", "--reason", "x"], "below zero"),
            (["adjust", "--collection", cid, "--delta-kg", "1000000.001", "--reason", "x"],
             "limit of 1000000 kg"),
            (["adjust", "--collection", big, "--delta-kg", "0.001", "--reason", "x"],
             "over the limit of 1000000 kg"),
            (["adjust", "--collection", cid, "--delta-kg", "1", "--void", "--reason", "x"],
             "exactly one"),
            (["adjust", "--collection", cid, "--void"], "--reason"),
            (["adjust", "--collection", "NOPE", "--void", "--reason", "x"], "unknown collection"),
            (["farmer", "add", "--village", "shangba"], "--name"),
            (["farmer", "add", "--name", "X", "--village", "atlantis"], "unknown village"),
            (["list", "trucks"], "cannot list"),
            (["conflicts", "resolve", "x", "--keep", "mine"], "not a number"),
            (["conflicts", "resolve", "1", "--keep", "both"], "--keep"),
        ]:
            code, out, err = a.cli(*args, ok=False)
            check(code != 0 and needle in err, "%s refused with %r: %r" % (args, needle, err))
        check(snapshot(a) == before, "nothing was written by refused commands")

        code, _, err = run([CLI, "collect", "--db", tmp + "/none.db"] + base
                           + ["--kg", "1", "--price", "1"], ok=False)
        check(code == 1 and "lastmile init" in err, "no replica: a pointer to init: %r" % err)
        code, out, _ = run([CLI, "collect", "--help"])
        check(code == 0 and "--price" in out, "--help prints usage")
        code, _, _ = run([CLI, "frobnicate"], ok=False)
        check(code == 2, "unknown command is a usage error")

        # A void takes the collection out; a second void is refused.
        a.new_id("adjust", "--collection", cid, "--void", "--reason", "wrong farmer")
        a.new_id("adjust", "--collection", big, "--void", "--reason", "test of the bounds")
        code, _, err = a.cli("adjust", "--collection", cid, "--void", "--reason", "again",
                             ok=False)
        check(code != 0 and "already void" in err, "double void refused: %r" % err)
        check(a.sync()[0] == 0, "syncs")
        report = server.report("agent")
        got = {r["agent"]: (r["weight_g"], r["amount_fen"]) for r in report}
        check(got.get("agent-li", (0, 0)) == (0, 0), "a void collection counts for nothing: %r"
              % report)
        code, out, _ = a.cli("status", "--json")
        st = json.loads(out) if code == 0 else {}
        check(st.get("pending_changes") == 0 and st.get("last_sync_ms"), "status after sync: %r"
              % st)
        # A farmer outside the agent's villages: `farmer add` refuses it when
        # typed (exit 2, nothing written); one slipped in with plain SQL is
        # refused by the server per change, the sync still completes, and the
        # refusal is kept and shown.
        before = snapshot(a)
        code, _, err = a.cli("farmer", "add", "--name", "Outsider", "--village", "baishi", ok=False)
        check(code == 2 and "not one of the agent's villages" in err,
              "farmer add outside the scope refused at entry: %d %r" % (code, err))
        check(snapshot(a) == before, "nothing written by the refused farmer add")
        stray = "01STRAYFARMER0000000000000"
        con = sqlite3.connect(a.db)
        con.execute("INSERT INTO farmers(id, name, village, registered_poor, created_by,"
                    " created_at) VALUES(?, 'Outsider', 'baishi', 0, 'agent-li',"
                    " CAST(strftime('%s', 'now') AS INTEGER) * 1000)", (stray,))
        con.commit()
        con.close()
        code, out, err = a.cli("sync")
        check(code == 0 and "refused" in err, "sync reports the refusal: %r" % err)
        refusals = a.list("refusals")
        check(any(r["table"] == "farmers" and r["pk"] == stray and r["error"] == "LM_ESCOPE"
                  and r["reason"] for r in refusals), "refusal kept with its reason: %r"
              % refusals)
        check(a.status().get("refusals", 0) >= 1, "status counts the refusals")
        check(not server.rows("SELECT id FROM farmers WHERE id = ?", (stray,)),
              "the refused farmer is not on the server")
        code, out, _ = a.cli("list", "refusals")
        check(code == 0 and stray in out, "list refusals as a table")
        # Refused, not in conflict: the server's tombstone answers the
        # refused row, so nothing is left to resolve, and its values stay
        # in the refusal log.
        check("conflict" not in err, "a refusal is not reported as a conflict: %r" % err)
        st = a.status()
        check(st.get("open_conflicts") == 0, "a refusal opens no conflict: %r" % st)
        code, out, _ = a.cli("conflicts", "--json")
        check(code == 0 and json.loads(out) == [], "no conflict listed: %r" % out)
        kept = {r["column"]: r["value"] for r in refusals if r["pk"] == stray}
        check(kept.get("name") == "Outsider" and kept.get("village") == "baishi",
              "the refused values are kept: %r" % kept)
        check(all(f["id"] != stray for f in a.list("farmers")),
              "the refused farmer left the replica's tables")
        check(server.stop() == 0, "server exits 0")
        check_report_overflow(server, cid)
    done("integration_input")


if __name__ == "__main__":
    main()
