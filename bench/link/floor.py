#!/usr/bin/env python3
"""The transfer floor: one file over one plain TCP connection, nothing else.

  floor.py recv HOST PORT           # accepts one connection, reads to EOF,
                                    # answers one byte, prints the byte count
  floor.py send HOST PORT FILE      # prints {"bytes": N, "seconds": S}

`send` times connect + every byte + the receiver's one-byte answer, so the
figure is what the best possible upload of FILE costs on the link: a TCP
handshake, the bytes, one answer. No timeout of its own beyond LIMIT_S:
on a cut link it waits as TCP does.
"""
import json
import socket
import sys
import time

LIMIT_S = 900


def recv(host, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(1)
    print("ready", flush=True)
    c, _ = s.accept()
    c.settimeout(LIMIT_S)
    got = 0
    while True:
        b = c.recv(65536)
        if not b:
            break
        got += len(b)
    c.sendall(b"k")
    c.close()
    s.close()
    print(got, flush=True)


def send(host, port, path):
    with open(path, "rb") as f:
        data = f.read()
    t0 = time.monotonic()
    c = socket.create_connection((host, port), timeout=LIMIT_S)
    c.sendall(data)
    c.shutdown(socket.SHUT_WR)
    ack = c.recv(1)
    dt = time.monotonic() - t0
    c.close()
    if ack != b"k":
        sys.exit("floor: no answer from the receiver")
    print(json.dumps({"bytes": len(data), "seconds": round(dt, 3)}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "recv":
        recv(sys.argv[2], int(sys.argv[3]))
    else:
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4])
