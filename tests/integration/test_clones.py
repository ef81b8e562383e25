"""integration_clones: two live clones of one replica (issue 20). Agent
Li's phone is copied, key and all, to a second phone; for several "days"
both record purchases and sync, in turn, one first one day and the other
the next. Then the first phone is copied once more (a third phone) and
the copy, busier than the original, syncs after it.

A copy that records as many changes as the server holds of its site
since the copy, or more, has a change counter at or past the server's
watermark, so only the digest of the batch that set the watermark (WELCOME
`d`, kept by the server beside it; the replica keeps the digests of the
batches it sent) tells it that the server holds changes under its seqs
that it did not make: it takes a fresh site once, says so in one line,
and re-sends its own purchases under it.

Checked: every purchase made on any phone is on the server exactly once,
nothing stays queued, each phone lists exactly the server's purchases
(no row of nothing but received_at), each clone is told once and syncs
quietly after.

Fails before the change: the first clone's sync said nothing and took the
server's watermark as an acknowledgement of its own first purchase, which
never left (on the server once: 0)."""
import os
import shutil

from lmtest import Agent, agent_li_with_farmer, check, done, tempdir

BUY = ("--product", "corn", "--grade", "A", "--price", "2.60")


def clone(agent, folder):
    """A copy of the phone, key and all, as a backup app would restore it
    onto another phone (the CLI's last close checkpointed the WAL)."""
    os.makedirs(folder)
    other = Agent(folder, agent.uid)
    shutil.copy(agent.db, other.db)
    shutil.copy(agent.db + ".key", other.db + ".key")
    return other


def buy(agent, farmer, kg, bought):
    i = agent.new_id("collect", "--farmer", farmer, "--kg", str(kg), *BUY)
    check(i is not None, "collect on %s" % agent.db)
    bought.append(i)


def sync(agent, told):
    code, _, err = agent.sync(ok=False)
    check(code == 0, "%s syncs (%s)" % (agent.db, err.strip()))
    n = err.count("restored or copied")
    check(n <= 1, "at most one line: %r" % err)
    if n:
        told[agent.db] = told.get(agent.db, 0) + 1
        print(err.strip())


def main():
    with tempdir() as tmp:
        server, a, farmer = agent_li_with_farmer(tmp)
        bought, told = [], {}
        buy(a, farmer, 10, bought)
        check(a.sync()[0] == 0, "sync before the copy")
        b = clone(a, os.path.join(tmp, "phone-b"))
        site = a.status().get("site")

        # day 1: one purchase each; a syncs first. b's counter now equals
        # the server's watermark for the site: only the digest tells.
        buy(a, farmer, 11, bought)
        buy(b, farmer, 21, bought)
        sync(a, told)
        sync(b, told)
        # days 2-4: b busier, each first in turn
        for day in range(2, 5):
            for _ in range(day):
                buy(b, farmer, 20 + day, bought)
            buy(a, farmer, 10 + day, bought)
            first, second = (b, a) if day % 2 == 0 else (a, b)
            sync(first, told)
            sync(second, told)
        # a third phone from a, busier than a before either syncs
        c = clone(a, os.path.join(tmp, "phone-c"))
        buy(a, farmer, 30, bought)
        for kg in (31, 32, 33):
            buy(c, farmer, kg, bought)
        sync(a, told)
        sync(c, told)
        # one more day for everyone
        for phone in (a, b, c):
            buy(phone, farmer, 40, bought)
        for phone in (c, b, a, c, b):
            sync(phone, told)

        check(told == {b.db: 1, c.db: 1}, "each clone told once, the original never: %r" % told)
        sites = {p.status().get("site") for p in (a, b, c)}
        check(len(sites) == 3 and site in sites, "three sites, a's unchanged: %r" % sites)
        on_server = [r["id"] for r in server.rows("SELECT id FROM collections")]
        for i in bought:
            check(on_server.count(i) == 1, "server holds %s once (%d)" % (i, on_server.count(i)))
        check(len(on_server) == len(bought), "nothing else on the server: %d of %d"
              % (len(on_server), len(bought)))
        for phone in (a, b, c):
            st = phone.status()
            check(st.get("pending_changes") == 0, "%s: nothing queued: %r" % (phone.db, st))
            mine = phone.list("collections")
            check(sorted(x["id"] for x in mine) == sorted(on_server),
                  "%s lists every purchase" % phone.db)
            check(all(x["farmer_id"] and x["weight_g"] for x in mine),
                  "%s: no phantom rows" % phone.db)
        check(server.stop() == 0, "server exits 0")
    done("integration_clones")


if __name__ == "__main__":
    main()
