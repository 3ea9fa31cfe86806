"""Access and erasure (issue 12, point 5; GDPR articles 15 and 17): GET /api/customers and
POST /api/customers/erase, and the erasure requests customers make from their links.

The policy, written here apart from the SQL that enforces it (schema/api/customers.sql):
  * A person is named by an email or a phone (exactly one); found only through blind indexes.
  * An admin sees and erases everything held about them. A manager sees a person only when they
    are a customer of one of the manager's stores (a booking, walk-in, standby place, repair or
    thread there), and then what those stores hold. Anyone else's customer is answered exactly
    like an unknown person: 404. Specialists and technicians get 403, nobody signed in 401.
  * Erasure: names read 'erased customer', contacts and their blind indexes are gone, message
    texts read 'erased', the device's hash-chained record still verifies (a message entry that
    held the text is redacted and an 'erasure' entry vouches for it), the audit log says who
    erased whom (the blind index, never the email). A second erasure finds nobody: 404.
  * A customer's request from a manage or repair-status link appears in the store managers' list
    and is closed by the erasure.
"""
import base64
import ctypes
import hashlib
import re
import secrets
import string

from harness import Client, data_key_file, wait_for

PW = "carnet-demo"
PD_RE = re.compile(r"\{\{pd:([0-9a-f]{16}):([A-Za-z0-9_-]+)\}\}")
_sodium = None


def setup(ctx):
    ctx.seed_demo()
    ctx.paris = ctx.sql1("select id from stores where code = 'paris-opera'")["id"]
    ctx.lyon = ctx.sql1("select id from stores where id <> %s order by id limit 1",
                        (ctx.paris,))["id"]
    ctx.service = ctx.sql1("select id from services where store_id = %s order by id limit 1",
                           (ctx.paris,))["id"]
    ctx.staff = ctx.sql1("select id from staff where email = 'manager@carnet.test'")["id"]


def _key(ctx):
    with open(data_key_file(ctx.run.workdir), "rb") as f:
        return f.read()


def _open_pd(ctx, text):
    """`text` with every personal-data marker opened with the run's data key."""
    global _sodium
    if _sodium is None:
        _sodium = ctypes.CDLL("libsodium.so.23")
        assert _sodium.sodium_init() >= 0
    key = _key(ctx)

    def one(m):
        raw = base64.urlsafe_b64decode(m.group(2) + "=" * (-len(m.group(2)) % 4))
        nonce, box = raw[:24], raw[24:]
        out = ctypes.create_string_buffer(len(box))
        n = ctypes.c_ulonglong(0)
        ad = b"carnet-pd-v1"
        rc = _sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            out, ctypes.byref(n), None, box, ctypes.c_ulonglong(len(box)), ad,
            ctypes.c_ulonglong(len(ad)), nonce, key)
        assert rc == 0, "a pd marker does not open with the run's key"
        return out.raw[:n.value].decode()
    return ctx.opened(PD_RE.sub(one, text))


def _blind(ctx, kind, value):
    """seal_blind(0, kind, value) of server/seal.c."""
    bkey = hashlib.blake2b(b"carnet-blind-index-v1", digest_size=32, key=_key(ctx)).digest()
    if kind == "email":
        norm = "".join(c.lower() for c in value if not c.isspace())
    else:
        norm = "".join(c for c in value if not c.isspace() and c not in ".-()")
    return hashlib.blake2b((kind + ":" + norm).encode(), digest_size=32, key=bkey).hexdigest()


def _as(ctx, email):
    c = ctx.client()
    c.login(email, PW)
    return c


