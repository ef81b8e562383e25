"""route_geo: `lastmile route suggest` over coordinates (docs/dispatch.md).

Real processes: one server, an hq replica (it sees every county). The
purchases and the geography (schema 9: villages.lat/lon, the warehouses
table) are written into the replica with plain SQL.

Checked: without coordinates the suggestion is first-fit decreasing as
before and --svg / --max-km are refused; with a village lacking
coordinates it says which and plans by weight; with all coordinates every
route keeps to the capacity, every waiting gram is planned exactly once
(a village over the capacity split over trips), each route's km is the
great-circle distance x 1.3 of its stop order (recomputed here), the total
equals a brute-force optimum over the same distances, --vehicles and
--max-km are kept or refused with the number needed / the village named,
--svg draws one line per route and one circle per village, and nothing is
written to the replica."""
import itertools
import json
import math
import os
import re
import sqlite3

from lmtest import Agent, Server, check, done, run, tempdir

DAY = "2026-11-28"
COLLECTED_AT = 1764288000000  # 2026-11-28 08:00 UTC+8
# pingshan's villages (the starter catalog's three and four added here),
# yunxi's three; (lat, lon) around two warehouses.
WAREHOUSES = {"wh-pingshan": ("pingshan", 27.000, 110.000),
              "wh-yunxi": ("yunxi", 27.300, 110.400)}
PLACES = {"shangba": (27.050, 110.020), "xiaba": (27.020, 110.060),
          "liangshui": (26.960, 110.050), "dongpo": (26.950, 109.950),
          "beiling": (27.080, 109.980), "nanxi": (26.990, 109.990),
          "xishan": (27.040, 109.930),
          "baishi": (27.320, 110.420), "heping": (27.280, 110.450),
          "qingshan": (27.350, 110.380)}
EXTRA = ("dongpo", "beiling", "nanxi", "xishan")
WAITING_KG = {"shangba": 1200, "xiaba": 800, "liangshui": 1500, "dongpo": 4500,
              "beiling": 300, "nanxi": 950, "xishan": 700,
              "baishi": 600, "heping": 1100, "qingshan": 400}
CAP_KG = 3000


def metres(a, b):
    """Great-circle metres x 1.3, rounded, as docs/dispatch.md defines."""
    (la1, lo1), (la2, lo2) = a, b
    r = math.pi / 180
    h = (math.sin((la2 - la1) * r / 2) ** 2
         + math.cos(la1 * r) * math.cos(la2 * r) * math.sin((lo2 - lo1) * r / 2) ** 2)
    return round(2 * 6371008.8 * math.asin(min(1.0, math.sqrt(h))) * 1.3)


def sql(db, *stmts):
    con = sqlite3.connect(db)
    for s in stmts:
        con.execute(*s) if isinstance(s, tuple) else con.execute(s)
    con.commit()
    con.close()


def snapshot(db):
    con = sqlite3.connect(db)
    out = [con.execute("SELECT count(*) FROM %s" % t).fetchone()[0]
           for t in ("routes", "route_stops", "collections")]
    con.close()
    return out


def route_len(wh, stops):
    pts = [wh] + [PLACES[s] for s in stops] + [wh]
    return sum(metres(a, b) for a, b in zip(pts, pts[1:]))


