"""security_file_modes: under a loose umask (022) the server database, its
-wal and -shm, the server identity files, the agent replica, its -wal and
-shm and the device key are all created 0600, and an existing replica made
world-readable is made private again when opened."""
import os
import stat
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
os.umask(0o022)  # the children inherit it
from lmtest import Agent, Server, check, done, tempdir  # noqa: E402


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start()
        agent = Agent(tmp, "agent-li")
        agent.init(server, key)
        agent.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        check(agent.sync()[0] == 0, "sync")
        files = [server.db, server.db + ".key", server.db + ".crt", agent.db, agent.db + ".key"]
        files += [p + s for p in (server.db, agent.db) for s in ("-wal", "-shm")
                  if os.path.exists(p + s)]
        check(len(files) >= 7, "the files exist: %r" % files)
        for f in files:
            check(mode(f) == 0o600, "%s is 0600 (%o)" % (os.path.basename(f), mode(f)))
        os.chmod(agent.db, 0o644)
        agent.status()
        check(mode(agent.db) == 0o600, "a replica made 0644 is private again once opened")
        check(server.stop() == 0, "server exits 0")
    done("security_file_modes")


if __name__ == "__main__":
    main()
