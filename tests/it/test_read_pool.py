"""Reads from a standby (issue 15 point 4): with --read-database-url, the public board and the
uncached month view are read there, and device records (their audit rows written on the
primary, by a call of their own); writes, reads of one's own writes and the month view's
cache fills stay on the primary; a standby that goes away sends reads back to the primary at
once, with the primary's answers. The "standby" here is a copy of the module's database that
differs on purpose (a store renamed, no shifts), so every answer says where it was read. Its
replay position is ours to set: carnetd's serving role there finds pg_is_in_recovery and
pg_last_wal_replay_lsn in a schema ahead of pg_catalog, which say "a standby that has replayed
fake.replay.lsn"; the API's functions run with their own search_path and never see them."""
import datetime

from harness import APP_ROLE, Client, wait_for

STANDBY = "t_read_pool_standby"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.svc = ctx.sql1("select min(id) as id from services where store_id = %s and active",
                       (ctx.paris,))["id"]
    ctx.db.close()  # a template may have no other session
    ctx.standby_url = ctx.cluster.create_database(STANDBY, template=ctx.dbname)
    standby_sql(ctx, "update stores set name = name || ' (standby)'")
    standby_sql(ctx, "delete from shifts")
    standby_sql(ctx, "update devices set model = model || ' (standby)'")
    standby_sql(ctx, "insert into devices (serial, model) values ('STANDBYONLY1', 'Ghost')")
    standby_sql(ctx, """
        create schema fake;
        create table fake.replay (lsn pg_lsn not null);
        insert into fake.replay values ('FFFFFFFF/FFFFFFFF');
        create function fake.pg_is_in_recovery() returns boolean language sql as 'select true';
        create function fake.pg_last_wal_replay_lsn() returns pg_lsn language sql
            as 'select lsn from fake.replay';
        grant usage on schema fake to %s;
        grant select on fake.replay to %s;
        grant execute on all functions in schema fake to %s;
        alter role %s in database %s set search_path = fake, pg_catalog, public;
    """ % ((APP_ROLE,) * 4 + (STANDBY,)))
    ctx.read_url = ctx.cluster.url_for(STANDBY, APP_ROLE)
    ctx.r = ctx.start_carnetd(args=["--read-database-url", ctx.read_url, "--avail-cache", "0",
                                    "--read-max-lag-ms", "1000"])


def standby_sql(ctx, query, args=None):
    import psycopg2
    with psycopg2.connect(ctx.standby_url) as db:
        db.autocommit = True
        with db.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall() if cur.description else None


def metric(server, name):
    """A sample of carnetd's /metrics, by its name with labels, as a number (None: absent)."""
    for line in Client(server.port).get("/metrics").raw.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def board_name(server, store):
    r = Client(server.port).get("/api/stores/%d/board" % store)
    assert r.status == 200, r
    return r.json["store_name"]


def month(ctx, server):
    today = ctx.store_today(ctx.paris)
    r = Client(server.port).get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (
        ctx.paris, ctx.svc, today + datetime.timedelta(days=1), today + datetime.timedelta(days=7)))
    assert r.status == 200, r
    return r


def test_board_and_month_view_are_read_on_the_standby(ctx):
    name = ctx.sql1("select name from stores where id = %s", (ctx.paris,))["name"]
    wait_for(lambda: board_name(ctx.r, ctx.paris) == name + " (standby)", "a board read there")
    assert month(ctx, ctx.r).json["days"] == []  # the copy has no shifts
    apps = standby_sql(ctx, "select application_name, usename from pg_stat_activity "
                            "where datname = %s", (STANDBY,))
    assert ("carnetd-read", APP_ROLE) in apps, apps
    assert not [a for a in apps if a[0] == "carnetd"], apps  # no primary pool connection there
    assert metric(ctx.r, 'carnet_db_read_queries_total{to="standby"}') >= 2
    assert metric(ctx.r, "carnet_db_read_usable") == 1
    assert 0 <= metric(ctx.r, "carnet_db_read_lag_ms") <= 1000
    # A carnetd without --read-database-url reads the primary.
    plain = ctx.server
    assert board_name(plain, ctx.paris) == name
    assert month(ctx, plain).json["days"]


