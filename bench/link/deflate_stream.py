#!/usr/bin/env python3
"""What the session deflate stream saves on a 2G day, on loopback.

One agent's day (FARMERS farmers, PURCHASES purchases, each collected and
graded through the CLI: the day scripts/bench-link.sh records, linklab.py) is synced through a relay that holds every
PUSH_ACK HOLD_S seconds, so the push budget stays at the 32 KiB a 2G link
keeps it at (it doubles only on acks within a second). The relay captures
every frame each way. The client's payloads are recovered (session stream
pieces inflated as docs/protocol.md says, CRC checked) and deflated again
one by one as frames deflated alone would be: the baseline, measured on the
same payloads in the same run. Prints both and the ratio.

    python3 bench/link/deflate_stream.py [--purchases N] [--hold S]

Binaries: LASTMILE_BIN and LASTMILE_SERVER_BIN; without them, the Release
build scripts/bench-link.sh uses (build-bench-link/), brought up to date
here first. Every process it starts is stopped, failures included.
"""
import argparse
import os
import random
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

PUSH_ACK, DEFLATE_MIN, WBITS = 6, 512, 13


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
    frames = {"up": [], "down": []}
    build()
    try:
        measure(a, rng, frames)
    except Exception as e:  # report, then stop what was started
        check(False, "%s: %s" % (type(e).__name__, e))
    if not failures:
        report(a, frames)
    done("deflate_stream")


def measure(a, rng, frames):
    with tempdir() as tmp:
        server = Server(tmp)
        key = server.add_user("agent-li", "agent", ["shangba"])
        server.start()
        agent = Agent(tmp, "agent-li")
        check(agent.init(server, key)[0] == 0, "init")
        record_day(agent, a.farmers, a.purchases, rng)
        use_server(agent, "127.0.0.1:%d" % relay(server.port, a.hold, frames))
        code, summary, err = agent.sync(ok=False)
        check(code == 0, "sync through the relay (%s)" % err.strip())
        server.stop()


def report(a, frames):
    inflater = zlib.decompressobj(-WBITS)
    up = frames["up"]
    wire = sum(len(f) for f in up)
    msgs = [message(f, inflater) for f in up]
    base = sum(alone(m) for m in msgs)
    pieces = sum(1 for f in up if f[5] & 2)
    print("deflate_stream: %d purchases, %d frames up (%d stream pieces), %d B of messages"
          % (a.purchases, len(up), pieces, sum(map(len, msgs))))
    print("deflate_stream: client -> server %d B with the session stream, %d B deflated "
          "frame by frame: %.3fx (%.1f %% less)" % (wire, base, wire / base,
                                                     100.0 * (base - wire) / base))
    print("RESULT deflate_stream purchases=%d frames=%d pieces=%d wire=%d alone=%d ratio=%.3f"
          % (a.purchases, len(up), pieces, wire, base, wire / base))


if __name__ == "__main__":
    main()
