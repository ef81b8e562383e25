"""integration_pipeline: how many PUSH batches the agent keeps in flight,
seen by a frame-counting proxy between a real `lastmile sync` and a real
server. On a fast link (acks back within 200 ms) the agent pipelines: a
second PUSH goes out before the first is acknowledged. On a slow link
(every answer held 300 ms, a 2G round trip) it keeps one: a second batch
gains nothing there, and a pipelined batch's ack, waiting behind the batch
before it, looked slow and stopped the batch budget from growing (more,
smaller frames: more bytes on the wire). Either way every record reaches
the server once. The proxy also reads the PUSH frames as the protocol
describes them (docs/protocol.md): up to 64 KiB of message, a piece of the
session's raw deflate stream (8 KiB window), its last 4 bytes the CRC-32
of the message in place of the sync flush's 00 00 ff ff; a larger one
deflated alone."""
import socket
import struct
import threading
import time
import zlib

from lmtest import agent_li_with_farmer, bulk_insert, check, done, loopback_listener, \
    relay_frames, tempdir, use_server

ROWS = 1500
PUSH, PUSH_ACK = 5, 6  # lm_msg_type
FRAME_DEFLATED, FRAME_STREAM = 0x01, 0x02
STREAM_MAX = 64 << 10


class Proxy:
    """Forwards one connection at a time to the server, whole frames at a
    time. Counts a PUSH as it leaves the client and a PUSH_ACK as it is
    handed to the client; server->client frames are held `hold` seconds,
    or, with pair_hold, an ack until two PUSHes are outstanding (at most
    0.1 s), so that a client that pipelines is seen doing so."""

    def __init__(self, server_port, hold=0.0, pair_hold=False):
        self.server_port = server_port
        self.hold = hold
        self.pair_hold = pair_hold
        self.lock = threading.Condition()
        self.outstanding = self.max_outstanding = self.pushes = 0
        self.pieces = self.bad_pieces = self.misplaced = 0
        self.inflater = None
        self.listener, self.port = loopback_listener()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self):
        self.listener.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.server_port))
            # one stream per session; a 32 KiB window (feature 4, which this
            # server grants) also inflates an 8 KiB one
            self.inflater = zlib.decompressobj(-15)
            up = threading.Thread(target=relay_frames, args=(client, server, self._from_client),
                                  daemon=True)
            up.start()
            relay_frames(server, client, self._from_server)
            up.join(30)
            client.close()
            server.close()

    def _read_piece(self, frame):
        """Inflates a stream piece as the receiver would; counts bad ones."""
        body = frame[6:]
        try:
            msg = self.inflater.decompress(body[:-4] + b"\x00\x00\xff\xff")
            ok = zlib.crc32(msg) == struct.unpack(">I", body[-4:])[0] and len(msg) > 0
        except zlib.error:
            ok = False
        self.pieces += 1
        self.bad_pieces += 0 if ok else 1
        self.misplaced += 1 if ok and len(msg) > STREAM_MAX else 0

    def _from_client(self, kind, frame, server):
        if frame[5] & FRAME_STREAM:
            self._read_piece(frame)
        elif kind == PUSH and len(frame) > 6:
            # not a piece: deflated alone, and then only past STREAM_MAX
            alone = frame[5] & FRAME_DEFLATED and len(zlib.decompress(frame[6:])) > STREAM_MAX
            self.misplaced += 0 if alone else 1
        if kind == PUSH:
            with self.lock:
                self.pushes += 1
                self.outstanding += 1
                self.max_outstanding = max(self.max_outstanding, self.outstanding)
                self.lock.notify_all()
        try:
            server.sendall(frame)
        except OSError:
            return False
        return True

    def _from_server(self, kind, frame, client):
        if self.hold:
            time.sleep(self.hold)
        elif self.pair_hold and kind == PUSH_ACK:
            with self.lock:
                self.lock.wait_for(lambda: self.outstanding >= 2, timeout=0.1)
        if kind == PUSH_ACK:
            with self.lock:
                self.outstanding -= 1
        try:
            client.sendall(frame)
        except OSError:
            return False
        return True


def main():
    with tempdir() as tmp:
        # The proxy reads frames: plaintext (the one thing the flag is for).
        server, a, farmer = agent_li_with_farmer(tmp, extra=("--insecure-plaintext",))

        cases = (("fast", "FASTA0", Proxy(server.port, pair_hold=True)),
                 ("slow", "SLOWA0", Proxy(server.port, hold=0.3)))
        seen = {}
        for name, tag, proxy in cases:
            bulk_insert(a, farmer, ROWS, tag)
            use_server(a, "127.0.0.1:%d" % proxy.port)
            code, _, err = a.cli("sync", "--json", ok=False)
            proxy.close()
            check(code == 0, "%s link: sync exits 0 (%s)" % (name, err.strip()))
            n = server.rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM collections "
                            "WHERE id LIKE ?", (tag + "%",))[0]
            check(n["n"] == ROWS and n["d"] == ROWS,
                  "%s link: server holds each of %d records once: %r" % (name, ROWS, n))
            check(proxy.pieces >= 2 and proxy.bad_pieces == 0 and proxy.misplaced == 0,
                  "%s link: PUSHes up to 64 KiB are good stream pieces, larger ones deflated "
                  "alone (%d pieces, %d bad, %d misplaced, %d PUSHes)"
                  % (name, proxy.pieces, proxy.bad_pieces, proxy.misplaced, proxy.pushes))
            print("%s link: %d stream pieces, %d misplaced" % (name, proxy.pieces, proxy.misplaced))
            seen[name] = (proxy.pushes, proxy.max_outstanding)
            print("%s link: %d PUSHes, at most %d in flight" % ((name,) + seen[name]))
        check(seen["fast"][0] >= 3, "fast link: several batches (%d)" % seen["fast"][0])
        check(seen["fast"][1] == 2, "fast link: two PUSHes in flight at once")
        check(seen["slow"][0] >= 3, "slow link: several batches (%d)" % seen["slow"][0])
        check(seen["slow"][1] == 1, "slow link: one PUSH in flight at a time")
        check(a.status().get("pending_changes") == 0, "nothing left queued")
        check(server.stop() == 0, "server exits 0")
    done("integration_pipeline")


if __name__ == "__main__":
    main()
