"""Personal data at rest (issue 12, point 4): what carnetd seals, that the demo database holds
none of its customers' names, emails or phones in clear, that clear writes are sealed by the job
with their blind index, and a data-key rotation while a carnetd serves."""
import hashlib
import os
import subprocess
import time

from harness import Client, data_key_file, wait_for

# The demo customers of schema/seed (a device owner and a message thread).
DEMO = ["Claire Martin", "claire.martin@example.com", "+33 6 48 27 19 05", "+33648271905",
        "Camille Demo", "camille@example.test"]


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]


def _key(path):
    with open(path, "rb") as f:
        raw = f.read()
    return raw if len(raw) == 32 else bytes.fromhex(raw.strip().decode())


def kid(key):
    """The id carnetd gives a data key (server/seal.c)."""
    return hashlib.blake2b(b"carnet-data-key-id", digest_size=8, key=key).hexdigest()


def blind(key, kind, value):
    """The blind index carnetd computes (server/seal.c): keyed BLAKE2b under a key derived from
    the data key, of the normalised value."""
    bkey = hashlib.blake2b(b"carnet-blind-index-v1", digest_size=32, key=key).digest()
    if kind == "email":
        norm = "".join(c.lower() for c in value if not c.isspace())
    else:
        norm = "".join(c for c in value if not c.isspace() and c not in ".-()")
    return hashlib.blake2b((kind + ":" + norm).encode(), digest_size=32, key=bkey).hexdigest()


def _dump(ctx):
    pg_dump = "/usr/lib/postgresql/15/bin/pg_dump"
    return subprocess.run([pg_dump if os.path.exists(pg_dump) else "pg_dump", "-d", ctx.url],
                          capture_output=True, check=True).stdout.decode()


def _columns(ctx):
    return ctx.sql("select tbl, col, typ, mode from pd_columns order by tbl, col")


def _markers_not_under(ctx, key_id):
    """(table, column, id) of every personal value or embedded marker not sealed under key_id."""
    bad = []
    for c in _columns(ctx):
        if c["mode"] == "value":
            rows = ctx.sql("select id from %s where %s is not null and %s <> '' "
                           "and %s not like %%s" % (c["tbl"], c["col"], c["col"], c["col"]),
                           ("{{pd:%s:%%" % key_id,))
        else:
            rows = ctx.sql("select id from %s where %s::text ~ %%s" % (c["tbl"], c["col"]),
                           (r"\{\{(sealed|pd):(?!%s:)" % key_id,))
        bad += [(c["tbl"], c["col"], r["id"]) for r in rows]
    return bad


def test_the_demo_database_holds_no_customer_in_clear(ctx):
    s = ctx.server  # its start-up pass seals what the seed wrote in clear
    dump = _dump(ctx)
    found = [(d, [line[:200] for line in dump.splitlines() if d in line][:3])
             for d in DEMO if d in dump]
    assert not found, "in clear in pg_dump: %s" % found
    assert "{{pd:" in dump
    # Everything listed is sealed under the run's key, and the blind indexes are filled.
    key = _key(data_key_file(ctx.run.workdir))
    assert _markers_not_under(ctx, kid(key)) == []
    owner = ctx.sql1("select o.email_bi, o.phone_bi from device_owners o join devices d "
                     "on d.id = o.device_id where d.serial = 'F2LDEMO0PH13'")
    assert owner["email_bi"] == blind(key, "email", "Claire.Martin@example.com ")
    assert owner["phone_bi"] == blind(key, "phone", "+33 6 48 27 19 05")
    # Staff still read Claire's name and contact through the API (opened on the way out).
    c = Client(s.port)
    c.login("manager@carnet.test", "carnet-demo")
    r = c.get("/api/devices/F2LDEMO0PH13")
    assert r.status == 200, r
    assert "Claire Martin" in r.raw.decode() and "claire.martin@example.com" in r.raw.decode(), r


def test_a_clear_write_is_sealed_by_the_job_with_its_blind_index(ctx):
    ctx.server
    key = _key(data_key_file(ctx.run.workdir))
    sid = ctx.sql1("insert into standby (store_id, service_id, day, name, email, phone, "
                   "token_hash) select %s, id, current_date + 3, 'Nadia Clear', "
                   "'Nadia.Clear@Example.test', '+33 7 00 00 00 01', repeat('9', 64) "
                   "from services where store_id = %s limit 1 returning id",
                   (ctx.paris, ctx.paris))["id"]
    try:
        row = wait_for(lambda: ctx.sql1("select * from standby where id = %s and name like "
                                        "'{{pd:%%' and email_bi is not null", (sid,)),
                       "the job to seal the clear row", timeout=20)
    except AssertionError:
        raise AssertionError(ctx.server.read_log()[-3000:])
    assert row["email"].startswith("{{pd:%s:" % kid(key)), row
    assert "Nadia" not in str(row) and "Example.test" not in str(row), row
    assert row["email_bi"] == blind(key, "email", "nadia.clear@example.test")
    assert row["phone_bi"] == blind(key, "phone", "+33700000001")
    assert ctx.opened(row["name"]) == "Nadia Clear"


