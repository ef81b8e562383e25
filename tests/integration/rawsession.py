"""A raw protocol client for the flood tests and benchmarks (issue 19): it
logs in with a real agent's device key (the replica's DB.key and site) over
a server started with --insecure-plaintext, then sends what a hostile
client would: PULLs it never reads the answers of, frames held one byte
short, PUSHes of many changes. Frames and messages as
protocol/include/lm_protocol.h and protocol/src/msg_fields.c say; only the
little of msgpack those need, and Ed25519 signing after RFC 8032's
reference code (standard library only, as every integration test)."""
import base64
import hashlib
import os
import socket
import sqlite3
import struct
import zlib

VERSION = 2
HELLO, WELCOME, PUSH, PUSH_ACK, PULL, CHANGES, ERROR, BYE = 1, 4, 5, 6, 7, 8, 9, 10
DEFLATED = 0x01


# ------------------------------------------------------------- Ed25519

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P


def _add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _enc(pt):
    x, y, z, _ = pt
    zi = pow(z, _P - 2, _P)
    x, y = x * zi % _P, y * zi % _P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX2 = (_GY * _GY - 1) * pow(_D * _GY * _GY + 1, _P - 2, _P) % _P
_GX = pow(_GX2, (_P + 3) // 8, _P)
if (_GX * _GX - _GX2) % _P:
    _GX = _GX * pow(2, (_P - 1) // 4, _P) % _P
if _GX & 1:
    _GX = _P - _GX
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _h(m):
    return int.from_bytes(hashlib.sha512(m).digest(), "little")


def ed25519_keys(seed):
    """(public key bytes, signing function) of a 32-byte seed."""
    hd = hashlib.sha512(seed).digest()
    a = int.from_bytes(hd[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    pub = _enc(_mul(a, _G))

    def sign(msg):
        r = _h(hd[32:] + msg) % _L
        rs = _enc(_mul(r, _G))
        k = _h(rs + pub + msg) % _L
        return rs + int.to_bytes((r + k * a) % _L, 32, "little")
    return pub, sign


def load_device_key(path):
    """The Ed25519 seed of a PEM PKCS#8 private key (its last 32 bytes)."""
    with open(path) as f:
        body = "".join(line for line in f.read().splitlines() if not line.startswith("-----"))
    return base64.b64decode(body)[-32:]


# ------------------------------------------------------------- msgpack

def mp(v):
    """Encodes the few msgpack kinds the messages use."""
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 1 << 32:
            return b"\xce" + struct.pack(">I", v)
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xa0 | len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, (bytes, bytearray)):
        return b"\xc4" + bytes([len(v)]) + bytes(v)
    if isinstance(v, list):
        return b"\xdd" + struct.pack(">I", len(v)) + b"".join(mp(x) for x in v)
    if isinstance(v, dict):
        return b"\xdf" + struct.pack(">I", len(v)) + b"".join(mp(k) + mp(x) for k, x in v.items())
    if v is None:
        return b"\xc0"
    raise TypeError(type(v))


def unmp(b, i=0):
    """Decodes one msgpack value at b[i:]: (value, next index)."""
    t = b[i]
    if t < 0x80:
        return t, i + 1
    if t >= 0xe0:
        return t - 256, i + 1
    if 0x80 <= t <= 0x8f or t in (0xde, 0xdf):
        n, i = (t & 15, i + 1) if t <= 0x8f else \
            ((struct.unpack(">H", b[i + 1:i + 3])[0], i + 3) if t == 0xde else
             (struct.unpack(">I", b[i + 1:i + 5])[0], i + 5))
        d = {}
        for _ in range(n):
            k, i = unmp(b, i)
            d[k], i = unmp(b, i)
        return d, i
    if 0x90 <= t <= 0x9f or t in (0xdc, 0xdd):
        n, i = (t & 15, i + 1) if t <= 0x9f else \
            ((struct.unpack(">H", b[i + 1:i + 3])[0], i + 3) if t == 0xdc else
             (struct.unpack(">I", b[i + 1:i + 5])[0], i + 5))
        a = []
        for _ in range(n):
            x, i = unmp(b, i)
            a.append(x)
        return a, i
    if 0xa0 <= t <= 0xbf or t in (0xd9, 0xda, 0xdb):
        n, i = (t & 31, i + 1) if t <= 0xbf else \
            {0xd9: lambda: (b[i + 1], i + 2),
             0xda: lambda: (struct.unpack(">H", b[i + 1:i + 3])[0], i + 3),
             0xdb: lambda: (struct.unpack(">I", b[i + 1:i + 5])[0], i + 5)}[t]()
        return b[i:i + n].decode("utf-8", "replace"), i + n
    if t in (0xc4, 0xc5, 0xc6):
        w = {0xc4: 1, 0xc5: 2, 0xc6: 4}[t]
        n = int.from_bytes(b[i + 1:i + 1 + w], "big")
        return bytes(b[i + 1 + w:i + 1 + w + n]), i + 1 + w + n
    if t == 0xc0:
        return None, i + 1
    if t in (0xc2, 0xc3):
        return t == 0xc3, i + 1
    fmt = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q",
           0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}[t]
    w = struct.calcsize(fmt)
    return struct.unpack(fmt, b[i + 1:i + 1 + w])[0], i + 1 + w


def frame(mtype, payload, flags=0):
    return struct.pack(">IBB", len(payload) + 2, mtype, flags) + payload


def pull_frame(cursor=0, max_bytes=512 * 1024):
    return frame(PULL, mp({"c": cursor, "b": max_bytes}))


# -------------------------------------------------------------- session

class RawSession:
    """One plaintext connection; login() signs HELLO with the agent's key."""

    def __init__(self, port, timeout=10.0, rcvbuf=0):
        """rcvbuf: a small receive buffer (set before connecting, so the
        window stays small), for a client that will not read."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def recv_frame(self):
        """(type, decoded message or raw payload) or None at EOF."""
        while True:
            if len(self.buf) >= 6:
                n = struct.unpack(">I", self.buf[:4])[0]
                if len(self.buf) >= 4 + n:
                    mtype, flags = self.buf[4], self.buf[5]
                    payload, self.buf = self.buf[6:4 + n], self.buf[4 + n:]
                    if flags & DEFLATED:
                        payload = zlib.decompress(payload)
                    try:
                        return mtype, unmp(payload)[0]
                    except (KeyError, IndexError, struct.error):
                        return mtype, payload
            try:
                got = self.sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                return None
            if not got:
                return None
            self.buf += got

    def login(self, who):
        """HELLO as who (an Identity; the first login enrols it with its
        token): the WELCOME or ERROR message as a dict, "_type" added."""
        ub = who.user.encode()
        transcript = (b"lastmile HELLO v2\0" + bytes(32) + struct.pack(">Q", who.site) +
                      bytes([len(ub)]) + ub)
        hello = {"v": VERSION, "u": who.user, "s": who.site, "c": "rawsession/1", "k": who.pub,
                 "g": who.sign(transcript)}
        if who.token:
            hello["t"] = who.token
        self.send(frame(HELLO, mp(hello)))
        got = self.recv_frame()
        if got is None:
            return {"_type": None}
        msg = dict(got[1]) if isinstance(got[1], dict) else {}
        msg["_type"] = got[0]
        if got[0] == WELCOME:
            who.token = None
        return msg


class Identity:
    """A device: user, Ed25519 key, site. From an agent replica (its DB.key
    and site), or new from an enrolment string (`user add`'s lm1-...), in
    which case the first login enrols it."""

    def __init__(self, user, agent_db=None, enrolment=None, new_site=False):
        """new_site: the replica's key on another site of the same user (a
        second device), so that its PULLs bring the replica's own changes."""
        self.user = user
        self.token = None
        if agent_db:
            seed = load_device_key(agent_db + ".key")
            con = sqlite3.connect(agent_db)
            self.site = int(con.execute("SELECT value FROM lm_meta WHERE key = 'site'")
                            .fetchone()[0])
            con.close()
            if new_site:
                self.site = int.from_bytes(os.urandom(7), "big") + 1
        else:
            raw = base64.urlsafe_b64decode(enrolment[4:] + "=" * (-len(enrolment[4:]) % 4))
            self.token = raw[33:65]
            seed = os.urandom(32)
            self.site = int.from_bytes(os.urandom(7), "big") + 1
        self.pub, self.sign = ed25519_keys(seed)


def error_of(msg):
    """(code, text) of an ERROR message dict, else None."""
    if msg and msg.get("_type") == ERROR:
        return msg.get("c"), msg.get("m")
    return None


def read_error(sess):
    """Reads frames until an ERROR or the end: (code, text) or None."""
    while True:
        got = sess.recv_frame()
        if got is None:
            return None
        if got[0] == ERROR and isinstance(got[1], dict):
            return got[1].get("c"), got[1].get("m")


def rss_kib(pid):
    """Resident set of a process, KiB (VmRSS)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def peak_rss_kib(pid):
    """Peak resident set of a process so far, KiB (VmHWM)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0
