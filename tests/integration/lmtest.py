"""Helpers the integration tests share: run the real `lastmile-server` and
`lastmile` binaries on loopback with ephemeral ports, in a private temporary
folder, and kill only the processes these helpers started.

The binaries come from the environment (set by tests/integration.cmake):
LASTMILE_BIN and LASTMILE_SERVER_BIN.
"""
import json
import os
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from decimal import Decimal, ROUND_HALF_UP

CLI = os.environ.get("LASTMILE_BIN", "lastmile")
SERVER = os.environ.get("LASTMILE_SERVER_BIN", "lastmile-server")
TIMEOUT = 90  # seconds for any one command (ASan builds are slow)

_children = []
failures = []


def check(cond, what):
    """Records a failed expectation and keeps going, like the C harness."""
    if not cond:
        failures.append(what)
        print("CHECK failed: " + what, file=sys.stderr)
    return cond


def done(name):
    """Stops what we started, prints the summary, exits non-zero on failure."""
    for p in list(_children):
        stop_process(p, signal.SIGKILL)
    print("%s: %d failed" % (name, len(failures)))
    sys.exit(1 if failures else 0)


def stop_process(p, sig=signal.SIGTERM, timeout=30):
    """Signals one child we started (by PID) and reaps it; returns its code."""
    if p.poll() is None:
        try:
            p.send_signal(sig)
        except ProcessLookupError:
            pass
    try:
        code = p.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        code = p.wait(timeout=10)
    if p in _children:
        _children.remove(p)
    return code


def run(args, ok=True, env=None, timeout=TIMEOUT, stdin=None):
    """Runs a command; returns (code, stdout, stderr). With ok=True a non-zero
    exit is a failed check (its stderr is printed)."""
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env,
                       input=stdin)
    if ok and r.returncode != 0:
        check(False, "%s exited %d: %s" % (" ".join(args[:3]), r.returncode, r.stderr.strip()))
    # A refused command must fail cleanly: a sanitizer report (leak on an
    # error path, say) would otherwise pass as "non-zero exit".
    check("Sanitizer" not in r.stderr and r.returncode >= 0 and r.returncode < 128,
          "%s ended cleanly (exit %d): %s" % (" ".join(args[:3]), r.returncode,
                                               r.stderr.strip()[-2000:]))
    return r.returncode, r.stdout, r.stderr


