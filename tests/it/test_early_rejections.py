"""The early-rejection sweep, generated from `carnetd --routes` and the OpenAPI fragments, so a
route added to the table is swept without editing this file.

For every route, with one parameter at a time made bad and the others filled with plausible
values:
  * path parameters: bad ids (letters, negative, 19 and 20 digits, zero) and values too long
    for any field (70, 300 and 5,000 characters);
  * query parameters declared in web/openapi/*.json: values of the wrong type, out of the
    declared range, too long, or outside the declared enum;
each sent with and without an `Idempotency-Key` header, repeated REPEAT times, as an anonymous
caller and as a signed-in staff member (a Paris manager, signed in through /api/auth/login).
Writes carry an empty JSON object.

Every answer must be a JSON 4xx with {"error":{"code":...}}: never a 5xx, never a hang (a
request that takes HANG_GUARD_S is one), never a dropped connection. A carnetd that dies (or hangs) is
recorded with the request that killed it, and a fresh one takes over so the sweep lists every
crashing request; the harness also fails the test for the crash itself (and for any sanitizer
report), and the last test checks that carnetd is still up.

Two crashes of the server before the request-core rewrite are pinned by their own tests
(test_known_crash_*): they fail until the new core lands.
"""
import glob
import http.client
import json
import os
import re
import socket
import subprocess

from harness import ROOT, Client

# How often each request is sent: replays of an Idempotency-Key, pool and buffer reuse.
REPEAT = 20
# Not a performance bound: a request that takes this long is a hang.
HANG_GUARD_S = 30
IDEM_KEY = "k1"
STAFF_EMAIL = "manager@carnet.test"
DEMO_PW = "carnet-demo"
WRITE = {"POST", "PUT", "PATCH", "DELETE"}

BAD_IDS = {
    "letters": "abc",
    "negative": "-1",
    "19 digits": "1234567890123456789",
    "20 digits": "99999999999999999999",
    "zero": "0",
}
TOO_LONG = {"70 chars": "a" * 70, "300 chars": "b" * 300, "5000 chars": "c" * 5000}
# Path parameters that are not numeric ids: any short value may be a real key (a serial of 19
# digits is a plausible IMEI-like serial and is found or created), so only lengths beyond any
# key are bad for them.
NOT_IDS = {"serial"}
# The known crashes are heap corruption that may take many requests to show in a plain build.
KNOWN_CRASH_REPEAT = 200


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.serial = ctx.sql1("select min(serial) as s from devices")["s"] or "F2LDEMO0PH13"
    out = subprocess.run([ctx.run.binary, "--routes"], capture_output=True, text=True, check=True)
    ctx.routes = json.loads(out.stdout)
    ctx.query_params = _query_params()
    ctx.crashes = []
    ctx.staff = None


def _query_params():
    """{(METHOD, path): [(name, schema)]} from the OpenAPI fragments."""
    out = {}
    for f in sorted(glob.glob(os.path.join(ROOT, "web", "openapi", "*.json"))):
        with open(f) as fh:
            doc = json.load(fh)
        for path, ops in doc.get("paths", {}).items():
            shared = ops.get("parameters", []) if isinstance(ops.get("parameters"), list) else []
            for method, op in ops.items():
                if not isinstance(op, dict) or method == "parameters":
                    continue
                for p in shared + op.get("parameters", []):
                    if p.get("in") == "query":
                        out.setdefault((method.upper(), path), []).append(
                            (p["name"], p.get("schema", {})))
    return out


def _bad_query_values(schema):
    """Values a parameter with this schema must refuse, by name."""
    t = schema.get("type")
    bad = {}
    if t == "integer":
        bad.update({"letters": "abc", "fraction": "1.5", "20 digits": "9" * 20})
        if "minimum" in schema:
            bad["below minimum"] = str(schema["minimum"] - 1)
        if "maximum" in schema:
            bad["above maximum"] = str(schema["maximum"] + 1)
    elif t == "boolean":
        bad.update({"not a boolean": "maybe"})
    elif t == "string" and schema.get("format") == "date":
        bad.update({"letters": "abc", "no such day": "2027-02-30", "5-digit year": "99999-01-01",
                    "too long": "2027-01-01" + "x" * 300})
    elif t == "string" and "enum" in schema:
        bad.update({"outside the enum": "bogus", "too long": "x" * 5000})
    elif t == "string" and "maxLength" in schema:
        bad.update({"one over maxLength": "x" * (schema["maxLength"] + 1), "5000 chars": "x" * 5000})
    return bad


