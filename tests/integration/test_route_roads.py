"""route_roads: `route suggest` over imported road distances, --max-hours,
the county's settings, and `route create --from-suggestion` (issue 23).

Real processes: one server; an agent buying in pingshan's five villages
(purchases back-dated with plain SQL on its replica, then synced); a
dispatcher of pingshan. Headquarters imports road distances and sets the
county's detour, speed and stop time with `lastmile-server distance`; the
dispatcher receives them on sync (the agent does not). The geography of
schema 9 (villages.lat/lon, warehouses) is written into the server's file
with plain SQL (no command sets it yet) and reaches the dispatcher by sync.

Checked, each figure recomputed here from the inputs, never from the C
code: every bad distance file is refused naming its line and writes
nothing; imported pairs change the plan against great-circle x detour and
the total is the exact optimum over the same distances; each route's km and
hours follow from imported km and minutes, else great-circle x the county's
detour and its speed, plus its stop time; --max-hours is kept, or a village
too far is named; a changed detour changes the km; --from-suggestion
creates the routes and stops `list routes` / `list stops` show, all or
nothing, and `points` shows an agent's load at one of them; the same suggestion again is stale and refused; a new suggestion
plans nothing twice; capacity 0 is refused; 2,001 villages are all planned
(by weight: over geography a county is limited to 2,000, named)."""
import itertools
import json
import math
import os
import sqlite3
import time

from lmtest import SERVER, Agent, Server, amount, check, done, run, tempdir

DAY = "2026-11-28"
COLLECTED_AT = 1764288000000  # 2026-11-28 08:00 UTC+8
WH = ("wh-pingshan", 27.000, 110.000)
PLACES = {"shangba": (27.050, 110.020), "xiaba": (27.020, 110.060),
          "liangshui": (26.960, 110.050), "dongpo": (26.950, 109.950),
          "beiling": (27.080, 109.980)}
EXTRA = ("dongpo", "beiling")
WAITING_KG = {"shangba": 1200, "xiaba": 800, "liangshui": 1500, "dongpo": 4500, "beiling": 300}
CAP_KG = 3000
PRICE_FEN = 180
# A river without a bridge between shangba and xiaba (5 km apart as the
# crow flies); a fast road from the warehouse to liangshui, minutes known.
ROADS = [("shangba", "xiaba", "61.5", "95"), ("xiaba", "shangba", "61.5", "95"),
         ("wh-pingshan", "liangshui", "9.2", "11.5"), ("liangshui", "wh-pingshan", "9.4", "")]


def gc(a, b):
    (la1, lo1), (la2, lo2) = a, b
    r = math.pi / 180
    h = (math.sin((la2 - la1) * r / 2) ** 2
         + math.cos(la1 * r) * math.cos(la2 * r) * math.sin((lo2 - lo1) * r / 2) ** 2)
    return 2 * 6371008.8 * math.asin(min(1.0, math.sqrt(h)))


def pos(p):
    return WH[1:] if p == WH[0] else PLACES[p]


class Matrix:
    """Distances and times as docs/dispatch.md defines them."""

    def __init__(self, roads, detour, speed_kmh, stop_min):
        self.roads = {}
        for f, t, km, mins in roads:
            self.roads[(f, t)] = (round(float(km) * 1000), round(float(mins) * 60) if mins else None)
        self.detour, self.speed, self.stop = detour, speed_kmh * 1000, stop_min * 60

    def pair(self, a, b):
        return self.roads.get((a, b)) or self.roads.get((b, a))

    def metres(self, a, b):
        p = self.pair(a, b)
        return p[0] if p else round(gc(pos(a), pos(b)) * self.detour)

    def seconds(self, a, b):
        p = self.pair(a, b)
        s = p[1] if p and p[1] is not None else int(self.metres(a, b) * 3600 / self.speed + 0.5)
        return s + (self.stop if b != WH[0] else 0)

    def route(self, stops):
        path = [WH[0]] + list(stops) + [WH[0]]
        legs = list(zip(path, path[1:]))
        return sum(self.metres(a, b) for a, b in legs), sum(self.seconds(a, b) for a, b in legs)

    def optimum(self, cap_g, max_s=None):
        """Exact minimum total metres (full trips of a village over the
        capacity apart, the rest partitioned into feasible tours)."""
        fixed, pieces = 0, []
        for v, kg in WAITING_KG.items():
            w = kg * 1000
            trips, rest = divmod(w, cap_g) if w > cap_g else (0, w)
            fixed += trips * self.route([v])[0]
            if rest:
                pieces.append((v, rest))
        tours = {}
        for k in range(1, len(pieces) + 1):
            for sub in itertools.combinations(range(len(pieces)), k):
                if sum(pieces[i][1] for i in sub) > cap_g:
                    continue
                best = math.inf
                for p in itertools.permutations(sub):
                    m, s = self.route([pieces[i][0] for i in p])
                    if max_s is None or s <= max_s:
                        best = min(best, m)
                if best < math.inf:
                    tours[frozenset(sub)] = best
        memo = {frozenset(): 0}

        def cover(left):
            if left not in memo:
                first = min(left)
                memo[left] = min((c + cover(left - s) for s, c in tours.items()
                                  if first in s and s <= left), default=math.inf)
            return memo[left]
        return fixed + cover(frozenset(range(len(pieces))))


