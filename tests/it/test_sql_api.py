"""The SQL API straight against PostgreSQL: each tests/sql/<domain>.sql runs with psql (pg_regress
style: -X -a -q, input on stdin, errors in the output) in a transaction it rolls back, on its own
copy of a migrated and seeded database, and its output must equal tests/sql/expected/<domain>.out.
CARNET_SQL_ACCEPT=1 writes the output as the new expected file instead (review the diff)."""
import difflib
import os
import shutil
import subprocess

import harness

SQL_DIR = os.path.join(harness.ROOT, "tests", "sql")


def _psql():
    return shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"


def _files():
    return sorted(f[:-4] for f in os.listdir(SQL_DIR)
                  if f.endswith(".sql") and not f.startswith("_"))


def setup(ctx):
    ctx.seed_demo()
    ctx.db.close()


def _run(ctx, name):
    db = "sql_" + name
    ctx.cluster.admin_exec('drop database if exists "%s"' % db)
    ctx.cluster.admin_exec('create database "%s" template "%s"' % (db, ctx.dbname))
    try:
        with open(os.path.join(SQL_DIR, name + ".sql")) as f:
            out = subprocess.run([_psql(), "-X", "-a", "-q", "-d", ctx.cluster.url_for(db)],
                                 stdin=f, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 cwd=SQL_DIR, text=True, timeout=120).stdout
    finally:
        ctx.cluster.admin_exec('drop database if exists "%s"' % db)
    results = os.path.join(ctx.outdir, "sql")
    os.makedirs(results, exist_ok=True)
    with open(os.path.join(results, name + ".out"), "w") as f:
        f.write(out)
    expected_path = os.path.join(SQL_DIR, "expected", name + ".out")
    if os.environ.get("CARNET_SQL_ACCEPT"):
        with open(expected_path, "w") as f:
            f.write(out)
        return
    with open(expected_path) as f:
        expected = f.read()
    if out != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), out.splitlines(True),
                                            "expected/%s.out" % name, "results/%s.out" % name))
        raise AssertionError("tests/sql/%s.sql: output differs from expected:\n%s"
                             % (name, diff[:8000]))


def test_every_domain_has_sql_tests(ctx):
    have = set(_files())
    domains = {f[:-4] for f in os.listdir(os.path.join(harness.ROOT, "schema", "api"))
               if f.endswith(".sql")}
    assert domains <= have, "no tests/sql file for %s" % sorted(domains - have)
    for name in have:
        assert os.path.exists(os.path.join(SQL_DIR, "expected", name + ".out")) or \
            os.environ.get("CARNET_SQL_ACCEPT"), "no expected output for %s" % name


def _make_test(name):
    def test(ctx):
        _run(ctx, name)
    test.__name__ = "test_sql_" + name
    return test


for _name in _files():
    globals()["test_sql_" + _name] = _make_test(_name)
