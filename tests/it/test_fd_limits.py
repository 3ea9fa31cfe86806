"""Descriptor limits: carnetd raises its soft RLIMIT_NOFILE to the hard limit at start-up, and
out of descriptors it pauses accepting (no spin, one log line) and serves again once clients
let go of theirs."""
import os
import resource
import socket
import time

from harness import HANG_GUARD_S, wait_for


def limits(pid):
    return resource.prlimit(pid, resource.RLIMIT_NOFILE)


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_soft_limit_raised_to_hard_at_start(ctx):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)
    # carnetd inherits a low soft limit from us (put back at once: the hard one is untouched).
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        s = ctx.start_carnetd(wait=False)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    s.wait_ready()
    assert limits(s.proc.pid) == (hard, hard)
    if low < hard:
        assert "fd limit: %d open files (raised from %d)" % (hard, low) in s.read_log(), \
            s.read_log()[-2000:]
    s.stop()


FD_LIMIT = 64
CLIENTS = 100  # more than fit under the limit, fewer than the listen backlog
MEASURE_S = 2.0


def exhaust_and_check(s, port, who):
    """Out of descriptors, the listener on `port` pauses: no spin, one line from `who`; the
    descriptors back, the next request there is served."""
    pid = s.proc.pid
    # The hard limit lowered under the running carnetd (as `prlimit --nofile=64:64` would).
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))
    assert len(os.listdir("/proc/%d/fd" % pid)) < FD_LIMIT - 10
    log_before = len(s.read_log().splitlines())
    socks = [socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD_S)
             for _ in range(CLIENTS)]
    try:
        wait_for(lambda: "%s: cannot accept a connection" % who in s.read_log(), "accept failing")
        assert len(os.listdir("/proc/%d/fd" % pid)) <= FD_LIMIT
        # No spin: the loop mostly sleeps while connections wait in the backlog.
        t0, c0 = time.time(), cpu_s(pid)
        time.sleep(MEASURE_S)  # not a synchronisation: the window CPU time is measured over
        used = (cpu_s(pid) - c0) / (time.time() - t0)
        assert used < 0.3, "%.0f%% of a core while out of descriptors" % (100 * used)
        lines = s.read_log().splitlines()[log_before:]
        assert sum("cannot accept" in x for x in lines) == 1, lines[-20:]
        assert len(lines) < 20, lines[-20:]
        assert "EMFILE" in next(x for x in lines if "cannot accept" in x)
    finally:
        for so in socks:
            so.close()


def test_out_of_descriptors_pauses_accepting(ctx):
    s = ctx.start_carnetd()
    exhaust_and_check(s, s.port, "http")
    # The descriptors back: the next request is served.
    wait_for(lambda: s.client.get("/healthz", timeout=HANG_GUARD_S).status == 200,
             "a request served after the clients left")
    assert s.proc.poll() is None
    s.stop()


def test_metrics_listener_pauses_too(ctx):
    """--metrics-listen's listener pauses the same way: a scrape comes exactly when descriptors
    run out (to read process_open_fds)."""
    from harness import Client, free_port
    mport = free_port()
    s = ctx.start_carnetd(args=["--metrics-listen", "127.0.0.1:%d" % mport])
    exhaust_and_check(s, mport, "metrics")
    wait_for(lambda: Client(mport).get("/metrics", timeout=HANG_GUARD_S).status == 200,
             "a scrape served after the clients left")
    assert s.client.get("/healthz").status == 200
    assert s.proc.poll() is None
    s.stop()
