"""hq_figures: headquarters' figures are true (issue 21). The issue's small
world with the real binaries: one county dispatcher, three agents buying
on three days, a pickup on the fourth (and an earlier one at one village),
warehouse receipts with losses, a register of poor households imported
from files of every awkward kind. Each report is checked against figures
this script computes from what it generated, never from the C code:

- `report reconcile` measures each stop against what was waiting when the
  truck came (the village's buying since its previous load, up to this
  load) and flags losses on route, stop and product lines; the table names
  routes by date, vehicle and driver and fits a terminal;
- `report poverty` counts only households the register verifies;
  doubtful and claimed ones are apart and listed for follow-up;
- `farmer import` refuses empty, header-only, non-UTF-8 and unknown-village
  files without touching the register, and reads a BOM, CRLF, Chinese
  headers and GBK (--encoding gbk);
- a load typed as 99999 kg is corrected by the dispatcher (`lastmile stop
  correct`, its own logged row; an agent may not), and `points` and
  `report reconcile` use the latest correction and say so."""
import json
import sqlite3
import time
import unicodedata
from datetime import datetime, timedelta, timezone

from ledger import Ledger
from lmtest import SERVER, Agent, Server, amount, check, done, run, tempdir

CST = timezone(timedelta(hours=8))
DAY_MS = 86400 * 1000


def term_width(text):
    """Columns a terminal gives text: East Asian wide and fullwidth take 2."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cst_day(ms):
    return datetime.fromtimestamp(ms / 1000, CST).strftime("%Y-%m-%d")


def kg_text(g):
    return "%d.%03d" % (g // 1000, g % 1000)


def over(a, b, tol_cpct=200):
    return a > 0 and (a - b) * 10000 > tol_cpct * a


def hq(*args, ok=True):
    return run([SERVER] + list(args), ok=ok)


def back_dated(agent, ledger, farmer, village, product, grade, weight_g, price_fen, at_ms, tag):
    """A purchase of an earlier day: the CLI stamps the current time, so the
    row is written with plain SQL on the agent's replica (captured, pushed)."""
    cid = ("B%s%s" % (tag, "0" * 26))[:26]
    amt = amount(weight_g, price_fen)
    run(["/usr/bin/sqlite3", agent.db,
         "INSERT INTO collections (id, agent_id, farmer_id, village, product, grade, weight_g,"
         " unit_price_fen, amount_fen, collected_at) VALUES ('%s','%s','%s','%s','%s','%s',"
         "%d,%d,%d,%d);" % (cid, agent.uid, farmer, village, product, grade, weight_g,
                            price_fen, amt, at_ms)])
    ledger.collections[cid] = dict(agent=agent.uid, weight_g=weight_g, unit_price_fen=price_fen,
                                   amount_fen=amt, product=product, grade=grade,
                                   farmer_id=farmer)
    return cid


def stop_id(agent, route, village):
    rows = agent.list("stops")
    ids = [s["id"] for s in rows if s["route_id"] == route and s["village"] == village]
    check(len(ids) == 1, "%s holds its stop %s/%s" % (agent.uid, route, village))
    return ids[0] if ids else ""