def _link_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def _customer(ctx, store=None):
    """A customer of `store` (Paris) with a booking, a walk-in, a standby place, an owned device
    with a repair, a message thread about it (whose message is also in the device's record, as
    entries held texts before they held hashes) and a message waiting to be sent. Written in
    clear as old rows were; the sealing job seals them and fills the blind indexes."""
    store = store or ctx.paris
    ctx.server  # noqa: B018 (the sealing job runs in carnetd)
    tag = secrets.token_hex(4)
    c = {"tag": tag, "name": "Zoe Gdpr " + tag, "email": "zoe.%s@example.test" % tag,
         "phone": "+336%08d" % secrets.randbelow(10 ** 8),
         "serial": "GD" + "".join(secrets.choice(string.ascii_uppercase) for _ in range(8)),
         "text": "Hello, Zoe %s here, call me back" % tag,
         "manage": secrets.token_urlsafe(32), "status": secrets.token_urlsafe(32)}
    service = ctx.sql1("select id from services where store_id = %s order by id limit 1",
                       (store,))["id"]
    staff = ctx.sql1("select staff_id from staff_roles where store_id = %s order by staff_id"
                     " limit 1", (store,))["staff_id"]
    code = "".join(secrets.choice("23456789ABCDEFGHJKMNPQRSTUVWXYZ") for _ in range(6))
    c["appt"] = ctx.sql1(
        "insert into appointments (store_id, service_id, staff_id, starts_at, ends_at,"
        " blocked_until, status, code, customer_name, customer_email, customer_phone,"
        " device_serial, problem) values (%s, %s, %s, now() - interval '3 days',"
        " now() - interval '3 days' + interval '30 minutes',"
        " now() - interval '3 days' + interval '30 minutes', 'done', %s, %s, %s, %s, %s,"
        " 'screen') returning id",
        (store, service, staff, code, c["name"], c["email"], c["phone"], c["serial"]))["id"]
    ctx.sql("insert into appointment_tokens (token_hash, appointment_id, purpose, expires_at)"
            " values (%s, %s, 'manage', now() + interval '30 days')",
            (_link_hash(c["manage"]), c["appt"]))
    c["visit"] = ctx.sql1(
        "insert into visits (store_id, kind, day, ticket, name, contact, status) values"
        " (%s, 'walk_in', current_date, (select coalesce(max(ticket), 0) + 1 from visits"
        " where store_id = %s and day = current_date), %s, %s, 'done') returning id",
        (store, store, c["name"], c["email"]))["id"]
    c["standby"] = ctx.sql1(
        "insert into standby (store_id, service_id, day, name, email, phone, token_hash)"
        " values (%s, %s, current_date + 5, %s, %s, %s, %s) returning id",
        (store, service, c["name"], c["email"], c["phone"], secrets.token_hex(32)))["id"]
    dev = ctx.sql1("select device_ensure(%s) as id", (c["serial"],))["id"]
    c["device"] = dev
    c["owner"] = ctx.sql1("insert into device_owners (device_id, name, email, phone)"
                          " values (%s, %s, %s, %s) returning id",
                          (dev, c["name"], c["email"], c["phone"]))["id"]
    c["repair"] = ctx.sql1(
        "insert into repair_orders (number, device_id, store_id, problem, intake,"
        " contact_owner_id) values (%s, %s, %s, 'battery', '{}', %s) returning id",
        ("R-GDPR-" + tag, dev, store, c["owner"]))["id"]
    ctx.sql("select record_append(%s, 'repair_opened', '{}'::jsonb, null, %s, 'repair', %s)",
            (dev, store, c["repair"]))
    ctx.sql("insert into repair_links (token_hash, repair_id, purpose, expires_at)"
            " values (%s, %s, 'status', now() + interval '30 days')",
            (_link_hash(c["status"]), c["repair"]))
    c["thread"] = ctx.sql1(
        "insert into message_threads (store_id, ref_type, ref_id, channel, recipient,"
        " customer_name, device_id) values (%s, 'repair', %s, 'email', %s, %s, %s)"
        " returning id", (store, c["repair"], c["email"], c["name"], dev))["id"]
    c["message"] = ctx.sql1("insert into messages (thread_id, author, body) values"
                            " (%s, 'customer', %s) returning id", (c["thread"], c["text"]))["id"]
    c["entry"] = ctx.sql1(
        "select (record_append(%s, 'message', jsonb_build_object('message_id', %s::bigint,"
        " 'thread_id', %s::bigint, 'author', 'customer', 'body', %s::text), null, %s, 'repair',"
        " %s)).id as id", (dev, c["message"], c["thread"], c["text"], store, c["repair"]))["id"]
    ctx.sql("select record_append(%s, 'note', '{\"text\": \"after\"}'::jsonb, null)", (dev,))
    c["outbox"] = ctx.sql1(
        "insert into outbox (kind, channel, recipient, locale, subject, body, sms, store_id,"
        " ref_type, ref_id, next_attempt_at) values ('store_message', 'email', %s, 'en',"
        " 'For ' || %s, 'Dear ' || %s, 'sms', %s, 'thread', %s, now() + interval '1 day')"
        " returning id", (c["email"], c["name"], c["name"], store, c["thread"]))["id"]
    _wait_sealed(ctx, c)
    return c


