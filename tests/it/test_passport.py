"""Device passports (issue #17): the chain's public key, a device's history without personal
data signed with it (staff of a store that had the device, or the customer's status link), and
its check with libsodium and with `carnetd --verify-passport`: one byte changed fails."""
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import subprocess
import tempfile

from harness import Client, wait_for

S = {}
SERIAL = "PASS0DEV01"
OWNER = {"name": "Zoé Passeport", "email": "zoe.passport@example.com", "phone": "+33612345678"}
PROBLEM = "customer says: dropped it in the bath"


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def canonical(v):
    """The canonical form (README, "Device passport"), written here apart from carnetd's."""
    if isinstance(v, dict):
        items = sorted(v.items(), key=lambda kv: kv[0].encode("utf-8"))
        return "{" + ",".join(canonical(k) + ":" + canonical(x) for k, x in items) + "}"
    if isinstance(v, list):
        return "[" + ",".join(canonical(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "null"
    if isinstance(v, int):
        return str(v)
    assert isinstance(v, str), v
    out = ['"']
    short = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
             "\t": "\\t"}
    for ch in v:
        if ch in short:
            out.append(short[ch])
        elif ord(ch) < 0x20 or ord(ch) > 0x7F:
            units = ch.encode("utf-16-be")
            for i in range(0, len(units), 2):
                out.append("\\u%04X" % int.from_bytes(units[i:i + 2], "big"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def sodium_verify(doc, pk):
    lib = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
    assert lib.sodium_init() >= 0
    msg = canonical(doc["passport"]).encode("ascii")
    sig = b64d(doc["signature"]["sig"])
    return lib.crypto_sign_verify_detached(sig, msg, ctypes.c_ulonglong(len(msg)), pk) == 0


def cli(ctx, text, key_json):
    with tempfile.TemporaryDirectory() as d:
        f, k = os.path.join(d, "passport.json"), os.path.join(d, "key.json")
        with open(f, "wb") as fh:
            fh.write(text if isinstance(text, bytes) else text.encode())
        with open(k, "w") as fh:
            fh.write(key_json)
        p = subprocess.run([ctx.run.binary, "--verify-passport", f, "--passport-key", k],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, CARNET_DATA_KEY_FILE=""))
    return p.returncode, p.stdout.strip()


def device(ctx):
    """A device with an owner, a repair (note, part, moves), a diagnostic and a walk-in visit."""
    if "repair" in S:
        return S["repair"]
    tech = ctx.staff("tech")
    r = tech.post("/api/stores/%d/repairs" % S["paris"], {
        "serial": SERIAL, "problem": PROBLEM, "owner": OWNER,
        "intake": {"checklist": [{"item": "screen", "ok": True}], "accessories": "none",
                   "passcode_provided": False}})
    assert r.status == 201, r
    rep = r.json
    r = tech.put("/api/devices/" + SERIAL, {"model": "Pixel 8 — écran OLED"})
    assert r.status == 200, r
    for to in ("diagnosing", "repairing"):
        m = tech.post("/api/repairs/%d/transition" % rep["id"],
                      {"to": to, "note": "customer called: Zoé Passeport"})
        assert m.status == 200, m
    r = tech.post("/api/repairs/%d/parts" % rep["id"], {"part_number": "BAT-8", "description": "Battery"})
    assert r.status in (200, 201), r
    r = tech.post("/api/repairs/%d/notes" % rep["id"], {"text": "Battery replaced, tested 2 h"})
    assert r.status in (200, 201), r
    d = tech.post("/api/devices/%s/diagnostics" % SERIAL, {
        "store_id": S["paris"], "summary": "Batterie usée – remplacée",
        "results": [{"test": "battery", "passed": False,
                     "values": [{"name": "battery_health", "value": 71.5, "unit": "%"},
                                {"name": "cycle_count", "value": 812, "unit": "cycles"}]},
                    {"test": "speaker", "passed": True}]})
    assert d.status == 201, d
    ctx.sql("insert into visits (store_id, kind, day, ticket, name, contact, device_serial) "
            "values (%s, 'walk_in', current_date, 901, %s, %s, %s)",
            (S["paris"], OWNER["name"], OWNER["email"], SERIAL))
    S["repair"] = rep
    return rep


def passport_key(ctx):
    r = Client(ctx.server.port).get("/api/passport-key")
    assert r.status == 200, r
    return r


def test_public_key_and_its_row(ctx):
    r = passport_key(ctx)
    j = r.json
    assert j["alg"] == "Ed25519", j
    pk = b64d(j["public_key"])
    assert len(pk) == 32 and j["key_id"] == hashlib.sha256(pk).hexdigest()[:16], j
    row = ctx.sql1("select key_id, public_key, secret from passport_keys")
    assert row["key_id"] == j["key_id"] and row["public_key"] == j["public_key"], row
    # The seed rests sealed under the data key.
    assert ctx.is_pd(row["secret"]), row
    # Another carnetd of the chain finds the same key (not a new one).
    other = ctx.start_carnetd()
    r2 = Client(other.port).get("/api/passport-key")
    assert r2.status == 200 and r2.json == j, (r2, j)
    assert ctx.sql1("select count(*) as n from passport_keys")["n"] == 1
    other.stop()


def test_staff_passport_is_signed_and_has_no_personal_data(ctx):
    rep = device(ctx)
    key = passport_key(ctx)
    r = ctx.staff("tech").get("/api/devices/%s/passport" % SERIAL.lower())
    assert r.status == 200, r
    doc = r.json
    assert set(doc) == {"passport", "signature"}, doc
    assert doc["signature"]["alg"] == "Ed25519" and doc["signature"]["key_id"] == key.json["key_id"]
    p = doc["passport"]
    assert p["format"] == "carnet-passport/1", p
    assert p["device"] == {"serial": SERIAL, "model": "Pixel 8 — écran OLED"}, p
    assert p["record"]["head"] == ctx.sql1(
        "select encode(head_hash, 'hex') as h from devices where serial = %s", (SERIAL,))["h"]
    assert p["record"]["entries"] >= 6, p["record"]
    [rp] = p["repairs"]
    assert rp["number"] == rep["number"] and rp["store"] == "paris-opera", rp
    assert rp["state"] == "repairing", rp
    assert [s["state"] for s in rp["states"]] == ["intake", "diagnosing", "repairing"], rp
    assert rp["parts"][0]["part_number"] == "BAT-8" and rp["parts"][0]["quantity"] == 1, rp
    assert rp["notes"][0]["text"] == "Battery replaced, tested 2 h", rp
    [dg] = p["diagnostics"]
    assert dg["summary"] == "Batterie usée – remplacée" and dg["store"] == "paris-opera", dg
    assert dg["tests"][0] == {"test": "battery", "result": "fail", "values": [
        {"name": "battery_health", "value": "71.5", "unit": "%"},
        {"name": "cycle_count", "value": "812", "unit": "cycles"}]}, dg
    assert dg["tests"][1] == {"test": "speaker", "result": "pass", "values": []}, dg
    assert p["visits"][0]["store"] == "paris-opera" and p["visits"][0]["kind"] == "walk_in", p
    # Only strings and integers (no floats whose writing could differ between libraries).
    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        else:
            assert isinstance(v, (str, int)) and not isinstance(v, bool), v
    walk(p)
    # No personal data: nobody's name, email or phone, no staff, no customer's words.
    text = r.raw.decode()
    for secret in (OWNER["name"], OWNER["email"], OWNER["phone"], "Zo\\u00E9", "zoe.passport",
                   "612345678", PROBLEM, "customer called", "Technicien", "Théo", "tech@carnet"):
        assert secret not in text and secret not in json.dumps(doc, ensure_ascii=False), secret
    # The signature verifies with libsodium over the canonical form written apart here.
    assert sodium_verify(doc, b64d(key.json["public_key"]))
    S["doc"], S["text"], S["key"] = doc, r.raw, key.raw.decode()


def test_cli_verifies_and_one_byte_changed_fails(ctx):
    if "text" not in S:
        test_staff_passport_is_signed_and_has_no_personal_data(ctx)
    text, key = S["text"], S["key"]
    assert cli(ctx, text, key) == (0, "valid")
    # The same passport laid out otherwise is the same content: still valid.
    assert cli(ctx, json.dumps(S["doc"], indent=2, ensure_ascii=False), key) == (0, "valid")
    # One byte of the content changed: the serial, a part number, a date.
    for old, new in ((SERIAL.encode(), SERIAL[:-1].encode() + b"2"), (b"BAT-8", b"BAT-9"),
                     (b'"result":"fail"', b'"result":"pass"')):
        assert old in text, old
        bad = text.replace(old, new, 1)
        assert len(bad) == len(text)
        rc, out = cli(ctx, bad, key)
        assert rc == 1 and out.startswith("not valid: the signature does not match"), out
        assert not sodium_verify(json.loads(bad), b64d(json.loads(key)["public_key"]))
    # One byte of the signature changed.
    sig = S["doc"]["signature"]["sig"]
    bad = text.replace(sig.encode(), (("A" if sig[5] != "A" else "B").join(
        [sig[:5], sig[6:]])).encode())
    rc, out = cli(ctx, bad, key)
    assert rc == 1 and "not valid" in out, out
    # Another key: the reason names it. Not a passport: said so.
    other = json.dumps({"alg": "Ed25519", "key_id": "x",
                        "public_key": base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")})
    rc, out = cli(ctx, text, other)
    assert rc == 1 and "not with the key given" in out, out
    rc, out = cli(ctx, b"{\"hello\": 1}", key)
    assert rc == 1 and "not a passport" in out, out
    rc, out = cli(ctx, text[:-5], key)
    assert rc == 1 and "not JSON" in out, out


def test_who_may_not_have_it(ctx):
    device(ctx)
    anon = Client(ctx.server.port)
    r = anon.get("/api/devices/%s/passport" % SERIAL)
    assert r.status == 401, r
    # Lyon never had the device: it is unknown there, as an unknown serial is.
    r = ctx.staff("lyon").get("/api/devices/%s/passport" % SERIAL)
    assert r.status == 404 and r.error["code"] == "not_found" and r.error["field"] == "serial", r
    r = ctx.staff("tech").get("/api/devices/NOSUCH0001/passport")
    assert r.status == 404 and r.error["field"] == "serial", r
    r = ctx.staff("tech").get("/api/devices/bad!serial/passport")
    assert r.status == 422 and r.error["code"] == "bad_serial", r
    # An admin acts for the chain; Lyon has it once a repair is opened there.
    assert ctx.staff("admin").get("/api/devices/%s/passport" % SERIAL).status == 200
    assert ctx.sql1("select count(*) as n from audit_log where action = 'passport'")["n"] >= 1


def test_status_link_gives_the_customer_their_passport(ctx):
    rep = device(ctx)
    key = passport_key(ctx)
    anon = Client(ctx.server.port)
    r = anon.get("/api/repair-status/%s/passport" % rep["status_token"])
    assert r.status == 200, r
    assert r.json["passport"]["device"]["serial"] == SERIAL
    assert sodium_verify(r.json, b64d(key.json["public_key"]))
    assert OWNER["email"] not in r.raw.decode()
    assert cli(ctx, r.raw, key.raw.decode()) == (0, "valid")
    # A well-formed token that is no link, and a malformed one: 404 alike.
    r = anon.get("/api/repair-status/%s/passport" % ("A" * 43))
    assert r.status == 404 and r.error["field"] == "token", r
    r = anon.get("/api/repair-status/nope/passport")
    assert r.status == 404 and r.error["field"] == "token", r


def test_key_loaded_later_when_the_database_was_down_at_start(ctx):
    """A carnetd that starts while its database is down has no key yet: passports answer 503
    (retry shortly) and the key is asked for again, so it signs once the database is back."""
    key = passport_key(ctx).json
    ctx.cluster.stop()
    try:
        s = ctx.start_carnetd(env={"CARNET_RECONNECT_MAX_MS": "300"}, args=["--skip-migrate"],
                              wait=False)

        def answers():
            try:
                return s.client.get("/api/passport-key", timeout=2)
            except OSError:
                return None
        r = wait_for(answers, "an answer from the carnetd started without its database")
        assert r.status == 503 and r.error["code"] == "unavailable" and r.header("Retry-After"), r
        r = s.client.get("/api/repair-status/%s/passport" % ("A" * 43))
        assert r.status == 503 and r.error["code"] == "unavailable", r
    finally:
        ctx.cluster.start()
    ctx._db = None
    r = wait_for(lambda: (lambda x: x if x.status == 200 else None)(
        s.client.get("/api/passport-key", timeout=5)), "the key once the database is back")
    assert r.json == key, (r.json, key)
    rep = device(ctx)
    r = wait_for(lambda: (lambda x: x if x.status == 200 else None)(
        s.client.get("/api/repair-status/%s/passport" % rep["status_token"], timeout=5)),
        "a passport from the late carnetd")
    assert cli(ctx, r.raw, json.dumps(key)) == (0, "valid")
    # The module's own carnetd lost its connections too: later tests need it back.
    wait_for(lambda: ctx.client().get("/healthz", timeout=5).status == 200, "the module's carnetd")
