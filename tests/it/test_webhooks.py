"""Webhooks (issue 14, point 9): a manager registers https endpoints for a store's events; each of
the five events reaches a local HTTPS receiver signed (the receiver checks every signature with
the secret it was shown once); a receiver that fails twice sees retries with growing gaps, and
the delivery log shows them; http:// and private addresses are refused; who may not call each
route; the secret is never in the database or the log in clear."""
import datetime
import hashlib
import hmac
import http.server
import json
import os
import re
import ssl
import subprocess
import threading
import time

from harness import HANG_GUARD_S, Client, wait_for

S = {}
BACKOFF_MS = 400
EVENTS = ["booking.created", "booking.cancelled", "visit.called", "repair.moved",
          "survey.answered"]


class Receiver:
    """An HTTPS server on loopback that verifies each POST's signature with the secret of its
    path (as a receiver should: constant-time compare, a 5-minute replay window) and answers
    the status codes planned for its path, then 200."""

    def __init__(self, workdir):
        self.cert = os.path.join(workdir, "hook-cert.pem")
        key = os.path.join(workdir, "hook-key.pem")
        if not os.path.exists(self.cert):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", key, "-out", self.cert], check=True, capture_output=True)
        self.secrets, self.plans, self.got = {}, {}, []
        self.lock = threading.Lock()
        # POSTs to /hang... wait (without answering) until this is set: a tarpit receiver.
        self.release, self.hanging = threading.Event(), 0
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                path = self.path
                if path.startswith("/hang"):
                    with rec.lock:
                        rec.hanging += 1
                    rec.release.wait(HANG_GUARD_S)
                    with rec.lock:
                        rec.hanging -= 1
                with rec.lock:
                    plan = rec.plans.get(path) or []
                    status = plan.pop(0) if plan else 200
                    rec.got.append({"path": path, "at": time.time(), "body": body,
                                    "headers": dict(self.headers), "status": status,
                                    "verified": rec.verify(path, self.headers, body)})
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        sslctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        sslctx.load_cert_chain(self.cert, key)
        self.httpd.socket = sslctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def verify(self, path, headers, body):
        secret = self.secrets.get(path)
        ts, sig = headers.get("Carnet-Timestamp"), headers.get("Carnet-Signature") or ""
        if not secret or not ts or not sig.startswith("v1="):
            return False
        if abs(time.time() - int(ts)) > 300:
            return False
        want = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(want, sig[3:])

    def for_path(self, path):
        with self.lock:
            return [g for g in self.got if g["path"] == path]

    def close(self):
        self.httpd.shutdown()


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    S["rx"] = Receiver(ctx.run.workdir)
    ctx._server = ctx.start_carnetd(args=[
        "--webhook-allow-private", "--webhook-ca", S["rx"].cert,
        "--webhook-backoff-ms", str(BACKOFF_MS), "--webhook-interval-ms", "100"])


def base(store=None):
    return "/api/stores/%d/webhooks" % (store or S["paris"])


def add(ctx, path, events=None, who="manager"):
    r = ctx.staff(who).post(base(), {"url": S["rx"].url(path), "events": events or EVENTS,
                                     "description": "test " + path})
    assert r.status == 201, r
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", r.json["secret"]), r.json
    assert r.json["url"] == S["rx"].url(path), r.json  # in full, this once
    S["rx"].secrets[path] = r.json["secret"]
    return r.json


def clean(ctx):
    ctx.sql("delete from webhook_endpoints")


def deliveries(ctx, hook):
    r = ctx.staff("manager").get(base() + "/%d/deliveries" % hook["id"])
    assert r.status == 200, r
    return r.json["deliveries"]


# ---- the five events, signed ----