class World:
    """Everything generated, and the figures the reports must show."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.server = Server(tmp)
        self.village_of_agent = {"agent-li": "shangba", "agent-wang": "xiaba",
                                 "agent-zhao": "liangshui"}
        keys = {u: self.server.add_user(u, "agent", [v])
                for u, v in self.village_of_agent.items()}
        dkey = self.server.add_user("disp-pingshan", "dispatcher", None, "pingshan")
        self.server.start()
        self.agents = {u: Agent(tmp, u) for u in keys}
        for u, a in self.agents.items():
            a.init(self.server, keys[u])
        self.disp = Agent(tmp, "disp-pingshan")
        self.disp.init(self.server, dkey)
        self.ledger = Ledger()
        self.farmers = {}  # id -> (name, village, household or None, marked poor)
        self.routes = {}   # id -> dict(date, vehicle, driver, stops=[village])
        self.loads = {}    # (route, village) -> grams
        self.received = {}  # (route, product, grade) -> grams
        self.corrected = set()  # (route, village) whose load was corrected

    def farmer(self, uid, name, household=None, poor=False):
        v = self.village_of_agent[uid]
        args = ["farmer", "add", "--name", name, "--village", v]
        if poor:
            args.append("--poor")
        if household:
            args += ["--household", household]
        fid = self.agents[uid].new_id(*args)
        self.farmers[fid] = (name, v, household, poor)
        return fid

    def days(self):
        """The day of each collection from the time stored on the server."""
        at = {r["id"]: r["collected_at"]
              for r in self.server.rows("SELECT id, collected_at FROM collections")}
        check(set(at) == set(self.ledger.collections), "every purchase reached the server")
        for cid, c in self.ledger.collections.items():
            c["village"] = self.farmers[c["farmer_id"]][1]
            c["day"] = cst_day(at.get(cid, 0))

    def net(self, cid):
        c = self.ledger.collections[cid]
        if cid in self.ledger.voided:
            return 0, 0
        ds = self.ledger.deltas.get(cid, [])
        return c["weight_g"] + sum(d for d, _ in ds), c["amount_fen"] + sum(f for _, f in ds)

    def previous_load(self, route, village):
        """The day of the last load at village before this route's (routes
        by date, then id)."""
        me = (self.routes[route]["date"], route)
        prev = [(r["date"], rid) for rid, r in self.routes.items()
                if village in r["stops"] and (r["date"], rid) < me
                and self.loads.get((rid, village))]
        return max(prev)[0] if prev else None

    def window(self, route, village):
        """The non-voided purchases at village waiting when this route's truck
        came: days after the previous load there, up to the route's date."""
        day, since = self.routes[route]["date"], self.previous_load(route, village)
        return [cid for cid, c in self.ledger.collections.items()
                if cid not in self.ledger.voided and c["village"] == village
                and c["day"] <= day and (since is None or c["day"] > since)]

    def waiting(self, route, village, product=None, grade=None):
        return sum(self.net(cid)[0] for cid in self.window(route, village)
                   if product in (None, self.ledger.collections[cid]["product"])
                   and grade in (None, self.ledger.collections[cid]["grade"]))

    def reconcile_expected(self):
        rows = {}

        def put(level, rid, village, product, grade, c, ld, rc):
            flags = []
            if ld is not None and over(c, ld):
                flags.append("collect>load")
            if ld is not None and rc is not None and over(ld, rc):
                flags.append("load>receive")
            if rc is not None and over(c, rc):
                flags.append("collect>receive")
            rows[(level, rid, village, product, grade)] = (c, ld, rc, " ".join(flags))

        for rid, r in self.routes.items():
            vs = r["stops"]
            put("route", rid, "*", "*", "*", sum(self.waiting(rid, v) for v in vs),
                sum(self.loads.get((rid, v), 0) for v in vs),
                sum(w for (x, _, _), w in self.received.items() if x == rid))
            for v in vs:
                put("stop", rid, v, "*", "*", self.waiting(rid, v), self.loads.get((rid, v), 0),
                    None)
            vpg = {(v, self.ledger.collections[cid]["product"],
                    self.ledger.collections[cid]["grade"])
                   for v in vs for cid in self.window(rid, v)}
            pgs = {(p, g) for _, p, g in vpg} | {(p, g) for (x, p, g) in self.received
                                                 if x == rid}
            for p, g in pgs:
                put("product", rid, "*", p, g, sum(self.waiting(rid, v, p, g) for v in vs),
                    None, self.received.get((rid, p, g), 0))
            for v, p, g in vpg:
                put("village_product", rid, v, p, g, self.waiting(rid, v, p, g), None, None)
        return rows