def _good_value(ctx, name):
    if name == "store":
        return str(ctx.paris)
    if name == "serial":
        return ctx.serial
    if name == "token":
        return "t" * 43
    return "1"


def _fill(ctx, pattern, bad_name=None, bad_value=None):
    def one(m):
        if m.group(1) == bad_name:
            return bad_value
        return _good_value(ctx, m.group(1))
    return re.sub(r"{(\w+)}", one, pattern)


def _staff_client(ctx):
    if ctx.staff is None or ctx.staff.port != ctx.server.port:
        c = Client(ctx.server.port)
        c.login(STAFF_EMAIL, DEMO_PW)
        ctx.staff = c
    return ctx.staff


def _send(ctx, who, method, path, idem):
    """One request on a fresh connection; returns (status, error code or None, why it is bad or
    None). A dropped connection is recorded as a crash and a fresh carnetd takes over."""
    headers = {}
    body = None
    if who == "staff":
        c = _staff_client(ctx)
        headers["Cookie"] = c.cookie
        if method in WRITE:
            headers["X-CSRF-Token"] = c.csrf
    if idem:
        headers["Idempotency-Key"] = IDEM_KEY
    if method in WRITE:
        body = b"{}"
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection("127.0.0.1", ctx.server.port, timeout=HANG_GUARD_S)
    try:
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        ctype = r.getheader("Content-Type") or ""
        raw = r.read() if not ctype.startswith("text/event-stream") else b""
    except socket.timeout:
        _replace_hung_server(ctx, "%s %s (%s, Idempotency-Key: %s): no answer in %ds" % (
            method, _short(path), who, idem, HANG_GUARD_S))
        return None, None, "no answer within the %ds hang guard" % HANG_GUARD_S
    except (ConnectionError, http.client.HTTPException, OSError) as e:
        _replace_dead_server(ctx, "%s %s (%s, Idempotency-Key: %s): %r" % (
            method, _short(path), who, idem, e))
        return None, None, "connection dropped: %r" % e
    finally:
        conn.close()
    if not 400 <= r.status < 500:
        return r.status, None, "status %d, not a 4xx" % r.status
    try:
        err = json.loads(raw)["error"]
        code = err["code"]
    except (ValueError, KeyError, TypeError):
        return r.status, None, "not a JSON error body: %r (%s)" % (raw[:120], ctype)
    if not isinstance(code, str) or not code:
        return r.status, None, "error.code missing: %r" % raw[:120]
    return r.status, code, None


def _short(path):
    """The path with long runs of one character written as <N x c>, so reports stay readable
    and still name the route."""
    return re.sub(r"(.)\1{19,}", lambda m: "<%d x %s>" % (len(m.group(0)), m.group(1)), path)


def _replace_dead_server(ctx, what):
    """Records the request that killed carnetd; the next access to ctx.server reports the crash
    once (the harness fails the test for it) and then a fresh carnetd is started."""
    s = ctx._server
    try:
        s.proc.wait(5)
    except Exception:
        return  # still running: a network hiccup, not a crash
    ctx.crashes.append(what)
    try:
        ctx.server
    except AssertionError:
        pass
    ctx.staff = None
    ctx.server  # a fresh carnetd for the rest of the sweep


def _replace_hung_server(ctx, what):
    """A carnetd that does not answer is as broken as a dead one: recorded (this test fails on
    it), killed, and replaced so the rest of the sweep runs and teardown does not wait on it."""
    s = ctx._server
    ctx.crashes.append("hung: " + what)
    s.reported = True   # failed by this test already; its exit by SIGKILL is not news
    s.proc.kill()
    s.proc.wait()
    ctx.staff = None
    ctx.server


