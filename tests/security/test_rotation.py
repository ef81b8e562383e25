"""security_rotation: the server rotates its own key without visiting the
devices (`lastmile-server identity rotate`, docs/security.md).

While a rotation is staged, the running server announces the next
fingerprint in WELCOME, inside the channel the device's pin authenticated;
a device that syncs stores it as its next pin. After `--finish` and a
restart the server presents the new certificate: that device moves its pin
on its own, a device that did not sync in the window is refused with a
message to enrol again (and `user rekey` + `init --enrol` brings it back
with its queued work). A server with any other key — one that holds a copy
of server.db and stages a rotation of its own included — is refused, and
nothing it says reaches the pins. `--abort` drops the announcement."""
import os
import shutil
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import SERVER, Agent, Server, check, done, run, tempdir, use_server  # noqa: E402


def meta(agent, key):
    con = sqlite3.connect("file:%s?mode=ro" % agent.db, uri=True, timeout=30)
    try:
        row = con.execute("SELECT value FROM lm_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None
    finally:
        con.close()


def identity(server, *args, ok=True):
    return run([SERVER, "identity"] + list(args) + ["--db", server.db], ok=ok)


def fingerprints(out):
    """{'current': hex, 'next': hex?} from identity show / rotate output."""
    fps = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] == "sha256":
            fps[parts[0]] = parts[2]
    return fps


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        li_key = server.add_user("agent-li", "agent", ["shangba"])
        wang_key = server.add_user("agent-wang", "agent", ["xiaba"])
        server.start()
        li, wang = Agent(tmp, "agent-li"), Agent(tmp, "agent-wang")
        li.init(server, li_key)
        wang.init(server, wang_key)
        old = fingerprints(identity(server, "show")[1])["current"]
        check(meta(li, "server_fp") == old, "li pinned the current identity")

        # Bad input first: nothing staged.
        code, _, err = identity(server, "rotate", "--finish", ok=False)
        check(code == 1 and "no rotation is staged" in err, "finish without a stage: %r" % err)
        code, _, err = identity(server, "rotate", "--abort", ok=False)
        check(code == 1 and "no rotation is staged" in err, "abort without a stage: %r" % err)
        code, _, _ = identity(server, "rotate", "--finish", "--abort", ok=False)
        check(code == 2, "--finish with --abort is a usage error")
        code, _, _ = run([SERVER, "identity", "turn", "--db", server.db], ok=False)
        check(code == 2, "an unknown subcommand is a usage error")

        # Stage while serving: no restart needed to announce it.
        code, out, _ = identity(server, "rotate")
        new = fingerprints(out)["next"]
        check(new != old and len(new) == 64, "a new key is staged: %s" % new)
        code, _, err = identity(server, "rotate", ok=False)
        check(code == 1 and "already staged" in err, "a second stage is refused: %r" % err)
        check(fingerprints(identity(server, "show")[1]).get("current") == old,
              "the current identity is unchanged while staged")

        # Who has the next pin is what WELCOMEs announced, not a clock: with
        # the staged files dated an hour back (a copy, a restore, a clock
        # step), wang's enrolment sync before the stage still does not count.
        hour_ago = time.time() - 3600
        for suffix in (".next.key", ".next.crt"):
            os.utime(server.db + suffix, (hour_ago, hour_ago))

        # An agent that syncs in the window stores the next pin only.
        li.new_id("farmer", "add", "--name", "Li Ming", "--village", "shangba")
        check(li.sync()[0] == 0, "li syncs during the window")
        check(meta(li, "server_fp") == old, "li still pins the current identity")
        check(meta(li, "server_fp_next") == new, "li stored the announced next identity")
        for _ in range(40):  # the session log is written just after the session
            out = identity(server, "show")[1]
            laggards = [ln for ln in out.splitlines() if ln.startswith("not synced since staged")]
            if laggards and "agent-li" not in laggards[0]:
                break
            time.sleep(0.1)
        check(laggards and "agent-wang" in laggards[0] and "agent-li" not in laggards[0],
              "show names the user who has not synced since the stage: %r" % out)

        # An attacker with a copy of server.db (not its key) runs a server of
        # its own — its own key — and stages a rotation there: li refuses it,
        # so nothing it could announce reaches li's pins.
        evil_dir = os.path.join(tmp, "evil")
        os.mkdir(evil_dir)
        shutil.copy(server.db, os.path.join(evil_dir, "server.db"))
        evil = Server(evil_dir)
        identity(evil, "rotate")
        evil.start()
        use_server(li, evil.address)
        code, _, err = li.sync(ok=False)
        check(code == 1 and "does not match the pinned fingerprint" in err,
              "a server with another key is refused: %r" % err)
        check(meta(li, "server_fp") == old and meta(li, "server_fp_next") == new,
              "the pins are unchanged")
        evil.stop()
        use_server(li, server.address)

        # Wang misses the window: queued work, no sync.
        wang.new_id("farmer", "add", "--name", "Wang Fang", "--village", "xiaba")
        wang_pending = wang.status().get("pending_changes")

        # The switch cut by a crash after each of its steps (the journal,
        # then each of its four renames), on copies of the server's files:
        # the next command that reads the identity finishes it, and the
        # files are the staged pair as current and the old pair as retired.
        for k in range(5):
            cut_dir = os.path.join(tmp, "cut%d" % k)
            os.mkdir(cut_dir)
            for suffix in ("", ".key", ".crt", ".next.key", ".next.crt"):
                shutil.copy(server.db + suffix, os.path.join(cut_dir, "server.db" + suffix))
            cut_db = os.path.join(cut_dir, "server.db")
            code, _, _ = run([SERVER, "identity", "rotate", "--finish", "--db", cut_db], ok=False,
                             env=dict(os.environ, LASTMILE_TEST_ROTATE_CRASH_AFTER=str(k)))
            check(code == 3, "cut %d: the switch was cut (exit %d)" % (k, code))
            if k % 2:
                code, out, err = run([SERVER, "identity", "show", "--db", cut_db], ok=False)
                check(code == 0 and "cut short" in out,
                      "cut %d: identity show finishes the switch (%s)" % (k, err.strip()))
            else:  # serve itself takes it up before it loads the key
                p = subprocess.Popen([SERVER, "serve", "--db", cut_db, "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                line = p.stdout.readline()
                p.terminate()
                _, err = p.communicate(timeout=30)
                check(line.startswith("listening on ") and p.returncode == 0,
                      "cut %d: serve starts after the cut (%r, %s)" % (k, line, err.strip()))
            code, out, _ = run([SERVER, "identity", "show", "--db", cut_db])
            check(fingerprints(out).get("current") == new and "no rotation staged" in out,
                  "cut %d: the staged key is current, nothing staged: %r" % (k, out))
            left = sorted(f for f in os.listdir(cut_dir) if f.startswith("server.db."))
            check(left == ["server.db.crt", "server.db.key", "server.db.old.crt",
                           "server.db.old.key"], "cut %d: the files are whole: %r" % (k, left))
        code, _, _ = run([SERVER, "identity", "rotate", "--finish", "--db", cut_db], ok=False)
        check(code == 1, "finish with nothing staged after the take-up is refused")

        # The switch: the server presents the new identity from its restart.
        port = server.port
        code, out, _ = identity(server, "rotate", "--finish")
        check(fingerprints(out).get("current") == new, "finish installs the staged key")
        check(os.path.exists(server.db + ".old.key") and os.path.exists(server.db + ".old.crt"),
              "the retired identity is kept")
        check(oct(os.stat(server.db + ".key").st_mode & 0o777) == "0o600", "new key file 0600")
        server.stop()
        server.start(port=port)
        check("server identity sha256 %s" % new in server.log(), "the server presents the new key")

        li.new_id("farmer", "add", "--name", "Li Hua", "--village", "shangba")
        code, _, err = li.sync()
        check(code == 0, "li follows the rotation without a new enrolment")
        check(meta(li, "server_fp") == new and not meta(li, "server_fp_next"),
              "li pins the new identity and no next one")
        check("rotated identity" in err, "li says it moved its pin: %r" % err)
        check(li.sync()[0] == 0, "and keeps syncing")
        names = {r["name"] for r in server.rows("SELECT name FROM farmers")}
        check({"Li Ming", "Li Hua"} <= names, "li's farmers arrived: %r" % names)

        code, _, err = wang.sync(ok=False)
        check(code == 1 and "does not match the pinned fingerprint" in err and
              "enrol it again" in err, "wang, who missed the window, is told to re-enrol: %r" % err)
        check(wang.status().get("pending_changes") == wang_pending, "wang's work stays queued")
        code, out, _ = run([SERVER, "user", "rekey", "--db", server.db, "--id", "agent-wang"])
        wang.init(server, out.strip().splitlines()[-1])
        check(meta(wang, "server_fp") == new, "re-enrolled wang pins the new identity")
        names = {r["name"] for r in server.rows("SELECT name FROM farmers")}
        check("Wang Fang" in names, "wang's queued farmer arrived after re-enrolment")

        # A staged rotation dropped: devices drop their next pin.
        code, out, _ = identity(server, "rotate")
        third = fingerprints(out)["next"]
        check(li.sync()[0] == 0 and meta(li, "server_fp_next") == third, "li learns a third key")
        identity(server, "rotate", "--abort")
        check(not os.path.exists(server.db + ".next.key"), "abort removes the staged key")
        check(li.sync()[0] == 0 and not meta(li, "server_fp_next"),
              "li forgets the aborted next identity")
        check(meta(li, "server_fp") == new, "and keeps its pin")
        check(server.stop() == 0, "server exits 0")
    done("security_rotation")


if __name__ == "__main__":
    main()