def _book(ctx):
    c = ctx.client()
    svc = ctx.sql1("select id from services where store_id = %s and active order by id limit 1",
                   (S["paris"],))["id"]
    today = ctx.store_today(S["paris"])
    frm, to = today + datetime.timedelta(days=1), today + datetime.timedelta(days=7)
    r = c.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (S["paris"], svc, frm, to))
    assert r.status == 200, r
    slot = next(s for d in r.json["days"] for s in d["slots"] if s["free"] > 0)
    r = c.post("/api/stores/%d/appointments" % S["paris"],
               {"service_id": svc, "starts_at": slot["starts_at"], "name": "Camille Client",
                "email": "camille@example.com", "phone": "+33 6 12 34 56 78",
                "problem": "cracked screen"})
    assert r.status == 201, r
    return ctx.sql1("select id from appointments order by id desc limit 1")["id"]


def test_each_event_reaches_the_receiver_signed(ctx):
    clean(ctx)
    hook = add(ctx, "/all")
    rx = S["rx"]
    # booking.created, then booking.cancelled by staff
    appt = _book(ctx)
    r = ctx.staff("manager").post("/api/stores/%d/appointments/%d/cancel" % (S["paris"], appt), {})
    assert r.status == 200, r
    # visit.called: someone joins the line and is called
    ctx.sql("delete from visits where store_id = %s and status in ('waiting', 'called')",
            (S["paris"],))
    r = ctx.client().post("/api/stores/%d/line" % S["paris"], {"name": "Alice Martin"})
    assert r.status == 201, r
    r = ctx.staff("specialist").post("/api/stores/%d/queue/next" % S["paris"])
    assert r.status == 200 and r.json["status"] == "called", r
    # repair.moved: a Paris repair takes one of its allowed moves
    mv = ctx.sql1("select r.id, t.to_state from repair_orders r join repair_transitions t "
                  "on t.from_state = r.state where r.store_id = %s and t.to_state not in "
                  "('cancelled', 'collected', 'returned_unrepaired') order by r.id limit 1",
                  (S["paris"],))
    r = ctx.staff("tech").post("/api/repairs/%d/transition" % mv["id"], {"to": mv["to_state"]})
    assert r.status == 200, r
    # survey.answered
    ctx.sql("select survey_offer(%s, 'visit', 9901, 'email', 'val@example.test', 'en', "
            "'{\"name\":\"Val\"}')", (S["paris"],))
    mid = ctx.sql1("select id from outbox where kind = 'survey' and ref_id = 9901")["id"]
    tok = re.search(r"survey/#([A-Za-z0-9_-]+)", ctx.message_body(mid)).group(1)
    r = ctx.client().post("/api/surveys/" + tok, {"satisfaction": 5, "effort": 2,
                                                 "recommendation": 9, "comment": "Lovely Zoé"})
    assert r.status == 200, r

    wait_for(lambda: {json.loads(g["body"])["type"] for g in rx.for_path("/all")} >= set(EVENTS),
             "all five events delivered")
    got = rx.for_path("/all")
    assert all(g["verified"] for g in got), [g["headers"] for g in got if not g["verified"]]
    for g in got:
        p = json.loads(g["body"])
        assert set(p) == {"id", "type", "created_at", "store_id", "data"}, p
        assert p["store_id"] == S["paris"] and g["headers"]["Carnet-Webhook-Id"] == p["id"]
        assert g["headers"]["Carnet-Event"] == p["type"]
        # no customer's name, contact or words
        text = g["body"].decode()
        for clear in ("Camille", "camille@", "+336", "Alice", "val@", "Lovely", "{{pd:"):
            assert clear not in text, (clear, text)
    by = {json.loads(g["body"])["type"]: json.loads(g["body"])["data"] for g in got}
    assert by["booking.created"]["appointment_id"] == appt
    assert by["booking.cancelled"]["cancelled_by"] == "staff"
    assert by["visit.called"]["ticket"] >= 1
    assert by["repair.moved"]["repair_id"] == mv["id"] and by["repair.moved"]["to"] == mv["to_state"]
    assert by["survey.answered"]["satisfaction"] == 5 and by["survey.answered"]["has_comment"]
    wait_for(lambda: all(d["status"] == "delivered" for d in deliveries(ctx, hook)), "log says so")
    log = deliveries(ctx, hook)
    assert {d["type"] for d in log} >= set(EVENTS)
    assert all(d["tries"][0]["status_code"] == 200 and d["attempts"] == 1 for d in log), log
    m = ctx.client().get("/metrics").raw.decode()
    assert re.search(r'carnet_webhook_deliveries_total\{outcome="delivered"\} [1-9]', m), m
    assert "carnet_webhook_backlog" in m