def test_writes_and_own_reads_stay_on_the_primary(ctx):
    day = ctx.store_today(ctx.paris) + datetime.timedelta(days=3)
    while day.isoweekday() == 7:
        day += datetime.timedelta(days=1)
    starts = ctx.sql1("select (%s::date + time '15:00') at time zone 'Europe/Paris' as t",
                      (day,))["t"].isoformat()
    c = Client(ctx.r.port)
    r = c.post("/api/stores/%d/appointments" % ctx.paris, {
        "service_id": ctx.svc, "starts_at": starts, "name": "Read Pool",
        "email": "r@example.com", "phone": "+33 6 12 34 56 78", "problem": "cracked screen"})
    assert r.status == 201, r
    aid = r.json["appointment"]["id"]
    assert ctx.sql1("select count(*) as n from appointments where id = %s", (aid,))["n"] == 1
    assert standby_sql(ctx, "select count(*) from appointments where id = %s", (aid,)) == [(0,)]
    m = c.get("/api/manage/" + r.json["manage_token"])
    assert m.status == 200 and m.json["id"] == aid, m


def test_cache_fills_come_from_the_primary(ctx):
    """The month view's cache is filled from the primary, whose notifications drop it: a
    carnetd with both the cache and a standby answers what the primary holds."""
    s = ctx.start_carnetd(args=["--read-database-url", ctx.read_url])
    want = month(ctx, ctx.server).raw
    wait_for(lambda: month(ctx, s).raw == want, "the cached month view")
    for _ in range(5):
        assert month(ctx, s).raw == want


def read_conns(ctx):
    return standby_sql(ctx, "select count(*) from pg_stat_activity where datname = %s and "
                            "application_name = 'carnetd-read'", (STANDBY,))[0][0]


def test_a_standby_that_goes_away_sends_reads_to_the_primary(ctx):
    name = ctx.sql1("select name from stores where id = %s", (ctx.paris,))["name"]
    wait_for(lambda: board_name(ctx.r, ctx.paris) == name + " (standby)", "a board read there")
    conns = read_conns(ctx)
    ctx.cluster.admin_exec('alter database "%s" allow_connections false' % STANDBY)
    try:
        ctx.cluster.admin_exec("select pg_terminate_backend(pid) from pg_stat_activity "
                               "where datname = '%s'" % STANDBY)
        # At once, every read answered, and by the primary.
        before = metric(ctx.r, 'carnet_db_read_queries_total{to="primary"}')
        for _ in range(20):
            assert board_name(ctx.r, ctx.paris) == name
            assert month(ctx, ctx.r).json["days"]
        assert metric(ctx.r, 'carnet_db_read_queries_total{to="primary"}') >= before + 40
        assert metric(ctx.r, "carnet_db_read_usable") == 0
    finally:
        ctx.cluster.admin_exec('alter database "%s" allow_connections true' % STANDBY)
    wait_for(lambda: board_name(ctx.r, ctx.paris) == name + " (standby)",
             "reads on the standby again")
    # Every connection back (each new one is measured afresh: the next tests need them settled).
    wait_for(lambda: read_conns(ctx) == conns, "every read connection back")


def test_a_standby_that_lags_sends_reads_to_the_primary(ctx):
    """Past --read-max-lag-ms (1 s here) behind the primary, reads go to the primary; once the
    standby has caught up, back to it."""
    name = ctx.sql1("select name from stores where id = %s", (ctx.paris,))["name"]
    wait_for(lambda: board_name(ctx.r, ctx.paris) == name + " (standby)", "a board read there")
    # The standby stops replaying here, and the primary goes on writing.
    lsn = ctx.sql1("select pg_current_wal_lsn()::text as l")["l"]
    standby_sql(ctx, "update fake.replay set lsn = %s", (lsn,))

    def primary_moves_on():
        ctx.sql("update stores set name = name where id = %s", (ctx.paris,))
        return board_name(ctx.r, ctx.paris) == name
    try:
        wait_for(primary_moves_on, "reads back on the primary", timeout=15)
        for _ in range(10):
            assert board_name(ctx.r, ctx.paris) == name
    finally:
        standby_sql(ctx, "update fake.replay set lsn = 'FFFFFFFF/FFFFFFFF'")
    wait_for(lambda: board_name(ctx.r, ctx.paris) == name + " (standby)",
             "reads on the standby again")


# ---- device records: read on the standby, audited on the primary ----

SERIAL = "F2LDEMO0PH13"


def audits(ctx, where="true", args=None):
    """(audit rows on the primary, audit rows on the standby) of device reads and searches."""
    q = ("select count(*) from audit_log where object_type = 'device' "
         "and action in ('read', 'search') and " + where)
    return ctx.sql1(q.replace("count(*)", "count(*) as n"), args)["n"], standby_sql(ctx, q, args)[0][0]


def staff_on(server, who="specialist"):
    c = Client(server.port)
    c.login(who + "@carnet.test", "carnet-demo")
    return c


