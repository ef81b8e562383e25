#!/usr/bin/env python3
"""An agent's day synced over an emulated 2G link (run by scripts/bench-link.sh).

Two network namespaces made here, joined only by netlab's linkemu.py (a TUN
device in each: one-way delay, rate, random loss, a drop-tail queue, a cut
toggled by SIGUSR1). A real `lastmile-server serve` listens in the server
namespace on the emulated link's address; each agent is provisioned with
`lastmile-server user add`, initialised with `lastmile init` from the client
namespace, registers its farmers and syncs them, then records its day
offline through the CLI (`lastmile collect` + `lastmile grade` per
purchase) and syncs it with `lastmile sync --json --retry R --timeout T`:

  clean   the link as configured, no cut
  cut1    one cut of CUT_S seconds that starts mid-sync
  cutN    CUTS cuts of CUTN_S seconds, CUTN_GAP s of link between them,
          over a backlog of DAYS_N days
  plain   (first rate only) one cut, `lastmile sync` without options: how
          long until it gives up, what it says; then a plain sync afterwards

(--scenarios, SCENARIOS in bench-link.sh, picks some of them.)

Floors, measured in the same run on the same link: the day's records as CSV
(collections + gradings, with header lines) through `gzip -9`, and the time
floor.py needs to upload that .gz over one TCP connection (median of
FLOOR_RUNS; also once with the same cut as cut1). After every scenario the server must hold exactly the
agent's records: `report volumes --by agent --format json` (count, weight,
money) against the replica's own rows, gradings counted on both sides, the
ids of both sides equal, nothing queued.

Prints the figures, writes results.json into the work folder and, with
--doc, the section "Over an emulated 2G link" of docs/benchmarks.md
(between its markers; appended when missing). Every process it starts is
recorded in PIDFILE (so the calling script's trap can end it) and ended by
PID; both namespaces are deleted on every exit path.
"""
import argparse
import ast
import hashlib
import json
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time

SRV_ADDR, CLI_ADDR = "10.79.0.1", "10.79.0.2"
PORT = 7443
HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN = "<!-- bench-link: begin (scripts/bench-link.sh rewrites this section) -->"
END = "<!-- bench-link: end -->"
VILLAGES = ["shangba", "xiaba", "liangshui", "baishi", "heping", "qingshan"]


def log(msg):
    print("== " + msg, file=sys.stderr, flush=True)


# An agent's day through the CLI; cli(*args) runs `lastmile ARGS` on the
# agent's replica and returns its stdout. bench/link/deflate_stream.py
# records the same day on loopback.
def add_farmers(cli, village, n, rng):
    """n farmers of village, about 30 % registered poor: their ids."""
    ids = []
    for i in range(n):
        args = ["farmer", "add", "--name", "农户 %s-%03d" % (village, i), "--village", village,
                "--phone", "1%010d" % rng.randrange(10 ** 10)]
        if rng.random() < 0.3:
            args += ["--poor", "--household", "HH-%06d" % rng.randrange(10 ** 6)]
        ids.append(cli(*args).strip().splitlines()[-1])
    return ids


def record_days(cli, db, farmer_ids, n, rng):
    """n purchases through the CLI, each graded: collect + grade."""
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    prices = con.execute("SELECT product, grade, price_fen FROM prices").fetchall()
    con.close()
    notes = ["部分有虫眼", "雨后采收", "已预付定金", "农户自送", "re-weighed"]
    defects = ["bruised", "small size", "insect damage", "mixed grades"]
    for _ in range(n):
        product, grade, fen = prices[rng.randrange(len(prices))]
        w = min(200000, max(500, int(round(math.exp(math.log(25000) + rng.gauss(0, 1))))))
        args = ["collect", "--farmer", farmer_ids[rng.randrange(len(farmer_ids))],
                "--product", product, "--grade", grade, "--kg", "%d.%03d" % divmod(w, 1000),
                "--price", "%d.%02d" % divmod(fen, 100)]
        if rng.random() < 0.1:
            args += ["--note", notes[rng.randrange(len(notes))]]
        cid = cli(*args).strip().splitlines()[-1]
        gargs = ["grade", "--collection", cid, "--grade", grade, "--moisture",
                 "%d.%d" % divmod(80 + rng.randrange(140), 10)]
        if rng.random() < 0.2:
            gargs += ["--defects", defects[rng.randrange(len(defects))]]
        cli(*gargs)