def test_a_marker_under_a_key_nobody_holds_is_left_alone(ctx):
    # Sealing it again would bury it for good (think of a server started with an old key):
    # it stays as it is, shows as unreadable, and does not hold up the rest.
    ctx.server
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, status) select %s, "
            "'walk_in', current_date, 777, '{{pd:0000000000000000:AAAA}}', 'waiting'",
            (ctx.paris,))
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, status) select %s, "
            "'walk_in', current_date, 778, 'Olga Behind', 'waiting'", (ctx.paris,))
    wait_for(lambda: ctx.sql1("select 1 from visits where ticket = 778 and name like '{{pd:%%'"),
             "the job to seal the row behind it", timeout=20)
    assert ctx.sql1("select name from visits where ticket = 777")["name"] == \
        "{{pd:0000000000000000:AAAA}}"
    ctx.sql("delete from visits where ticket in (777, 778)")


def test_rotation_while_serving(ctx):
    old = data_key_file(ctx.run.workdir)
    new = os.path.join(ctx.run.workdir, "rotated.key")
    fd = os.open(new, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32).hex().encode() + b"\n")
    new_key, old_key = _key(new), _key(old)
    for srv in ctx.servers:
        srv.stop()
    ctx._server = None
    # 1. The servers take the new key, keeping the old one to open what it sealed.
    s = ctx.start_carnetd(env={"CARNET_DATA_KEY_FILE": new, "CARNET_OLD_DATA_KEY_FILE": old})
    c = Client(s.port)
    c.login("manager@carnet.test", "carnet-demo")
    assert "Claire Martin" in c.get("/api/devices/F2LDEMO0PH13").raw.decode()
    # 2. The rotation re-seals everything, in batches, while that server serves.
    p = subprocess.Popen([ctx.run.binary, "--rotate-data-key", new, "--data-key-file", old,
                          "--database-url", ctx.url, "--log-level", "info"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    reads = 0
    while p.poll() is None:
        r = c.get("/api/devices/F2LDEMO0PH13")
        assert r.status == 200 and "Claire Martin" in r.raw.decode(), r
        reads += 1
        time.sleep(0.02)
    out = p.stdout.read().decode()
    assert p.returncode == 0, out
    assert "values sealed again under data key %s" % kid(new_key) in out, out
    left = _markers_not_under(ctx, kid(new_key))
    assert left == [], left
    assert not ctx.sql("select 1 from link_stock where sealed not like %s",
                       ("{{sealed:%s:%%" % kid(new_key),))
    owner = ctx.sql1("select o.email_bi from device_owners o join devices d "
                     "on d.id = o.device_id where d.serial = 'F2LDEMO0PH13'")
    assert owner["email_bi"] == blind(new_key, "email", "claire.martin@example.com")
    s.stop()
    # 3. The old key can go: a server with the new key alone reads everything.
    s = ctx.start_carnetd(env={"CARNET_DATA_KEY_FILE": new})
    c = Client(s.port)
    c.login("manager@carnet.test", "carnet-demo")
    r = c.get("/api/devices/F2LDEMO0PH13")
    assert "Claire Martin" in r.raw.decode() and "(unreadable)" not in r.raw.decode(), r
    s.stop()
    # ...while one with only the old key cannot open the data any more, and says so.
    s = ctx.start_carnetd(env={"CARNET_DATA_KEY_FILE": old, "CARNET_NO_JOBS": "1"})
    c = Client(s.port)
    c.login("manager@carnet.test", "carnet-demo")
    r = c.get("/api/devices/F2LDEMO0PH13")
    assert r.status == 200 and "(unreadable)" in r.raw.decode(), r
    assert "could not be opened" in s.read_log()
    s.stop()
    assert reads > 0
    assert old_key != new_key


def test_rotation_refuses_a_bad_new_key(ctx):
    bad = os.path.join(ctx.run.workdir, "bad-rotation.key")
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(os.urandom(32))
    os.chmod(bad, 0o644)
    r = subprocess.run([ctx.run.binary, "--rotate-data-key", bad, "--data-key-file",
                        data_key_file(ctx.run.workdir), "--database-url", ctx.url],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "readable by others" in r.stdout + r.stderr, r
