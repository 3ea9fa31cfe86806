"""The schema: a database built by the migrations as deployed before schema/api/ existed, then
migrated by this carnetd, ends exactly like a fresh one (same pg_dump, same functions), and each
SQL function has one definition in schema/."""
import glob
import os
import re
import shutil
import subprocess
import threading

import psycopg2

import harness

# The last commit whose numbered migrations defined the functions themselves (001..007 as
# deployed). Its files are rebuilt from git history, as the old carnetd applied them.
DEPLOYED = "3e67fd8"
SCHEMA = os.path.join(harness.ROOT, "schema")


def _git(*args):
    return subprocess.run(["git", "-C", harness.ROOT] + list(args), capture_output=True,
                          text=True, check=True).stdout


def _fresh_db(ctx, name):
    ctx.cluster.admin_exec('drop database if exists "%s"' % name)
    ctx.cluster.admin_exec('create database "%s"' % name)
    return ctx.cluster.url_for(name)


def _migrate(ctx, url):
    return subprocess.run([ctx.run.binary, "--migrate", "--log-level", "warning",
                           "--database-url", url, "--schema-dir", SCHEMA],
                          capture_output=True, text=True)


def _apply_deployed(url):
    """What the old migrate did: schema_migrations, then each NNN_name.sql in order, each in one
    transaction with its file name recorded."""
    names = sorted(os.path.basename(p) for p in
                   _git("ls-tree", "--name-only", DEPLOYED, "schema/").split()
                   if re.match(r"schema/\d{3}_.*\.sql$", p))
    assert names and names[-1] == "007_reports.sql", names
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("set client_min_messages = warning")
            cur.execute("create table if not exists schema_migrations ("
                        " version text primary key,"
                        " applied_at timestamptz not null default now())")
            conn.commit()
            for name in names:
                cur.execute(_git("show", "%s:schema/%s" % (DEPLOYED, name)))
                cur.execute("insert into schema_migrations(version) values (%s)", (name,))
                conn.commit()
    finally:
        conn.close()
    return names


def _query(url, sql, args=None):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _dump(url):
    pg_dump = shutil.which("pg_dump") or "/usr/lib/postgresql/15/bin/pg_dump"
    out = subprocess.run([pg_dump, "--schema-only", "--no-owner", "--no-privileges", url],
                         capture_output=True, text=True, check=True).stdout
    # pg_dump >= 15.14 wraps the script in \restrict KEY ... \unrestrict KEY with a random key.
    return [l for l in out.splitlines() if not re.match(r"\\(un)?restrict ", l)]


FUNCTIONS = """
    select p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
    from pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and not exists (select 1 from pg_depend d
                      where d.classid = 'pg_proc'::regclass and d.objid = p.oid
                        and d.deptype = 'e')
    order by 1"""


def setup(ctx):
    ctx.upgraded = _fresh_db(ctx, "schema_upgraded")
    ctx.deployed = _apply_deployed(ctx.upgraded)
    # A stored idempotent failure in 002's shape (an HTTP reply), to be converted by 008.
    _query(ctx.upgraded, "insert into stores (code, name, timezone) values ('old', 'Old', 'UTC')")
    _query(ctx.upgraded, """
        insert into booking_idempotency (key_hash, request_hash, status, body)
        values ('k-old', md5('{}'), 409, '{"error": {"code": "slot_taken", "field": "starts_at",
                "message": "that time was just taken", "nearest": []}}')""")
    r = _migrate(ctx, ctx.upgraded)
    assert r.returncode == 0, r.stderr
    ctx.fresh = _fresh_db(ctx, "schema_fresh")
    r = _migrate(ctx, ctx.fresh)
    assert r.returncode == 0, r.stderr


def test_upgraded_database_records_every_migration(ctx):
    versions = [v for (v,) in _query(ctx.upgraded,
                                     "select version from schema_migrations order by 1")]
    fresh = [v for (v,) in _query(ctx.fresh, "select version from schema_migrations order by 1")]
    assert versions == fresh, (versions, fresh)
    assert versions[:len(ctx.deployed)] == ctx.deployed, versions
    assert "008_api_functions.sql" in versions, versions


def test_upgraded_and_fresh_databases_dump_the_same(ctx):
    a, b = _dump(ctx.upgraded), _dump(ctx.fresh)
    if a != b:
        import difflib
        diff = "\n".join(difflib.unified_diff(a, b, "upgraded", "fresh", lineterm="", n=2))
        raise AssertionError("pg_dump --schema-only differs:\n" + diff[:6000])


def test_upgraded_and_fresh_databases_have_the_same_functions(ctx):
    a = [f for (f,) in _query(ctx.upgraded, FUNCTIONS)]
    b = [f for (f,) in _query(ctx.fresh, FUNCTIONS)]
    assert a == b, (sorted(set(a) - set(b)), sorted(set(b) - set(a)))
    names = [f.split("(")[0] for f in b]
    overloads = sorted({n for n in names if names.count(n) > 1})
    assert not overloads, "overloaded functions: %s" % overloads
    assert "booking_store(p_store bigint)" in b, b


