"""The replica engine's files call only downward: each file of sync/src
calls (or reads) only symbols defined in files listed above it in the
layer list at the top of sync/src/sync_internal.h, so no file calls back
up into one that depends on it. Read from the object files' symbol
tables (nm), so a call hidden behind a macro counts as well.

Usage: sync_layers.py NM sync_internal.h OBJECT...
Prints each file's calls into other files; exits 1 on a call upward or
sideways, on an object file the list does not name, or on a listed file
with no object file.
"""
import os
import re
import subprocess
import sys


def layers(header):
    """The file names of the list in the header's first comment, in order."""
    with open(header, encoding="utf-8") as f:
        top = f.read().split("*/", 1)[0]
    return re.findall(r"^ \*   (\w+\.c) ", top, re.M)


def symbols(nm, obj):
    """(defined, undefined) global symbol names of one object file."""
    out = subprocess.run([nm, obj], capture_output=True, text=True, check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDRBC":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def main():
    nm, header, objs = sys.argv[1], sys.argv[2], sys.argv[3:]
    order = layers(header)
    rank = {name: i for i, name in enumerate(order)}
    errors = []
    if len(rank) != len(order):
        errors.append("a file is listed twice in %s" % header)
    owner, uses = {}, {}
    for obj in objs:
        name = os.path.basename(obj)
        name = name[: -len(".o")] if name.endswith(".o") else name
        defined, undefined = symbols(nm, obj)
        for sym in defined:
            owner[sym] = name
        uses[name] = undefined
    for name in sorted(set(uses) - set(rank)):
        errors.append("%s is not in the layer list of %s" % (name, header))
    for name in order:
        if name not in uses:
            errors.append("%s is listed in %s but was not built" % (name, header))
    for name in sorted(uses, key=lambda n: rank.get(n, -1)):
        calls = {}
        for sym in uses[name]:
            if sym in owner and owner[sym] != name:
                calls.setdefault(owner[sym], []).append(sym)
        for dep in sorted(calls, key=lambda n: rank.get(n, -1)):
            print("%s -> %s: %s" % (name, dep, " ".join(sorted(calls[dep]))))
            if name in rank and dep in rank and rank[dep] >= rank[name]:
                errors.append("%s calls %s, which is not listed above it: %s"
                              % (name, dep, " ".join(sorted(calls[dep]))))
    for e in errors:
        print("FAIL: " + e)
    if not errors:
        print("ok: %d files, every call goes down the list" % len(order))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