def test_a_hanging_receiver_delays_no_customer_message(ctx):
    """Webhooks have their own worker pool: with every webhook thread held by a receiver that
    answers nothing (for longer than the whole test), a customer's message still goes out at
    once. Sharing the mail and SMS threads, it would wait for the webhook timeout."""
    clean(ctx)
    rx = S["rx"]
    rx.release.clear()
    ctx._server.stop()
    s = ctx._server = ctx.start_carnetd(args=[
        "--webhook-allow-private", "--webhook-ca", S["rx"].cert, "--webhook-interval-ms", "100",
        "--webhook-timeout", "60", "--send-workers", "2", "--webhook-workers", "2"])
    try:
        # An endpoint's deliveries go one at a time, in order: three endpoints, three sends,
        # more than either pool's threads.
        for i in range(3):
            add(ctx, "/hang%d" % i, events=["repair.moved"])
        rid = ctx.sql1("select id, state from repair_orders where store_id = %s order by id "
                       "limit 1", (S["paris"],))
        ctx.sql("insert into repair_moves (repair_id, from_state, to_state) values (%s, %s, %s)",
                (rid["id"], rid["state"], rid["state"]))
        wait_for(lambda: rx.hanging >= 2, "both webhook threads held by the receiver")
        ctx.sql("select survey_offer(%s, 'visit', 9902, 'email', 'hang@example.test', 'en', "
                "'{\"name\":\"Hana\"}')", (S["paris"],))
        mid = ctx.sql1("select id from outbox where kind = 'survey' and ref_id = 9902")["id"]
        t0 = time.monotonic()
        ctx.delivered(mid)
        took = time.monotonic() - t0
        # A hang guard well inside the webhook timeout, not a benchmark.
        assert took < 10, "a customer message took %.1f s behind hanging webhooks" % took
        assert rx.hanging == 2, rx.hanging  # the other sends wait their turn
    finally:
        rx.release.set()
        s.stop()
        clean(ctx)
        ctx._server = ctx.start_carnetd(args=[
            "--webhook-allow-private", "--webhook-ca", S["rx"].cert,
            "--webhook-backoff-ms", str(BACKOFF_MS), "--webhook-interval-ms", "100"])


def test_only_subscribed_active_endpoints_get_an_event(ctx):
    clean(ctx)
    mine = add(ctx, "/cancel-only", events=["booking.cancelled"])
    off = add(ctx, "/off")
    r = ctx.staff("manager").patch(base() + "/%d" % off["id"], {"active": False})
    assert r.status == 200 and r.json["active"] is False, r
    before = ctx.sql1("select count(*) as n from webhook_deliveries")["n"]
    _book(ctx)
    assert ctx.sql1("select count(*) as n from webhook_deliveries")["n"] == before
    assert deliveries(ctx, mine) == [] and deliveries(ctx, off) == []