def test_migrate_again_changes_nothing(ctx):
    before = _dump(ctx.fresh)
    r = _migrate(ctx, ctx.fresh)
    assert r.returncode == 0, r.stderr
    assert _dump(ctx.fresh) == before


def test_simultaneous_migrations_of_a_new_database(ctx):
    url = _fresh_db(ctx, "schema_race")
    results = []
    threads = [threading.Thread(target=lambda: results.append(_migrate(ctx, url)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.returncode for r in results] == [0] * 4, [r.stderr for r in results]
    assert _dump(url) == _dump(ctx.fresh)


def test_stored_failure_of_the_old_shape_is_raised_again(ctx):
    store = _query(ctx.upgraded, "select id from stores where code = 'old'")[0][0]
    row = _query(ctx.upgraded, "select status, body, sqlstate, error_message, error_detail,"
                 " error_hint from booking_idempotency where key_hash = 'k-old'")[0]
    assert row == (None, None, "CA409", "slot_taken", '{"field": "starts_at", "nearest": []}',
                   "that time was just taken"), row
    try:
        _query(ctx.upgraded, "select booking_create(%s, '{}', 'h', 'k-old', null, 'r')",
               (store,))
    except psycopg2.Error as e:
        assert e.pgcode == "CA409", e.pgcode
        assert e.diag.message_primary == "slot_taken"
        assert e.diag.message_detail == '{"field": "starts_at", "nearest": []}'
        assert e.diag.message_hint == "that time was just taken"
    else:
        raise AssertionError("the stored failure was not raised")


CREATE_FUNCTION = re.compile(r"\bcreate\s+(?:or\s+replace\s+)?function\s+([a-z_][a-z_0-9]*)",
                             re.I)


def _definitions():
    """(function name, file) for every `create [or replace] function` in schema/, comments
    left out."""
    out = []
    files = sorted(glob.glob(os.path.join(SCHEMA, "*.sql")) +
                   glob.glob(os.path.join(SCHEMA, "api", "*.sql")))
    for path in files:
        with open(path) as f:
            text = re.sub(r"--[^\n]*", "", f.read())
        for m in CREATE_FUNCTION.finditer(text):
            out.append((m.group(1).lower(), os.path.relpath(path, SCHEMA)))
    return out


def test_each_function_is_defined_once_in_schema(ctx):
    defs = _definitions()
    assert len(defs) > 100, defs
    seen = {}
    for name, path in defs:
        seen.setdefault(name, []).append(path)
    twice = {n: p for n, p in seen.items() if len(p) > 1}
    assert not twice, "functions defined more than once: %s" % twice
    # Every function the database has comes from one of those definitions.
    names = {f.split("(")[0] for (f,) in _query(ctx.fresh, FUNCTIONS)}
    assert names == set(seen), (sorted(names - set(seen)), sorted(set(seen) - names))


def test_api_files_only_replace(ctx):
    """api files are loaded on every migrate, so they must replace; a numbered file runs once."""
    for path in glob.glob(os.path.join(SCHEMA, "api", "*.sql")):
        with open(path) as f:
            text = re.sub(r"--[^\n]*", "", f.read())
        bare = re.findall(r"\bcreate\s+(?!or\s+replace\b)(function|trigger|view)\b", text, re.I)
        assert not bare, "%s: create without or replace: %s" % (path, bare)


SQL_STMT = re.compile(r'SQL_STMT\(\s*"([^"]+)",\s*((?:"(?:[^"\\]|\\.)*"\s*)+),\s*(\d+)\s*\)')


def test_every_statement_of_carnetd_resolves(ctx):
    """Each SQL_STMT in server/*.c prepares against a fresh database with its parameters untyped,
    as db.c prepares them: one function matches, whatever the argument types became."""
    stmts = []
    for path in sorted(glob.glob(os.path.join(harness.ROOT, "server", "*.c"))):
        with open(path) as f:
            for m in SQL_STMT.finditer(f.read()):
                text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(2)))
                if text:
                    stmts.append((os.path.basename(path), m.group(1),
                                  text.replace('\\"', '"')))
    assert len(stmts) > 50, stmts
    failed = []
    conn = psycopg2.connect(ctx.fresh)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for i, (path, name, text) in enumerate(stmts):
                try:
                    cur.execute("prepare s%d as %s" % (i, text))
                    cur.execute("deallocate s%d" % i)
                except psycopg2.Error as e:
                    failed.append("%s %s: %s" % (path, name, e.pgerror.strip()))
    finally:
        conn.close()
    assert not failed, "\n".join(failed)
