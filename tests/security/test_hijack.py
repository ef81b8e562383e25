"""security_hijack: a relay that (1) lets an agent's login through, cuts
the agent off and keeps the connection to push its own bytes, and (2)
records an agent's whole session and replays it on a new connection, gets
nothing accepted: no session is established for it, nothing is written,
and the server goes on serving."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import agent_li_with_farmer, check, done, tempdir, use_server  # noqa: E402
from relay import Relay  # noqa: E402


def sessions(server):
    return server.rows("SELECT sessions FROM lm_sessions_log WHERE user = 'agent-li'")[0]["sessions"]


def counts(server):
    return server.rows("SELECT (SELECT count(*) FROM collections) AS c,"
                       " (SELECT count(*) FROM farmers) AS f")[0]


def main():
    with tempdir() as tmp:
        server, agent, farmer = agent_li_with_farmer(tmp)

        # (1) Take over: once the server answered the agent's HELLO, the
        # relay drops the agent and sends its own forged record (a
        # well-formed TLS application-data header over junk) on the
        # established connection, then a copy of the agent's last record.
        def down(data, conn):
            # chunk 1: the server's handshake flight; later ones come after
            # the agent's HELLO (its ticket, WELCOME): the login went through
            conn["chunks"] = conn.get("chunks", 0) + 1
            if conn["chunks"] >= 2 and not conn.get("taken"):
                conn["taken"] = True
                conn["client"].close()  # the agent is cut off
                forged = b"\x17\x03\x03\x00\x40" + os.urandom(0x40)
                try:
                    conn["server"].sendall(forged + bytes(conn["up"][-200:]))
                except OSError:
                    pass
                return None
            return data
        thief = Relay(server.port, down=down)
        use_server(agent, thief.address)
        agent.new_id("collect", "--farmer", farmer, "--product", "tea", "--grade", "A",
                     "--kg", "1000", "--price", "1000")
        before, n_sessions = counts(server), sessions(server)
        code, _, _ = agent.sync(ok=False)
        check(code != 0, "the cut-off agent's sync fails")
        time.sleep(1.0)
        check(counts(server) == before, "nothing the relay sent was applied: %r -> %r"
              % (before, counts(server)))
        check(server.alive(), "the server survived the take-over attempt")
        thief.close()

        # (2) Replay: record a whole good session, then send the agent's
        # bytes again on a fresh connection.
        rec = Relay(server.port)
        use_server(agent, rec.address)
        code, _, err = agent.sync()
        check(code == 0, "a recorded sync works: %s" % err)
        rec.close()
        after_good, n_good = counts(server), sessions(server)
        check(after_good["c"] == before["c"] + 1, "the recorded session pushed its purchase")
        recorded = bytes(rec.conns[-1]["up"])
        s = socket.create_connection(("127.0.0.1", server.port))
        s.settimeout(5)
        try:
            s.sendall(recorded)
            while s.recv(65536):
                pass
        except OSError:
            pass
        s.close()
        time.sleep(1.0)
        check(sessions(server) == n_good, "the replay established no session (%d -> %d)"
              % (n_good, sessions(server)))
        check(counts(server) == after_good, "the replay changed nothing")
        log = server.log()
        check("session end user=- " in log, "the replayed connection never logged in")
        use_server(agent, server.address)
        check(agent.sync()[0] == 0, "the agent still syncs directly")
        check(server.stop() == 0, "server exits 0")
    done("security_hijack")


if __name__ == "__main__":
    main()
