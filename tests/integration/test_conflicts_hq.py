"""integration_conflicts_hq: conflicts end to end (issue 21 item 4).

Two agents sharing a village edit the same farmer's phone concurrently with
`lastmile farmer edit`. The agent whose write won is told of no conflict it
cannot see; the one whose write lost finds it in `lastmile conflicts`, named
by the farmer (a Chinese name) rather than an id, and resolves it; after its
sync the server's log (`lastmile-server conflicts list`, `report agents`)
shows it closed, with who closed it and why. In a second round hq closes one
with `lastmile-server conflicts resolve --keep loser`: the value is written
back everywhere and the agent's own list follows on its next sync. Then the
command's refusals (exit codes, nothing changed) and a hostile record name.
"""
import json

from lmtest import SERVER, Agent, Server, check, done, run, tempdir


def hq(*args, ok=True):
    return run([SERVER] + list(args), ok=ok)


def phone(agent, fid):
    rows = [f for f in agent.list("farmers") if f["id"] == fid]
    return rows[0]["phone"] if rows else None


def agents_report(server):
    code, out, _ = hq("report", "agents", "--db", server.db, "--format", "json")
    return {r["user"]: r for r in (json.loads(out) if code == 0 else [])}


def server_conflicts(server, *extra):
    code, out, err = hq("conflicts", "list", "--db", server.db, "--json", *extra)
    check(code == 0, "conflicts list --json: %r" % err)
    return json.loads(out) if code == 0 and out.strip() else []


def open_conflicts(agent):
    code, out, _ = agent.cli("conflicts", "--json")
    return json.loads(out) if code == 0 else []


