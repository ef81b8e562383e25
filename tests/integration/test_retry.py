"""integration_retry: `lastmile sync --retry N --timeout SEC` over a link
that keeps failing. A proxy between the agent and the server cuts each of
the first CUTS connections after a seeded number of bytes, alternately by a
reset and by a stall (the proxy keeps the sockets open and forwards nothing,
as a dead radio link does); later connections pass. One `sync --retry`
invocation must end fully synced, with the server holding every record
once and the replica nothing queued. Also: a stall without --retry fails in
about --timeout seconds with one line and the work still queued; a server
that is down is retried N times, then given up; bad values are usage
errors."""
import json
import os
import random
import select
import socket
import struct
import threading
import time

from lmtest import CLI, agent_li_with_farmer, check, done, loopback_listener, run, tempdir, \
    use_server

ROWS = 2000
CUTS = 8
SEED = int(os.environ.get("LM_RETRY_SEED", "20261128"))


class CuttingProxy:
    """Forwards 127.0.0.1:port to the server. Connection k < len(plan) is cut
    once plan[k][1] bytes (both directions together) went through: "reset"
    closes both sides with RST, "stall" stops forwarding and holds the
    sockets open until close(). Later connections are forwarded whole."""

    def __init__(self, target_port, plan):
        self.target = ("127.0.0.1", target_port)
        self.plan = plan
        self.connections = 0
        self.cuts = []  # (kind, bytes) of each cut that happened
        self.held = []
        self.lock = threading.Lock()
        self.listener, self.port = loopback_listener(16)
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopping:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                k = self.connections
                self.connections += 1
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            cut = self.plan[k] if k < len(self.plan) else None
            threading.Thread(target=self._pump, args=(client, upstream, cut), daemon=True).start()

    def _pump(self, client, upstream, cut):
        moved = 0
        peers = {client: upstream, upstream: client}
        try:
            while not self.stopping:
                ready, _, _ = select.select(list(peers), [], [], 0.2)
                for s in ready:
                    data = s.recv(65536)
                    if not data:
                        raise EOFError
                    if cut and moved + len(data) >= cut[1]:
                        self._cut(client, upstream, cut, moved)
                        return
                    peers[s].sendall(data)
                    moved += len(data)
        except (OSError, EOFError):
            pass
        for s in (client, upstream):
            s.close()

    def _cut(self, client, upstream, cut, moved):
        with self.lock:
            self.cuts.append((cut[0], moved))
        if cut[0] == "reset":
            for s in (client, upstream):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
        else:
            with self.lock:
                self.held += [client, upstream]

    def close(self):
        self.stopping = True
        self.listener.close()
        with self.lock:
            for s in self.held:
                s.close()
            self.held = []


def bulk_day(agent, farmer, n, tag):
    """n collections and one grading each, in one plain-SQL transaction."""
    sql = ("BEGIN; WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) "
           "INSERT INTO collections (id, agent_id, farmer_id, village, product, grade, "
           "weight_g, unit_price_fen, amount_fen, collected_at, note) "
           "SELECT printf('{tag}%020d', i), '{uid}', '{farmer}', 'shangba', "
           "  CASE i % 3 WHEN 0 THEN 'potato' WHEN 1 THEN 'corn' ELSE 'apple' END, 'B', "
           "  1000 + 7 * i, 230, ((1000 + 7 * i) * 230 + 500) / 1000, 1700000000000 + 1000 * i, "
           "  CASE WHEN i % 10 = 0 THEN 'rain' END FROM k; "
           "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < {n}) "
           "INSERT INTO gradings (id, collection_id, grade, moisture_permille, defects, "
           "graded_by, graded_at) "
           "SELECT printf('G{tag}%019d', i), printf('{tag}%020d', i), 'B', 100 + i % 90, NULL, "
           "  '{uid}', 1700000000000 + 1000 * i + 500 FROM k; COMMIT;"
           ).format(n=n, tag=tag, uid=agent.uid, farmer=farmer)
    run(["/usr/bin/sqlite3", agent.db, sql])


def sync_via(agent, *extra, timeout=240):
    """`lastmile sync --json` with extra options; (code, summary, stderr, seconds)."""
    t0 = time.monotonic()
    code, out, err = run([CLI, "sync", "--json", "--db", agent.db] + list(extra), ok=False,
                         timeout=timeout)
    summary = json.loads(out) if code == 0 and out.strip() else None
    return code, summary, err, time.monotonic() - t0


