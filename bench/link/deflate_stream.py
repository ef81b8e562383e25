#!/usr/bin/env python3
"""What the session deflate stream, its window and integer deltas save on a
2G day, on loopback.

One agent's day (FARMERS farmers, PURCHASES purchases, each collected and
graded through the CLI: the day scripts/bench-link.sh records, linklab.py)
is recorded once; then the same replica and server (files copied back
before each) sync it through a relay that holds every PUSH_ACK HOLD_S
seconds, so the push budget stays at the 32 KiB a 2G link keeps it at (it
doubles only on acks within a second). The relay captures every frame each
way (the server runs with --insecure-plaintext so that it can). The client
announces, through the test hook LASTMILE_TEST_HELLO_FEATURES, what a build
of each step would:

  8k      the session stream with an 8 KiB window (protocol before issue 18's
          last step: features 1|2)
  32k     a 32 KiB window (feature 4)
  32k+d   and integers as deltas in the change lists (feature 8): today's

Each run's client payloads are recovered (stream pieces inflated as
docs/protocol.md says, CRC checked); the 8k run's are also deflated one by
one as frames deflated alone would be: the first baseline. Prints the bytes
of the client's frames for each, in the same run.

    python3 bench/link/deflate_stream.py [--purchases N] [--hold S]

Binaries: LASTMILE_BIN and LASTMILE_SERVER_BIN; without them, the Release
build scripts/bench-link.sh uses (build-bench-link/), brought up to date
here first. Every process it starts is stopped, failures included.
"""
import argparse
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
BUILD = os.path.join(ROOT, "build-bench-link")
OWN_BUILD = "LASTMILE_BIN" not in os.environ and "LASTMILE_SERVER_BIN" not in os.environ
os.environ.setdefault("LASTMILE_BIN", os.path.join(BUILD, "agent-cli/lastmile"))
os.environ.setdefault("LASTMILE_SERVER_BIN", os.path.join(BUILD, "server/lastmile-server"))
from lmtest import (Agent, Server, check, done, failures, loopback_listener,  # noqa: E402
                    relay_frames, tempdir, use_server)
from linklab import add_farmers, record_days  # noqa: E402

PUSH_ACK, DEFLATE_MIN = 6, 512
# name, HELLO feature bits, window bits of the client's stream
RUNS = [("8k", 1 | 2, 13), ("32k", 1 | 2 | 4, 15), ("32k+d", 1 | 2 | 4 | 8, 15)]


def message(frame, inflater):
    """A captured frame's message bytes, as the receiver would see them."""
    flags, body = frame[5], frame[6:]
    if flags & 2:
        msg = inflater.decompress(body[:-4] + b"\x00\x00\xff\xff")
        check(zlib.crc32(msg) == struct.unpack(">I", body[-4:])[0], "piece CRC")
        return msg
    return zlib.decompress(body) if flags & 1 else body


def alone(msg):
    """Wire bytes of msg framed and deflated alone (lm_frame_encode)."""
    if len(msg) < DEFLATE_MIN:
        return 6 + len(msg)
    return 6 + min(len(zlib.compress(msg, 9)), len(msg))


def record_day(agent, farmers, purchases, rng):
    """The day bench-link records (linklab.py), on this replica."""
    cli = lambda *args: agent.cli(*args)[1]  # noqa: E731
    fids = add_farmers(cli, "shangba", farmers, rng)
    check(agent.sync()[0] == 0, "farmers synced")
    record_days(cli, agent.db, fids, purchases, rng)


def relay(server_port, hold, frames):
    """Accepts one connection and relays it, holding PUSH_ACKs."""
    lsock, port = loopback_listener()

    def run():
        c, _ = lsock.accept()
        s = socket.create_connection(("127.0.0.1", server_port))

        def up(kind, f, dst):
            frames["up"].append(f)
            dst.sendall(f)
            return True

        def down(kind, f, dst):
            frames["down"].append(f)
            if kind == PUSH_ACK:
                time.sleep(hold)
            dst.sendall(f)
            return True
        t = threading.Thread(target=relay_frames, args=(c, s, up), daemon=True)
        t.start()
        relay_frames(s, c, down)
        t.join(10)
        c.close()
        s.close()
        lsock.close()
    threading.Thread(target=run, daemon=True).start()
    return port