def hq(*args, ok=True):
    return run([SERVER] + list(args), ok=ok)


def server_count(server, table):
    return server.rows("SELECT count(*) AS n FROM %s" % table)[0]["n"]


def check_plan(plan, mx, what, max_s=None):
    served = {}
    for r in plan:
        check(r["county"] == "pingshan" and r["warehouse"] == WH[0] and r["date"] == DAY
              and r["capacity_g"] == CAP_KG * 1000, "%s: route's county, warehouse, date" % what)
        check(r["waiting_g"] == sum(r["loads_g"]) <= CAP_KG * 1000,
              "%s: route within the capacity: %r" % (what, r))
        m, s = mx.route(r["stops"])
        check(abs(r["km"] - m / 1000) < 0.0005 and abs(r["hours"] - s / 3600) < 0.0002,
              "%s: route %r km %r h %r, recomputed %r km %r h" % (what, r["stops"], r["km"],
                                                               r["hours"], m / 1000, s / 3600))
        if max_s:
            check(s <= max_s, "%s: route %r takes %d s, at most %d" % (what, r["stops"], s, max_s))
        for v, g, at in zip(r["stops"], r["loads_g"], r["waiting_at_g"]):
            served[v] = served.get(v, 0) + g
            check(at == WAITING_KG[v] * 1000, "%s: waiting_at_g of %s" % (what, v))
    check(served == {v: kg * 1000 for v, kg in WAITING_KG.items()},
          "%s: every waiting gram planned once: %r" % (what, served))
    total = sum(mx.route(r["stops"])[0] for r in plan)
    best = mx.optimum(CAP_KG * 1000, max_s)
    check(total == best, "%s: %d m, the optimum is %d m" % (what, total, best))