class Lab:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.ns_s = a.ns_prefix + "-srv"
        self.ns_c = a.ns_prefix + "-cli"
        self.procs = []
        self.emu = None
        self.emu_log = None
        self.server = None
        self.cut_on = False
        self.lock = threading.Lock()

    # ------------------------------------------------------------ processes
    def track(self, p):
        self.procs.append(p)
        with open(self.a.pidfile, "a") as f:
            f.write("%d\n" % p.pid)
        return p

    def end(self, p, sig=signal.SIGTERM):
        if p is None:
            return
        if p.poll() is None:
            try:
                p.send_signal(sig)
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
            except ProcessLookupError:
                pass
        if p in self.procs:
            self.procs.remove(p)

    def ns(self, which, args):
        return ["ip", "netns", "exec", which] + args

    def sh(self, args, check=True, **kw):
        r = subprocess.run(args, capture_output=True, text=True, **kw)
        if check and r.returncode != 0:
            raise RuntimeError("%s: exit %d: %s" % (" ".join(args[:6]), r.returncode,
                                                    (r.stderr or r.stdout).strip()[-800:]))
        return r

    # ------------------------------------------------------------ namespaces, link
    def make_namespaces(self):
        for n in (self.ns_s, self.ns_c):
            self.sh(["ip", "netns", "add", n])
            self.sh(["ip", "-n", n, "link", "set", "lo", "up"])

    def delete_namespaces(self):
        for n in (self.ns_s, self.ns_c):
            subprocess.run(["ip", "netns", "del", n], capture_output=True)

    def link_up(self, rate):
        a = self.a
        self.emu_log = open(os.path.join(self.work, "linkemu-%s.log" % rate), "a")
        self.emu = self.track(subprocess.Popen(
            [sys.executable, a.linkemu, self.ns_s, self.ns_c, "--dev", "lk0",
             "--delay-ms", str(a.delay_ms), "--rate-kbit", str(rate), "--loss", str(a.loss),
             "--queue-bytes", str(a.queue_bytes), "--seed", str(a.seed)],
            stdout=self.emu_log, stderr=subprocess.STDOUT))
        self.cut_on = False
        deadline = time.time() + 10
        while time.time() < deadline:
            if all(self.sh(["ip", "-n", n, "link", "show", "lk0"], check=False).returncode == 0
                   for n in (self.ns_s, self.ns_c)):
                break
            if self.emu.poll() is not None:
                raise RuntimeError("linkemu exited: see %s" % self.emu_log.name)
            time.sleep(0.1)
        else:
            raise RuntimeError("linkemu's TUN devices did not appear")
        self.sh(["ip", "-n", self.ns_s, "addr", "add", SRV_ADDR, "peer", CLI_ADDR, "dev", "lk0"])
        self.sh(["ip", "-n", self.ns_s, "link", "set", "lk0", "up"])
        self.sh(["ip", "-n", self.ns_c, "addr", "add", CLI_ADDR, "peer", SRV_ADDR, "dev", "lk0"])
        self.sh(["ip", "-n", self.ns_c, "link", "set", "lk0", "up"])

    def link_down(self):
        """Stops linkemu; returns its packet counters (it prints them on TERM)."""
        self.end(self.emu)
        self.emu = None
        self.emu_log.close()
        stats = {}
        with open(self.emu_log.name) as f:
            for line in f:
                if line.startswith("stats "):
                    stats = ast.literal_eval(line[6:].strip())
        return stats

    def set_cut(self, on):
        with self.lock:
            if self.emu and self.cut_on != on:
                os.kill(self.emu.pid, signal.SIGUSR1)
                self.cut_on = on

    # ------------------------------------------------------------ server
    def start_server(self, rate):
        a = self.a
        self.db = os.path.join(self.work, "server-%s.db" % rate)
        self.sh([a.srv, "init", "--db", self.db])
        self.server_log = os.path.join(self.work, "server-%s.log" % rate)
        err = open(self.server_log, "a")
        self.server = self.track(subprocess.Popen(
            self.ns(self.ns_s, [a.srv, "serve", "--db", self.db, "--listen",
                                "%s:%d" % (SRV_ADDR, PORT), "--log-level", "info"]),
            stdout=subprocess.PIPE, stderr=err, text=True))
        err.close()
        line = self.server.stdout.readline().strip()
        if not line.startswith("listening on "):
            raise RuntimeError("server did not start: %r (see %s)" % (line, self.server_log))

    def stop_server(self):
        self.end(self.server)
        if self.server and self.server.stdout:
            self.server.stdout.close()
        self.server = None

    # ------------------------------------------------------------ agent
    def cli(self, db, *args, netns=False, check=True, timeout=None):
        cmd = [self.a.cli] + list(args) + ["--db", db]
        return self.sh(self.ns(self.ns_c, cmd) if netns else cmd, check=check, timeout=timeout)

    def new_agent(self, uid, village):
        key = self.sh([self.a.srv, "user", "add", "--db", self.db, "--id", uid, "--role",
                       "agent", "--villages", village]).stdout.strip().splitlines()[-1]
        db = os.path.join(self.work, uid + ".db")
        t0 = time.monotonic()
        # lm1-...: an enrolment string (TLS, pinned); older builds print a key
        cred = ["--enrol", key] if key.startswith("lm1-") else ["--user", uid, "--key", key]
        self.cli(db, "init", "--server", "%s:%d" % (SRV_ADDR, PORT), *cred,
                 netns=True, timeout=300)
        init_s = time.monotonic() - t0
        return db, init_s

    def farmers(self, db, village, n, rng):
        return add_farmers(lambda *args: self.cli(db, *args).stdout, village, n, rng)

    def record_days(self, db, farmer_ids, n, rng):
        record_days(lambda *args: self.cli(db, *args).stdout, db, farmer_ids, n, rng)

    # ------------------------------------------------------------ floors
    def gzip_floor(self, db, name):
        """The replica's collections and gradings as CSV with header lines, then gzip -9."""
        csv_path = os.path.join(self.work, name + ".csv")
        with open(csv_path, "w") as f:
            for table in ("collections", "gradings"):
                r = self.sh(["sqlite3", "-readonly", "-csv", "-header", db,
                             "SELECT * FROM %s ORDER BY rowid" % table])
                f.write(r.stdout)
        gz = csv_path + ".gz"
        with open(gz, "wb") as out:
            subprocess.run(["gzip", "-9", "-c", csv_path], stdout=out, check=True)
        return os.path.getsize(csv_path), os.path.getsize(gz), gz

    def transfer_floor(self, path, port, cuts=()):
        """Seconds to upload path over one TCP connection; cuts: (start_s, length_s)."""
        recv = self.track(subprocess.Popen(
            self.ns(self.ns_s, [sys.executable, os.path.join(HERE, "floor.py"), "recv",
                                SRV_ADDR, str(port)]),
            stdout=subprocess.PIPE, text=True))
        recv.stdout.readline()
        cutter = Cutter(self, cuts, None)
        send = subprocess.Popen(
            self.ns(self.ns_c, [sys.executable, os.path.join(HERE, "floor.py"), "send",
                                SRV_ADDR, str(port), path]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.track(send)
        cutter.proc = send
        cutter.start()
        out, err = send.communicate(timeout=1200)
        cutter.join()
        got = recv.stdout.readline().strip()
        self.end(recv)
        self.end(send)
        if send.returncode != 0:
            raise RuntimeError("floor transfer failed: " + err.strip())
        res = json.loads(out)
        if got != str(res["bytes"]):
            raise RuntimeError("floor: receiver got %s of %d bytes" % (got, res["bytes"]))
        res["cuts_landed"] = cutter.landed
        return res

    # ------------------------------------------------------------ checks
    def verify(self, db, uid):
        """The server holds exactly the agent's records; returns the figures."""
        rep = json.loads(self.sh([self.a.srv, "report", "volumes", "--db", self.db, "--by",
                                  "agent", "--format", "json"]).stdout)
        row = next((r for r in rep if r.get("agent") == uid), {})
        mine = json.loads(self.cli(db, "list", "collections", "--json").stdout)
        grades = json.loads(self.cli(db, "list", "gradings", "--json").stdout)
        status = json.loads(self.cli(db, "status", "--json").stdout)
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=30)
        s_col = con.execute("SELECT count(*), count(DISTINCT id) FROM collections "
                            "WHERE agent_id = ?", (uid,)).fetchone()
        s_ids = [r[0] for r in con.execute("SELECT id FROM collections WHERE agent_id = ? "
                                           "ORDER BY id", (uid,))]
        s_gr = [r[0] for r in con.execute(
            "SELECT g.id FROM gradings g JOIN collections c ON c.id = g.collection_id "
            "WHERE c.agent_id = ? ORDER BY g.id", (uid,))]
        con.close()
        want = {"count": len(mine), "weight_g": sum(c["weight_g"] for c in mine),
                "amount_fen": sum(c["amount_fen"] for c in mine)}
        got = {k: row.get(k) for k in want}
        problems = []
        if got != want:
            problems.append("report volumes %r != replica %r" % (got, want))
        if s_col[0] != s_col[1] or s_col[0] != len(mine):
            problems.append("server collections %r, replica %d" % (s_col, len(mine)))
        if s_ids != sorted(c["id"] for c in mine):
            problems.append("collection ids differ")
        if s_gr != sorted(g["id"] for g in grades):
            problems.append("gradings differ: server %d, replica %d" % (len(s_gr), len(grades)))
        if status.get("pending_changes") != 0:
            problems.append("replica still has %r changes queued" % status.get("pending_changes"))
        digest = hashlib.sha256("\n".join(s_ids).encode()).hexdigest()[:12]
        return {"ok": not problems, "problems": problems, "report": got,
                "replica": want, "gradings": len(grades), "server_gradings": len(s_gr),
                "ids_sha": digest}


class Cutter(threading.Thread):
    """Cuts the link at (start_s, length_s) offsets, each start counted from
    the end of the previous cut, and only while proc still runs."""

    def __init__(self, lab, cuts, proc):
        super().__init__(daemon=True)
        self.lab, self.cuts, self.proc = lab, list(cuts), proc
        self.landed = 0
        self.t0 = None

    def run(self):
        t = time.monotonic()
        for start, length in self.cuts:
            while time.monotonic() < t + start:
                if self.proc.poll() is not None:
                    return
                time.sleep(0.05)
            if self.proc.poll() is not None:
                return
            self.lab.set_cut(True)
            self.landed += 1
            time.sleep(length)
            self.lab.set_cut(False)
            t = time.monotonic()


def timed_sync(lab, db, cuts=(), options=None):
    a = lab.a
    opts = options if options is not None else ["--retry", str(a.retry), "--timeout",
                                                str(a.timeout)]
    t0 = time.monotonic()
    p = lab.track(subprocess.Popen(
        lab.ns(lab.ns_c, [a.cli, "sync", "--json", "--db", db] + opts),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    cutter = Cutter(lab, cuts, p)
    cutter.start()
    out, err = p.communicate(timeout=3600)
    secs = time.monotonic() - t0
    cutter.join()
    lab.set_cut(False)
    lab.end(p)
    summary = json.loads(out) if p.returncode == 0 and out.strip() else None
    return {"exit": p.returncode, "seconds": round(secs, 2), "summary": summary,
            "stderr": [ln for ln in err.splitlines() if ln.strip()], "cuts_landed": cutter.landed}


def scenario(lab, rate, name, village, days, cuts, floor_cuts=None, plain=False):
    a = lab.a
    rng = random.Random("%s-%s-%s" % (a.seed, rate, name))
    uid = "ag-%s-%s" % (name, rate)
    log("%s kbit/s, %s: provision %s, init over the link" % (rate, name, uid))
    db, init_s = lab.new_agent(uid, village)
    farmer_ids = lab.farmers(db, village, a.farmers, rng)
    first = timed_sync(lab, db)
    if first["exit"] != 0:
        raise RuntimeError("%s: the farmers' sync failed: %s" % (uid, first["stderr"]))
    log("%s: record %d purchases + gradings through the CLI" % (uid, a.collections * days))
    lab.record_days(db, farmer_ids, a.collections * days, rng)
    csv_b, gz_b, gz_path = lab.gzip_floor(db, uid)
    # Loss makes single uploads noisy (a lost segment early costs a 1 s RTO):
    # the floor is the median of FLOOR_RUNS.
    port = 9100 + 10 * len(RESULTS)
    runs = sorted(lab.transfer_floor(gz_path, port + i)["seconds"] for i in range(FLOOR_RUNS))
    floor = {"seconds": runs[len(runs) // 2], "runs": runs}
    res = {"rate": rate, "scenario": name, "user": uid, "collections": a.collections * days,
           "init_s": round(init_s, 2), "farmers_sync_s": first["seconds"], "csv_bytes": csv_b,
           "gzip_bytes": gz_b, "floor_s": floor["seconds"], "floor_runs": runs,
           "cuts": [list(c) for c in cuts]}
    if floor_cuts:
        # The same cut, 1 s into the upload so that it lands mid-transfer.
        floor_cuts = [(1.0, c[1]) for c in floor_cuts]
        fc = lab.transfer_floor(gz_path, port + FLOOR_RUNS, floor_cuts)
        res["floor_cut_s"] = fc["seconds"]
        res["floor_cuts_landed"] = fc["cuts_landed"]
    log("%s: sync (%s)" % (uid, "cuts %r" % (cuts,) if cuts else "clean"))
    if plain:
        s = timed_sync(lab, db, cuts, options=[])
        res["plain_fail"] = s
        s2 = timed_sync(lab, db, (), options=[])
        res["plain_after"] = s2
        s = {"exit": s2["exit"], "seconds": round(s["seconds"] + s2["seconds"], 2),
             "summary": s2["summary"], "stderr": s["stderr"] + s2["stderr"],
             "cuts_landed": s["cuts_landed"]}
    else:
        s = timed_sync(lab, db, cuts)
    res["sync"] = s
    res["verify"] = lab.verify(db, uid)
    RESULTS.append(res)
    sm = s["summary"] or {}
    log("%s: exit %d in %.1f s, %s attempts, %s B sent, %s B received; floor %.1f s, gzip %d B; "
        "verify %s" % (uid, s["exit"], s["seconds"], sm.get("attempts"), sm.get("pushed_bytes"),
                       sm.get("pulled_bytes"), floor["seconds"], gz_b,
                       "ok" if res["verify"]["ok"] else res["verify"]["problems"]))
    return res


def handshake(lab, rate, village):
    """A sync with nothing to move, three times: on a fresh TLS connection
    (no saved ticket), resumed from the ticket, and once more resumed: what
    connecting costs on the link, in bytes and seconds."""
    uid = "ag-hs-%s" % rate
    db, init_s = lab.new_agent(uid, village)
    out = {"rate": rate, "init_s": round(init_s, 2)}
    for name in ("fresh", "resumed", "resumed2"):
        if name == "fresh":
            lab.sh(["sqlite3", db, "DELETE FROM lm_meta WHERE key = 'tls_session'"])
        s = timed_sync(lab, db, options=[])
        sm = s["summary"] or {}
        out[name] = {"seconds": s["seconds"], "sent": sm.get("pushed_bytes"),
                     "received": sm.get("pulled_bytes"), "exit": s["exit"]}
    log("HANDSHAKE %r" % (out,))
    HANDSHAKES.append(out)
    return out


RESULTS = []
HANDSHAKES = []
FLOOR_RUNS = 3


def fmt_n(n):
    return format(int(n), ",")


def table(results):
    rows = ["| link | scenario | records | sync s | attempts | cuts | sent B | received B | "
            "gzip -9 CSV B | sent / gzip | (sent + received) / gzip | transfer floor s | "
            "sync / floor | server = replica |",
            "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        if r["scenario"] == "plain":
            continue  # said in the notes: it is a failure by design
        s = r["sync"]
        sm = s["summary"] or {}
        sent, recv = sm.get("pushed_bytes"), sm.get("pulled_bytes")
        cuts = ", ".join("%g s" % c[1] for c in r["cuts"][:s["cuts_landed"]]) or "—"
        v = r["verify"]
        ok = ("yes: %d collections, %s g, %s fen, %d gradings" % (
            v["report"]["count"], fmt_n(v["report"]["weight_g"]),
            fmt_n(v["report"]["amount_fen"]), v["server_gradings"])) if v["ok"] else (
            "**NO**: " + "; ".join(v["problems"]))
        rows.append("| %s kbit/s | %s | %s | %.1f | %s | %s | %s | %s | %s | %s | %s | %.1f | %s | %s |"
                    % (r["rate"], r["scenario"], fmt_n(r["collections"]), s["seconds"],
                       sm.get("attempts", "—"), cuts,
                       fmt_n(sent) if sent is not None else "—",
                       fmt_n(recv) if recv is not None else "—", fmt_n(r["gzip_bytes"]),
                       "%.2f×" % (sent / r["gzip_bytes"]) if sent else "—",
                       "%.2f×" % ((sent + recv) / r["gzip_bytes"]) if sent else "—",
                       r["floor_s"], "%.1f×" % (s["seconds"] / r["floor_s"]), ok))
    return "\n".join(rows)


def notes(results, a):
    out = []
    for r in results:
        if "floor_cut_s" in r:
            landed = "" if r.get("floor_cuts_landed") else " (the upload ended before the cut)"
            out.append("- %s kbit/s, %s: the floor upload (plain TCP, no timeout of its own) "
                       "with a %s cut 1 s into it took %.1f s%s, %.1f s without it; `lastmile "
                       "sync --retry %d --timeout %d` with the cut took %.1f s."
                       % (r["rate"], r["scenario"], ", ".join("%g s" % c[1] for c in r["cuts"]),
                          r["floor_cut_s"], landed, r["floor_s"], a.retry, a.timeout,
                          r["sync"]["seconds"]))
        if "plain_fail" in r:
            f, g = r["plain_fail"], r["plain_after"]
            msg = f["stderr"][-1] if f["stderr"] else ""
            msg = re.sub(r"\d+ changes still queued", "N changes still queued", msg)
            sm = g["summary"] or {}
            v = r["verify"]
            out.append("- %s kbit/s, plain `lastmile sync` (no options) over %s purchases, link "
                       "cut %g s from %g s into the sync: exit %d after %.1f s with `%s`; a "
                       "plain `sync` once the link was back: exit %d in %.1f s (%s B sent, %s B "
                       "received); server = replica: %s." % (
                           r["rate"], fmt_n(r["collections"]), r["cuts"][0][1], r["cuts"][0][0],
                           f["exit"], f["seconds"], msg, g["exit"], g["seconds"],
                           sm.get("pushed_bytes"), sm.get("pulled_bytes"),
                           "yes" if v["ok"] else "**NO** (%s)" % "; ".join(v["problems"])))
        for ln in r["sync"]["stderr"]:
            if "failed:" in ln and r["scenario"] != "plain":
                out.append("  - %s kbit/s %s: `%s`" % (r["rate"], r["scenario"], ln))
    return "\n".join(out)


def section(results, a, meta):
    return """## Over an emulated 2G link

Generated by `sudo scripts/bench-link.sh` on {when}, {cpus} CPU cores shared
with other work (other engineers' builds and tests were running: times are
of one run, on a busy machine), {kernel}, Release build in
`build-bench-link`. Reproduce (root, `/dev/net/tun`, `../shared/netlab`;
about {minutes} minutes; skips with a message when any is missing):

    sudo scripts/bench-link.sh          # RATES="64 32" by default; see the script's knobs

(`scripts/bench-agents.sh` rewrites this whole file: run this script after
it to put the section back.)

The link: netlab's `linkemu.py` between two network namespaces made by the
script, {delay} ms one way, {rates} kbit/s each way, {loss:.0%} random loss each
way (seed {seed}), a {queue}-byte drop-tail queue; a cut is 100 % loss
toggled with SIGUSR1. A real `lastmile-server serve` listens in one
namespace on the link's address; each agent is provisioned with
`lastmile-server user add`, runs `lastmile init` over the link from the
other namespace, registers {farmers} farmers through the CLI and syncs them,
then records its backlog offline through the CLI (`lastmile collect` and
`lastmile grade` for each purchase, at catalog prices, log-normal weights
around 25 kg) and runs the timed `lastmile sync --json --retry {retry}
--timeout {timeout}`. "sync s" is the wall time of that command until it
exits fully synced (waits between attempts included); bytes are its
`--json` summary (every byte written to and read from the socket over all
attempts, handshakes and the `received_at` echo included). Floors, measured
in the same run on the same link: the backlog's collections and gradings as
CSV with header lines through `gzip -9`, and the time `bench/link/floor.py`
takes to upload that .gz over one TCP connection (connect, bytes, a one-byte
answer), the median of {floor_runs} uploads (single ones vary by seconds with
the loss). Cuts start mid-sync: the first {cut_at} s after the sync started,
each next one {gap} s after the link came back, only while the sync is still
running ("cuts" lists those that happened); "sync / floor" divides by the
uncut floor. After every scenario
the server must hold exactly the agent's records: `lastmile-server report
volumes --by agent --format json` (count, weight, money) equals the sums of
the agent's replica, the collection ids and the gradings of both sides are
the same, and nothing is left queued.

{table}

{notes}
""".format(when=meta["when"], cpus=meta["cpus"], kernel=meta["kernel"],
           minutes=max(1, round(meta["elapsed_s"] / 60)), delay=a.delay_ms,
           rates=" and ".join(str(r) for r in a.rates), loss=a.loss, seed=a.seed,
           queue=a.queue_bytes, farmers=a.farmers, retry=a.retry, timeout=a.timeout,
           cut_at=a.cut_at, gap=a.cutn_gap, floor_runs=FLOOR_RUNS, table=table(results),
           notes=notes(results, a))


def write_doc(path, text):
    with open(path) as f:
        doc = f.read()
    block = BEGIN + "\n" + text.rstrip("\n") + "\n" + END + "\n"
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        tail = rest.split(END, 1)[1].lstrip("\n")
        doc = head + block + ("\n" + tail if tail else "")
    else:
        doc = doc.rstrip("\n") + "\n\n" + block
    with open(path + ".new", "w") as f:
        f.write(doc)
    os.replace(path + ".new", path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--srv", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--linkemu", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--pidfile", required=True)
    ap.add_argument("--ns-prefix", required=True)
    ap.add_argument("--rates", default="64 32")
    ap.add_argument("--delay-ms", type=int, default=300)
    ap.add_argument("--loss", type=float, default=0.03)
    ap.add_argument("--queue-bytes", type=int, default=32000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--farmers", type=int, default=50)
    ap.add_argument("--collections", type=int, default=300)
    ap.add_argument("--days-n", type=int, default=3)
    ap.add_argument("--cut-s", type=float, default=30)
    ap.add_argument("--cuts", type=int, default=3)
    ap.add_argument("--cutn-s", type=float, default=20)
    ap.add_argument("--cut-at", type=float, default=3)
    ap.add_argument("--cutn-gap", type=float, default=10)
    ap.add_argument("--retry", type=int, default=30)
    ap.add_argument("--timeout", type=int, default=20)
    ap.add_argument("--plain", type=int, default=1)
    ap.add_argument("--plain-cut-s", type=float, default=60)
    ap.add_argument("--scenarios", default="clean cut1 cutN plain",
                    help="which of clean, cut1, cutN, plain to run")
    ap.add_argument("--doc", default="")
    a = ap.parse_args()
    a.rates = [int(x) for x in a.rates.split()]
    a.scenarios = a.scenarios.split()
    unknown = set(a.scenarios) - {"hs", "clean", "cut1", "cutN", "plain"}
    if unknown:
        ap.error("unknown scenario(s): %s" % " ".join(sorted(unknown)))
    started = time.monotonic()

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    lab = Lab(a)
    failed = False
    try:
        lab.make_namespaces()
        for i, rate in enumerate(a.rates):
            lab.link_up(rate)
            lab.start_server(rate)
            if "hs" in a.scenarios:
                handshake(lab, rate, VILLAGES[0])
            if "clean" in a.scenarios:
                scenario(lab, rate, "clean", VILLAGES[0], 1, ())
            if "cut1" in a.scenarios:
                scenario(lab, rate, "cut1", VILLAGES[1], 1, [(a.cut_at, a.cut_s)],
                         floor_cuts=[(a.cut_at, a.cut_s)])
            if "cutN" in a.scenarios:
                scenario(lab, rate, "cut%d" % a.cuts, VILLAGES[2], a.days_n,
                         [(a.cut_at, a.cutn_s)] + [(a.cutn_gap, a.cutn_s)] * (a.cuts - 1))
            if a.plain and i == 0 and "plain" in a.scenarios:
                scenario(lab, rate, "plain", VILLAGES[3], 1, [(a.cut_at, a.plain_cut_s)],
                         plain=True)
            lab.stop_server()
            stats = lab.link_down()
            log("%s kbit/s: linkemu counters %r" % (rate, stats))
            for r in RESULTS:
                if r["rate"] == rate:
                    r["linkemu"] = stats
    except BaseException as e:  # report, clean up, fail
        failed = True
        log("FAILED: %r" % (e,))
    finally:
        for p in list(lab.procs):
            lab.end(p, signal.SIGKILL if failed else signal.SIGTERM)
        lab.delete_namespaces()
    meta = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "cpus": os.cpu_count(), "kernel": " ".join(os.uname()[i] for i in (0, 2)),
            "elapsed_s": time.monotonic() - started}
    with open(os.path.join(a.work, "results.json"), "w") as f:
        json.dump({"meta": meta, "args": vars(a), "results": RESULTS}, f, indent=1)
    print()
    print(table(RESULTS))
    print()
    print(notes(RESULTS, a))
    bad = [r["user"] for r in RESULTS if not r["verify"]["ok"] or r["sync"]["exit"] != 0]
    if bad:
        log("NOT fully synced or not equal: %s" % ", ".join(bad))
    if a.doc and not failed and RESULTS:
        write_doc(a.doc, section(RESULTS, a, meta))
        log("section written to %s" % a.doc)
    return 1 if failed or bad else 0


if __name__ == "__main__":
    sys.exit(main())