def test_a_failing_receiver_sees_retries_with_growing_gaps(ctx):
    clean(ctx)
    rx = S["rx"]
    rx.plans["/flaky"] = [500, 503]
    hook = add(ctx, "/flaky", events=["booking.created"])
    _book(ctx)
    wait_for(lambda: len(rx.for_path("/flaky")) >= 3, "three tries")
    got = rx.for_path("/flaky")
    assert [g["status"] for g in got] == [500, 503, 200]
    assert all(g["verified"] for g in got)
    assert len({g["headers"]["Carnet-Webhook-Id"] for g in got}) == 1  # one event, three tries
    assert [g["headers"]["Carnet-Delivery-Attempt"] for g in got] == ["1", "2", "3"]
    gap1, gap2 = got[1]["at"] - got[0]["at"], got[2]["at"] - got[1]["at"]
    # base x1 then x6, each within a fifth of jitter (plus the tick)
    assert gap1 >= BACKOFF_MS / 1000 * 0.8 - 0.05, gap1
    assert gap2 >= BACKOFF_MS / 1000 * 6 * 0.8 - 0.05 and gap2 > gap1, (gap1, gap2)
    wait_for(lambda: deliveries(ctx, hook)[0]["status"] == "delivered", "delivered at last")
    d = deliveries(ctx, hook)[0]
    assert d["attempts"] == 3 and d["type"] == "booking.created" and d["delivered_at"], d
    assert [(t["attempt"], t["status_code"]) for t in d["tries"]] == [(1, 500), (2, 503), (3, 200)]
    assert d["tries"][0]["error"] == "HTTP 500" and d["tries"][2]["error"] is None
    assert all(t["duration_ms"] >= 0 for t in d["tries"])


def test_two_workers_send_each_event_once_and_in_order(ctx):
    clean(ctx)
    hook = add(ctx, "/two", events=["repair.moved"])
    other = ctx.start_carnetd(args=[
        "--webhook-allow-private", "--webhook-ca", S["rx"].cert, "--webhook-interval-ms", "20"])
    rid = ctx.sql1("select id, state from repair_orders where store_id = %s order by id limit 1",
                   (S["paris"],))
    n = 12
    for _ in range(n):  # one fact per transaction: n events in a known order
        ctx.sql("insert into repair_moves (repair_id, from_state, to_state) values (%s, %s, %s)",
                (rid["id"], rid["state"], rid["state"]))
    wait_for(lambda: len(S["rx"].for_path("/two")) >= n, "all sent")
    time.sleep(0.3)  # a repeat would come now
    got = [json.loads(g["body"]) for g in S["rx"].for_path("/two")]
    assert len(got) == n and len({g["id"] for g in got}) == n, [g["id"] for g in got]
    want = [r["public_id"] for r in ctx.sql(
        "select e.public_id::text from webhook_events e join webhook_deliveries d on d.event_id = e.id "
        "where d.endpoint_id = %s order by e.id", (hook["id"],))]
    assert [g["id"] for g in got] == want
    other.stop()


def test_a_delivery_fails_for_good_after_the_last_retry(ctx):
    clean(ctx)
    hook = add(ctx, "/dead", events=["booking.created"])
    S["rx"].plans["/dead"] = [410] * 8
    _book(ctx)
    d = ctx.sql1("select id from webhook_deliveries order by id desc limit 1")["id"]
    # Once the first refusal is recorded (its retry waits the back-off), six tries are said to
    # be made: the next failure is the last. (Set before the first try, a claim could race it.)
    wait_for(lambda: ctx.sql1("select status, attempts from webhook_deliveries where id = %s",
                              (d,)) == {"status": "pending", "attempts": 1}, "the first refusal")
    ctx.sql("update webhook_deliveries set attempts = 6 where id = %s and status = 'pending'", (d,))
    wait_for(lambda: deliveries(ctx, hook)[0]["status"] == "failed", "failed for good")
    log = deliveries(ctx, hook)[0]
    assert log["failed_at"] and log["last_status_code"] == 410 and log["next_attempt_at"] is None


