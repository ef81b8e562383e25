"""A byte relay for the attack tests: it sits between `lastmile` and the
server on loopback, forwards (or records, alters, withholds) what passes,
and never parses TLS. Only the tests' own sockets and threads."""
import os
import socket
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import loopback_listener  # noqa: E402


class Relay:
    """Accepts connections on 127.0.0.1:port and forwards each to upstream.
    up(data, conn) / down(data, conn) may return the bytes to forward (or
    None to drop them); conn is a dict per connection for their state.
    Everything that passed is kept in self.seen_up / self.seen_down."""

    def __init__(self, upstream_port, up=None, down=None):
        self.upstream = upstream_port
        self.up, self.down = up, down
        self.seen_up, self.seen_down = bytearray(), bytearray()
        self.conns = []
        self.sock, self.port = loopback_listener(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.upstream))
            conn = {"client": client, "server": server, "up": bytearray(), "down": bytearray()}
            self.conns.append(conn)
            threading.Thread(target=self._pump, args=(conn, client, server, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(conn, server, client, False),
                             daemon=True).start()

    def _pump(self, conn, src, dst, upward):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                data = b""
            if not data:
                for s in (dst, src):
                    try:
                        s.shutdown(socket.SHUT_WR if s is dst else socket.SHUT_RD)
                    except OSError:
                        pass
                return
            (self.seen_up if upward else self.seen_down).extend(data)
            conn["up" if upward else "down"].extend(data)
            hook = self.up if upward else self.down
            out = hook(data, conn) if hook else data
            if out:
                try:
                    dst.sendall(out)
                except OSError:
                    return

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def close(self):
        self.sock.close()
        for c in self.conns:
            for s in (c["client"], c["server"]):
                try:
                    s.close()
                except OSError:
                    pass
