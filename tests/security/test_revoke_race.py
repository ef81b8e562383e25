"""security_revoke_race: a login whose user lookup races a `user revoke`
is not let in. The auth watch sees the revocation while the login is still
being looked up (no session of that user is registered yet, so it ends
none); the server must look the user up again before WELCOME. The race is
milliseconds wide in production; LASTMILE_TEST_AUTH_DELAY_MS holds the
lookup's answer for 5 s here so the revocation lands inside it every time.
Without the second look the session is welcomed and the agent's farmer
reaches the server."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import CLI, SERVER, Agent, Server, _children, check, done, run, tempdir  # noqa: E402


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        os.environ["LASTMILE_TEST_AUTH_DELAY_MS"] = "5000"
        try:
            server.start(extra=("--log-level", "debug"))
        finally:
            del os.environ["LASTMILE_TEST_AUTH_DELAY_MS"]
        agent = Agent(tmp, "agent-li")
        agent.init(server, key)
        agent.new_id("farmer", "add", "--name", "Li Race", "--village", "shangba")
        pending = agent.status().get("pending_changes")

        p = subprocess.Popen([CLI, "sync", "--db", agent.db], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        _children.append(p)
        time.sleep(0.5)  # connected, HELLO sent, its lookup held
        run([SERVER, "user", "revoke", "--db", server.db, "--id", "agent-li"])
        _, err = p.communicate(timeout=60)
        _children.remove(p)
        # refused at its login ("authentication failed"), not ended later by
        # the auth watch ("access revoked"): the revocation landed inside
        # the held lookup
        check(p.returncode != 0 and "authentication failed" in err and "access revoked" not in err,
              "the racing login is refused: exit %d %r" % (p.returncode, err))
        names = {r["name"] for r in server.rows("SELECT name FROM farmers")}
        check("Li Race" not in names, "nothing of it reached the server")
        check(agent.status().get("pending_changes") == pending, "its work stays queued")

        # unrevoke: the same device logs in again (the second look lets a
        # user in whom nothing changed against)
        run([SERVER, "user", "unrevoke", "--db", server.db, "--id", "agent-li"])
        check(agent.sync()[0] == 0, "after unrevoke the sync works")
        names = {r["name"] for r in server.rows("SELECT name FROM farmers")}
        check("Li Race" in names, "and the farmer arrives")
        check(server.stop() == 0, "server exits 0")
    done("security_revoke_race")


if __name__ == "__main__":
    main()
