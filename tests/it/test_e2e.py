"""Browser journeys: Debian's chromium, driven by playwright-core from Node.js (tests/e2e/*.mjs),
against this module's carnetd and database with the demo seed. Each script asserts what the pages
show and saves screenshots under build/test-output/e2e; here we only run it and check it passed.
"""
import os
import subprocess

import harness

E2E = os.path.join(harness.ROOT, "tests", "e2e")
JOURNEY_TIMEOUT_S = 300


def setup(ctx):
    ctx.seed_demo()
    if not os.path.isdir(os.path.join(E2E, "node_modules", "playwright-core")):
        # Pinned by package-lock.json; playwright-core downloads no browser of its own.
        subprocess.check_call(["npm", "ci", "--prefix", E2E, "--no-audit", "--no-fund",
                               "--loglevel", "error"])


def journey(ctx, name):
    out = os.path.join(ctx.outdir, "e2e")
    os.makedirs(out, exist_ok=True)
    r = subprocess.run(
        ["node", os.path.join(E2E, name + ".mjs"), "--base",
         "http://127.0.0.1:%d" % ctx.server.port, "--out", out],
        cwd=harness.ROOT, capture_output=True, text=True, timeout=JOURNEY_TIMEOUT_S)
    with open(os.path.join(out, name + ".log"), "w") as f:
        f.write(r.stdout + r.stderr)
    if r.returncode != 0:
        raise AssertionError("journey %s failed:\n%s\n%s" % (name, r.stdout[-4000:],
                                                              r.stderr[-4000:]))


def test_customer_books_and_manages(ctx):
    journey(ctx, "book")