def buy(w):
    """Three days of buying before the pickup, and some on the pickup day;
    returns the farmers by role."""
    li, wang, zhao = (w.agents[u] for u in ("agent-li", "agent-wang", "agent-zhao"))
    f = {
        "verified": w.farmer("agent-li", "张秀英", "HH-001", poor=True),
        "verified_unmarked": w.farmer("agent-wang", "王建国", "HH-002"),
        "doubtful": w.farmer("agent-wang", "王芳", "HH-003", poor=True),
        "claimed": w.farmer("agent-zhao", "赵强", "HH-777", poor=True),
        "claimed_no_id": w.farmer("agent-li", "李明", None, poor=True),
        "other_li": w.farmer("agent-li", "李华"),
        "other_zhao": w.farmer("agent-zhao", "赵敏"),
    }
    now = int(time.time() * 1000)
    day = lambda k: now - k * DAY_MS  # noqa: E731
    L = w.ledger
    # shangba (agent-li): d3, d2 before the first pickup (d2), d1 and d0 after.
    back_dated(li, L, f["verified"], "shangba", "potato", "A", 152400, 180, day(3), "LI3A")
    back_dated(li, L, f["other_li"], "shangba", "corn", "B", 42310, 150, day(3), "LI3B")
    back_dated(li, L, f["claimed_no_id"], "shangba", "potato", "A", 20000, 180, day(2), "LI2A")
    back_dated(li, L, f["verified"], "shangba", "corn", "B", 18000, 150, day(1), "LI1A")
    # xiaba (agent-wang): apple bought over three days, 30 kg in all.
    back_dated(wang, L, f["doubtful"], "xiaba", "apple", "A", 10000, 520, day(3), "WA3A")
    back_dated(wang, L, f["verified_unmarked"], "xiaba", "apple", "A", 12000, 520, day(2),
               "WA2A")
    back_dated(wang, L, f["doubtful"], "xiaba", "apple", "A", 8000, 520, day(1), "WA1A")
    # liangshui (agent-zhao): kiwi, 61.8 kg, one purchase corrected down.
    k1 = back_dated(zhao, L, f["claimed"], "liangshui", "kiwi", "B", 40300, 800, day(3), "ZH3A")
    back_dated(zhao, L, f["other_zhao"], "liangshui", "kiwi", "B", 21000, 800, day(1), "ZH1A")
    L.adjust(zhao, k1, "0.5")  # reweighed: 40.8 kg
    # The pickup day, through the CLI: one kept, one voided.
    L.collect(li, f["other_li"], "potato", "A", "5.5", "1.80")
    bad = L.collect(zhao, f["other_zhao"], "kiwi", "B", "3", "8.00")
    L.void(zhao, bad)
    for a in w.agents.values():
        check(a.sync()[0] == 0, "%s syncs its buying" % a.uid)
    w.days()
    return f, [cst_day(day(k)) for k in range(4)]


def routes(w, d):
    """An early pickup at shangba on d2, then the truck on d0 at every village;
    loads with losses, receipts with more."""
    check(w.disp.sync()[0] == 0, "the dispatcher pulls the buying")
    plans = [(d[2], "truck-1", "Liu Wei", ["shangba"]),
             (d[0], "truck-3", "Wang Fang", ["shangba", "xiaba", "liangshui"])]
    for date, vehicle, driver, stops in plans:
        rid = w.disp.new_id("route", "create", "--date", date, "--vehicle", vehicle, "--driver",
                            driver, "--stops", ",".join(stops))
        w.routes[rid] = dict(date=date, vehicle=vehicle, driver=driver, stops=stops)
    check(w.disp.sync()[0] == 0, "the dispatcher sends its routes")
    for a in w.agents.values():
        check(a.sync()[0] == 0, "%s receives its stops" % a.uid)
    first, second = list(w.routes)
    owner = {v: u for u, v in w.village_of_agent.items()}
    short = {(first, "shangba"): 0, (second, "shangba"): 5, (second, "xiaba"): 40,
             (second, "liangshui"): 0}  # permille lost before the truck
    for rid in (first, second):  # in date order: a load closes the village's window
        for v in w.routes[rid]["stops"]:
            g = w.waiting(rid, v) * (1000 - short[(rid, v)]) // 1000
            a = w.agents[owner[v]]
            typo = rid == second and v == "liangshui"  # corrected below
            a.cli("stop", "load", stop_id(a, rid, v), "--kg", "99999" if typo else kg_text(g))
            w.loads[(rid, v)] = g
    for a in w.agents.values():
        check(a.sync()[0] == 0, "%s reports its loads" % a.uid)
    correct_load(w, second)
    # The warehouse: the first truck arrives whole; on the second, apple
    # (30 kg bought) arrives as 12.5 kg and kiwi (61.8 kg) as 55 kg.
    for rid in (first, second):
        for p, g in sorted({(c["product"], c["grade"]) for c in w.ledger.collections.values()}):
            want = sum(w.waiting(rid, v, p, g) for v in w.routes[rid]["stops"])
            got = {"apple": 12500, "kiwi": 55000}.get(p, want) if rid == second else want
            if want <= 0:
                continue
            code, _, _ = hq("receipt", "add", "--db", w.server.db, "--route", rid, "--product",
                            p, "--grade", g, "--kg", kg_text(got))
            w.received[(rid, p, g)] = got
    return first, second


def liangshui_points(w):
    code, out, _ = w.disp.cli("points", "--json")
    rows = [r for r in (json.loads(out) if code == 0 else [])
            if r["village"] == "liangshui" and r["product"] == "*"]
    return rows[0] if rows else {}


