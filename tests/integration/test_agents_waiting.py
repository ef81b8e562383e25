"""hq_agents_waiting: `report agents`' waiting_push when a session is cut
in the middle of a push. The agent has a few thousand changes queued; a
loopback relay between it and the server forwards the first PUSH_CUT PUSH
frames and their acknowledgements, then swallows whatever the agent sends
and closes both connections. The report must then show, for the agent,
exactly what the agent itself still has queued (`lastmile status`), which
this script also computes on its own: the changes it wrote (one per filled
cell) minus those of the batches the relay let through. A second, complete
sync brings both to 0.

Also checked: waiting_pull after the cut is one change per collection the
server applied (the received_at it stamps), and 0 after the full sync."""
import json
import socket
import threading
import time

from lmtest import SERVER, Agent, Server, check, done, loopback_listener, relay_frames, run, \
    tempdir

ROWS = 3000
PUSH_CUT = 2
MSG_PUSH, MSG_PUSH_ACK = 5, 6


class Relay:
    """Forwards one connection at a time to the server; frame-aware so it
    can stop after the n-th PUSH and its acknowledgement."""

    def __init__(self, server_port, push_cut):
        self.server_port = server_port
        self.push_cut = push_cut
        self.lsock, self.port = loopback_listener()
        self.pushes = self.acks = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.lsock.accept()
        up = socket.create_connection(("127.0.0.1", self.server_port))
        cut = threading.Event()

        def client_frame(kind, frame, dst):
            if kind == MSG_PUSH:
                if self.pushes >= self.push_cut:
                    cut.set()
                    return False  # swallow this one and everything after
                self.pushes += 1
            if cut.is_set():
                return False
            dst.sendall(frame)
            return True

        def server_frame(kind, frame, dst):
            try:
                dst.sendall(frame)
            except OSError:
                return False
            if kind == MSG_PUSH_ACK:
                self.acks += 1
                if self.acks >= self.push_cut:
                    cut.set()
            return True

        t = threading.Thread(target=relay_frames, args=(up, conn, server_frame), daemon=True)
        t.start()
        relay_frames(conn, up, client_frame)
        cut.wait(30)
        time.sleep(0.5)  # let the agent record the last acknowledgement
        for s in (conn, up):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        t.join(10)
        self.lsock.close()


def bulk_insert(agent, farmer, n):
    """n collections in one plain-SQL transaction (captured like any write)."""
    sql = ("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
           "INSERT INTO collections (id, agent_id, farmer_id, village, product, grade, "
           "weight_g, unit_price_fen, amount_fen, collected_at, note) "
           "SELECT printf('CUT%%023d', i), '%s', '%s', 'shangba', 'potato', 'B', 1000 + i, "
           "250, ((1000 + i) * 250 + 500) / 1000, 1700000000000 + i, 'bulk' FROM k;" % (n, agent.uid, farmer))
    run(["/usr/bin/sqlite3", agent.db, sql])


def point_to(agent, port):
    """The replica's server address (lm_meta "server"), as `init` stored it."""
    run(["/usr/bin/sqlite3", agent.db, "UPDATE lm_meta SET value = '127.0.0.1:%d'"
         " WHERE key = 'server';" % port])


def report(server):
    code, out, _ = run([SERVER, "report", "agents", "--db", server.db, "--format", "json"])
    return {r["user"]: r for r in (json.loads(out) if code == 0 else [])}


def settled(server, uid, sessions):
    """The agent's row once the server has logged its `sessions`-th session."""
    deadline = time.time() + 20
    while True:
        r = report(server).get(uid, {})
        if r.get("sessions") == sessions or time.time() > deadline:
            check(r.get("sessions") == sessions, "session %d logged: %r" % (sessions, r))
            return r
        time.sleep(0.2)


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start(extra=("--insecure-plaintext",))  # the relay reads frames
        a = Agent(tmp, "agent-li")
        a.init(server, key)  # session 1
        farmer = a.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        check(a.sync()[0] == 0, "the farmer syncs")  # session 2
        r = settled(server, "agent-li", 2)
        check(r.get("waiting_push") == 0 and r.get("waiting_pull") == 0,
              "nothing waiting either way after a full sync: %r" % r)

        bulk_insert(a, farmer, ROWS)
        # One change per filled cell: every column of a collection but the
        # key and received_at (the server stamps it).
        written = ROWS * 10
        check(a.status().get("pending_changes") == written,
              "the agent counts %d queued changes: %r" % (written, a.status()))

        relay = Relay(server.port, PUSH_CUT)
        point_to(a, relay.port)
        code, _, err = a.cli("sync", ok=False)
        relay.thread.join(30)
        point_to(a, server.port)
        check(code == 1 and "still queued" in err, "the cut sync fails and says so: %r" % err)
        check(relay.pushes == PUSH_CUT and relay.acks == PUSH_CUT,
              "the relay let %d batches through: %d pushes, %d acks"
              % (PUSH_CUT, relay.pushes, relay.acks))
        left = a.status().get("pending_changes")
        r = settled(server, "agent-li", 3)
        check(0 < left < written, "part of the batch went through: %r of %d" % (left, written))
        check(r.get("pushed") == written - left,
              "the server applied what the agent has acknowledged: %r" % r)
        check(r.get("waiting_push") == left == written - r.get("pushed", -1),
              "report agents: waiting_push %r == what the agent still has queued %r"
              % (r.get("waiting_push"), left))
        # The server stamps received_at on every collection it applied: one
        # change each for the agent to pull.
        check(r.get("waiting_pull") == r.get("pushed", 0) // 10 > 0,
              "the server's received_at stamps wait for the agent: %r" % r)

        code, summary, _ = a.sync()  # session 4: the rest
        check(code == 0 and summary["pushed_changes"] == left,
              "the next sync pushes exactly the rest: %r" % summary)
        r = settled(server, "agent-li", 4)
        check(r.get("waiting_push") == 0 and r.get("waiting_pull") == 0 and
              a.status().get("pending_changes") == 0, "nothing waiting after the full sync: %r" % r)
        check(server.rows("SELECT COUNT(*) AS n FROM collections WHERE id LIKE 'CUT%'")[0]["n"]
              == ROWS, "every collection reached the server once")
        check(server.stop() == 0, "server exits 0")
    done("hq_agents_waiting")


if __name__ == "__main__":
    main()
