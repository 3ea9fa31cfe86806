#!/usr/bin/env python3
"""`make test-cluster`: failover, switchover, a rolling restart and SSE across a failover, on a
cluster of its own (.tools/cluster.sh start in a temporary directory: etcd, pg1 and pg2 under
Patroni with synchronous replication, HAProxy, two carnetd).

Every scenario runs a write load through HAProxy's public port: bookings, staff check-ins and
diagnostics, each with its own Idempotency-Key, retried with that key on 503 (after Retry-After,
at most 0.5 s, so the recovery time is measured finely) or on a connection error, as a tablet
does. A write is acknowledged when it got a 2xx; afterwards
every acknowledged write must be in the database (0 lost). A single request that takes longer than
HANG_S counts as hung. Any answer other than 2xx, or 503 with Retry-After, fails the scenario.

Usage: tests/cluster/run.py [--carnetd build/carnetd] [SCENARIO-SUBSTRING...]
"""
import argparse
import atexit
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.request

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "it"))
from harness import Client  # noqa: E402

CLUSTER_SH = os.path.join(ROOT, ".tools", "cluster.sh")
HANG_S = 20            # one HTTP request longer than this is a hang
RECOVERY_MAX_S = 15    # writes must succeed again within this after a failover
HEALTHY_TIMEOUT_S = 90  # a guard: both nodes back, one leading, the other its sync standby
LOAD_THREADS = 4
PASSWORD = "carnet-demo"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def http_json(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.loads(e.read() or b"null")
        except ValueError:
            return e.code, None
    except (OSError, ValueError):
        return None, None


class Cluster:
    def __init__(self, carnetd):
        self.tmp = tempfile.mkdtemp(prefix="carnet-cluster-test-")
        self.state = os.path.join(self.tmp, "var", "cluster")
        # CARNET_CLUSTER_KEEP: cluster.sh stop leaves the node home; cleanup() removes it after a
        # run that passed, a failed one keeps its logs.
        self.env = dict(os.environ, CARNETD=carnetd, CARNET_PG_FSYNC="off",
                        CARNET_CLUSTER_KEEP="1")
        self.stopped = False

    def sh(self, *args, check=True, timeout=300):
        return subprocess.run([CLUSTER_SH, *args], cwd=ROOT, env=self.env, check=check,
                              timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)

    def start(self):
        t = time.monotonic()
        r = self.sh("start", self.state, check=False)
        if r.returncode != 0:
            raise AssertionError("cluster.sh start failed:\n" + r.stdout[-4000:])
        log("cluster started in %.1f s" % (time.monotonic() - t))
        self.reload()
        self.port = int(self.info["carnet_url"].rsplit(":", 1)[1])
        primary = self.info["haproxy"]["primary_port"]
        self.admin_url = "postgresql://carnet@127.0.0.1:%d/carnet?connect_timeout=3" % primary
        home = self.state
        if os.path.exists(os.path.join(self.state, "redirect")):
            home = open(os.path.join(self.state, "redirect")).read().strip()
        self.patroni_cfg = os.path.join(home, "pg1", "patroni.yml")
        self.node_home = home

    def reload(self):
        with open(os.path.join(self.state, "cluster.json")) as f:
            self.info = json.load(f)

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        r = self.sh("stop", self.state, check=False)
        if r.returncode != 0:
            raise AssertionError("cluster.sh stop failed:\n" + r.stdout[-4000:])

    def cleanup(self):
        # The node home is known from the redirect even when start did not finish (killed).
        home = getattr(self, "node_home", None)
        redirect = os.path.join(self.state, "redirect")
        if home is None and os.path.exists(redirect):
            home = open(redirect).read().strip()
        if home and home != self.state:
            shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def roles(self):
        """{name: role} from each node's Patroni REST API (None when it does not answer)."""
        out = {}
        for pg in self.info["postgres"]:
            _, doc = http_json(pg["patroni_url"] + "/patroni")
            out[pg["name"]] = (doc or {}).get("role"), (doc or {}).get("state")
        return out

    def leader(self):
        for name, (role, state) in self.roles().items():
            if role in ("master", "primary") and state == "running":
                return name
        return None

    def healthy(self):
        """The leader's name when one node leads and the other is its synchronous standby."""
        leader = self.leader()
        if not leader:
            return None
        for pg in self.info["postgres"]:
            if pg["name"] != leader:
                status, _ = http_json(pg["patroni_url"] + "/sync")
                if status != 200:
                    return None
        return leader

    def wait_healthy(self):
        deadline = time.monotonic() + HEALTHY_TIMEOUT_S
        while time.monotonic() < deadline:
            leader = self.healthy()
            if leader:
                return leader
            time.sleep(0.5)
        raise AssertionError("hang guard: the cluster is not healthy after %d s: %r\n%s"
                             % (HEALTHY_TIMEOUT_S, self.roles(), self.patronictl("list")))

    def postmaster_pid(self, name):
        with open(os.path.join(self.node_home, name, "data", "postmaster.pid")) as f:
            return int(f.readline())

    def patronictl(self, *args):
        r = subprocess.run(["patronictl", "-c", self.patroni_cfg, *args], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        return r.stdout

    def sql(self, query, args=None):
        conn = psycopg2.connect(self.admin_url)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(query, args)
                return cur.fetchall() if cur.description else None
        finally:
            conn.close()


class Fixture:
    """What the load writes to: a store open around the clock with technicians on shift for weeks
    (bookings), booked appointments due in ten minutes (check-ins), a device (diagnostics)."""

    TECHS = 12
    CHECKINS = 3000

    def __init__(self, cluster):
        c = cluster
        # A fixed-offset zone where it is about noon now: the check-ins' "today" cannot turn
        # over during the run, whatever the hour of the run.
        offset = (12 - time.gmtime().tm_hour + 12) % 24 - 12
        tz = "Etc/GMT%+d" % -offset
        self.store = c.sql("insert into stores (code, name, timezone) values "
                           "('cluster-load', 'Cluster load', %s) returning id", (tz,))[0][0]
        c.sql("insert into store_hours select %s, d, '00:00', '24:00' from generate_series(1, 7) d",
              (self.store,))
        self.service = c.sql("insert into services (store_id, name, duration_min, skill, buffer_min)"
                             " values (%s, 'Repair', 30, 'repair', 0) returning id",
                             (self.store,))[0][0]
        c.sql("""with s as (insert into staff (email, name, password_hash)
                            select 'cluster-tech-' || g || '@carnet.test', 'Tech ' || g, 'x'
                            from generate_series(1, %s) g returning id),
                      r as (insert into staff_roles select id, %s, 'technician' from s),
                      k as (insert into staff_skills select id, %s, 'repair' from s)
                 insert into shifts (store_id, staff_id, starts_at, ends_at)
                 select %s, s.id, (current_date + d)::timestamp at time zone 'UTC',
                        (current_date + d + 1)::timestamp at time zone 'UTC'
                 from s, generate_series(2, 30) d""",
              (self.TECHS, self.store, self.store, self.store))
        # Slots: every half hour of days 2..30, each as many times as there are technicians.
        self.slots = []
        today = c.sql("select current_date")[0][0]
        import datetime
        for d in range(2, 31):
            day = today + datetime.timedelta(days=d)
            for half in range(48):
                t = datetime.datetime(day.year, day.month, day.day, half // 2, 30 * (half % 2),
                                      tzinfo=datetime.timezone.utc).isoformat()
                self.slots.extend([t] * self.TECHS)
        self.slots.reverse()
        # Check-ins: booked appointments starting in ten minutes, each with its own staff member
        # (the no-double-booking constraint), each code unique.
        codes = set()
        while len(codes) < self.CHECKINS:
            codes.add("".join(secrets.choice(ALPHABET) for _ in range(6)))
        codes = sorted(codes)
        c.sql("""with s as (insert into staff (email, name, password_hash)
                            select 'cluster-booked-' || g || '@carnet.test', 'Booked ' || g, 'x'
                            from generate_series(1, %s) g returning id),
                      n as (select id, row_number() over (order by id) rn from s),
                      t as (select now() + interval '10 minutes' as at)
                 insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,
                                           blocked_until, status, code, customer_name,
                                           customer_email)
                 select %s, %s, n.id, t.at, t.at + interval '30 minutes',
                        t.at + interval '30 minutes', 'booked', (%s::text[])[n.rn],
                        'Cluster Booked', 'booked@example.com'
                 from n, t""", (self.CHECKINS, self.store, self.service, codes))
        self.codes = codes[::-1]
        self.lock = threading.Lock()
        self.serial = "CLUSTER0DEV1"

    def next_slot(self):
        with self.lock:
            return self.slots.pop()

    def next_code(self):
        with self.lock:
            return self.codes.pop()


class Load:
    """Writers through HAProxy, each write retried with its Idempotency-Key until it gets an
    answer that is not a 503 or a connection error."""

    def __init__(self, cluster, fixture, staff, kinds=("booking", "checkin", "diagnostic")):
        self.c, self.fx, self.staff, self.kinds = cluster, fixture, staff, kinds
        self.lock = threading.Lock()
        self.acked = []       # (kind, id)
        self.ok_times = []    # monotonic time of every 2xx
        self.hung = 0
        self.n503 = 0
        self.conn_errors = 0
        self.bad = []         # answers that are neither 2xx nor 503 with Retry-After
        self.requests = 0
        self.stopping = threading.Event()
        self.threads = []

    def start(self):
        for i in range(LOAD_THREADS):
            t = threading.Thread(target=self.run, args=(i,), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(HANG_S * 4)
            assert not t.is_alive(), "hang guard: a load thread did not stop"

    def run(self, i):
        n = 0
        while not self.stopping.is_set():
            kind = self.kinds[(i + n) % len(self.kinds)]
            n += 1
            getattr(self, "do_" + kind)()

    def send(self, method, path, body, key, client):
        """One logical write: retried with the same key. Returns the 2xx Response, or None."""
        while True:
            with self.lock:
                self.requests += 1
            try:
                r = client.request(method, path, body=body, headers={"Idempotency-Key": key},
                                   timeout=HANG_S)
            except socket.timeout:
                with self.lock:
                    self.hung += 1
                continue
            except (OSError, http.client.HTTPException):
                with self.lock:
                    self.conn_errors += 1
                time.sleep(0.1)
                continue
            if r.status == 503:
                ra = r.header("Retry-After")
                with self.lock:
                    self.n503 += 1
                    if not ra:
                        self.bad.append((path, r.status, "no Retry-After", r.raw[:200]))
                time.sleep(min(float(ra or 1), 0.5))
                continue
            if 200 <= r.status < 300:
                with self.lock:
                    self.ok_times.append(time.monotonic())
                return r
            with self.lock:
                self.bad.append((path, r.status, r.raw[:300]))
            return None

    def do_booking(self):
        body = {"service_id": self.fx.service, "starts_at": self.fx.next_slot(),
                "name": "Cluster Customer", "email": "c%s@example.com" % secrets.token_hex(4),
                "phone": "+33 6 12 34 56 78", "problem": "cracked screen"}
        r = self.send("POST", "/api/stores/%d/appointments" % self.fx.store, body,
                      "book-" + secrets.token_hex(8), Client(self.c.port))
        if r:
            with self.lock:
                self.acked.append(("appointments", r.json["appointment"]["id"]))

    def do_checkin(self):
        r = self.send("POST", "/api/stores/%d/checkin" % self.fx.store,
                      {"code": self.fx.next_code()}, "checkin-" + secrets.token_hex(8),
                      self.staff)
        if r:
            with self.lock:
                self.acked.append(("visits", r.json["visit"]["id"]))

    def do_diagnostic(self):
        body = {"store_id": self.fx.store, "results": [
            {"test": "battery", "passed": True,
             "values": [{"name": "battery_health", "value": 90, "unit": "%"}]}]}
        r = self.send("POST", "/api/devices/%s/diagnostics" % self.fx.serial, body,
                      "diag-" + secrets.token_hex(8), self.staff)
        if r:
            with self.lock:
                self.acked.append(("diagnostic_sessions", r.json["session_id"]))

    def max_gap(self, since):
        """The longest time without a successful write from `since` on (the recovery time)."""
        times = sorted(t for t in self.ok_times if t >= since)
        if not times:
            return float("inf")
        gaps = [times[0] - since] + [b - a for a, b in zip(times, times[1:])]
        return max(gaps)

    def lost(self):
        by = {}
        for table, id_ in self.acked:
            by.setdefault(table, []).append(id_)
        lost = 0
        for table, ids in by.items():
            found = self.c.sql("select count(*) from %s where id = any(%%s)" % table, (ids,))[0][0]
            lost += len(set(ids)) - found
        return lost

    def report(self, name, since):
        gap = self.max_gap(since)
        lost = self.lost()
        figures = {"acknowledged": len(self.acked), "lost": lost, "hung": self.hung,
                   "max_recovery_s": round(gap, 2), "answers_503": self.n503,
                   "connection_errors": self.conn_errors, "requests": self.requests,
                   "bad": len(self.bad)}
        log("%s: %s" % (name, " ".join("%s=%s" % kv for kv in figures.items())))
        return figures

    def check(self, figures, recovery=True):
        assert not self.bad, "answers neither 2xx nor 503+Retry-After: %r" % self.bad[:5]
        assert figures["acknowledged"] > 0, figures
        assert figures["lost"] == 0, figures
        assert figures["hung"] == 0, figures
        if recovery:
            assert figures["max_recovery_s"] < RECOVERY_MAX_S, figures


def staff_client(cluster):
    c = Client(cluster.port)
    c.login("admin@carnet.test", PASSWORD)
    return c


def run_load_around(cluster, fixture, event, name, settle=6, after=8, recovery=True):
    """Load for `settle` seconds, then event(), then load until writes have flowed for `after`
    seconds; checks and returns the figures."""
    load = Load(cluster, fixture, staff_client(cluster))
    load.start()
    try:
        time.sleep(settle)
        t0 = time.monotonic()
        event()
        # Until writes succeed again, then some more.
        deadline = time.monotonic() + HANG_S * 3
        while time.monotonic() < deadline and not [t for t in load.ok_times if t > t0 + 0.5]:
            time.sleep(0.2)
        time.sleep(after)
    finally:
        load.stop()
    figures = load.report(name, t0)
    load.check(figures, recovery)
    return figures


# ---- scenarios ----

def scenario_failover(cluster, fixture):
    """kill -9 of the leader's postmaster under write load: Patroni promotes the synchronous
    standby; nothing acknowledged is lost, nothing hangs, writes flow again within 15 s."""
    leader = cluster.wait_healthy()
    # Every commit waits for the other node: it is the leader's synchronous standby.
    rows = cluster.sql("select application_name, sync_state from pg_stat_replication")
    other = [p["name"] for p in cluster.info["postgres"] if p["name"] != leader][0]
    assert rows == [(other, "sync")], rows
    assert cluster.sql("show synchronous_commit")[0][0] == "on"

    def kill():
        pid = cluster.postmaster_pid(leader)
        log("kill -9 %s's postmaster (pid %d)" % (leader, pid))
        os.kill(pid, signal.SIGKILL)

    figures = run_load_around(cluster, fixture, kill, "failover")
    new = cluster.wait_healthy()
    assert new != leader, (leader, new)
    log("the leader is now %s; %s is back as its synchronous standby" % (new, leader))
    return figures


def scenario_switchover(cluster, fixture):
    """patronictl switchover under write load: the same guarantees."""
    leader = cluster.wait_healthy()
    candidate = [p["name"] for p in cluster.info["postgres"] if p["name"] != leader][0]

    def switch():
        log("patronictl switchover %s -> %s" % (leader, candidate))
        out = cluster.patronictl("switchover", "--leader", leader, "--candidate", candidate,
                                 "--force")
        assert "Successfully switched over" in out or "switched over" in out.lower(), out

    figures = run_load_around(cluster, fixture, switch, "switchover")
    assert cluster.wait_healthy() == candidate
    return figures


def scenario_rolling_restart(cluster, fixture):
    """Both carnetd restarted one after the other under load: every request answered 2xx or 503
    with Retry-After (no connection error), nothing lost."""
    cluster.wait_healthy()

    def roll():
        for name in ("carnetd1", "carnetd2"):
            log("rolling restart: %s" % name)
            r = cluster.sh("restart", name, cluster.state, check=False, timeout=120)
            assert r.returncode == 0, r.stdout
            # HAProxy takes it back after two good checks (rise 2, every 500 ms).
            time.sleep(2)

    figures = run_load_around(cluster, fixture, roll, "rolling-restart", settle=3, after=3)
    assert figures["connection_errors"] == 0, figures
    cluster.reload()
    return figures


class SSEReader:
    """A staff event stream through HAProxy that reconnects with Last-Event-ID, as a browser."""

    def __init__(self, cluster, store, cookie):
        self.cluster, self.store, self.cookie = cluster, store, cookie
        self.ids = []
        self.last = None
        self.reconnects = 0
        self.stopping = threading.Event()
        self.conn = None
        self.thread = threading.Thread(target=self.run, daemon=True)

    def drop(self):
        """Cuts the stream as a network would: the reader resumes with Last-Event-ID."""
        if self.conn and self.conn.sock:
            self.conn.sock.shutdown(socket.SHUT_RDWR)

    def run(self):
        while not self.stopping.is_set():
            try:
                self.stream()
            except (OSError, http.client.HTTPException):
                pass
            if not self.stopping.is_set():
                self.reconnects += 1
                time.sleep(0.5)

    def stream(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.cluster.port, timeout=HANG_S)
        self.conn = conn
        h = {"Cookie": self.cookie, "Accept": "text/event-stream"}
        if self.last is not None:
            h["Last-Event-ID"] = str(self.last)
        conn.request("GET", "/api/stores/%d/events" % self.store, headers=h)
        r = conn.getresponse()
        if r.status != 200:
            r.read()
            conn.close()
            return
        try:
            while not self.stopping.is_set():
                line = r.fp.readline()
                if not line:
                    return
                line = line.decode().rstrip("\n")
                if line.startswith("id:"):
                    id_ = int(line[3:].strip())
                    self.ids.append(id_)
                    self.last = id_
        finally:
            conn.close()


def scenario_sse_across_failover(cluster, fixture):
    """An SSE client through HAProxy across a kill -9 of the leader: every event of its store,
    written before and after the kill, arrives once."""
    leader = cluster.wait_healthy()
    staff = staff_client(cluster)
    start_max = cluster.sql("select coalesce(max(id), 0) from events where store_id = %s",
                            (fixture.store,))[0][0]
    reader = SSEReader(cluster, fixture.store, staff.cookie)
    reader.thread.start()
    time.sleep(1)

    def kill():
        pid = cluster.postmaster_pid(leader)
        log("kill -9 %s's postmaster (pid %d), SSE client connected" % (leader, pid))
        os.kill(pid, signal.SIGKILL)

    # Check-ins write events on the store's topic; halfway through the writes after the kill the
    # stream is cut, so the client also resumes from Last-Event-ID (on either carnetd).
    dropper = threading.Timer(12, reader.drop)
    dropper.start()
    figures = run_load_around(cluster, fixture, kill, "sse-failover", settle=4, after=6)
    dropper.join()
    cluster.wait_healthy()
    want = [r[0] for r in cluster.sql("select id from events where store_id = %s and id > %s "
                                      "order by id", (fixture.store, start_max))]
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline and not set(want) <= set(reader.ids):
        time.sleep(0.2)
    reader.stopping.set()
    missing = sorted(set(want) - set(reader.ids))
    dup = len(reader.ids) - len(set(reader.ids))
    log("sse-failover: events=%d received=%d missing=%d duplicates=%d reconnects=%d"
        % (len(want), len(set(reader.ids)), len(missing), dup, reader.reconnects))
    assert want, "no events written"
    assert not missing, missing[:20]
    assert dup == 0
    assert reader.reconnects >= 1, "the stream was never resumed"
    figures.update(events=len(want), missing=len(missing))
    return figures


def scenario_haproxy_503(cluster, fixture):
    """No carnetd ready (both frozen, their checks time out): HAProxy's own 503 carries
    Retry-After; once they run again the public port serves."""
    pids = [c["pid"] for c in cluster.info["carnetd"]]
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        # A request HAProxy forwarded before its checks noticed waits for the frozen process:
        # probes give up after a second and ask again.
        deadline = time.monotonic() + HANG_S
        r = None
        while time.monotonic() < deadline:
            try:
                r = Client(cluster.port).get("/api/stores", timeout=1)
            except socket.timeout:
                continue
            if r.status == 503:
                break
            time.sleep(0.2)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    assert r is not None, "no answer from HAProxy"
    log("no carnetd ready: %d, Retry-After %r" % (r.status, r.header("Retry-After")))
    assert r.status == 503 and r.header("Retry-After"), r
    assert r.error.get("code") == "unavailable", r
    deadline = time.monotonic() + HANG_S
    while Client(cluster.port).get("/readyz").status != 200:
        assert time.monotonic() < deadline, "hang guard: the public port does not come back"
        time.sleep(0.2)


SCENARIOS = [scenario_failover, scenario_switchover, scenario_rolling_restart,
             scenario_sse_across_failover, scenario_haproxy_503]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--carnetd", default="build/carnetd")
    ap.add_argument("only", nargs="*")
    a = ap.parse_args()
    chosen = [s for s in SCENARIOS if not a.only or any(o in s.__name__ for o in a.only)]
    t_all = time.monotonic()
    cluster = Cluster(os.path.abspath(os.path.join(ROOT, a.carnetd)))
    results = []

    # Killed (a CI job's timeout, ^C): the cluster's processes run in sessions of their own and
    # would outlive us. SIGTERM/SIGINT unwind through the finally below, which stops it; atexit
    # covers any other exit. A second signal while stopping is ignored.
    def on_signal(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        log("signal %d: stopping the cluster" % signum)
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    atexit.register(cluster.stop)
    try:
        cluster.start()
        fixture = Fixture(cluster)
        # The device the diagnostics go to.
        r = staff_client(cluster).put("/api/devices/%s" % fixture.serial, {"model": "iPhone 14"})
        assert r.status in (200, 201), r
        for s in chosen:
            name = s.__name__[len("scenario_"):]
            t = time.monotonic()
            try:
                s(cluster, fixture)
                results.append((name, True))
                log("PASS %s (%.1f s)" % (name, time.monotonic() - t))
            except Exception:
                traceback.print_exc()
                results.append((name, False))
                log("FAIL %s (%.1f s)" % (name, time.monotonic() - t))
                print(cluster.patronictl("list"), flush=True)
    except Exception:
        traceback.print_exc()
        results.append(("set-up", False))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            cluster.stop()
        except Exception:
            traceback.print_exc()
            results.append(("stop", False))
        failed = [n for n, ok in results if not ok]
        if failed:
            log("cluster state kept in %s" % cluster.tmp)
        else:
            cluster.cleanup()
    log("%d passed, %d failed in %.0f s" % (len(results) - len(failed), len(failed),
                                            time.monotonic() - t_all))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
