"""integration_conflicts: two agents sharing a village edit the same farmer
concurrently (plain SQL in the sqlite3 shell, as another app on the phone
would). The merge picks one value deterministically, the loser shows up in
`lastmile conflicts`, `conflicts resolve --keep` settles it, and after the
next syncs both replicas and the server agree on the chosen value."""
import json

from lmtest import Agent, Server, check, done, run, tempdir


def farmer_name(agent, fid):
    rows = [f for f in agent.list("farmers") if f["id"] == fid]
    return rows[0]["name"] if rows else None


def rename(agent, fid, name):
    run(["/usr/bin/sqlite3", agent.db, "UPDATE farmers SET name = '%s' WHERE id = '%s';"
         % (name, fid)])


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        ka = server.add_user("agent-a", "agent", ["shangba"])
        kb = server.add_user("agent-b", "agent", ["shangba", "xiaba"])
        server.start()
        a, b = Agent(tmp, "agent-a"), Agent(tmp, "agent-b")
        a.init(server, ka)
        b.init(server, kb)
        fid = a.new_id("farmer", "add", "--name", "Li Guihua", "--village", "shangba")
        check(a.sync()[0] == 0, "a syncs the farmer")
        check(b.sync()[0] == 0, "b pulls it")
        check(farmer_name(b, fid) == "Li Guihua", "b has the farmer")

        for round_no, keep in enumerate(("theirs", "mine")):
            rename(a, fid, "Li Guihua A%d" % round_no)
            rename(b, fid, "Li Guihua B%d" % round_no)
            check(a.sync()[0] == 0, "a syncs its edit")
            code, summary, _ = b.sync()
            check(code == 0, "b syncs its concurrent edit")
            check(a.sync()[0] == 0, "a pulls the outcome")
            winner = server.rows("SELECT name FROM farmers WHERE id = ?", (fid,))[0]["name"]
            check(farmer_name(a, fid) == winner == farmer_name(b, fid),
                  "round %d: one value everywhere after the merge: %r" % (round_no, winner))
            code, out, _ = b.cli("conflicts", "--json")
            open_b = json.loads(out) if code == 0 else []
            code, out, _ = a.cli("conflicts", "--json")
            open_a = json.loads(out) if code == 0 else []
            pair = {"Li Guihua A%d" % round_no, "Li Guihua B%d" % round_no}

            def this_round(c):
                return c["pk"] == fid and c["column"] == "name" and \
                    {c["winner"], c["loser"]} == pair
            logged = [c for c in open_a + open_b if this_round(c)]
            check(len(logged) >= 1, "round %d: the concurrent edit is in a conflict log: %r"
                  % (round_no, open_a + open_b))
            # Resolve on the replica that wrote the losing value, if it has the
            # conflict, else on the other.
            who = b if any(this_round(c) for c in open_b) else a
            mine_list = open_b if who is b else open_a
            conflict = [c for c in mine_list if this_round(c)]
            if not check(conflict, "round %d: a conflict to resolve" % round_no):
                continue
            c = conflict[0]
            # Sites are 16-hex-digit strings, as the status line shows them:
            # a JSON number above 2^53 would lose digits in many parsers.
            site = who.status().get("site")
            check(isinstance(site, str) and len(site) == 16 and int(site, 16) > 0
                  and c.get(c["mine"] + "_site") == site
                  and isinstance(c["winner_site"], str) and len(c["winner_site"]) == 16,
                  "round %d: sites as hex strings: status %r, conflict %r" % (round_no, site, c))
            values = {"winner": c["winner"], "loser": c["loser"]}
            my_value = values[c["mine"]] if c["mine"] in values else None
            their_value = c["loser"] if c["mine"] == "winner" else c["winner"]
            want = my_value if keep == "mine" else their_value
            resolve = ["conflicts", "resolve", str(c["id"]), "--keep", keep]
            if round_no == 0:
                code, out, err = who.cli(*resolve)
                check(code == 0 and "resolved" in out, "resolve --keep %s: %r %r" % (keep, out, err))
            else:
                code, out, err = who.cli(*resolve, "--json")
                got = json.loads(out) if code == 0 and out.startswith("{") else None
                check(got is not None and got["id"] == c["id"] and got["kept"] == keep
                      and got["queued"] == (c["mine"] == "loser"),
                      "resolve --keep %s --json prints an object: %r %r" % (keep, out, err))
            code, out, _ = who.cli("conflicts", "--json")
            check(code == 0 and not [x for x in json.loads(out) if x["id"] == c["id"]],
                  "the resolved conflict is no longer open")
            for agent in (who, a if who is b else b, who):
                check(agent.sync()[0] == 0, "sync after resolving")
            got = (farmer_name(a, fid), farmer_name(b, fid),
                   server.rows("SELECT name FROM farmers WHERE id = ?", (fid,))[0]["name"])
            check(got == (want, want, want),
                  "round %d: --keep %s gives %r everywhere: %r" % (round_no, keep, want, got))
        check(server.stop() == 0, "server exits 0")
    done("integration_conflicts")


if __name__ == "__main__":
    main()
