"""integration_hostile_text: text typed by people lastmile does not control
reaches operators inert. Farmers whose names hold terminal escapes, a bidi
override, TAB and newline, and `=HYPERLINK(...)` are written by plain SQL
into one agent's replica and synced; a hostile product code is written by
plain SQL into the server's database. Then:
- another agent's `lastmile list farmers` table shows the escapes as
  visible text (no ESC byte, one line per farmer, columns aligned after a
  Chinese name) and its --json gives the
  exact names back with every control escaped;
- hq's `farmer import` listing cannot be forged into a false summary line;
- `report volumes --format csv` neutralises the formula cell (OWASP), the
  table escapes the control characters, the JSON is exact.
A name the server refuses (the ledger rules may refuse control characters)
is safe too; the formula name, which holds none, must arrive."""
import json
import os
import sqlite3
import unicodedata

from lmtest import Agent, Server, check, done, run, tempdir, SERVER

ESCAPES = "\x1b]8;;http://evil.example\x1b\\Wang\x1b]8;;\x1b\\\x1b[2J\u202eevil"
FORGED = "Zhao\tmatched 999 (newly marked poor 0), doubtful 0, unmatched 0, unregistered 0\nx"
FORMULA = '=HYPERLINK("http://evil.example","click")'
PRODUCT = '=cmd|\' /C calc\'!A0\x1b[31m'
RAW = ("\x1b", "\u202e", "\x9b")


def add_by_sql(agent, template, fid, name, household):
    """A farmer written with plain SQL into the replica (captured by the
    triggers), copying the village and author of the template farmer."""
    con = sqlite3.connect(agent.db)
    with con:
        con.execute("INSERT INTO farmers (id, name, village, registered_poor, household_id,"
                    " created_by, created_at) SELECT ?, ?, village, 1, ?, created_by, created_at"
                    " FROM farmers WHERE id = ?", (fid, name, household, template))
    con.close()


def raw_free(text, what):
    return check(not any(c in text for c in RAW), "%s: no raw control text: %r" % (what, text))


def width(text):
    """Terminal columns: East Asian wide and fullwidth characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def check_list(wang, arrived):
    code, out, _ = wang.cli("list", "farmers")
    raw_free(out, "list farmers")
    lines = out.splitlines()
    starts = {width(ln[:ln.index("  shangba") + 2]) for ln in lines[1:] if "  shangba" in ln}
    header = width(lines[0][:lines[0].index("village")]) if lines else -1
    check(starts == {header}, "the village column lines up after CJK names: %r" % out)
    check(len(lines) == 1 + len(wang.list("farmers")), "one line per farmer: %r" % out)
    if ESCAPES in arrived:
        check("\\x1b]8;;http://evil.example\\x1b\\Wang" in out and "\\u202eevil" in out,
              "escapes shown as text: %r" % out)
    if FORGED in arrived:
        check("Zhao\\tmatched 999" in out and "unregistered 0\\nx" in out,
              "TAB and newline shown as text: %r" % out)
    check(FORMULA in out, "formula name shown as typed")
    code, out, _ = wang.cli("list", "farmers", "--json")
    raw_free(out, "list farmers --json")
    names = {f["name"] for f in json.loads(out)} if code == 0 else set()
    check(arrived <= names, "--json gives the exact names back")


def check_import(server, tmp):
    """The register names HH-1..3 with other names: each hostile farmer is
    'doubtful', listed with its name; the listing has one line per record
    and the summary is the last line."""
    path = os.path.join(tmp, "register.csv")
    with open(path, "w") as f:
        f.write("household_id,name,village\nHH-1,Wang Wu,shangba\nHH-2,Zhao Liu,shangba\n"
                "HH-3,Sun Qi,shangba\n")
    code, out, _ = run([SERVER, "farmer", "import", "--db", server.db, "--csv", path])
    raw_free(out, "farmer import")
    lines = out.splitlines()
    summaries = [ln for ln in lines if ln.startswith("matched ")]
    check(len(summaries) == 1 and lines and lines[-1] == summaries[0],
          "one summary line, the last: %r" % out)
    check(all(ln.split("\t")[0] in ("register", "doubtful", "unmatched", "unregistered")
              for ln in lines[:-1]), "every other line is a listing: %r" % out)


def check_reports(server, template_cid):
    con = sqlite3.connect(server.db)
    with con:
        for i, product in enumerate((FORMULA, PRODUCT)):
            con.execute("INSERT INTO collections (id, agent_id, farmer_id, village, product,"
                        " grade, weight_g, unit_price_fen, amount_fen, collected_at)"
                        " SELECT ?, agent_id, farmer_id, village, ?, grade, weight_g,"
                        " unit_price_fen, amount_fen, collected_at FROM collections WHERE id = ?",
                        ("HOSTILE-C%d" % i, product, template_cid))
    con.close()
    args = [SERVER, "report", "volumes", "--db", server.db, "--by", "product", "--format"]
    _, out, _ = run(args + ["csv"])
    raw_free(out, "csv")
    check('"\'=HYPERLINK(""http://evil.example"",""click"")"' in out,
          "formula cell neutralised: %r" % out)
    check('"\'=cmd|' in out, "second formula neutralised: %r" % out)
    check(not any(ln.startswith(("=", "+", "-", "@", '"=')) for ln in out.splitlines()),
          "no line starts with a formula: %r" % out)
    _, out, _ = run(args + ["table"])
    raw_free(out, "table")
    check("\\x1b[31m" in out, "table shows the escape as text: %r" % out)
    code, out, _ = run(args + ["json"])
    raw_free(out, "json")
    products = {r["product"] for r in json.loads(out)} if code == 0 else set()
    check({FORMULA, PRODUCT} <= products, "json keeps the exact values")


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key_li = server.add_user("agent-li", "agent", ["shangba"])
        key_wang = server.add_user("agent-wang", "agent", ["shangba"])
        server.start()
        li, wang = Agent(tmp, "agent-li"), Agent(tmp, "agent-wang")
        li.init(server, key_li)
        wang.init(server, key_wang)
        farmer = li.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba")
        cid = li.new_id("collect", "--farmer", farmer, "--product", "potato", "--grade", "A",
                        "--kg", "10", "--price", "1.80")
        hostile = {"HOSTILE-1": (ESCAPES, "HH-1"), "HOSTILE-2": (FORGED, "HH-2"),
                   "HOSTILE-3": (FORMULA, "HH-3")}
        for fid, (name, household) in hostile.items():
            add_by_sql(li, farmer, fid, name, household)
        check(li.sync()[0] == 0, "agent-li syncs")
        check(wang.sync()[0] == 0, "agent-wang syncs")
        refused = {r["pk"] for r in li.list("refusals")}
        arrived = {f["name"] for f in wang.list("farmers")} & {n for n, _ in hostile.values()}
        for fid, (name, _) in hostile.items():
            check(name in arrived or fid in refused, "%s arrived or was refused" % fid)
        check(FORMULA in arrived, "the formula name (no control characters) arrived")
        check_list(wang, arrived)
        check_import(server, tmp)
        check_reports(server, cid)
        server.stop()
    done("integration_hostile_text")


if __name__ == "__main__":
    main()