def test_a_disabled_endpoint_stops_and_resumes_when_enabled(ctx):
    clean(ctx)
    m = ctx.staff("manager")
    hook = add(ctx, "/paused", events=["booking.cancelled", "booking.created"])
    _book(ctx)
    wait_for(lambda: deliveries(ctx, hook)[0]["status"] == "delivered", "delivered once")
    r = m.patch(base() + "/%d" % hook["id"], {"active": False})
    assert r.status == 200, r
    n = len(S["rx"].for_path("/paused"))
    # Due again (as a retry would be): a disabled endpoint's delivery waits.
    ctx.sql("update webhook_deliveries set status = 'pending', delivered_at = null "
            "where endpoint_id = %s", (hook["id"],))
    time.sleep(0.6)
    assert len(S["rx"].for_path("/paused")) == n
    r = m.patch(base() + "/%d" % hook["id"], {"active": True})
    assert r.status == 200, r
    wait_for(lambda: len(S["rx"].for_path("/paused")) > n, "resumed")


def test_rotating_the_secret_signs_with_the_new_one(ctx):
    clean(ctx)
    hook = add(ctx, "/rot", events=["booking.created"])
    old = S["rx"].secrets["/rot"]
    r = ctx.staff("manager").post(base() + "/%d/rotate-secret" % hook["id"])
    assert r.status == 200 and r.json["secret"] != old and r.json["secret_rotated_at"], r
    S["rx"].secrets["/rot"] = r.json["secret"]
    _book(ctx)
    wait_for(lambda: S["rx"].for_path("/rot"), "delivered")
    assert S["rx"].for_path("/rot")[0]["verified"]


# ---- endpoints: bad inputs, other stores, callers ----

def test_bad_inputs_change_nothing(ctx):
    clean(ctx)
    m = ctx.staff("manager")
    ok = {"url": S["rx"].url("/x"), "events": ["booking.created"]}
    cases = [
        ({"url": "http://example.com/hook", "events": ["booking.created"]}, "not_https", "url"),
        ({"url": "not a url", "events": ["booking.created"]}, "invalid", "url"),
        ({"url": "ftp://example.com/", "events": ["booking.created"]}, "invalid", "url"),
        ({"url": "https://user:pw@example.com/", "events": ["booking.created"]}, "invalid", "url"),
        ({"url": 5, "events": ["booking.created"]}, "invalid", "url"),
        ({"events": ["booking.created"]}, "invalid", "url"),
        (dict(ok, events=[]), "invalid", "events"),
        (dict(ok, events=["booking.moved"]), "invalid", "events"),
        (dict(ok, events="booking.created"), "invalid", "events"),
        ({"url": S["rx"].url("/x")}, "invalid", "events"),
        (dict(ok, description="x" * 201), "invalid", "description"),
    ]
    for body, code, field in cases:
        r = m.post(base(), body)
        assert r.status == 422 and r.error["code"] == code and r.error["field"] == field, (body, r)
    r = m.post(base())
    assert r.status == 400, r
    assert ctx.sql1("select count(*) as n from webhook_endpoints")["n"] == 0
    hook = add(ctx, "/x", events=["booking.created"])
    for body, code, field in [({"url": "http://a.example/"}, "not_https", "url"),
                              ({"events": []}, "invalid", "events"),
                              ({"active": "no"}, "invalid", "active"),
                              ({}, "invalid", None)]:
        r = m.patch(base() + "/%d" % hook["id"], body)
        assert r.status == 422 and r.error["code"] == code and r.error.get("field") == field, (body, r)
    row = ctx.sql1("select url, events, active from webhook_endpoints where id = %s", (hook["id"],))
    assert ctx.opened(row["url"]) == S["rx"].url("/x") and row["events"] == ["booking.created"]
    assert row["active"]
    r = m.get(base() + "/%d/deliveries?limit=0" % hook["id"])
    assert r.status == 400 and r.error["field"] == "limit", r


