"""A repair's intake: the condition record and its corrections, photos checked by their bytes,
the customer's signature of the intake terms (sealed at rest), and who may do what."""
import base64
import hashlib
import struct
import zlib

from harness import Client

S = {}
MAX_PHOTO = 5 * 1024 * 1024
COND = {"screen": "cracked", "housing": "scuffed", "liquid": "not_triggered",
        "accessories": ["case", "charger"], "note": "crack from the top left corner"}


def png(w=8, h=8, pad=b""):
    """A real PNG (RGB, one colour), `pad` bytes of an ancillary chunk to make it larger."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\x00" + b"\x20\x40\x60" * w for _ in range(h))
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    if pad:
        out += chunk(b"tEXt", b"c\x00" + pad)
    return out + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def jpeg(n=64):
    """JPEG framing (SOI, an APP0 segment, EOI): what the server checks."""
    body = b"JFIF\x00" + b"\x00" * n
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", len(body) + 2) + body + b"\xff\xd9"


def webp():
    data = b"\x2f\x00\x00\x00\x00" + b"\x00" * 11
    chunk = b"VP8L" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", 4 + len(chunk)) + b"WEBP" + chunk


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]
    S["n"] = 0


def new_repair(ctx, c=None, store=None):
    S["n"] += 1
    c = c or ctx.staff("tech")
    r = c.post("/api/stores/%d/repairs" % (store or S["paris"]),
               {"serial": "INTK%06d" % S["n"], "problem": "cracked screen",
                "intake": {"checklist": [{"item": "screen", "ok": False}]}})
    assert r.status == 201, r
    return r.json["id"]


def count(ctx, table, where="true", args=None):
    return ctx.sql1("select count(*) as n from %s where %s" % (table, where), args)["n"]


def snapshot(ctx):
    return tuple(count(ctx, t) for t in ("repair_intakes", "repair_photos", "repair_signatures",
                                         "record_entries"))


def photo(c, rid, data, ctype="image/png"):
    return c.post("/api/repairs/%d/photos" % rid, raw=data, headers={"Content-Type": ctype})


def sign(c, rid, data=None, **over):
    body = {"terms_version": "2026-12",
            "png": base64.b64encode(png(40, 16) if data is None else data).decode()}
    body.update(over)
    return c.post("/api/repairs/%d/signature" % rid, body)


def test_condition_photos_signature_happy_path(ctx):
    tech = ctx.staff("tech")
    rid = new_repair(ctx, tech)
    j = tech.get("/api/repairs/%d/intake" % rid).json
    assert j["current"] is None and j["records"] == [] and j["photos"] == [], j
    assert j["terms"]["version"] == "2026-12" and j["terms"]["fr"], j
    assert j["repair"]["number"].startswith("R-PARIS-OPERA-") and j["store"]["name"], j

    r = tech.post("/api/repairs/%d/intake" % rid, COND)
    assert r.status == 201, r
    rec = r.json
    assert rec["screen"] == "cracked" and rec["accessories"] == ["case", "charger"], rec
    assert rec["signature"] is None and rec["recorded_by"]["name"] == "Théo Technicien", rec

    data = png(16, 16)
    r = photo(tech, rid, data)
    assert r.status == 201, r
    p = r.json
    assert p["content_type"] == "image/png" and p["size"] == len(data), p
    assert p["sha256"] == hashlib.sha256(data).hexdigest(), p
    # The same bytes again (a retried upload) are the same photo.
    again = photo(tech, rid, data)
    assert again.status == 201 and again.json["id"] == p["id"], again
    for ctype, body in (("image/jpeg", jpeg()), ("image/webp", webp())):
        r = photo(tech, rid, body, ctype)
        assert r.status == 201 and r.json["content_type"] == ctype, r
    g = tech.get("/api/repairs/%d/photos/%d" % (rid, p["id"]))
    assert g.status == 200 and g.raw == data, g
    assert g.header("Content-Type") == "image/png", g.headers
    assert g.header("X-Content-Type-Options") == "nosniff", g.headers
    # A specialist of the store sees it (the receipt at the desk).
    assert ctx.staff("specialist").get("/api/repairs/%d/photos/%d" % (rid, p["id"])).raw == data

    sig = png(40, 16)
    r = sign(tech, rid, sig, intake_id=rec["id"])
    assert r.status == 201, r
    s = r.json["signature"]
    assert base64.b64decode(s["png"]) == sig and s["terms_version"] == "2026-12", s
    assert s["sha256"] == hashlib.sha256(sig).hexdigest(), s
    # Sealed at rest: the database holds a personal-data marker, not the image.
    stored = ctx.sql1("select image from repair_signatures where intake_id = %s", (rec["id"],))
    assert ctx.is_pd(stored["image"]), stored
    assert base64.b64decode(ctx.opened(stored["image"])) == sig

    j = tech.get("/api/repairs/%d/intake" % rid).json
    assert j["current"]["id"] == rec["id"] and j["current"]["signature"]["png"], j
    assert len(j["photos"]) == 3, j

    # The health record shows the intake, each photo (by hash) and the signature (hash only).
    serial = j["device"]["serial"]
    rec_j = tech.get("/api/devices/%s" % serial).json
    kinds = [e["kind"] for e in rec_j["entries"]]
    assert kinds.count("intake_photo") == 3 and "intake_condition" in kinds, kinds
    sig_entry = next(e for e in rec_j["entries"] if e["kind"] == "intake_signature")
    assert sig_entry["content"]["sha256"] == s["sha256"] and "png" not in sig_entry["content"]
    assert tech.get("/api/devices/%s/verify" % serial).json["ok"] is True


def test_corrections_are_new_records(ctx):
    tech = ctx.staff("tech")
    rid = new_repair(ctx, tech)
    first = tech.post("/api/repairs/%d/intake" % rid, COND).json
    assert sign(tech, rid).status == 201
    before = snapshot(ctx)
    r = tech.post("/api/repairs/%d/intake" % rid, COND)
    assert r.status == 409 and r.error["code"] == "already_recorded", r
    assert r.error["current"] == first["id"], r
    r = tech.post("/api/repairs/%d/intake" % rid, dict(COND, corrects=first["id"] + 1000))
    assert r.status == 409 and r.error["code"] == "stale", r
    assert snapshot(ctx) == before
    r = tech.post("/api/repairs/%d/intake" % rid, dict(COND, screen="broken", corrects=first["id"]))
    assert r.status == 201 and r.json["corrects"] == first["id"], r
    second = r.json
    assert second["signature"] is None, second  # a corrected intake is unsigned until signed
    j = tech.get("/api/repairs/%d/intake" % rid).json
    assert [x["id"] for x in j["records"]] == [second["id"], first["id"]], j
    assert j["records"][1]["signature"] is not None
    # The old record stays as it was: no rewrite, even by the owner's hand.
    r = sign(tech, rid, intake_id=first["id"])
    assert r.status == 409 and r.error["code"] == "stale", r
    assert sign(tech, rid, intake_id=second["id"]).status == 201
    r = sign(tech, rid)
    assert r.status == 409 and r.error["code"] == "already_signed", r
    entry = ctx.sql1("select corrects from record_entries where id = %s", (second["entry_id"],))
    assert entry["corrects"] == first["entry_id"], entry


def test_bad_condition_changes_nothing(ctx):
    tech = ctx.staff("tech")
    rid = new_repair(ctx, tech)
    before = snapshot(ctx)
    cases = [
        ({}, 422, "invalid", "screen"),
        (dict(COND, screen="shattered"), 422, "invalid", "screen"),
        (dict(COND, housing=1), 422, "invalid", "housing"),
        (dict(COND, liquid=None), 422, "invalid", "liquid"),
        (dict(COND, accessories="case"), 422, "invalid", "accessories"),
        (dict(COND, accessories=[""]), 422, "invalid", "accessories"),
        (dict(COND, accessories=["x"] * 21), 422, "invalid", "accessories"),
        (dict(COND, note="n" * 1001), 422, "invalid", "note"),
        (dict(COND, corrects="1"), 422, "invalid", "corrects"),
        (dict(COND, corrects=1), 409, "stale", "corrects"),
    ]
    for body, status, code, field in cases:
        r = tech.post("/api/repairs/%d/intake" % rid, body)
        assert (r.status, r.error.get("code"), r.error.get("field")) == (status, code, field), (body, r)
    r = tech.post("/api/repairs/%d/intake" % rid, raw=b"[1]", headers={"Content-Type": "application/json"})
    assert r.status == 400, r
    assert tech.post("/api/repairs/999999/intake", COND).status == 404
    assert snapshot(ctx) == before
    # Not in intake any more: the first record is refused.
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "diagnosing"}).status == 200
    r = tech.post("/api/repairs/%d/intake" % rid, COND)
    assert r.status == 409 and r.error["code"] == "bad_state", r
    # A closed repair takes no photo either.
    assert tech.post("/api/repairs/%d/transition" % rid, {"to": "cancelled"}).status == 200
    r = photo(tech, rid, png())
    assert r.status == 409 and r.error["code"] == "repair_closed", r
    assert snapshot(ctx)[:3] == before[:3]  # the moves added entries, the intake none


def test_bad_photos_change_nothing(ctx):
    tech = ctx.staff("tech")
    rid = new_repair(ctx, tech)
    before = snapshot(ctx)
    good = png(8, 8)
    gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04" + b"\x00" * 30 + b";"
    cases = [
        (good, "image/jpeg", 422, "type_mismatch", "photo"),   # a PNG said to be a JPEG
        (jpeg(), "image/png", 422, "type_mismatch", "photo"),
        (gif, "image/gif", 415, "unsupported_type", "content_type"),
        (gif, "image/png", 422, "not_an_image", "photo"),
        (b"hello, I am text", "image/jpeg", 422, "not_an_image", "photo"),
        (b"", "image/png", 422, "empty", "photo"),
        (good[:-20], "image/png", 422, "truncated", "photo"),
        (jpeg()[:-2], "image/jpeg", 422, "truncated", "photo"),
        (webp()[:-4], "image/webp", 422, "truncated", "photo"),
        (good, "application/json", 415, "unsupported_type", "content_type"),
        (good, "text/html", 415, "unsupported_type", "content_type"),
    ]
    for data, ctype, status, code, field in cases:
        r = photo(tech, rid, data, ctype)
        assert (r.status, r.error.get("code"), r.error.get("field")) == (status, code, field), (ctype, data[:8], r)
    r = tech.post("/api/repairs/%d/photos" % rid, raw=good)  # no Content-Type at all
    assert r.status == 415, r
    # 5 MiB is accepted, one byte more is not; far beyond, the transport refuses it.
    big = png(8, 8, pad=b"x" * (MAX_PHOTO - len(png(8, 8)) - 12 - 2))
    assert len(big) == MAX_PHOTO, len(big)
    r = photo(tech, rid, big)
    assert r.status == 201, r
    ok = r.json["id"]
    over = png(8, 8, pad=b"x" * (MAX_PHOTO - len(png(8, 8)) - 12 - 1))
    r = photo(tech, rid, over)
    assert r.status == 413 and r.error["code"] == "too_large" and r.error["field"] == "photo", r
    r = photo(tech, rid, b"\x89PNG" + b"\x00" * (9 * 1024 * 1024))
    assert r.status == 413 and r.error["code"] == "body_too_large", r
    assert count(ctx, "repair_photos", "repair_id = %s", (rid,)) == 1
    assert ctx.sql1("select size from repair_photos where id = %s", (ok,))["size"] == MAX_PHOTO
    after = snapshot(ctx)
    assert after[1] == before[1] + 1 and after[0] == before[0] and after[2] == before[2]


def test_bad_signatures_change_nothing(ctx):
    tech = ctx.staff("tech")
    rid = new_repair(ctx, tech)
    before = snapshot(ctx)
    r = sign(tech, rid)
    assert r.status == 409 and r.error["code"] == "no_intake", r
    assert tech.post("/api/repairs/%d/intake" % rid, COND).status == 201
    before = snapshot(ctx)
    b64 = lambda b: base64.b64encode(b).decode()
    cases = [
        ({"terms_version": "2026-12"}, 422, "required", "png"),
        ({"terms_version": "2026-12", "png": 5}, 422, "required", "png"),
        ({"terms_version": "2026-12", "png": "not base64!"}, 422, "invalid", "png"),
        ({"terms_version": "2026-12", "png": b64(jpeg())}, 422, "not_png", "png"),
        ({"terms_version": "2026-12", "png": b64(b"text")}, 422, "not_png", "png"),
        ({"terms_version": "2026-12", "png": b64(png()[:-12])}, 422, "truncated", "png"),
        ({"terms_version": "2026-12", "png": b64(png(pad=b"x" * 13000))}, 413, "too_large", "png"),
        ({"terms_version": "1999", "png": b64(png())}, 422, "invalid", "terms_version"),
        ({"png": b64(png())}, 422, "invalid", "terms_version"),
    ]
    for body, status, code, field in cases:
        r = tech.post("/api/repairs/%d/signature" % rid, body)
        assert (r.status, r.error.get("code"), r.error.get("field")) == (status, code, field), (body, r)
    assert snapshot(ctx) == before
    # A data: URL as a canvas gives it is taken.
    r = tech.post("/api/repairs/%d/signature" % rid,
                  {"terms_version": "2026-12", "png": "data:image/png;base64," + b64(png())})
    assert r.status == 201, r


def test_who_may_not(ctx):
    tech = ctx.staff("tech")
    rid = new_repair(ctx, tech)
    assert tech.post("/api/repairs/%d/intake" % rid, COND).status == 201
    pid = photo(tech, rid, png()).json["id"]
    before = snapshot(ctx)
    anon = Client(ctx.server.port)
    lyon = ctx.staff("lyon")  # technician and manager, in Lyon only
    spec = ctx.staff("specialist")
    for c, want in ((anon, {401}), (lyon, {403, 404})):
        assert c.get("/api/repairs/%d/intake" % rid).status in want
        assert c.get("/api/repairs/%d/photos/%d" % (rid, pid)).status in want
        assert c.post("/api/repairs/%d/intake" % rid, dict(COND, corrects=1)).status in want
        assert photo(c, rid, png(9, 9)).status in want
        assert sign(c, rid).status in want
    # Specialists read the intake (the receipt at the desk) but record nothing: bench work.
    assert spec.get("/api/repairs/%d/intake" % rid).status == 200
    for r in (spec.post("/api/repairs/%d/intake" % rid, COND), photo(spec, rid, png(9, 9)),
              sign(spec, rid)):
        assert r.status == 403, r
    assert snapshot(ctx) == before
    # A Lyon repair's photo is not reachable through a Paris repair's id, nor the other way.
    lrid = new_repair(ctx, lyon, store=S["lyon"])
    lpid = photo(lyon, lrid, png(7, 7)).json["id"]
    assert tech.get("/api/repairs/%d/photos/%d" % (rid, lpid)).status == 404
    assert lyon.get("/api/repairs/%d/photos/%d" % (lrid, pid)).status == 404
    assert tech.get("/api/repairs/%d/photos/%d" % (lrid, lpid)).status in (403, 404)


def test_rows_are_append_only(ctx):
    tech = ctx.staff("tech")
    rid = new_repair(ctx, tech)
    rec = tech.post("/api/repairs/%d/intake" % rid, COND).json
    assert sign(tech, rid).status == 201
    for q in ("update repair_intakes set screen = 'intact' where id = %s" % rec["id"],
              "delete from repair_intakes where id = %s" % rec["id"],
              "update repair_signatures set terms_version = terms_version, size = size + 1"
              " where intake_id = %s" % rec["id"]):
        try:
            ctx.sql(q)
        except Exception as e:  # psycopg2 error carrying our SQLSTATE
            assert "append_only" in str(e), e
            ctx.db.rollback()
        else:
            raise AssertionError("rewrote history: " + q)


def test_erasure_removes_the_signature_image(ctx):
    """The signature is the customer's personal data: their erasure removes the image; its hash
    (in the health record) stays, and the intake reads as signed, image erased."""
    tech = ctx.staff("tech")
    S["n"] += 1
    r = tech.post("/api/stores/%d/repairs" % S["paris"],
                  {"serial": "INTK%06d" % S["n"], "problem": "cracked screen",
                   "intake": {"checklist": [{"item": "screen", "ok": False}]},
                   "owner": {"name": "Sig Erased", "email": "sig.erased@example.com"}})
    assert r.status == 201, r
    rid = r.json["id"]
    assert tech.post("/api/repairs/%d/intake" % rid, COND).status == 201
    assert sign(tech, rid).status == 201
    r = ctx.staff("manager").post("/api/customers/erase", {"email": "sig.erased@example.com"})
    assert r.status == 200, r
    row = ctx.sql1("select image, sha256 from repair_signatures where repair_id = %s", (rid,))
    assert row["image"] is None and row["sha256"], row
    j = tech.get("/api/repairs/%d/intake" % rid).json
    assert j["current"]["signature"]["png"] is None and j["current"]["signature"]["sha256"], j
