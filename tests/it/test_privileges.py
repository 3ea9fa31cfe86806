"""Least privilege (README, "Database roles"): migrations run as the owner role; carnetd serves as
a role that is neither superuser nor owner, holds no table privilege and may execute exactly the
functions its queries call (this file reads them out of server/*.c on its own). As that role the
record cannot be rewritten: no trigger can be disabled, no row of the record tables updated or
deleted. The audit log is append-only even for the owner. A single-role deployment still works,
with a warning."""
import glob
import os
import re
import subprocess
import sys
import threading

import psycopg2

import harness
from harness import ROOT, Carnetd

PW = "carnet-demo"

# The tables whose rows are the record or what it shows (trends, repairs, owners, who did what).
RECORD_TABLES = ("record_entries", "devices", "diagnostic_sessions", "diagnostic_values",
                 "repair_orders", "repair_moves", "repair_parts", "device_owners", "audit_log")

OURS = """
    select p.oid, p.proname, p.prosecdef, p.proconfig from pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                      and d.objid = p.oid and d.deptype = 'e')"""


def setup(ctx):
    ctx.seed_demo()
    ctx.server  # its start-up migrated this database again, as the owner


# ---- what the C code calls, read from the sources ----

SQL_STMT = re.compile(r'SQL_STMT\(\s*"[^"]+",\s*((?:"(?:[^"\\]|\\.)*"\s*)+),\s*\d+\s*\)')
LITERAL = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(")


def called_by_c():
    """Names followed by `(` in every SQL_STMT text and every string literal that starts with
    `select`, in server/*.c but migrate.c (whose queries run as the owner, not the serving
    role)."""
    names = set()
    for path in glob.glob(os.path.join(ROOT, "server", "*.c")):
        if os.path.basename(path) == "migrate.c":
            continue
        with open(path) as f:
            text = re.sub(r"/\*.*?\*/", "", f.read(), flags=re.S)
        texts = ["".join(LITERAL.findall(m.group(1))) for m in SQL_STMT.finditer(text)]
        texts += [t for t in LITERAL.findall(text) if re.match(r"\s*select\b", t, re.I)]
        for t in texts:
            names.update(CALL.findall(t.lower()))
    return names


def test_build_step_reads_every_query_form(ctx):
    """.tools/sql_calls.py, which the grants come from: statements split over several literals,
    queries outside SQL_STMT, any case; not comments, character constants or other strings."""
    src = os.path.join(ctx.run.workdir, "calls_sample.c")
    with open(src, "w") as f:
        f.write(r"""
static struct sql_stmt a = SQL_STMT("a", "select alpha($1, "
                                         /* between */ "$2::text)", 2);
/* "select commented_out(1)" */
// "select also_commented(1)"
static const char quote = '"', other = '\'';
static const char *raw = "  SELECT Beta($1)";
static const char *msg = "not a select: gamma(1)";
#define Q "select delta(\"x\")"
""")
    out = subprocess.run([sys.executable, os.path.join(ROOT, ".tools", "sql_calls.py"), src],
                         capture_output=True, text=True, check=True).stdout
    # Each query is one C literal ending in \n, continued by a backslash; the list ends with "".
    lines = [l.strip().rstrip("\\").strip() for l in out.splitlines()
             if l.strip().startswith('"')]
    assert lines == ['"select alpha($1, $2::text)\\n"', '"  SELECT Beta($1)\\n"',
                     '"select delta(\\"x\\")\\n"', '""'], out


def _error(conn, sql, args=None):
    """The error `sql` raises on `conn` (autocommit), or an AssertionError when it succeeds."""
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
    except psycopg2.Error as e:
        return e
    raise AssertionError("allowed: %s" % sql)


def _connect(url):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


# ---- the serving role's grants ----

def test_serving_role_executes_exactly_what_carnetd_calls(ctx):
    ours = {r["proname"]: r for r in ctx.sql(OURS)}
    called = called_by_c() & set(ours)
    assert len(called) > 60, sorted(called)
    # Every name that looks like one of our functions in a C query is one (none misspelled or
    # dropped): what C calls but the database lacks would fail only at run time.
    granted = {r["proname"] for r in ctx.sql(
        OURS + " and has_function_privilege(%s, p.oid, 'execute')", (harness.APP_ROLE,))}
    missing, extra = sorted(called - granted), sorted(granted - called)
    assert not missing and not extra, \
        "C calls but the serving role may not execute: %s; granted but not called by C: %s" % (
            missing, extra)
    # They run as the owner, with a search_path the caller cannot redirect; nothing else does.
    for name, r in ours.items():
        if name in called:
            assert r["prosecdef"] and "search_path=public, pg_temp" in (r["proconfig"] or []), r
        else:
            assert not r["prosecdef"], "%s is security definer but carnetd does not call it" % name
    # PUBLIC (every role) executes none of ours.
    public = ctx.sql(OURS + " and (p.proacl is null or exists"
                            " (select 1 from aclexplode(p.proacl) a where a.grantee = 0))")
    assert not public, [r["proname"] for r in public]


def test_serving_role_owns_nothing_and_has_no_table_privilege(ctx):
    role = ctx.sql1("select rolsuper, rolcreaterole, rolcreatedb, rolbypassrls from pg_roles"
                    " where rolname = %s", (harness.APP_ROLE,))
    assert role == {"rolsuper": False, "rolcreaterole": False, "rolcreatedb": False,
                    "rolbypassrls": False}, role
    assert not ctx.sql1("select pg_has_role(%s, %s, 'member') as m",
                        (harness.APP_ROLE, harness.OWNER_ROLE))["m"]
    owned = ctx.sql("select relname from pg_class where relowner = %s::regrole"
                    " union all select proname from pg_proc where proowner = %s::regrole",
                    (harness.APP_ROLE, harness.APP_ROLE))
    assert not owned, owned
    # The owner role owns every table of ours, so nobody else can alter them.
    others = ctx.sql("select relname, relowner::regrole::text as owner from pg_class"
                     " where relnamespace = 'public'::regnamespace and relkind in ('r', 'S', 'v')"
                     " and relowner <> %s::regrole", (harness.OWNER_ROLE,))
    assert not others, others
    rels = ctx.sql("select c.oid::regclass::text as rel, c.relkind from pg_class c"
                   " where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'S', 'v', 'p')")
    assert len(rels) > 40, rels
    for r in rels:
        privs = ("select, usage, update" if r["relkind"] == "S" else
                 "select, insert, update, delete, truncate, references, trigger")
        fn = "has_sequence_privilege" if r["relkind"] == "S" else "has_table_privilege"
        got = ctx.sql1("select %s(%%s, %%s, %%s) as p" % fn, (harness.APP_ROLE, r["rel"], privs))
        assert not got["p"], "%s may %s %s" % (harness.APP_ROLE, privs, r["rel"])
        if r["relkind"] != "S":
            assert not ctx.sql1("select has_any_column_privilege(%s, %s, 'select, insert, update')"
                                " as p", (harness.APP_ROLE, r["rel"]))["p"], r
    assert not ctx.sql1("select has_schema_privilege(%s, 'public', 'create') as p",
                        (harness.APP_ROLE,))["p"]


def test_carnetd_connects_as_the_serving_role(ctx):
    s = ctx.server
    assert s.client.get("/healthz").status == 200
    harness.wait_for(lambda: "pglisten: listening" in s.read_log(), "the LISTEN connection")
    users = ctx.sql("select usename, count(*) as n from pg_stat_activity"
                    " where datname = current_database() and application_name like 'carnetd%%'"
                    " group by usename")
    assert [u["usename"] for u in users] == [harness.APP_ROLE], users
    # The pool and the LISTEN connection at least.
    assert users[0]["n"] >= 2, users
    # And the API works through it: a sign-in, a record read, a trend.
    c = s.client
    c.login("tech@carnet.test", PW)
    r = c.get("/api/devices/F2LDEMO0PH13")
    assert r.status == 200 and r.json["entries"], r
    assert c.get("/api/devices/F2LDEMO0PH13/verify").json["ok"] is True


# ---- the wall around the record ----

def test_serving_role_cannot_rewrite_the_record(ctx):
    before = {t: ctx.sql1("select md5(string_agg(x::text, ',' order by x::text)) as h"
                          " from %s x" % t)["h"] for t in RECORD_TABLES}
    dev = ctx.sql1("select id from devices where serial = 'F2LDEMO0PH13'")["id"]
    app = _connect(ctx.app_url)
    try:
        for t in ("record_entries", "audit_log", "diagnostic_values", "repair_orders"):
            for what in ("trigger all", "trigger user"):
                e = _error(app, "alter table %s disable %s" % (t, what))
                assert e.pgcode == "42501" and "must be owner" in e.pgerror, e.pgerror
        for t in RECORD_TABLES:
            # A plain column: an identity column would be refused before privileges are checked.
            col = ctx.sql1("select attname from pg_attribute where attrelid = %s::regclass"
                           " and attnum > 0 and not attisdropped and attidentity = ''"
                           " order by attnum limit 1", (t,))["attname"]
            for sql in ("update %s set %s = %s" % (t, col, col), "delete from %s" % t,
                        "truncate %s" % t, "select * from %s" % t,
                        "insert into %s default values" % t):
                e = _error(app, sql)
                assert e.pgcode == "42501", (sql, e.pgerror)
        # Direct updates of a trend value and a repair row, as someone would try them.
        e = _error(app, "update diagnostic_values set value = 99 where device_id = %s", (dev,))
        assert e.pgcode == "42501", e.pgerror
        e = _error(app, "update repair_orders set state = 'collected' where device_id = %s", (dev,))
        assert e.pgcode == "42501", e.pgerror
        # Nor by the side doors: internal functions, replication mode (skips triggers), new
        # objects, reading the staff's password hashes.
        e = _error(app, "select record_append(%s, 'note', '{}', null)", (dev,))
        assert e.pgcode == "42501", e.pgerror
        e = _error(app, "set session_replication_role = replica")
        assert e.pgcode == "42501", e.pgerror
        e = _error(app, "create table public.mine (x int)")
        assert e.pgcode == "42501", e.pgerror
        e = _error(app, "select password_hash from staff")
        assert e.pgcode == "42501", e.pgerror
        e = _error(app, "set role %s" % harness.OWNER_ROLE)
        assert e.pgcode == "42501", e.pgerror
    finally:
        app.close()
    after = {t: ctx.sql1("select md5(string_agg(x::text, ',' order by x::text)) as h"
                         " from %s x" % t)["h"] for t in RECORD_TABLES}
    assert after == before


def test_owner_cannot_rewrite_the_audit_log(ctx):
    owner = _connect(ctx.owner_url)
    try:
        n = ctx.sql1("select count(*) as n from audit_log")["n"]
        assert n > 0
        for sql in ("update audit_log set action = 'nothing'", "delete from audit_log",
                    "truncate audit_log", "update record_entries set content = '{}'",
                    "delete from record_entries"):
            e = _error(owner, sql)
            assert e.pgcode == "CA409" and "append_only" in e.pgerror, (sql, e.pgerror)
        assert ctx.sql1("select count(*) as n from audit_log")["n"] == n
        # Appending stays possible: the API audits through it.
        c = ctx.server.client
        c.login("manager@carnet.test", PW)
        assert c.get("/api/devices/F2LDEMO0PH13").status == 200
        assert ctx.sql1("select count(*) as n from audit_log")["n"] > n
    finally:
        owner.close()


def test_verify_finds_what_the_owner_edits_beside_the_chain(ctx):
    """Only the owner can edit a trend value or a repair row; when it does, verify says so and
    names the entry the row was written with."""
    c = ctx.server.client
    c.login("specialist@carnet.test", PW)
    r = c.get("/api/devices/F2LDEMO0PH13/verify")
    assert r.status == 200 and r.json["ok"] is True and r.json["derived"] == [], r
    dev = ctx.sql1("select id from devices where serial = 'F2LDEMO0PH13'")["id"]
    session = ctx.sql1("select max(session_id) as s from diagnostic_values where device_id = %s"
                       " and name = 'battery_health'", (dev,))["s"]
    entry = ctx.sql1("select entry_id from diagnostic_sessions where id = %s", (session,))
    repair = ctx.sql1("select id, state from repair_orders where device_id = %s", (dev,))
    opened = ctx.sql1("select id from record_entries where kind = 'repair_opened' and ref_id = %s",
                      (repair["id"],))
    owner = _connect(ctx.owner_url)
    try:
        edits = (
            ("update diagnostic_values set value = value + 5 where session_id = %s"
             " and name = 'battery_health'", "update diagnostic_values set value = value - 5"
             " where session_id = %s and name = 'battery_health'", (session,),
             entry["entry_id"], "diagnostic_values"),
            ("update repair_orders set state = 'ready' where id = %s",
             "update repair_orders set state = '%s' where id = %%s" % repair["state"],
             (repair["id"],), opened["id"], "repair_orders"),
        )
        for edit, undo, args, entry_id, table in edits:
            with owner.cursor() as cur:
                cur.execute(edit, args)
            r = c.get("/api/devices/F2LDEMO0PH13/verify")
            try:
                assert r.status == 200 and r.json["ok"] is False, r
                assert r.json["reason"] == "derived_mismatch", r
                assert r.json["broken_at"] == entry_id, (r, entry_id)
                assert [entry_id, table] in r.json["derived"], r
                assert r.json["checked"] == r.json["entries"], r  # the chain itself is intact
            finally:
                with owner.cursor() as cur:
                    cur.execute(undo, args)
            assert c.get("/api/devices/F2LDEMO0PH13/verify").json["ok"] is True
    finally:
        owner.close()


# ---- deployments ----

def test_single_role_deployment_works_and_warns(ctx):
    # No --migrate-url: carnetd migrates and serves with DATABASE_URL, here the superuser's.
    s = ctx.start_carnetd(env={"DATABASE_URL": ctx.url, "CARNET_MIGRATE_URL": ""})
    s.client.login("tech@carnet.test", PW)
    assert s.client.get("/api/devices/F2LDEMO0PH13").status == 200
    log = s.read_log()
    assert "carnetd serves as the owner role carnet (no --migrate-url)" in log, log[-2000:]
    s.stop()
    # Migrating as the owner while serving as a superuser.
    s = ctx.start_carnetd(env={"DATABASE_URL": ctx.url})
    log = s.read_log()
    assert "a superuser: its credentials can disable the record's triggers" in log, log[-2000:]
    s.stop()
    # The serving role's grants were left as they were.
    assert ctx.sql1("select has_function_privilege(%s, 'device_record'::regproc, 'execute')"
                    " as p", (harness.APP_ROLE,))["p"]
    # Not migrating, carnetd still says when it serves as a role that could rewrite the record.
    for url, why in ((ctx.url, "is a superuser"), (ctx.owner_url, "owns the tables")):
        s = ctx.start_carnetd(env={"DATABASE_URL": url, "CARNET_SKIP_MIGRATE": "1"})
        assert why in s.read_log(), s.read_log()[-2000:]
        s.stop()
    s = ctx.start_carnetd(env={"CARNET_SKIP_MIGRATE": "1"})
    assert "warning" not in s.read_log(), s.read_log()[-2000:]
    s.stop()


def test_serving_role_cannot_migrate(ctx):
    """The serving role's credentials are no way around the wall: as the migration URL too,
    they apply nothing and carnetd refuses to start."""
    s = ctx.start_carnetd(env={"CARNET_MIGRATE_URL": ctx.app_url}, wait=False,
                          refuses_start=True)
    assert s.proc.wait(30) != 0
    log = s.read_log()
    assert re.search(r"migrate: .*(permission denied|must be owner)", log), log[-2000:]
    assert "listening on http" not in log, log[-2000:]


def test_several_carnetd_migrate_a_new_database_at_once(ctx):
    url = ctx.cluster.create_database("t_privileges_race")
    owner = ctx.cluster.url_for("t_privileges_race", harness.OWNER_ROLE)
    app = ctx.cluster.url_for("t_privileges_race", harness.APP_ROLE)
    servers = []
    threads = []

    def start():
        servers.append(Carnetd(ctx.run.binary, app, ctx.run.workdir, migrate_url=owner))

    for _ in range(3):
        threads.append(threading.Thread(target=start))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ctx.servers.extend(servers)
    for s in servers:
        s.wait_ready()
    conn = _connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("select count(*), count(distinct version) from schema_migrations")
            total, distinct = cur.fetchone()
            assert total == distinct and total >= 11, (total, distinct)
            cur.execute("select p.proname from pg_proc p where p.pronamespace = 'public'::regnamespace"
                        " and has_function_privilege(%s, p.oid, 'execute') and not exists"
                        " (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass"
                        " and d.objid = p.oid and d.deptype = 'e')", (harness.APP_ROLE,))
            granted = {r[0] for r in cur.fetchall()}
            cur.execute("select proname from pg_proc where pronamespace = 'public'::regnamespace")
            assert granted == called_by_c() & {r[0] for r in cur.fetchall()}
    finally:
        conn.close()
    for s in servers:
        r = s.client.get("/api/stores")
        assert r.status == 200, r
        s.stop()