def test_private_addresses_are_refused_without_the_option(ctx):
    clean(ctx)
    s = ctx.start_carnetd(args=["--no-jobs"])
    m = Client(s.port)
    m.login("manager@carnet.test", "carnet-demo")
    for url in ("https://127.0.0.1:8443/h", "https://10.1.2.3/h", "https://192.168.0.1/h",
                "https://169.254.169.254/latest", "https://[::1]/h", "https://localhost/h",
                "https://[::ffff:127.0.0.1]/h", "https://0.0.0.0/h"):
        r = m.post(base(), {"url": url, "events": ["booking.created"]})
        assert r.status == 422 and r.error["code"] == "private_address", (url, r)
        assert r.error["field"] == "url"
    assert ctx.sql1("select count(*) as n from webhook_endpoints")["n"] == 0
    hook = add(ctx, "/p", events=["booking.created"])
    r = m.patch(base() + "/%d" % hook["id"], {"url": "https://127.0.0.1/other"})
    assert r.status == 422 and r.error["code"] == "private_address", r
    # An endpoint or a store the caller cannot see answers 404/403 before the URL is judged:
    # no one learns what carnetd would say of a host through an object that is not theirs.
    lyon = Client(s.port)
    lyon.login("lyon@carnet.test", "carnet-demo")
    probes = [(m, "patch", base() + "/%d" % (hook["id"] + 1000), 404),
              (lyon, "patch", base(S["lyon"]) + "/%d" % hook["id"], 404),
              (lyon, "patch", base() + "/%d" % hook["id"], 403),
              (lyon, "post", base(), 403)]
    for url in ("https://127.0.0.1/h", "https://no-such-host.invalid/h", "http://a.example/"):
        for who, method, path, status in probes:
            r = getattr(who, method)(path, {"url": url, "events": ["booking.created"]})
            assert r.status == status and r.error["code"] != "private_address", (url, path, r)
            assert r.error["code"] not in ("unresolvable", "not_https"), (url, path, r)
    row = ctx.sql1("select url from webhook_endpoints where id = %s", (hook["id"],))
    assert ctx.opened(row["url"]) == S["rx"].url("/p"), row
    s.stop()


def test_the_private_check_holds_at_send_time(ctx):
    """An endpoint saved while allowed (or whose name resolved elsewhere then) is not reached
    by a carnetd that does not allow private addresses: the connection is refused."""
    clean(ctx)
    hook = add(ctx, "/strict", events=["booking.created"])
    ctx._server.stop()
    strict = ctx._server = ctx.start_carnetd(args=[
        "--webhook-ca", S["rx"].cert, "--webhook-interval-ms", "100",
        "--webhook-backoff-ms", "60000"])
    _book(ctx)
    wait_for(lambda: ctx.sql1("select count(*) as n from webhook_attempts a join "
                              "webhook_deliveries d on d.id = a.delivery_id where d.endpoint_id = %s",
                              (hook["id"],))["n"] > 0, "a try")
    t = ctx.sql1("select a.error, d.status from webhook_attempts a join webhook_deliveries d on "
                 "d.id = a.delivery_id where d.endpoint_id = %s", (hook["id"],))
    assert t["error"].startswith("refused") and t["status"] == "pending", t
    assert S["rx"].for_path("/strict") == []
    strict.stop()
    ctx.sql("delete from webhook_endpoints")
    ctx._server = ctx.start_carnetd(args=[
        "--webhook-allow-private", "--webhook-ca", S["rx"].cert,
        "--webhook-backoff-ms", str(BACKOFF_MS), "--webhook-interval-ms", "100"])


def test_another_stores_endpoint_is_not_found(ctx):
    clean(ctx)
    hook = add(ctx, "/paris", events=["booking.created"])
    lyon = ctx.staff("lyon")
    # Lyon's manager, with Lyon's store in the path, does not find Paris's endpoint.
    for method, suffix, body in [("patch", "", {"active": False}), ("delete", "", None),
                                 ("post", "/rotate-secret", None), ("get", "/deliveries", None)]:
        r = getattr(lyon, method)(base(S["lyon"]) + "/%d%s" % (hook["id"], suffix),
                                  **({"body": body} if body is not None else {}))
        assert r.status == 404 and r.error["code"] == "not_found", (method, suffix, r)
    assert lyon.get(base(S["lyon"])).json["webhooks"] == []
    # ... nor with Paris in the path: not a manager there.
    r = lyon.get(base())
    assert r.status == 403, r
    row = ctx.sql1("select active from webhook_endpoints where id = %s", (hook["id"],))
    assert row["active"] is True


