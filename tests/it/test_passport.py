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
    # Labour notes are free text for colleagues: in no passport (README, "Device passport").
    assert "notes" not in rp and "Battery replaced" not in r.raw.decode(), rp
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


def lyon_service(ctx):
    return ctx.sql1("select id from services where store_id = %s and skill = 'repair' "
                    "order by id limit 1", (S["lyon"],))["id"]


def test_a_serial_typed_by_the_public_unlocks_nothing(ctx):
    """A booking or a place in the walk-in line carries whatever serial the customer typed: a
    Lyon staff member booking at Lyon with the Paris device's serial still gets 404. What staff
    did with the device in hand counts: a visit Lyon started serving."""
    device(ctx)
    lyon = ctx.staff("lyon")
    anon = Client(ctx.server.port)

    def lyon_gets():
        return lyon.get("/api/devices/%s/passport" % SERIAL)
    # A public booking at Lyon with the serial (cancelled or not: neither counts).
    svc = lyon_service(ctx)
    tomorrow = ctx.store_today(S["lyon"])
    r = anon.get("/api/stores/%d/availability?service=%d&from=%s&to=%s" % (
        S["lyon"], svc, tomorrow, ctx.sql1("select %s::date + 7 as d", (tomorrow,))["d"]))
    assert r.status == 200, r
    slot = next(x["starts_at"] for d in r.json["days"] for x in d["slots"])
    r = anon.post("/api/stores/%d/appointments" % S["lyon"], {
        "service_id": svc, "starts_at": slot, "name": "Mallory", "email": "m@example.com",
        "serial": SERIAL})
    assert r.status == 201, r
    assert ctx.sql1("select device_serial from appointments where id = %s",
                    (r.json["appointment"]["id"],))["device_serial"] == SERIAL
    r = lyon_gets()
    assert r.status == 404 and r.error["field"] == "serial", r
    # The walk-in line at Lyon with the serial, then called: still the customer's word.
    r = anon.post("/api/stores/%d/line" % S["lyon"], {"name": "Mallory", "serial": SERIAL})
    assert r.status == 201, r
    vid = r.json["visit_id"]
    r = lyon_gets()
    assert r.status == 404, r
    r = lyon.post("/api/visits/%d/call" % vid, {})
    assert r.status == 200 and r.json["status"] == "called", r
    r = lyon_gets()
    assert r.status == 404, r
    # A checked-in booking is not enough either (customers check themselves in).
    ctx.sql("update appointments set status = 'checked_in' where device_serial = %s "
            "and store_id = %s", (SERIAL, S["lyon"]))
    assert lyon_gets().status == 404
    # A diagnostic Lyon records on the serial by itself: any technician may record one on any
    # serial, so it is not proof the device was there.
    r = lyon.post("/api/devices/%s/diagnostics" % SERIAL, {
        "store_id": S["lyon"], "results": [{"test": "speaker", "passed": True}]})
    assert r.status == 201, r
    assert lyon_gets().status == 404
    # Lyon staff start serving the visit, the device in hand: Lyon may have its passport, and
    # the visit is in it.
    r = lyon.post("/api/visits/%d/start" % vid)
    assert r.status == 200 and r.json["status"] == "in_service", r
    r = lyon_gets()
    assert r.status == 200, r
    assert [v["store"] for v in r.json["passport"]["visits"]].count("lyon-part-dieu") == 1, r.json
    # Paris staff, who had it for repair, still may.
    assert ctx.staff("tech").get("/api/devices/%s/passport" % SERIAL).status == 200


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


def test_status_link_passport_ends_with_the_repair(ctx):
    """The status link lives a year and is forwarded: its passport holds the history up to the
    repair's end (nothing of a later owner), and only for 30 days after it ended (then 410);
    staff still have the whole of it."""
    serial = "PASS0DEV02"
    tech = ctx.staff("tech")
    r = tech.post("/api/stores/%d/repairs" % S["paris"], {
        "serial": serial, "problem": "no sound", "owner": OWNER,
        "intake": {"checklist": [{"item": "screen", "ok": True}], "accessories": "none",
                   "passcode_provided": False}})
    assert r.status == 201, r
    first = r.json
    anon = Client(ctx.server.port)
    link = "/api/repair-status/%s/passport" % first["status_token"]
    r = anon.get(link)
    assert r.status == 200 and len(r.json["passport"]["repairs"]) == 1, r
    r = tech.post("/api/repairs/%d/transition" % first["id"], {"to": "cancelled"})
    assert r.status == 200, r
    ended = ctx.sql1("select head_entry from devices where serial = %s", (serial,))["head_entry"]
    # The device is sold; its next owner brings it in: a repair, a diagnostic.
    r = tech.post("/api/stores/%d/repairs" % S["paris"], {
        "serial": serial, "problem": "battery",
        "owner": {"name": "Next Owner", "email": "next.owner@example.com"},
        "intake": {"checklist": [{"item": "screen", "ok": True}], "accessories": "none",
                   "passcode_provided": False}})
    assert r.status == 201, r
    second = r.json
    r = tech.post("/api/devices/%s/diagnostics" % serial, {
        "store_id": S["paris"], "summary": "later", "results": [{"test": "speaker", "passed": True}]})
    assert r.status == 201, r
    key = passport_key(ctx)
    r = anon.get(link)
    assert r.status == 200, r
    p = r.json["passport"]
    assert [x["number"] for x in p["repairs"]] == [first["number"]], p
    assert p["repairs"][0]["state"] == "cancelled" and p["diagnostics"] == [], p
    assert p["record"]["head_entry"] == ended, (p["record"], ended)
    assert p["record"]["head"] == ctx.sql1("select encode(hash, 'hex') as h from record_entries "
                                           "where id = %s", (ended,))["h"]
    assert sodium_verify(r.json, b64d(key.json["public_key"]))
    # The next owner's link and staff see both repairs.
    r = anon.get("/api/repair-status/%s/passport" % second["status_token"])
    assert r.status == 200 and len(r.json["passport"]["repairs"]) == 2, r
    r = tech.get("/api/devices/%s/passport" % serial)
    assert r.status == 200 and len(r.json["passport"]["repairs"]) == 2, r
    assert len(r.json["passport"]["diagnostics"]) == 1, r.json
    # 30 days after the end: still; a day more: 410 passport_ended.
    ctx.sql("update repair_moves set at = now() - interval '29 days 23 hours' "
            "where repair_id = %s and to_state = 'cancelled'", (first["id"],))
    assert anon.get(link).status == 200
    ctx.sql("update repair_moves set at = now() - interval '31 days' "
            "where repair_id = %s and to_state = 'cancelled'", (first["id"],))
    r = anon.get(link)
    assert r.status == 410 and r.error["code"] == "passport_ended" and r.error["field"] == "token", r
    # The customer's status page itself still answers (the link is valid, only the passport
    # has ended).
    assert anon.get("/api/repair-status/%s" % first["status_token"]).status == 200


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
