"""Idempotency-Key on the notes a tablet writes offline and resends on reconnect (issue #17,
point 1): a device's note and a repair's labour note. The same key and body again: one entry,
the first answer. The same key with another body: 422 idempotency_mismatch and nothing changed.
A bad key: 400 before anything is written. Another member of staff's key of the same text is
theirs: it never replays your answer. The key is kept only as a keyed hash."""
from harness import Client

S = {}


def setup(ctx):
    ctx.seed_demo()
    S["paris"] = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    S["lyon"] = ctx.sql1("select id from stores where code = 'lyon-part-dieu'")["id"]


def key(k):
    return {"Idempotency-Key": k}


def entries(ctx, kind):
    return ctx.sql1("select count(*) as n from record_entries where kind = %s", (kind,))["n"]


def _same(a, b):
    assert a.status == b.status and a.json == b.json, (a, b)


def open_repair(c, store, serial):
    r = c.post("/api/stores/%d/repairs" % store, {
        "serial": serial, "problem": "no power",
        "intake": {"checklist": [{"item": "screen", "ok": True}], "accessories": "none",
                   "passcode_provided": False}})
    assert r.status == 201, r
    return r.json["id"]


# ---- a device's note ----

def test_device_note_twice_with_one_key_is_one_entry(ctx):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/OFFL0DEV01", {"model": "MacBook Air"}).status == 201
    url = "/api/devices/OFFL0DEV01/notes"
    before = entries(ctx, "note")
    body = {"store_id": S["paris"], "text": "Fan noisy at boot."}
    r1 = tech.post(url, body, headers=key("note-1"))
    assert r1.status == 201 and r1.json["kind"] == "note", r1
    r2 = tech.post(url, dict(reversed(list(body.items()))), headers=key("note-1"))
    _same(r1, r2)
    assert entries(ctx, "note") == before + 1
    # Without a key each send is its own note, as before.
    assert tech.post(url, body).status == 201
    assert entries(ctx, "note") == before + 2
    row = ctx.sql1("select * from idempotency_replies where scope = %s",
                   ("device_note_add:%s" % ctx.sql1(
                       "select id from staff where email = 'tech@carnet.test'")["id"],))
    assert row and "note-1" not in str(row), row


def test_device_note_key_with_another_body_changes_nothing(ctx):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/OFFL0DEV02", {"model": "MacBook Air"}).status == 201
    url = "/api/devices/OFFL0DEV02/notes"
    assert tech.post(url, {"text": "First words."}, headers=key("note-2")).status == 201
    before = entries(ctx, "note")
    r = tech.post(url, {"text": "Other words."}, headers=key("note-2"))
    assert r.status == 422 and r.error["code"] == "idempotency_mismatch", r
    assert r.error["field"] == "Idempotency-Key", r
    # The same key and text on another device is another request: refused too.
    assert tech.put("/api/devices/OFFL0DEV03", {"model": "MacBook Air"}).status == 201
    r = tech.post("/api/devices/OFFL0DEV03/notes", {"text": "First words."}, headers=key("note-2"))
    assert r.status == 422 and r.error["code"] == "idempotency_mismatch", r
    assert entries(ctx, "note") == before
    # A refusal is not stored: the key, with a valid body, then goes through once.
    r = tech.post(url, {"text": "   "}, headers=key("note-3"))
    assert r.status == 422 and r.error["field"] == "text", r
    assert entries(ctx, "note") == before
    r1 = tech.post(url, {"text": "Fixed words."}, headers=key("note-3"))
    assert r1.status == 201, r1
    _same(r1, tech.post(url, {"text": "Fixed words."}, headers=key("note-3")))
    assert entries(ctx, "note") == before + 1


def test_device_note_key_of_another_staff_is_theirs(ctx):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/OFFL0DEV04", {"model": "MacBook Air"}).status == 201
    url = "/api/devices/OFFL0DEV04/notes"
    r1 = tech.post(url, {"text": "Same text."}, headers=key("shared-key"))
    assert r1.status == 201, r1
    before = entries(ctx, "note")
    # Lyon's staff with the same key and body: a note of their own, not a replay of Paris's.
    lyon = ctx.staff("lyon")
    r = lyon.post(url, {"text": "Same text."}, headers=key("shared-key"))
    assert r.status == 201 and r.json["id"] != r1.json["id"], r
    assert entries(ctx, "note") == before + 1
    # Lyon naming Paris as the store is refused, key or not, and writes nothing.
    r = lyon.post(url, {"store_id": S["paris"], "text": "Same text."}, headers=key("lyon-2"))
    assert r.status == 403, r
    assert entries(ctx, "note") == before + 1
    # Anonymous callers never reach the key.
    r = Client(ctx.server.port).post(url, {"text": "Same text."}, headers=key("shared-key"))
    assert r.status == 401, r
    assert entries(ctx, "note") == before + 1


# ---- a repair's labour note ----

