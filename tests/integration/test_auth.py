"""integration_auth: a wrong key, an unknown user, a revoked user and an
unreachable server are clear errors with a non-zero exit and no replica
left behind; the server keeps serving everyone else."""
import os
import socket

from lmtest import CLI, SERVER, Agent, Server, check, done, run, tempdir


def free_port():
    """A port nobody listens on (bound then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def refused(agent, what, code, err, needle):
    check(code != 0, "%s: non-zero exit" % what)
    check(err.startswith("lastmile: init: ") and err.strip().count("\n") == 0,
          "%s: one clear line: %r" % (what, err))
    check(needle in err, "%s: says %r: %r" % (what, needle, err))
    check(not os.path.exists(agent.db), "%s: no replica left behind" % what)


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-ok", "agent", ["shangba"])
        other = server.add_user("agent-other", "agent", ["liangshui"])
        server.start()

        bad = Agent(tmp, "agent-ok")
        wrong = ("0" if key[0] != "0" else "1") + key[1:]
        code, _, err = bad.init(server, wrong, ok=False)
        refused(bad, "wrong key", code, err, "authentication failed")

        stranger = Agent(tmp, "nobody")
        code, _, err = stranger.init(server, key, ok=False)
        refused(stranger, "unknown user", code, err, "authentication failed")

        # Somebody else's key for this user is a wrong key too.
        code, _, err = bad.init(server, other, ok=False)
        refused(bad, "another user's key", code, err, "authentication failed")

        code, _, err = run([CLI, "init", "--db", bad.db,
                            "--server", "127.0.0.1:%d" % free_port(), "--user", "agent-ok",
                            "--key", key], ok=False)
        refused(bad, "unreachable server", code, err, "cannot connect")

        code, _, err = bad.init(server, "xyz", ok=False)
        check(code == 2, "malformed key is a usage error (exit 2)")

        check(server.alive(), "server survived the refused sessions")
        good = Agent(tmp, "agent-ok")
        code, out, _ = good.init(server, key)
        check(code == 0 and "synced:" in out, "the right key works after the refusals")
        code, _, _ = good.init(server, key)
        check(code == 0, "init again on the same replica re-checks the credentials")
        code, _, err = run([CLI, "init", "--db", good.db, "--server", server.address,
                            "--user", "agent-other", "--key", other], ok=False)
        check(code == 1 and "already belongs" in err, "a replica keeps its user: %r" % err)
        check(good.status().get("user") == "agent-ok", "and is left as it was")
        farmer = good.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        check(good.sync()[0] == 0, "and syncs")
        check(len(server.rows("SELECT id FROM farmers WHERE id = ?", (farmer,))) == 1,
              "its farmer reached the server")

        # A revoked user is refused like a wrong key; its work stays queued.
        run([SERVER, "user", "revoke", "--db", server.db, "--id", "agent-ok"])
        good.new_id("farmer", "add", "--name", "Zhang", "--village", "shangba")
        code, _, err = good.sync(ok=False)
        check(code != 0 and "authentication failed" in err, "revoked user refused: %r" % err)
        check(good.status().get("pending_changes", 0) > 0, "revoked user's work stays queued")
        check(server.alive(), "server still serving")
        check(server.stop() == 0, "server exits 0 on SIGTERM")
    done("integration_auth")


if __name__ == "__main__":
    main()