def concurrent_edit(first, second, fid, p_first, p_second):
    """first then second edit the phone offline; first syncs, then second
    (whose later write wins by the clock). Returns second's sync result."""
    first.cli("farmer", "edit", fid, "--phone", p_first)
    second.cli("farmer", "edit", fid, "--phone", p_second)
    check(first.sync()[0] == 0, "%s syncs its edit" % first.uid)
    return second.sync()


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        ka = server.add_user("agent-a", "agent", ["shangba"])
        kb = server.add_user("agent-b", "agent", ["shangba", "xiaba"])
        server.start()
        a, b = Agent(tmp, "agent-a"), Agent(tmp, "agent-b")
        a.init(server, ka)
        b.init(server, kb)
        fid = a.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba",
                       "--phone", "13800000000")
        check(a.sync()[0] == 0 and b.sync()[0] == 0, "both replicas hold the farmer")

        # Round 1: b's later write wins at the server; b must not be told.
        code, summary, err = concurrent_edit(a, b, fid, "13800000001", "13900000002")
        check(code == 0 and summary and summary["conflicts"] == 0
              and "concurrent" not in err,
              "the winner is told of no conflict: %r %r" % (summary, err))
        check(open_conflicts(b) == [], "the winner's list is empty")
        logged = server_conflicts(server)
        check(len(logged) == 1 and logged[0]["record"] == "王秀英 (shangba)"
              and logged[0]["winner"] == "13900000002" and logged[0]["loser"] == "13800000001"
              and logged[0]["winner_by"] == "agent-b" and logged[0]["loser_by"] == "agent-a"
              and not logged[0]["resolved"],
              "the server's log names the farmer and both agents: %r" % logged)
        rep = agents_report(server)
        check(rep.get("agent-a", {}).get("open_conflicts") == 1
              and rep.get("agent-b", {}).get("open_conflicts") == 1,
              "report agents counts the open conflict for both writers: %r" % rep)

        code, summary, err = a.sync()
        check(code == 0 and summary and summary["conflicts"] == 1,
              "the loser is told when it pulls the winner: %r %r" % (summary, err))
        mine = open_conflicts(a)
        check(len(mine) == 1 and mine[0]["record"] == "王秀英 (shangba)"
              and mine[0]["mine"] == "loser",
              "the loser's list names the farmer: %r" % mine)
        code, out, _ = a.cli("conflicts")
        check(code == 0 and "王秀英 (shangba)" in out and fid not in out,
              "the human list shows the name, not the id: %r" % out)
        if mine:
            code, out, err = a.cli("conflicts", "resolve", str(mine[0]["id"]), "--keep", "theirs",
                                   "--reason", "b called the farmer")
            check(code == 0 and "resolved" in out, "the agent resolves it: %r %r" % (out, err))
        check(open_conflicts(a) == [], "closed on the agent's replica")
        check(a.sync()[0] == 0, "the agent syncs its resolution")
        check(server_conflicts(server) == [], "no open conflict left on the server")
        closed = server_conflicts(server, "--all")
        check(len(closed) == 1 and closed[0]["resolved"] and closed[0]["resolved_by"] == "agent-a"
              and closed[0]["kept"] == "winner" and closed[0]["reason"] == "b called the farmer",
              "the server shows who closed it and why: %r" % closed)
        rep = agents_report(server)
        check(rep.get("agent-a", {}).get("open_conflicts") == 0
              and rep.get("agent-b", {}).get("open_conflicts") == 0,
              "report agents counts it closed: %r" % rep)
        check(phone(a, fid) == phone(b, fid) == "13900000002", "the kept value everywhere")

        # Round 2: a's later write wins; b logs the conflict; hq keeps b's value.
        code, summary, err = concurrent_edit(b, a, fid, "13700000003", "13600000004")
        check(code == 0 and summary and summary["conflicts"] == 0 and "concurrent" not in err,
              "round 2: the winner is told of nothing: %r %r" % (summary, err))
        code, summary, _ = b.sync()
        theirs = open_conflicts(b)
        check(len(theirs) == 1 and theirs[0]["loser"] == "13700000003",
              "round 2: the loser has it: %r" % theirs)
        logged = server_conflicts(server)
        check(len(logged) == 1 and logged[0]["loser_by"] == "agent-b",
              "round 2: open on the server: %r" % logged)
        cid = str(logged[0]["id"]) if logged else "1"
        code, out, err = hq("conflicts", "show", "--db", server.db, "--id", cid)
        check(code == 0 and "王秀英 (shangba)" in out and "agent-b" in out and "open" in out,
              "show names the record, the writers and the state: %r %r" % (out, err))
        code, out, _ = hq("conflicts", "show", "--db", server.db, "--id", cid, "--json")
        check(code == 0 and json.loads(out)["id"] == int(cid), "show --json: %r" % out)

        # Refusals: clear message, exit code, nothing changed.
        before = server.rows("SELECT count(*) AS n FROM conflict_resolutions")[0]["n"]
        for args, want in (
                (["resolve", "--db", server.db, "--id", "999", "--keep", "winner",
                  "--reason", "x"], 1),
                (["resolve", "--db", server.db, "--id", cid, "--keep", "mine",
                  "--reason", "x"], 2),
                (["resolve", "--db", server.db, "--id", cid, "--keep", "loser"], 2),
                (["resolve", "--db", server.db, "--id", "abc", "--keep", "loser",
                  "--reason", "x"], 2),
                (["resolve", "--db", server.db, "--id", cid, "--keep", "loser",
                  "--reason", "--by"], 2),
                (["show", "--db", server.db, "--id", "999"], 1),
                (["close", "--db", server.db], 2),
                ([], 2)):
            code, out, err = hq("conflicts", *args, ok=False)
            check(code == want and err.strip() and not out,
                  "conflicts %r exits %d with a message: %d %r" % (args, want, code, err))
        code, out, _ = hq("conflicts", "--help", ok=False)
        check(code == 0 and "resolve" in out, "conflicts --help")
        check(server.rows("SELECT count(*) AS n FROM conflict_resolutions")[0]["n"] == before
              and len(server_conflicts(server)) == 1, "a refused command changes nothing")

        code, out, err = hq("conflicts", "resolve", "--db", server.db, "--id", cid, "--keep",
                            "loser", "--reason", "the farmer's new number is b's",
                            "--by", "hq-wang")
        check(code == 0 and "closed conflict" in out, "hq closes it: %r %r" % (out, err))
        code, out, err = hq("conflicts", "resolve", "--db", server.db, "--id", cid, "--keep",
                            "winner", "--reason", "again", ok=False)
        check(code == 1 and "already closed by hq-wang" in err,
              "closing twice is refused: %d %r" % (code, err))
        check(server_conflicts(server) == [], "round 2: closed on the server")
        check(b.sync()[0] == 0 and a.sync()[0] == 0, "both agents sync")
        check(open_conflicts(b) == [], "the agent's list follows hq's closing")
        code, out, _ = b.cli("conflicts", "--all", "--json")
        got = json.loads(out) if code == 0 else []
        check(any(c["resolved"] and c["resolved_by"] == "hq-wang" for c in got),
              "the agent sees who closed it: %r" % got)
        check(phone(a, fid) == phone(b, fid) == "13700000003"
              == server.rows("SELECT phone FROM farmers WHERE id = ?", (fid,))[0]["phone"],
              "hq's kept value reaches both agents")
        rep = agents_report(server)
        check(all(rep.get(u, {}).get("open_conflicts") == 0 for u in ("agent-a", "agent-b")),
              "round 2: report agents counts none open: %r" % rep)

        # A record name typed by people reaches hq's terminal as inert text.
        run(["/usr/bin/sqlite3", server.db,
             "UPDATE farmers SET name = '王\x1b]8;;http://x\x07秀英' WHERE id = '%s';" % fid])
        code, out, _ = hq("conflicts", "list", "--db", server.db, "--all")
        check(code == 0 and "\x1b" not in out and "\x07" not in out and "\\x1b" in out,
              "control characters in a name are shown escaped: %r" % out)
        check(server.stop() == 0, "server exits 0")
    done("integration_conflicts_hq")


if __name__ == "__main__":
    main()