def record_model(c):
    r = c.get("/api/devices/" + SERIAL)
    assert r.status == 200, r
    return r.json["device"]["model"]


def test_record_reads_are_read_on_the_standby_and_audited_on_the_primary(ctx):
    c = staff_on(ctx.r)
    model = ctx.sql1("select model from devices where serial = %s", (SERIAL,))["model"]
    wait_for(lambda: board_name(ctx.r, ctx.paris).endswith(" (standby)"), "a board read there")
    dev = str(ctx.sql1("select id from devices where serial = %s", (SERIAL,))["id"])
    before = audits(ctx)
    on_dev = audits(ctx, "object_id = %s", (dev,))
    routed = metric(ctx.r, 'carnet_db_read_queries_total{to="standby"}')
    assert record_model(c) == model + " (standby)"
    t = c.get("/api/devices/%s/trends" % SERIAL)
    assert t.status == 200 and t.json["serial"] == SERIAL, t
    s = c.get("/api/devices?q=" + SERIAL)
    assert s.status == 200, s
    assert [x["model"] for x in s.json["results"]] == [model + " (standby)"], s
    # Each read has its row on the primary, none on the standby (which here could take one).
    assert audits(ctx, "object_id = %s", (dev,)) == (on_dev[0] + 2, on_dev[1])
    assert audits(ctx) == (before[0] + 3, before[1])
    row = ctx.sql1("select staff_id, request_id from audit_log where object_type = 'device' "
                   "and action = 'search' order by id desc limit 1")
    assert row["staff_id"] == ctx.sql1("select id from staff where email = "
                                       "'specialist@carnet.test'")["id"]
    assert row["request_id"]
    assert metric(ctx.r, 'carnet_db_read_queries_total{to="standby"}') >= routed + 3
    apps = standby_sql(ctx, "select application_name, query from pg_stat_activity "
                            "where datname = %s", (STANDBY,))
    assert [a for a in apps if a[0] == "carnetd-read" and "device_" in a[1]], apps
    assert not [a for a in apps if a[0] == "carnetd"], apps
    # Without --read-database-url, the primary reads and audits in one call.
    plain = ctx.staff("specialist")
    assert record_model(plain) == model
    assert audits(ctx, "object_id = %s", (dev,)) == (on_dev[0] + 3, on_dev[1])


def test_a_refused_record_read_writes_nothing(ctx):
    c = staff_on(ctx.r)
    wait_for(lambda: board_name(ctx.r, ctx.paris).endswith(" (standby)"), "a board read there")
    before = audits(ctx)
    for path in ("/api/devices/NOSUCHDEV01", "/api/devices/NOSUCHDEV01/trends"):
        r = c.get(path)
        assert r.status == 404 and r.json["error"]["field"] == "serial", r
    r = c.get("/api/devices?q=%20%20")
    assert r.status == 422 and r.json["error"]["field"] == "q", r
    assert Client(ctx.r.port).get("/api/devices/" + SERIAL).status == 401
    assert audits(ctx) == before


def test_no_record_leaves_unless_its_audit_row_is_written(ctx):
    """A device the standby has and the primary has not: the read there succeeds, the audit on
    the primary refuses it, and the answer is the refusal, not the record."""
    c = staff_on(ctx.r)
    wait_for(lambda: board_name(ctx.r, ctx.paris).endswith(" (standby)"), "a board read there")
    before = audits(ctx)
    for path in ("/api/devices/STANDBYONLY1", "/api/devices/STANDBYONLY1/trends"):
        r = c.get(path)
        assert r.status == 404 and b"Ghost" not in r.raw, r
    assert audits(ctx) == before


def test_record_reads_go_to_the_primary_when_the_standby_is_down(ctx):
    c = staff_on(ctx.r)
    model = ctx.sql1("select model from devices where serial = %s", (SERIAL,))["model"]
    wait_for(lambda: record_model(c) == model + " (standby)", "a record read there")
    ctx.cluster.admin_exec('alter database "%s" allow_connections false' % STANDBY)
    try:
        ctx.cluster.admin_exec("select pg_terminate_backend(pid) from pg_stat_activity "
                               "where datname = '%s'" % STANDBY)
        n = ctx.sql1("select count(*) as n from audit_log where object_type = 'device' "
                     "and action = 'read'")["n"]
        for _ in range(10):
            assert record_model(c) == model
        assert ctx.sql1("select count(*) as n from audit_log where object_type = 'device' "
                        "and action = 'read'")["n"] == n + 10
    finally:
        ctx.cluster.admin_exec('alter database "%s" allow_connections true' % STANDBY)
    wait_for(lambda: record_model(c) == model + " (standby)", "record reads on the standby again")


