"""integration_powercut: power cuts, not kills. A SIGKILL loses nothing the
kernel holds; a power cut loses every write not yet fsync'ed. The server
and the field tool here are the power-cut builds (tests/powercut/
powercut_vfs.c): each fsync of a database file copies it to
"<file>.durable". A cut kills the process and puts those copies back.

Rounds of offline work and syncs of agent-li (pushing) and the county's
dispatcher (pulling), each sync cut at a random moment on the server, the
agent, both, or the dispatcher; sometimes the agent's phone dies right
after `lastmile collect` printed an id. Afterwards: every record the agent
was told is recorded is on the agent, on the server exactly once and on
the dispatcher, with the same cells (received_at included), nothing left
queued, the volume report equal to the ledger, every database intact.

What must hold for this to pass: the server acknowledges a batch only
after a durable commit; `lastmile` commits a record durably before it
prints its id; what a sync session writes on the agent without an fsync
(acks, stamps, pulled changes) can all be fetched again.
"""
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time

from lmtest import (CLI, Agent, Server, bulk_insert, check, done, stop_process, tempdir,
                    _children)

ROUNDS = 14
DB_FILES = ("", "-wal", "-journal")


def durable_now(db):
    """Marks the files as they are durable: after the sqlite3 shell, which
    fsyncs its commits (synchronous FULL) but is not a power-cut build."""
    for suffix in DB_FILES:
        f = db + suffix
        if os.path.exists(f):
            shutil.copyfile(f, f + ".durable")
        elif os.path.exists(f + ".durable"):
            os.remove(f + ".durable")


def power_cut(db):
    """The disk after a power cut, the process already dead: every file as
    its last fsync left it; one never synced is gone, and so is the
    shared-memory index."""
    for suffix in DB_FILES:
        f = db + suffix
        if os.path.exists(f + ".durable"):
            shutil.copyfile(f + ".durable", f)
        elif os.path.exists(f):
            os.remove(f)
    if os.path.exists(db + "-shm"):
        os.remove(db + "-shm")