def _wait_sealed(ctx, c):
    checks = [("appointments", "customer_email_bi", c["appt"]), ("visits", "contact_bi", c["visit"]),
              ("standby", "email_bi", c["standby"]), ("device_owners", "email_bi", c["owner"]),
              ("message_threads", "recipient_bi", c["thread"]),
              ("outbox", "recipient_bi", c["outbox"])]
    for table, col, id_ in checks:
        wait_for(lambda: ctx.sql1("select %s is not null as ok from %s where id = %%s"
                                  % (col, table), (id_,))["ok"],
                 "%s.%s sealed" % (table, col))


def _rows_text(ctx, c):
    """Every row that held the customer's data, as JSON text with every marker opened."""
    parts = []
    for table, id_ in [("appointments", c["appt"]), ("visits", c["visit"]),
                       ("standby", c["standby"]), ("device_owners", c["owner"]),
                       ("message_threads", c["thread"]), ("messages", c["message"]),
                       ("outbox", c["outbox"])]:
        parts.append(ctx.sql1("select row_to_json(t)::text as j from %s t where id = %%s"
                              % table, (id_,))["j"])
    parts += [r["j"] for r in ctx.sql("select row_to_json(e)::text as j from record_entries e"
                                      " where device_id = %s", (c["device"],))]
    return _open_pd(ctx, "\n".join(parts))


def test_access_returns_everything_held(ctx):
    c = _customer(ctx)
    for who in ("manager@carnet.test", "admin@carnet.test"):
        r = _as(ctx, who).get("/api/customers?email=" + c["email"].upper())
        assert r.status == 200, r.raw
        j = r.json
        assert j["found_by"] == "email"
        assert [s["id"] for s in j["stores"]] == [ctx.paris]
        assert [(b["id"], b["name"], b["email"], b["phone"], b["device_serial"], b["problem"])
                for b in j["bookings"]] == [(c["appt"], c["name"], c["email"], c["phone"],
                                             c["serial"], "screen")]
        assert [(v["id"], v["name"], v["contact"]) for v in j["visits"]] == [
            (c["visit"], c["name"], c["email"])]
        assert [(s["id"], s["email"]) for s in j["standby"]] == [(c["standby"], c["email"])]
        assert [(d["serial"], d["owner"]["name"], d["current"]) for d in j["devices"]] == [
            (c["serial"], c["name"], True)]
        assert [r_["id"] for r_ in j["repairs"]] == [c["repair"]]
        assert [(t["id"], t["recipient"], [m["body"] for m in t["messages"]])
                for t in j["threads"]] == [(c["thread"], c["email"], [c["text"]])]
        assert [(m["id"], m["recipient"]) for m in j["messages_sent"]] == [
            (c["outbox"], c["email"])]
        assert "{{pd:" not in r.raw.decode()
    # By phone, written another way: the same person (bookings, standby place, ownership).
    spaced = c["phone"][:3] + " " + c["phone"][3:6] + "." + c["phone"][6:]
    j = _as(ctx, "manager@carnet.test").get("/api/customers?phone=" + spaced.replace("+", "%2B")
                                            .replace(" ", "%20")).json
    assert [b["id"] for b in j["bookings"]] == [c["appt"]]
    assert [s["id"] for s in j["standby"]] == [c["standby"]]
    assert [d["serial"] for d in j["devices"]] == [c["serial"]]
    # The read is audited, naming the person by blind index only.
    a = ctx.sql1("select object_id from audit_log where action = 'customer_access'"
                 " order by id desc limit 1")
    assert a["object_id"] == _blind(ctx, "phone", c["phone"])


def test_another_stores_customer_is_answered_like_an_unknown_person(ctx):
    c = _customer(ctx)
    lyon = _as(ctx, "lyon@carnet.test")
    r = lyon.get("/api/customers?email=" + c["email"])
    unknown = lyon.get("/api/customers?email=nobody.%s@example.test" % c["tag"])
    assert r.status == unknown.status == 404, (r.raw, unknown.raw)
    assert r.json == unknown.json, (r.json, unknown.json)
    assert r.json["error"]["field"] == "email"
    r = lyon.post("/api/customers/erase", {"email": c["email"]})
    assert r.status == 404 and r.json == unknown.json
    # Nothing changed.
    assert ctx.sql1("select customer_email_bi is not null as ok from appointments where id = %s",
                    (c["appt"],))["ok"]