def main():
    rng = random.Random(SEED)
    with tempdir() as tmp:
        server, a, farmer = agent_li_with_farmer(tmp)

        # Usage errors: nothing is tried.
        for bad in (["--retry", "-1"], ["--retry", "x"], ["--retry", "10001"],
                    ["--timeout", "0"], ["--timeout", "1.5"], ["--timeout", "3601"]):
            code, _, err = a.cli("sync", *bad, ok=False)
            check(code == 2 and err.startswith("lastmile: sync: ") and err.count("\n") == 1,
                  "sync %s is a usage error: %d %r" % (" ".join(bad), code, err))

        # Point the replica at the proxy (the address is stored by init).
        bulk_day(a, farmer, ROWS, "RTRYA0")
        queued = a.status().get("pending_changes", 0)
        check(queued >= ROWS * 2, "the day is queued: %d changes" % queued)

        # A stall without --retry: detected in about --timeout seconds.
        stall = CuttingProxy(server.port, [("stall", 3000)])
        use_server(a, "127.0.0.1:%d" % stall.port)
        code, _, err, secs = sync_via(a, "--timeout", "2")
        stall.close()
        check(code == 1, "a stalled sync fails (exit %d)" % code)
        check(err.count("\n") == 1 and err.startswith("lastmile: sync: ") and
              "timed out" in err and "still queued" in err,
              "one line with the reason and what is queued: %r" % err)
        check(secs < 20, "the stall was detected in %.1f s (--timeout 2)" % secs)
        check(a.status().get("pending_changes", 0) > 0, "the work is still queued")

        # CUTS cuts, alternately reset and stall, after 1.5-9 KB each: together
        # at most 72 KB, less than the day needs (~100 KB), so every cut lands.
        plan = [("reset" if k % 2 == 0 else "stall", rng.randint(1500, 9000))
                for k in range(CUTS)]
        proxy = CuttingProxy(server.port, plan)
        use_server(a, "127.0.0.1:%d" % proxy.port)
        code, summary, err, secs = sync_via(a, "--retry", "40", "--timeout", "3")
        proxy.close()
        print("cuts %r; %d connections; %.1f s; summary %r" % (proxy.cuts, proxy.connections,
                                                               secs, summary))
        check(code == 0, "sync --retry ends synced (exit %d): %s" % (code, err.strip()[-600:]))
        check(len(proxy.cuts) == CUTS, "all %d cuts landed: %r" % (CUTS, proxy.cuts))
        attempts = summary.get("attempts") if summary else None
        check(attempts == proxy.connections, "attempts %r == connections %d"
              % (attempts, proxy.connections))
        lines = [ln for ln in err.splitlines() if ln.strip()]
        failed = [ln for ln in lines if "failed:" in ln]
        check(attempts is not None and len(failed) == attempts - 1,
              "one stderr line per failed attempt: %d lines, %r attempts" % (len(failed), attempts))
        for ln in failed:
            check(ln.startswith("lastmile: sync: attempt ") and "queued" in ln and
                  "retrying in" in ln, "progress line: %r" % ln)
        check(a.status().get("pending_changes") == 0, "nothing left queued")

        # The server holds every record once; sums equal the replica's.
        n = server.rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM collections "
                        "WHERE id LIKE 'RTRYA0%'")[0]
        check(n["n"] == ROWS and n["d"] == ROWS, "server holds %d collections once: %r"
              % (ROWS, n))
        g = server.rows("SELECT count(*) AS n FROM gradings WHERE id LIKE 'GRTRYA0%'")[0]
        check(g["n"] == ROWS, "server holds %d gradings: %r" % (ROWS, g))
        mine = a.list("collections")
        want_w = sum(c["weight_g"] for c in mine)
        want_m = sum(c["amount_fen"] for c in mine)
        rep = {r["agent"]: r for r in server.report("agent")}.get("agent-li", {})
        check(rep.get("weight_g") == want_w and rep.get("amount_fen") == want_m and
              rep.get("count") == len(mine),
              "report volumes %r == replica (%d, %d, %d)" % (rep, want_w, want_m, len(mine)))
        theirs = sorted(r["id"] for r in server.rows("SELECT id FROM collections"))
        check(sorted(c["id"] for c in mine) == theirs, "replica and server: same collections")
        check(sorted(x["id"] for x in a.list("gradings")) ==
              sorted(r["id"] for r in server.rows("SELECT id FROM gradings")),
              "replica and server: same gradings")
        check(all(c.get("received_at") for c in mine), "every received_at stamp pulled back")

        # The server down: N retries, then one line that gives up.
        bulk_day(a, farmer, 3, "RTRYB0")
        server.stop()
        code, _, err, secs = sync_via(a, "--retry", "2", "--timeout", "2")
        check(code == 1, "server down: exit 1 after the retries (%d)" % code)
        lines = err.strip().splitlines()
        check(len(lines) == 3 and "gave up after 3 attempts" in lines[-1] and
              "still queued" in lines[-1], "two retry lines and one final line: %r" % lines)
        check(secs >= 2.0, "it waited between attempts (%.1f s)" % secs)
    done("integration_retry")


if __name__ == "__main__":
    main()
