"""security_identity: an agent refuses a server that does not hold the
identity it pinned at enrolment, with a clear error and nothing changed;
an enrolment string naming another identity leaves no replica behind.
Plaintext exists only with --insecure-plaintext on both sides, and the
server says so in its log. A client that stalls mid-handshake is dropped
at the handshake timeout while the server serves everyone else."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import Agent, Server, check, done, tempdir, use_server  # noqa: E402
from test_auth_strings import build, parse  # noqa: E402


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start(extra=("--handshake-timeout-ms", "1500"))
        other_dir = os.path.join(tmp, "other")
        os.mkdir(other_dir)
        other = Server(other_dir)
        other_key = other.add_user("agent-li", "agent", ["shangba"])
        other.start()

        # A string with the other server's fingerprint, used against ours.
        fp_other, _, _, _ = parse(other_key)
        _, token, _, _ = parse(key)
        agent = Agent(tmp, "agent-li")
        code, _, err = agent.init(server, build(fp_other, token, "agent-li"), ok=False)
        check(code == 1 and "server identity does not match the pinned fingerprint" in err,
              "enrolment against the wrong identity refused: %r" % err)
        check(not os.path.exists(agent.db), "no replica left behind")

        agent.init(server, key)
        agent.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        pending = agent.status().get("pending_changes")
        use_server(agent, other.address)
        code, _, err = agent.sync(ok=False)
        check(code == 1 and "server identity does not match the pinned fingerprint" in err,
              "the other server is refused: %r" % err)
        check(agent.status().get("pending_changes") == pending, "nothing changed")
        check(other.rows("SELECT count(*) AS n FROM farmers")[0]["n"] == 0,
              "the other server received nothing")
        other.stop()

        # Plaintext on one side only does not work; the flag on the server is
        # said in its log.
        plain_dir = os.path.join(tmp, "plain")
        os.mkdir(plain_dir)
        plain = Server(plain_dir)
        plain_key = plain.add_user("agent-li", "agent", ["shangba"])
        plain.start(extra=("--insecure-plaintext",))
        check("INSECURE" in plain.log(), "the plaintext server warns in its log")
        p_agent = Agent(plain_dir, "agent-li")
        code, _, err = p_agent.cli("init", "--server", plain.address, "--enrol", plain_key,
                                   ok=False)
        check(code == 1 and "TLS" in err, "a TLS agent does not talk to it: %r" % err)
        plain.stop()

        # Half a ClientHello, then silence; meanwhile the agent syncs.
        s = socket.create_connection(("127.0.0.1", server.port))
        s.sendall(b"\x16\x03\x01\x00\xff\x01\x00")
        use_server(agent, server.address)
        check(agent.sync()[0] == 0, "the server serves others during the stall")
        s.settimeout(10)
        t0 = time.time()
        try:
            while s.recv(4096):
                pass
        except OSError:
            pass
        check(time.time() - t0 < 9, "the stalled client was dropped (%.1f s)" % (time.time() - t0))
        s.close()
        check(server.alive(), "server still serving")
        check(server.stop() == 0, "server exits 0")
    done("security_identity")


if __name__ == "__main__":
    main()
