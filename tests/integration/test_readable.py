"""integration_readable: the field tool's tables are for people, its --json
for machines. `list collections` shows kg, yuan (¥) and local time (UTC+8
by default, --utc-offset or $LASTMILE_UTC_OFFSET), aligned after Chinese
names, while --json keeps grams, fen and ms; it filters by farmer (id, id
prefix or name, as every --farmer) and day and shows the latest 50 unless told otherwise; `list stops`
names each stop's route date, vehicle and driver; `points` shows kg. An
option never swallows the next one: `--farmer "" --product corn` and
`--farmer --product corn` are errors about --farmer, in both tools.
$LASTMILE_UTC_OFFSET moves the days of both tools' reports and tables."""
import json
import os
from datetime import datetime, timedelta, timezone

from lmtest import Agent, Server, bulk_insert, check, done, run, tempdir, CLI, SERVER


def local(ms, hours):
    t = datetime.fromtimestamp(ms / 1000, timezone.utc) + timedelta(hours=hours)
    return t.strftime("%Y-%m-%d %H:%M:%S")


def check_units(a, farmer):
    cid = a.new_id("collect", "--farmer", farmer, "--product", "potato", "--grade", "A",
                   "--kg", "152.4", "--price", "1.80")
    row = [c for c in a.list("collections") if c["id"] == cid]
    check(row and row[0]["weight_g"] == 152400 and row[0]["amount_fen"] == 27432 and
          row[0]["unit_price_fen"] == 180, "--json keeps grams and fen: %r" % row)
    at = row[0]["collected_at"] if row else 0
    check(isinstance(at, int) and at > 1700000000000, "--json keeps ms")
    code, out, _ = a.cli("list", "collections")
    line = [ln for ln in out.splitlines() if cid in ln]
    check(out.splitlines()[0].split()[6:9] == ["weight_kg", "unit_price_yuan", "amount_yuan"],
          "headers name the units: %r" % out.splitlines()[0])
    check(line and "152.400" in line[0] and "¥1.80" in line[0] and "¥274.32" in line[0],
          "kg and yuan: %r" % line)
    check(line and local(at, 8) in line[0], "local time at UTC+8 by default: %r" % line)
    code, out, _ = a.cli("list", "collections", "--utc-offset", "+00:00")
    check(local(at, 0) in out and local(at, 8) not in out, "--utc-offset: %r" % out)
    env = dict(os.environ, LASTMILE_UTC_OFFSET="-05:00")
    code, out, _ = run([CLI, "list", "collections", "--db", a.db], env=env)
    check(local(at, -5) in out, "$LASTMILE_UTC_OFFSET: %r" % out)
    # a typo in it is said once, on stderr, and the default stands
    for tool in ([CLI, "list", "collections", "--db", a.db], [SERVER, "--version"]):
        code, out, err = run(tool, env=dict(os.environ, LASTMILE_UTC_OFFSET="UTC+8"))
        check(code == 0 and err.count("$LASTMILE_UTC_OFFSET 'UTC+8' is not a UTC offset") == 1,
              "%s: a bad $LASTMILE_UTC_OFFSET is named: %r" % (tool[0], err))
        check(tool[0] != CLI or local(at, 8) in out, "and days stay at UTC+8: %r" % out)
    code, out, err = a.cli("list", "collections", "--utc-offset", "UTC+8", ok=False)
    check(code == 2 and "--utc-offset" in err, "a bad offset is a usage error: %r" % err)
    code, out, _ = a.cli("points")
    check("collected_kg" in out and "152.400" in out, "points in kg: %r" % out)
    return cid


def check_filters(a, farmer, other):
    bulk_insert(a, other, 60, "BULK")
    code, out, err = a.cli("list", "collections")
    rows = out.splitlines()[1:]
    check(len(rows) == 50, "the table shows the latest 50: %d" % len(rows))
    check("the latest 50 of 61 collections" in err and "--limit 0" in err,
          "and says how to see all: %r" % err)
    check(rows and "152.400" in rows[-1], "newest last")
    code, out, _ = a.cli("list", "collections", "--limit", "0")
    check(len(out.splitlines()) == 62, "--limit 0: all 61")
    code, out, _ = a.cli("list", "collections", "--limit", "3")
    check(len(out.splitlines()) == 4, "--limit 3")
    check(len(a.list("collections")) == 61, "--json: all of them")
    for who in (farmer, "王秀英"):
        code, out, _ = a.cli("list", "collections", "--farmer", who)
        check(len(out.splitlines()) == 2, "--farmer %s: her one purchase: %r" % (who, out))
    code, out, _ = a.cli("list", "collections", "--since", "2030-01-01")
    check(len(out.splitlines()) == 1, "--since a later day: none")
    code, out, _ = a.cli("list", "collections", "--since", "2024-01-01", "--limit", "0")
    check(len(out.splitlines()) == 2, "--since: the bulk rows (2023) left out: %r" % out)
    code, _, err = a.cli("list", "collections", "--since", "2026-02-30", ok=False)
    check(code == 2 and "no such day" in err, "--since is a real date: %r" % err)
    code, _, err = a.cli("list", "farmers", "--limit", "3", ok=False)
    check(code == 2, "filters are for collections")


