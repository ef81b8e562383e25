"""integration_user_batch: `lastmile-server user add --csv FILE` (issue 22
item 1): a batch of users in one transaction, all or nothing, with the
enrolment strings printed (or --json); a UTF-8 byte-order mark, CRLF line
ends, quoted village lists and columns in any order are fine; a bad line is
named and nothing is added. An enrolment string of the batch enrols a real
device. With LM_BATCH_USERS=N (bench/users_batch.sh) it also times N users
in one batch against N single `user add` calls."""
import json
import os
import time

from lmtest import SERVER, Agent, Server, check, done, run, tempdir


def add_csv(server, path, *extra, ok=True):
    return run([SERVER, "user", "add", "--db", server.db, "--csv", path] + list(extra), ok=ok)


def write(path, text, raw=None):
    with open(path, "wb") as f:
        f.write(raw if raw is not None else text.encode())


def user_ids(server):
    return [r["id"] for r in server.rows("SELECT id FROM lm_users ORDER BY id")]


def timing(tmp, n):
    """N users: one batch, then N single adds (each a process), same run."""
    server = Server(os.path.join(tmp, "timing"))
    path = os.path.join(tmp, "timing.csv")
    write(path, "id,role,villages\n" + "".join(
        "batch-%05d,agent,shangba\n" % i for i in range(n)))
    t0 = time.monotonic()
    code, out, _ = add_csv(server, path)
    batch_s = time.monotonic() - t0
    check(code == 0 and len(out.splitlines()) == n, "a batch of %d" % n)
    t0 = time.monotonic()
    for i in range(n):
        run([SERVER, "user", "add", "--db", server.db, "--id", "single-%05d" % i, "--role",
             "agent", "--villages", "shangba"])
    single_s = time.monotonic() - t0
    print("users_batch: %d users: one batch %.2f s, %d single adds %.2f s (%.1fx)"
          % (n, batch_s, n, single_s, single_s / batch_s if batch_s else 0))


def main():
    with tempdir() as tmp:
        os.makedirs(os.path.join(tmp, "timing"))
        server = Server(tmp)
        server.add_user("old-one", "agent", ["shangba"])
        before = user_ids(server)
        csv = os.path.join(tmp, "users.csv")

        # every kind of bad file: named, exit 1, nothing added
        bad = [
            ("", "empty file"),
            ("id,role\n", "no users after the header"),
            ("id,role,village\na,agent,shangba\n", "header column 'village' is unknown"),
            ("role,villages\nagent,shangba\n", "needs id and role"),
            ("id,role,villages\na-1,agent,shangba\na-2,agent\n", "users.csv:3: expected 3"),
            ("id,role,villages\na-1,agent,shangba\nb 2,agent,shangba\n", "users.csv:3: id must"),
            ("id,role,villages\na-1,boss,shangba\n", "users.csv:2: role must"),
            ("id,role,county\nd-1,dispatcher,atlantis\n", "users.csv:2: unknown county"),
            ("id,role,villages\na-1,agent,shangba\na-2,agent,\"shangba,nowhere\"\n",
             "users.csv:3: unknown village 'nowhere'"),
            ("id,role,villages\na-1,agent,shangba\nold-one,agent,shangba\n",
             "users.csv:3: user 'old-one' already exists"),
            ("id,role,villages\na-1,agent,shangba\na-1,agent,xiaba\n",
             "users.csv:3: user 'a-1' is also on line 2"),
            ("id,role,villages,county\na-1,agent,shangba,pingshan\n",
             "an agent needs villages and no county"),
            ("id,role,villages,name\na-1,agent,shangba,\"a\tb\"\n", "control character"),
            ("id,role,villages\na-1,agent,\"shangba\n", "malformed"),
        ]
        for text, why in bad:
            write(csv, text)
            code, out, err = add_csv(server, csv, ok=False)
            check(code == 1 and why in err and out == "",
                  "bad batch %r refused (%s): %d %r" % (text, why, code, err))
            check(user_ids(server) == before, "nothing added by %r" % text)
        write(csv, None, raw=b"id,role\n\xff\xfe,agent\n")
        code, _, err = add_csv(server, csv, ok=False)
        check(code == 1 and "not valid UTF-8" in err and user_ids(server) == before,
              "a file that is not UTF-8 is refused: %r" % err)
        code, _, err = run([SERVER, "user", "add", "--db", server.db, "--csv", csv, "--id", "x"],
                           ok=False)
        check(code == 2 and "--csv takes the users from the file" in err, "csv with --id: %r"
              % err)

        # a good batch: BOM, CRLF, columns in any order, CJK names, ; lists
        text = ("\ufeffName,ID,Role,Villages,County\r\n"
                "王秀英,agent-wxy,agent,\"shangba,xiaba\",\r\n"
                ",agent-two,agent,baishi;heping,\r\n"
                "\r\n"
                "调度员,disp-1,dispatcher,,yunxi\r\n"
                "总部,hq-1,hq,,\r\n")
        write(csv, text)
        code, out, err = add_csv(server, csv, "--address", "127.0.0.1:1")
        lines = out.splitlines()
        check(code == 0 and [ln.split(" ")[0] for ln in lines]
              == ["agent-wxy", "agent-two", "disp-1", "hq-1"]
              and all(ln.split(" ")[1].startswith("lm1-") for ln in lines)
              and "added 4 users" in err, "the batch printed 4 strings: %r %r" % (out, err))
        rows = {r["id"]: r for r in server.rows(
            "SELECT id, role, villages, county, name FROM lm_users")}
        check(rows["agent-wxy"] == {"id": "agent-wxy", "role": "agent",
                                    "villages": "shangba,xiaba", "county": None,
                                    "name": "王秀英"}
              and rows["agent-two"]["villages"] == "baishi,heping"
              and rows["disp-1"]["county"] == "yunxi" and rows["hq-1"]["role"] == "hq",
              "the users as the file says: %r" % rows)

        # --json
        write(csv, "id,role,villages\njson-1,agent,shangba\njson-2,agent,xiaba\n")
        code, out, _ = add_csv(server, csv, "--json")
        got = json.loads(out)
        check([u["id"] for u in got] == ["json-1", "json-2"]
              and all(u["enrolment"].startswith("lm1-") and u["role"] == "agent" for u in got),
              "--json lists id, role, enrolment: %r" % got)

        # a string of the batch enrols a real device
        server.start()
        code, _, err = add_csv(server, csv.replace("users", "missing"), ok=False)
        check(code == 1 and "missing.csv" in err, "a missing file is named: %r" % err)
        write(csv, "id,role,villages\nfield-1,agent,shangba\n")
        code, out, _ = add_csv(server, csv)
        key = out.split(" ")[1].strip()
        agent = Agent(tmp, "field-1")
        agent.init(server, key)
        check(agent.new_id("farmer", "add", "--name", "李", "--village", "shangba") is not None
              and agent.sync()[0] == 0, "the batch's user enrolled and synced")
        server.stop()

        n = int(os.environ.get("LM_BATCH_USERS", "0"))
        if n:
            timing(tmp, n)
    return done("integration_user_batch")


if __name__ == "__main__":
    raise SystemExit(main())