def correct_load(w, route):
    """The agent typed 99999 kg at liangshui, where 61.8 kg waited: the
    dispatcher corrects it (twice: the latest counts); the agent cannot,
    from the CLI or with plain SQL past the server."""
    zhao = w.agents["agent-zhao"]
    sid = stop_id(zhao, route, "liangshui")
    check(w.disp.sync()[0] == 0, "the dispatcher pulls the loads")
    p = liangshui_points(w)
    check(p.get("loaded_g") == 99999000 and p.get("waiting_g") == 61800 - 99999000
          and p.get("corrected") == 0, "points shows the typo before the correction: %r" % p)
    code, _, err = zhao.cli("stop", "correct", sid, "--kg", "61.8", "--reason", "typo", ok=False)
    check(code == 1 and "only a dispatcher or hq" in err, "an agent cannot correct: %r" % err)
    run(["/usr/bin/sqlite3", zhao.db,
         "INSERT INTO load_corrections (id, stop_id, county, loaded_weight_g, reason, \"by\","
         " \"at\") VALUES ('ZHAOFIX%s', '%s', 'pingshan', 1, 'mine', 'agent-zhao', 1);"
         % ("0" * 19, sid)])
    zhao.sync()
    check(any(r["table"] == "load_corrections" for r in zhao.list("refusals")),
          "the server refuses an agent's correction written with plain SQL")
    check(not w.server.rows("SELECT id FROM load_corrections WHERE \"by\" = 'agent-zhao'"),
          "the agent's correction is not on the server")
    for kg in ("60", "61.8"):
        code, out, err = w.disp.cli("stop", "correct", sid, "--kg", kg, "--reason",
                                    "typed 99999 for %s" % kg)
        check(code == 0 and len(out.strip()) == 26, "stop correct prints an id: %r" % err)
        time.sleep(0.01)  # distinct times: the latest counts
    check(w.disp.sync()[0] == 0, "the dispatcher sends its corrections")
    p = liangshui_points(w)
    check(p.get("loaded_g") == 61800 and p.get("waiting_g") == 0 and p.get("corrected") == 1,
          "points uses the latest correction and says so: %r" % p)
    rows = w.server.rows("SELECT s.loaded_weight_g AS recorded, c.loaded_weight_g AS fixed"
                         " FROM route_stops s JOIN load_corrections c ON c.stop_id = s.id"
                         " ORDER BY c.\"at\"")
    check([(r["recorded"], r["fixed"]) for r in rows] == [(99999000, 60000), (99999000, 61800)],
          "the recorded load stays, the corrections are their own rows: %r" % rows)
    w.corrected = {(route, "liangshui")}


def check_reconcile(w, first, second):
    want = w.reconcile_expected()
    code, out, _ = hq("report", "reconcile", "--db", w.server.db, "--format", "json")
    got = {}
    for r in (json.loads(out) if code == 0 else []):
        got[(r["level"], r["route"], r["village"], r["product"], r["grade"])] = (
            r["collected_g"], r["loaded_g"], r["received_g"], r["flag"])
        if r["level"] == "stop":
            check(r.get("load_corrected") == int((r["route"], r["village"]) in w.corrected),
                  "reconcile says which loads were corrected: %r" % r)
        rt = w.routes.get(r["route"], {})
        check((r.get("date"), r.get("vehicle"), r.get("driver")) ==
              (rt.get("date"), rt.get("vehicle"), rt.get("driver")),
              "reconcile names the route by date, vehicle and driver: %r" % r)
    for k in sorted(set(got) | set(want)):
        check(got.get(k) == want.get(k), "reconcile %r: got %r want %r"
              % (k, got.get(k), want.get(k)))
    # What the issue saw: the d0 truck's stops were 0 and losses unflagged.
    check(want[("route", second, "*", "*", "*")][0] > 0 and
          want[("stop", second, "xiaba", "*", "*")][0] == 30000 and
          want[("product", second, "*", "apple", "A")][:3] == (30000, None, 12500) and
          want[("product", second, "*", "kiwi", "B")][:3] == (61800, None, 55000),
          "the scenario is the issue's: %r" % sorted(want.items()))
    flagged = {k[0] for k, v in got.items() if k[1] == second and "receive" in v[3]}
    check(flagged >= {"route", "product"}, "losses flagged on route and product lines: %r"
          % flagged)
    check(got.get(("stop", second, "xiaba", "*", "*"), (0, 0, 0, ""))[3] == "collect>load",
          "a short load flagged on its stop line")
    # The table: routes by name, a terminal's width, no route ids.
    code, out, _ = hq("report", "reconcile", "--db", w.server.db)
    lines = out.splitlines()
    for rid, r in w.routes.items():
        title = "%s  %s  %s  (pingshan)" % (r["date"], r["vehicle"], r["driver"])
        check(title in lines, "the table names route %s by %r: %r" % (rid, title, lines))
    check(all(len(l) <= 80 for l in lines), "the table fits 80 columns: %d"
          % max(len(l) for l in lines))
    check(not any(rid in out for rid in w.routes), "no route ids in the narrow table")
    title = "%s  truck-3  Wang Fang  (pingshan)" % w.routes[second]["date"]
    after = lines[lines.index(title) + 1:] if title in lines else []
    check(after and after[0].split() == ["what", "collected_kg", "loaded_kg", "received_kg", "flag"]
          and after[1].split()[0] == "route" and "load>receive" in after[1]
          and any(l.split()[0] == "xiaba" and l.endswith("collect>load") for l in after)
          and any(l.split()[:3] == ["liangshui", "61.800", "61.800*"] for l in after)
          and "* a load corrected with `lastmile stop correct` (the latest correction)" in after,
          "the route and its short stop are flagged under the route's name: %r" % after)
    code, out, _ = hq("report", "reconcile", "--db", w.server.db, "--wide")
    check(all(rid in out for rid in w.routes) and "village_product" in out,
          "--wide shows route ids and every level")


