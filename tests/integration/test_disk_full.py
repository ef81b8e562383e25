"""integration_disk_full: an agent's replica on a full disk (a 4 MiB tmpfs
this test mounts; skipped, exit 77, where it may not mount one). Real
processes: one server (on the ordinary disk), agent-li's replica on the
tmpfs, agent-wang registering farmers that agent-li then pulls.

- Read commands (status, list, check) work on a completely full disk.
- collect and sync say "disk full" with the free space, exit 4, name no
  internal table, and write nothing half-done.
- A sync that runs out of room while pulling says the same; once space
  is freed the next sync finishes: every purchase on the server once,
  every farmer pulled, nothing queued.

Fails before the change: every command said "cannot open ...: disk I/O
error", read-only ones included."""
import os
import subprocess
import tempfile

from lmtest import Agent, Server, bulk_insert, check, done, run, tempdir

SIZE = "4m"


def mount_tmpfs(folder):
    """A SIZE tmpfs at folder; False when this process may not mount."""
    os.makedirs(folder)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + SIZE, "tmpfs", folder],
                       capture_output=True, text=True)
    return r.returncode == 0


def fill(folder, leave=0):
    """Fills the file system holding folder up to `leave` bytes free."""
    path = os.path.join(folder, "filler-%d" % len(os.listdir(folder)))
    with open(path, "wb") as f:
        while True:
            st = os.statvfs(folder)
            room = st.f_bavail * st.f_frsize - leave
            if room <= 0:
                break
            try:
                f.write(b"\0" * min(room, 65536))
                f.flush()
            except OSError:
                break
    return path


def user_terms(err, what):
    check("disk full" in err and "MB free" in err, "%s says disk full: %r" % (what, err))
    check("lm_" not in err and "sqlite" not in err.lower(),
          "%s names no internal table: %r" % (what, err))


def bulk_farmers(agent, n):
    sql = ("WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d) "
           "INSERT INTO farmers (id, name, village, phone, registered_poor, household_id, "
           "created_by, created_at) SELECT printf('FARM%%08d', i), printf('Farmer number %%d "
           "of the long list', i), 'shangba', printf('1380000%%04d', i), i %% 2, "
           "printf('HH-SB-%%05d', i), '%s', 1700000000000 + i FROM k;" % (n, agent.uid))
    run(["/usr/bin/sqlite3", agent.db, sql])


def main():
    with tempdir() as tmp:
        disk = os.path.join(tmp, "disk")
        if not mount_tmpfs(disk):
            print("integration_disk_full: skipped (cannot mount a tmpfs here)")
            raise SystemExit(77)
        try:
            run_test(tmp, disk)
        finally:
            subprocess.run(["umount", disk])
    done("integration_disk_full")


def run_test(tmp, disk):
    server = Server(tmp)
    key = server.add_user("agent-li", "agent", ["shangba"])
    key_wang = server.add_user("agent-wang", "agent", ["shangba"])
    server.start()
    li = Agent(disk, "agent-li")
    li.init(server, key)
    farmer = li.new_id("farmer", "add", "--name", "Li", "--village", "shangba")
    bulk_insert(li, farmer, 20, "DF-A-")
    check(li.sync()[0] == 0, "first sync")
    bulk_insert(li, farmer, 5, "DF-B-")  # queued when the disk fills
    rows_before = li.list("collections")
    pending = li.status().get("pending_changes")
    check(pending and pending > 0, "purchases queued: %r" % pending)

    filler = fill(disk)
    # reading works on a full disk
    code, out, err = li.cli("status", "--json", ok=False)
    check(code == 0, "status on a full disk exits 0 (%s)" % err.strip())
    check(code == 0 and '"pending_changes":%d' % pending in out.replace(" ", ""),
          "status on a full disk shows the queue: %s" % out.strip())
    code, out, err = li.cli("list", "collections", "--json", ok=False)
    check(code == 0 and len(__import__("json").loads(out)) == len(rows_before),
          "list on a full disk shows every purchase (%s)" % err.strip())
    code, out, err = li.cli("check", ok=False)
    check(code == 0 and out.startswith("ok"), "check on a full disk: %r %r" % (out, err))
    # writing says so, in the user's words, and changes nothing
    code, out, err = li.cli("collect", "--farmer", farmer, "--product", "corn", "--grade",
                            "A", "--kg", "40", "--price", "2.60", ok=False)
    check(code == 4, "collect on a full disk exits 4 (%d)" % code)
    user_terms(err, "collect")
    code, _, err = li.sync(ok=False)
    check(code == 4, "sync on a full disk exits 4 (%d)" % code)
    user_terms(err, "sync")
    check("queued" in err, "sync says the work stays queued: %r" % err)
    os.unlink(filler)
    check(len(li.list("collections")) == len(rows_before), "the refused collect wrote nothing")

    # a sync that runs out of room while pulling
    wang = Agent(tmp, "agent-wang")
    wang.init(server, key_wang)
    bulk_farmers(wang, 3000)
    check(wang.sync()[0] == 0, "agent-wang pushes 3000 farmers")
    filler = fill(disk, leave=128 * 1024)
    code, _, err = li.sync(ok=False)
    check(code == 4, "sync out of room mid-pull exits 4 (%d, %s)" % (code, err.strip()))
    user_terms(err, "sync mid-pull")
    os.unlink(filler)
    code, _, err = li.sync(ok=False)
    check(code == 0, "sync after freeing space (%s)" % err.strip())
    farmers = [f for f in li.list("farmers") if f["id"].startswith("FARM")]
    check(len(farmers) == 3000, "every farmer pulled: %d" % len(farmers))
    n = server.rows("SELECT count(*) AS n, count(DISTINCT id) AS d FROM collections "
                    "WHERE id LIKE 'DF-%'")[0]
    check(n["n"] == 25 and n["d"] == 25, "every purchase on the server once: %r" % n)
    check(li.status().get("pending_changes") == 0, "nothing left queued")
    check(server.stop() == 0, "server exits 0")


if __name__ == "__main__":
    main()
