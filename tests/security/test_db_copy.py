"""security_db_copy: a copy of server.db lets nobody log in. It holds no
user key, no enrolment token and no device private key, only public keys
and token hashes; enrolment strings made from anything it holds are
refused by the real server; and a server started from the copy has
another identity, which an enrolled agent refuses to talk to."""
import os
import shutil
import sqlite3
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import Agent, Server, check, done, tempdir, use_server  # noqa: E402
from test_auth_strings import build, parse  # noqa: E402


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        pending = server.add_user("agent-wang", "agent", ["shangba"])  # not enrolled yet
        server.start()
        agent = Agent(tmp, "agent-li")
        agent.init(server, key)
        fp, token, _, _ = parse(key)
        _, token_wang, _, _ = parse(pending)
        with open(agent.db + ".key", "rb") as f:
            device_key = f.read()

        copy = os.path.join(tmp, "stolen")
        os.mkdir(copy)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(server.db + suffix):
                shutil.copy(server.db + suffix, os.path.join(copy, "server.db" + suffix))
        stolen = os.path.join(copy, "server.db")
        raw = b"".join(open(os.path.join(copy, n), "rb").read() for n in os.listdir(copy))
        for what, secret in (("agent-li's spent token", token), ("agent-wang's token", token_wang),
                             ("the device key file", device_key[30:60])):
            check(secret not in raw, "the copy holds no %s" % what)
        con = sqlite3.connect(stolen)
        cols = [r[1] for r in con.execute("PRAGMA table_info(lm_users)")]
        check("key" not in cols, "lm_users has no key column: %r" % cols)
        blobs = [b for row in con.execute("SELECT pubkey, enrol_hash FROM lm_users")
                 for b in row if b]
        con.close()
        check(len(blobs) >= 2, "the copy holds public keys and token hashes (%d)" % len(blobs))

        # Every 32-byte value in the copy, tried as agent-wang's token.
        for i, blob in enumerate(blobs):
            thief = Agent(tmp, "thief-%d" % i)
            thief.uid = "agent-wang"
            code, _, err = thief.cli("init", "--server", server.address,
                                     "--enrol", build(fp, bytes(blob[:32]), "agent-wang"),
                                     ok=False)
            check(code != 0 and "enrolment refused" in err,
                  "a string made from the copy's blob %d is refused: %r" % (i, err))

        # A server run from the copy (its identity files were not in it:
        # it makes a new one) is not the server agents pinned.
        fake = Server.__new__(Server)
        fake.folder, fake.db, fake.log_path = copy, stolen, os.path.join(copy, "fake.log")
        fake.proc, fake.port, fake.insecure = None, 0, False
        fake.start()
        use_server(agent, fake.address)
        code, _, err = agent.sync(ok=False)
        check(code != 0 and "server identity does not match the pinned fingerprint" in err,
              "the agent refuses the copy's server: %r" % err)
        fake.stop()
        check(server.stop() == 0, "server exits 0")
    done("security_db_copy")


if __name__ == "__main__":
    main()
