"""Integration test harness: a throwaway PostgreSQL cluster, real carnetd processes, HTTP.

One cluster per run. Migrations are applied once into a template database; every test module
gets its own database cloned from it (CREATE DATABASE ... TEMPLATE), so modules cannot see each
other's rows. A module's tests share one carnetd unless they start more with ctx.start_carnetd().

A crash cannot hide: after every test (and when the module ends) run.py calls
ctx.check_servers(), which fails the test when a carnetd of the module has exited other than by
its own orderly stop (exit code 0), or when its log holds a sanitizer report. A test that means
to SIGKILL a carnetd says so: ctx.start_carnetd(killed=True).
"""
import base64
import ctypes
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import time
import urllib.parse

import psycopg2
import psycopg2.extras

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG = os.path.join(ROOT, ".tools", "pg.sh")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# What ASan/UBSan/LSan write when they find something; any of them in a log fails the test.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
# How long an orderly stop (SIGTERM) may take before it counts as a hang.
STOP_TIMEOUT_S = 20
# Not a performance bound: how long a wait on a condition may take before it counts as a hang.
HANG_GUARD_S = 30


def wait_for(cond, what, timeout=HANG_GUARD_S, interval=0.02):
    """Polls cond() until it returns something true and returns that; fails after timeout (a
    hang guard, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("hang guard: no %s within %ds" % (what, timeout))
        time.sleep(interval)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def error(self):
        return (self.json or {}).get("error") or {}

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class Client:
    """An HTTP client for one carnetd; remembers a staff session (cookie + CSRF) once logged in."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None
        self.bearer = None
        self.source = None  # a loopback address to connect from (127.0.0.2 ...): another client

    def request(self, method, path, body=None, headers=None, raw=None, timeout=30):
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if self.cookie:
            h.setdefault("Cookie", self.cookie)
            if self.csrf and method not in ("GET", "HEAD"):
                h.setdefault("X-CSRF-Token", self.csrf)
        if self.bearer:
            h.setdefault("Authorization", "Bearer " + self.bearer)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout,
                                          source_address=(self.source, 0) if self.source else None)
        try:
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            resp = Response(r.status, r.getheaders(), r.read())
            if resp.header("Content-Type") and "json" in resp.header("Content-Type"):
                try:
                    collect_tokens(json.loads(resp.raw))
                except ValueError:
                    pass
            return resp
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, body=None, **kw):
        return self.request("DELETE", path, body=body, **kw)

    def login(self, email, password):
        r = self.post("/api/auth/login", {"email": email, "password": password})
        if r.status != 200:
            raise AssertionError("login %s failed: %r" % (email, r))
        cookie = r.header("Set-Cookie")
        self.cookie = cookie.split(";", 1)[0]
        self.csrf = r.json["csrf"]
        return r.json


def data_key_file(workdir):
    """The run's data key (seal.h): 32 random bytes, readable by its owner only, created once per
    work folder and shared by every carnetd of the run, as `make run` does under var/."""
    path = os.path.join(workdir, "data.key")
    if not os.path.exists(path):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(os.urandom(32))
    return path


# Every private token a module's tests were handed (replies under a "...token" key, links in
# delivered messages): at the module's end none may be in a carnetd log or in the database in
# clear (Context.check_no_clear_tokens).
MINTED = set()
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
LINK_RE = re.compile(r"/#([A-Za-z0-9_-]{43})(?![A-Za-z0-9_-])")


def collect_tokens(obj):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k.endswith("token") and isinstance(v, str) and TOKEN_RE.match(v):
                MINTED.add(v)
            else:
                collect_tokens(v)
    elif isinstance(obj, list):
        for v in obj:
            collect_tokens(v)


def login_key(workdir):
    """The key carnetd tags sign-in attempts' accounts with (auth_login_key: derived from the
    run's data key), as SQL's login_mac(email, key) takes it: hex."""
    import hashlib
    with open(data_key_file(workdir), "rb") as f:
        key = f.read()
    if len(key) != 32:
        key = bytes.fromhex(key.strip().decode())
    blind = hashlib.blake2b(b"carnet-blind-index-v1", digest_size=32, key=key).digest()
    return hashlib.blake2b(b"login-attempts:key", digest_size=32, key=blind).hexdigest()