def test_who_may_call(ctx):
    clean(ctx)
    hook = add(ctx, "/who", events=["booking.created"])
    routes = [("get", ""), ("post", ""), ("patch", "/%d" % hook["id"]),
              ("delete", "/%d" % hook["id"]), ("post", "/%d/rotate-secret" % hook["id"]),
              ("get", "/%d/deliveries" % hook["id"])]
    anon = ctx.client()
    tech = ctx.staff("tech")
    for method, suffix in routes:
        kw = {"body": {}} if method in ("post", "patch") else {}
        r = getattr(anon, method)(base() + suffix, **kw)
        assert r.status == 401, (method, suffix, r)
        r = getattr(tech, method)(base() + suffix, **kw)
        assert r.status == 403, (method, suffix, r)
    # the admin may
    r = ctx.staff("admin").get(base())
    assert r.status == 200 and [w["id"] for w in r.json["webhooks"]] == [hook["id"]], r


def test_list_delete_and_the_secret_never_in_clear(ctx):
    """Nor the URL, which may carry the receiver's own secret (Slack, Zapier): sealed at rest,
    masked past its host in lists and replies but the one that creates it."""
    clean(ctx)
    m = ctx.staff("manager")
    path = "/keep/T0AB12CD/B9ZZ8877/s3cr3tXyZw0rd?token=qu3ry-s3cret"
    hook = add(ctx, path, events=["booking.created", "repair.moved"])
    url = S["rx"].url(path)
    masked = "https://127.0.0.1:%d/…" % S["rx"].port
    secret = S["rx"].secrets[path]
    r = m.get(base())
    assert r.status == 200 and set(r.json["events"]) == set(EVENTS), r
    w = r.json["webhooks"][0]
    assert w["url"] == masked and w["events"] == ["booking.created", "repair.moved"], w
    assert "secret" not in w and secret not in r.raw.decode()
    shown = json.dumps(dict(w, description=None))  # (the description is the test's path)
    for part in ("s3cr3t", "qu3ry", "T0AB12CD", "keep"):
        assert part not in shown, part
    # (add() describes it by its path: another description, for the dump below)
    r = m.patch(base() + "/%d" % hook["id"], {"url": url + "&more=1", "description": "desk"})
    assert r.status == 200 and r.json["url"] == masked, r
    stored = ctx.sql1("select secret, url, url_shown from webhook_endpoints where id = %s",
                      (hook["id"],))
    assert ctx.is_pd(stored["secret"]) and secret not in stored["secret"]
    assert ctx.is_pd(stored["url"]) and ctx.opened(stored["url"]) == url + "&more=1", stored
    assert stored["url_shown"] == masked, stored
    _book(ctx)
    wait_for(lambda: S["rx"].for_path(path + "&more=1"), "delivered to the sealed URL")
    dump = subprocess.run(["pg_dump", "-d", ctx.url], capture_output=True, check=True).stdout
    assert secret.encode() not in dump
    for part in (b"s3cr3t", b"qu3ry", b"T0AB12CD", b"/keep"):
        assert part not in dump, part
    for s in ctx.servers:
        assert secret not in s.read_log() and "s3cr3t" not in s.read_log()
    r = m.delete(base() + "/%d" % hook["id"])
    assert r.status == 200 and r.json["deleted"] is True, r
    assert ctx.sql1("select count(*) as n from webhook_deliveries where endpoint_id = %s",
                    (hook["id"],))["n"] == 0
    r = m.delete(base() + "/%d" % hook["id"])
    assert r.status == 404, r

