"""integration_farmers: finding and fixing farmers the way agents know them.
`farmer find` searches names, phones and household ids; --farmer takes an
id, an unambiguous id prefix or an exact name, and an ambiguous one lists
the candidates and writes nothing; `farmer add` refuses a likely duplicate
(same name, same village) without --force and a phone that is not one;
`farmer edit` changes only what it names and the change reaches the server
and a colleague's replica on the next syncs."""
import json

from lmtest import Agent, Server, check, done, tempdir


def farmers_named(agent, name):
    return [f for f in agent.list("farmers") if f["name"] == name]


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        kli = server.add_user("agent-li", "agent", ["shangba"])
        kwang = server.add_user("agent-wang", "agent", ["shangba"])
        server.start()
        li, wang = Agent(tmp, "agent-li"), Agent(tmp, "agent-wang")
        li.init(server, kli)
        wang.init(server, kwang)

        wxy = li.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba", "--phone",
                        "138 0013 8000", "--household", "HH-0042", "--poor")
        check(wxy is not None, "farmer added with a spaced mobile number")
        pending = li.status().get("pending_changes")
        code, _, err = li.cli("farmer", "add", "--name", "王秀英", "--village", "shangba", ok=False)
        check(code == 2 and "already registered in shangba" in err and wxy in err
              and "--force" in err, "a likely duplicate is refused: %d %r" % (code, err))
        for phone in ("abc", "12345", "+86 138-0013-800a", "2380013800 0", "--1380013800"):
            code, _, err = li.cli("farmer", "add", "--name", "Zhao", "--village", "shangba",
                                  "--phone", phone, ok=False)
            check(code == 2 and "not a phone number" in err, "phone %r refused: %r" % (phone, err))
        check(li.status().get("pending_changes") == pending and len(li.list("farmers")) == 1,
              "refused adds wrote nothing")
        twin = li.new_id("farmer", "add", "--name", "王秀英", "--village", "shangba", "--force")
        check(twin is not None and twin != wxy, "--force registers a second 王秀英")
        lisi = li.new_id("farmer", "add", "--name", "Li Si", "--village", "shangba", "--phone",
                         "+86 139 0000 1111")

        # find: by part of a name, by phone digits typed without spaces, by
        # household id in any case; nothing found exits 1
        code, out, _ = li.cli("farmer", "find", "秀英", "--json")
        check(code == 0 and {f["id"] for f in json.loads(out)} == {wxy, twin},
              "find by part of the name: %s" % out)
        code, out, _ = li.cli("farmer", "find", "13800138000", "--json")
        check(code == 0 and [f["id"] for f in json.loads(out)] == [wxy], "find by phone: %s" % out)
        code, out, _ = li.cli("farmer", "find", "hh-0042")
        check(code == 0 and wxy in out and "household" in out.splitlines()[0],
              "find by household id, as a table: %r" % out)
        code, out, err = li.cli("farmer", "find", "Nobody", ok=False)
        check(code == 1 and out == "" and "no farmer matches 'Nobody'" in err,
              "nothing found exits 1: %d %r" % (code, err))

        # --farmer by name, prefix, id; ambiguity lists candidates, writes nothing
        pending = li.status().get("pending_changes")
        code, _, err = li.cli("collect", "--farmer", "王秀英", "--product", "potato", "--grade",
                              "A", "--kg", "10", "--price", "1.80", ok=False)
        check(code == 2 and "matches 2 farmers" in err and wxy in err and twin in err,
              "an ambiguous name lists the candidates: %d %r" % (code, err))
        check(li.status().get("pending_changes") == pending, "the ambiguous collect wrote nothing")
        c1 = li.new_id("collect", "--farmer", "Li Si", "--product", "potato", "--grade", "A",
                       "--kg", "10", "--price", "1.80")
        prefix = wxy[:20]
        c2 = li.new_id("collect", "--farmer", prefix.lower(), "--product", "potato", "--grade",
                       "A", "--kg", "5", "--price", "1.80")
        byid = {c["id"]: c["farmer_id"] for c in li.list("collections")}
        check(byid.get(c1) == lisi and byid.get(c2) == wxy,
              "collect by exact name and by id prefix (any case): %r" % byid)
        code, _, err = li.cli("collect", "--farmer", wxy[:3], "--product", "potato", "--grade",
                              "A", "--kg", "5", "--price", "1.80", ok=False)
        check(code == 1 and "unknown farmer" in err and "farmer find" in err,
              "a 3-character prefix is no reference: %r" % err)

        # edit: checks first, changes only what differs, syncs like any write
        code, _, err = li.cli("farmer", "edit", wxy, "--phone", "call me", ok=False)
        check(code == 2 and "not a phone number" in err, "edit checks the phone: %r" % err)
        code, _, err = li.cli("farmer", "edit", lisi, "--name", "王秀英", ok=False)
        check(code == 2 and "--force" in err, "renaming onto a neighbour needs --force: %r" % err)
        code, _, err = li.cli("farmer", "edit", lisi, ok=False)
        check(code == 2 and "say what to change" in err, "an edit must name a change: %r" % err)
        code, out, _ = li.cli("farmer", "edit", wxy, "--phone", "13911112222", "--not-poor",
                              "--json")
        check(code == 0 and json.loads(out) == {"id": wxy,
                                                "changed": ["phone", "registered_poor"]},
              "edit reports what changed: %s" % out)
        code, out, _ = li.cli("farmer", "edit", wxy, "--phone", "13911112222")
        check(code == 0 and "nothing to change" in out, "an edit that changes nothing says so")
        check(li.sync()[0] == 0 and wang.sync()[0] == 0, "both agents sync")
        srv = server.rows("SELECT phone, registered_poor, name FROM farmers WHERE id = ?", (wxy,))
        check(srv == [{"phone": "13911112222", "registered_poor": 0, "name": "王秀英"}],
              "the server holds the edit: %r" % srv)
        w = [f for f in wang.list("farmers") if f["id"] == wxy]
        check(w and w[0]["phone"] == "13911112222" and w[0]["registered_poor"] == 0,
              "the colleague's replica got the edit: %r" % w)
        check(len(farmers_named(wang, "王秀英")) == 2, "and both 王秀英")
    done("integration_farmers")


if __name__ == "__main__":
    main()