def test_repair_note_twice_with_one_key_is_one_note(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(tech, S["paris"], "OFFL0REP01")
    url = "/api/repairs/%d/notes" % rid
    before = entries(ctx, "repair_note")
    r1 = tech.post(url, {"text": "Replaced the battery."}, headers=key("rnote-1"))
    assert r1.status == 201 and r1.json["repair_id"] == rid, r1
    r2 = tech.post(url, {"text": "Replaced the battery."}, headers=key("rnote-1"))
    _same(r1, r2)
    assert entries(ctx, "repair_note") == before + 1
    # Another body under the key: refused, nothing written.
    r = tech.post(url, {"text": "Replaced the screen."}, headers=key("rnote-1"))
    assert r.status == 422 and r.error["code"] == "idempotency_mismatch", r
    assert entries(ctx, "repair_note") == before + 1
    # Without a key: one note per send, as before.
    assert tech.post(url, {"text": "Replaced the battery."}).status == 201
    assert entries(ctx, "repair_note") == before + 2


def test_repair_note_key_of_another_staff_is_theirs(ctx):
    tech = ctx.staff("tech")
    rid = open_repair(tech, S["paris"], "OFFL0REP02")
    r1 = tech.post("/api/repairs/%d/notes" % rid, {"text": "Cleaned."}, headers=key("rshared"))
    assert r1.status == 201, r1
    before = entries(ctx, "repair_note")
    lyon = ctx.staff("lyon")
    # Lyon on Paris's repair with Paris's key: refused (the store is checked), no replay.
    r = lyon.post("/api/repairs/%d/notes" % rid, {"text": "Cleaned."}, headers=key("rshared"))
    assert r.status in (403, 404) and "text" not in (r.json or {}), r
    # Lyon on its own repair with the same key text: its own note.
    lid = open_repair(lyon, S["lyon"], "OFFL0REP03")
    r = lyon.post("/api/repairs/%d/notes" % lid, {"text": "Cleaned."}, headers=key("rshared"))
    assert r.status == 201 and r.json["repair_id"] == lid and r.json["id"] != r1.json["id"], r
    assert entries(ctx, "repair_note") == before + 1
    # The specialist (not a technician) is refused with a key too.
    spec = ctx.staff("specialist")
    r = spec.post("/api/repairs/%d/notes" % rid, {"text": "Cleaned."}, headers=key("rspec"))
    assert r.status == 403, r
    assert entries(ctx, "repair_note") == before + 1


# ---- bad keys ----

def test_bad_keys_are_400_before_anything_is_written(ctx):
    tech = ctx.staff("tech")
    assert tech.put("/api/devices/OFFL0DEV05", {"model": "MacBook Air"}).status == 201
    rid = open_repair(tech, S["paris"], "OFFL0REP04")
    notes, rnotes = entries(ctx, "note"), entries(ctx, "repair_note")
    for bad in ("k" * 256, "two words", "\t", "é"):
        r = tech.post("/api/devices/OFFL0DEV05/notes", {"text": "x"}, headers=key(bad))
        assert r.status == 400 and r.error["field"] == "Idempotency-Key", (bad, r)
        r = tech.post("/api/repairs/%d/notes" % rid, {"text": "x"}, headers=key(bad))
        assert r.status == 400 and r.error["field"] == "Idempotency-Key", (bad, r)
    assert entries(ctx, "note") == notes and entries(ctx, "repair_note") == rnotes
    # A browser's crypto.randomUUID() is a fine key.
    r = tech.post("/api/devices/OFFL0DEV05/notes", {"text": "x"},
                  headers=key("3b241101-e2bb-4255-8caf-4136c566a962"))
    assert r.status == 201, r


# ---- the installable app's files ----

def test_pwa_files_are_served_with_their_types(ctx):
    """The staff app installs: its manifest, worker and icons are served from web/staff/ with
    the types browsers require (a worker must be JavaScript; its scope is its own folder, so no
    Service-Worker-Allowed header is needed)."""
    import json
    c = ctx.client()
    r = c.get("/staff/manifest.webmanifest")
    assert r.status == 200 and r.header("Content-Type").startswith("application/manifest+json"), r
    m = json.loads(r.raw)
    assert m["start_url"] == "/staff/" and m["scope"] == "/staff/" and m["display"] == "standalone", m
    for icon in m["icons"]:
        i = c.get(icon["src"])
        assert i.status == 200 and i.header("Content-Type").startswith(icon["type"]), (icon, i)
    w = c.get("/staff/sw.js")
    assert w.status == 200 and w.header("Content-Type").startswith("text/javascript"), w
    page = c.get("/staff/")
    assert page.status == 200 and b'rel="manifest" href="/staff/manifest.webmanifest"' in page.raw
    # Every file the worker caches at install exists (one missing would leave a hole offline).
    import re
    src = w.raw.decode()
    listed = re.findall(r"'(/[a-z0-9_./-]+)'", src[src.index("const SHELL_FILES"):src.index("];")])
    modules = re.findall(r"'([a-z_]+)'", src[src.index("...["):src.index("].map")])
    for path in listed + ["/js/staff/%s.js" % m for m in modules]:
        assert c.get(path).status == 200, path
