"""integration_queue_limit: the server's bound on decoded PUSH batches
waiting for its single writer (max_queued_mib). AGENTS agents with a few
thousand records each sync at once, twice over: against a server with a
bound of 1 GiB (never reached here) and one with --max-queued-mib 1. With the small
bound, PUSHes must wait undecoded (the debug log and the shutdown line say
how many), the most ever queued must stay below what the same burst
queued without it, and every sync must still end fully synced with each
record on the server exactly once."""
import os
import re

from lmtest import agents_with_backlog, check, check_synced, done, start_syncs, tempdir

AGENTS = 6
ROWS = 2500
STOPPED = re.compile(r"at most (\d+) KiB of PUSH batches queued, (\d+) PUSH\(es\) waited")


def burst(tmp, name, extra):
    """A fresh server and AGENTS agents with ROWS queued each, all synced at
    once: (peak KiB queued, PUSHes that waited, log)."""
    folder = os.path.join(tmp, name)
    os.makedirs(folder)
    server, agents = agents_with_backlog(folder, AGENTS, ROWS, "Q",
                                         extra=extra + ["--log-level", "debug"])
    check_synced(server, agents, start_syncs(agents), ROWS, "Q", name)
    check(server.stop() == 0, "%s: server exits 0" % name)
    log = server.log()
    m = STOPPED.search(log)
    check(m is not None, "%s: the shutdown line reports the queue" % name)
    peak, waited = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    print("%s: at most %d KiB queued, %d PUSHes waited" % (name, peak, waited))
    return peak, waited, log


def main():
    with tempdir() as tmp:
        free_peak, free_waited, _ = burst(tmp, "unbounded", ["--max-queued-mib", "1024"])
        peak, waited, log = burst(tmp, "bounded", ["--max-queued-mib", "1"])
        check(free_waited == 0, "1 GiB bound: no PUSH waited (%d)" % free_waited)
        check(free_peak > 1024, "1 GiB bound: the burst queued over 1 MiB (%d KiB), "
                                "so the small bound has something to bound" % free_peak)
        check(waited > 0, "1 MiB bound: PUSHes waited (%d)" % waited)
        check("PUSH waits" in log, "1 MiB bound: the debug log says a PUSH waits")
        check(peak < free_peak, "1 MiB bound: at most %d KiB queued, below the %d KiB "
                                "without it" % (peak, free_peak))
    done("integration_queue_limit")


if __name__ == "__main__":
    main()
