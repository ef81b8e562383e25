"""integration_paying: what the agent tells the farmer. `collect` without
--price pays the catalog price of the day, a typed price more than 30 %
off the catalog's is recorded with a warning, and the output names the
farmer, kg, yuan per kg and yuan before the id. `lastmile day` totals the
agent's day per farmer, net of adjustments, void purchases out, and
refuses an impossible date."""
import datetime
import json
import unicodedata

from lmtest import SERVER, Agent, Server, check, done, run, tempdir


def local_today():
    return (datetime.datetime.utcnow() + datetime.timedelta(hours=8)).date().isoformat()


def columns(line):
    """Display columns of a line: Chinese (wide) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def check_slips(a, c1, c2, c3):
    """The farmer's slip at 32 and 48 columns: within the paper, in kg and
    yuan, adjustments and the net to pay, a void said as such."""
    for width in ("32", "48"):
        code, out, _ = a.cli("slip", c1, "--width", width)
        lines = out.splitlines()
        check(code == 0 and all(columns(ln) <= int(width) for ln in lines),
              "slip %s fits %s columns: %r" % (c1, width, lines))
        check(any("王秀英" in ln for ln in lines) and any("152.400 kg" in ln for ln in lines)
              and any("¥1.80/kg" in ln for ln in lines)
              and any(ln.split()[:2] == ["To", "pay"] and ln.endswith("¥274.32") for ln in lines),
              "the slip names the farmer, kg, price and what to pay: %r" % lines)
    code, out, _ = a.cli("slip", c2)
    check(code == 0 and "-2.000 kg" in out and "wet sacks" in out and "¥144.00" in out,
          "an adjusted slip shows the adjustment and the net: %r" % out)
    code, out, _ = a.cli("slip", c3)
    check(code == 0 and "void" in out and "wrong farmer" in out, "a void slip says so: %r" % out)
    code, _, err = a.cli("slip", "NOSUCH", ok=False)
    check(code == 1 and "unknown collection" in err, "an unknown slip: %r" % err)
    code, _, err = a.cli("slip", c1, "--width", "40", ok=False)
    check(code == 2 and "32 or 48" in err, "a printer width is 32 or 48: %r" % err)


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        today = local_today()
        run([SERVER, "price", "set", "--db", server.db, "--product", "potato", "--grade", "A",
             "--price", "1.80", "--from", today])
        run([SERVER, "product", "add", "--db", server.db, "--code", "yam", "--name", "Yam"])
        server.start()
        a = Agent(tmp, "agent-li")
        a.init(server, key)
        wxy = a.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba", "--poor")
        zw = a.new_id("farmer", "add", "--name", "Zhang Wei", "--village", "shangba")

        code, out, err = a.cli("collect", "--farmer", "王秀英", "--product", "potato", "--grade",
                               "A", "--kg", "152.4")
        lines = out.splitlines()
        check(code == 0 and len(lines) == 2 and err == "", "collect: a summary and the id")
        check("王秀英" in lines[0] and "152.400 kg × ¥1.80/kg = ¥274.32" in lines[0]
              and "catalog price since " + today in lines[0],
              "the summary speaks kg and yuan at the catalog price: %r" % lines[0])
        c1 = lines[-1]
        code, out, err = a.cli("collect", "--farmer", "Zhang Wei", "--product", "potato",
                               "--grade", "A", "--kg", "10", "--price", "18.00", "--json")
        rec = json.loads(out) if code == 0 else {}
        check(rec.get("unit_price_fen") == 1800 and rec.get("amount_fen") == 18000
              and rec.get("catalog_price") is False and rec.get("farmer") == "Zhang Wei",
              "a typed price is recorded as typed: %s" % out)
        check("warning" in err and "900% above the catalog price ¥1.80/kg" in err,
              "and warned about: %r" % err)
        c2 = rec.get("id")
        code, out, err = a.cli("collect", "--farmer", zw, "--product", "potato", "--grade",
                               "A", "--kg", "10", "--price", "2.00")
        check(code == 0 and err == "", "11 %% off the catalog is no warning: %r" % err)
        c3 = out.splitlines()[-1]
        pending = a.status().get("pending_changes")
        code, _, err = a.cli("collect", "--farmer", zw, "--product", "yam", "--grade", "A",
                             "--kg", "1", ok=False)
        check(code == 2 and "give --price" in err, "no catalog price and no --price: %r" % err)
        check(a.status().get("pending_changes") == pending, "the refused collect wrote nothing")

        # the day: c2 adjusted down 2 kg, c3 void
        a.cli("adjust", "--collection", c2, "--delta-kg", "-2", "--reason", "wet sacks")
        a.cli("adjust", "--collection", c3, "--void", "--reason", "wrong farmer")
        code, out, _ = a.cli("day", "--json")
        day = json.loads(out) if code == 0 else {}
        rows = {r["farmer_id"]: r for r in day.get("farmers", [])}
        check(day.get("date") == today, "day defaults to today's local date: %r" % day.get("date"))
        check(rows.get(wxy, {}).get("amount_fen") == 27432
              and rows.get(wxy, {}).get("registered_poor") == 1, "王秀英's day: %r" % rows)
        check(rows.get(zw, {}).get("weight_g") == 8000 and rows[zw]["amount_fen"] == 14400
              and rows[zw]["purchases"] == 1, "Zhang's day, adjusted, void left out: %r" % rows)
        check(day.get("total") == {"purchases": 2, "weight_g": 160400, "amount_fen": 41832},
              "totals: %r" % day.get("total"))
        code, out, _ = a.cli("day")
        check(code == 0 and "418.32" in out and "160.400" in out and "王秀英" in out,
              "the table speaks kg and yuan: %r" % out)
        code, _, err = a.cli("day", "--date", "2026-02-30", ok=False)
        check(code == 2 and "not a date" in err, "an impossible date is refused: %r" % err)
        code, out, _ = a.cli("day", "--date", "2024-02-29", "--json")
        check(code == 0 and json.loads(out)["total"]["purchases"] == 0, "a quiet day is empty")
        check_slips(a, c1, c2, c3)
        check(c1 and a.sync()[0] == 0, "the day syncs")
        srv = server.rows("SELECT unit_price_fen, amount_fen FROM collections WHERE id = ?", (c1,))
        check(srv == [{"unit_price_fen": 180, "amount_fen": 27432}],
              "the server holds the catalog price paid: %r" % srv)
    done("integration_paying")


if __name__ == "__main__":
    main()