def optimum(wh, villages, cap_g):
    """Exact minimum total metres: village demands over the capacity leave
    their full trips out (each a return trip) and the rest is partitioned
    into capacity-feasible subsets, each driven in its best order."""
    fixed, pieces = 0, []
    for v in villages:
        w = WAITING_KG[v] * 1000
        trips, rest = divmod(w, cap_g) if w > cap_g else (0, w)
        fixed += trips * route_len(wh, [v])
        if rest:
            pieces.append((v, rest))
    best_tour = {}
    for k in range(1, len(pieces) + 1):
        for sub in itertools.combinations(range(len(pieces)), k):
            if sum(pieces[i][1] for i in sub) <= cap_g:
                best_tour[frozenset(sub)] = min(
                    route_len(wh, [pieces[i][0] for i in p]) for p in itertools.permutations(sub))
    memo = {frozenset(): 0}

    def cover(left):
        if left not in memo:
            first = min(left)
            memo[left] = min(
                (c + cover(left - s) for s, c in best_tour.items() if first in s and s <= left),
                default=math.inf)
        return memo[left]
    return fixed + cover(frozenset(range(len(pieces))))


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("hq-1", "hq")
        server.start()
        hq = Agent(tmp, "hq-1")
        hq.init(server, key)
        check(server.stop() == 0, "server exits 0")
        stmts = [("INSERT INTO villages (name, county) VALUES (?, 'pingshan')", (v,))
                 for v in EXTRA]
        for i, (v, kg) in enumerate(sorted(WAITING_KG.items())):
            stmts.append(("INSERT INTO collections (id, agent_id, farmer_id, village, product,"
                          " grade, weight_g, unit_price_fen, amount_fen, collected_at)"
                          " VALUES (?, 'agent-x', 'farmer-x', ?, 'potato', 'A', ?, 180, ?, ?)",
                          ("c-%02d" % i, v, kg * 1000, kg * 180, COLLECTED_AT)))
        sql(hq.db, *stmts)
        base = ["route", "suggest", "--date", DAY, "--capacity-kg", str(CAP_KG)]

        # No coordinates: first-fit decreasing, as before; geography options refused.
        code, out, _ = hq.cli(*base, "--json")
        ffd = json.loads(out) if code == 0 else []
        check(ffd and all("km" not in r for r in ffd) and any(r["over_capacity"] for r in ffd),
              "without coordinates: first-fit decreasing, dongpo flagged: %r" % ffd)
        code, _, err = hq.cli(*base, "--vehicles", "1", ok=False)
        check(code == 1 and "county pingshan needs 3 routes, at most 1 allowed" in err,
              "by weight, too few vehicles: the number needed: %r" % err)
        svg = os.path.join(tmp, "plan.svg")
        code, _, err = hq.cli(*base, "--svg", svg, ok=False)
        check(code == 1 and "need distances" in err and not os.path.exists(svg),
              "--svg without coordinates is refused: %d %r" % (code, err))

        # Coordinates for all but one village: named, planned by weight.
        sql(hq.db,
            *[("INSERT INTO warehouses (name, county, lat, lon) VALUES (?, ?, ?, ?)",
               (n, c, la, lo))
              for n, (c, la, lo) in WAREHOUSES.items()],
            *[("UPDATE villages SET lat = ?, lon = ? WHERE name = ?", (la, lo, v))
              for v, (la, lo) in PLACES.items() if v != "xishan"])
        code, out, err = hq.cli(*base, "--json")
        check(code == 0 and "village xishan has no coordinates" in err
              and json.loads(out) == ffd,
              "a village without coordinates is named and weight planning kept: %r" % err)
        sql(hq.db, ("UPDATE villages SET lat = ?, lon = ? WHERE name = 'xishan'",
                    PLACES["xishan"]))

        before = snapshot(hq.db)
        code, out, err = hq.cli(*base, "--json", "--svg", svg)
        plan = json.loads(out) if code == 0 else []
        check(code == 0 and plan, "route suggest over coordinates: %d %r" % (code, err))
        served = {}
        for r in plan:
            wh = WAREHOUSES[r["warehouse"]]
            check(wh[0] == r["county"], "route from its county's warehouse: %r" % r)
            check(r["waiting_g"] == sum(r["loads_g"]) <= CAP_KG * 1000,
                  "route within the capacity: %r" % r)
            km = route_len(wh[1:], r["stops"]) / 1000
            check(abs(r["km"] - km) < 0.0005, "route km %r recomputed %r" % (r["km"], km))
            for v, g in zip(r["stops"], r["loads_g"]):
                served[v] = served.get(v, 0) + g
        check(served == {v: kg * 1000 for v, kg in WAITING_KG.items()},
              "every waiting gram planned once: %r" % served)
        check(sum(1 for r in plan if "dongpo" in r["stops"]) == 2,
              "dongpo's 4,500 kg split over two trips")
        for wname, (county, la, lo) in WAREHOUSES.items():
            vs = [v for v in PLACES if (v in EXTRA or v in ("shangba", "xiaba", "liangshui"))
                  == (county == "pingshan")]
            got = sum(route_len((la, lo), r["stops"]) for r in plan if r["county"] == county)
            best = optimum((la, lo), vs, CAP_KG * 1000)
            check(got == best, "%s: %d m, the optimum is %d m" % (county, got, best))
        with open(svg) as f:
            pic = f.read()
        check(pic.startswith("<svg") and pic.count('class="route"') == len(plan)
              and pic.count('class="village"') == len(PLACES)
              and pic.count('class="warehouse"') == 2
              and not re.search(r'(?:x|y|r|points)="[^"]*(?:nan|inf)', pic),
              "the picture: one line per route, one circle per village")
        check(not os.path.exists(svg + ".tmp"), "no temporary file left")
        code, text, _ = hq.cli(*base)
        check(code == 0 and text.count("route ") == len(plan) and "of 4500.000 kg" in text
              and " h from wh-pingshan)" in text, "text output: %r" % text)

        # Limits: enough vehicles is fine, too few says how many are needed.
        per_county = max(sum(1 for r in plan if r["county"] == c) for c in ("pingshan", "yunxi"))
        code, out, _ = hq.cli(*base, "--json", "--vehicles", str(per_county))
        check(code == 0 and len(json.loads(out)) == len(plan), "--vehicles %d kept" % per_county)
        code, _, err = hq.cli(*base, "--vehicles", "2", ok=False)
        check(code == 1 and "needs" in err and "--vehicles 2" in err,
              "too few vehicles: the number needed: %r" % err)
        code, out, _ = hq.cli(*base, "--json", "--max-km", "40")
        limited = json.loads(out) if code == 0 else []
        check(code == 0 and limited and all(r["km"] <= 40 for r in limited),
              "--max-km 40 kept by every route: %r" % [r["km"] for r in limited])
        code, _, err = hq.cli(*base, "--max-km", "5", ok=False)
        check(code == 1 and "--max-km allows 5.0" in err and "village " in err,
              "a village beyond --max-km is named: %r" % err)
        code, _, err = hq.cli(*base, "--vehicles", "0", ok=False)
        check(code == 2, "--vehicles 0 is a usage error: %r" % err)
        os.remove(svg)
        code, _, err = hq.cli(*base, "--vehicles", "1", "--svg", svg, ok=False)
        check(code == 1 and not os.path.exists(svg), "a refused plan draws nothing")
        check(snapshot(hq.db) == before, "nothing written to the replica")
    done("route_geo")


if __name__ == "__main__":
    main()