def check_farmer_ref(a, farmer):
    """`list collections --farmer` resolves as every --farmer does
    (lm_farmer_resolve): an id prefix works, an unknown farmer is an error,
    an ambiguous name lists the candidates."""
    code, out, _ = a.cli("list", "collections", "--farmer", farmer[:12].lower())
    check(len(out.splitlines()) == 2 and "152.400" in out, "an id prefix: %r" % out)
    code, out, err = a.cli("list", "collections", "--farmer", "Nobody", ok=False)
    check(code == 1 and "unknown farmer" in err and out == "", "unknown: %r" % err)
    twin = a.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba", "--force")
    code, out, err = a.cli("list", "collections", "--farmer", "王秀英", ok=False)
    check(code == 2 and farmer in err and twin in err and out == "",
          "two of that name: the candidates: %r" % err)


def check_stops(server, a, tmp):
    key = server.add_user("disp", "dispatcher", county="pingshan")
    d = Agent(tmp, "disp")
    d.init(server, key)
    check(a.sync()[0] == 0 and d.sync()[0] == 0, "syncs")
    day = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    rid = d.new_id("route", "create", "--date", day, "--vehicle", "川A-12345", "--driver",
                   "张师傅", "--stops", "shangba")
    check(d.sync()[0] == 0 and a.sync()[0] == 0, "route synced")
    code, out, _ = a.cli("list", "stops")
    head = out.splitlines()[0].split() if out else []
    check(head[-4:] == ["route_date", "vehicle", "driver", "route_status"],
          "stops name the route: %r" % head)
    line = [ln for ln in out.splitlines() if rid and rid in ln]
    check(line and day in line[0] and "川A-12345" in line[0] and "张师傅" in line[0],
          "the truck and when it comes: %r" % out)
    stops = a.list("stops")
    check(stops and stops[0].get("vehicle") == "川A-12345", "--json has them too")


def check_offset(server, a, cid):
    """$LASTMILE_UTC_OFFSET, the one local-time setting (text/), moves the
    days both tools count: UTC+14 and UTC-10 are 24 hours apart, so a
    purchase falls on consecutive days; the default is UTC+8."""
    at = [c for c in a.list("collections") if c["id"] == cid][0]["collected_at"]
    east, west = local(at, 14)[:10], local(at, -10)[:10]
    for off, day in (("+14:00", east), ("-10", west), (None, local(at, 8)[:10])):
        env = dict(os.environ)
        env.pop("LASTMILE_UTC_OFFSET", None)
        if off:
            env["LASTMILE_UTC_OFFSET"] = off
        code, out, _ = run([SERVER, "report", "volumes", "--db", server.db, "--by", "day",
                            "--format", "json"], env=env)
        days = [r["day"] for r in json.loads(out)]
        check(day in days, "report --by day at %s: %s in %r" % (off, day, days))
        for d, mine in ((east, day == east), (west, day == west)):
            code, out, _ = run([CLI, "day", "--date", d, "--json", "--db", a.db], env=env)
            n = json.loads(out)["total"]["purchases"]
            check(n == (1 if mine else 0), "day --date %s at %s: %d purchases" % (d, off, n))
        code, out, _ = run([CLI, "list", "collections", "--db", a.db], env=env)
        check(local(at, {"+14:00": 14, "-10": -10, None: 8}[off]) in out,
              "list at %s: %r" % (off, out[-300:]))


def check_no_trailing_blanks(server, a):
    """Tables whose last column is empty on a line (a purchase's note, a
    report's flag) end that line at its last text, not in blanks."""
    outs = [a.cli("list", "collections")[1], a.cli("day")[1], a.cli("points")[1]]
    for report in (["reconcile"], ["poverty"], ["agents"], ["volumes", "--by", "village,day"]):
        outs.append(run([SERVER, "report"] + report + ["--db", server.db])[1])
    check(any("\n" in o and o.count("\n") > 1 for o in outs), "tables printed: %r" % outs)
    for out in outs:
        bad = [ln for ln in out.splitlines() if ln != ln.rstrip()]
        check(not bad, "no line ends in blanks: %r" % bad[:3])


def check_options(a, farmer):
    for args in (["--farmer", "", "--product", "corn"], ["--farmer", "--product", "corn"]):
        code, out, err = a.cli("collect", *args, "--grade", "A", "--kg", "1", "--price", "1",
                               ok=False)
        check(code == 2 and "--farmer" in err and "corn" not in err and out == "",
              "%r: an error about --farmer: %r" % (args, err))
    code, out, err = run([SERVER, "report", "volumes", "--db", "--by", "day"], ok=False)
    check(code == 2 and "--db needs a value" in err, "server too: %r" % err)


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start()
        a = Agent(tmp, "agent-li")
        a.init(server, key)
        farmer = a.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba")
        other = a.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        cid = check_units(a, farmer)
        check_filters(a, farmer, other)
        check_farmer_ref(a, farmer)
        check_stops(server, a, tmp)
        check_offset(server, a, cid)
        check_no_trailing_blanks(server, a)
        check_options(a, farmer)
        server.stop()
    done("integration_readable")


if __name__ == "__main__":
    main()