SEALED_RE = re.compile(r"\{\{(sealed|pd):([0-9a-f]{16}):([A-Za-z0-9_-]+)\}\}")
PD_RE = re.compile(r"^\{\{pd:[0-9a-f]{16}:[A-Za-z0-9_-]+\}\}$")
_sodium = None


def open_sealed(text, workdir):
    """`text` with every sealed marker (server/seal.c) opened with the run's data key, as the
    outbox does when it delivers: libsodium's crypto_secretbox through ctypes, so a test checks
    that a message holds the very link the customer was given without the database holding it."""
    global _sodium
    if _sodium is None:
        _sodium = ctypes.CDLL("libsodium.so.23")
        assert _sodium.sodium_init() >= 0
    with open(data_key_file(workdir), "rb") as f:
        key = f.read()
    if len(key) != 32:
        key = bytes.fromhex(key.strip().decode())

    def one(m):
        raw = base64.urlsafe_b64decode(m.group(3) + "=" * (-len(m.group(3)) % 4))
        nonce, box = raw[:24], raw[24:]
        out = ctypes.create_string_buffer(len(box))
        if m.group(1) == "sealed":  # a link: secretbox
            rc = _sodium.crypto_secretbox_open_easy(out, box, ctypes.c_ulonglong(len(box)),
                                                    nonce, key)
        else:  # personal data: XChaCha20-Poly1305 with its associated data
            ad = b"carnet-pd-v1"
            rc = _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                out, None, None, box, ctypes.c_ulonglong(len(box)), ad,
                ctypes.c_ulonglong(len(ad)), nonce, key)
        assert rc == 0, "a sealed marker does not open with the run's key"
        return out.raw[:len(box) - 16].decode()
    return SEALED_RE.sub(one, text)


