"""security_enrol_qr: `user add` and `user rekey` show the enrolment string
as a QR code on a terminal (or with --qr), before the string itself, which
stays the last line of stdout; piped without --qr, stdout is as before (no
escape sequences). The code is the string's: the modules read back from
the half blocks equal what the qrencode tool makes of the same string
(level L), and the three finder patterns are where a camera looks."""
import os
import pty
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from lmtest import SERVER, Server, check, done, run, tempdir  # noqa: E402

CELL = re.compile(r"\x1b\[(3[07]);(4[07])m\u2580")
MARGIN = 2


def modules(out):
    """The module matrix (True = dark) drawn by the QR lines of out."""
    rows = []
    for line in out.splitlines():
        cells = CELL.findall(line)
        if not cells:
            continue
        rows.append([fg == "30" for fg, _ in cells])
        rows.append([bg == "40" for _, bg in cells])
    if not rows:
        return []
    side = len(rows[0])
    rows = rows[:side]  # the last half row of an odd side is quiet zone
    return [r[MARGIN:side - MARGIN] for r in rows[MARGIN:side - MARGIN]]


def finder_ok(m):
    n = len(m)
    ok = n >= 21 and all(len(r) == n for r in m)
    for oy, ox in ((0, 0), (0, n - 7), (n - 7, 0)):
        for y in range(7):
            for x in range(7):
                ring = min(y, x, 6 - y, 6 - x)
                want = ring != 1  # dark border, light ring, dark 3x3 core
                ok = ok and m[oy + y][ox + x] == want
    return ok


def reference(text):
    """qrencode's own modules for text, or None without the tool."""
    tool = shutil.which("qrencode")
    if not tool:
        return None
    out = subprocess.run([tool, "-t", "ASCII", "-m", "0", "-l", "L", text],
                         capture_output=True, text=True, check=True).stdout
    return [[line[i:i + 2] == "##" for i in range(0, len(line), 2)]
            for line in out.splitlines() if line]


def on_pty(args):
    """Runs args with stdout and stderr on a pseudo-terminal: (code, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, stdout=slave, stderr=slave, stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def main():
    with tempdir() as tmp:
        server = Server(tmp)
        code, out, _ = run([SERVER, "user", "add", "--db", server.db, "--id", "agent-li",
                            "--role", "agent", "--villages", "shangba", "--qr"])
        text = out.strip().splitlines()[-1]
        check(text.startswith("lm1-"), "the string stays the last line: %r" % text[:20])
        m = modules(out)
        check(finder_ok(m), "a QR code precedes it (%d modules a side)" % len(m))
        ref = reference(text)
        if ref is not None:
            check(m == ref, "its modules are qrencode's for the same string")

        # Piped, no --qr: no QR and no escape sequence at all.
        code, out, _ = run([SERVER, "user", "add", "--db", server.db, "--id", "agent-wang",
                            "--role", "agent", "--villages", "xiaba"])
        check("\x1b" not in out and out.strip().splitlines()[-1].startswith("lm1-"),
              "piped without --qr: the string only")

        # rekey on a terminal: the QR without asking, then the string.
        code, out = on_pty([SERVER, "user", "rekey", "--db", server.db, "--id", "agent-wang"])
        check(code == 0, "rekey on a terminal exits 0")
        lines = [ln for ln in out.replace("\r", "").splitlines() if ln.strip()]
        check(lines and lines[-1].startswith("lm1-"), "rekey's last line is the string")
        m = modules(out.replace("\r", ""))
        check(finder_ok(m), "rekey on a terminal shows the QR code")
        ref = reference(lines[-1]) if lines else None
        if ref is not None:
            check(m == ref, "of the new string")

        # A refused rekey prints no QR (and no string).
        code, out, _ = run([SERVER, "user", "rekey", "--db", server.db, "--id", "nobody", "--qr"],
                           ok=False)
        check(code != 0 and "\x1b" not in out and "lm1-" not in out,
              "an unknown user gets neither: exit %d" % code)
    done("security_enrol_qr")


if __name__ == "__main__":
    main()
