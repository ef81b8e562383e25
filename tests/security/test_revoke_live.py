"""security_revoke_live: `user revoke` (and `user rekey`) while the user's
session is open ends that session within a second; the agent's sync fails
with the reason and its unsent work stays queued."""
import datetime
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import CLI, SERVER, _children, agent_li_with_farmer, bulk_insert, check, done, \
    run, tempdir, use_server  # noqa: E402
from relay import Relay  # noqa: E402

END = re.compile(r"^(\S+) \S+\s+session end user=agent-li .*reason=LM_EAUTH", re.M)


def slow(data, conn):
    time.sleep(0.05)  # about 1 MB/s at most: the session stays open for seconds
    return data


def live_session_ended(server, agent, command):
    """Starts a long sync through a slow relay, runs command once the
    session is up, and returns (seconds from the command's end to the
    session's end in the server log, the sync's exit code, stderr)."""
    relay = Relay(server.port, up=slow)
    use_server(agent, relay.address)
    p = subprocess.Popen([CLI, "sync", "--db", agent.db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    _children.append(p)
    pushes = server.log().count("PUSH from agent-li")
    deadline = time.time() + 30
    while time.time() < deadline and server.log().count("PUSH from agent-li") == pushes:
        time.sleep(0.05)  # until the session is up and pushing
    run([SERVER, "user", command, "--db", server.db, "--id", "agent-li"])
    done_at = datetime.datetime.now(datetime.timezone.utc)
    _, err = p.communicate(timeout=60)
    _children.remove(p)
    relay.close()
    use_server(agent, server.address)
    ends = END.findall(server.log())
    if not ends:
        return None, p.returncode, err
    ended = datetime.datetime.fromisoformat(ends[-1].replace("Z", "+00:00"))
    return (ended - done_at).total_seconds(), p.returncode, err


def main():
    with tempdir() as tmp:
        server, agent, farmer = agent_li_with_farmer(tmp, extra=("--log-level", "debug"))
        bulk_insert(agent, farmer, 20000, "LIVE-")
        took, code, err = live_session_ended(server, agent, "revoke")
        check(took is not None, "the revoked user's open session was ended: %r" % err)
        if took is not None:
            print("revoke ended the live session %.3f s after the command" % took)
            check(took < 1.0, "within a second (%.3f s)" % took)
        check(code != 0 and "revoked" in err, "the agent is told: %r" % err)
        check(agent.status().get("pending_changes", 0) > 0, "its unsent work stays queued")
        code, _, err = agent.sync(ok=False)
        check(code != 0, "and it cannot start a new one")

        run([SERVER, "user", "unrevoke", "--db", server.db, "--id", "agent-li"])
        took, code, err = live_session_ended(server, agent, "rekey")
        check(took is not None and took < 1.0, "rekey ends the live session too (%r)" % took)
        check(server.alive(), "server still serving")
        check(server.stop() == 0, "server exits 0")
    done("security_revoke_live")


if __name__ == "__main__":
    main()