class Carnetd:
    def __init__(self, binary, url, logdir, env=None, args=None, port=None, killed=False,
                 refuses_start=False, migrate_url=None):
        self.port = port or free_port()
        # killed: the test will SIGKILL this process on purpose, so exit -9 is not a crash.
        self.killed = killed
        # refuses_start: the test gives a bad configuration on purpose, so exiting with an error
        # code (not a signal: that is still a crash) is the expected answer.
        self.refuses_start = refuses_start
        self.reported = False   # its exit problem has already failed a test
        self.log_checked = 0    # bytes of its log already scanned for sanitizer reports
        self.log_path = os.path.join(logdir, "carnetd-%d.log" % self.port)
        self.outbox_dir = os.path.join(logdir, "outbox-%d" % self.port)
        e = dict(os.environ)
        e.pop("CARNET_MIGRATE_URL", None)
        if migrate_url:
            # Serving as `url`'s role, migrating at start-up as the owner (README, Database roles).
            e["CARNET_MIGRATE_URL"] = migrate_url
        e.update({
            "DATABASE_URL": url,
            "CARNET_LISTEN": "127.0.0.1:%d" % self.port,
            "CARNET_WEB_ROOT": os.path.join(ROOT, "web"),
            "CARNET_SCHEMA_DIR": os.path.join(ROOT, "schema"),
            "CARNET_OUTBOX_DIR": self.outbox_dir,
            "CARNET_PUBLIC_URL": "http://127.0.0.1:%d" % self.port,
            "CARNET_JOB_INTERVAL_MS": "200",
            "CARNET_DATA_KEY_FILE": data_key_file(logdir),
            # No readiness drain before a stop unless a test asks (test_readiness does).
            "CARNET_DRAIN_DELAY_MS": "0",
        })
        e.update(env or {})
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([binary] + list(args or []), env=e, stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=ROOT)
        self.client = Client(self.port)

    def wait_ready(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("carnetd exited with %s; log: %s" %
                                     (self.proc.returncode, self.read_log()[-2000:]))
            try:
                if self.client.get("/healthz", timeout=2).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("carnetd not ready; log: %s" % self.read_log()[-2000:])

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def exit_problem(self):
        """Why this carnetd's exit is a failure, or None: still running, exited 0 (its own
        orderly stop) or SIGKILLed by a test that declared it."""
        rc = self.proc.poll()
        if rc is None or rc == 0 or (rc == -signal.SIGKILL and self.killed):
            return None
        if rc > 0 and self.refuses_start:
            return None
        how = ("killed by signal %d" % -rc) if rc < 0 else ("exit code %d" % rc)
        return "carnetd on port %d exited (%s); log %s:\n%s" % (
            self.port, how, self.log_path, self.read_log()[-4000:])

    def sanitizer_report(self):
        """A sanitizer report written to the log since the last call, or None."""
        text = self.read_log()
        new, self.log_checked = text[self.log_checked:], len(text)
        for mark in SANITIZER_MARKS:
            i = new.find(mark)
            if i >= 0:
                return "sanitizer report in %s:\n%s" % (self.log_path, new[max(0, i - 200):][:6000])
        return None

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Stops carnetd and asserts it exited 0 (or -9 when sig is SIGKILL and the test said
        killed=True). Returns the exit code."""
        hung = False
        if self.proc.poll() is None:
            if sig == signal.SIGKILL and not self.killed:
                raise AssertionError("SIGKILL of a carnetd not started with killed=True")
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                hung = True
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.flush()
            self.log.close()
        if hung:
            self.reported = True
            raise AssertionError("carnetd on port %d did not stop within %ds of signal %d" %
                                 (self.port, timeout, sig))
        problem = self.exit_problem()
        if problem and not self.reported:
            self.reported = True
            raise AssertionError(problem)
        return self.proc.returncode


# The roles .tools/pg.sh makes in every cluster: the owner of the databases and everything in
# them (runs the migrations), and the role carnetd serves as (may only execute the API's
# functions). The superuser of self.url stays the tests' own, for set-up and inspection.
OWNER_ROLE = "carnet_owner"
APP_ROLE = "carnet_app"


class Cluster:
    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "pg")
        env = dict(os.environ, CARNET_PG_FSYNC="off")
        self.url = subprocess.check_output([PG, "start", self.dir], env=env).decode().strip()
        self.env = env

    def url_for(self, dbname, role=None):
        """The URL of database `dbname` as `role` (default: the superuser)."""
        u = urllib.parse.urlsplit(self.url)
        netloc = u.netloc if role is None else role + "@" + u.netloc.split("@", 1)[-1]
        return urllib.parse.urlunsplit((u.scheme, netloc, "/" + dbname, u.query, u.fragment))

    def create_database(self, dbname, template=None):
        """A new database `dbname` (dropped first) owned by the owner role, so that the owner can
        migrate it; from `template` when given."""
        self.admin_exec('drop database if exists "%s"' % dbname)
        self.admin_exec('create database "%s"%s owner %s' % (
            dbname, ' template "%s"' % template if template else "", OWNER_ROLE))
        return self.url_for(dbname)

    def admin_exec(self, sql):
        conn = psycopg2.connect(self.url_for("postgres"))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def restart(self, mode="fast"):
        """mode "immediate" is a crash: every backend dies at once, none finishes its query."""
        subprocess.check_call([PG, "restart", self.dir],
                              env=dict(self.env, CARNET_PG_STOP_MODE=mode),
                              stdout=subprocess.DEVNULL)

    def stop(self):
        subprocess.call([PG, "stop", self.dir], env=self.env)

    def start(self):
        subprocess.check_call([PG, "start", self.dir], env=self.env, stdout=subprocess.DEVNULL)

    def destroy(self):
        subprocess.call([PG, "destroy", self.dir], env=self.env)


# A statement that may change what auth_session answers (Context.auth_settle).
AUTH_WRITE = re.compile(r"^\s*(insert|update|delete)\b.*\b(sessions|staff|staff_roles)\b",
                        re.I | re.S)


class Context:
    """What a test receives: its module's database, a default carnetd, and helpers."""

    def __init__(self, run, module_name):
        self.run = run
        self.cluster = run.cluster
        MINTED.clear()
        self.dbname = "t_" + module_name
        # self.url is the superuser's (set-up, inspection); carnetd serves as the app role and
        # migrates as the owner, as in production.
        self.url = self.cluster.create_database(self.dbname, template="carnet_template")
        self.owner_url = self.cluster.url_for(self.dbname, OWNER_ROLE)
        self.app_url = self.cluster.url_for(self.dbname, APP_ROLE)
        self._db = None
        self.servers = []
        self._server = None

    @property
    def db(self):
        if self._db is None or self._db.closed:
            self._db = psycopg2.connect(self.url)
            self._db.autocommit = True
        return self._db

    def sql(self, query, args=None):
        """Runs one statement; returns all rows (as dicts) when it returns any. A write to
        sessions, staff or staff_roles is followed by auth_settle()."""
        try:
            with self.db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(query, args)
                rows = cur.fetchall() if cur.description else []
        except psycopg2.OperationalError:
            self._db = None
            raise
        if AUTH_WRITE.match(query) and self.db.autocommit:
            self.auth_settle()
        return rows

    def auth_settle(self, timeout=5):
        """Waits until every running carnetd of the module has heard every carnet_auth
        announcement committed so far, so that a change made straight in SQL to a session, a
        staff member or roles is seen by the next request, as if nothing were cached
        (server/authcache.c; LISTEN/NOTIFY is asynchronous). The marker is the announcement
        'all', which arrives after every one committed before it. A carnetd that is not
        listening asks the database anyway: it is not waited for."""
        def flushes(s):
            try:
                m = re.search(r"^carnet_auth_cache_flushes_total (\d+)$",
                              s.client.get("/metrics", timeout=5).raw.decode(), re.M)
            except OSError:
                return None
            return int(m.group(1)) if m else None

        live = [s for s in self.servers
                if s.proc.poll() is None and "listening on carnet_auth" in s.read_log()]
        before = [(s, flushes(s)) for s in live]
        if not any(n is not None for _, n in before):
            return
        with self.db.cursor() as cur:
            cur.execute("select pg_notify('carnet_auth', 'all')")
        deadline = time.time() + timeout
        for s, n in before:
            while n is not None and time.time() < deadline:
                now = flushes(s)
                if now is None or now > n:
                    break
                time.sleep(0.005)

    def sql1(self, query, args=None):
        rows = self.sql(query, args)
        return rows[0] if rows else None

    def delivered(self, outbox_id, timeout=HANG_GUARD_S):
        """The message `outbox_id` as the file sink delivered it (subject, body, sms, to...), once
        its row is sent: after delivery the database keeps only its metadata."""
        def find():
            if self.sql1("select status from outbox where id = %s", (outbox_id,))["status"] \
                    != "sent":
                return None
            for s in self.servers:
                d = s.outbox_dir
                for name in (os.listdir(d) if os.path.isdir(d) else ()):
                    if name.startswith("%d-" % outbox_id) and name.endswith(".json"):
                        with open(os.path.join(d, name)) as f:
                            return json.load(f)
            return None
        return wait_for(find, "delivery of message %d" % outbox_id, timeout)

    def delivered_by(self, servers, msg):
        """The files these carnetd wrote for outbox row `msg` (each writes into its own folder)
        to its recipient: one per delivery, so a message sent twice shows as two."""
        docs = []
        for s in servers:
            path = os.path.join(s.outbox_dir, "%d-%s.json" % (msg["id"], msg["kind"]))
            if os.path.exists(path):
                with open(path) as f:
                    docs.append(json.load(f))
        return [d for d in docs if d["to"] == self.opened(msg["recipient"])]

    def message_body(self, outbox_id):
        """What the customer reads (or will read) in message `outbox_id`: the delivered text once
        it is sent, else its queued body with the seals opened (which must hold no link in
        clear: a queued link is sealed)."""
        row = self.sql1("select status, body from outbox where id = %s", (outbox_id,))
        if row["status"] in ("sent", "sending"):
            return self.delivered(outbox_id)["body"]
        assert not re.search(r"/#[A-Za-z0-9_-]{43}\b", row["body"]), row["body"]
        return self.opened(row["body"])

    def check_no_clear_tokens(self):
        """Fails when a token this module's tests were handed, or one a delivered message
        carried, is written in a carnetd log or anywhere in the database (a pg_dump of it)."""
        for srv in self.servers:
            d = srv.outbox_dir
            for name in (os.listdir(d) if os.path.isdir(d) else ()):
                if name.endswith(".json"):
                    with open(os.path.join(d, name)) as f:
                        MINTED.update(LINK_RE.findall(f.read()))
        if not MINTED:
            return 0
        pg_dump = "/usr/lib/postgresql/15/bin/pg_dump"
        dump = subprocess.run([pg_dump if os.path.exists(pg_dump) else "pg_dump", "-d", self.url],
                              capture_output=True, check=True).stdout.decode()
        places = [("the database (pg_dump)", dump)]
        places += [("log " + srv.log_path, srv.read_log()) for srv in self.servers]
        leaks = ["%s...: %s" % (t[:6], where) for t in sorted(MINTED) for where, text in places
                 if t in text]
        assert not leaks, "tokens in clear:\n" + "\n".join(leaks)
        return len(MINTED)

    def login_key(self):
        return login_key(self.run.workdir)

    def opened(self, text):
        """`text` (an outbox subject, body, sms or link) as it will be delivered."""
        return open_sealed(text, self.run.workdir)

    def blind(self, kind, value):
        """The blind index seal_blind(0, kind, value) computes (server/seal.c): keyed BLAKE2b
        of the normalised value, under a key derived from the run's data key."""
        import hashlib
        with open(data_key_file(self.run.workdir), "rb") as f:
            key = f.read()
        if len(key) != 32:
            key = bytes.fromhex(key.strip().decode())
        bkey = hashlib.blake2b(b"carnet-blind-index-v1", digest_size=32, key=key).digest()
        if kind == "email":
            norm = "".join(c.lower() for c in value if not c.isspace())
        else:
            norm = "".join(c for c in value if not (c.isspace() or c in ".-()"))
        return hashlib.blake2b(("%s:%s" % (kind, norm)).encode(), digest_size=32,
                               key=bkey).hexdigest()

    def keyed(self, label, value):
        """What seal_keyed(label, value) computes (server/seal.c): keyed BLAKE2b of
        "label:value" under the blind-index key of the run's data key."""
        import hashlib
        with open(data_key_file(self.run.workdir), "rb") as f:
            key = f.read()
        if len(key) != 32:
            key = bytes.fromhex(key.strip().decode())
        bkey = hashlib.blake2b(b"carnet-blind-index-v1", digest_size=32, key=key).digest()
        return hashlib.blake2b(("%s:%s" % (label, value)).encode(), digest_size=32,
                               key=bkey).hexdigest()

    def is_pd(self, value):
        """True when `value` is one personal-data marker (ciphertext at rest)."""
        return isinstance(value, str) and bool(PD_RE.match(value))

    def sealed_link(self, text, token):
        """Asserts that `text` holds `token` only sealed: not in clear, and in clear once opened
        with the data key. Returns the opened text."""
        assert token not in text, "a live link rests in the database in clear: %s" % text
        opened = self.opened(text)
        assert token in opened, (token, opened)
        return opened

    # ---- "today" in a store's time zone (never the machine's date, never now() + N minutes) --

    def store_today(self, store):
        """The store's local date (its time zone from the stores table), a datetime.date."""
        return self.sql1("select (now() at time zone timezone)::date as d from stores"
                         " where id = %s", (store,))["d"]

    def store_noon(self, store, days=0):
        """Local noon of the store's day `days` after its local today, as a timestamptz: a time
        that is on that local day whatever the hour the suite runs (23:55, 00:05...)."""
        return self.sql1("select (((now() at time zone timezone)::date + %s) + time '12:00')"
                         " at time zone timezone as t from stores where id = %s",
                         (days, store))["t"]

    def checkin_soon(self, store):
        """A start time that is both inside the default check-in window (30 minutes before to
        15 after the start) and on the store's local today, at any hour: ten minutes ahead, or
        ten minutes ago when ten minutes ahead is already tomorrow there (a run at 23:55)."""
        return self.sql1("select case when ((now() + interval '10 minutes') at time zone timezone)"
                         "::date = (now() at time zone timezone)::date"
                         " then now() + interval '10 minutes' else now() - interval '10 minutes'"
                         " end as t from stores where id = %s", (store,))["t"]

    def clear_of_midnight(self, store, minutes=3):
        """Waits, when the store's local midnight is less than `minutes` away, until just after
        it: a journey that books "today" and then watches today's line must not see the day turn
        under it (CI once ran the floor journey at 23:58 in Paris)."""
        left = self.sql1("select extract(epoch from (((now() at time zone timezone)::date + 1)"
                         " - (now() at time zone timezone)))::float as s from stores where id = %s",
                         (store,))["s"]
        if left < minutes * 60:
            time.sleep(left + 2)

    def lock_waiters(self, like=None):
        """Backends of this module's database waiting on a lock (wait_event_type = 'Lock'),
        optionally only those whose query contains `like`."""
        return self.sql1("select count(*) as n from pg_stat_activity"
                         " where datname = current_database() and wait_event_type = 'Lock'"
                         " and (%s::text is null or query like '%%' || %s || '%%')",
                         (like, like))["n"]

    def wait_lock_waiters(self, n=1, like=None):
        """Waits until at least n backends wait on a lock: a request is then blocked in SQL."""
        return wait_for(lambda: self.lock_waiters(like) >= n,
                        "%d backend(s) waiting on a lock" % n)

    def seed_demo(self):
        """Loads schema/seed/*.sql in order (each is idempotent), as `make run` does."""
        seed = os.path.join(ROOT, "schema", "seed")
        for name in sorted(os.listdir(seed)):
            if name.endswith(".sql"):
                with open(os.path.join(seed, name)) as f:
                    self.sql(f.read())

    def start_carnetd(self, env=None, args=None, wait=True, port=None, killed=False,
                      refuses_start=False):
        s = Carnetd(self.run.binary, self.app_url, self.run.workdir, env=env, args=args, port=port,
                    killed=killed, refuses_start=refuses_start, migrate_url=self.owner_url)
        self.servers.append(s)
        if wait:
            s.wait_ready()
        return s

    @property
    def server(self):
        """The module's shared carnetd. One that crashed is not quietly replaced: the first
        access after the crash raises (and so fails the test); once the crash has failed a
        test, the next access starts a fresh carnetd so one crash fails one test."""
        s = self._server
        if s is not None and s.proc.poll() is not None:
            problem = s.exit_problem()
            if problem and not s.reported:
                s.reported = True
                raise AssertionError(problem)
            s = None
        if s is None:
            self._server = self.start_carnetd()
        return self._server

    def check_servers(self):
        """Raises AssertionError when a carnetd of this module crashed or its log holds a
        sanitizer report since the last check. Each problem is reported once."""
        problems = []
        for s in self.servers:
            report = s.sanitizer_report()
            if report:
                problems.append(report)
            problem = s.exit_problem()
            if problem and not s.reported:
                s.reported = True
                problems.append(problem)
        if problems:
            raise AssertionError("\n\n".join(problems))

    def client(self):
        return Client(self.server.port)

    def staff(self, who, password="carnet-demo"):
        """A client signed in to the module's carnetd as `who`: an email, or a demo account's
        name before "@carnet.test" (schema/seed: "tech", "paris-manager" ...), whose password
        is carnet-demo."""
        c = self.client()
        c.login(who if "@" in who else who + "@carnet.test", password)
        return c

    def close(self):
        """Stops every carnetd of the module; raises AssertionError when one of them did not
        stop cleanly (exit code 0) or left a sanitizer report (a leak report at exit)."""
        problems = []
        for s in self.servers:
            try:
                s.stop()
            except AssertionError as e:
                problems.append(str(e))
        if self._db is not None and not self._db.closed:
            self._db.close()
        try:
            self.check_servers()
        except AssertionError as e:
            problems.append(str(e))
        if problems:
            raise AssertionError("\n\n".join(problems))
