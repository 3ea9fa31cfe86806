"""No customer link in a log: every customer-link route (every public route with a {token}
segment in `carnetd --routes`, so a new one is covered without editing this file) is called with
a live link of its kind, with junk typed in its place (short, long, one character), with a
method it does not have (405) and with a path below it that no route has (404); afterwards the
carnetd log holds none of those tokens, and each route's access line is there with the token
written as "…"."""
import datetime
import http.client
import json
import secrets
import subprocess
import zoneinfo

from harness import Client, wait_for

PARIS = zoneinfo.ZoneInfo("Europe/Paris")
PW = "carnet-demo"
HIDDEN = "\u2026"


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.service = ctx.sql1("select id from services where store_id = %s order by id limit 1",
                           (ctx.paris,))["id"]
    out = subprocess.run([ctx.run.binary, "--routes"], capture_output=True, text=True, check=True)
    ctx.link_routes = [r for r in json.loads(out.stdout)
                       if r["access"] == "public" and "{token}" in r["path"]]


def _staff(ctx, email):
    c = Client(ctx.server.port)
    c.login(email, PW)
    return c


def _booking(ctx):
    day = ctx.store_today(ctx.paris) + datetime.timedelta(days=4)
    while day.isoweekday() == 7:
        day += datetime.timedelta(days=1)
    at = datetime.datetime(day.year, day.month, day.day, 11, 0, tzinfo=PARIS).isoformat()
    r = ctx.client().post("/api/stores/%d/appointments" % ctx.paris,
                          {"service_id": ctx.service, "starts_at": at, "name": "Lou Logged",
                           "email": "lou@example.com", "problem": "screen"})
    assert r.status == 201, r
    return r.json["manage_token"]


def _line(ctx):
    r = ctx.client().post("/api/stores/%d/line" % ctx.paris, {"name": "Line Logged"})
    assert r.status == 201, r
    return r.json["token"]


def _repair(ctx):
    tech = _staff(ctx, "tech@carnet.test")
    r = tech.post("/api/stores/%d/repairs" % ctx.paris,
                  {"serial": "LOGRED0001", "problem": "battery",
                   "intake": {"checklist": [{"item": "screen", "ok": True}],
                              "accessories": "none", "passcode_provided": False}})
    assert r.status == 201, r
    status, rid = r.json["status_token"], r.json["id"]
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"}).status == 200
    r = tech.put("/api/repairs/%d/estimate" % rid, {"diagnosis": "Worn battery", "lines": [
        {"kind": "part", "description": "Battery", "quantity": 1, "unit_price": 4900, "vat_rate": 0}]})
    assert r.status == 200, r
    return status, r.json["approval_token"]


def _standby(ctx):
    token = secrets.token_urlsafe(32)
    ctx.sql("insert into standby (store_id, service_id, day, name, email, token_hash)"
            " values (%s, %s, current_date + 2, 'Sam Standby', 'sam@example.com',"
            " message_token_hash(%s))", (ctx.paris, ctx.service, token))
    return token


def _survey(ctx):
    token = secrets.token_urlsafe(32)
    ctx.sql("insert into surveys (store_id, ref_type, ref_id, token_hash, expires_at)"
            " values (%s, 'visit', 987654321, message_token_hash(%s), now() + interval '1 day')",
            (ctx.paris, token))
    return token


def _calendar(ctx):
    """A store's calendar feed: its path segment is the token and ".ics"."""
    r = _staff(ctx, "manager@carnet.test").post("/api/stores/%d/calendar-feeds" % ctx.paris,
                                                 {"kind": "store"})
    assert r.status == 201, r
    return r.json["token"] + ".ics"


def _live_tokens(ctx):
    """A live link for each kind, by the route's first segment after /api/."""
    manage = _booking(ctx)
    status, estimate = _repair(ctx)
    return {"manage": manage, "checkin": manage, "messages": manage, "line": _line(ctx),
            "repair-status": status, "estimates": estimate, "standby": _standby(ctx),
            "surveys": _survey(ctx), "stores": _calendar(ctx)}


def _open_stream(port, path):
    """Opens an SSE stream, reads its headers and hangs up: the end is logged when carnetd
    notices."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


def test_no_link_token_reaches_the_log(ctx):
    server = ctx.server
    live = _live_tokens(ctx)
    kinds = {r["path"].split("/")[2] for r in ctx.link_routes}
    assert kinds - set(live) == set(), \
        "a new kind of customer link: give this test a way to mint one: %s" % (kinds - set(live))
    junk = ["junk" + secrets.token_hex(4), secrets.token_urlsafe(60), "Q"]
    used = set(junk)
    c = ctx.client()
    for rt in ctx.link_routes:
        kind = rt["path"].split("/")[2]
        for token in [live[kind]] + junk:
            used.add(token)
            path = rt["path"].replace("{token}", token).replace("{store}", str(ctx.paris))
            if rt["path"].endswith("/events"):
                status = _open_stream(server.port, path)
                assert status in (200, 404), (path, status)
            else:
                r = c.request(rt["method"], path, body={} if rt["method"] != "GET" else None)
                assert 200 <= r.status < 500, (rt, r)
            # A method the route does not have, and a path under it that no route has.
            assert c.request("PATCH", path).status == 405
            assert c.get(path + "/nothing").status == 404
    wanted = {rt["path"].replace("{token}", HIDDEN).replace("{store}", str(ctx.paris))
              for rt in ctx.link_routes}
    # Every line written: streams end when carnetd notices, and access lines reach the log
    # from a buffer flushed every 100 ms.
    wait_for(lambda: all(server.read_log().count(" %s " % w) >= 4 and
                         " %s/nothing 404" % w in server.read_log() for w in wanted),
             "four access lines for every link route")
    log = server.read_log()
    # A token anywhere in the log; a one-letter junk token as a path segment of a line.
    leaked = [t for t in used if (len(t) > 1 and t in log) or "/%s " % t in log
              or "/%s/" % t in log]
    assert not leaked, "link tokens in the log: %s" % leaked
    # Lines with the mark are there for every route, junk and wrong methods included.
    for w in wanted:
        assert log.count(" %s " % w) >= 4, (w, log.count(" %s " % w))
        assert "PATCH %s 405" % w in log, w
        assert " %s/nothing 404" % w in log, w