def start_sync(agent):
    p = subprocess.Popen([CLI, "sync", "--json", "--db", agent.db], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    _children.append(p)
    return p


def finish(p, who, killed):
    """Reaps a sync; one not cut must end cleanly (0, or 1 when the server
    went away under it) and never with a sanitizer report."""
    _, err = p.communicate(timeout=120)
    if p in _children:
        _children.remove(p)
    if not killed:
        check(p.returncode in (0, 1), "%s's sync exited %d: %s" % (who, p.returncode, err))
        check("Sanitizer" not in err, "%s's sync ended cleanly: %s" % (who, err[-2000:]))
    return p.returncode


def integrity(db):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def cells(rows):
    return {r["id"]: (r["weight_g"], r["unit_price_fen"], r["amount_fen"], r["received_at"],
                      r["farmer_id"], r["product"], r["grade"]) for r in rows}


def main():
    seed = int(os.environ.get("LM_POWERCUT_SEED", str(int(time.time()))))
    print("seed %d (LM_POWERCUT_SEED=%d reproduces the cut plan)" % (seed, seed))
    rng = random.Random(seed)
    with tempdir() as tmp:
        server = Server(tmp)
        akey = server.add_user("agent-li", "agent", ["shangba"])
        dkey = server.add_user("disp-pingshan", "dispatcher", None, "pingshan")
        # small checkpoints: cuts also land while the WAL is copied back
        serve_flags = ["--checkpoint-pages", "100"]
        server.start(extra=serve_flags)
        a, d = Agent(tmp, "agent-li"), Agent(tmp, "disp-pingshan")
        a.init(server, akey)
        d.init(server, dkey)
        farmer = a.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
        ledger = {}  # id -> (weight_g, amount_fen)

        # The cut moment is drawn from the time a sync of this round's size
        # takes, learnt in round 0 per pushed record; a cut that found the
        # sync already over shrinks the next draws, so slow and fast
        # machines alike cut most syncs while they run.
        per_row, scale, mid_sync, phone_cuts, victims = 0.0, 1.2, 0, 0, {}
        for r in range(ROUNDS):
            ids = []
            for k in range(2):
                cid = a.new_id("collect", "--farmer", farmer, "--product", "potato", "--grade",
                               "A", "--kg", "%d.%03d" % (10 + r, k + 1), "--price", "2.35")
                check(cid is not None, "round %d: collect %d recorded" % (r, k))
                if cid:
                    g = (10 + r) * 1000 + k + 1
                    ids.append(cid)
                    ledger[cid] = (g, (g * 235 + 500) // 1000)
            if rng.random() < 0.3:  # the phone dies right after the purchases
                power_cut(a.db)
                phone_cuts += 1
                have = {c["id"] for c in a.list("collections")}
                check(set(ids) <= have, "round %d: a power cut after collect printed its id"
                      " keeps the record" % r)
            n = rng.randint(100, 500)
            tag = "R%02d-" % r
            bulk_insert(a, farmer, n, tag)
            durable_now(a.db)
            for i in range(1, n + 1):
                ledger["%s%020d" % (tag, i)] = (1000 + i, ((1000 + i) * 250 + 500) // 1000)

            t0 = time.time()
            sa, sd = start_sync(a), start_sync(d)
            if r == 0:  # an uncut round first, to learn how long a sync takes
                finish(sa, "agent", False)
                finish(sd, "dispatcher", False)
                per_row = max(0.2, time.time() - t0) / n
                continue
            victim = rng.choice(["server", "agent", "both", "dispatcher"])
            victims[victim] = victims.get(victim, 0) + 1
            time.sleep(rng.uniform(0.0, scale * per_row * n))
            cut_a = victim in ("agent", "both")
            cut_d = victim == "dispatcher"
            watched = sd if cut_d else sa
            if watched.poll() is None:
                mid_sync += 1
                scale = min(1.2, scale * 1.1)
            else:
                scale *= 0.6
            if victim in ("server", "both"):
                server.stop(signal.SIGKILL)
                power_cut(server.db)
            if cut_a:
                stop_process(sa, signal.SIGKILL)
                power_cut(a.db)
            if cut_d:
                stop_process(sd, signal.SIGKILL)
                power_cut(d.db)
            finish(sa, "agent", cut_a)
            finish(sd, "dispatcher", cut_d)
            if not server.alive():
                server.start(server.port, extra=serve_flags)
            have = {c["id"] for c in a.list("collections")}
            check(set(ledger) <= have, "round %d: the agent still holds every record" % r)

        print("cuts: %r; %d landed while the sync ran; %d right after collect"
              % (victims, mid_sync, phone_cuts))
        check(mid_sync >= (ROUNDS - 1) // 3,
              "at least a third of the cuts landed mid-sync (%d)" % mid_sync)

        for attempt in range(5):
            code = a.sync(ok=False)[0]
            if code == 0 and a.status().get("pending_changes") == 0:
                break
        check(code == 0, "the agent syncs after the last cut")
        check(a.status().get("pending_changes") == 0, "nothing left queued on the agent")
        check(d.sync()[0] == 0, "the dispatcher syncs after the last cut")

        srv = server.rows("SELECT * FROM collections WHERE agent_id = 'agent-li'")
        check(len(srv) == len(ledger) and {c["id"] for c in srv} == set(ledger),
              "the server holds each of the %d recorded purchases once (%d rows)"
              % (len(ledger), len(srv)))
        want = cells(srv)
        check(all(v[3] is not None for v in want.values()), "the server stamped every purchase")
        check(cells(a.list("collections")) == want, "the agent's cells equal the server's")
        check(cells(d.list("collections")) == want, "the dispatcher's cells equal the server's")
        rep = {x["agent"]: x for x in server.report("agent")}.get("agent-li", {})
        check(rep.get("count") == len(ledger) and
              rep.get("weight_g") == sum(w for w, _ in ledger.values()) and
              rep.get("amount_fen") == sum(f for _, f in ledger.values()),
              "the volume report equals the ledger: %r" % rep)
        check(server.stop() == 0, "server exits 0")
        for who, db in (("server", server.db), ("agent", a.db), ("dispatcher", d.db)):
            check(integrity(db) == "ok", "%s's database passes integrity_check" % who)
        check("corrupt" not in server.log().lower(), "the server never saw a corrupt file")
    done("integration_powercut")


if __name__ == "__main__":
    main()
