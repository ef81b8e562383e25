"""hq_week: headquarters over a scripted week in two counties. HQ adds a
product and sets prices (they reach the agents), three agents in two
counties buy, grade, adjust and void over several days, routes are planned
and loaded, the warehouse records receipts, and `report reconcile` is
checked row by row against figures this script computes on its own from
what it generated (docs/hq.md has the definitions).

Routes are planned by two dispatchers with `lastmile route create`, reach
the agents by sync, and the agents record `lastmile stop arrive/load`."""
import csv
import io
import json
import sqlite3
import time
from datetime import datetime, timedelta, timezone

from ledger import Ledger, new_rng
from lmtest import SERVER, Agent, Server, check, done, run, tempdir

CST = timezone(timedelta(hours=8))
DAY_MS = 86400 * 1000


def cst_day(ms):
    return datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d")


def kg_text(g):
    return "%d.%03d" % (g // 1000, g % 1000)


def over(a, b, tol_cpct):
    return a > 0 and (a - b) * 10000 > tol_cpct * a


def hq(*args, ok=True):
    return run([SERVER] + list(args), ok=ok)


def catalog(server, tmp):
    """product add / price set: rows on the server, errors are clear."""
    code, out, _ = hq("product", "add", "--db", server.db, "--code", "millet", "--name",
                      "Millet")
    check(code == 0 and out.strip() == "millet", "product add prints the code: %r" % out)
    code, _, err = hq("product", "add", "--db", server.db, "--code", "millet", "--name", "X",
                      ok=False)
    check(code == 1 and "exists" in err, "a second product add of a code fails: %r" % err)
    hq("price", "set", "--db", server.db, "--product", "millet", "--grade", "A", "--price",
       "3.25", "--from", "2026-01-01")
    hq("price", "set", "--db", server.db, "--product", "millet", "--grade", "A", "--price",
       "3.4", "--from", "2026-01-01")
    rows = server.rows("SELECT price_fen FROM prices WHERE product = 'millet' AND grade = 'A'")
    check([r["price_fen"] for r in rows] == [340], "same date replaces the price: %r" % rows)
    code, _, err = hq("price", "set", "--db", server.db, "--product", "millet", "--grade", "Z",
                      "--price", "1", ok=False)
    check(code == 1 and "unknown grade" in err, "unknown grade refused: %r" % err)
    code, _, err = hq("price", "set", "--db", server.db, "--product", "millet", "--grade", "A",
                      "--price", "1.234", ok=False)
    check(code == 2 and "decimals" in err, "a price with 3 decimals is a usage error: %r" % err)
    code, _, err = hq("receipt", "add", "--db", server.db, "--route", "NOPE", "--product",
                      "potato", "--grade", "A", "--kg", "1", ok=False)
    check(code == 1 and "unknown route" in err, "receipt for an unknown route: %r" % err)


def agent_sees(agent, sql):
    con = sqlite3.connect("file:%s?mode=ro" % agent.db, uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def poverty_expected(ledger, county, kind, period, date_from=None, date_to=None):
    """{(period, county, village): figures} from the ledger, with county
    subtotals (village '*') and period totals (county '*'); kind maps a
    farmer to verified, doubtful or claimed (by the register, docs/hq.md)."""
    acc = {}
    for cid, c in ledger.collections.items():
        if cid in ledger.voided or (date_from and c["day"] < date_from) or \
                (date_to and c["day"] > date_to):
            continue
        w = c["weight_g"] + sum(d for d, _ in ledger.deltas.get(cid, []))
        m = c["amount_fen"] + sum(f for _, f in ledger.deltas.get(cid, []))
        k = kind.get(c["farmer_id"])
        p = period(c["day"])
        cty = county[c["village"]]
        for key in ((p, cty, c["village"]), (p, cty, "*"), (p, "*", "*")):
            t = acc.setdefault(key, {"w": 0, "m": 0, "f": set(), "verified": [0, 0, set()],
                                     "doubtful": [0, 0, set()], "claimed": [0, 0, set()]})
            t["w"] += w
            t["m"] += m
            t["f"].add(c["farmer_id"])
            if k:
                t[k][0] += w
                t[k][1] += m
                t[k][2].add(c["farmer_id"])
    out = {}
    for key, t in acc.items():
        share = None
        if t["m"] > 0:
            bp = (t["verified"][1] * 10000 + t["m"] // 2) // t["m"]
            share = "%d.%02d" % (bp // 100, bp % 100)
        out[key] = (t["verified"][0], t["verified"][1], t["w"], t["m"], len(t["verified"][2]),
                    len(t["f"]), t["doubtful"][1], t["claimed"][1], len(t["doubtful"][2]),
                    len(t["claimed"][2]), share)
    return out


def check_poverty(server, ledger, county, kind, d3, d1):
    """report poverty equals the ledger for several periods and a date range."""
    def week(d):
        day = datetime.strptime(d, "%Y-%m-%d")
        return (day - timedelta(days=day.weekday())).strftime("%Y-%m-%d")

    cases = [(["--period", "all"], lambda d: "all", None, None),
             (["--period", "day"], lambda d: d, None, None),
             (["--period", "week"], week, None, None),
             (["--period", "month"], lambda d: d[:7], None, None),
             (["--from", d3, "--to", d1], lambda d: "all", d3, d1)]
    names = ("verified_weight_g", "verified_amount_fen", "all_weight_g", "all_amount_fen",
             "verified_farmers", "all_farmers", "doubtful_amount_fen", "claimed_amount_fen",
             "doubtful_farmers", "claimed_farmers", "verified_amount_pct")
    for args, period, lo, hi in cases:
        code, out, _ = hq("report", "poverty", "--db", server.db, "--format", "json", *args)
        got = {}
        for r in (json.loads(out) if code == 0 else []):
            got[(r["period"], r["county"], r["village"])] = tuple(r[n] for n in names)
        want = poverty_expected(ledger, county, kind, period, lo, hi)
        if args[1] == "all":
            total = want[("all", "*", "*")]
            check(total[0] and total[0] < total[2] and total[7],
                  "poverty: verified, claimed and other households all sold: %r" % (total,))
        for k in sorted(set(got) | set(want)):
            check(got.get(k) == want.get(k), "poverty %r %r: got %r want %r"
                  % (args, k, got.get(k), want.get(k)))


def check_import(server, li, tmp, farmers, poor):
    """farmer import: exact matches are marked poor and reach the agent;
    doubtful, unmatched and unregistered households are listed, not guessed."""
    new = li.new_id("farmer", "add", "--name", "王五", "--village", "xiaba", "--household",
                    "HH-NEW-1")
    check(li.sync()[0] == 0, "agent-li syncs the new farmer")
    path = tmp + "/register.csv"
    with open(path, "w", encoding="utf-8") as f:
        f.write("household_id,name,village\n")
        f.write("HH-shangba-0,农户0,shangba\n")          # already poor: matched
        f.write('"HH-NEW-1","王五",xiaba\n')             # matched, newly marked
        f.write("HH-shangba-2,别人,shangba\n")          # same id, other name
        f.write("HH-GHOST-9,张三,heping\n")             # nobody recorded
    code, out, _ = hq("farmer", "import", "--db", server.db, "--csv", path)
    lines = out.strip().splitlines()
    check(lines and lines[-1] == "matched 2 (newly marked poor 1), doubtful 1, unmatched 1, "
          "unregistered %d" % (len(poor) - 2), "import summary: %r" % lines[-1:])
    check(any(l.startswith("doubtful\tHH-shangba-2\t别人\tshangba\t%s\t农户2"
                           % farmers["agent-li"][2]) for l in lines),
          "the doubtful match is listed with both names")
    check("unmatched\tHH-GHOST-9\t张三\theping" in lines, "the unmatched entry is listed")
    check(sum(l.startswith("unregistered\t") for l in lines) == len(poor) - 2,
          "poor farmers missing from the register are listed")
    rows = server.rows("SELECT id, registered_poor FROM farmers WHERE id IN (?, ?)",
                       (new, farmers["agent-li"][2]))
    check(sorted((r["id"], r["registered_poor"]) for r in rows) ==
          sorted([(new, 1), (farmers["agent-li"][2], 1)]),
          "the exact match is marked, the doubtful one left as it was: %r" % rows)
    check(li.sync()[0] == 0, "agent-li syncs after the import")
    check(agent_sees(li, "SELECT registered_poor FROM farmers WHERE id = '%s'" % new) == [(1,)],
          "the mark reaches the agent's replica")
    code, _, err = hq("farmer", "import", "--db", server.db, "--csv", tmp + "/none.csv",
                      ok=False)
    check(code == 1 and "cannot open" in err, "a missing file is an error: %r" % err)
    with open(tmp + "/bad.csv", "w") as f:
        f.write("HH-1,only two\n")
    code, _, err = hq("farmer", "import", "--db", server.db, "--csv", tmp + "/bad.csv",
                      ok=False)
    check(code == 1 and "bad.csv:1" in err, "a malformed line is named: %r" % err)


def check_route_errors(disp, agent, day):
    """route create refuses unknown villages, mixed counties, an over-capacity
    plan and a non-dispatcher."""
    cases = [(disp, ["--stops", "atlantis"], "unknown village"),
             (disp, ["--stops", "shangba,baishi"], "county"),
             (disp, ["--stops", "shangba", "--capacity-kg", "0.001"], "over capacity"),
             (agent, ["--stops", "shangba"], "only a dispatcher")]
    for who, extra, why in cases:
        code, _, err = who.cli("route", "create", "--date", day, "--vehicle", "v", "--driver",
                               "d", *extra, ok=False)
        check(code == 1 and why in err, "route create %r refused (%s): %r" % (extra, why, err))
    code, _, err = disp.cli("route", "create", "--date", "2026-13-01", "--vehicle", "v",
                            "--driver", "d", "--stops", "shangba", ok=False)
    check(code == 2, "a bad date is a usage error: %r" % err)


def report_agents(server):
    code, out, _ = hq("report", "agents", "--db", server.db, "--format", "json")
    return {r["user"]: r for r in (json.loads(out) if code == 0 else [])}


def cells(replica, table, rid):
    """Changes the new row rid of table makes: one per column with a value
    (the key is not a column change; a NULL cell of a new row is not sent)."""
    cols = [r[0] for r in agent_sees(replica, "SELECT name FROM pragma_table_info('%s')"
                                     " WHERE pk = 0" % table)]
    row = agent_sees(replica, "SELECT %s FROM %s WHERE id = '%s'" % (", ".join(cols), table, rid))
    return sum(v is not None for v in row[0]) if row else 0


def settled(server, want, what):
    """report agents once the server has written the last sessions' rows
    (they are written right after each session ends): {user: figures}."""
    deadline = time.time() + 20
    while True:
        rep = report_agents(server)
        got = {u: (r["waiting_pull"], r["waiting_push"]) for u, r in rep.items()}
        if got == want or time.time() > deadline:
            check(got == want, "%s: report agents (waiting_pull, waiting_push) %r, want %r"
                  % (what, got, want))
            return rep
        time.sleep(0.2)


def check_waiting(server, agents, dispatchers, day):
    """report agents: the changes known to be waiting for each replica,
    against counts this script makes from what it writes after everyone
    is up to date."""
    everyone = list(agents.values()) + list(dispatchers.values())
    for _ in range(2):  # the second round brings everyone what the first pushed
        for a in everyone:
            check(a.sync()[0] == 0, "%s syncs" % a.uid)
    settled(server, {a.uid: (0, 0) for a in everyone}, "everyone up to date")

    # HQ sets a price: one prices row for everyone. A dispatcher plans a
    # route with two stops of agent-li and syncs it: the route is in the
    # scope of every agent of the county, the stops only in agent-li's.
    li = agents["agent-li"]
    hq("price", "set", "--db", server.db, "--product", "kiwi", "--grade", "C", "--price", "5.55",
       "--from", day)
    disp = dispatchers["pingshan"]
    rid = disp.new_id("route", "create", "--date", day, "--vehicle", "truck-W", "--driver",
                      "Zhou", "--stops", "shangba:agent-li,xiaba:agent-li")
    check(disp.sync()[0] == 0, "the dispatcher sends the new route")
    pid = agent_sees(disp, "SELECT id FROM prices WHERE product = 'kiwi' AND grade = 'C'"
                     " AND effective_from = '%s'" % day)
    sids = agent_sees(disp, "SELECT id FROM route_stops WHERE route_id = '%s'" % rid)
    price, route = cells(disp, "prices", pid[0][0]), cells(disp, "routes", rid)
    stops = sum(cells(disp, "route_stops", sid) for (sid,) in sids)
    check(len(sids) == 2 and price == 4 and route >= 6, "the new rows are on the dispatcher")
    want = {"agent-li": price + route + stops, "agent-wang": price + route,
            "agent-zhao": price, "disp-pingshan": 0, "disp-yunxi": price}
    settled(server, {u: (w, 0) for u, w in want.items()}, "after a price and a route")
    code, summary, _ = li.sync()
    check(code == 0 and summary["pulled_changes"] == want["agent-li"],
          "agent-li's sync brings exactly what was waiting: %r" % summary)
    want["agent-li"] = 0
    settled(server, {u: (w, 0) for u, w in want.items()}, "after agent-li's sync")


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        county = {"shangba": "pingshan", "xiaba": "pingshan", "liangshui": "pingshan",
                  "baishi": "yunxi", "heping": "yunxi"}
        villages = {"agent-li": ["shangba", "xiaba"], "agent-wang": ["liangshui"],
                    "agent-zhao": ["baishi", "heping"]}
        keys = {uid: server.add_user(uid, "agent", v) for uid, v in villages.items()}
        disp_keys = {c: server.add_user("disp-" + c, "dispatcher", None, c)
                     for c in ("pingshan", "yunxi")}
        catalog(server, tmp)
        server.start()
        agents = {uid: Agent(tmp, uid) for uid in villages}
        for uid, a in agents.items():
            a.init(server, keys[uid])
        dispatchers = {c: Agent(tmp, "disp-" + c) for c in disp_keys}
        for c, d in dispatchers.items():
            d.init(server, disp_keys[c])

        ledger = Ledger()
        rng = new_rng(11)
        farmers, village_of, poor = {}, {}, set()
        for uid, a in agents.items():
            farmers[uid] = []
            for i, v in enumerate(villages[uid] * 2):
                args = ["farmer", "add", "--name", "农户%d" % i, "--village", v]
                if i % 2 == 0:
                    args += ["--poor", "--household", "HH-%s-%d" % (v, i)]
                fid = a.new_id(*args)
                farmers[uid].append(fid)
                village_of[fid] = v
                if i % 2 == 0:
                    poor.add(fid)

        # Today's buying through the real CLI, with corrections.
        today = {uid: ledger.random_day(a, farmers[uid], rng, 6) for uid, a in agents.items()}
        ledger.adjust(agents["agent-li"], today["agent-li"][0], "-0.5")
        ledger.adjust(agents["agent-zhao"], today["agent-zhao"][1], "2.125")
        ledger.void(agents["agent-wang"], today["agent-wang"][2])

        # Earlier days of the week: rows written with plain SQL on the agent's
        # replica (the CLI stamps the current time), captured and pushed.
        now_ms = int(time.time() * 1000)
        for back in (1, 3, 5):
            for uid, a in agents.items():
                for k in range(2):
                    fid = rng.choice(farmers[uid])
                    cid = "WEEK%02d%s%d%s" % (back, uid[-3:].upper(), k, "0" * 12)
                    cid = cid[:26]
                    w, p = rng.randint(1000, 90000), rng.randint(100, 900)
                    amt = (w * p + 500) // 1000
                    sql = ("INSERT INTO collections (id, agent_id, farmer_id, village, product,"
                           " grade, weight_g, unit_price_fen, amount_fen, collected_at) VALUES"
                           " ('%s','%s','%s','%s','corn','B',%d,%d,%d,%d);"
                           % (cid, uid, fid, village_of[fid], w, p, amt, now_ms - back * DAY_MS))
                    run(["/usr/bin/sqlite3", a.db, sql])
                    ledger.collections[cid] = dict(agent=uid, weight_g=w, unit_price_fen=p,
                                                   amount_fen=amt, product="corn", grade="B",
                                                   farmer_id=fid)
        for uid, a in agents.items():
            check(a.sync()[0] == 0, "%s syncs" % uid)

        # HQ's catalog reached every agent replica.
        for a in agents.values():
            check(agent_sees(a, "SELECT price_fen FROM prices WHERE product = 'millet'") ==
                  [(340,)], "%s has the millet price" % a.uid)

        # The day of each collection from its stored device time, then the
        # net volume per (village, day, product, grade) from the ledger.
        at = {r["id"]: r["collected_at"] for r in server.rows(
            "SELECT id, collected_at FROM collections")}
        check(set(at) == set(ledger.collections), "every collection reached the server")
        for cid, c in ledger.collections.items():
            c["village"] = village_of[c["farmer_id"]]
            c["day"] = cst_day(at.get(cid, 0))
        net = ledger.totals(lambda c: (c["village"], c["day"], c["product"], c["grade"]))

        d0, d1, d3 = cst_day(now_ms), cst_day(now_ms - DAY_MS), cst_day(now_ms - 3 * DAY_MS)
        routes = {  # id -> (county, date, [(village, loss permille of what was collected)])
            "P-TODAY": ("pingshan", d0, [("shangba", 5), ("xiaba", 60), ("liangshui", 0)]),
            "Y-TODAY": ("yunxi", d0, [("baishi", 10), ("heping", 0)]),
            "P-D1": ("pingshan", d1, [("shangba", 0), ("liangshui", 30)]),
            "Y-D3": ("yunxi", d3, [("baishi", 0)]),
        }

        def collected(village, day, product=None, grade=None, since=None):
            """Net buying at village on days (since, day]: what was waiting
            when a truck came on day after a load on since (docs/hq.md)."""
            return sum(v[0] for (vv, dd, p, g), v in net.items()
                       if vv == village and dd <= day and (since is None or dd > since)
                       and product in (None, p) and grade in (None, g))

        def windows():
            """{(route, village): the day of the previous load there}, loads
            taken in route date order, then route id."""
            last, since = {}, {}
            for rid in sorted(routes, key=lambda r: (routes[r][1], r)):
                for v, _ in routes[rid][2]:
                    since[(rid, v)] = last.get(v)
                    if loaded.get((rid, v)):
                        last[v] = routes[rid][1]
            return since

        # Dispatchers plan with `lastmile route create`; the routes reach the
        # agents, who mark their stops arrived and loaded; everyone syncs.
        plans = dict(routes)
        routes, loaded = {}, {}
        for disp in dispatchers.values():
            check(disp.sync()[0] == 0, "%s pulls its county's buying" % disp.uid)
        for name, (cty, day, stops) in plans.items():
            disp = dispatchers[cty]
            rid = disp.new_id("route", "create", "--date", day, "--vehicle", "truck-" + name,
                              "--driver", "Driver Liu", "--stops", ",".join(v for v, _ in stops))
            check(rid and len(rid) == 26, "route create prints an id for %s" % name)
            routes[rid] = (cty, day, stops)
        for disp in dispatchers.values():
            check(disp.sync()[0] == 0, "%s syncs its routes" % disp.uid)
        owner = {v: uid for uid, vs in villages.items() for v in vs}
        for uid, a in agents.items():
            check(a.sync()[0] == 0, "%s receives its stops" % uid)
        last = {}
        for rid in sorted(routes, key=lambda r: (routes[r][1], r)):
            cty, day, stops = routes[rid]
            for v, loss in stops:
                a = agents[owner[v]]
                sid = agent_sees(a, "SELECT id FROM route_stops WHERE route_id = '%s' AND "
                                 "village = '%s'" % (rid, v))
                if not check(len(sid) == 1, "%s holds its stop %s/%s" % (a.uid, rid, v)):
                    continue
                got = collected(v, day, since=last.get(v)) * (1000 - loss) // 1000
                if got > 0:
                    last[v] = day
                loaded[(rid, v)] = got
                a.cli("stop", "arrive", sid[0][0])
                if got > 0:
                    a.cli("stop", "load", sid[0][0], "--kg", kg_text(got))
                else:
                    loaded[(rid, v)] = 0
                code, _, err = a.cli("stop", "arrive", sid[0][0], ok=False)
                check(code == 1 and "forward" in err, "a stop's status never goes back")
        for uid, a in agents.items():
            check(a.sync()[0] == 0, "%s reports its loads" % uid)
        first_loads = dict(loaded)
        check_route_errors(dispatchers["pingshan"], agents["agent-li"], d0)

        # Refused per change: a route outside the dispatcher's county and an
        # agent re-planning its own stop; the rest of each batch applies.
        # `route create` refuses the out-of-county route when typed (issue 22
        # item 4); one slipped into the replica with plain SQL is refused by
        # the server.
        disp = dispatchers["pingshan"]
        code, _, err = disp.cli("route", "create", "--date", d0, "--vehicle", "v", "--driver",
                                "d", "--stops", "baishi:agent-zhao", ok=False)
        check(code == 2 and "outside the dispatcher's county" in err,
              "route create outside the county refused at entry: %d %r" % (code, err))
        stray = "01STRAYROUTE00000000000000"
        run(["/usr/bin/sqlite3", disp.db, "INSERT INTO routes(id, county, date, vehicle, driver,"
             " dispatcher_id, status) VALUES('%s', '%s', '%s', 'v', 'd', 'disp-pingshan',"
             " 'planned');" % (stray, county["baishi"], d0)])
        good = disp.new_id("route", "create", "--date", d1, "--vehicle", "v", "--driver", "d",
                           "--stops", "xiaba")
        routes[good] = ("pingshan", d1, [("xiaba", 0)])
        loaded[(good, "xiaba")] = 0
        code, _, err = disp.sync()
        check(code == 0, "the dispatcher's sync completes despite a refusal")
        refused = disp.list("refusals")
        check(any(r["table"] == "routes" and r["pk"] == stray and r["error"] == "LM_ESCOPE"
                  and r["reason"] for r in refused), "out-of-county route refused: %r" % refused)
        check(disp.status().get("refusals", 0) >= 1, "dispatcher status counts the refusal")
        check(not server.rows("SELECT id FROM routes WHERE id = ?", (stray,)),
              "the refused route is not on the server")
        check(server.rows("SELECT id FROM routes WHERE id = ?", (good,)),
              "the rest of the batch applied")
        li = agents["agent-li"]
        sid = agent_sees(li, "SELECT id FROM route_stops WHERE agent_id = 'agent-li' LIMIT 1")
        run(["/usr/bin/sqlite3", li.db, "UPDATE route_stops SET village = 'baishi' WHERE id = "
             "'%s';" % sid[0][0]])
        li.new_id("farmer", "add", "--name", "赵六", "--village", "shangba")
        check(li.sync()[0] == 0, "agent-li's sync completes despite a refusal")
        check(any(r["table"] == "route_stops" and r["pk"] == sid[0][0]
                  for r in li.list("refusals")), "an agent's re-plan of its stop is refused")
        check(server.rows("SELECT village FROM route_stops WHERE id = ?", (sid[0][0],))[0]
              ["village"] != "baishi", "the plan on the server is unchanged")
        check(server.rows("SELECT id FROM farmers WHERE name = '赵六'"),
              "agent-li's farmer in the same batch applied")
        for a in agents.values():
            a.sync()
        check(not agent_sees(agents["agent-zhao"], "SELECT id FROM routes WHERE id = '%s'"
                             % stray), "the refused route never reaches agent-zhao")

        code, out, _ = hq("report", "agents", "--db", server.db, "--format", "json")
        rep = {r["user"]: r for r in (json.loads(out) if code == 0 else [])}
        everyone = list(agents.values()) + list(dispatchers.values())
        check(set(rep) == {a.uid for a in everyone}, "report agents lists every user: %r"
              % sorted(rep))
        site = {r["user"]: r["site"] for r in server.rows("SELECT user, site FROM lm_sessions_log")}
        conflicts = server.rows("SELECT winner_site, loser_site FROM lm_conflicts "
                                "WHERE resolved = 0")
        for a in everyone:
            r = rep.get(a.uid, {})
            mine = sum(1 for c in conflicts if site.get(a.uid) in (c["winner_site"],
                                                                   c["loser_site"]))
            check(r.get("refusals") == len(a.list("refusals")) and r.get("last_sync")
                  and r.get("sessions", 0) > 0 and r.get("open_conflicts") == mine,
                  "report agents for %s matches its replica: %r" % (a.uid, r))
        check(rep.get("disp-pingshan", {}).get("refusals", 0) >= 1, "a refusal is reported")

        # `lastmile points` on the dispatcher: waiting weight per village.
        disp = dispatchers["pingshan"]
        check(disp.sync()[0] == 0, "the dispatcher pulls the loads")
        for upto in (d0, d1):
            code, out, _ = disp.cli("points", "--json", "--date", upto)
            got = {(r["village"], r["product"], r["grade"]): (r["collected_g"], r["loaded_g"],
                                                              r["waiting_g"])
                   for r in (json.loads(out) if code == 0 else [])}
            want = {}
            for (v, d, p_, g), val in net.items():
                if county[v] != "pingshan" or d > upto:
                    continue
                t = want.get((v, p_, g), (0, None, None))
                want[(v, p_, g)] = (t[0] + val[0], None, None)
            for v in {k[0] for k in want}:
                col = sum(x[0] for k, x in want.items() if k[0] == v)
                ld = sum(w for (rid, vv), w in loaded.items()
                         if vv == v and routes[rid][1] <= upto)
                if ld == 0:  # nothing loaded: every product is still waiting
                    for k in [k for k in want if k[0] == v]:
                        want[k] = (want[k][0], 0, want[k][0])
                want[(v, "*", "*")] = (col, ld, col - ld)
            check(got == want, "points --date %s: %r == %r" % (upto, got, want))
            if upto == d1:  # xiaba has no load up to d1, shangba has
                check({x[1] for k, x in want.items() if k[1] != "*"} == {0, None},
                      "points --date %s: product lines with and without waiting: %r"
                      % (upto, want))
            # route suggest: first-fit decreasing over the waiting weights.
            # The route `good` planned for d1 stops at xiaba, unloaded and
            # without a capacity: it takes all that waits there, which a
            # suggestion for d1 does not plan again (issue 23 item 2).
            planned = {"xiaba"} if upto == d1 else set()
            waiting = sorted(((x[2], v) for (v, p_, g), x in want.items()
                              if p_ == "*" and x[2] > 0 and v not in planned), reverse=True)
            cap = max(waiting)[0] * 2 // 3 if waiting else 1000
            bins = []
            for w, v in waiting:
                for b in bins:
                    if b[0] + w <= cap:
                        b[0] += w
                        b[1].add(v)
                        break
                else:
                    bins.append([w, {v}])
            code, out, _ = disp.cli("route", "suggest", "--date", upto, "--capacity-kg",
                                    kg_text(cap), "--json")
            sug = json.loads(out) if code == 0 else []
            check({frozenset(r["stops"]) for r in sug} == {frozenset(b[1]) for b in bins}
                  and all(r["waiting_g"] == sum(want[(v, "*", "*")][2] for v in r["stops"])
                          and r["over_capacity"] == (r["waiting_g"] > cap) for r in sug),
                  "route suggest --date %s: %r vs %r" % (upto, sug, bins))
            if upto == d0:
                check(any(r["over_capacity"] for r in sug) and len(sug) >= 2,
                      "the suggestion splits and flags a village over capacity: %r" % sug)
            else:
                check(not any("xiaba" in r["stops"] for r in sug),
                      "weight already on a planned route is not planned twice: %r" % sug)
        for uid, a in agents.items():
            # Scope: only its villages' farmers, its own stops, its counties' routes.
            mine = set(villages[uid])
            counties = {county[v] for v in mine}
            fv = {r[0] for r in agent_sees(a, "SELECT DISTINCT village FROM farmers")}
            check(fv <= mine, "%s holds only its villages' farmers: %r" % (uid, fv))
            so = {r[0] for r in agent_sees(a, "SELECT DISTINCT agent_id FROM route_stops")}
            check(so <= {uid}, "%s holds only its own stops: %r" % (uid, so))
            rc_ = {r[0] for r in agent_sees(a, "SELECT DISTINCT county FROM routes")}
            check(rc_ and rc_ <= counties, "%s holds its counties' routes: %r" % (uid, rc_))
        stops_srv = {(r["route_id"], r["village"]): r for r in server.rows(
            "SELECT route_id, village, status, loaded_weight_g FROM route_stops")}
        for key, w in first_loads.items():
            row = stops_srv.get(key, {})
            check(row.get("loaded_weight_g") == (w or None)
                  and row.get("status") == ("loaded" if w else "arrived"),
                  "the server holds the load of %r: %r" % (key, row))

        # Warehouse receipts per route, product and grade: most arrive whole,
        # a few lose weight in transit, one product of one route goes missing.
        received = {}
        since = windows()
        for rid, (cty, day, stops) in routes.items():
            pg = sorted({(p, g) for v, _ in stops for (vv, dd, p, g) in net
                         if vv == v and dd <= day and (since[(rid, v)] is None
                                                       or dd > since[(rid, v)])})
            for i, (p, g) in enumerate(pg):
                if routes[rid][0] == "yunxi" and routes[rid][1] == d0 and i == 0:
                    continue
                want = sum(collected(v, day, p, g, since[(rid, v)]) for v, _ in stops)
                if want <= 0:
                    continue
                w = want * (1000 - (40 if i % 3 == 1 else 0)) // 1000
                code, out, _ = hq("receipt", "add", "--db", server.db, "--route", rid,
                                  "--product", p, "--grade", g, "--kg", kg_text(w))
                check(code == 0 and len(out.strip()) == 26, "receipt add prints an id")
                received[(rid, p, g)] = received.get((rid, p, g), 0) + w

        def expected(tol, only=None, date_from=None, date_to=None):
            rows = {}

            def put(level, rid, village, product, grade, c, ld, rc):
                flags = []
                if ld is not None and over(c, ld, tol):
                    flags.append("collect>load")
                if ld is not None and rc is not None and over(ld, rc, tol):
                    flags.append("load>receive")
                if rc is not None and over(c, rc, tol):
                    flags.append("collect>receive")
                rows[(level, rid, village, product, grade)] = (c, ld, rc, " ".join(flags))

            for rid, (cty, day, stops) in routes.items():
                if (only and cty != only) or (date_from and day < date_from) or \
                        (date_to and day > date_to):
                    continue
                vs = [v for v, _ in stops]
                put("route", rid, "*", "*", "*",
                    sum(collected(v, day, since=since[(rid, v)]) for v in vs),
                    sum(loaded[(rid, v)] for v in vs),
                    sum(w for (r, _, _), w in received.items() if r == rid))
                for v in vs:
                    put("stop", rid, v, "*", "*", collected(v, day, since=since[(rid, v)]),
                        loaded[(rid, v)], None)
                vps = {(v, p, g) for v in vs for (vv, dd, p, g) in net
                       if vv == v and dd <= day and (since[(rid, v)] is None
                                                     or dd > since[(rid, v)])}
                pgs = {(p, g) for _, p, g in vps} | {(p, g) for (r, p, g) in received
                                                     if r == rid}
                for p, g in pgs:
                    put("product", rid, "*", p, g,
                        sum(collected(v, day, p, g, since[(rid, v)]) for v in vs),
                        None, received.get((rid, p, g), 0))
                for v, p, g in vps:
                    put("village_product", rid, v, p, g,
                        collected(v, day, p, g, since[(rid, v)]), None, None)
            return rows

        def report(*extra):
            code, out, _ = hq("report", "reconcile", "--db", server.db, "--format", "json",
                              *extra)
            rows = {}
            for r in (json.loads(out) if code == 0 else []):
                rows[(r["level"], r["route"], r["village"], r["product"], r["grade"])] = (
                    r["collected_g"], r["loaded_g"], r["received_g"], r["flag"])
                if r["loaded_g"] is not None:
                    check(r["collected_minus_loaded_g"] == r["collected_g"] - r["loaded_g"],
                          "difference collected - loaded")
            return rows

        def same(got, want, what):
            for k in sorted(set(got) | set(want)):
                check(got.get(k) == want.get(k), "%s %r: got %r want %r"
                      % (what, k, got.get(k), want.get(k)))

        want = expected(200)
        check(any(v[3] for v in want.values()) and any(not v[3] for v in want.values()),
              "the scripted week has flagged and clean rows")
        same(report(), want, "reconcile")
        same(report("--tolerance", "7.5"), expected(750), "reconcile --tolerance 7.5")
        same(report("--county", "yunxi"), expected(200, only="yunxi"), "reconcile yunxi")
        same(report("--from", d3, "--to", d1), expected(200, date_from=d3, date_to=d1),
             "reconcile --from --to")

        code, out, _ = hq("report", "reconcile", "--db", server.db, "--format", "csv")
        got = list(csv.DictReader(io.StringIO(out)))
        check(len(got) == len(want), "csv has one line per row (%d)" % len(got))
        code, out, _ = hq("report", "reconcile", "--db", server.db, "--wide")
        check(out.startswith("level") and out.count("\n") == len(want) + 1,
              "wide table: a header and one line per row")
        code, out, _ = hq("report", "reconcile", "--db", server.db)
        narrow = sum(1 for k in want if k[0] != "village_product")
        check(out.count("\n") == narrow + 3 * len(routes) - 1
              and all(out.count("%s  truck-%s  " % (d, n)) == 1 for n, (_, d, _) in plans.items()),
              "table: per route a title, a header and a line per total, stop and product")
        code, _, err = hq("report", "reconcile", "--db", server.db, "--tolerance", "x", ok=False)
        check(code == 2, "a bad tolerance is a usage error")

        check_import(server, agents["agent-li"], tmp, farmers, poor)

        # By the register just imported: agent-li's first poor farmer is
        # verified, its second doubtful (another name), the rest claimed.
        kind = {f: "claimed" for f in poor}
        kind[farmers["agent-li"][0]] = "verified"
        kind[farmers["agent-li"][2]] = "doubtful"
        check_poverty(server, ledger, county, kind, d3, d1)

        # Receipts are HQ's: they are not in any agent's replica.
        for a in agents.values():
            a.sync()
            check(agent_sees(a, "SELECT COUNT(*) FROM receipts") == [(0,)],
                  "%s holds no receipts" % a.uid)

        check_waiting(server, agents, dispatchers, d0)
        server.stop()
    done("hq_week")


if __name__ == "__main__":
    main()