def build():
    if not OWN_BUILD:
        return
    print("deflate_stream: building lastmile and lastmile-server (Release) in %s" % BUILD,
          file=sys.stderr)
    subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=Release"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", BUILD, "-j2", "--target", "lastmile", "lastmile-server"],
                   check=True, stdout=subprocess.DEVNULL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--farmers", type=int, default=50)
    ap.add_argument("--purchases", type=int, default=300)
    ap.add_argument("--hold", type=float, default=1.05, help="seconds each PUSH_ACK is held")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    captured = {}
    build()
    try:
        measure(a, rng, captured)
    except Exception as e:  # report, then stop what was started
        check(False, "%s: %s" % (type(e).__name__, e))
    if not failures:
        report(a, captured)
    done("deflate_stream")


def restore(snap, folder):
    """Puts folder back as it was when snap was taken."""
    for name in os.listdir(folder):
        if name not in os.listdir(snap) and os.path.isfile(os.path.join(folder, name)):
            os.remove(os.path.join(folder, name))
    for name in os.listdir(snap):
        shutil.copy2(os.path.join(snap, name), os.path.join(folder, name))


def measure(a, rng, captured):
    with tempdir() as tmp, tempdir() as snap:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start(extra=["--insecure-plaintext"])
        agent = Agent(tmp, "agent-li")
        check(agent.init(server, key)[0] == 0, "init")
        record_day(agent, a.farmers, a.purchases, rng)
        server.stop()
        shutil.rmtree(snap)
        shutil.copytree(tmp, snap)
        for name, features, _ in RUNS:
            restore(snap, tmp)
            server.start(extra=["--insecure-plaintext"])
            frames = {"up": [], "down": []}
            use_server(agent, "127.0.0.1:%d" % relay(server.port, a.hold, frames))
            os.environ["LASTMILE_TEST_HELLO_FEATURES"] = str(features)
            try:
                code, summary, err = agent.sync(ok=False)
            finally:
                del os.environ["LASTMILE_TEST_HELLO_FEATURES"]
            check(code == 0, "%s: sync through the relay (%s)" % (name, err.strip()))
            got = server.rows("SELECT count(*) AS n FROM collections")[0]["n"]
            check(got == a.purchases, "%s: %d purchases on the server" % (name, got))
            server.stop()
            captured[name] = frames


def report(a, captured):
    wire = {}
    for name, _, wbits in RUNS:
        up = captured[name]["up"]
        inflater = zlib.decompressobj(-wbits)
        msgs = [message(f, inflater) for f in up]
        wire[name] = sum(len(f) for f in up)
        pieces = sum(1 for f in up if f[5] & 2)
        print("deflate_stream: %-6s %2d frames up (%d stream pieces), %6d B of messages, "
              "%6d B on the wire" % (name, len(up), pieces, sum(map(len, msgs)), wire[name]))
        if name == "8k":
            base = sum(alone(m) for m in msgs)
            print("deflate_stream: frames deflated one by one (the same 8k messages): %d B" % base)
    print("deflate_stream: %d purchases; against frames deflated alone: 8k %.3fx, 32k %.3fx, "
          "32k+d %.3fx" % (a.purchases, wire["8k"] / base, wire["32k"] / base,
                           wire["32k+d"] / base))
    print("RESULT deflate_stream purchases=%d alone=%d w8k=%d w32k=%d w32k_deltas=%d"
          % (a.purchases, base, wire["8k"], wire["32k"], wire["32k+d"]))


if __name__ == "__main__":
    main()