def test_who_may_ask(ctx):
    c = _customer(ctx)
    anon = Client(ctx.server.port)
    assert anon.get("/api/customers?email=" + c["email"]).status == 401
    assert anon.post("/api/customers/erase", {"email": c["email"]}).status == 401
    spec = _as(ctx, "specialist@carnet.test")
    assert spec.get("/api/customers?email=" + c["email"]).status == 403
    assert spec.post("/api/customers/erase", {"email": c["email"]}).status == 403
    tech = _as(ctx, "tech@carnet.test")
    assert tech.get("/api/customers?email=" + c["email"]).status == 403
    assert ctx.sql1("select name from device_owners where id = %s", (c["owner"],))["name"] != \
        "erased customer"


def test_bad_inputs_are_422_naming_the_field(ctx):
    m = _as(ctx, "manager@carnet.test")
    cases = [("/api/customers", "email"),
             ("/api/customers?email=a@example.test&phone=%2B33600000000", "phone"),
             ("/api/customers?email=not-an-email", "email"),
             ("/api/customers?email=a%20b@example.test", "email"),
             ("/api/customers?phone=call-me", "phone"),
             ("/api/customers?phone=123", "phone")]
    for path, field in cases:
        r = m.get(path)
        assert (r.status, r.json["error"]["code"], r.json["error"]["field"]) == (422, "invalid", field), (path, r.raw)
    for body, field in [({}, "email"), ({"email": 5}, "email"), ({"phone": ["x"]}, "phone"),
                        ({"email": "x@y.z", "phone": "+33600000000"}, "phone"),
                        ({"email": "nope"}, "email")]:
        r = m.post("/api/customers/erase", body)
        assert (r.status, r.json["error"]["code"], r.json["error"]["field"]) == (422, "invalid", field), (body, r.raw)
    r = m.post("/api/customers/erase", {"email": "nobody@example.test"})
    assert (r.status, r.json["error"]["code"]) == (404, "not_found")


def test_erasure_removes_contacts_and_texts_and_the_record_still_verifies(ctx):
    c = _customer(ctx)
    before = _rows_text(ctx, c)
    assert c["email"] in before and c["text"] in before and c["name"] in before
    m = _as(ctx, "manager@carnet.test")
    r = m.post("/api/customers/erase", {"email": c["email"]})
    assert r.status == 200, r.raw
    assert r.json["bookings"] == 1 and r.json["owners"] == 1 and r.json["threads"] == 1
    assert r.json["record_entries_redacted"] == 1

    after = _rows_text(ctx, c)
    for secret in (c["email"], c["name"], c["text"], c["phone"], c["tag"]):
        assert secret not in after, secret
    for table, cols, id_ in [
            ("appointments", "customer_email_bi, customer_phone_bi", c["appt"]),
            ("visits", "contact_bi", c["visit"]), ("standby", "email_bi, phone_bi", c["standby"]),
            ("device_owners", "email_bi, phone_bi", c["owner"]),
            ("message_threads", "recipient_bi", c["thread"]), ("outbox", "recipient_bi",
                                                               c["outbox"])]:
        row = ctx.sql1("select %s from %s where id = %%s" % (cols, table), (id_,))
        assert all(v is None for v in row.values()), (table, row)
    assert ctx.sql1("select customer_name from appointments where id = %s",
                    (c["appt"],))["customer_name"] == "erased customer"
    assert ctx.sql1("select body from messages where id = %s", (c["message"],))["body"] == "erased"
    assert ctx.sql1("select status from outbox where id = %s", (c["outbox"],))["status"] == \
        "cancelled"
    # Their links no longer open anything.
    anon = Client(ctx.server.port)
    assert anon.get("/api/manage/" + c["manage"]).status == 404
    assert anon.get("/api/repair-status/" + c["status"]).status == 404

    # The device and its record stay; entries that named them read "erased customer".
    rec = m.get("/api/devices/" + c["serial"])
    assert rec.status == 200
    assert "erased customer" in rec.raw.decode() and c["name"] not in rec.raw.decode()
    v = m.get("/api/devices/%s/verify" % c["serial"])
    assert v.status == 200 and v.json["ok"] is True and v.json["redacted"] == 1, v.json
    entry = ctx.sql1("select content from record_entries where id = %s", (c["entry"],))
    assert entry["content"]["body"] == "erased" and entry["content"]["erased"] is True
    er = ctx.sql1("select content from record_entries where device_id = %s and kind = 'erasure'",
                  (c["device"],))
    assert [x["entry"] for x in er["content"]["redacted"]] == [c["entry"]]

    # Who erased whom: the manager, and the person as a blind index.
    a = ctx.sql1("select staff_id, object_id from audit_log where action = 'customer_erase'"
                 " order by id desc limit 1")
    assert a == {"staff_id": ctx.staff, "object_id": _blind(ctx, "email", c["email"])}

    # Their thread is closed: staff cannot write to nobody, and nothing is stored.
    msgs = ctx.sql1("select count(*) as n from messages where thread_id = %s", (c["thread"],))["n"]
    r = m.post("/api/stores/%d/threads/%d/messages" % (ctx.paris, c["thread"]),
               {"body": "Are you still there?"})
    assert (r.status, r.error["code"], r.error["field"]) == (409, "erased", "id"), r
    assert ctx.sql1("select count(*) as n from messages where thread_id = %s",
                    (c["thread"],))["n"] == msgs

    # Again: nobody is found any more, and nothing changes.
    n = ctx.sql1("select count(*) as n from record_entries where device_id = %s",
                 (c["device"],))["n"]
    r = m.post("/api/customers/erase", {"email": c["email"]})
    assert (r.status, r.json["error"]["code"]) == (404, "not_found")
    assert m.get("/api/customers?email=" + c["email"]).status == 404
    assert ctx.sql1("select count(*) as n from record_entries where device_id = %s",
                    (c["device"],))["n"] == n


