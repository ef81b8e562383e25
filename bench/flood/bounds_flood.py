#!/usr/bin/env python3
"""The resource floods of issue 19 and what each costs an honest agent.

Each flood runs against a fresh server (default settings, plus
--insecure-plaintext so the raw client of tests/integration/rawsession.py
can log in with a real key and misbehave) and measures, in the same run,
agent-wang's `lastmile sync` before the flood (idle, median of 3) and
during it (median of 3), and the server's peak RSS (VmHWM) over the run.

  unread      agent-li's key on a second site sends PULLs for --seconds and
              never reads the answers (2,000 records of random notes to pull)
  partial1    --sessions sessions of one key, each holding a 1 MiB frame one
              byte short
  partialN    the same spread over --sessions / 2 keys (2 sessions each)
  prelogin    --max-sessions 1000 and 1,000 sockets that never log in
  perpush     PUSHes of 100,000 changes (all refused: another site's), one
              after another, from one key, for --seconds
  refusal     agent-li syncs --rows collections of a village not its own
              (every cell refused), --refusal-sessions times

    python3 bench/flood/bounds_flood.py [FLOOD ...] [--seconds S] [--sessions N]

Binaries: LASTMILE_BIN and LASTMILE_SERVER_BIN (a Release build); the same
script runs against an older server (it sets no new flag).
"""
import argparse
import os
import resource
import socket
import sqlite3
import statistics
import struct
import sys
import threading
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from lmtest import Agent, Server, tempdir  # noqa: E402
from rawsession import DEFLATED, PUSH, WELCOME, Identity, RawSession, frame, mp, peak_rss_kib, \
    pull_frame  # noqa: E402


def timed_sync(agent):
    t = time.monotonic()
    code, _, err = agent.sync(ok=False)
    return time.monotonic() - t, code, (err.strip().splitlines() or [""])[-1]


def syncs(agent, n=3):
    runs = [timed_sync(agent) for _ in range(n)]
    return statistics.median(r[0] for r in runs), [r for r in runs if r[1] != 0]


class Rig:
    """A server, agent-li (data) and agent-wang (the honest one)."""

    def __init__(self, tmp, name, extra=(), users=()):
        self.folder = os.path.join(tmp, name)
        os.makedirs(self.folder)
        self.server = Server(self.folder)
        keys = {u: self.server.add_user(u, "agent", ["shangba"])
                for u in ["agent-li", "agent-wang"] + list(users)}
        self.server.start(extra=["--insecure-plaintext"] + list(extra))
        self.li, self.wang = Agent(self.folder, "agent-li"), Agent(self.folder, "agent-wang")
        self.li.init(self.server, keys["agent-li"])
        self.wang.init(self.server, keys["agent-wang"])
        self.farmer = self.li.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        self.li.sync()
        self.raw = {u: Identity(u, enrolment=keys[u]) for u in users}
        self.idle, _ = syncs(self.wang)

    def login_li(self, new_site=True, rcvbuf=0):
        s = RawSession(self.server.port, rcvbuf=rcvbuf)
        w = s.login(Identity("agent-li", agent_db=self.li.db, new_site=new_site))
        return s if w.get("_type") == WELCOME else None

    def finish(self, name, busy, failed, note=""):
        peak = peak_rss_kib(self.server.proc.pid)
        self.server.stop()
        print("%-9s honest sync idle %.3f s, under the flood %.3f s (%.1fx)%s; server peak RSS "
              "%.0f MiB%s" % (name, self.idle, busy, busy / self.idle,
                             " FAILED %d: %s" % (len(failed), failed[0][2]) if failed else "",
                             peak / 1024, note))
        sys.stdout.flush()


def while_flooding(flood, rig):
    """Runs flood(stop) in a thread while the honest agent syncs 3 times."""
    stop = threading.Event()
    t = threading.Thread(target=flood, args=(stop,), daemon=True)
    t.start()
    time.sleep(2)
    busy, failed = syncs(rig.wang)
    stop.set()
    t.join(30)
    return busy, failed


def unread(tmp, args):
    rig = Rig(tmp, "unread")
    con = sqlite3.connect(rig.li.db)
    with con:
        con.execute("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 2000)"
                    " INSERT INTO collections (id, agent_id, farmer_id, village, product, grade,"
                    " weight_g, unit_price_fen, amount_fen, collected_at, note) SELECT"
                    " printf('U%08d', i), 'agent-li', ?, 'shangba', 'potato', 'A', 1000, 180,"
                    " 180, 1700000000000 + i, hex(randomblob(200)) FROM k", (rig.farmer,))
    con.close()
    rig.li.sync()
    rig.idle, _ = syncs(rig.wang)
    s = rig.login_li(rcvbuf=4096)
    sent = [0]

    def flood(stop):
        s.sock.settimeout(0.2)
        burst = pull_frame(0, 512 * 1024) * 100
        t0 = time.monotonic()
        while not stop.is_set() or time.monotonic() - t0 < args.seconds:
            try:
                s.sock.send(burst)
                sent[0] += 100
            except (socket.timeout, BlockingIOError):
                pass
            except OSError:
                return
    busy, failed = while_flooding(flood, rig)
    rig.finish("unread", busy, failed, ", %d PULLs sent, none read" % sent[0])
    s.close()


