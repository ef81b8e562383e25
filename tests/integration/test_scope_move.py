"""integration_scope_move: hq moves users and their replicas follow
(issue 22 items 1 and 4).

An agent moved from shangba to baishi with a paid purchase in shangba not
yet pushed: its next sync pushes the purchase (the server takes it: it was
made before the agent heard of the move), then shangba's rows leave the
replica and baishi's farmers arrive. A dispatcher moved from pingshan to
yunxi: its unpushed pingshan route reaches the server, pingshan's rows leave,
yunxi's arrive. Entries outside the scope are refused when typed (exit 2,
nothing written), and what the server still refuses (a row slipped into the
file with the sqlite3 shell after the move) shows as one line per record."""
import datetime
import json
import sqlite3

from lmtest import SERVER, Agent, Server, check, done, run, tempdir


def ids(rows):
    return {r["id"] for r in rows}


def update(server, *args, ok=True):
    return run([SERVER, "user", "update", "--db", server.db] + list(args), ok=ok)


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        kli = server.add_user("agent-li", "agent", ["shangba"])
        kwang = server.add_user("agent-wang", "agent", ["baishi"])
        kdisp = server.add_user("disp", "dispatcher", county="pingshan")
        server.start()
        li, wang, disp = Agent(tmp, "agent-li"), Agent(tmp, "agent-wang"), Agent(tmp, "disp")
        li.init(server, kli)
        wang.init(server, kwang)
        disp.init(server, kdisp)

        # baishi (yunxi) already has a farmer and a purchase of wang's
        bf = wang.new_id("farmer", "add", "--name", "白大山", "--village", "baishi")
        bc = wang.new_id("collect", "--farmer", bf, "--product", "corn", "--grade", "A", "--kg",
                         "20")
        check(wang.sync()[0] == 0, "wang synced")

        # li in shangba: a farmer and a purchase pushed, then one paid offline
        sf = li.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba")
        sc1 = li.new_id("collect", "--farmer", sf, "--product", "potato", "--grade", "A",
                        "--kg", "10")
        check(li.sync()[0] == 0, "li synced")
        sc2 = li.new_id("collect", "--farmer", sf, "--product", "potato", "--grade", "A",
                        "--kg", "50")
        check(li.status().get("pending_changes", 0) > 0, "the 50 kg purchase waits to be pushed")

        # item 4: outside the scope is refused when typed, nothing written
        pending = li.status().get("pending_changes")
        code, out, err = li.cli("farmer", "add", "--name", "Zhao", "--village", "baishi",
                                ok=False)
        check(code == 2 and out == "" and "refused, nothing written" in err
              and "not one of the agent's villages" in err and "shangba" in err,
              "farmer add outside the villages refused when typed: %d %r" % (code, err))
        check(li.status().get("pending_changes") == pending
              and len(li.list("farmers")) == 1, "the refused farmer wrote nothing")

        # the dispatcher plans a pingshan route, pushed, and another offline
        day = datetime.date.today().isoformat()
        r1 = disp.new_id("route", "create", "--date", day, "--vehicle", "T1", "--driver", "Ma",
                         "--stops", "shangba:agent-li")
        check(disp.sync()[0] == 0, "disp synced")
        r2 = disp.new_id("route", "create", "--date", day, "--vehicle", "T2", "--driver", "Ma",
                         "--stops", "xiaba:agent-li")
        code, _, err = disp.cli("route", "create", "--date", day, "--vehicle", "T3", "--driver",
                                "Ma", "--stops", "baishi:agent-wang", ok=False)
        check(code == 2 and "refused, nothing written" in err and "pingshan" in err,
              "a route outside the county refused when typed: %d %r" % (code, err))

        # hq moves both (bad input first: exit 2 or 1, nothing changed)
        before = server.rows("SELECT id, villages, county, auth_gen FROM lm_users ORDER BY id")
        for args, want_code, why in (
                (["--id", "agent-li"], 2, "nothing to change"),
                (["--id", "agent-li", "--county", "yunxi"], 2, "only dispatchers"),
                (["--id", "disp", "--villages", "baishi"], 2, "only agents"),
                (["--id", "agent-li", "--villages", "atlantis"], 1, "unknown village"),
                (["--id", "disp", "--county", "atlantis"], 1, "unknown county"),
                (["--id", "nobody", "--villages", "baishi"], 1, "no user"),
                (["--id", "agent-li", "--name", "a\tb"], 2, "control character")):
            code, _, err = update(server, *args, ok=False)
            check(code == want_code and why in err, "update %r refused: %d %r" % (args, code, err))
        check(server.rows("SELECT id, villages, county, auth_gen FROM lm_users ORDER BY id")
              == before, "refused updates changed nothing")
        code, out, _ = update(server, "--id", "agent-li", "--villages", "baishi", "--name",
                              "李四")
        check("villages=baishi (was shangba)" in out, "li moved: %r" % out)
        code, out, _ = update(server, "--id", "disp", "--county", "yunxi")
        check("county=yunxi (was pingshan)" in out, "disp moved: %r" % out)
        code, out, _ = run([SERVER, "user", "list", "--db", server.db, "--json"])
        users = {u["id"]: u for u in json.loads(out)}
        check(users["agent-li"]["villages"] == "baishi" and users["agent-li"]["name"] == "李四",
              "user list shows the new villages and the name: %r" % users["agent-li"])

        # li's next sync: the paid purchase is pushed and kept by the server
        code, summary, err = li.sync()
        check(code == 0 and summary["refusals"] == 0, "li's sync refused nothing: %r" % err)
        check("moved" in err and "left this replica" in err,
              "the sync says the scope moved: %r" % err)
        got = server.rows("SELECT id, weight_g FROM collections WHERE agent_id = 'agent-li'")
        check({r["id"] for r in got} == {sc1, sc2}, "the server holds both purchases: %r" % got)
        check(li.status().get("pending_changes") == 0, "nothing left to push")
        check(ids(li.list("farmers")) == {bf}, "shangba's farmer left, baishi's arrived: %r"
              % li.list("farmers"))
        check(ids(li.list("collections")) == set(), "li's shangba purchases left its replica")
        # now baishi is li's: a farmer there is taken, shangba is refused
        nf = li.new_id("farmer", "add", "--name", "Chen", "--village", "baishi")
        check(nf is not None, "a farmer in the new village is taken")
        code, _, err = li.cli("farmer", "add", "--name", "Zhao", "--village", "shangba",
                              ok=False)
        check(code == 2 and "baishi" in err, "the old village is refused now: %r" % err)
        check(li.sync()[0] == 0, "li synced again")
        check(server.rows("SELECT village FROM farmers WHERE id = ?", (nf,))
              == [{"village": "baishi"}], "the new farmer reached the server")

        # a row slipped in with the sqlite3 shell after the move: the server
        # refuses it (made after li heard of the move), and says so once
        con = sqlite3.connect(li.db)
        con.execute("INSERT INTO farmers(id, name, village, registered_poor, created_by,"
                    " created_at) VALUES('01SLIPPED0000000000000000Z', '张三', 'shangba', 0,"
                    " 'agent-li', ?)", (int(datetime.datetime.now().timestamp() * 1000),))
        con.commit()
        con.close()
        code, out, err = li.cli("sync")
        lines = [ln for ln in err.splitlines() if "张三" in ln]
        check(code == 0 and len(lines) == 1 and "farmers" in lines[0]
              and "not one of the agent's villages" in lines[0],
              "one readable line for the refused farmer: %r" % err)
        code, out, _ = li.cli("status")
        check(sum("张三" in ln for ln in out.splitlines()) == 1, "status names it once: %r" % out)
        check(server.rows("SELECT 1 FROM farmers WHERE id = '01SLIPPED0000000000000000Z'") == [],
              "the server did not take it")

        # the dispatcher: its pingshan route pushed, pingshan leaves, yunxi comes
        code, summary, err = disp.sync()
        check(code == 0 and summary["refusals"] == 0, "disp's sync refused nothing: %r" % err)
        check({r["id"] for r in server.rows("SELECT id FROM routes")} == {r1, r2},
              "the server holds both pingshan routes")
        check(ids(disp.list("routes")) == set(), "pingshan's routes left the replica")
        check(ids(disp.list("farmers")) == {bf, nf}, "yunxi's farmers arrived: %r"
              % disp.list("farmers"))
        check(bc in ids(disp.list("collections")), "yunxi's purchases arrived")
        code, _, err = disp.cli("route", "create", "--date", day, "--vehicle", "T4", "--driver",
                                "Ma", "--stops", "shangba:agent-li", ok=False)
        check(code == 2 and "yunxi" in err, "pingshan is refused now: %r" % err)
        check(disp.new_id("route", "create", "--date", day, "--vehicle", "T5", "--driver", "Ma",
                          "--stops", "baishi:agent-li") is not None, "a yunxi route is taken")
        check(disp.sync()[0] == 0, "disp synced again")
    return done("integration_scope_move")


if __name__ == "__main__":
    raise SystemExit(main())
