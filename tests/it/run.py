#!/usr/bin/env python3
"""Runs every tests/it/test_*.py against a real PostgreSQL and real carnetd processes.

Each module may define setup(ctx) and any number of test_*(ctx) functions; a test passes when it
returns without raising. The last line is "N passed, N failed".

After every test the harness checks the module's carnetd processes: one that exited other than
by its own orderly stop, or whose log holds an ASan/UBSan/LSan report, fails that test; at the
end of a module every carnetd is stopped and must exit 0 (else "<module>.teardown" fails).
--sanitizer also scans every carnetd log at the end of the run (processes a test started
without the harness knowing).
"""
import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class Run:
    def __init__(self, binary, workdir):
        self.binary = os.path.abspath(binary)
        self.workdir = workdir
        self.cluster = harness.Cluster(workdir)
        self.cluster.create_database("carnet_template")
        subprocess.check_call(
            [self.binary, "--migrate", "--log-level", "warning",
             "--migrate-url", self.cluster.url_for("carnet_template", harness.OWNER_ROLE),
             "--database-url", self.cluster.url_for("carnet_template", harness.APP_ROLE),
             "--schema-dir", os.path.join(harness.ROOT, "schema"),
             "--data-key-file", harness.data_key_file(workdir)])


SANITIZER_MARKS = harness.SANITIZER_MARKS


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--carnetd", required=True)
    ap.add_argument("--sanitizer", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    ap.add_argument("filters", nargs="*", help="only modules/tests whose name contains one")
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    outdir = os.path.join(harness.ROOT, "build", "test-output")
    os.makedirs(outdir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="carnet-it-")
    os.chmod(workdir, 0o755)
    run = Run(args.carnetd, workdir)
    passed = failed = 0
    failures = []
    reported = set()  # logs the per-test checks already scanned
    try:
        modules = sorted(f for f in os.listdir(here) if f.startswith("test_") and f.endswith(".py"))
        for fname in modules:
            name = fname[:-3]
            spec = importlib.util.spec_from_file_location(name, os.path.join(here, fname))
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
            tests = [t for t in dir(mod) if t.startswith("test_") and callable(getattr(mod, t))]
            tests.sort(key=lambda t: getattr(mod, t).__code__.co_firstlineno)
            if args.filters:
                tests = [t for t in tests
                         if any(f in name or f in t for f in args.filters)]
            if not tests:
                continue
            ctx = harness.Context(run, name[len("test_"):])
            ctx.outdir = outdir
            try:
                if hasattr(mod, "setup"):
                    mod.setup(ctx)
                for t in tests:
                    t0 = time.time()
                    error = None
                    try:
                        getattr(mod, t)(ctx)
                    except Exception:
                        error = traceback.format_exc()
                    try:
                        ctx.check_servers()  # a crash or sanitizer report fails this test
                    except AssertionError as e:
                        error = (error or "") + "carnetd check after the test:\n%s\n" % e
                    if error is None:
                        passed += 1
                        print("ok   %s.%s (%.2fs)" % (name, t, time.time() - t0), flush=True)
                    else:
                        failed += 1
                        failures.append("%s.%s" % (name, t))
                        print("FAIL %s.%s (%.2fs)\n%s" % (name, t, time.time() - t0, error),
                              flush=True)
            except Exception:
                failed += 1
                failures.append("%s.setup" % name)
                print("FAIL %s.setup\n%s" % (name, traceback.format_exc()), flush=True)
            finally:
                reported.update(s.log_path for s in ctx.servers)
                try:
                    ctx.close()
                except Exception:
                    failed += 1
                    failures.append("%s.teardown" % name)
                    print("FAIL %s.teardown\n%s" % (name, traceback.format_exc()), flush=True)
                try:
                    n = ctx.check_no_clear_tokens()
                    passed += 1
                    print("ok   %s: none of its %d tokens in a log or in the database" % (name, n),
                          flush=True)
                except Exception:
                    failed += 1
                    failures.append("%s.tokens" % name)
                    print("FAIL %s.tokens\n%s" % (name, traceback.format_exc()), flush=True)
        if args.sanitizer:
            for f in os.listdir(workdir):
                if (f.startswith("carnetd-") and f.endswith(".log")
                        and os.path.join(workdir, f) not in reported):
                    text = open(os.path.join(workdir, f), errors="replace").read()
                    if any(m in text for m in SANITIZER_MARKS):
                        failed += 1
                        failures.append("sanitizer:" + f)
                        print("FAIL sanitizer report in %s:\n%s" % (f, text[-6000:]), flush=True)
    finally:
        for f in os.listdir(workdir):
            if f.endswith(".log"):
                shutil.copy(os.path.join(workdir, f), outdir)
        run.cluster.destroy()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if failures:
        print("failed: " + ", ".join(failures))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
