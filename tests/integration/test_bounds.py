"""integration_bounds (cases 3, 2, 5, 6) and integration_floods (cases 4,
1; test_floods.py): the server's resource bounds under the floods of
issue 19, each against the real binaries (a plaintext server so a raw
client, rawsession.py, can log in with a real agent's key and misbehave):

1. unread replies: a client sends PULLs and never reads the answers; the
   server stops reading it past max_unsent_kib, so its RSS stays bounded
   (old main grew by hundreds of MiB), and an honest agent syncs meanwhile;
2. pre-login sockets: with max_sessions 4 and max_prelogin 8, 40 sockets
   that never log in do not keep an honest agent out (old main: LM_EBUSY);
3. sessions per user: a user's 3rd login ends its oldest session
   (ERROR LM_EBUSY), the other two stay;
4. partial frames: sessions of several users each hold a 1 MiB frame one
   byte short; past max_partial_mib the oldest are ended (LM_EBUSY), the
   server's RSS stays bounded, an honest PUSH still goes through;
5. changes per PUSH: an agent's PUSH over max_changes_per_push gets a clear
   ERROR LM_ETOOBIG naming the limit, nothing of it is applied;
6. refusal flood back-off: past max_refusals_per_session the session ends
   and the same user's next login is refused (LM_EBUSY, "logins wait")
   until refusal_backoff_ms has passed; an honest user is not affected.
"""
import os
import socket
import sqlite3
import struct
import time

from lmtest import Agent, Server, bulk_insert, check, done, tempdir
from rawsession import ERROR, PUSH, WELCOME, Identity, RawSession, error_of, pull_frame, \
    read_error, rss_kib

LM_EBUSY = -29


def honest_sync(agent, what):
    t = time.monotonic()
    code, summary, err = agent.sync(ok=False)
    check(code == 0, "%s: the honest agent syncs (%s)" % (what, err.strip()[-200:]))
    return time.monotonic() - t