def _sweep(ctx, cases, who):
    """cases: [(method, path, label)]. Sends each with and without an Idempotency-Key, REPEAT
    times; returns the list of bad answers (the first per case and variant)."""
    bad, sent = [], 0
    for method, path, label in cases:
        for idem in (False, True):
            for _ in range(REPEAT):
                sent += 1
                status, code, why = _send(ctx, who, method, path, idem)
                if why:
                    bad.append("%s %s [%s, %s, Idempotency-Key=%s]: %s" % (
                        method, _short(path), label, who, idem, why))
                    break
    assert sent > 0
    return bad


def _path_cases(ctx):
    cases = []
    for rt in ctx.routes:
        for name in re.findall(r"{(\w+)}", rt["path"]):
            values = list(TOO_LONG.items())
            if name not in NOT_IDS:
                values = list(BAD_IDS.items()) + values
            for label, value in values:
                cases.append((rt["method"], _fill(ctx, rt["path"], name, value),
                              "{%s} %s" % (name, label)))
    return cases


def _query_cases(ctx):
    cases = []
    for rt in ctx.routes:
        for name, schema in ctx.query_params.get((rt["method"], rt["path"]), []):
            for label, value in _bad_query_values(schema).items():
                path = _fill(ctx, rt["path"]) + "?" + name + "=" + value
                cases.append((rt["method"], path, "?%s %s" % (name, label)))
    return cases


def _report(ctx, bad):
    crashes, ctx.crashes = ctx.crashes, []
    msg = ""
    if crashes:
        msg += "carnetd died or hung on:\n  " + "\n  ".join(crashes) + "\n"
    if bad:
        msg += "%d bad answers:\n  %s" % (len(bad), "\n  ".join(bad[:60]))
    assert not msg, msg


def test_sweep_covers_every_route(ctx):
    """The sweep is generated, so check it is not empty by accident."""
    with_params = [r for r in ctx.routes if "{" in r["path"]]
    assert len(with_params) > 50, len(with_params)
    assert ("GET", "/api/devices/{serial}/trends") in ctx.query_params
    assert len(ctx.query_params) >= 15, sorted(ctx.query_params)
    assert len(_query_cases(ctx)) > 50


def test_bad_path_values_anonymous(ctx):
    _report(ctx, _sweep(ctx, _path_cases(ctx), "anonymous"))


def test_bad_path_values_as_staff(ctx):
    _report(ctx, _sweep(ctx, _path_cases(ctx), "staff"))


def test_bad_query_values_anonymous(ctx):
    _report(ctx, _sweep(ctx, _query_cases(ctx), "anonymous"))


def test_bad_query_values_as_staff(ctx):
    _report(ctx, _sweep(ctx, _query_cases(ctx), "staff"))


def test_known_crash_anonymous_booking_replay_of_an_empty_body(ctx):
    """Crashed the server before the request-core rewrite: an anonymous booking of an unknown
    store with `Idempotency-Key: k1` and `{}`, sent again and again."""
    bad = []
    for i in range(KNOWN_CRASH_REPEAT):
        status, code, why = _send(ctx, "anonymous", "POST", "/api/stores/x/appointments", True)
        if why:
            bad.append("attempt %d: %s" % (i + 1, why))
            break
    _report(ctx, bad)


def test_known_crash_trends_of_a_70_char_serial_as_staff(ctx):
    """Crashed the server before the request-core rewrite: a staff member asking for the
    trends of a 70-character serial."""
    bad = []
    for i in range(KNOWN_CRASH_REPEAT):
        status, code, why = _send(ctx, "staff", "GET",
                                  "/api/devices/%s/trends?metric=x" % ("a" * 70), False)
        if why:
            bad.append("attempt %d: %s" % (i + 1, why))
            break
    _report(ctx, bad)


def test_carnetd_is_still_up(ctx):
    """Runs last: the module's carnetd answers (the harness separately fails any test during
    which a carnetd died)."""
    assert ctx.server.proc.poll() is None
    assert ctx.client().get("/healthz").status == 200