def test_a_board_refetch_after_an_event_is_never_older_than_the_event(ctx):
    """The wall board refetches after every event it hears (board.js, ?after=<event id>): a
    standby that has not applied that event yet would show the board from before it (a call
    without its ticket), so the primary answers; a standby that has applied it still may."""
    name = ctx.sql1("select name from stores where id = %s", (ctx.paris,))["name"]
    wait_for(lambda: board_name(ctx.r, ctx.paris) == name + " (standby)", "a board read there")
    ctx.sql("insert into events (store_id, topic, type, payload) "
            "values (%s, floor_topic(%s), 'called', '{}')", (ctx.paris, ctx.paris))
    eid = ctx.sql1("select max(id) as id from events where topic = floor_topic(%s)",
                   (ctx.paris,))["id"]
    applied = standby_sql(ctx, "select coalesce(max(id), 0) from events "
                               "where topic = floor_topic(%s)", (ctx.paris,))[0][0]
    assert applied < eid
    c = Client(ctx.r.port)
    for _ in range(5):
        r = c.get("/api/stores/%d/board?after=%d" % (ctx.paris, eid))
        assert r.status == 200, r
        assert r.json["store_name"] == name and r.json["last_event_id"] == eid, r.json
    r = c.get("/api/stores/%d/board?after=%d" % (ctx.paris, applied))
    assert r.status == 200 and r.json["store_name"] == name + " (standby)", r
    assert board_name(ctx.r, ctx.paris) == name + " (standby)"
    for bad in ("-1", "x", "1e3", "99999999999999999999"):
        r = c.get("/api/stores/%d/board?after=%s" % (ctx.paris, bad))
        assert r.status == 400, (bad, r)
    r = c.get("/api/stores/999999/board?after=%d" % eid)
    assert r.status == 404, r


def test_a_read_that_times_out_on_the_standby_is_not_sent_again(ctx):
    """A statement timeout on the standby answers 503 timeout: sent again to the primary, it
    would cost the deadline twice and put the heaviest reads on the primary."""
    import psycopg2
    s = ctx.start_carnetd(args=["--read-database-url", ctx.read_url, "--avail-cache", "0",
                                "--read-max-lag-ms", "1000", "--statement-timeout-ms", "500"])
    name = ctx.sql1("select name from stores where id = %s", (ctx.paris,))["name"]
    wait_for(lambda: board_name(s, ctx.paris) == name + " (standby)", "a board read there")
    holder = psycopg2.connect(ctx.standby_url)
    try:
        with holder.cursor() as cur:
            cur.execute("lock table stores in access exclusive mode")
        before = metric(s, 'carnet_db_read_queries_total{to="primary"}')
        r = Client(s.port).get("/api/stores/%d/board" % ctx.paris)
        assert r.status == 503, r
        assert metric(s, 'carnet_db_read_queries_total{to="primary"}') == before
    finally:
        holder.rollback()
        holder.close()
    assert board_name(s, ctx.paris) == name + " (standby)"


def test_a_new_read_connection_measures_its_lag_again(ctx):
    """The read pool reconnects (here to a "standby" that has replayed nothing, as another
    standby behind the replica port may be): the lag measured on the old connection does not
    vouch for the new one, so reads go to the primary until a poll says otherwise, even with a
    bound of 30 s that the old measure would still meet."""
    s = ctx.start_carnetd(args=["--read-database-url", ctx.read_url, "--avail-cache", "0",
                                "--read-max-lag-ms", "30000"])
    name = ctx.sql1("select name from stores where id = %s", (ctx.paris,))["name"]
    wait_for(lambda: board_name(s, ctx.paris) == name + " (standby)", "a board read there")
    conns = read_conns(ctx)
    standby_sql(ctx, "update fake.replay set lsn = '0/0'")
    try:
        ctx.cluster.admin_exec("select pg_terminate_backend(pid) from pg_stat_activity "
                               "where datname = '%s' and application_name = 'carnetd-read'"
                               % STANDBY)
        wait_for(lambda: board_name(s, ctx.paris) == name, "reads on the primary", timeout=10)
        for _ in range(10):
            assert board_name(s, ctx.paris) == name
    finally:
        standby_sql(ctx, "update fake.replay set lsn = 'FFFFFFFF/FFFFFFFF'")
    wait_for(lambda: board_name(s, ctx.paris) == name + " (standby)", "reads on the standby again")
    wait_for(lambda: read_conns(ctx) == conns, "every read connection back")