def setup(tmp, name, users, extra, raw=()):
    """A plaintext server with extra flags, one initialised agent per user
    and one raw Identity (not enrolled yet) per raw user, all of village
    shangba: (server, {user: Agent or Identity})."""
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    server = Server(folder)
    keys = {u: server.add_user(u, "agent", ["shangba"]) for u in list(users) + list(raw)}
    # ASan keeps freed blocks in a quarantine (256 MiB by default), which
    # would count as the server's RSS here
    os.environ["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1"
    server.start(extra=["--insecure-plaintext"] + list(extra))
    agents = {u: Identity(u, enrolment=keys[u]) for u in raw}
    for u in users:
        agents[u] = Agent(folder, u)
        agents[u].init(server, keys[u])
    return server, agents


def unread_replies(tmp):
    server, ag = setup(tmp, "unread", ["agent-li"],
                       ["--max-unsent-kib", "64", "--log-level", "debug"])
    li = ag["agent-li"]
    farmer = li.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
    # notes of random hex, so CHANGES frames stay a few hundred KiB deflated
    con = sqlite3.connect(li.db)
    with con:
        con.execute("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 2000)"
                    " INSERT INTO collections (id, agent_id, farmer_id, village, product, grade,"
                    " weight_g, unit_price_fen, amount_fen, collected_at, note) SELECT"
                    " printf('U%08d', i), 'agent-li', ?, 'shangba', 'potato', 'A', 1000, 180,"
                    " 180, 1700000000000 + i, hex(randomblob(200)) FROM k", (farmer,))
    con.close()
    check(li.sync()[0] == 0, "unread: agent-li pushes its records")
    idle = honest_sync(li, "unread idle")
    base = rss_kib(server.proc.pid)
    # li's key on a second site: its PULLs bring li's records, CHANGES of
    # a few hundred KiB each; it never reads them
    s = RawSession(server.port, rcvbuf=4096)
    w = s.login(Identity("agent-li", agent_db=li.db, new_site=True))
    check(w.get("_type") == WELCOME, "unread: the raw client logs in (%r)" % w)
    pulls = pull_frame(0, 512 * 1024) * 100
    s.sock.settimeout(0.2)
    paused_at, t0, sent = None, time.monotonic(), 0
    # until the server stops reading it (on main before issue 19: never),
    # then 3 s more
    while time.monotonic() - t0 < 40 and (paused_at is None or time.monotonic() - paused_at < 3):
        try:
            s.sock.send(pulls)
            sent += 100
        except (socket.timeout, BlockingIOError):
            pass
        except OSError:
            break
        if paused_at is None and "replies unsent" in server.log():
            paused_at = time.monotonic()
    check(paused_at is not None, "unread: the server stopped reading the client (after %.1f s)"
          % ((paused_at or time.monotonic()) - t0))
    mid = rss_kib(server.proc.pid)
    busy = honest_sync(li, "unread flood")
    peak = max(mid, rss_kib(server.proc.pid))
    print("unread: %d PULLs sent; server RSS %d -> %d KiB; honest sync %.2f s idle, %.2f s under "
          "the flood" % (sent, base, peak, idle, busy))
    check(peak - base < 32 * 1024, "unread: the server grew by %d KiB (< 32 MiB)" % (peak - base))
    s.close()
    check(server.stop() == 0, "unread: server exits 0")
    paused = [ln for ln in server.log().splitlines() if "bounds:" in ln]
    check(paused and not paused[-1].split("bounds: ")[1].startswith("0 "),
          "unread: the bounds line counts the pause (%r)" % paused[-1:])


def prelogin(tmp):
    server, ag = setup(tmp, "prelogin", ["agent-li"],
                       ["--max-sessions", "4", "--max-prelogin", "8"])
    li = ag["agent-li"]
    idle = honest_sync(li, "prelogin idle")
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
    time.sleep(0.3)
    busy = [honest_sync(li, "prelogin flood") for _ in range(3)]
    print("prelogin: 40 idle sockets, max_prelogin 8, max_sessions 4: honest sync %.2f s idle, "
          "%s under them" % (idle, " ".join("%.2f" % b for b in busy)))
    closed = 0
    for s in socks:
        s.settimeout(0.01)
        try:
            if s.recv(1) == b"":
                closed += 1
        except socket.timeout:
            pass
        except OSError:
            closed += 1
        s.close()
    check(closed >= 32, "prelogin: the server closed the oldest idle sockets (%d of 40)" % closed)
    check(server.stop() == 0, "prelogin: server exits 0")


def per_user(tmp):
    server, ag = setup(tmp, "per_user", [], [], raw=["agent-li"])
    li = ag["agent-li"]
    sessions = []
    for i in range(3):
        s = RawSession(server.port)
        w = s.login(li)
        check(w.get("_type") == WELCOME, "per_user: login %d welcomed (%r)" % (i + 1, w))
        sessions.append(s)
    err = read_error(sessions[0])
    check(err is not None and err[0] == LM_EBUSY and "newer session" in (err[1] or ""),
          "per_user: the oldest session ends with LM_EBUSY (%r)" % (err,))
    for i in (1, 2):
        sessions[i].send(pull_frame(0, 4096))
        got = sessions[i].recv_frame()
        check(got is not None and got[0] != ERROR,
              "per_user: session %d still answers (%r)" % (i + 1, got and got[0]))
    for s in sessions:
        s.close()
    check(server.stop() == 0, "per_user: server exits 0")


def partial_frames(tmp):
    users = ["agent-%02d" % i for i in range(6)]
    server, ag = setup(tmp, "partial", ["agent-li"], ["--max-partial-mib", "4"], raw=users)
    li = ag["agent-li"]
    idle = honest_sync(li, "partial idle")
    base = rss_kib(server.proc.pid)
    body = 1024 * 1024 - 6  # a frame of max_frame bytes, one short
    head = struct.pack(">IBB", body + 2, PUSH, 0)
    sessions = []
    for u in users:
        for _ in range(2):
            s = RawSession(server.port)
            w = s.login(ag[u])
            check(w.get("_type") == WELCOME, "partial: %s logged in" % u)
            s.send(head + b"\x00" * (body - 1))
            sessions.append(s)
    time.sleep(1.0)
    peak = rss_kib(server.proc.pid)
    farmer = li.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
    busy = honest_sync(li, "partial flood")
    ended = 0
    for s in sessions:
        s.sock.settimeout(0.5)
        err = read_error(s) if s.sock else None
        if err is not None and err[0] == LM_EBUSY:
            ended += 1
        s.close()
    print("partial: %d sessions x 1 MiB-1 byte, max_partial_mib 4: %d ended; server RSS %d -> "
          "%d KiB; honest sync %.2f s idle, %.2f s under them" % (len(sessions), ended, base,
                                                                 peak, idle, busy))
    check(ended >= len(sessions) - 4, "partial: the oldest unfinished frames were ended (%d of "
                                      "%d)" % (ended, len(sessions)))
    check(peak - base < 8 * 1024, "partial: the server grew by %d KiB (< 8 MiB; 12 MiB held "
                                  "without the budget)" % (peak - base))
    check(server.rows("SELECT COUNT(*) AS n FROM farmers WHERE id = ?", (farmer,))[0]["n"] == 1,
          "partial: the honest agent's farmer reached the server")
    check(server.stop() == 0, "partial: server exits 0")
    check("ended, " in server.log(), "partial: the log says which frames it ended")


def changes_per_push(tmp):
    server, ag = setup(tmp, "per_push", ["agent-li"], ["--max-changes-per-push", "100"])
    li = ag["agent-li"]
    farmer = li.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
    bulk_insert(li, farmer, 50, "P")  # 50 rows of ~10 cells: several hundred changes
    before = server.rows("SELECT COUNT(*) AS n FROM collections")[0]["n"]
    code, _, err = li.sync(ok=False)
    print("per_push: %s" % err.strip().splitlines()[-1:])
    check(code != 0, "per_push: the sync fails")
    check("max_changes_per_push" in err and "100" in err,
          "per_push: the error names the limit (%r)" % err.strip()[-300:])
    check(server.rows("SELECT COUNT(*) AS n FROM collections")[0]["n"] == before,
          "per_push: nothing of the batch was applied")
    check(server.stop() == 0, "per_push: server exits 0")


def refusal_backoff(tmp):
    server, ag = setup(tmp, "backoff", ["agent-li", "agent-wang"],
                       ["--max-refusals-per-session", "20", "--refusal-backoff-ms", "3000"])
    li, wang = ag["agent-li"], ag["agent-wang"]
    farmer = wang.new_id("farmer", "add", "--name", "Wang", "--village", "shangba")
    check(wang.sync()[0] == 0, "backoff: wang syncs")
    check(li.sync()[0] == 0, "backoff: li pulls the farmer")
    con = sqlite3.connect(li.db)
    with con:
        con.execute("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 50)"
                    " INSERT INTO collections (id, agent_id, farmer_id, village, product, grade,"
                    " weight_g, unit_price_fen, amount_fen, collected_at) SELECT"
                    " printf('FLOOD%08d', i), 'agent-li', ?, 'baishi', 'potato', 'A', 1000, 180,"
                    " 180, 1700000000000 FROM k", (farmer,))
    con.close()
    code, _, err = li.sync(ok=False)
    check(code != 0 and "refused in this session" in err,
          "backoff: the flood's session ends on its refusals (%r)" % err.strip()[-200:])
    s = RawSession(server.port)
    w = s.login(Identity("agent-li", agent_db=li.db))
    e = error_of(w)
    check(e is not None and e[0] == LM_EBUSY and "logins wait" in (e[1] or ""),
          "backoff: li's next login is refused while it waits (%r)" % (e,))
    s.close()
    t = time.monotonic()
    check(honest_sync(wang, "backoff") < 5, "backoff: wang syncs meanwhile")
    time.sleep(max(0.0, 3.2 - (time.monotonic() - t)))
    s = RawSession(server.port)
    w = s.login(Identity("agent-li", agent_db=li.db))
    check(w.get("_type") == WELCOME, "backoff: after 3 s li logs in again (%r)" % w)
    s.close()
    check(server.stop() == 0, "backoff: server exits 0")
    check("logins wait 3000 ms" in server.log(), "backoff: the log names the wait")


def run_cases(name, cases):
    with tempdir() as tmp:
        for case in cases:
            t = time.monotonic()
            case(tmp)
            print("%s: %.1f s" % (case.__name__, time.monotonic() - t))
    done(name)


def main():
    run_cases("integration_bounds", (per_user, prelogin, changes_per_push, refusal_backoff))


if __name__ == "__main__":
    main()
