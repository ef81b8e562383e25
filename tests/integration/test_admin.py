"""admin: headquarters' catalog administration and the dispatcher's route
cancel (issue 22 item 1), hq farmer deactivation (issue 19 item 2), with the
real binaries: one server, an agent, two dispatchers and an hq replica.

Checked: `village add|list|update` (a new county with its first village,
CJK names, coordinates, refusals that change nothing), `warehouse
add|list` (the county's dispatcher receives it, no agent or other county
does), `product list`, `price list` (current and scheduled, yuan and fen),
`receipt list|void` (the void is recorded, reconcile leaves it out, a second
void and bad input refused), `route cancel` (the agent's stop is no pickup
any more, a route with a loaded stop or an agent's cancel refused), and
`farmer deactivate|reactivate` (the field tool refuses a purchase at entry,
the server refuses one written around it, history stays in the reports).
Every command's --help exits 0."""
import datetime
import json
import sqlite3

from lmtest import SERVER, Agent, Server, check, done, run, tempdir

TODAY = (datetime.datetime.utcnow() + datetime.timedelta(hours=8)).date()
DAY = TODAY.isoformat()


def hq(*args, ok=True):
    return run([SERVER] + list(args), ok=ok)


def js(server, *args):
    code, out, err = hq(*args, "--db", server.db, "--json")
    check(code == 0, "%s --json: %r" % (" ".join(args), err))
    return json.loads(out) if code == 0 else []


def refused(server, args, code, text, tables):
    """args exits code with text on stderr and leaves tables as they were."""
    before = [server.rows("SELECT * FROM %s ORDER BY 1" % t) for t in tables]
    got, out, err = hq(*args, ok=False)
    check(got == code and text in err and not out.strip(),
          "%s: exit %d (want %d), %r" % (" ".join(args[:2]), got, code, err))
    after = [server.rows("SELECT * FROM %s ORDER BY 1" % t) for t in tables]
    check(before == after, "%s changed nothing" % " ".join(args[:2]))