def test_the_record_refuses_any_other_rewrite(ctx):
    c = _customer(ctx)
    # Naming the entry is not enough: only the redaction itself passes the trigger.
    try:
        # One statement string: one implicit transaction, which the setting is local to.
        ctx.sql("select set_config('carnet.redact_entry', %s, true);"
                " update record_entries set content = '{\"body\": \"forged\"}' where id = %s;",
                (str(c["entry"]), c["entry"]))
        raised = None
    except Exception as e:  # noqa: BLE001 (psycopg2's error for the trigger's raise)
        raised = str(e)
    assert raised and "append_only" in raised, raised
    # A redacted entry without the erasure entry that vouches for it breaks the chain: the
    # trigger allows the redaction, verification does not accept it alone.
    ctx.sql("select set_config('carnet.redact_entry', %s, true);"
            " update record_entries set content = customer_redacted_content(content)"
            " where id = %s;", (str(c["entry"]), c["entry"]))
    v = _as(ctx, "admin@carnet.test").get("/api/devices/%s/verify" % c["serial"])
    assert (v.json["ok"], v.json["broken_at"], v.json["reason"]) == (
        False, c["entry"], "hash_mismatch"), v.json


def test_a_customer_asks_from_their_links_and_the_manager_sees_it(ctx):
    c = _customer(ctx)
    anon = Client(ctx.server.port)
    r = anon.post("/api/manage/%s/erasure-request" % c["manage"], {})
    assert r.status == 201 and r.json["requested"] is True, r.raw
    assert anon.post("/api/manage/%s/erasure-request" % c["manage"], {}).status == 201
    r = anon.post("/api/repair-status/%s/erasure-request" % c["status"], {})
    assert r.status == 201, r.raw
    assert anon.post("/api/manage/%s/erasure-request" % secrets.token_urlsafe(32),
                     {}).status == 404
    assert anon.post("/api/manage/junk/erasure-request", {}).status == 404

    m = _as(ctx, "manager@carnet.test")
    mine = [q for q in m.get("/api/stores/%s/erasure-requests" % ctx.paris).json
            if q["email"] == c["email"]]
    assert sorted((q["ref_type"], q["status"], q["name"]) for q in mine) == [
        ("appointment", "open", c["name"]), ("repair", "open", c["name"])]
    assert _as(ctx, "lyon@carnet.test").get(
        "/api/stores/%s/erasure-requests" % ctx.paris).status == 403
    assert m.post("/api/customers/erase", {"email": mine[0]["email"]}).status == 200
    done = {q["id"]: q for q in m.get("/api/stores/%s/erasure-requests" % ctx.paris).json}
    for q in mine:
        assert done[q["id"]]["status"] == "erased"
        assert done[q["id"]]["erased_by"] == ctx.staff
        assert done[q["id"]]["name"] == "erased customer" and done[q["id"]]["email"] is None
