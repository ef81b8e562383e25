"""security_eavesdrop: a relay on the path records every byte of an agent's
sessions (enrolment included) and finds none of the farmer's name, phone,
household id, the poor-household flag's row or the prices in them; the
stream is TLS from its first byte. A relay that flips one byte of a record
gets the session ended with a clear error and nothing applied, and the
server goes on serving."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import Agent, Server, check, done, tempdir, use_server  # noqa: E402
from relay import Relay  # noqa: E402

NAME = "Zhao Xiuying-7731"
PHONE = "13912345678"
HOUSEHOLD = "HH-5301-998877"


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start()
        rec = Relay(server.port)
        agent = Agent(tmp, "agent-li")
        # enrolment itself goes through the recording relay
        code, _, err = agent.cli("init", "--server", rec.address, "--enrol", key)
        check(code == 0, "init through the relay: %s" % err)
        farmer = agent.new_id("farmer", "add", "--name", NAME, "--village", "shangba",
                              "--phone", PHONE, "--household", HOUSEHOLD, "--poor")
        check(farmer is not None, "farmer registered")
        agent.new_id("collect", "--farmer", farmer, "--product", "tea", "--grade", "A",
                     "--kg", "12.345", "--price", "61.23")
        code, summary, err = agent.sync()
        check(code == 0, "sync through the relay: %s" % err)
        held = server.rows("SELECT name, phone FROM farmers WHERE id = ?", (farmer,))
        check(held and held[0]["name"] == NAME, "the farmer reached the server: %r" % held)

        for what, stream in (("to the server", bytes(rec.seen_up)),
                             ("from the server", bytes(rec.seen_down))):
            check(len(stream) > 1000, "the relay saw the sessions %s (%d B)" % (what, len(stream)))
            for secret in (NAME, PHONE, HOUSEHOLD, "shangba", "agent-li", "Tea leaves"):
                check(secret.encode() not in stream,
                      "the relay reads no %r in the bytes %s" % (secret, what))
        for c in rec.conns:
            check(bytes(c["up"][:1]) == b"\x16" and bytes(c["down"][:1]) == b"\x16",
                  "each connection starts with a TLS handshake record")
        rec.close()

        # One flipped byte in the agent's records: the server's TLS layer
        # refuses the record, the session ends, nothing is applied. Past the
        # first 600 bytes (the resumed handshake and HELLO are some 500):
        # the record that carries the PUSH.
        def flip(data, conn):
            conn["n"] = conn.get("n", 0) + len(data)
            if conn["n"] > 600 and not conn.get("flipped"):
                conn["flipped"] = True
                data = bytearray(data)
                data[-1] ^= 0x40
                return bytes(data)
            return data
        evil = Relay(server.port, up=flip)
        use_server(agent, evil.address)
        before = server.rows("SELECT count(*) AS n FROM collections")[0]["n"]
        agent.new_id("collect", "--farmer", farmer, "--product", "tea", "--grade", "A",
                     "--kg", "99", "--price", "61.23")
        code, _, err = agent.sync(ok=False)
        check(code != 0 and "lastmile: sync:" in err and err.strip().count("\n") == 0,
              "a tampered record fails the sync with one clear line: %r" % err)
        after = server.rows("SELECT count(*) AS n FROM collections")[0]["n"]
        check(after == before, "nothing of the tampered session applied (%d -> %d)"
              % (before, after))
        check(agent.status().get("pending_changes", 0) > 0, "the purchase stays queued")
        evil.close()
        use_server(agent, server.address)
        check(agent.sync()[0] == 0, "the server goes on serving: the next sync works")
        check(server.rows("SELECT count(*) AS n FROM collections")[0]["n"] == before + 1,
              "and the purchase arrives once")
        check(server.stop() == 0, "server exits 0")
    done("security_eavesdrop")


if __name__ == "__main__":
    main()
