"""The harness itself: a crash or a sanitizer report cannot pass unnoticed, and a SIGKILL a test
declares is not taken for a crash. Each test consumes the report it provokes (check_servers
reports a problem once), so the run's own after-test check stays quiet."""
import signal


def _raises(fn):
    try:
        fn()
    except AssertionError as e:
        return str(e)
    raise AssertionError("no AssertionError from %r" % fn)


def test_declared_sigkill_is_not_a_crash(ctx):
    s = ctx.start_carnetd(killed=True)
    assert s.stop(signal.SIGKILL) == -signal.SIGKILL
    ctx.check_servers()


def test_undeclared_sigkill_is_refused(ctx):
    s = ctx.start_carnetd()
    assert "killed=True" in _raises(lambda: s.stop(signal.SIGKILL))
    assert s.stop() == 0


def test_a_crash_fails_the_check_once(ctx):
    s = ctx.start_carnetd()
    s.proc.send_signal(signal.SIGSEGV)
    s.proc.wait(30)
    assert "exited (killed by signal" in _raises(ctx.check_servers)  # SEGV, or ASan's abort
    ctx.check_servers()  # reported once
    s.stop()  # already reported: no second failure


def test_shared_server_is_not_quietly_restarted(ctx):
    first = ctx.server
    first.proc.send_signal(signal.SIGSEGV)
    first.proc.wait(30)
    assert "exited" in _raises(lambda: ctx.server)
    second = ctx.server  # once reported, a fresh one
    assert second is not first and second.client.get("/healthz").status == 200
    try:
        ctx.check_servers()
    except AssertionError as e:  # the ASan build also reports the SEGV in the first one's log
        assert "sanitizer report in %s" % first.log_path in str(e), e
    ctx.check_servers()


def test_sanitizer_report_in_a_log_fails_the_check(ctx):
    s = ctx.server
    ctx.check_servers()
    with open(s.log_path, "a") as f:
        f.write("==1==ERROR: AddressSanitizer: heap-use-after-free (written by test_harness)\n")
    assert "sanitizer report" in _raises(ctx.check_servers)
    ctx.check_servers()  # only new log text is scanned
