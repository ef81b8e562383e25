"""hq_stop_merge: a dispatcher re-plans a stop while its agent, offline,
marks the same stop arrived and then loaded between two syncs. The plan
columns are the dispatcher's and the status columns the agent's, so the
edits merge without a conflict (docs/dispatch.md), whichever of the two
syncs first. Real processes: one server, one dispatcher replica, one agent
replica; the dispatcher re-plans with plain SQL (there is no CLI command to
edit a stop; any captured write syncs), the agent uses `lastmile stop
arrive` and `lastmile stop load`.

Checked after every round, on the server and both replicas: no conflict
in any conflict log, the same final row everywhere (the dispatcher's plan,
the agent's status and weight), nothing refused.

The agent's load replaces its own arrival, which no push acknowledged
yet, so it carries the arrival's prev_hlc (the dispatcher's version, the
last one the server can know) and the server fast-forwards: before schema
version 3 it named the arrival, which never left the phone, and the server
logged a spurious conflict on route_stops.status. Any conflict, a wrong
final row or a refusal is a failure."""
import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone

from lmtest import Agent, Server, check, done, run, tempdir

CST = timezone(timedelta(hours=8))
COLS = ("route_id", "seq", "village", "agent_id", "planned_at", "status", "loaded_weight_g")


def row(db, sid):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        r = con.execute("SELECT %s FROM route_stops WHERE id = ?" % ", ".join(COLS),
                        (sid,)).fetchone()
        return dict(zip(COLS, r)) if r else None
    finally:
        con.close()


def replan(disp, sid, seq, planned_at):
    """The dispatcher's plan edit: stop order and planned time."""
    run(["/usr/bin/sqlite3", disp.db, "UPDATE route_stops SET seq = %d, planned_at = %d"
         " WHERE id = '%s';" % (seq, planned_at, sid)])


def conflicts_of(who):
    code, out, _ = who.cli("conflicts", "--all", "--json")
    return [(c["table"], c["pk"], c["column"], c["winner"], c["loser"], c["winner_site"],
             c["loser_site"]) for c in json.loads(out)] if code == 0 else [("unreadable",)]


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key_a = server.add_user("agent-li", "agent", ["shangba", "xiaba"])
        key_d = server.add_user("disp-pingshan", "dispatcher", None, "pingshan")
        server.start()
        agent, disp = Agent(tmp, "agent-li"), Agent(tmp, "disp-pingshan")
        agent.init(server, key_a)
        disp.init(server, key_d)
        agent_site, disp_site = agent.status().get("site"), disp.status().get("site")
        seen = set()
        day = datetime.now(CST).strftime("%Y-%m-%d")
        base_ms = int(time.time() * 1000)

        # Order "dispatcher first": the re-plan reaches the server before the
        # agent's status; "agent first": the other way round; "twice": the
        # agent arrives in one offline spell and loads in the next while the
        # dispatcher re-plans before each of its syncs.
        # "no re-plan": the agent alone (the old bug needed no dispatcher
        # edit: the server's status was the dispatcher's route creation).
        for n, order in enumerate(("dispatcher first", "agent first", "twice", "no re-plan")):
            rid = disp.new_id("route", "create", "--date", day, "--vehicle", "truck-%d" % n,
                              "--driver", "Liu Wei", "--stops", "shangba:agent-li,xiaba:agent-li")
            check(disp.sync()[0] == 0, "%s: the dispatcher sends route %s" % (order, rid))
            check(agent.sync()[0] == 0, "%s: the agent receives it" % order)
            stops = [s for s in agent.list("stops") if s["route_id"] == rid]
            check(len(stops) == 2, "%s: the agent holds both stops: %r" % (order, stops))
            if len(stops) != 2:
                continue
            sid = [s["id"] for s in stops if s["village"] == "shangba"][0]
            kg, grams = "812.5", 812500
            plan_at = base_ms + (n + 1) * 3600 * 1000

            # Both offline: the agent arrives and loads, the dispatcher moves
            # the stop to second place and changes its planned time.
            if order == "no re-plan":
                plan_at = row(disp.db, sid)["planned_at"]
            else:
                replan(disp, sid, 2, plan_at)
            agent.cli("stop", "arrive", sid)
            if order == "twice":
                check(agent.sync()[0] == 0, "%s: the agent reports its arrival" % order)
                check(disp.sync()[0] == 0, "%s: the dispatcher sends its first re-plan" % order)
                replan(disp, sid, 3, plan_at + 60000)
                plan_at += 60000
            agent.cli("stop", "load", sid, "--kg", kg)
            first, second = (disp, agent) if order != "agent first" else (agent, disp)
            for who in (first, second, first, second):
                code, summary, err = who.sync()
                check(code == 0 and summary and summary["refusals"] == 0,
                      "%s: %s syncs without refusal: %r %s"
                      % (order, who.uid, summary, err.strip()))

            seq = {"twice": 3, "no re-plan": 1}.get(order, 2)
            want = {"route_id": rid, "seq": seq, "village": "shangba",
                    "agent_id": "agent-li", "planned_at": plan_at, "status": "loaded",
                    "loaded_weight_g": grams}
            for name, db in (("server", server.db), ("agent", agent.db), ("dispatcher", disp.db)):
                got = row(db, sid)
                check(got == want, "%s: the %s holds the merged stop: %r, want %r"
                      % (order, name, got, want))
            logs = {"server": [tuple(r.values()) for r in server.rows(
                "SELECT tbl, pk, col, winner_value, loser_value, winner_site, loser_site"
                " FROM lm_conflicts")]}
            for who in (agent, disp):
                logs[who.uid] = conflicts_of(who)
                check(who.list("refusals") == [], "%s: nothing refused on %s's replica"
                      % (order, who.uid))
                st = who.status()
                check(st.get("pending_changes") == 0,
                      "%s: %s has nothing pending: %r" % (order, who.uid, st))
            for where, log in logs.items():
                for c in log:
                    if (where, c) in seen:
                        continue  # logged in an earlier round
                    seen.add((where, c))
                    check(False, "%s: conflict in %s's log: %r (agent site %s, dispatcher"
                          " site %s)" % (order, where, c, agent_site, disp_site))
            other = [s for s in agent.list("stops") if s["route_id"] == rid and s["id"] != sid]
            check(other and other[0]["status"] == "planned",
                  "%s: the other stop is untouched: %r" % (order, other))
        check(server.stop() == 0, "server exits 0")
    done("hq_stop_merge")


if __name__ == "__main__":
    main()