def partial(tmp, args, keys):
    users = ["agent-x%03d" % i for i in range(args.sessions // 2)] if keys > 1 else []
    rig = Rig(tmp, "partial%d" % keys, users=users)
    body = 1024 * 1024 - 6
    head = struct.pack(">IBB", body + 2, PUSH, 0)
    socks = []
    t0 = time.monotonic()
    for i in range(args.sessions):
        if users:
            s = RawSession(rig.server.port)
            ok = s.login(rig.raw[users[i // 2]]).get("_type") == WELCOME
        else:
            s = rig.login_li(new_site=False)
            ok = s is not None
        if not ok:
            continue
        try:
            s.send(head + b"\0" * (body - 1))
        except OSError:
            pass
        socks.append(s)
    took = time.monotonic() - t0
    time.sleep(1)
    busy, failed = syncs(rig.wang)
    rig.finish("partial%s" % ("N" if keys > 1 else "1"), busy, failed,
               ", %d sessions of %s sent 1 MiB-1 byte frames in %.1f s"
               % (len(socks), "%d keys" % len(users) if users else "one key", took))
    for s in socks:
        s.close()


def prelogin(tmp, args):
    rig = Rig(tmp, "prelogin", extra=["--max-sessions", "1000"])
    socks = []
    for _ in range(1000):
        try:
            socks.append(socket.create_connection(("127.0.0.1", rig.server.port)))
        except OSError:
            break
    time.sleep(1)
    busy, failed = syncs(rig.wang)
    rig.finish("prelogin", busy, failed, ", %d idle sockets, max_sessions 1000" % len(socks))
    for s in socks:
        s.close()


def big_push(site, n=100000):
    """A deflated PUSH of n one-cell changes of farmers stamped with another
    site than the sender's (every one refused)."""
    hlc = (int(time.time() * 1000) << 16)
    rows = [[0, "FP%07d" % i, hlc if i == 0 else 1, 2 if i else 0, [4, "x"]] +
            ([site] if i == 0 else []) for i in range(n)]
    payload = mp({"u": 1, "d": ["farmers", "name"], "r": rows})
    return frame(PUSH, zlib.compress(payload), DEFLATED)


def perpush(tmp, args):
    rig = Rig(tmp, "perpush")
    push = big_push(0x1234567)
    pushes, answers = [0], []

    def flood(stop):
        t0 = time.monotonic()
        while not stop.is_set() or time.monotonic() - t0 < args.seconds:
            s = rig.login_li(new_site=False)
            if s is None:
                time.sleep(0.2)
                continue
            s.sock.settimeout(60)
            try:
                t = time.monotonic()
                s.send(push)
                pushes[0] += 1
                got = s.recv_frame()
                answers.append((time.monotonic() - t, got and got[0]))
            except OSError:
                pass
            s.close()
    busy, failed = while_flooding(flood, rig)
    counted = rig.server.rows("SELECT COALESCE(SUM(n), 0) AS n FROM lm_refusal_counts")[0]["n"]
    kinds = {6: "PUSH_ACK", 9: "ERROR"}
    rig.finish("perpush", busy, failed, ", %d PUSHes of 100,000 changes (%d bytes each), "
               "answered %s, %d refusals counted"
               % (pushes[0], len(push), ", ".join("%s in %.2f s" % (kinds.get(k, k), t)
                                                  for t, k in answers[:3]), counted))


def refusal(tmp, args):
    rig = Rig(tmp, "refusal")
    con = sqlite3.connect(rig.li.db)
    with con:
        con.execute("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k"
                    " WHERE i < ?) INSERT INTO collections (id, agent_id, farmer_id, village,"
                    " product, grade, weight_g, unit_price_fen, amount_fen, collected_at)"
                    " SELECT printf('FLOOD%08d', i), 'agent-li', ?, 'baishi', 'potato', 'A',"
                    " 1000, 180, 180, 1700000000000 FROM k", (args.rows, rig.farmer))
    con.close()
    n = [0]

    def flood(stop):
        t0 = time.monotonic()
        while not stop.is_set() or time.monotonic() - t0 < args.seconds:
            rig.li.sync(ok=False)
            n[0] += 1
            if n[0] >= args.refusal_sessions:
                return
    busy, failed = while_flooding(flood, rig)
    rig.finish("refusal", busy, failed, ", %d flood syncs of %d foreign rows" % (n[0], args.rows))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("floods", nargs="*",
                    default=["unread", "partial1", "partialN", "prelogin", "perpush", "refusal"])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--sessions", type=int, default=300)
    ap.add_argument("--rows", type=int, default=100000)
    ap.add_argument("--refusal-sessions", type=int, default=10)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with tempdir() as tmp:
        for f in args.floods:
            {"unread": lambda: unread(tmp, args),
             "partial1": lambda: partial(tmp, args, 1),
             "partialN": lambda: partial(tmp, args, 2),
             "prelogin": lambda: prelogin(tmp, args),
             "perpush": lambda: perpush(tmp, args),
             "refusal": lambda: refusal(tmp, args)}[f]()


if __name__ == "__main__":
    main()