class Server:
    """A lastmile-server on 127.0.0.1 with its own database."""

    def __init__(self, folder):
        self.folder = folder
        self.db = os.path.join(folder, "server.db")
        self.log_path = os.path.join(folder, "server.log")
        self.proc = None
        self.port = 0
        self.insecure = False  # started with --insecure-plaintext
        run([SERVER, "init", "--db", self.db])

    def add_user(self, uid, role, villages=None, county=None):
        """Provisions a user; returns its one-time enrolment string (lm1-...),
        what Agent.init takes."""
        args = [SERVER, "user", "add", "--db", self.db, "--id", uid, "--role", role]
        if villages:
            args += ["--villages", ",".join(villages)]
        if county:
            args += ["--county", county]
        code, out, _ = run(args)
        lines = out.strip().splitlines()
        return lines[-1].strip() if code == 0 and lines else ""

    def start(self, port=0, extra=()):
        """Starts serving (port 0: a free one; extra: more serve flags) and
        waits for 'listening on'."""
        log = open(self.log_path, "a")
        self.insecure = "--insecure-plaintext" in extra
        self.proc = subprocess.Popen(
            [SERVER, "serve", "--db", self.db, "--listen", "127.0.0.1:%d" % port] + list(extra),
            stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        _children.append(self.proc)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            check(False, "server did not say 'listening on': %r" % line)
            raise SystemExit(done("server"))
        self.port = int(line.rsplit(":", 1)[1])
        return self.port

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def stop(self, sig=signal.SIGTERM):
        code = stop_process(self.proc, sig)
        self.proc.stdout.close()
        self.proc = None
        return code

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def rows(self, sql, params=()):
        """Reads the server's database directly (WAL: fine while it runs)."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    def report(self, by):
        code, out, _ = run([SERVER, "report", "volumes", "--db", self.db, "--by", by,
                            "--format", "json"])
        return json.loads(out) if code == 0 else []

    def log(self):
        with open(self.log_path) as f:
            return f.read()


class Agent:
    """One `lastmile` replica."""

    def __init__(self, folder, uid):
        self.uid = uid
        self.db = os.path.join(folder, uid + ".db")

    def cli(self, *args, ok=True):
        return run([CLI] + list(args) + ["--db", self.db], ok=ok)

    def init(self, server, key, ok=True):
        """Enrols this replica with the enrolment string `key` (what
        Server.add_user returned) and does the first sync; plaintext only
        when the server was started with --insecure-plaintext."""
        extra = ["--insecure-plaintext"] if server.insecure else []
        return self.cli("init", "--server", server.address, "--user", self.uid, "--enrol", key,
                        *extra, ok=ok)

    def new_id(self, *args):
        code, out, _ = self.cli(*args)
        return out.strip().splitlines()[-1] if code == 0 else None

    def sync(self, ok=True):
        code, out, err = self.cli("sync", "--json", ok=ok)
        summary = json.loads(out) if code == 0 and out.strip() else None
        return code, summary, err

    def list(self, what):
        code, out, _ = self.cli("list", what, "--json")
        return json.loads(out) if code == 0 else []

    def status(self):
        code, out, _ = self.cli("status", "--json")
        return json.loads(out) if code == 0 else {}


def agent_li_with_farmer(folder, extra=()):
    """A started server (extra: more serve flags) and agent-li (village
    shangba), initialised, with one farmer registered and synced:
    (server, agent, farmer id)."""
    server = Server(folder)
    key = server.add_user("agent-li", "agent", ["shangba"])
    server.start(extra=extra)
    agent = Agent(folder, "agent-li")
    agent.init(server, key)
    farmer = agent.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
    check(agent.sync()[0] == 0, "first sync")
    return server, agent, farmer


def use_server(agent, address):
    """Points the replica at another HOST:PORT (what `lastmile init` stored),
    such as a relay in front of the server."""
    run(["/usr/bin/sqlite3", agent.db,
         "UPDATE lm_meta SET value = '%s' WHERE key = 'server'" % address])


def loopback_listener(backlog=4):
    """A listening socket on 127.0.0.1 with a kernel-chosen port, for the
    relays the tests put between an agent and the server: (socket, port)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    return sock, sock.getsockname()[1]


def relay_frames(src, dst, on_frame):
    """Reads whole protocol frames (u32 big-endian length of type + flags +
    payload, then type, flags, payload) from socket src and hands each to
    on_frame(type, frame, dst), which forwards it or not; stops at EOF, on
    a socket error or when on_frame returns False."""
    buf = b""
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            return
        if not data:
            return
        buf += data
        while len(buf) >= 6:
            length = struct.unpack(">I", buf[:4])[0]
            if len(buf) < 4 + length:
                break
            frame, buf = buf[:4 + length], buf[4 + length:]
            if not on_frame(frame[4], frame, dst):
                return


def bulk_insert(agent, farmer, n, tag):
    """n collections in one plain-SQL transaction (the sqlite3 shell), so
    the test spends its time syncing, not starting processes."""
    sql = ("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
           "INSERT INTO collections (id, agent_id, farmer_id, village, product, grade, "
           "weight_g, unit_price_fen, amount_fen, collected_at, note) "
           "SELECT printf('%s%%020d', i), '%s', '%s', 'shangba', "
           "  (ARRAY) , 'B', 1000 + i, 250, (1000 + i) * 250 / 1000 + "
           "  (((1000 + i) * 250) %% 1000 >= 500), 1700000000000 + i, 'bulk' FROM k;"
           % (n, tag, agent.uid, farmer))
    sql = sql.replace("(ARRAY)", "CASE i % 3 WHEN 0 THEN 'potato' WHEN 1 THEN 'corn' "
                                 "ELSE 'apple' END")
    run(["/usr/bin/sqlite3", agent.db, sql])


def agents_with_backlog(folder, n, rows, tag, extra=()):
    """A started server (extra: serve flags) and n agents agent-0 ...
    (village shangba), each initialised, with one farmer and rows
    collections queued, ids tag + uid + '-...': (server, [Agent])."""
    server = Server(folder)
    agents = [Agent(folder, "agent-%d" % i) for i in range(n)]
    keys = [server.add_user(a.uid, "agent", ["shangba"]) for a in agents]
    server.start(extra=extra)
    for a, key in zip(agents, keys):
        a.init(server, key)
        farmer = a.new_id("farmer", "add", "--name", "Li " + a.uid, "--village", "shangba")
        bulk_insert(a, farmer, rows, tag + a.uid + "-")
    return server, agents


def start_syncs(agents):
    """`lastmile sync` on every agent at once: the processes."""
    procs = [subprocess.Popen([CLI, "sync", "--db", a.db], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for a in agents]
    _children.extend(procs)
    return procs


def check_synced(server, agents, procs, rows, tag, name):
    """Each sync exited 0, the server holds each agent's rows collections
    (agents_with_backlog's ids) exactly once, and nothing is left queued."""
    for a, p in zip(agents, procs):
        _, err = p.communicate(timeout=180)
        _children.remove(p)
        check(p.returncode == 0, "%s: %s sync exits 0 (%s)" % (name, a.uid, err.strip()))
    for a in agents:
        n = server.rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM collections "
                        "WHERE id LIKE ?", (tag + a.uid + "-%",))[0]
        check(n["n"] == rows and n["d"] == rows,
              "%s: server holds each of %s's %d records once: %r" % (name, a.uid, rows, n))
        check(a.status().get("pending_changes") == 0, "%s: %s has nothing queued" % (name, a.uid))


def grams(kg):
    """What the agent typed, in grams, computed independently of the C code."""
    return int(Decimal(kg) * 1000)


def fen(yuan):
    return int(Decimal(yuan) * 100)


def amount(weight_g, price_fen):
    """Round half up, away from zero (docs/schema.md)."""
    q = (Decimal(abs(weight_g)) * price_fen / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return int(q) if weight_g >= 0 else -int(q)


class _Kept:
    """LM_KEEP=1 keeps the test folder for a post-mortem."""

    def __init__(self):
        self.name = tempfile.mkdtemp(prefix="lm-it-")

    def __enter__(self):
        print("test folder kept: " + self.name, file=sys.stderr)
        return self.name

    def __exit__(self, *exc):
        return False


def tempdir():
    if os.environ.get("LM_KEEP"):
        return _Kept()
    return tempfile.TemporaryDirectory(prefix="lm-it-")