def write(path, text, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        f.write(text)


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        # The geography (schema 9: villages.lat/lon, warehouses) written into
        # the server's file with plain SQL, captured like an hq write (no
        # command sets coordinates yet): the dispatcher receives it on sync.
        con = sqlite3.connect(server.db)
        for v in EXTRA:
            con.execute("INSERT INTO villages (name, county) VALUES (?, 'pingshan')", (v,))
        for v, (la, lo) in PLACES.items():
            con.execute("UPDATE villages SET lat = ?, lon = ? WHERE name = ?", (la, lo, v))
        con.execute("INSERT INTO warehouses (name, county, lat, lon) VALUES (?, 'pingshan', ?, ?)",
                    WH)
        con.commit()
        con.close()
        # the county's settings (this hq write also stamps the villages above)
        code, out, err = hq("distance", "set", "--db", server.db, "--county", "pingshan",
                            "--speed-kmh", "40", "--stop-minutes", "30")
        check(code == 0 and "speed 40.000 km/h, 30.0 minutes a stop" in out
              and "detour 1.300" in out, "distance set: %r %r" % (out, err))
        for bad, why in ((["--county", "nowhere", "--detour", "1.2"], "unknown county"),
                         (["--county", "pingshan", "--detour", "0.9"], "below 1"),
                         (["--county", "pingshan", "--speed-kmh", "-4"], "negative")):
            code, _, err = hq("distance", "set", "--db", server.db, *bad, ok=False)
            check(code in (1, 2) and why in err, "distance set %r refused: %r" % (bad, err))
        agent_key = server.add_user("agent-x", "agent", list(PLACES))
        disp_key = server.add_user("disp-1", "dispatcher", county="pingshan")
        server.start()

        agent = Agent(tmp, "agent-x")
        agent.init(server, agent_key)
        now = int(time.time() * 1000)
        stmts = []
        for i, (v, kg) in enumerate(sorted(WAITING_KG.items())):
            fid = ("F%02d" % i).ljust(26, "0")
            stmts.append("INSERT INTO farmers (id, name, village, created_by, created_at) VALUES"
                         " ('%s', 'farmer %d', '%s', 'agent-x', %d);" % (fid, i, v, now))
            stmts.append("INSERT INTO collections (id, agent_id, farmer_id, village, product,"
                         " grade, weight_g, unit_price_fen, amount_fen, collected_at) VALUES"
                         " ('%s', 'agent-x', '%s', '%s', 'potato', 'A', %d, %d, %d, %d);"
                         % (("C%02d" % i).ljust(26, "0"), fid, v, kg * 1000, PRICE_FEN,
                            amount(kg * 1000, PRICE_FEN), COLLECTED_AT))
        run(["/usr/bin/sqlite3", agent.db, "".join(stmts)])
        code, summary, err = agent.sync()
        check(code == 0 and server_count(server, "collections") == len(WAITING_KG),
              "the agent's purchases reach the server: %r %r" % (summary, err))

        disp = Agent(tmp, "disp-1")
        disp.init(server, disp_key)
        base = ["route", "suggest", "--date", DAY, "--capacity-kg", str(CAP_KG)]
        code, out, err = disp.cli(*base, "--json")
        gc_plan = json.loads(out) if code == 0 else []
        check(code == 0 and gc_plan, "great-circle suggestion: %r" % err)
        check_plan(gc_plan, Matrix([], 1.3, 40, 30), "great-circle")

        # Bad distance files: each refused naming its line, nothing written.
        good = "from,to,km,minutes\n" + "".join("%s,%s,%s,%s\n" % r for r in ROADS)
        bads = [("from,to,km\nshangba,xiaba,abc\n", ":2: km 'abc' is not a number"),
                ("from,to,km\nshangba,xiaba,-3\n", ":2: km '-3' is negative"),
                ("from,to,km,minutes\nshangba,xiaba,3,-1\n", ":2: minutes '-1' is negative"),
                ("from,to,km,minutes\nshangba,xiaba,3,soon\n", ":2: minutes 'soon' is not a"),
                ("from,to,km\nshangba,nowhere,3\n", ":2: unknown place 'nowhere'"),
                ("from,to,km\nshangba,baishi,30\n", "in county pingshan, 'baishi' in yunxi"),
                ("from,to,km\nshangba,xiaba,3\nxiaba,liangshui,4\nshangba,xiaba,3.5\n",
                 ":4: shangba to xiaba is listed twice (line 2)"),
                ("shangba,xiaba,3\n", ":1: the first line must be the header"),
                ("from,to,km\nshangba,xiaba\n", ":2: expected from,to,km"),
                (good.replace("liangshui,wh-pingshan,9.4", "liangshui,wh-pingshan,9.4x"),
                 ":5: km '9.4x' is not a number")]
        for i, (text, why) in enumerate(bads):
            path = os.path.join(tmp, "bad%d.csv" % i)
            write(path, text)
            code, _, err = hq("distance", "import", "--db", server.db, "--csv", path, ok=False)
            check(code == 1 and why in err and path in err,
                  "bad distance file %d refused (%r): %r" % (i, why, err))
        check(server_count(server, "road_distances") == 0, "nothing imported by a bad file")
        # The good file, as a spreadsheet saves it: BOM, CRLF.
        path = os.path.join(tmp, "roads.csv")
        write(path, "\ufeff" + good.replace("\n", "\r\n"))
        code, out, err = hq("distance", "import", "--db", server.db, "--csv", path)
        check(code == 0 and "imported 4 distances (4 new, 0 replaced)" in out,
              "distance import: %r %r" % (out, err))
        rows = server.rows("SELECT from_place, to_place, metres, seconds FROM road_distances"
                           " ORDER BY 1, 2")
        check([(r["from_place"], r["to_place"], r["metres"], r["seconds"]) for r in rows]
              == sorted([("shangba", "xiaba", 61500, 5700), ("xiaba", "shangba", 61500, 5700),
                         ("wh-pingshan", "liangshui", 9200, 690),
                         ("liangshui", "wh-pingshan", 9400, None)]),
              "the pairs as stored: %r" % rows)

        check(disp.sync()[0] == 0 and agent.sync()[0] == 0, "syncs after the import")
        dcount = lambda t: sqlite3.connect(disp.db).execute(  # noqa: E731
            "SELECT count(*) FROM %s" % t).fetchone()[0]
        acount = lambda t: sqlite3.connect(agent.db).execute(  # noqa: E731
            "SELECT count(*) FROM %s" % t).fetchone()[0]
        check(dcount("road_distances") == 4 and dcount("routing_settings") == 1,
              "the dispatcher receives the distances and settings")
        check(acount("road_distances") == 0 and acount("routing_settings") == 0,
              "an agent does not")

        mx = Matrix(ROADS, 1.3, 40, 30)
        code, out, err = disp.cli(*base, "--json")
        plan = json.loads(out) if code == 0 else []
        check(code == 0 and plan, "suggestion over road distances: %r" % err)
        check_plan(plan, mx, "roads")
        def adjacent(p):
            return any({a, b} == {"shangba", "xiaba"}
                       for r in p for a, b in zip(r["stops"], r["stops"][1:]))
        check(adjacent(gc_plan) and not adjacent(plan),
              "the river parts shangba and xiaba: %r vs %r"
              % ([r["stops"] for r in plan], [r["stops"] for r in gc_plan]))
        code, text, _ = disp.cli(*base)
        check(code == 0 and " h from wh-pingshan)" in text, "text output has hours: %r" % text)

        # --max-hours: the longest route of the plan less ten minutes, as
        # long as every village alone still fits.
        longest = max(mx.route(r["stops"])[1] for r in plan)
        alone = max(mx.route([v])[1] for v in PLACES)
        limit_s = max(longest - 600, alone + 60)
        limit_h = "%.3f" % (limit_s / 3600)
        limit_s = round(float(limit_h) * 1000) * 36 // 10
        code, out, err = disp.cli(*base, "--json", "--max-hours", limit_h)
        limited = json.loads(out) if code == 0 else []
        check(code == 0 and limited, "--max-hours %s: %r" % (limit_h, err))
        check_plan(limited, mx, "max-hours", limit_s)
        code, _, err = disp.cli(*base, "--max-hours", "0.5", ok=False)
        check(code == 1 and "--max-hours allows 0.5" in err and "village " in err,
              "a village beyond --max-hours is named: %r" % err)
        code, _, err = disp.cli(*base, "--max-hours", "soon", ok=False)
        check(code == 2, "--max-hours soon is a usage error: %r" % err)
        code, _, err = disp.cli("route", "suggest", "--date", DAY, "--capacity-kg", "0", ok=False)
        check(code == 2 and "capacity" in err, "capacity 0 is refused: %r" % err)

        # The county's detour, set at headquarters, reaches the plan.
        code, out, _ = hq("distance", "set", "--db", server.db, "--county", "pingshan",
                          "--detour", "1.45")
        check(code == 0 and "detour 1.450, speed 40.000 km/h" in out, "detour set: %r" % out)
        check(disp.sync()[0] == 0, "sync after the detour")
        mx = Matrix(ROADS, 1.45, 40, 30)
        code, out, err = disp.cli(*base, "--json")
        plan = json.loads(out) if code == 0 else []
        check(code == 0 and plan, "suggestion with detour 1.45: %r" % err)
        check_plan(plan, mx, "detour 1.45")

        # From the suggestion to routes: all of them, once.
        sugg = os.path.join(tmp, "suggestion.json")
        write(sugg, out)
        before = (dcount("routes"), dcount("route_stops"))
        edited = json.loads(out)
        edited[0]["loads_g"][0] -= 1000
        edited[0]["waiting_g"] -= 1000
        bad_sugg = os.path.join(tmp, "edited.json")
        write(bad_sugg, json.dumps(edited))
        code, _, err = disp.cli("route", "create", "--from-suggestion", bad_sugg, ok=False)
        check(code == 1 and "the routes load" in err, "a suggestion that leaves weight: %r" % err)
        write(bad_sugg, out[: len(out) // 2])
        code, _, err = disp.cli("route", "create", "--from-suggestion", bad_sugg, ok=False)
        check(code == 1 and "is not the JSON array" in err, "a truncated suggestion: %r" % err)
        check((dcount("routes"), dcount("route_stops")) == before, "nothing written by them")

        code, out, err = disp.cli("route", "create", "--from-suggestion", sugg, "--vehicle",
                                  "truck", "--driver", "Liu Wei", "--json")
        ids = [r["id"] for r in json.loads(out)] if code == 0 else []
        check(code == 0 and len(ids) == len(plan), "route create --from-suggestion: %r" % err)
        routes = {r["id"]: r for r in disp.list("routes")}
        stops = disp.list("stops")
        for i, (rid, r) in enumerate(zip(ids, plan)):
            got = routes.get(rid, {})
            check(got.get("date") == DAY and got.get("capacity_g") == CAP_KG * 1000
                  and got.get("vehicle") == "truck-%d" % (i + 1) and got.get("driver") == "Liu Wei"
                  and got.get("county") == "pingshan", "route %d as suggested: %r" % (i + 1, got))
            mine = sorted((s["seq"], s["village"], s["agent_id"], s["status"])
                          for s in stops if s["route_id"] == rid)
            check(mine == [(k + 1, v, "agent-x", "planned") for k, v in enumerate(r["stops"])],
                  "route %d's stops in order: %r" % (i + 1, mine))
        code, out, err = disp.cli(*base, "--json")
        check(code == 0 and json.loads(out) == [],
              "a new suggestion plans nothing twice: %r %r" % (out, err))
        after = (dcount("routes"), dcount("route_stops"))
        code, _, err = disp.cli("route", "create", "--from-suggestion", sugg, ok=False)
        check(code == 1 and "stale suggestion" in err and "suggest again" in err,
              "the same suggestion again is stale: %r" % err)
        check((dcount("routes"), dcount("route_stops")) == after, "nothing written by it")
        code, summary, err = disp.sync()
        check(code == 0 and server_count(server, "routes") == len(plan),
              "the routes reach the server: %r %r" % (summary, err))
        # The agent loads its stop at shangba: points shows the load, and a
        # new suggestion still plans nothing twice.
        check(agent.sync()[0] == 0, "the agent receives its stops")
        mine = [s for s in agent.list("stops") if s["village"] == "shangba"]
        check(len(mine) == 1, "the agent holds the shangba stop: %r" % mine)
        if mine:
            code, _, err = agent.cli("stop", "load", mine[0]["id"], "--kg", "1200")
            check(code == 0, "stop load: %r" % err)
        check(agent.sync()[0] == 0 and disp.sync()[0] == 0, "syncs after the load")
        code, out, _ = disp.cli("points", "--date", DAY, "--json")
        line = [p for p in json.loads(out) if p["village"] == "shangba" and p["product"] == "*"] \
            if code == 0 else []
        check(line and line[0]["loaded_g"] == 1200000 and line[0]["waiting_g"] == 0,
              "points shows shangba's load: %r" % line)
        code, out, err = disp.cli(*base, "--json")
        check(code == 0 and json.loads(out) == [], "still nothing to plan: %r %r" % (out, err))
        check(server.stop() == 0, "server exits 0")

        # After the last sync, on the dispatcher's file only: a village without
        # coordinates and without road distances is named (the next day: the
        # routes of DAY no longer cover its weight); with --max-hours the
        # suggestion is refused, without it planned by weight, every village in.
        sqlite3.connect(disp.db).execute("UPDATE villages SET lat = NULL WHERE name = 'beiling'"
                                         ).connection.commit()
        nxt = ["route", "suggest", "--date", "2026-11-29", "--capacity-kg", str(CAP_KG)]
        code, _, err = disp.cli(*nxt, "--max-hours", "9", ok=False)
        check(code == 1 and "village beiling has no coordinates and no road distance to" in err,
              "a village without a position is named: %r" % err)
        code, out, err = disp.cli(*nxt, "--json")
        byw = json.loads(out) if code == 0 else []
        check(code == 0 and "village beiling has no coordinates" in err and "km" not in byw[0]
              and sorted(v for r in byw for v in r["stops"]) == sorted(set(PLACES) - {"shangba"}),
              "planned by weight, beiling included: %r %r" % (byw, err))

        # Many villages (no more silent cut at 256): a county of 2,001
        # villages with weight waiting, one warehouse, no distances. Over
        # geography that is refused with the number, so the whole suggestion
        # is planned by weight, every village in it.
        big = ["v%04d" % i for i in range(2001)]
        con = sqlite3.connect(disp.db)
        con.executemany("INSERT INTO villages (name, county) VALUES (?, 'bigcounty')",
                        [(v,) for v in big])
        con.executemany("INSERT INTO collections (id, agent_id, farmer_id, village, product,"
                        " grade, weight_g, unit_price_fen, amount_fen, collected_at) VALUES"
                        " (?, 'agent-x', 'f', ?, 'potato', 'A', 1000000, 180, 180000, ?)",
                        [("big%04d" % i, v, COLLECTED_AT) for i, v in enumerate(big)])
        con.execute("INSERT INTO warehouses VALUES ('wh-big', 'bigcounty', 27.5, 110.5)")
        con.commit()
        con.close()
        code, out, err = disp.cli(*base, "--json")
        planned = [v for r in json.loads(out) for v in r["stops"]] if code == 0 else []
        check(code == 0 and sorted(planned) == big,
              "2,001 villages planned by weight, each once: %d" % len(planned))
        check("county bigcounty has 2001 villages with weight waiting; route suggest plans at"
              " most 2000 per county" in err, "the limit is named with the number: %r" % err)
    done("route_roads")


if __name__ == "__main__":
    main()