def poverty_expected(w, f):
    kind = {f["verified"]: "verified", f["verified_unmarked"]: "verified",
            f["doubtful"]: "doubtful", f["claimed"]: "claimed", f["claimed_no_id"]: "claimed"}
    tot = {"verified": [0, 0, set()], "doubtful": [0, 0, set()], "claimed": [0, 0, set()],
           "all": [0, 0, set()]}
    per_farmer = {}
    for cid, c in w.ledger.collections.items():
        if cid in w.ledger.voided:
            continue
        g, m = w.net(cid)
        for k in ("all", kind.get(c["farmer_id"])):
            if k:
                tot[k][0] += g
                tot[k][1] += m
                tot[k][2].add(c["farmer_id"])
        if c["farmer_id"] in kind and kind[c["farmer_id"]] != "verified":
            pf = per_farmer.setdefault(c["farmer_id"], [kind[c["farmer_id"]], 0, 0])
            pf[1] += g
            pf[2] += m
    return tot, per_farmer


def check_poverty(w, f):
    tot, per_farmer = poverty_expected(w, f)
    code, out, _ = hq("report", "poverty", "--db", w.server.db, "--format", "json")
    rows = {(r["county"], r["village"]): r for r in (json.loads(out) if code == 0 else [])}
    r = rows.get(("*", "*"), {})
    bp = (tot["verified"][1] * 10000 + tot["all"][1] // 2) // tot["all"][1]
    want = dict(verified_weight_g=tot["verified"][0], verified_amount_fen=tot["verified"][1],
                all_weight_g=tot["all"][0], all_amount_fen=tot["all"][1],
                verified_farmers=len(tot["verified"][2]), all_farmers=len(tot["all"][2]),
                doubtful_amount_fen=tot["doubtful"][1], claimed_amount_fen=tot["claimed"][1],
                doubtful_farmers=len(tot["doubtful"][2]), claimed_farmers=len(tot["claimed"][2]),
                verified_amount_pct="%d.%02d" % (bp // 100, bp % 100))
    got = {k: r.get(k) for k in want}
    check(got == want, "poverty headline: got %r want %r" % (got, want))
    claimed_pct = (tot["verified"][1] + tot["doubtful"][1] + tot["claimed"][1]) * 100 \
        // tot["all"][1]
    check(claimed_pct > bp // 100, "the field's claims would inflate the share (%d%% > %d%%)"
          % (claimed_pct, bp // 100))
    code, out, _ = hq("report", "poverty", "--db", w.server.db, "--follow-up", "--format",
                      "json")
    got = {r["farmer"]: [r["kind"], r["weight_g"], r["amount_fen"]]
           for r in (json.loads(out) if code == 0 else [])}
    check(got == per_farmer, "follow-up list: got %r want %r" % (got, per_farmer))
    code, out, _ = hq("report", "poverty", "--db", w.server.db, "--follow-up")
    check("王芳" in out and "HH-003" in out and "赵强" in out,
          "the follow-up table names the farmers: %r" % out)
    check(all(term_width(line) <= 80 for line in out.splitlines())
          and not any(f in out for f in per_farmer) and "王秀兰" in out,
          "the follow-up table fits 80 columns, ids left out, the register's name shown "
          "where it differs: %r" % out)
    code, out, _ = hq("report", "poverty", "--db", w.server.db, "--follow-up", "--wide")
    check(code == 0 and all(f in out for f in per_farmer),
          "--wide shows every column, the farmer ids too: %r" % out)
    code, _, err = hq("report", "poverty", "--db", w.server.db, "--wide", ok=False)
    check(code == 2 and "--follow-up" in err, "--wide without --follow-up is a usage error")


def register_rows(w):
    """The register on the server (bytes that are not UTF-8 shown replaced)."""
    con = sqlite3.connect("file:%s?mode=ro" % w.server.db, uri=True, timeout=30)
    con.text_factory = lambda b: b.decode("utf-8", "replace")
    try:
        return sorted(con.execute("SELECT household_id, name, village FROM lm_poor_register"))
    finally:
        con.close()


def write(path, data):
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def check_import(w, f):
    """Bad register files are refused and change nothing; awkward good ones
    import. Ends with the register the poverty checks use."""
    tmp, db = w.tmp, w.server.db
    good = [("HH-001", "张秀英", "shangba"), ("HH-002", "王建国", "xiaba"),
            ("HH-003", "王秀兰", "xiaba"), ("HH-004", "刘洋", "liangshui")]
    body = "".join("%s,%s,%s\r\n" % r for r in good)
    # First: a UTF-8 file with a BOM, an English header and CRLF.
    path = write(tmp + "/bom.csv", b"\xef\xbb\xbf" + ("household_id,name,village\r\n" + body)
                 .encode("utf-8"))
    code, out, err = hq("farmer", "import", "--db", db, "--csv", path)
    check(code == 0 and register_rows(w) == sorted(good),
          "a BOM + CRLF file imports its 4 households, not the header: %r %r"
          % (register_rows(w), err))
    check("register\t4 households (replacing 0)" in out.splitlines(),
          "the summary says how many: %r" % out)
    before = register_rows(w)
    bad = [
        ("empty.csv", b"", "no households"),
        ("header.csv", "户号,姓名,村\r\n".encode("utf-8"), "no households"),
        ("gbk.csv", ("户号,姓名,村\r\n" + body).encode("gbk"), "--encoding gbk"),
        ("village.csv", (body + "HH-005,孙丽,atlantis\r\n").encode("utf-8"),
         "village.csv:5: unknown village 'atlantis'"),
        ("twice.csv", (body + "HH-001,张秀英,shangba\r\n").encode("utf-8"), "listed twice"),
    ]
    for name, data, why in bad:
        try:
            code, out, err = hq("farmer", "import", "--db", db, "--csv",
                                write(tmp + "/" + name, data), ok=False)
        except UnicodeDecodeError:  # the bytes went in undecoded and came back out
            code, err = 0, "printed mojibake"
        check(code == 1 and why in err, "%s refused (%s): %d %r" % (name, why, code, err))
        check(register_rows(w) == before, "%s leaves the register as it was" % name)
    code, _, err = hq("farmer", "import", "--db", db, "--csv", tmp + "/header.csv",
                      "--replace-with-empty")
    check(code == 0 and register_rows(w) == [], "--replace-with-empty empties it: %r" % err)
    # The real register: GBK with Chinese headers, converted.
    code, out, err = hq("farmer", "import", "--db", db, "--csv", tmp + "/gbk.csv", "--encoding",
                        "gbk")
    check(code == 0 and register_rows(w) == sorted(good),
          "a GBK file with --encoding gbk imports: %r %r" % (register_rows(w), err))
    code, _, err = hq("farmer", "import", "--db", db, "--csv", path, "--encoding", "latin1",
                      ok=False)
    check(code == 2, "an unknown encoding is a usage error: %r" % err)


def main():
    with tempdir() as tmp:
        w = World(tmp)
        f, d = buy(w)
        first, second = routes(w, d)
        check_reconcile(w, first, second)
        check_import(w, f)
        check_poverty(w, f)
        w.server.stop()
    done("hq_figures")


if __name__ == "__main__":
    main()