def catalog(server):
    db = ["--db", server.db]
    code, out, _ = hq("village", "add", *db, "--name", "上坝", "--county", "平山",
                      "--lat", "27.05", "--lon", "110.02")
    check(code == 0 and "new county 平山" in out, "a county comes with its first village: %r" % out)
    code, out, _ = hq("village", "add", *db, "--name", "下坝", "--county", "平山")
    check(code == 0 and "new county" not in out, "a second village of the county: %r" % out)
    hq("village", "update", *db, "--name", "下坝", "--lat", "27.02", "--lon", "-110.5")
    hq("village", "update", *db, "--name", "下坝", "--lon", "110.06")
    rows = {v["name"]: v for v in js(server, "village", "list", "--county", "平山")}
    check(set(rows) == {"上坝", "下坝"} and rows["上坝"]["lat"] == 27.05
          and (rows["下坝"]["lat"], rows["下坝"]["lon"]) == (27.02, 110.06),
          "village list --county: %r" % rows)
    code, text, _ = hq("village", "list", *db)
    check(code == 0 and "上坝" in text and "shangba" in text and "110.02" in text,
          "village list as a table: %r" % text)
    tables = ("villages", "warehouses")
    for args, code, why in [
            (["--name", "上坝", "--county", "平山"], 1, "exists already"),
            (["--name", "新村", "--county", "平山", "--lat", "91", "--lon", "1"], 2,
             "latitude must be -90 to 90"),
            (["--name", "新村", "--county", "平山", "--lat", "1", "--lon", "180.5"], 2,
             "longitude must be -180 to 180"),
            (["--name", "新村", "--county", "平山", "--lat", "nan", "--lon", "1"], 2,
             "not decimal degrees"),
            (["--name", "新村", "--county", "平山", "--lat", "27"], 2, "go together"),
            (["--name", "新\t村", "--county", "平山"], 2, "control character"),
            (["--name", "a,b", "--county", "平山"], 2, "comma"),
            (["--name", "新村"], 2, "required")]:
        refused(server, ["village", "add"] + db + args, code, why, tables)
    refused(server, ["village", "update"] + db + ["--name", "上坝", "--county", "云溪"], 2,
            "county never changes", tables)
    refused(server, ["village", "update"] + db + ["--name", "无名", "--lat", "1"], 1,
            "unknown village", tables)
    refused(server, ["village", "update"] + db + ["--name", "上坝"], 2, "nothing to change",
            tables)
    refused(server, ["village", "list"] + db + ["--county", "无"], 1, "unknown county", tables)

    code, out, _ = hq("warehouse", "add", *db, "--name", "平山仓库", "--county", "平山",
                      "--lat", "27.0", "--lon", "110.0")
    check(code == 0 and out.strip() == "平山仓库", "warehouse add: %r" % out)
    for args, code, why in [
            (["--name", "w", "--county", "无此县", "--lat", "1", "--lon", "1"], 1,
             "unknown county"),
            (["--name", "平山仓库", "--county", "平山", "--lat", "1", "--lon", "1"], 1,
             "exists already"),
            (["--name", "w", "--county", "平山"], 2, "required")]:
        refused(server, ["warehouse", "add"] + db + args, code, why, tables)
    check([(w["name"], w["county"], w["lat"], w["lon"]) for w in
           js(server, "warehouse", "list")] == [("平山仓库", "平山", 27.0, 110.0)],
          "warehouse list")

    products = {p["code"]: p for p in js(server, "product", "list")}
    check(products.get("potato", {}).get("name") == "Potato" and len(products) == 5,
          "product list: %r" % products)
    later = (TODAY + datetime.timedelta(days=10)).isoformat()
    hq("price", "set", *db, "--product", "potato", "--grade", "A", "--price", "2.10",
       "--from", later)
    prices = [(p["grade"], p["price_fen"], p["effective_from"], p["state"])
              for p in js(server, "price", "list", "--product", "potato")]
    check(prices == [("A", 180, "2026-01-01", "current"), ("A", 210, later, "scheduled"),
                     ("B", 150, "2026-01-01", "current"), ("C", 120, "2026-01-01", "current")],
          "price list: current and scheduled: %r" % prices)
    code, text, _ = hq("price", "list", *db, "--product", "potato", "--grade", "A")
    check(code == 0 and "¥1.80" in text and "¥2.10" in text and "scheduled" in text,
          "price list in yuan: %r" % text)
    code, out, _ = hq("price", "list", *db, "--product", "potato", "--grade", "A", "--date",
                      later, "--all", "--json")
    states = [(p["price_fen"], p["state"]) for p in json.loads(out)] if code == 0 else []
    check(states == [(180, "past"), (210, "current")], "--date and --all: %r" % states)
    refused(server, ["price", "list"] + db + ["--product", "土豆"], 1, "unknown product",
            ("prices",))


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        for cmd in (["village"], ["warehouse"], ["product"], ["price"], ["receipt"],
                    ["farmer", "deactivate"], ["village", "add"], ["receipt", "void"]):
            code, out, _ = hq(*cmd, "--help")
            check(code == 0 and "usage:" in out, "%s --help" % " ".join(cmd))
        catalog(server)
        keys = {"agent-wang": server.add_user("agent-wang", "agent", ["上坝"]),
                "disp-ps": server.add_user("disp-ps", "dispatcher", county="平山"),
                "disp-yx": server.add_user("disp-yx", "dispatcher", county="yunxi"),
                "hq-1": server.add_user("hq-1", "hq")}
        server.start()
        agent, disp, other, boss = (Agent(tmp, u) for u in keys)
        for a in (agent, disp, other, boss):
            a.init(server, keys[a.uid])

        # What each replica received.
        con = sqlite3.connect(agent.db)
        village = con.execute("SELECT county, lat, lon FROM villages WHERE name = '上坝'").fetchone()
        check(village == ("平山", 27.05, 110.02), "the agent has the village's place: %r"
              % (village,))
        check(con.execute("SELECT count(*) FROM warehouses").fetchone()[0] == 0,
              "no agent receives warehouses")
        con.close()
        for a, want in ((disp, 1), (other, 0), (boss, 1)):
            con = sqlite3.connect(a.db)
            n = con.execute("SELECT count(*) FROM warehouses WHERE name = '平山仓库'").fetchone()[0]
            con.close()
            check(n == want, "%s holds %d of 平山's warehouses, want %d" % (a.uid, n, want))

        # Deactivation: refused at entry and by the server; history stays.
        farmer = agent.new_id("farmer", "add", "--name", "王秀英", "--village", "上坝")
        agent.cli("collect", "--farmer", farmer, "--product", "potato", "--grade", "A",
                  "--kg", "152.4")
        check(agent.sync()[0] == 0, "agent syncs its purchase")
        db = ["--db", server.db]
        code, out, _ = hq("farmer", "deactivate", *db, "--farmer", farmer)
        check(code == 0 and "王秀英" in out and "deactivated" in out, "deactivate: %r" % out)
        refused(server, ["farmer", "deactivate"] + db + ["--farmer", farmer], 1,
                "deactivated already", ("farmers",))
        refused(server, ["farmer", "deactivate"] + db + ["--farmer", "nobody"], 1,
                "unknown farmer", ("farmers",))
        refused(server, ["farmer", "deactivate"] + db, 2, "required", ("farmers",))
        agent.sync()
        code, out, err = agent.cli("collect", "--farmer", "王秀英", "--product", "potato",
                                   "--grade", "A", "--kg", "10", ok=False)
        check(code != 0 and "deactivated" in err and not out.strip(),
              "the field tool refuses a deactivated farmer: %d %r" % (code, err))
        check(len(agent.list("collections")) == 1, "nothing recorded at entry")
        # around the field tool: plain SQL into the replica, refused by the server
        con = sqlite3.connect(agent.db)
        now = int(datetime.datetime.now().timestamp() * 1000)
        con.execute("INSERT INTO collections (id, agent_id, farmer_id, village, product, grade,"
                    " weight_g, unit_price_fen, amount_fen, collected_at)"
                    " VALUES ('c-around', 'agent-wang', ?, '上坝', 'potato', 'A', 10000, 180,"
                    " 1800, ?)", (farmer, now))
        con.commit()
        con.close()
        agent.sync(ok=False)
        check(not server.rows("SELECT id FROM collections WHERE id = 'c-around'"),
              "the server refuses a purchase from a deactivated farmer")
        check(any("deactivated" in (r.get("reason") or "") for r in agent.list("refusals")),
              "the agent is told why: %r" % agent.list("refusals"))
        volumes = server.report("village")
        check(any(v.get("village") == "上坝" and v.get("weight_g") == 152400 for v in volumes),
              "the deactivated farmer's purchase stays in the report: %r" % volumes)
        code, out, _ = hq("farmer", "reactivate", *db, "--farmer", farmer)
        check(code == 0 and "reactivated" in out, "reactivate: %r" % out)
        refused(server, ["farmer", "reactivate"] + db + ["--farmer", farmer], 1,
                "active already", ("farmers",))
        agent.sync()
        agent.cli("collect", "--farmer", "王秀英", "--product", "potato", "--grade", "A",
                  "--kg", "20")
        check(agent.sync()[0] == 0 and len(server.rows(
            "SELECT id FROM collections WHERE farmer_id = ?", (farmer,))) == 2,
            "a reactivated farmer sells again")

        # Routes: cancel one, refuse one with a load.
        disp.sync()
        first = disp.new_id("route", "create", "--date", DAY, "--vehicle", "湘A-1",
                            "--driver", "张师傅", "--stops", "上坝:agent-wang")
        second = disp.new_id("route", "create", "--date", DAY, "--vehicle", "湘A-2",
                             "--driver", "李师傅", "--stops", "上坝:agent-wang")
        check(disp.sync()[0] == 0 and agent.sync()[0] == 0, "routes synced")
        stops = {s["route_id"]: s for s in agent.list("stops")}
        check(stops.get(first, {}).get("route_status") == "planned", "the agent waits: %r" % stops)
        code, _, err = agent.cli("route", "cancel", first, ok=False)
        check(code != 0 and "only a dispatcher or hq" in err, "an agent cancels no route: %r" % err)
        code, out, _ = disp.cli("route", "cancel", first, "--json")
        check(code == 0 and json.loads(out) == {"route": first, "county": "平山",
                                                 "status": "cancelled", "stops": 1},
              "route cancel: %r" % out)
        code, _, err = disp.cli("route", "cancel", first, ok=False)
        check(code != 0 and "cancelled already" in err, "twice: %r" % err)
        code, _, err = disp.cli("route", "cancel", "no-such-route", ok=False)
        check(code != 0 and "unknown route" in err, "unknown route: %r" % err)
        agent.cli("stop", "load", stops.get(second, {}).get("id", "?"), "--kg", "150")
        check(disp.sync()[0] == 0 and agent.sync()[0] == 0 and disp.sync()[0] == 0,
              "cancel and load synced")
        check(server.rows("SELECT status FROM routes WHERE id = ?", (first,)) ==
              [{"status": "cancelled"}], "the server holds the cancel")
        stops = {s["route_id"]: s for s in agent.list("stops")}
        check(stops.get(first, {}).get("route_status") == "cancelled",
              "the agent sees the route cancelled: %r" % stops)
        code, _, err = agent.cli("stop", "arrive", stops.get(first, {}).get("id", "?"), ok=False)
        check(code != 0 and "cancelled route" in err, "no pickup at a cancelled stop: %r" % err)
        code, _, err = disp.cli("route", "cancel", second, ok=False)
        check(code != 0 and "1 loaded stop" in err, "a loaded route is not cancelled: %r" % err)
        code, _, err = other.cli("route", "cancel", second, ok=False)
        check(code != 0 and "unknown route" in err, "another county's dispatcher: %r" % err)

        # Receipts: list, void, reconcile without the void.
        k1 = hq("receipt", "add", *db, "--route", second, "--product", "potato", "--grade", "A",
                "--kg", "140", "--warehouse", "平山仓库")[1].strip()
        k2 = hq("receipt", "add", *db, "--route", second, "--product", "potato", "--grade", "A",
                "--kg", "140")[1].strip()

        def received():
            code, out, _ = hq("report", "reconcile", *db, "--format", "json")
            return [r["received_g"] for r in (json.loads(out) if code == 0 else [])
                    if r["level"] == "route" and r["route"] == second]
        check(received() == [280000], "both receipts count: %r" % received())
        listed = js(server, "receipt", "list", "--route", second)
        check([(r["id"], r["weight_g"], r["county"], r["voided_at"]) for r in listed] ==
              [(k1, 140000, "平山", None), (k2, 140000, "平山", None)], "receipt list: %r" % listed)
        code, out, _ = hq("receipt", "void", *db, "--id", k2, "--reason", "重复录入")
        check(code == 0 and k2 in out, "receipt void: %r" % out)
        for args, code, why in [(["--id", k2, "--reason", "again"], 1, "void already"),
                                (["--id", "nope", "--reason", "x"], 1, "unknown receipt"),
                                (["--id", k1], 2, "required"),
                                (["--id", k1, "--reason", "a\nb"], 2, "control character")]:
            refused(server, ["receipt", "void"] + db + args, code, why, ("receipts",))
        listed = {r["id"]: r for r in js(server, "receipt", "list")}
        check(listed.get(k2, {}).get("void_reason") == "重复录入"
              and listed[k2].get("voided_at") and listed.get(k1, {}).get("voided_at") is None,
              "the void is recorded, the receipt kept: %r" % listed)
        check(received() == [140000], "reconcile leaves the void out: %r" % received())
        code, text, _ = hq("receipt", "list", *db)
        check(code == 0 and "140.000" in text and "重复录入" in text, "receipt list: %r" % text)
        boss.sync()
        con = sqlite3.connect(boss.db)
        got = con.execute("SELECT void_reason FROM receipts WHERE id = ?", (k2,)).fetchone()
        con.close()
        check(got == ("重复录入",), "the void syncs to hq: %r" % (got,))
        check(server.stop() == 0, "server exits 0")
    done("admin")


if __name__ == "__main__":
    main()
