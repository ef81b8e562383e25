"""integration_auth: enrolment strings that are wrong, for an unknown user,
somebody else's, used, expired or malformed; a revoked user; an unreachable
server: each a clear error with a non-zero exit and no replica (and no
device key) left behind, and the server keeps serving everyone else."""
import base64
import os
import socket
import time

from lmtest import CLI, SERVER, Agent, Server, check, done, run, tempdir


def free_port():
    """A port nobody listens on (bound then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def parse(text):
    """lm1-base64url(1 | fingerprint 32 | token 32 | n user | n address)."""
    body = text[4:]
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    n = raw[65]
    return raw[1:33], raw[33:65], raw[66:66 + n].decode(), raw[67 + n:].decode()


def build(fp, token, user, address=""):
    raw = bytes([1]) + fp + token + bytes([len(user)]) + user.encode() + \
        bytes([len(address)]) + address.encode()
    return "lm1-" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def refused(agent, what, code, err, needle):
    check(code != 0, "%s: non-zero exit" % what)
    check(err.startswith("lastmile: init: ") and err.strip().count("\n") == 0,
          "%s: one clear line: %r" % (what, err))
    check(needle in err, "%s: says %r: %r" % (what, needle, err))
    check(not os.path.exists(agent.db), "%s: no replica left behind" % what)
    check(not os.path.exists(agent.db + ".key") and not os.path.exists(agent.db + ".key.new"),
          "%s: no device key left behind" % what)


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-ok", "agent", ["shangba"])
        other = server.add_user("agent-other", "agent", ["liangshui"])
        _, out, _ = run([SERVER, "user", "add", "--db", server.db, "--id", "agent-late",
                         "--role", "agent", "--villages", "shangba", "--expires", "1s"])
        late = out.strip().splitlines()[-1]
        server.start()
        fp, token, user, _ = parse(key)
        check(user == "agent-ok" and len(fp) == 32, "the string names its user and the server")

        bad = Agent(tmp, "agent-ok")
        wrong = build(fp, bytes(32), "agent-ok")
        code, _, err = bad.init(server, wrong, ok=False)
        refused(bad, "wrong token", code, err, "enrolment refused")

        stranger = Agent(tmp, "nobody")
        code, _, err = stranger.init(server, build(fp, token, "nobody"), ok=False)
        refused(stranger, "unknown user", code, err, "enrolment refused")

        # Somebody else's string names somebody else.
        code, _, err = bad.init(server, other, ok=False)
        check(code == 2 and "does not match" in err, "another user's string: %r" % err)

        code, _, err = run([CLI, "init", "--db", bad.db,
                            "--server", "127.0.0.1:%d" % free_port(), "--enrol", key], ok=False)
        refused(bad, "unreachable server", code, err, "cannot connect")

        code, _, err = bad.init(server, "xyz", ok=False)
        check(code == 2, "malformed string is a usage error (exit 2)")
        code, _, err = run([CLI, "init", "--db", bad.db, "--server", server.address,
                            "--user", "agent-ok", "--key", "00" * 32], ok=False)
        check(code == 2 and "--enrol" in err, "the old --key says to enrol: %r" % err)

        time.sleep(1.5)
        late_agent = Agent(tmp, "agent-late")
        code, _, err = late_agent.init(server, late, ok=False)
        refused(late_agent, "expired string", code, err, "expired")

        check(server.alive(), "server survived the refused sessions")
        good = Agent(tmp, "agent-ok")
        code, out, _ = good.init(server, key)
        check(code == 0 and "synced:" in out, "the right string works after the refusals")
        mode = os.stat(good.db + ".key").st_mode & 0o777
        check(mode == 0o600, "the device key is private: %o" % mode)
        code, _, err = good.init(server, key, ok=False)
        check(code == 1 and "already used" in err, "a string works once: %r" % err)
        check(good.sync()[0] == 0, "the refused second init left the replica working")
        code, _, err = run([CLI, "init", "--db", good.db, "--server", server.address,
                            "--enrol", other], ok=False)
        check(code == 1 and "already belongs" in err, "a replica keeps its user: %r" % err)
        check(good.status().get("user") == "agent-ok", "and is left as it was")
        farmer = good.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        check(good.sync()[0] == 0, "and syncs")
        check(len(server.rows("SELECT id FROM farmers WHERE id = ?", (farmer,))) == 1,
              "its farmer reached the server")

        # A revoked user is refused; its work stays queued; unrevoke lets the
        # same device in again.
        run([SERVER, "user", "revoke", "--db", server.db, "--id", "agent-ok"])
        good.new_id("farmer", "add", "--name", "Zhang", "--village", "shangba")
        code, _, err = good.sync(ok=False)
        check(code != 0 and "authentication failed" in err, "revoked user refused: %r" % err)
        check(good.status().get("pending_changes", 0) > 0, "revoked user's work stays queued")
        run([SERVER, "user", "unrevoke", "--db", server.db, "--id", "agent-ok"])
        check(good.sync()[0] == 0, "unrevoked: the same device syncs again")

        # rekey: the old device is out, a new string enrols a new one.
        _, out, _ = run([SERVER, "user", "rekey", "--db", server.db, "--id", "agent-ok"])
        code, _, err = good.sync(ok=False)
        check(code != 0 and "authentication failed" in err, "rekeyed: old device refused")
        fresh = Agent(tmp, "agent-ok-2")
        fresh.uid = "agent-ok"
        code, _, _ = fresh.init(server, out.strip().splitlines()[-1])
        check(code == 0, "rekeyed: the new string enrols a new device")
        check(server.alive(), "server still serving")
        check(server.stop() == 0, "server exits 0 on SIGTERM")
    done("integration_auth")


if __name__ == "__main__":
    main()
